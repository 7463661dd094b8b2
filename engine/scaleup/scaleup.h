/* Scale-up planning: which pending pods fit existing or upcoming capacity, and which node
 * groups must grow by how much for the rest (bin packing, limits, expanders, balancing). */
#ifndef NSC_SCALEUP_H
#define NSC_SCALEUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "plugin/plugin.h"
#include "sim/sim.h"

/**
 * Everything the planner reads from the configuration. Fill with scaleup_options_default()
 * then override from flags; strings are borrowed for the call.
 */
/** A pod's own --new-pod-scale-up-delay (a Go duration); it can only lengthen the flag's. */
#define SCALEUP_ANN_POD_SCALE_UP_DELAY "cluster-autoscaler.kubernetes.io/pod-scale-up-delay"

struct scaleup_options {
    /** --expander: comma-separated chain of random, most-pods, least-waste, least-nodes,
     * priority (default "least-waste"). Each keeps the best options; a tie left at the end
     * is broken by random. */
    const char *expander;
    /** Priority expander configuration: the `priorities` text of the ConfigMap
     * cluster-autoscaler-priority-expander (a YAML map from integer priority to a list of
     * regular expressions in Go's RE2 syntax, matched unanchored against each group's id
     * and name). NULL = none. */
    const char *priority_config;
    /** --balance-similar-node-groups (default false). */
    bool balance_similar;
    /** Labels ignored when comparing groups for balancing, besides the built-in ones. */
    const char *const *balancing_ignore_labels;
    size_t n_balancing_ignore_labels;
    /** --max-nodes-total: 0 = unlimited. */
    int32_t max_nodes_total;
    /** --cores-total max, in cores (default 320000); --memory-total max, in GiB (default
     * 6400000). 0 = unlimited. */
    int64_t cores_total_max;
    int64_t memory_total_max_gib;
    /** --max-nodes-per-scaleup (default 1000): nodes one estimation may add per group. */
    int32_t max_nodes_per_scaleup;
    /** --expendable-pods-priority-cutoff (default -10): lower-priority pods never cause a
     * scale-up. */
    int32_t expendable_priority_cutoff;
    /** --new-pod-scale-up-delay: pods younger than this, or than their annotation
     * cluster-autoscaler.kubernetes.io/pod-scale-up-delay when that is longer, cause no
     * scale-up yet (default 0). Applied only when now_s is set. */
    int64_t new_pod_delay_ms;
    /** The time pod ages are measured at, Unix seconds; 0 = ages are not checked. */
    int64_t now_s;
    /** Seed of the random expander / tie-breaker (replays pass a fixed one). */
    uint64_t random_seed;
    /** Balancing tolerances (cluster-autoscaler's defaults 0.015, 0.05, 0.05). */
    double memory_difference_ratio;
    double max_allocatable_difference_ratio;
    double max_free_difference_ratio;
};

/** Fill o with the defaults listed above. */
void scaleup_options_default(struct scaleup_options *o);

/**
 * Check an expander chain and a priority configuration without planning. Returns 0 or
 * NSC_ERR_INVALID with err naming the bad expander or line.
 */
int scaleup_options_check(const struct scaleup_options *o, char *err, size_t err_len);

/** A pod that fits capacity already there (or already on its way). */
struct scaleup_fit {
    const struct model_pod *pod;
    char *node; /* existing node name, or "upcoming:<group>" for a node being created */
};

/** One group to grow. */
struct scaleup_increase {
    size_t group; /* index into the group_set */
    int32_t from, to;
    const struct model_pod **pods; /* pods the new nodes take */
    size_t n_pods;
};

/** Why one node group cannot take a pod. */
struct scaleup_reason {
    size_t group;
    char *why;
};

/** A pod no plan helps, with the reason per group. */
struct scaleup_none {
    const struct model_pod *pod;
    struct scaleup_reason *reasons;
    size_t n_reasons;
    char *why; /* set when the pod was not considered at all (e.g. expendable) */
};

/** The decision. Pods are borrowed from the model passed to scaleup_plan. */
struct scaleup_result {
    struct scaleup_fit *fits;
    size_t n_fits;
    struct scaleup_increase *increases;
    size_t n_increases;
    struct scaleup_none *none;
    size_t n_none;
    size_t n_pending; /* pods that were pending */
    size_t n_young;   /* of those, left for a later loop: younger than their scale-up delay */
};

/**
 * Plan a scale-up. m is the cluster (its interner gains template names), groups the
 * backend's groups with their instances (providerIDs matched against nodes'
 * spec.providerID). Pending = unbound, not terminating, PodScheduled=False/Unschedulable,
 * not gated. Returns 0 and fills out (owned: scaleup_result_free), or NSC_ERR_INVALID
 * (bad options, err says which) or NSC_ERR_NOMEM.
 */
int scaleup_plan(struct model *m, const struct group_set *groups,
                 const struct scaleup_options *o, struct scaleup_result *out, char *err,
                 size_t err_len);

void scaleup_result_free(struct scaleup_result *r);

/* ---- building blocks, exposed for tests ---- */

/** One candidate expansion, as expanders see it. */
struct scaleup_option {
    size_t group;
    int32_t node_count;
    size_t n_pods;
    int64_t pods_cpu_m, pods_mem; /* requests of the pods placed */
    int64_t node_cpu_m, node_mem; /* template capacity per node */
    const char *group_id;
    const char *group_name; /* NULL when the backend gives none; matched as the id is */
};

/**
 * Apply the expander chain to opts (n >= 1): returns the index of the chosen option.
 * *rng is the random state (advanced when random is consulted).
 */
size_t scaleup_expand(const struct scaleup_option *opts, size_t n, const char *chain,
                      const char *priority_config, uint64_t *rng);

/** A priority configuration parsed and its regexes compiled, once per plan. */
struct scaleup_priorities;

/**
 * Parse a priority configuration (as scaleup_priority_check) into *out (owned: free with
 * scaleup_priorities_free). Returns 0, NSC_ERR_INVALID with err "line N: problem", or
 * NSC_ERR_NOMEM; *out is NULL on error.
 */
int scaleup_priorities_new(const char *config, struct scaleup_priorities **out, char *err,
                           size_t err_len);

/** Free a parsed priority configuration (NULL is allowed). */
void scaleup_priorities_free(struct scaleup_priorities *p);

/**
 * scaleup_expand with the priority configuration already parsed (borrowed; NULL leaves the
 * priority step out), so that planning does not recompile the regexes for every choice.
 */
size_t scaleup_expand_parsed(const struct scaleup_option *opts, size_t n, const char *chain,
                             const struct scaleup_priorities *prio, uint64_t *rng);

/**
 * Check a priority configuration (the ConfigMap's `priorities` text): returns 0, or
 * NSC_ERR_INVALID with err "line N: problem" (or the configuration has no regex at all),
 * or NSC_ERR_NOMEM.
 */
int scaleup_priority_check(const char *config, char *err, size_t err_len);

/**
 * Are two template nodes similar for balancing (cluster-autoscaler's comparator)?
 * free_a/free_b are allocatable minus the requests of the template's own pods.
 */
bool scaleup_similar(const struct model *m, const struct model_node *a,
                     const struct model_node *b, const int64_t free_a[RES_N_FIXED],
                     const int64_t free_b[RES_N_FIXED], const struct scaleup_options *o);

/**
 * Split total new nodes between groups with current sizes cur[] and maxima max[]: one at
 * a time to the smallest group, as cluster-autoscaler's balancer does. out[i] receives
 * the new target of group i. Returns the number of nodes placed (<= total).
 */
int32_t scaleup_balance_split(const int32_t *cur, const int32_t *max, size_t n, int32_t total,
                              int32_t *out);

#endif
