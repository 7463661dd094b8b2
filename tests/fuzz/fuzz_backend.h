/* Drives one backend through its operations table the way the core's loop does, for the
 * libFuzzer targets whose input reaches a backend (a groups file, cloud answers). */
#ifndef NSC_FUZZ_BACKEND_H
#define NSC_FUZZ_BACKEND_H

#include <nodescaler/backend.h>

/**
 * create, refresh, list groups and their instances, resize, evict, refresh again, find
 * the group of a node, destroy; every result is checked (ids present, template JSON
 * parses, a failure says why). secret (may be NULL) must appear in no error text.
 * host and opts are borrowed. Aborts on a broken invariant.
 */
void fuzz_backend_drive(const struct nsc_backend_ops *ops, const struct nsc_host *host,
                        const struct nsc_option *opts, size_t n_opts, const char *secret);

#endif
