/* The node-group machinery shared by the sks and instance-pool backends: the cached view
 * of groups and instances, refresh with few calls, resize/evict with asynchronous
 * operations, limits and template nodes. Each backend supplies discovery and paths. */
#ifndef EXO_BACKEND_H
#define EXO_BACKEND_H

#include "exo.h"

/** One instance of a group as last listed. */
struct exo_member {
    char *id;
    enum exo_istate state;
};

/** A node group: an SKS nodepool or an instance pool. Everything owned. */
struct exo_group {
    char *id;      /* nodepool id (sks) or instance pool id */
    char *name;    /* nodepool or pool name; may be NULL */
    char *pool_id; /* the instance pool holding the instances */
    char *cloud_state;
    int64_t size;       /* the cloud's target; -1 when the answer had no usable size */
    char *size_problem; /* why size is -1 (owned), else NULL: such a group is never scaled */
    char *type_id;
    int64_t disk_gib;
    json_t *labels; /* Kubernetes labels for the template (sks nodepool labels) or NULL */
    json_t *taints; /* nodepool taints or NULL */

    /* Filled by refresh. */
    int32_t min_size, max_size;
    /* The lowest min reported because the group was below the default min (when
     * min_lowered): a group seen at 0 keeps min 0 after growing, so the core may bring it
     * back. */
    bool min_lowered;
    int32_t min_floor;
    char *template_json;
    struct exo_member *members;
    size_t n_members;

    /* An operation we started and have not seen finish. */
    char *op_id;
    int op_evict;
    int32_t op_target;
    int64_t op_started_ms;
    int64_t op_next_poll_ms;
    int op_errors;
    char **evicting;
    size_t n_evicting;

    /* The last operation failure, reported through placeholder instances. */
    char *fail_code;
    char *fail_message;
    enum nsc_error_class fail_class;
    int32_t fail_missing;
    /* Stand-ins the core removed (fail_missing entries, NULL when none): the cloud never
     * had them, so removing one is forgetting it, and the others keep their ids. */
    bool *fail_gone;
    int64_t fail_at_ms;
    char *fail_op_id;
};

/** A --nodes=MIN:MAX:NAME limit. */
struct exo_nodes_spec {
    int32_t min, max;
    char *name;
    bool matched;
};

struct nsc_backend;

/** What differs between the two backends. */
struct exo_kind {
    const char *name;
    /** Operation names, for messages and the IAM documentation. */
    const char *scale_op;
    const char *evict_op;
    /**
     * Fill out and n_out with the groups as the cloud has them now (every field above
     * "Filled by refresh"). Returns NSC_OK or a status with b->last_error set.
     */
    int (*discover)(struct nsc_backend *b, struct exo_group **out, size_t *n_out);
    /** Path (after the API prefix) of a scale or evict call for g. Owned by caller. */
    char *(*action_path)(struct nsc_backend *b, const struct exo_group *g, const char *verb);
    /**
     * Optional: given the id of an instance pool that owns a node but is not a group,
     * decide whether it should become one (sks: adopt its cluster). Returns true when
     * the next discovery may find it.
     */
    bool (*adopt_pool)(struct nsc_backend *b, const char *pool_id);
    /** Create-time options of the kind (cluster=, pools=); NULL when none. */
    int (*configure)(struct nsc_backend *b, const struct nsc_option *opts, size_t n_opts,
                     char *err, size_t err_len);
    /** Option keys of the kind on top of the shared ones (NULL-terminated; NULL when
     * none), so that a misspelt key is refused instead of silently ignored. */
    const char *const *option_keys;
};

struct nsc_backend {
    const struct nsc_host *host;
    const struct exo_kind *kind;
    struct exo_client client;

    /* Options. */
    struct exo_nodes_spec *specs;
    size_t n_specs;
    int32_t default_min;
    int32_t default_max;
    int64_t group_ttl_ms;
    int64_t quota_ttl_ms;
    int32_t max_pods;
    /* What the kubelet of a new node keeps for itself (kube-reserved, system-reserved,
     * eviction threshold): taken off the template's allocatable, 0 unless configured. */
    int64_t reserved_cpu_m;
    int64_t reserved_memory_bytes;
    /** First interval between polls of an operation (3 s as egoscale), then growing. */
    int64_t op_poll_ms;

    /* sks: the cluster asked for (name or id) and the one in use. */
    char *cluster_opt;
    char *cluster_id;
    bool warned_many_clusters;
    /* instance-pool: the pools asked for (names or ids), or none for all. */
    char **pool_names;
    size_t n_pool_names;

    /* The view. */
    struct exo_group *groups;
    size_t n_groups;
    bool have_view;
    bool dirty;
    int64_t groups_at_ms;
    struct exo_itype *types;
    size_t n_types;
    struct exo_quota quota;
    bool have_quota;
    int64_t quota_at_ms;
    char **not_ours;
    size_t n_not_ours;

    /* Calls made by the last refresh, for the benchmarks. */
    uint64_t last_refresh_calls;
    char last_error[EXO_ERR_LEN];
};

/** Set b->last_error (printf-style) and return status. */
int exo_fail(struct nsc_backend *b, int status, const char *fmt, ...) NSC_PRINTF(3, 4);

/* The generic operations of backend.h's table, parameterised by the kind. */
int exo_backend_create(const struct exo_kind *kind, const struct nsc_host *host,
                       const struct nsc_option *opts, size_t n_opts, struct nsc_backend **out,
                       char *errbuf, size_t errbuf_len);
void exo_backend_destroy(struct nsc_backend *b);
int exo_backend_refresh(struct nsc_backend *b);
int exo_backend_node_groups(struct nsc_backend *b, const struct nsc_sink *sink);
int exo_backend_group_instances(struct nsc_backend *b, const char *group_id,
                                const struct nsc_sink *sink);
int exo_backend_resize(struct nsc_backend *b, const char *group_id, int32_t target);
int exo_backend_evict(struct nsc_backend *b, const char *group_id,
                      const char *const *provider_ids, size_t n_ids);
const char *exo_backend_last_error(struct nsc_backend *b);
int exo_backend_group_for_node(struct nsc_backend *b, const char *provider_id,
                               const struct nsc_sink *sink);

/** Free what a group owns and zero it. */
void exo_group_clear(struct exo_group *g);

/**
 * Build the template v1.Node JSON of g (owned by the caller) from its instance type,
 * labels and taints, or NULL when the type is unknown. Invalid taints are skipped with
 * a warning.
 */
char *exo_template_node(struct nsc_backend *b, const struct exo_group *g,
                        const struct exo_itype *type);

/** Parse "MIN:MAX:NAME" into spec (name owned). Returns NSC_OK or NSC_ERR_INVALID. */
int exo_parse_nodes_spec(const char *text, struct exo_nodes_spec *spec, char *err,
                         size_t err_len);

#endif
