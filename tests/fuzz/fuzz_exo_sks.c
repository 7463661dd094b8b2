/* libFuzzer target: the sks backend against canned Exoscale answers (fuzz_exo.h). */
#include "config.h"

#include "fuzz_common.h"
#include "fuzz_exo.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_exo_run(nsc_backend_entry_v1(), data, size);
    return 0;
}
