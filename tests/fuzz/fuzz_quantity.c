/* libFuzzer target: Kubernetes resource quantities (model/quantity.h). Beyond not
 * crashing, the two integer views must agree with each other and a view left out must
 * never turn a refused text into an accepted one. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "model/quantity.h"

/* milli = ceil(q * 1000) and units = ceil(q), both rounded away from zero: milli lies
 * within the thousand below units (or above it, for negative values). Compared in 128 bits:
 * units * 1000 overflows 64 bits for quantities near the largest the parser accepts. */
static void
check_views(int64_t milli, int64_t units, const char *text)
{
    __int128 m = milli, u = units;

    if (units > 0 && !(m > (u - 1) * 1000 && m <= u * 1000))
        fuzz_fail("\"%s\": milli %lld does not round to units %lld", text, (long long)milli,
                  (long long)units);
    if (units < 0 && !(m < (u + 1) * 1000 && m >= u * 1000))
        fuzz_fail("\"%s\": milli %lld does not round to units %lld", text, (long long)milli,
                  (long long)units);
    if (units == 0 && milli != 0)
        fuzz_fail("\"%s\": units 0 but milli %lld", text, (long long)milli);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char err[256] = "", err2[256] = "";
    int64_t milli = 0, units = 0, m2 = 0, u2 = 0;
    int both, syntax, only_milli, only_units;

    fuzz_quiet();
    both = quantity_parse(text, size, &milli, &units, err, sizeof(err));
    fuzz_need_reason(both, err, "quantity_parse");
    syntax = quantity_parse(text, size, NULL, NULL, err2, sizeof(err2));
    fuzz_need_reason(syntax, err2, "quantity_parse (no views)");
    only_milli = quantity_parse(text, size, &m2, NULL, err2, sizeof(err2));
    only_units = quantity_parse(text, size, NULL, &u2, err2, sizeof(err2));
    if (both == 0 && (syntax != 0 || only_milli != 0 || only_units != 0))
        fuzz_fail("accepted with both views but refused with fewer");
    if (syntax != 0 && (only_milli == 0 || only_units == 0))
        fuzz_fail("refused without views but accepted with one");
    if (both == 0) {
        char *s = fuzz_cstr(data, size);
        if (m2 != milli || u2 != units)
            fuzz_fail("\"%s\": views differ when parsed alone", s);
        check_views(milli, units, s);
        if (memchr(data, '\0', size) == NULL) {
            int64_t m3 = 0, u3 = 0;
            if (quantity_parse_cstr(s, &m3, &u3, err2, sizeof(err2)) != 0 || m3 != milli ||
                u3 != units)
                fuzz_fail("\"%s\": quantity_parse_cstr disagrees with quantity_parse", s);
        }
        free(s);
    }
    return 0;
}
