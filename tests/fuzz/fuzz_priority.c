/* libFuzzer target: the priority expander configuration (the `priorities` text of the
 * ConfigMap cluster-autoscaler-priority-expander, scaleup.h). The checker and the
 * parser that planning uses must give the same verdict, and a refusal names the line. */
#include "config.h"

#include <stdlib.h>

#include "fuzz_common.h"
#include "scaleup/scaleup.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_cstr(data, size);
    struct scaleup_priorities *p = NULL;
    char err[512] = "", err2[512] = "";
    int checked, parsed;

    fuzz_quiet();
    checked = scaleup_priority_check(text, err, sizeof(err));
    fuzz_need_reason(checked, err, "scaleup_priority_check");
    parsed = scaleup_priorities_new(text, &p, err2, sizeof(err2));
    fuzz_need_reason(parsed, err2, "scaleup_priorities_new");
    if ((checked == 0) != (parsed == 0))
        fuzz_fail("scaleup_priority_check says %d, scaleup_priorities_new says %d", checked,
                  parsed);
    if (parsed != 0 && p != NULL)
        fuzz_fail("scaleup_priorities_new failed but returned a configuration");
    if (p != NULL) {
        /* Run the compiled regexes over group ids and names of the shapes the backends
         * give (a name may be absent or empty). */
        static const struct scaleup_option opts[] = {
            {0, 1, 1, 100, 1000, 2000, 4000, "general", NULL},
            {1, 2, 1, 100, 1000, 4000, 8000, "nodepool-gpu-0123", "gpu"},
            {2, 1, 1, 100, 1000, 2000, 4000, "66666666-7777-8888-9999-000000000001",
             "spot-small"},
            {3, 1, 1, 100, 1000, 2000, 4000, "", ""},
        };
        uint64_t rng = 42;
        size_t n = sizeof(opts) / sizeof(opts[0]);
        size_t pick = scaleup_expand_parsed(opts, n, "priority,least-waste", p, &rng);
        if (pick >= n)
            fuzz_fail("the priority expander picked option %zu of %zu", pick, n);
    }
    scaleup_priorities_free(p);
    free(text);
    return 0;
}
