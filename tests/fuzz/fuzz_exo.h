/* The Exoscale backends (sks, instance-pool) driven by fuzz input: the input is a set of
 * canned API answers, each "@@ PATH STATUS [RETRY-AFTER]" on a line of its own followed
 * by the body; a request gets the answer whose PATH is the longest prefix of its path
 * (after /v2), 404 when none matches. */
#ifndef NSC_FUZZ_EXO_H
#define NSC_FUZZ_EXO_H

#include <stddef.h>
#include <stdint.h>

#include <nodescaler/backend.h>

/** Run the backend whose table is ops (sks or instance-pool) against the answers in
 * data, through fuzz_backend_drive, with a fake clock that retries and polls advance. */
void fuzz_exo_run(const struct nsc_backend_ops *ops, const uint8_t *data, size_t size);

#endif
