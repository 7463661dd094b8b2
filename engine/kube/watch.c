/* Watch stream line splitting and the reflector state machine, after client-go's
 * reflector: list, then watch from the list's resourceVersion; relist on 410; back off
 * (jittered, doubling, capped) on every other failure; restart a silent watch. */
#include "config.h"

#include "kube/watch.h"

#include <stdlib.h>
#include <string.h>

#include <nodescaler/backend.h>

/* ---- line splitter --------------------------------------------------------------- */

static int
lines_append(struct kube_lines *l, const char *data, size_t n)
{
    if (l->len + n + 1 > l->cap) {
        size_t cap = l->cap ? l->cap : 65536;
        char *g;

        while (cap < l->len + n + 1)
            cap *= 2;
        g = realloc(l->buf, cap);
        if (g == NULL)
            return NSC_ERR_NOMEM;
        l->buf = g;
        l->cap = cap;
    }
    memcpy(l->buf + l->len, data, n);
    l->len += n;
    return 0;
}

static int
emit(const char *line, size_t len, kube_line_fn *cb, void *ud)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return 0;
    return cb(ud, line, len);
}

int
kube_lines_feed(struct kube_lines *l, const char *data, size_t n, kube_line_fn *cb, void *ud)
{
    size_t max = l->max_line ? l->max_line : KUBE_LINE_MAX_DEFAULT;
    int rc = 0;

    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;

        if (l->skipping) {
            if (nl)
                l->skipping = 0;
        } else if (l->len + take > max) {
            /* Report the loss once; the rest of the line is dropped as it comes. */
            l->len = 0;
            l->skipping = nl == NULL;
            rc = NSC_ERR_INVALID;
        } else if (nl && l->len == 0) {
            /* The common case: a whole line inside this chunk, no copy. */
            int r = emit(data, take, cb, ud);

            if (r)
                return r;
        } else {
            int r = lines_append(l, data, take);

            if (r)
                return r;
            if (nl) {
                size_t total = l->len;

                l->len = 0;
                r = emit(l->buf, total, cb, ud);
                if (r)
                    return r;
            }
        }
        if (nl == NULL)
            break;
        data = nl + 1;
        n -= take + 1;
    }
    return rc;
}

size_t
kube_lines_pending(const struct kube_lines *l)
{
    return l->len;
}

void
kube_lines_reset(struct kube_lines *l)
{
    l->len = 0;
    l->skipping = 0;
}

void
kube_lines_free(struct kube_lines *l)
{
    free(l->buf);
    memset(l, 0, sizeof(*l));
}

/* ---- reflector -------------------------------------------------------------------- */

static uint64_t
rng_next(struct kube_reflector *r)
{
    uint64_t x = r->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->rng = x;
    return x;
}

void
kube_reflector_init(struct kube_reflector *r, const struct kube_reflector_opts *opts,
                    int64_t now_ms, uint64_t seed)
{
    memset(r, 0, sizeof(*r));
    if (opts)
        r->opts = *opts;
    if (r->opts.backoff_initial_ms <= 0)
        r->opts.backoff_initial_ms = 800;
    if (r->opts.backoff_max_ms <= 0)
        r->opts.backoff_max_ms = 30000;
    if (r->opts.backoff_reset_ms <= 0)
        r->opts.backoff_reset_ms = 120000;
    if (r->opts.watch_timeout_min_s <= 0)
        r->opts.watch_timeout_min_s = 300;
    if (r->opts.watch_timeout_max_s <= r->opts.watch_timeout_min_s)
        r->opts.watch_timeout_max_s = r->opts.watch_timeout_min_s + 1;
    if (r->opts.silent_grace_ms <= 0)
        r->opts.silent_grace_ms = 30000;
    r->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
    r->not_before_ms = now_ms;
    r->state = KUBE_REFL_NEED_LIST;
}

/* Schedule the next attempt after a failure: the base delay doubles from the initial
 * value up to the cap (reset after a quiet period); the sleep is drawn from
 * [0.75 base, base] so that many clients do not reconnect in step. */
static void
fail_backoff(struct kube_reflector *r, int64_t now_ms)
{
    int64_t sleep;

    if (r->backoff_ms == 0 || now_ms - r->last_failure_ms > r->opts.backoff_reset_ms)
        r->backoff_ms = r->opts.backoff_initial_ms;
    else if (r->backoff_ms < r->opts.backoff_max_ms)
        r->backoff_ms = r->backoff_ms * 2 > r->opts.backoff_max_ms ? r->opts.backoff_max_ms
                                                                   : r->backoff_ms * 2;
    r->last_failure_ms = now_ms;
    r->n_failures++;
    sleep = r->backoff_ms - (int64_t)(rng_next(r) % (uint64_t)(r->backoff_ms / 4 + 1));
    r->not_before_ms = now_ms + sleep;
}

enum kube_refl_action
kube_reflector_next(struct kube_reflector *r, int64_t now_ms, int64_t *wait_ms)
{
    *wait_ms = 0;
    if (r->state == KUBE_REFL_LISTING || r->state == KUBE_REFL_WATCHING)
        return KUBE_REFL_BUSY;
    if (now_ms < r->not_before_ms) {
        *wait_ms = r->not_before_ms - now_ms;
        return KUBE_REFL_WAIT;
    }
    if (r->state == KUBE_REFL_NEED_LIST) {
        r->state = KUBE_REFL_LISTING;
        return KUBE_REFL_LIST;
    }
    return KUBE_REFL_WATCH;
}

const char *
kube_reflector_rv(const struct kube_reflector *r)
{
    return r->last_rv;
}

const char *
kube_reflector_list_rv(const struct kube_reflector *r)
{
    if (r->rv_expired)
        return "";
    return r->last_rv[0] ? r->last_rv : "0";
}

static void
set_rv(struct kube_reflector *r, const char *rv)
{
    if (rv && *rv && strlen(rv) < sizeof(r->last_rv))
        memcpy(r->last_rv, rv, strlen(rv) + 1);
}

void
kube_reflector_list_done(struct kube_reflector *r, int64_t now_ms, long http_status,
                         const char *rv)
{
    if (http_status == 200 && rv && *rv) {
        if (r->synced)
            r->n_relists++;
        set_rv(r, rv);
        r->rv_expired = 0;
        r->synced = 1;
        r->state = KUBE_REFL_NEED_WATCH;
        r->not_before_ms = now_ms;
        return;
    }
    r->state = KUBE_REFL_NEED_LIST;
    if (http_status == 410) {
        /* an expired continue token: the next list starts from scratch, now */
        r->rv_expired = 1;
        r->not_before_ms = now_ms;
        return;
    }
    fail_backoff(r, now_ms);
}

int
kube_reflector_watch_started(struct kube_reflector *r, int64_t now_ms)
{
    int span = r->opts.watch_timeout_max_s - r->opts.watch_timeout_min_s;

    r->state = KUBE_REFL_WATCHING;
    r->watch_started_ms = now_ms;
    r->watch_activity_ms = now_ms;
    r->n_watch_events = 0;
    r->watch_timeout_s = r->opts.watch_timeout_min_s + (int)(rng_next(r) % (uint64_t)span);
    return r->watch_timeout_s;
}

void
kube_reflector_watch_activity(struct kube_reflector *r, int64_t now_ms)
{
    r->watch_activity_ms = now_ms;
}

int
kube_reflector_watch_event(struct kube_reflector *r, int64_t now_ms, const char *type,
                           const char *rv, long code)
{
    r->watch_activity_ms = now_ms;
    if (r->state != KUBE_REFL_WATCHING)
        return 1;
    if (strcmp(type, "ERROR") == 0) {
        if (code == 410) {
            r->rv_expired = 1;
            r->state = KUBE_REFL_NEED_LIST;
            r->not_before_ms = now_ms;
        } else {
            /* 429 and 5xx: back off and watch again from the same place */
            r->state = KUBE_REFL_NEED_WATCH;
            fail_backoff(r, now_ms);
            if (code != 429 && code < 500)
                r->state = KUBE_REFL_NEED_LIST;
        }
        return 1;
    }
    set_rv(r, rv);
    r->n_watch_events++;
    return 0;
}

void
kube_reflector_watch_ended(struct kube_reflector *r, int64_t now_ms, long http_status)
{
    if (r->state != KUBE_REFL_WATCHING)
        return; /* already decided by an ERROR event */
    if (http_status == KUBE_WATCH_BAD_STREAM) {
        /* The same watch would bring the same line back: list instead, not in a loop. */
        r->state = KUBE_REFL_NEED_LIST;
        fail_backoff(r, now_ms);
        return;
    }
    if (http_status < 0) {
        /* stopped by us (silent): watch again at once */
        r->state = KUBE_REFL_NEED_WATCH;
        r->not_before_ms = now_ms;
        return;
    }
    if (http_status == 200) {
        /* A watch that ends at once with nothing in it means something is wrong
         * (client-go: "very short watch"); do not spin. */
        if (now_ms - r->watch_started_ms < 1000 && r->n_watch_events == 0) {
            r->state = KUBE_REFL_NEED_WATCH;
            fail_backoff(r, now_ms);
        } else {
            r->state = KUBE_REFL_NEED_WATCH;
            r->not_before_ms = now_ms;
        }
        return;
    }
    if (http_status == 410) {
        r->rv_expired = 1;
        r->state = KUBE_REFL_NEED_LIST;
        r->not_before_ms = now_ms;
        return;
    }
    r->state = (http_status == 0 || http_status == 429 || http_status >= 500)
                   ? KUBE_REFL_NEED_WATCH
                   : KUBE_REFL_NEED_LIST;
    fail_backoff(r, now_ms);
}

int
kube_reflector_watch_silent(const struct kube_reflector *r, int64_t now_ms)
{
    /* The server ends every watch at its timeoutSeconds; one still open well past that is
     * a dead connection (a NAT dropped it, the apiserver hung). */
    return r->state == KUBE_REFL_WATCHING &&
           now_ms - r->watch_started_ms >
               (int64_t)r->watch_timeout_s * 1000 + r->opts.silent_grace_ms;
}
