/* The control loop's memory between loops, per node group and for the cluster: upcoming
 * nodes, failed scale-ups, back-off, the last scale-up, and node readiness with the cluster
 * health verdict, after the Go Cluster Autoscaler's clusterstate. Pure: no I/O, no threads,
 * the caller passes the time to every call.
 *
 * Complexity: with G groups, I instances, N nodes and T taints per node, gstate_update takes
 * O(G log G + I + N * T) time (instances are found through a hash table keyed by provider
 * ID) and keeps O(G + I) memory: nothing is sized by a group's target, and groups and
 * instances missing from the latest update are forgotten. Queries are O(log G) by group ID
 * or O(1) by index. Back-off messages are cut to GSTATE_MESSAGE_MAX bytes.
 */
#ifndef NSC_GSTATE_H
#define NSC_GSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plugin/plugin.h"

/** Input bounds: an update past them is refused rather than trusted. */
#define GSTATE_MAX_GROUPS 10000
#define GSTATE_MAX_INSTANCES 1000000
#define GSTATE_MAX_NODES 1000000
#define GSTATE_MAX_TAINTS 1024
#define GSTATE_MESSAGE_MAX 256

/**
 * Options, named after the Go Cluster Autoscaler's flags; gstate_options_default() sets
 * that autoscaler's defaults. Durations are milliseconds.
 */
struct gstate_options {
    int64_t max_node_provision_time_ms;  /* --max-node-provision-time (15m) */
    int64_t max_node_startup_time_ms;    /* --max-node-startup-time (15m) */
    int64_t initial_backoff_ms;          /* --initial-node-group-backoff-duration (5m) */
    int64_t max_backoff_ms;              /* --max-node-group-backoff-duration (30m) */
    int64_t backoff_reset_timeout_ms;    /* --node-group-backoff-reset-timeout (3h) */
    int64_t ok_total_unready_count;      /* --ok-total-unready-count (3) */
    double max_total_unready_percentage; /* --max-total-unready-percentage (45), in [0, 100] */
    /* --startup-taint and --ignore-taint values: exact taint keys that mean "not ready
     * yet". Borrowed during gstate_create, which copies them. */
    const char *const *startup_taints;
    size_t n_startup_taints;
    /* --startup-taint-prefix values: key prefixes with the same meaning. Copied. */
    const char *const *startup_taint_prefixes;
    size_t n_startup_taint_prefixes;
};

/** The Go autoscaler's defaults, no extra startup taints. */
void gstate_options_default(struct gstate_options *o);

/**
 * A registered node as the loop read it. Every pointer is borrowed for the duration of
 * gstate_update. The node belongs to the group whose instance has the same provider ID.
 */
struct gstate_node {
    const char *provider_id; /* spec.providerID; NULL or "" when none: counted in the
                                cluster totals only */
    int8_t ready;            /* Ready condition: 1 True, 0 False, -1 Unknown or absent; the
                                caller folds DiskPressure / NetworkUnavailable into it */
    bool deleting;           /* deletionTimestamp or ToBeDeletedByClusterAutoscaler set */
    int64_t created_ms;      /* creationTimestamp, Unix ms; 0 when absent */
    const char *const *taint_keys;
    size_t n_taint_keys;
};

/** What one group looks like after the latest update. Strings are borrowed from the
 * gstate and live until the next gstate_update or gstate_free. */
struct gstate_group_view {
    const char *group_id;
    int32_t min_size, max_size, target_size;
    /* Registered nodes split as the Go autoscaler does: deleting first (the node is being
     * deleted or its instance is), then ready, then not started (unready, younger than
     * --max-node-startup-time), then unready. */
    size_t n_registered, n_ready, n_unready, n_not_started, n_deleting;
    size_t n_unregistered;       /* live instances without a node, under the provision time */
    size_t n_long_unregistered;  /* without a node for --max-node-provision-time or longer */
    size_t n_failed;             /* reported creating with an error */
    int32_t n_upcoming;          /* see gstate_upcoming */
    bool backed_off;             /* at the time given to gstate_group_view */
    const char *backoff_reason;  /* "timeout", "out-of-resources", "other", "resize";
                                    NULL when not backed off */
    const char *backoff_message; /* what the backend said, cut; NULL when none */
    int64_t backoff_until_ms;    /* 0 when not backed off */
    int64_t last_scale_up_ms;    /* 0 when none noted */
    bool scale_up_in_progress;   /* a noted scale-up still waiting for its nodes */
};

/** Cluster totals after the latest update: every registered node, in a group or not. */
struct gstate_totals {
    size_t n_nodes, n_ready, n_unready, n_not_started, n_deleting;
    size_t n_long_unregistered;
};

/** An instance the loop should remove through the backend's evict. Borrowed like views. */
struct gstate_removal {
    const char *group_id;
    const char *provider_id;
    const char *reason; /* "timeout", "out-of-resources" or "other" */
};

struct gstate;

/**
 * Create an empty state. Options are copied; out-of-range values (a non-positive duration,
 * initial back-off above the maximum, a percentage outside [0, 100]) are refused with
 * NSC_ERR_INVALID and err naming the flag. *out is owned by the caller: gstate_free().
 * Until the first successful gstate_update the cluster reads as unhealthy.
 */
int gstate_create(const struct gstate_options *o, struct gstate **out, char *err,
                  size_t err_len);

/** Free the state; NULL accepted. */
void gstate_free(struct gstate *g);

/**
 * Feed one loop's view: the groups as the backend reported them and the registered nodes
 * (both borrowed). Instances without a node are timed from the first update that saw them
 * so; past --max-node-provision-time they are long-unregistered, listed for removal and
 * back the group off ("timeout"), once per instance. An instance reported creating with an
 * error backs its group off at once with the error's class, once per instance, and is
 * listed for removal. Removals never take a group's target below its min. Noted scale-ups
 * whose nodes all registered are done; one still short after the provision time backs the
 * group off ("timeout"). Back-off entries with no failure for the reset timeout are dropped.
 *
 * Returns 0; NSC_ERR_INVALID for input it cannot trust (a group without an ID, duplicate
 * group or provider IDs, negative sizes, min above max, too many records, now_ms outside
 * [0, year 9999]) with err naming the group, instance or field; NSC_ERR_NOMEM. On failure
 * the state of the previous update is kept and the cluster reads as unhealthy until an
 * update succeeds.
 */
int gstate_update(struct gstate *g, const struct group_set *groups,
                  const struct gstate_node *nodes, size_t n_nodes, int64_t now_ms, char *err,
                  size_t err_len);

/** How many groups the latest update had; their indices follow that group_set's order. */
size_t gstate_n_groups(const struct gstate *g);

/** The index of a group of the latest update, or -1 when it had none by that ID. */
long gstate_find(const struct gstate *g, const char *group_id);

/**
 * Nodes on their way for group index i: target minus registered nodes, minus instances
 * long unregistered or failed, never below 0 nor above max minus registered. After a noted
 * scale-up timed out, capacity the backend shows no instance for is no longer counted.
 * The planner places pending pods on these before asking for more. 0 for a bad index.
 */
int32_t gstate_upcoming(const struct gstate *g, size_t i);

/**
 * Whether the group with this ID is backed off at now_ms (back-off runs from the failure
 * to until, until excluded). *reason and *until_ms (either may be NULL) receive the reason
 * (borrowed, valid until the next update) and the end. An unknown group reads as not
 * backed off with NULL reason.
 */
bool gstate_backed_off(const struct gstate *g, const char *group_id, int64_t now_ms,
                       const char **reason, int64_t *until_ms);

/**
 * Back a group off for a failure the loop saw itself (reason borrowed, copied, e.g. a
 * refused resize: "resize"); message may be NULL. The first failure backs off for the
 * initial duration; one after the previous back-off ended doubles it up to the maximum;
 * one during a back-off extends it without doubling. NSC_ERR_NOT_FOUND for an unknown group.
 */
int gstate_note_failure(struct gstate *g, const char *group_id, const char *reason,
                        const char *message, int64_t now_ms);

/** Resizes refused transiently in a row before the group is backed off. */
#define GSTATE_TRANSIENT_BEFORE_BACKOFF 3

/**
 * Record a resize the cloud refused for the moment (NSC_ERR_TRANSIENT: say an operation
 * still running on the group, or a 5xx): the group is grown again next loop, and backed
 * off (as gstate_note_failure, *backed_off set) only at the
 * GSTATE_TRANSIENT_BEFORE_BACKOFF-th refusal in a row; a resize accepted resets the count.
 */
int gstate_note_transient(struct gstate *g, const char *group_id, const char *message,
                          int64_t now_ms, bool *backed_off);

/**
 * Record that the loop asked group_id to grow from `from` to `to` at now_ms: the time of
 * the last scale-up (for --scale-down-delay-after-add) and a request that is done once the
 * group's nodes registered. NSC_ERR_INVALID unless 0 <= from < to; NSC_ERR_NOT_FOUND for
 * an unknown group.
 */
int gstate_note_scale_up(struct gstate *g, const char *group_id, int32_t from, int32_t to,
                         int64_t now_ms);

/** The time of the last scale-up of any group, 0 when none. */
int64_t gstate_last_scale_up_ms(const struct gstate *g);

/** Instances to remove after the latest update; *n receives the count. Borrowed. */
const struct gstate_removal *gstate_removals(const struct gstate *g, size_t *n);

/** Fill *v for group index i at now_ms. NSC_ERR_INVALID for a bad index. */
int gstate_group_view(const struct gstate *g, size_t i, int64_t now_ms,
                      struct gstate_group_view *v);

/** Cluster totals of the latest update. */
void gstate_totals(const struct gstate *g, struct gstate_totals *t);

/**
 * The cluster health verdict (Go's IsClusterHealthy): unhealthy when unready nodes exceed
 * both --ok-total-unready-count and --max-total-unready-percentage of all registered nodes,
 * before the first successful update and after a failed one. Scale-down must stop while
 * unhealthy. why (may be NULL) receives the reason either way.
 */
bool gstate_cluster_healthy(const struct gstate *g, char *why, size_t why_len);

#endif
