/* What operators see over HTTP: /metrics (Prometheus text), /health-check and /explain (the
 * last loops' decisions), fed by the control loop and served from a thread of its own. */
#ifndef NSC_SERVE_H
#define NSC_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sys/socket.h>

/* Functions timed in function_duration_seconds, with the Go autoscaler's label values. */
enum serve_fn {
    SERVE_FN_MAIN = 0,      /* a whole loop */
    SERVE_FN_REFRESH,       /* cloudProviderRefresh: the backend's refresh and groups */
    SERVE_FN_SCALE_UP,      /* scaleUp: planning and resizing */
    SERVE_FN_FIND_UNNEEDED, /* findUnneeded: scale-down planning */
    SERVE_FN_N
};

/* errors_total{type}: the Go autoscaler's error classes, all exported from the start. */
enum serve_err {
    SERVE_ERR_CLOUD = 0, /* cloudProviderError */
    SERVE_ERR_API,       /* apiCallError */
    SERVE_ERR_INTERNAL,  /* internalError */
    SERVE_ERR_TRANSIENT, /* transientError */
    SERVE_ERR_CONFIG,    /* configurationError */
    SERVE_ERR_N
};

/* nodescaler_backend_calls_total{call}. */
enum serve_call {
    SERVE_CALL_REFRESH = 0,
    SERVE_CALL_NODE_GROUPS,
    SERVE_CALL_RESIZE,
    SERVE_CALL_EVICT,
    SERVE_CALL_N
};

/* nodescaler_loops_total{trigger}: what started a loop. */
enum serve_trigger {
    SERVE_TRIGGER_SCAN = 0, /* the --scan-interval timer (and the first loop) */
    SERVE_TRIGGER_POD,      /* a pod turned unschedulable */
    SERVE_TRIGGER_FREQUENT, /* the previous loop grew a group */
    SERVE_TRIGGER_RETRY,    /* the back-off after a failed loop */
    SERVE_TRIGGER_N
};

/* nodescaler_informer_objects{resource}. */
enum serve_resource {
    SERVE_RES_NODES = 0,
    SERVE_RES_PODS,
    SERVE_RES_PDBS,
    SERVE_RES_PVS,
    SERVE_RES_PVCS,
    SERVE_RES_SCS,
    SERVE_RES_NAMESPACES,
    SERVE_RES_N
};

/* The cluster as the latest loop that read it saw it: the gauges of /metrics. */
struct serve_gauges {
    uint64_t nodes_ready, nodes_unready, nodes_not_started, nodes_long_unregistered,
        nodes_unregistered;
    uint64_t node_groups;
    uint64_t max_nodes; /* sum of the groups' max sizes */
    uint64_t unschedulable_pods;
    uint64_t unneeded_nodes;
    double cpu_cores, memory_bytes;      /* the nodes' summed capacity */
    uint64_t evicted_ok, evicted_failed; /* evicted_pods_total: counts since start */
    bool safe_to_autoscale;
    uint64_t informer_objects[SERVE_RES_N];
};

/* Monotonic milliseconds; tests inject their own. */
typedef int64_t serve_clock_fn(void *ctx);

struct serve_options {
    int64_t max_inactivity_ms;   /* --max-inactivity */
    int64_t max_failing_time_ms; /* --max-failing-time */
    int64_t max_startup_time_ms; /* --max-startup-time (raised to the larger of the two) */
    size_t history;              /* --explain-history-loops, 1..1000 */
    const char *backend_name;    /* the label of nodescaler_backend_calls_total; copied */
    serve_clock_fn *clock;       /* NULL: CLOCK_MONOTONIC */
    void *clock_ctx;
};

/* A listen address as --address gives it. */
struct serve_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    bool any; /* ":PORT": every address, IPv6 and IPv4 */
};

struct serve;

/**
 * Parse --address: ":PORT", "IPv4:PORT" or "[IPv6]:PORT", PORT in 0..65535 (0: a free
 * one). Names are refused (they would be resolved). Returns 0, or NSC_ERR_INVALID with why
 * (one phrase, without the flag's name) in err.
 */
int serve_addr_parse(const char *text, struct serve_addr *out, char *err, size_t err_len);

/** "127.0.0.1:8085", "[::1]:8085", ":8085" for a's address and the given port. */
void serve_addr_text(const struct serve_addr *a, unsigned port, char *buf, size_t len);

/**
 * The state behind the endpoints, without a listener (tests use it as is). Options copied.
 * Returns 0 or NSC_ERR_NOMEM; *out is freed by serve_free.
 */
int serve_new(const struct serve_options *o, struct serve **out);

/**
 * Listen on address (--address text) and serve from a thread of its own. Logs "serving
 * metrics, health and explain on ADDR:PORT" with the port chosen. Returns 0,
 * NSC_ERR_INVALID for a malformed address, or NSC_ERR_TRANSIENT when it cannot bind or
 * listen (err names the address and the system's reason).
 */
int serve_listen(struct serve *s, const char *address, char *err, size_t err_len);

/** The port listened on (0 before serve_listen). */
unsigned serve_port(const struct serve *s);

/** Stop the listener (waits for its thread) and free everything. NULL accepted. */
void serve_free(struct serve *s);

/* ---- what the loop tells it; each takes the lock briefly and never blocks on HTTP ---- */

/** Whether this replica leads (or runs without election). A follower is healthy; gaining
 * the lead starts the --max-startup-time clock again. */
void serve_set_leading(struct serve *s, bool leading);

/** A loop starts: counts it, marks the activity for /health-check and last_activity. */
void serve_loop_begin(struct serve *s, enum serve_trigger trigger);

/**
 * A loop ends. ok: it succeeded; else err_type classifies it for errors_total. decision is
 * stolen (NULL: none, e.g. the loop failed before planning) and kept for /explain.
 */
void serve_loop_end(struct serve *s, bool ok, enum serve_err err_type, json_t *decision);

/** Why the running loop planned nothing (cluster unhealthy, ...): kept with its entry in
 * /explain. Copied; no secret may be in it. */
void serve_loop_note(struct serve *s, const char *note);

/** Time spent in a part of the loop, in seconds; also stamps last_activity. */
void serve_observe(struct serve *s, enum serve_fn fn, double seconds);

/** The cluster's gauges after a loop that read it. */
void serve_set_gauges(struct serve *s, const struct serve_gauges *g);

/** A call made to the backend. */
void serve_count_call(struct serve *s, enum serve_call call);

/** Nodes added by an accepted resize (n > 0), or a resize refused (failed). */
void serve_count_scale_up(struct serve *s, uint64_t n, bool failed);

/** A node removal started: empty or underutilized, remembered for its end. Name copied. */
void serve_note_removal(struct serve *s, const char *node, bool empty);

/** A node removal ended; when ok, scaled_down_nodes_total{reason} counts it, else
 * nodescaler_failed_scale_downs_total. A dry run's pretend removal counts in neither. */
void serve_count_scale_down(struct serve *s, const char *node, bool ok, bool dry_run);

/* ---- the renderings, as the HTTP thread calls them ---- */

/** The Prometheus text exposition (format 0.0.4). New string (free) or NULL on NOMEM. */
char *serve_render_metrics(struct serve *s);

/** 200 or 500; reason (one line, no secret) gets "OK" or why the loop is unhealthy. */
int serve_health(struct serve *s, char *reason, size_t reason_len);

/**
 * /explain: the kept decisions (pod and node NULL), or what they say of one pod ("NS/NAME")
 * or one node. *status gets 200, 400 (malformed pod or node) or 404 (not in any kept
 * loop); the body is JSON either way, {"error": ...} when not 200. New string or NULL on
 * NOMEM.
 */
char *serve_explain(struct serve *s, const char *pod, const char *node, int *status);

#endif
