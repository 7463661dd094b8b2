/* The pieces of list+watch that need no network: the watch stream's line splitter and
 * the reflector state machine (when to list, when to watch, how long to back off), run on
 * whatever clock the caller passes so that tests can drive it on a fake one. */
#ifndef NSC_KUBE_WATCH_H
#define NSC_KUBE_WATCH_H

#include <stddef.h>
#include <stdint.h>

/* ---- line splitter --------------------------------------------------------------- */

/** Called for each complete line (without '\n' or a trailing '\r'); non-zero stops. */
typedef int kube_line_fn(void *ud, const char *line, size_t len);

/* The longest watch line taken by default: an object is at most about 3 MiB (the API
 * server's request limit), so 16 MiB is an event that no sane server sends, and the most
 * one watch may buffer. */
#define KUBE_LINE_MAX_DEFAULT ((size_t)16 << 20)

/** Splits a byte stream into lines; chunks need not align with lines. */
struct kube_lines {
    char *buf;
    size_t len, cap;
    size_t max_line; /* longest accepted line; 0 = KUBE_LINE_MAX_DEFAULT */
    int skipping;    /* inside an over-long line: drop bytes up to its '\n' */
};

/**
 * Feed bytes. Each complete non-empty line goes to cb. A line longer than max_line is
 * never buffered past max_line: it is dropped and NSC_ERR_INVALID returned once (the
 * caller should stop the watch and relist: an event was lost). Returns 0, the callback's
 * non-zero value, NSC_ERR_INVALID or NSC_ERR_NOMEM.
 */
int kube_lines_feed(struct kube_lines *l, const char *data, size_t n, kube_line_fn *cb,
                    void *ud);

/** Bytes of a partial line still buffered. */
size_t kube_lines_pending(const struct kube_lines *l);

/** Forget buffered bytes (new stream); keeps the buffer. */
void kube_lines_reset(struct kube_lines *l);

/** Free the buffer. */
void kube_lines_free(struct kube_lines *l);

/* ---- reflector -------------------------------------------------------------------- */

enum kube_refl_action {
    KUBE_REFL_WAIT = 0, /* nothing to do before *wait_ms */
    KUBE_REFL_LIST,     /* list now (paginated), then call kube_reflector_list_done */
    KUBE_REFL_WATCH,    /* start a watch from kube_reflector_rv(), then _watch_started */
    KUBE_REFL_BUSY      /* a list or watch is in progress */
};

enum kube_refl_state {
    KUBE_REFL_NEED_LIST = 0,
    KUBE_REFL_LISTING,
    KUBE_REFL_NEED_WATCH,
    KUBE_REFL_WATCHING
};

/** Reflector timings; zero fields take the defaults in brackets. */
struct kube_reflector_opts {
    int64_t backoff_initial_ms; /* [800] */
    int64_t backoff_max_ms;     /* [30000] */
    int64_t backoff_reset_ms;   /* no failure for this long resets the backoff [120000] */
    int watch_timeout_min_s;    /* server-side timeoutSeconds drawn from [min, max) [300] */
    int watch_timeout_max_s;    /* [600] */
    int64_t silent_grace_ms;    /* a watch silent past its timeout plus this restarts [30000] */
};

struct kube_reflector {
    struct kube_reflector_opts opts;
    enum kube_refl_state state;
    char last_rv[64];      /* of the last list or event, "" before the first list */
    int rv_expired;        /* the server said last_rv is too old: list from storage */
    int synced;            /* a full list has been delivered */
    int64_t not_before_ms; /* earliest time for the next list/watch */
    int64_t backoff_ms;    /* current base delay, 0 when not backing off */
    int64_t last_failure_ms;
    uint64_t rng; /* xorshift state for the jitter */
    int64_t watch_started_ms;
    int64_t watch_activity_ms; /* last byte seen on the watch */
    int watch_timeout_s;       /* the timeoutSeconds sent with the current watch */
    long n_watch_events;
    long n_relists; /* lists done after the first (tests and metrics) */
    long n_failures;
};

/** Initialise at now_ms; seed makes the jitter deterministic in tests. */
void kube_reflector_init(struct kube_reflector *r, const struct kube_reflector_opts *opts,
                         int64_t now_ms, uint64_t seed);

/** What to do at now_ms; *wait_ms receives the time until the next action (WAIT). */
enum kube_refl_action kube_reflector_next(struct kube_reflector *r, int64_t now_ms,
                                          int64_t *wait_ms);

/** The resourceVersion to watch from (borrowed). */
const char *kube_reflector_rv(const struct kube_reflector *r);

/**
 * The resourceVersion to list from (borrowed), as client-go's reflector chooses it: "0"
 * before the first list (the server's watch cache answers), the last one seen on a relist
 * (never older than what was delivered), "" (latest, from storage) after a 410.
 */
const char *kube_reflector_list_rv(const struct kube_reflector *r);

/**
 * A list finished. http_status 200 with its resourceVersion: synced, watch next. 410 (the
 * continue token or resourceVersion expired): list again at once. Anything else (0 for
 * no response): back off, then list again.
 */
void kube_reflector_list_done(struct kube_reflector *r, int64_t now_ms, long http_status,
                              const char *rv);

/** A watch request was sent; returns the timeoutSeconds to put in it. */
int kube_reflector_watch_started(struct kube_reflector *r, int64_t now_ms);

/** Bytes arrived on the watch (any: keeps it from counting as silent). */
void kube_reflector_watch_activity(struct kube_reflector *r, int64_t now_ms);

/**
 * One watch event. type is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR; rv the object's
 * resourceVersion (NULL/"" ignored); code the Status code of an ERROR. Returns 1 when the
 * watch must be stopped (ERROR: 410 relists at once, others back off), else 0.
 */
int kube_reflector_watch_event(struct kube_reflector *r, int64_t now_ms, const char *type,
                               const char *rv, long code);

/**
 * The watch ended. http_status 200 with the stream closed by the server: watch again at
 * once, unless it lasted under a second with no event (backoff). 410: relist. 429 or no
 * response (0): back off and watch again. Other statuses (a redirect too): back off and
 * relist. KUBE_WATCH_STOPPED (the client stopped a silent watch) watches again at once;
 * KUBE_WATCH_BAD_STREAM (a line over the limit, which a new watch from the same
 * resourceVersion would only send again) backs off and relists. After
 * kube_reflector_watch_event returned 1 the call is still needed and ignores its status.
 */
#define KUBE_WATCH_STOPPED (-1)
#define KUBE_WATCH_BAD_STREAM (-2)
void kube_reflector_watch_ended(struct kube_reflector *r, int64_t now_ms, long http_status);

/** True when the running watch is still open past its timeout plus the grace. */
int kube_reflector_watch_silent(const struct kube_reflector *r, int64_t now_ms);

#endif
