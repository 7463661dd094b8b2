/* libFuzzer target: the static backend's groups file (plugins/static), through its
 * operations table with a host whose groups= option names a scratch file. */
#include "config.h"

#include "exo_fake_host.h"
#include "fuzz_backend.h"
#include "fuzz_common.h"

static struct fake_host fh;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path;

    fuzz_quiet();
    path = fuzz_file(data, size, ".groups.json");
    fake_host_init(&fh, 1700000000000);
    fake_host_opt(&fh, "groups", path);
    fuzz_backend_drive(nsc_backend_entry_v1(), &fh.host, fh.opts, fh.n_opts, NULL);
    return 0;
}
