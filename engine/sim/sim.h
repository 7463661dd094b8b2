/* Scheduling simulation: a dense cluster snapshot with cheap fork/revert, and the
 * kube-scheduler Filter plugins with Kubernetes semantics and readable reasons. */
#ifndef NSC_SIM_H
#define NSC_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

#define SIM_NONE UINT32_MAX

/**
 * a + b and a * b on quantities (millicores, bytes, node counts), clamped to the int64
 * range instead of overflowing: every sum or product of numbers from outside goes through
 * these, so that a huge value saturates and then refuses placement rather than wrapping.
 */
static inline int64_t
sim_sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/** a - b, clamped as sim_sat_add. */
static inline int64_t
sim_sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

/** a * b, clamped as sim_sat_add. */
static inline int64_t
sim_sat_mul(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
    return r;
}

/** Why a node was refused, in kube-scheduler's Filter order. */
enum sim_fail {
    SIM_OK = 0,
    SIM_FAIL_UNSCHEDULABLE, /* NodeUnschedulable */
    SIM_FAIL_TAINT,         /* TaintToleration */
    SIM_FAIL_NODE_AFFINITY, /* NodeAffinity (nodeSelector and required affinity) */
    SIM_FAIL_PORTS,         /* NodePorts */
    SIM_FAIL_RESOURCES,     /* NodeResourcesFit */
    SIM_FAIL_VOLUME,        /* VolumeBinding / VolumeZone for bound PVs */
    SIM_FAIL_SPREAD,        /* PodTopologySpread, DoNotSchedule */
    SIM_FAIL_AFFINITY,      /* InterPodAffinity: the pod's required affinity */
    SIM_FAIL_ANTI_AFFINITY, /* InterPodAffinity: the pod's required anti-affinity */
    SIM_FAIL_EXISTING_ANTI, /* InterPodAffinity: existing pods' anti-affinity */
    SIM_FAIL_DISABLED,      /* node removed from the simulation */
    SIM_FAIL_N
};

/** A short fixed name per failure ("Insufficient resources", ...), for grouping. */
const char *sim_fail_name(enum sim_fail f);

/** A sum of requests kept exactly as over * INT64_MAX + lo (0 <= lo <= INT64_MAX), so that
 * removing a pod undoes adding it even past the int64 range. */
struct sim_sum {
    int64_t lo;
    uint32_t over;
};

/** A node of the snapshot. Read-only for callers except `tag`. */
struct sim_node {
    const struct model_node *src; /* allocatable, taints, flags (borrowed) */
    uint32_t name_id;
    const struct labelset *labels;
    struct labelset *own_labels; /* template copies: owned */
    /* Requests of its pods, saturated at INT64_MAX (then nothing more fits); used[RES_PODS]
     * is the pod count. */
    int64_t used[RES_N_FIXED];
    int64_t *used_ext; /* parallel to src->alloc.ext, saturated as used */
    struct sim_sum used_sum[RES_PODS];
    struct sim_sum *used_ext_sum; /* parallel to used_ext */
    uint32_t *pods;               /* indices into the snapshot's pods */
    uint32_t n_pods, cap_pods;
    uint32_t n_port_pods; /* pods with host ports */
    bool disabled;
    int32_t tag; /* free for callers (scale-up marks the group a node belongs to) */
};

struct sim_pod {
    const struct model_pod *p; /* borrowed from the model */
    uint32_t node;             /* index of its node, SIM_NONE when removed */
};

struct sim_undo;

/** Room left on a node: allocatable minus the requests of its pods. */
struct sim_free {
    int64_t cpu, mem, pods;
};

/** Pod indices by a 64-bit key (label key id << 32 | value id). */
struct sim_plist {
    uint32_t *v;
    uint32_t n, cap;
};

#define SIM_LINDEX_MEMO 64

struct sim_lindex {
    uint64_t *keys;
    uint32_t *slot;
    uint32_t mask, n;
    struct sim_plist *lists;
    uint32_t n_lists, cap_lists;
    /* Recently used keys and their lists, direct-mapped (key 0 = empty): spares the
     * probe of the big table for the labels of pods added and removed in a row. */
    uint64_t memo_key[SIM_LINDEX_MEMO];
    uint32_t memo_slot[SIM_LINDEX_MEMO];
};

/** Append v to l (growing it). Returns 0 or NSC_ERR_NOMEM. */
int sim_plist_push(struct sim_plist *l, uint32_t v);

/** The list for key, or NULL. */
const struct sim_plist *sim_lindex_get(const struct sim_lindex *x, uint64_t key);

/**
 * The snapshot: every node of the model and every pod bound to one that still holds
 * resources (phase not Succeeded/Failed). It borrows the model, which must not change
 * while the snapshot lives.
 */
struct sim_snapshot {
    struct model *m; /* borrowed; only its interner is written (template node names) */
    struct sim_node *nodes;
    uint32_t n_nodes, cap_nodes;
    struct sim_pod *pods;
    uint32_t n_pods, cap_pods;
    uint32_t *anti_pods; /* pods with required anti-affinity (symmetry check) */
    uint32_t n_anti_pods, cap_anti_pods;
    /* Indexes that spare the per-pod preparation a scan of every pod: pods by label, and
     * pods with anti-affinity by the first single-value In requirement of each term
     * (terms without one are in anti_generic). */
    struct sim_lindex by_label;
    struct sim_lindex anti_by_label;
    struct sim_plist anti_generic;
    struct sim_undo *undo;
    uint32_t n_undo, cap_undo;
    uint64_t epoch; /* bumped by removals and disables: contexts then start over */
    /* After each revert, the pod and node counts it left: contexts that saw more undo
     * what they learnt from the pods and nodes that went away. */
    uint32_t *rev_pods, *rev_nodes;
    uint32_t n_revs, cap_revs;
    /* Free-capacity tree: leaf i is node i's room, each inner slot the per-resource maxima
     * of its children, so that searches skip runs of full nodes in a few steps. */
    struct sim_free *ft;
    uint32_t ft_size;       /* leaves, a power of two */
    bool ft_on;             /* false when the tree could not be allocated: searches scan */
    struct smap node_index; /* name -> node index */
    bool has_pvcs;          /* the model carries PVCs: volume checks are on */
};

/** Build a snapshot of the model (borrowed). Returns 0 or NSC_ERR_NOMEM; *out owned. */
int sim_snapshot_new(struct model *m, struct sim_snapshot **out);
void sim_snapshot_free(struct sim_snapshot *s);

/** Index of a node by name, SIM_NONE when absent. */
uint32_t sim_node_index(const struct sim_snapshot *s, const char *name);

/**
 * Add a node copied from tmpl (borrowed; must outlive the snapshot) under a new name:
 * its kubernetes.io/hostname label becomes the name, as cluster-autoscaler's template
 * sanitising does. Returns 0 and the new index, or NSC_ERR_NOMEM.
 */
int sim_add_template_node(struct sim_snapshot *s, const struct model_node *tmpl,
                          const char *name, uint32_t *idx);

/** sim_add_template_node with the name already interned in the model (name_id). */
int sim_add_template_node_id(struct sim_snapshot *s, const struct model_node *tmpl,
                             uint32_t name_id, uint32_t *idx);

/** Bind pod p (borrowed) to node without checking. Returns 0 or NSC_ERR_NOMEM. */
int sim_add_pod(struct sim_snapshot *s, const struct model_pod *p, uint32_t node);

/** Unbind the snapshot pod at index pod_idx (its slot stays, node = SIM_NONE). */
int sim_remove_pod(struct sim_snapshot *s, uint32_t pod_idx);

/** Take a node out of the simulation (scale-down): it fits nothing afterwards. */
int sim_disable_node(struct sim_snapshot *s, uint32_t node);

/** Start a fork: returns a mark for sim_revert. Forks nest. */
uint32_t sim_fork(const struct sim_snapshot *s);
/** Undo every change made since mark. */
void sim_revert(struct sim_snapshot *s, uint32_t mark);

/**
 * Per-pod prepared state (kube-scheduler's PreFilter): affinity and spread counts per
 * topology domain, symmetric anti-affinity, resolved volumes. It follows the snapshot
 * as nodes and pods are added; after a revert, a removal or a disable it recomputes
 * itself on the next check. The pod (borrowed) need not be in the snapshot.
 */
struct sim_ctx;

int sim_ctx_new(struct sim_snapshot *s, const struct model_pod *pod, struct sim_ctx **out);
void sim_ctx_free(struct sim_ctx *c);
/** The pod a context was made for. */
const struct model_pod *sim_ctx_pod(const struct sim_ctx *c);

/**
 * Run every Filter for the context's pod against node. Returns SIM_OK or the first
 * failing enum sim_fail; when why is not NULL it receives a sentence such as
 * "Insufficient cpu: requests 2, free 1.5". No allocation on the common paths.
 */
int sim_check(struct sim_snapshot *s, struct sim_ctx *c, uint32_t node, char *why,
              size_t why_len);

/** Optional node filter for sim_find: return true to consider the node. */
typedef bool sim_node_ok_fn(const struct sim_snapshot *s, uint32_t node, void *arg);

/**
 * First node in [from, to) (to clamped to the node count) that passes every filter
 * and ok (NULL = all). Returns the index or SIM_NONE.
 */
uint32_t sim_find(struct sim_snapshot *s, struct sim_ctx *c, uint32_t from, uint32_t to,
                  sim_node_ok_fn *ok, void *arg);

/**
 * First node in [from, to) (to clamped to the node count) whose room covers need in every
 * field, or SIM_NONE. Pass INT64_MIN for a field that does not matter. Nodes are not
 * otherwise checked: a result may still fail sim_check, and when the index is unavailable
 * the result is simply from. Disabled nodes are skipped.
 */
uint32_t sim_next_with_room(const struct sim_snapshot *s, uint32_t from, uint32_t to,
                            const struct sim_free *need);

/**
 * True when a pod of the same DaemonSet as p would run on node n: n's NoSchedule and
 * NoExecute taints tolerated, p's nodeSelector and required node affinity met by n's
 * labels. The DaemonSet controller pins each of its pods to one node with a metadata.name
 * field term, so field terms are not checked: the pod made for n would name n. Resources
 * are left to the caller. Used to give a backend's template node the DaemonSet pods a new
 * node would run.
 */
bool sim_daemon_pod_fits(const struct model *m, const struct model_pod *p,
                         const struct model_node *n);

/** Format a resource amount for people: cpu in cores ("1.5"), bytes with Ki/Mi/Gi. */
void sim_format_amount(int kind, int64_t v, char *buf, size_t len);

#endif
