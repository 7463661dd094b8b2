/* Scale-down actuation: taint, drain and delete the nodes the planner chose, as a
 * non-blocking state machine the control loop advances; soft taints, the unneeded-since
 * annotation, start-up cleanup of stale taints and rollback of every drain on abort. */
#ifndef NSC_DRAIN_H
#define NSC_DRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kube/client.h"

/* Taints and the annotation, compatible with cluster-autoscaler's where it has one. */
#define DRAIN_TAINT_TO_BE_DELETED "ToBeDeletedByClusterAutoscaler"
#define DRAIN_TAINT_CANDIDATE "DeletionCandidateOfClusterAutoscaler"
#define DRAIN_ANN_UNNEEDED_SINCE "nodescaler.io/unneeded-since"
/* Set with our cordon, so that a rollback or a cleanup lifts only a cordon we set. */
#define DRAIN_ANN_CORDONED "nodescaler.io/cordoned-for-deletion"

/** Options; drain_options_default() gives cluster-autoscaler's defaults. */
struct drain_options {
    int64_t node_delete_delay_after_taint_ms; /* --node-delete-delay-after-taint [5s] */
    int64_t max_pod_eviction_time_ms;         /* --max-pod-eviction-time [2m] */
    int64_t eviction_retry_ms;                /* pause between eviction attempts [10s] */
    int64_t max_graceful_termination_ms;      /* --max-graceful-termination-sec [600s] */
    int64_t default_grace_ms;                 /* a pod's grace period when unknown [30s] */
    int64_t pod_gone_margin_ms;               /* waited past the grace period [30s] */
    int64_t pod_poll_ms;                      /* between checks that pods are gone [5s] */
    int64_t rollback_retry_ms;                /* between attempts to remove a taint [1s] */
    int64_t backend_retry_ms;      /* between backend evicts that failed transiently [5s] */
    int64_t backend_evict_time_ms; /* how long transient backend failures are retried [2m] */
    int64_t max_drain_parallelism; /* --max-drain-parallelism [1] */
    int64_t max_scale_down_parallelism;         /* --max-scale-down-parallelism [10] */
    int64_t max_bulk_soft_taint_count;          /* --max-bulk-soft-taint-count [10]; 0: off */
    int64_t max_bulk_soft_taint_time_ms;        /* --max-bulk-soft-taint-time [3s]; 0: off */
    bool cordon_node_before_terminating;        /* [true] */
    bool daemonset_eviction_for_empty_nodes;    /* [false] */
    bool daemonset_eviction_for_occupied_nodes; /* [true] */
    bool dry_run; /* log every action, send no write and call no backend */
};

struct drainer;

/** Pods evicted (the API accepted the eviction) and pods given up on (not evicted within
 * --max-pod-eviction-time) since the drainer was made; a dry run counts neither. */
void drain_eviction_counts(const struct drainer *d, uint64_t *ok, uint64_t *failed);

/** Fill o with the defaults above. */
void drain_options_default(struct drain_options *o);

/** Range-check o; on failure err names the option and the bound. Returns 0 or
 * NSC_ERR_INVALID. */
int drain_options_check(const struct drain_options *o, char *err, size_t err_len);

/** One pod to move off a node. Strings borrowed for the call (copied). */
struct drain_pod {
    const char *namespace;
    const char *name;
    int64_t grace_ms; /* the pod's terminationGracePeriodSeconds in ms; < 0: unknown */
    bool daemonset;
};

/** A node the planner chose. Strings and pods borrowed for the call (copied). */
struct drain_request {
    const char *node_name;
    const char *provider_id; /* the instance id the backend evicts */
    const char *group_id;
    bool empty; /* nothing but DaemonSet pods to move */
    const struct drain_pod *pods;
    size_t n_pods;
};

/**
 * Asked before every write of a drain: return 0 to go on, or non-zero when the node is
 * needed again, the lease was lost or anything else means stop (write why into why,
 * NUL-terminated). Called from drain_step on the caller's thread.
 */
typedef int drain_check_fn(void *ud, const char *node_name, char *why, size_t why_len);

/** Remove exactly this instance of the group; 0 or a negative status with err filled.
 * drain_backend_evict adapts backend_evict (ud: the struct backend). */
typedef int drain_evict_instance_fn(void *ud, const char *group_id, const char *provider_id,
                                    char *err, size_t err_len);

/** The loaded backend's evict of one instance; ud is a struct backend. */
int drain_backend_evict(void *ud, const char *group_id, const char *provider_id, char *err,
                        size_t err_len);

/**
 * Whether a pod still holds the node: 1 yes, 0 gone (deleted, or now on another node),
 * negative when not known (counted as still there). Without one the drainer GETs the pod.
 */
typedef int drain_pod_lookup_fn(void *ud, const char *ns, const char *name,
                                const char *node_name);

/** How a drain ended, handed to drain_done_fn. Strings valid during the call only. */
struct drain_outcome {
    const char *node_name;
    const char *group_id;
    const char *provider_id;
    bool ok; /* the backend evicted the instance (or would have, in dry run) */
    bool dry_run;
    bool left_tainted;  /* the taint could not be removed (only after drain_abort_all) */
    const char *reason; /* why it failed, "" when ok */
};

/** Told of every drain that ends; on failure the caller applies
 * --scale-down-delay-after-failure. */
typedef void drain_done_fn(void *ud, const struct drain_outcome *outcome);

/** What the drainer calls; all optional except evict_instance. Borrowed. */
struct drain_hooks {
    drain_check_fn *check;
    drain_evict_instance_fn *evict_instance;
    drain_pod_lookup_fn *pod_lookup;
    drain_done_fn *done;
    void *ud;         /* for check, pod_lookup and done */
    void *backend_ud; /* for evict_instance */
};

struct drainer;

/**
 * A drainer on client c (borrowed; must outlive it) with options o and hooks h (copied).
 * Returns 0, NSC_ERR_INVALID (err names the option), NSC_ERR_NOMEM.
 */
int drain_new(struct kube_client *c, const struct drain_options *o, const struct drain_hooks *h,
              struct drainer **out, char *err, size_t err_len);

/** Free the drainer. Drains in progress are forgotten, not rolled back: call
 * drain_abort_all first. NULL accepted. */
void drain_free(struct drainer *d);

/**
 * Begin draining a node at monotonic time now_ms. Sends nothing: drain_step does. Returns
 * 0; NSC_ERR_OUT_OF_RESOURCES when --max-scale-down-parallelism, or for a node with pods
 * --max-drain-parallelism, is reached; NSC_ERR_INVALID for a request missing a field, a
 * node already draining, or an "empty" node with pods that are not DaemonSet pods (err
 * says which); NSC_ERR_NOMEM.
 */
int drain_start(struct drainer *d, const struct drain_request *req, int64_t now_ms, char *err,
                size_t err_len);

/**
 * Advance every drain by at most one step (one Kubernetes read-modify-write, eviction or
 * lookup, or the backend call) and return. Finished drains go to the done hook and leave
 * the drainer. Returns the number of drains still in progress.
 */
size_t drain_step(struct drainer *d, int64_t now_ms);

/** Drains in progress: all of them, and those of nodes with pods. */
size_t drain_n_active(const struct drainer *d);
size_t drain_n_active_with_pods(const struct drainer *d);

/** True while node_name is being drained. */
bool drain_is_draining(const struct drainer *d, const char *node_name);

/** The reason the last failed drain of node_name failed (borrowed, valid until the next
 * drain_step), or NULL. The last 64 failures are kept. */
const char *drain_failure_reason(const struct drainer *d, const char *node_name);

/**
 * Roll back every drain in progress (SIGTERM, lost lease): remove its taint and the cordon
 * it set, retrying until the client's clock reaches deadline_ms (monotonic). Each drain
 * goes to the done hook as failed with reason. Returns the number of nodes left tainted
 * (logged by name), 0 when all were cleaned.
 */
size_t drain_abort_all(struct drainer *d, int64_t deadline_ms, const char *reason);

/**
 * After a restart: remove the ToBeDeletedByClusterAutoscaler taint (and the cordon, when
 * our annotation says we set it) from the nodes named in tainted (borrowed; the nodes the
 * watched view shows with that taint, at most 50,000) that no drain in progress owns.
 * Lists nothing: each named node is read and written on its own. *n_cleaned receives how
 * many nodes were changed. Returns 0, NSC_ERR_INVALID for too many names, or the first
 * failure (err names the node and the answer); the other nodes are still tried.
 */
int drain_cleanup_stale_taints(struct drainer *d, const char *const *tainted, size_t n_tainted,
                               size_t *n_cleaned, char *err, size_t err_len);

/**
 * Add DeletionCandidateOfClusterAutoscaler=<unix s>:PreferNoSchedule to the unneeded nodes
 * and remove it from the needed ones, nodes being drained excepted, stopping after
 * --max-bulk-soft-taint-count writes or --max-bulk-soft-taint-time (whichever comes
 * first; either 0 disables). Names borrowed. *n_written receives the writes made.
 * Returns 0 or the first failure (err says where; the other nodes are still tried).
 */
int drain_soft_taint_update(struct drainer *d, const char *const *unneeded, size_t n_unneeded,
                            const char *const *needed, size_t n_needed, size_t *n_written,
                            char *err, size_t err_len);

/**
 * Keep the time a node became unneeded on the node (annotation nodescaler.io/unneeded-since,
 * RFC 3339), so that a restart does not restart --scale-down-unneeded-time: since_s >= 0
 * sets it unless the node already has one (the older time stays), since_s < 0 removes it.
 * Returns 0 or the request's status (err names the node and the answer).
 */
int drain_set_unneeded_since(struct drainer *d, const char *node_name, int64_t since_s,
                             char *err, size_t err_len);

/**
 * Read the unneeded-since annotation of a node object (borrowed). Returns 0 and *since_s,
 * NSC_ERR_NOT_FOUND when the node has none, NSC_ERR_INVALID when it is not RFC 3339 UTC
 * between 1970 and 9999 (the caller then counts the node as unneeded from now).
 */
int drain_unneeded_since_of(const json_t *node, int64_t *since_s);

#endif
