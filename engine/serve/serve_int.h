/* The state shared by the loop (writer) and the HTTP thread (reader) of engine/serve:
 * private to its files. */
#ifndef NSC_SERVE_INT_H
#define NSC_SERVE_INT_H

#include <pthread.h>

#include "serve/serve.h"

/* function_duration_seconds buckets: the Go autoscaler's ExponentialBuckets(0.01, 1.5, 30),
 * 0.01 s to about 1278 s (metrics/metrics.go). */
#define SERVE_N_BUCKETS 30

struct serve_histogram {
    uint64_t buckets[SERVE_N_BUCKETS]; /* per bucket, not cumulative */
    uint64_t count;
    double sum;
};

/* Everything /metrics shows: copied whole under the lock, rendered outside it. */
struct serve_metrics {
    bool have_gauges;
    struct serve_gauges g;
    double last_activity_s[SERVE_FN_N]; /* wall seconds; 0: never */
    struct serve_histogram fn[SERVE_FN_N];
    uint64_t errors[SERVE_ERR_N];
    uint64_t calls[SERVE_CALL_N];
    uint64_t loops[SERVE_TRIGGER_N];
    uint64_t scaled_up_nodes, failed_scale_ups;
    uint64_t scaled_down_empty, scaled_down_underutilized, failed_scale_downs;
};

struct serve_removal {
    char *node;
    bool empty;
    struct serve_removal *next;
};

struct serve_http;

struct serve {
    pthread_mutex_t lock;
    struct serve_options o; /* backend_name points to backend */
    char *backend;
    struct serve_metrics m;
    /* health, in monotonic ms */
    bool leading_known, leading;
    int64_t monitor_start_ms;
    int64_t last_activity_ms, last_success_ms; /* 0: none since monitor_start_ms */
    uint64_t n_failing;                        /* loops failed in a row */
    /* explain: a ring of the last o.history loops, oldest at head */
    json_t **ring;
    size_t ring_head, ring_n;
    uint64_t n_loops;
    enum serve_trigger trigger; /* of the loop running */
    int64_t loop_wall_ms;
    char note[512]; /* of the running loop, "" when none */
    struct serve_removal *removals;
    struct serve_http *http;
};

int64_t serve_now_ms(const struct serve *s);
/* Frees the state; serve_free calls it once the listener stopped. */
void serve_state_free(struct serve *s);
double serve_bucket_bound(size_t i);

#endif
