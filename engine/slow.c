/* A request that is slow is said while it is still running (see slow.h). */
#include "config.h"

#include "slow.h"

#include <time.h>

#include "log.h"

/* Warn after this much waiting at most, whatever the deadline. */
#define SLOW_AFTER_MAX_MS 5000

static int64_t
slow_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* curl calls this about once a second even while nothing moves; returning 0 goes on. */
static int
slow_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
              curl_off_t ulnow)
{
    struct nsc_slow *s = ud;
    int64_t waited;

    (void)dltotal;
    (void)ultotal;
    if (s->warned)
        return 0;
    waited = slow_now_ms() - s->start_ms;
    if (waited < s->after_ms)
        return 0;
    s->warned = true;
    log_msg(NSC_LOG_WARNING, s->component,
            "%s %s: slow, no complete answer after %lld ms (%lld bytes received, %lld sent; "
            "deadline %ld ms)",
            s->method, s->what, (long long)waited, (long long)dlnow, (long long)ulnow,
            s->timeout_ms);
    return 0;
}

void
nsc_slow_arm(CURL *easy, struct nsc_slow *s, const char *component, const char *method,
             const char *what, long timeout_ms)
{
    s->component = component;
    s->method = method;
    s->what = what;
    s->start_ms = slow_now_ms();
    s->timeout_ms = timeout_ms;
    s->after_ms = timeout_ms / 4 < SLOW_AFTER_MAX_MS ? timeout_ms / 4 : SLOW_AFTER_MAX_MS;
    s->warned = false;
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, slow_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
}
