/* What every libFuzzer target of tests/fuzz shares: quiet logs, NUL-terminated copies of
 * the input, a scratch file holding it, and a loud abort when an invariant breaks. */
#ifndef NSC_FUZZ_COMMON_H
#define NSC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <nodescaler/backend.h>

/** The entry point libFuzzer calls once per input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** Keep only error logs (the engine warns about every malformed object it skips) and
 * forget the secrets registered so far, so that memory does not grow across inputs. */
void fuzz_quiet(void);

/** A NUL-terminated copy of data (owned: free). Never NULL: aborts on NOMEM. */
char *fuzz_cstr(const uint8_t *data, size_t size);

/** Write data to a scratch file private to this process and return its path (borrowed,
 * valid until the next call). Aborts when the file cannot be written. */
const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix);

/** Print what broke and abort, so that libFuzzer saves the input as a crash. */
void fuzz_fail(const char *fmt, ...) NSC_PRINTF(1, 2) __attribute__((noreturn));

/** Abort unless a refused input left a message in err (it must say why). */
void fuzz_need_reason(int rc, const char *err, const char *what);

#endif
