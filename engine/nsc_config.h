/* The daemon's configuration: every command-line flag, parsed and validated into one plain
 * struct that the planners and the loop read. Flag names and defaults follow the Go Cluster
 * Autoscaler where a flag means the same thing. (Not named config.h: with -I engine that
 * name would shadow the config.h autoconf generates.) */
#ifndef NSC_NSC_CONFIG_H
#define NSC_NSC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <nodescaler/backend.h>

#include "log.h"

/** Exit status for a bad command line (unknown flag, bad value), as Go's flag package. */
#define CONFIG_EXIT_USAGE 2

/** Room for the "given on the command line" marks, one per flag of the table. */
#define CONFIG_MAX_FLAGS 256

enum config_output { CONFIG_OUTPUT_TEXT = 0, CONFIG_OUTPUT_JSON = 1 };

/** A list of strings from a repeatable flag; items and the array are owned. */
struct config_strings {
    char **items;
    size_t n;
};

/** One --nodes MIN:MAX:NAME. */
struct config_node_group_spec {
    int64_t min_size;
    int64_t max_size;
    char *name; /* owned */
};

/**
 * Every option, with its default after config_init(). Strings are owned by the struct
 * (config_free) and NULL when unset. Durations are in milliseconds (`_ms`) unless the name
 * says seconds (`_s`); sizes carry their unit (`_gib`). Fields marked "stored" are parsed
 * and validated but no code acts on them yet: config_warn_inactive() says so at start-up,
 * and --help marks them; a module that implements one flips its state in config.c.
 */
struct nsc_config {
    /* ---- nodescaler's own ---- */
    /** --backend NAME or path (alias --cloud-provider). NULL: none given. */
    char *backend;
    /** Repeated --backend-opt key=value, in command-line order. */
    struct nsc_option *backend_opts;
    size_t n_backend_opts;
    /** --once: run one loop and exit. */
    bool once;
    /** --dry-run: decide and print, never resize, evict, taint or write. */
    bool dry_run;
    /** --cluster-snapshot FILE: read the cluster from a recorded dump instead of the API. */
    char *cluster_snapshot;
    /** --kubernetes-version 1.NN: the cluster's version for the scheduling rules that
     * changed between versions (NULL: the API server's /version, or the newest rules). */
    char *kubernetes_version;
    /** --output text|json: format of the decision printed by --once. */
    enum config_output output;
    /** --kubeconfig FILE, --kube-context NAME (NULL: in-cluster or $KUBECONFIG). */
    char *kubeconfig;
    char *kube_context;
    /** --logging-format text|json. */
    enum log_format logging_format;
    /** --v N: klog verbosity; 4 and above turn on debug logs. */
    int64_t verbosity;
    /** --help, --version, --help-man were given. */
    bool show_help;
    bool show_version;
    bool show_help_man;

    /* ---- Cluster Autoscaler compatible: node groups and loop ---- */
    /** --cloud-config FILE (stored). */
    char *cloud_config;
    /** Repeated --nodes MIN:MAX:NAME: bounds that override the backend's, handed to it as
     * nodes=MIN:MAX:NAME options; NAME must be a group's name or id. */
    struct config_node_group_spec *nodes;
    size_t n_nodes;
    /** --node-group-auto-discovery (stored; no backend of ours discovers groups by tag). */
    struct config_strings node_group_auto_discovery;
    /** --scan-interval (10s). */
    int64_t scan_interval_ms;
    /** --frequent-loops-enabled (true). */
    bool frequent_loops_enabled;

    /* ---- scale-up ---- */
    /** --expander: comma-separated chain, validated names (least-waste). */
    char *expander;
    /** --expander-priority-config: file holding the priority expander's `priorities` text
     * (NULL: read the ConfigMap cluster-autoscaler-priority-expander of a live cluster). */
    char *expander_priority_config;
    /** --grpc-expander-url, --grpc-expander-cert (stored). */
    char *grpc_expander_url;
    char *grpc_expander_cert;
    /** --estimator: only "binpacking". */
    char *estimator;
    /** --max-nodes-total: 0 means no cap. */
    int64_t max_nodes_total;
    /** --cores-total MIN:MAX in cores (0:320000). */
    int64_t cores_total_min;
    int64_t cores_total_max;
    /** --memory-total MIN:MAX in GiB (0:6400000). */
    int64_t memory_total_min_gib;
    int64_t memory_total_max_gib;
    /** --max-nodes-per-scaleup (1000). */
    int64_t max_nodes_per_scaleup;
    /** --max-nodegroup-binpacking-duration (10s), --max-binpacking-time (5m). */
    int64_t max_nodegroup_binpacking_duration_ms;
    int64_t max_binpacking_time_ms;
    /** --fastpath-binpacking-enabled (false). */
    bool fastpath_binpacking_enabled;
    /** --balance-similar-node-groups (false) and its similarity knobs. */
    bool balance_similar_node_groups;
    struct config_strings balancing_ignore_labels;
    struct config_strings balancing_labels;
    double memory_difference_ratio;          /* 0.015 */
    double max_allocatable_difference_ratio; /* 0.05 */
    double max_free_difference_ratio;        /* 0.05 */
    /** --new-pod-scale-up-delay (0s): pods younger than this are not acted on. */
    int64_t new_pod_scale_up_delay_ms;
    /** --max-node-provision-time (15m), --max-node-startup-time (15m). */
    int64_t max_node_provision_time_ms;
    int64_t max_node_startup_time_ms;
    /** Back-off of failing groups: initial (5m), cap (30m), reset (3h). */
    int64_t initial_node_group_backoff_duration_ms;
    int64_t max_node_group_backoff_duration_ms;
    int64_t node_group_backoff_reset_timeout_ms;
    /** Cluster health gate: --max-total-unready-percentage (45), --ok-total-unready-count (3).
     */
    double max_total_unready_percentage;
    int64_t ok_total_unready_count;
    /** --scale-up-from-zero (true), --enforce-node-group-min-size (false). */
    bool scale_up_from_zero;
    bool enforce_node_group_min_size;
    /** --parallel-scale-up (false); --salvo-scale-up (false) with its budget (1m). */
    bool parallel_scale_up;
    bool salvo_scale_up;
    int64_t salvo_scale_up_budget_ms;
    /** --expendable-pods-priority-cutoff (-10). */
    int64_t expendable_pods_priority_cutoff;

    /* ---- scale-down ---- */
    bool scale_down_enabled;                     /* true */
    double scale_down_utilization_threshold;     /* 0.5, in [0, 1] */
    double scale_down_gpu_utilization_threshold; /* 0.5, in [0, 1] */
    int64_t scale_down_unneeded_time_ms;         /* 10m */
    bool scale_down_unready_enabled;             /* true */
    int64_t scale_down_unready_time_ms;          /* 20m */
    int64_t scale_down_delay_after_add_ms;       /* 10m */
    int64_t scale_down_delay_after_delete_ms;    /* 0s */
    int64_t scale_down_delay_after_failure_ms;   /* 3m */
    bool scale_down_delay_type_local;            /* false */
    int64_t scale_down_simulation_timeout_ms;    /* 30s */
    int64_t unremovable_node_recheck_timeout_ms; /* 5m */
    int64_t max_scale_down_parallelism;          /* 10 */
    int64_t max_drain_parallelism;               /* 1 */
    /** --max-graceful-termination-sec (600), in seconds. */
    int64_t max_graceful_termination_s;
    /** --drain-priority-config "prio:sec,..." (stored; excludes the flag above). */
    char *drain_priority_config;
    int64_t max_pod_eviction_time_ms;            /* 2m */
    bool skip_nodes_with_local_storage;          /* true */
    bool skip_nodes_with_system_pods;            /* true */
    bool skip_nodes_with_custom_controller_pods; /* true */
    /** --blocking-system-pod-distruption-timeout (sic, 1h). */
    int64_t blocking_system_pod_disruption_timeout_ms;
    int64_t min_replica_count;                  /* 0 */
    bool ignore_daemonsets_utilization;         /* false */
    bool ignore_mirror_pods_utilization;        /* false */
    bool daemonset_eviction_for_empty_nodes;    /* false */
    bool daemonset_eviction_for_occupied_nodes; /* true */
    bool cordon_node_before_terminating;        /* true */
    int64_t node_delete_delay_after_taint_ms;   /* 5s */
    int64_t node_deletion_delay_timeout_ms;     /* 2m */
    int64_t node_deletion_batcher_interval_ms;  /* 0s */
    int64_t max_bulk_soft_taint_count;          /* 10 */
    int64_t max_bulk_soft_taint_time_ms;        /* 3s */
    bool force_delete_unregistered_nodes;       /* false */
    bool force_delete_failed_nodes;             /* false */

    /* ---- templates and scheduling ---- */
    struct config_strings startup_taints;
    struct config_strings startup_taint_prefixes;
    struct config_strings status_taints;
    struct config_strings ignore_taints;    /* deprecated alias of startup taints */
    bool scale_from_unschedulable;          /* false */
    bool force_ds;                          /* false */
    int64_t node_info_cache_expire_time_ms; /* 87600h */
    int64_t predicate_parallelism;          /* 4 */
    char *scheduler_config_file;
    int64_t scheduler_verbosity; /* 0 */
    struct config_strings bypassed_scheduler_names;
    struct config_strings allowed_scheduler_names;

    /* ---- status, serving, Kubernetes client, leader election ---- */
    bool write_status_configmap;            /* true */
    char *status_config_map_name;           /* cluster-autoscaler-status */
    char *namespace_name;                   /* --namespace, kube-system */
    char *address;                          /* --address, :8085 */
    int64_t max_inactivity_ms;              /* 10m */
    int64_t max_failing_time_ms;            /* 15m */
    int64_t max_startup_time_ms;            /* 20m */
    int64_t explain_history_loops;          /* 20, 1..1000 */
    bool emit_per_nodegroup_metrics;        /* false */
    bool record_duplicated_events;          /* false */
    bool debugging_snapshot_enabled;        /* false */
    bool profiling;                         /* false */
    char *kubernetes;                       /* --kubernetes: API server URL override */
    char *kube_api_content_type;            /* application/vnd.kubernetes.protobuf */
    double kube_client_qps;                 /* 5 */
    int64_t kube_client_burst;              /* 10 */
    char *user_agent;                       /* cluster-autoscaler */
    bool leader_elect;                      /* true */
    int64_t leader_elect_lease_duration_ms; /* 15s */
    int64_t leader_elect_renew_deadline_ms; /* 10s */
    int64_t leader_elect_retry_period_ms;   /* 2s */
    char *leader_elect_resource_lock;       /* leases */
    char *leader_elect_resource_name;       /* cluster-autoscaler */
    char *stderrthreshold;                  /* klog compatibility, INFO */
    int64_t kube_api_connect_timeout_ms;    /* 5s */
    int64_t kube_api_request_timeout_ms;    /* 30s */
    int64_t kube_api_stall_timeout_ms;      /* 30s */
    int64_t kube_api_slow_call_ms;          /* 5s */

    /* Accepted for compatibility with the Go autoscaler's manifests; nothing acts on them. */
    char *cluster_name;
    bool logtostderr, alsologtostderr, add_dir_header, one_output, skip_headers,
        skip_log_headers;
    char *log_backtrace_at, *log_dir, *log_file, *vmodule;
    int64_t log_file_max_size_mb;
    int64_t log_flush_frequency_ms;
    char *log_json_info_buffer_size, *log_text_info_buffer_size;
    bool log_json_split_stream, log_text_split_stream;
    char *feature_gates;
    bool async_node_groups, enable_proactive_scaleup, enable_provisioning_requests;
    int64_t pod_injection_limit;
    bool dynamic_node_delete_delay_after_taint_enabled;
    double scale_down_candidates_pool_ratio;
    int64_t scale_down_candidates_pool_min_count, scale_down_non_empty_candidates_count;
    int64_t max_empty_bulk_delete;
    bool parallel_drain;
    char *leader_elect_resource_namespace;
    bool node_autoprovisioning_enabled;
    int64_t max_autoprovisioned_node_group_count;
    struct config_strings gpu_total;
    bool aws_use_static_instance_list, clusterapi_cloud_config_authoritative, regional;
    int64_t gce_concurrent_refreshes, gce_mig_instances_min_refresh_wait_time_ms;
    bool gce_expander_ephemeral_storage_support, bulk_mig_instances_listing_enabled;
    char *cloud_provider_gce_lb_src_cidrs, *cloud_provider_gce_l7lb_src_cidrs;

    /** Private to config.c: which flags the command line gave. */
    unsigned char given[CONFIG_MAX_FLAGS];
};

/**
 * Set every field to its default. Returns 0 or NSC_ERR_NOMEM; config_free() releases
 * what it allocated either way.
 */
int config_init(struct nsc_config *cfg);

/**
 * Parse argv[1..argc-1] over the defaults of config_init(), then check the values
 * together (ranges, exclusive flags). On a bad command line returns NSC_ERR_INVALID and
 * writes one line into err naming the flag and the value, for exit status
 * CONFIG_EXIT_USAGE. NSC_ERR_NOMEM on allocation failure. argv is borrowed.
 */
int config_parse(struct nsc_config *cfg, int argc, char *const *argv, char *err,
                 size_t err_len);

/** Free every string and list of cfg, leaving it zeroed. NULL accepted. */
void config_free(struct nsc_config *cfg);

/** Write --help: usage and the table of flags with defaults, marking stored-only ones. */
void config_usage(FILE *out);

/** Write the manual page nodescaler(8) in roff, its OPTIONS built from the same table. */
void config_man(FILE *out);

/**
 * Log a warning for every flag given on the command line whose feature does not exist
 * yet, so that nothing silently pretends to act on it.
 */
void config_warn_inactive(const struct nsc_config *cfg);

/**
 * Parse a Go duration ("300ms", "1.5h", "1m30s", "0") into milliseconds, truncating
 * below a millisecond. Returns 0, or NSC_ERR_INVALID for bad syntax or overflow.
 */
int config_parse_duration_ms(const char *text, int64_t *out_ms);

/** Parse a Go bool (1, t, T, TRUE, true, True and the same for false). 0 or NSC_ERR_INVALID. */
int config_parse_bool(const char *text, bool *out);

/** True when the flag (long name, without dashes) was given on the command line. */
bool config_given(const struct nsc_config *cfg, const char *flag);

/** True when the --expander chain names the expander `name` ("priority"). */
bool config_expander_has(const struct nsc_config *cfg, const char *name);

#endif
