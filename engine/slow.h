/* A request that is slow is said while it is still running: a curl progress callback warns
 * once when a call has waited past a part of its deadline, long before it fails. */
#ifndef NSC_SLOW_H
#define NSC_SLOW_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

struct nsc_slow {
    const char *component; /* log component, e.g. "kube" */
    const char *method;
    const char *what; /* path or URL as it may be logged (already redacted) */
    int64_t start_ms; /* monotonic */
    int64_t after_ms; /* warn once past this */
    long timeout_ms;  /* the call's deadline, for the message */
    bool warned;
};

/** Warn through s (which must outlive the transfer) when the call on easy takes longer than
 * a quarter of timeout_ms, at most 5 s. */
void nsc_slow_arm(CURL *easy, struct nsc_slow *s, const char *component, const char *method,
                  const char *what, long timeout_ms);

#endif
