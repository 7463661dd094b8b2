/* Shared pieces of the libFuzzer targets: quiet logs, input copies, scratch files. */
#include "config.h"

#include "fuzz_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

void
fuzz_quiet(void)
{
    log_set_level(NSC_LOG_ERROR);
    log_redact_clear();
}

char *
fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        fuzz_fail("out of memory copying %zu bytes", size);
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

const char *
fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[256];
    const char *dir = getenv("TMPDIR");
    FILE *f;

    snprintf(path, sizeof(path), "%s/nsc-fuzz-%ld%s", dir && dir[0] ? dir : "/tmp",
             (long)getpid(), suffix);
    f = fopen(path, "wb");
    if (f == NULL || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        fuzz_fail("cannot write the scratch file %s", path);
    return path;
}

void
fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("fuzz invariant broken: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void
fuzz_need_reason(int rc, const char *err, const char *what)
{
    if (rc < 0 && rc != NSC_ERR_NOMEM && err[0] == '\0')
        fuzz_fail("%s refused the input (status %d) without saying why", what, rc);
}
