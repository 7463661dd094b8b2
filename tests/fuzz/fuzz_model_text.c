/* libFuzzer target: the text path of the model (the scanner of model/scan.c behind
 * model_upsert_text and model_load_buffer), as watches and list pages feed it. */
#include "config.h"

#include "fuzz_common.h"
#include "model/model.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct model_load_stats st = {0};
    struct model *m;
    char err[300] = "";
    int rc, again;

    fuzz_quiet();
    m = model_new();
    if (m == NULL)
        fuzz_fail("model_new failed");
    /* Twice as one object: the second time a pod's spec text is already known. */
    rc = model_upsert_text(m, text, size, NULL, &st, err, sizeof(err));
    fuzz_need_reason(rc, err, "model_upsert_text");
    again = model_upsert_text(m, text, size, "Pod", &st, err, sizeof(err));
    fuzz_need_reason(again, err, "model_upsert_text (kind hint Pod)");
    if ((rc == NSC_ERR_INVALID) != (again == NSC_ERR_INVALID))
        fuzz_fail("the JSON verdict changed with the kind hint: %d then %d", rc, again);
    /* As a List page (or a single object) into the same model. */
    err[0] = '\0';
    rc = model_load_buffer(m, text, size, "fuzz.json", &st, err, sizeof(err));
    fuzz_need_reason(rc, err, "model_load_buffer");
    model_free(m);
    return 0;
}
