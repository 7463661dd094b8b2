/* Scale-down planning: node utilization, the drain rules that decide whether each pod may
 * move, PDB budgets, and the journal that says for every node whether it may go and why not. */
#ifndef NSC_SCALEDOWN_H
#define NSC_SCALEDOWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "model/model.h"
#include "plugin/plugin.h"

/* ---- options ---- */

/**
 * What the planner needs from the daemon's configuration. Names follow the Go Cluster
 * Autoscaler's flags (without --scale-down-/--); the defaults are that autoscaler's
 * (scaledown_options_default). Times are seconds, ratios are in [0, 1].
 */
struct scaledown_options {
    bool enabled; /* --scale-down-enabled (true) */
    double
        utilization_threshold;        /* --scale-down-utilization-threshold (0.5): a node is a
                                         candidate when max(cpu, memory) requested/allocatable <= it */
    double gpu_utilization_threshold; /* --scale-down-gpu-utilization-threshold (0.5): the same
                                         for nodes with GPUs, on the GPU ratio only */
    const char *gpu_resource;         /* extended resource naming GPUs ("nvidia.com/gpu");
                                         borrowed */
    int64_t unneeded_time_s;          /* --scale-down-unneeded-time (600) */
    int64_t unready_time_s;           /* --scale-down-unready-time (1200), for unready nodes */
    bool unready_enabled;             /* --scale-down-unready-enabled (true) */
    int64_t delay_after_add_s;        /* --scale-down-delay-after-add (600): cooldown after a
                                         scale-up, and the minimum age of a node to remove */
    int64_t delay_after_delete_s;     /* --scale-down-delay-after-delete (0) */
    int64_t delay_after_failure_s;    /* --scale-down-delay-after-failure (180) */
    uint32_t max_parallelism;       /* --max-scale-down-parallelism (10): deletions in flight */
    uint32_t max_drain_parallelism; /* --max-drain-parallelism (1): deletions of non-empty
                                       nodes in flight */
    bool skip_nodes_with_system_pods;            /* --skip-nodes-with-system-pods (true) */
    bool skip_nodes_with_local_storage;          /* --skip-nodes-with-local-storage (true) */
    bool skip_nodes_with_custom_controller_pods; /* --skip-nodes-with-custom-controller-pods
                                                    (true): only ReplicaSet,
                                                    ReplicationController, StatefulSet and Job
                                                    owners count as replicated */
    bool ignore_daemonsets_utilization;          /* --ignore-daemonsets-utilization (false) */
    bool ignore_mirror_pods_utilization;         /* --ignore-mirror-pods-utilization (false) */
};

/** Fill o with the Go Cluster Autoscaler's defaults. */
void scaledown_options_default(struct scaledown_options *o);

/** Check ranges (thresholds in [0, 1], times >= 0, parallelism >= 1 unless disabled).
 * Returns 0 or NSC_ERR_INVALID with err naming the flag. */
int scaledown_options_check(const struct scaledown_options *o, char *err, size_t err_len);

/* ---- annotations read by the planner ---- */

/** Node annotation: "true" keeps the node out of scale-down. */
#define SCALEDOWN_ANN_DISABLED "cluster-autoscaler.kubernetes.io/scale-down-disabled"
/** Pod annotation: "true" lets the pod move whatever else holds; "false" blocks. */
#define SCALEDOWN_ANN_SAFE_TO_EVICT "cluster-autoscaler.kubernetes.io/safe-to-evict"
/** Pod annotation: comma list of local volumes that may be lost when the pod moves. */
#define SCALEDOWN_ANN_SAFE_LOCAL_VOLUMES                                                       \
    "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"
/** Node annotation the loop keeps: when the node was first found unneeded (RFC 3339, UTC).
 * It survives restarts and leader changes, so the unneeded time is not reset by them. */
#define SCALEDOWN_ANN_UNNEEDED_SINCE "nodescaler.io/unneeded-since"

/* ---- utilization ---- */

enum scaledown_util_res { SD_UTIL_CPU = 0, SD_UTIL_MEMORY, SD_UTIL_GPU };

/** "cpu", "memory" or "gpu". */
const char *scaledown_util_res_name(enum scaledown_util_res r);

struct scaledown_util {
    double cpu, memory, gpu; /* requested / allocatable per resource (gpu 0 on other nodes) */
    double value;            /* the one compared with the threshold */
    enum scaledown_util_res res; /* which resource value is */
    bool gpu_node;               /* the node has the GPU resource allocatable */
};

/**
 * Utilization of node n (borrowed) running pods (borrowed array of n_pods, the pods bound
 * to it that hold resources). As the Go autoscaler: per resource the pods' effective
 * requests over allocatable; node value = max(cpu, memory), or the GPU ratio alone on a
 * GPU node. With ignore_daemonsets/mirror_pods_utilization those pods' requests are taken
 * off allocatable instead of added; pods terminating for longer than their grace period
 * plus 30 s are left out. Returns 0, or NSC_ERR_INVALID when the node has no allocatable
 * cpu or memory (err says which): such a node is never a candidate.
 */
int scaledown_utilization(const struct model *m, const struct model_node *n,
                          const struct model_pod *const *pods, uint32_t n_pods,
                          const struct scaledown_options *o, int64_t now_s,
                          struct scaledown_util *out, char *err, size_t err_len);

/* ---- PDB budgets ---- */

/**
 * Remaining disruptions per PodDisruptionBudget, consumed as the planner chooses nodes so
 * that nodes removed together never take more than a budget allows.
 */
struct scaledown_pdbs {
    const struct model *m; /* borrowed */
    uint32_t n;
    const struct model_pdb **pdb; /* sorted by namespace, then name */
    int32_t *remaining;           /* status.disruptionsAllowed minus what was consumed */
    /* Matches per (namespace, labels): replicas of one controller share them, and a
     * cluster may hold hundreds of PDBs per namespace. */
    struct smap memo;
    uint32_t *memo_vals; /* SCALEDOWN_PDB_MEMO_W per entry: count, then up to 4 indices */
    uint32_t n_memo, cap_memo;
};

/** Index every PDB of m (borrowed; must not change while t lives). Returns 0 or NOMEM. */
int scaledown_pdbs_init(struct scaledown_pdbs *t, const struct model *m);
void scaledown_pdbs_free(struct scaledown_pdbs *t);
/** Reset every remaining budget to the PDB's status.disruptionsAllowed. */
void scaledown_pdbs_reset(struct scaledown_pdbs *t);
/**
 * Indices of the PDBs that select pod p (same namespace, selector matches its labels).
 * Writes at most cap into out; returns the total count (which may exceed cap).
 */
uint32_t scaledown_pdbs_match(struct scaledown_pdbs *t, const struct model_pod *p,
                              uint32_t *out, uint32_t cap);

/* ---- drain rules ---- */

/**
 * The drain rules, in the order they are evaluated (the Go autoscaler's drainability
 * rules): the first that decides wins, a pod no rule decides moves.
 */
enum scaledown_rule {
    SD_RULE_NONE = 0,         /* no rule decided: the pod moves */
    SD_RULE_MIRROR,           /* mirror (static) pod: stays, does not block */
    SD_RULE_LONG_TERMINATING, /* deleting for longer than grace + 30 s: ignored */
    SD_RULE_DAEMONSET, /* DaemonSet pod: stays (recreated by its DaemonSet), does not block */
    SD_RULE_SAFE_TO_EVICT,     /* safe-to-evict: "true": moves whatever the later rules say */
    SD_RULE_TERMINAL,          /* Succeeded or Failed: ignored */
    SD_RULE_ON_COMPLETION,     /* safe-to-evict: "on-completion": blocks until the pod ends */
    SD_RULE_REPLICATED,        /* no controller (or a custom one): blocks */
    SD_RULE_SYSTEM,            /* kube-system pod without a PDB: blocks */
    SD_RULE_NOT_SAFE_TO_EVICT, /* safe-to-evict: "false": blocks */
    SD_RULE_LOCAL_STORAGE,     /* emptyDir (not Memory) or hostPath not declared safe: blocks */
    SD_RULE_PDB, /* a PDB with no disruption left, several PDBs, or an unreadable PDB in
                    the pod's namespace: blocks */
    SD_RULE_N
};

/** The rule's name as the Go autoscaler calls it ("localstorage", "pdb"...). */
const char *scaledown_rule_name(enum scaledown_rule r);

enum scaledown_pod_outcome {
    SD_POD_MOVE = 0, /* must be rescheduled elsewhere for the node to go */
    SD_POD_SKIP,     /* stays or is ignored; does not block (mirror, DaemonSet, terminal...) */
    SD_POD_BLOCK     /* the node cannot be drained */
};

/** Evaluation context of the rules: interned keys looked up once per loop. */
struct scaledown_rules {
    const struct model *m;
    const struct scaledown_options *opt;
    struct scaledown_pdbs *pdbs; /* NULL: no PDB in the cluster (its match cache is written) */
    uint32_t k_safe_to_evict, k_safe_local, k_disabled, k_unneeded_since;
    uint32_t v_true, v_false, v_on_completion, ns_kube_system;
    uint32_t kind_rs, kind_rc, kind_ss, kind_job;
};

/** Prepare r for model m, options o and budgets pdbs (all borrowed, pdbs may be NULL). */
void scaledown_rules_init(struct scaledown_rules *r, const struct model *m,
                          const struct scaledown_options *o, struct scaledown_pdbs *pdbs);

/**
 * Run the drain rules on pod p (borrowed) at now_s. Returns the outcome; *rule receives
 * the rule that decided (SD_RULE_NONE when none did); *pdb (when not NULL) the budget
 * that blocked under the pdb rule, else NULL. When the pod blocks and why is not NULL, why
 * receives a sentence naming the pod and the cause, such as
 * "pod default/web-1 has local storage (volume \"cache\", emptyDir or hostPath) ...".
 */
enum scaledown_pod_outcome scaledown_pod_check(const struct scaledown_rules *r,
                                               const struct model_pod *p, int64_t now_s,
                                               enum scaledown_rule *rule,
                                               const struct model_pdb **pdb, char *why,
                                               size_t why_len);

/** True when pod p is deleting since longer than its grace period plus 30 s. */
bool scaledown_pod_long_terminating(const struct model_pod *p, int64_t now_s);

/** True when node n carries scale-down-disabled: "true". */
bool scaledown_node_disabled(const struct scaledown_rules *r, const struct model_node *n);

/**
 * The node's unneeded-since annotation in Unix seconds into *since_s: 1 when present and
 * valid, 0 when absent, NSC_ERR_INVALID when malformed (err says why).
 */
int scaledown_node_unneeded_since(const struct scaledown_rules *r, const struct model_node *n,
                                  int64_t *since_s, char *err, size_t err_len);

/** Format Unix seconds as RFC 3339 UTC ("2026-01-02T03:04:05Z") into buf; returns buf. */
const char *scaledown_format_time(int64_t t_s, char *buf, size_t len);

/* ---- the decision journal ---- */

/** Where a node stands after a planning pass. */
enum scaledown_node_state {
    SD_NODE_UNREMOVABLE = 0, /* cannot go: reason says why */
    SD_NODE_UNNEEDED,        /* could go, but not in this loop: reason says what it waits for */
    SD_NODE_REMOVABLE        /* chosen for removal in this loop */
};

/** "unremovable", "unneeded" or "removable". */
const char *scaledown_node_state_name(enum scaledown_node_state s);

/**
 * Why a node does not go in this loop. Names follow the Go autoscaler's UnremovableReason
 * where it has one, so that operators find what they know.
 */
enum scaledown_reason {
    SD_REASON_NONE = 0,
    SD_REASON_SCALE_DOWN_DISABLED, /* --scale-down-enabled=false */
    SD_REASON_NOT_AUTOSCALED,      /* no node group owns the node's providerID */
    SD_REASON_BEING_DELETED, /* deletionTimestamp, ToBeDeleted taint, or instance deleting */
    SD_REASON_DISABLED_ANNOTATION,      /* scale-down-disabled: "true" */
    SD_REASON_NOT_READY,                /* unready and --scale-down-unready-enabled=false */
    SD_REASON_RECENTLY_ADDED,           /* younger than --scale-down-delay-after-add */
    SD_REASON_GROUP_BACKOFF,            /* the node's group is backing off */
    SD_REASON_MIN_SIZE,                 /* the group would go below its min size */
    SD_REASON_UNEXPECTED_ERROR,         /* the node's numbers make no sense (no allocatable) */
    SD_REASON_NOT_UNDERUTILIZED,        /* utilization above the threshold */
    SD_REASON_BLOCKED_BY_POD,           /* a drain rule blocks (rule and pod in the entry) */
    SD_REASON_NO_PLACE_TO_MOVE_PODS,    /* some pod fits on no remaining node */
    SD_REASON_NOT_UNNEEDED_LONG_ENOUGH, /* unneeded for less than --scale-down-unneeded-time */
    SD_REASON_NOT_UNREADY_LONG_ENOUGH,  /* unready for less than --scale-down-unready-time */
    SD_REASON_COOLDOWN,                 /* a scale-up, deletion or failure was too recent */
    SD_REASON_MAX_PARALLELISM,          /* --max-scale-down-parallelism reached in this loop */
    SD_REASON_MAX_DRAIN_PARALLELISM,    /* --max-drain-parallelism reached in this loop */
    SD_REASON_UNREADABLE_POD, /* a pod bound to the node could not be read (object names it) */
    SD_REASON_N
};

/** The reason's name ("BlockedByPod", "NodeGroupMinSizeReached", ...). */
const char *scaledown_reason_name(enum scaledown_reason r);

/** One node's entry. Strings are owned by the journal. */
struct scaledown_node {
    char *name;
    char *group_id; /* NULL when no group owns the node */
    enum scaledown_node_state state;
    enum scaledown_reason reason; /* SD_REASON_NONE exactly when state is removable */
    enum scaledown_rule rule;     /* the drain rule, for BlockedByPod; SD_RULE_NONE otherwise */
    char *object;  /* what decided: a pod or PDB "ns/name", or a limit "--flag=value";
                      NULL when nothing more specific than the reason */
    char *message; /* one sentence for people; NULL when removable */
    bool util_known;
    struct scaledown_util util;
    bool empty;               /* only DaemonSet, mirror or finished pods: nothing to drain */
    uint32_t n_pods_to_move;  /* pods that would be evicted */
    int64_t unneeded_since_s; /* when first found unneeded (0 unless unneeded or removable) */
    bool since_annotated;     /* the node already carries the unneeded-since annotation with
                                 this value: the loop need not write it */
};

/**
 * The outcome of one planning pass, for every node of the cluster sorted by name. This is
 * what /explain, events, metrics and the status ConfigMap read; it owns everything it
 * holds and stays valid after the model changes.
 */
struct scaledown_journal {
    int64_t now_s;
    struct scaledown_node *nodes;
    size_t n_nodes;
    size_t n_removable, n_unneeded, n_unremovable;
    char *cooldown; /* why nothing is removed in this loop ("" parts in entries), or NULL */
};

void scaledown_journal_free(struct scaledown_journal *j);

/** The entry of a node by name, NULL when absent (binary search). */
const struct scaledown_node *scaledown_journal_find(const struct scaledown_journal *j,
                                                    const char *name);

/** "<Reason>: <message>" of an entry into buf ("" for a removable node); returns buf. */
const char *scaledown_node_reason_text(const struct scaledown_node *e, char *buf, size_t len);

/**
 * The offline replay's arrays: `scale_down` = [{"node","group"}] of the removable nodes and
 * `unremovable` = [{"node","reason"}] of every other node ("unneeded_since" added for
 * unneeded ones). New references; NULL on NOMEM.
 */
json_t *scaledown_json_scale_down(const struct scaledown_journal *j);
json_t *scaledown_json_unremovable(const struct scaledown_journal *j);

/**
 * The offline replay's scale-down: plan as the loop would with o (borrowed), but as if
 * every unneeded node had waited its unneeded (or unready) time, and with the
 * delay-after-add cooldown running when scale_up_now (a scale-up in the same pass keeps
 * nodes). Returns 0 and fills *out (owned: scaledown_journal_free), or a negative status
 * with err set.
 */
int scaledown_replay(struct model *m, const struct group_set *groups,
                     const struct scaledown_options *o, int64_t now_s, bool scale_up_now,
                     struct scaledown_journal *out, char *err, size_t err_len);

/** Every entry with every field (for /explain and the status ConfigMap). New reference. */
json_t *scaledown_json_journal(const struct scaledown_journal *j);

/** The same for people: one line per node. Returns 0 or NSC_ERR_NOMEM; *out owned (free). */
int scaledown_text(const struct scaledown_journal *j, char **out);

/* ---- the planner ---- */

/** What the loop knows about a group beyond the backend's record. */
struct scaledown_group_state {
    bool backed_off; /* scale-ups of this group are backing off: leave it alone */
    int64_t backoff_until_s;
    uint32_t n_deleting; /* its instances being deleted now (count against min size) */
};

/** What the loop knows beyond the cluster: time, history, deletions in flight. */
struct scaledown_state {
    int64_t now_s;
    int64_t last_scale_up_s;   /* 0 = never */
    int64_t last_delete_s;     /* last successful scale-down deletion, 0 = never */
    int64_t last_failure_s;    /* last failed scale-down, 0 = never */
    uint32_t n_deleting;       /* node deletions in flight (all) */
    uint32_t n_deleting_drain; /* of which draining non-empty nodes */
    const struct scaledown_group_state *groups; /* parallel to the group_set; NULL = none */
};

/**
 * One planning pass. m is the cluster (borrowed; unchanged but for interned strings),
 * groups the backend's groups with their instances (borrowed; NULL = no group: nothing
 * is autoscaled). Nodes are matched to groups by spec.providerID.
 *
 * Every node gets an entry: removable (chosen for this loop), unneeded (could go, waits
 * for its unneeded time, a cooldown, a min size or a parallelism limit) or unremovable,
 * each with one reason. The unneeded-since time is read from the node's annotation
 * (SCALEDOWN_ANN_UNNEEDED_SINCE), so a restart keeps it; a malformed one restarts the clock.
 *
 * Removal is simulated on a snapshot: candidates in order (empty nodes first, then the
 * longest unneeded, then the least utilized), each node's movable pods must all pass the
 * scheduler's filters on a ready node that is neither removed nor unneeded in this pass;
 * PDB budgets are consumed by the nodes chosen together. When in doubt, a node stays.
 *
 * Returns 0 and fills *out (owned: scaledown_journal_free), NSC_ERR_INVALID when the
 * options are out of range (err names the flag), or NSC_ERR_NOMEM.
 */
int scaledown_plan(struct model *m, const struct group_set *groups,
                   const struct scaledown_options *o, const struct scaledown_state *st,
                   struct scaledown_journal *out, char *err, size_t err_len);

#endif
