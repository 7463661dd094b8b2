/* Command-line flags: one table gives each flag its type, default, bounds, help and whether
 * anything acts on it yet; the parser, the defaults and --help all read that table. */
#include "config.h"

#include "nsc_config.h"
#include "model/model.h"

#include "serve/serve.h"

#include "version.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum config_type {
    CT_BOOL,
    CT_INT,
    CT_FLOAT,
    CT_DURATION,
    CT_STRING,
    CT_STRINGS,
    CT_RANGE,
    CT_NODES,
    CT_BACKEND_OPT,
    CT_OUTPUT,
    CT_LOG_FORMAT,
    CT_EXPANDER
};

/* ACTIVE: code acts on the flag. STORED: parsed, validated and kept for the modules that
 * will act on it; --help and config_warn_inactive() say so. */
enum config_state { CS_ACTIVE, CS_STORED };

struct config_flag {
    const char *name;
    enum config_type type;
    size_t off;      /* the field */
    size_t off2;     /* CT_RANGE: the max field; CT_NODES, CT_BACKEND_OPT: the count */
    const char *def; /* default as command-line text; NULL: none */
    int64_t lo, hi;  /* bounds: CT_INT as is, CT_DURATION in ms, CT_FLOAT scaled by 1 */
    enum config_state state;
    const char *help;
};

#define F(field) offsetof(struct nsc_config, field)
#define NOLIM INT64_MIN, INT64_MAX
#define NONNEG 0, INT64_MAX
#define POS 1, INT64_MAX
/* Bounds of the numbers the planner multiplies: node counts fit its int32 sizes with room to
 * add, cores x 1000 (millicores) and GiB x 2^30 (bytes) fit int64. Kubernetes' own limits
 * (5,000 nodes, int32 priorities and replica counts) are well inside. */
#define NODES_MAX 1000000
#define CORES_MAX 1000000000
#define GIB_MAX 1000000000
/* Health limits: under a second would fail a probe between two ordinary loops; past a week
 * a stuck loop would go unnoticed for good. */
#define HEALTH_LIMITS 1000, (7 * 24 * 3600 * 1000LL)

/* Defaults are those of cluster-autoscaler at f7bb0c (config/flags/flags.go). */
static const struct config_flag config_flags[] = {
    /* nodescaler's own */
    {"backend", CT_STRING, F(backend), 0, NULL, NOLIM, CS_ACTIVE,
     "backend NAME (loaded from the backend directory) or path to a backend .so"},
    {"cloud-provider", CT_STRING, F(backend), 0, NULL, NOLIM, CS_ACTIVE,
     "same as --backend (the Go autoscaler's name for it)"},
    {"backend-opt", CT_BACKEND_OPT, F(backend_opts), F(n_backend_opts), NULL, NOLIM, CS_ACTIVE,
     "KEY=VALUE option for the backend; repeatable"},
    {"once", CT_BOOL, F(once), 0, "false", NOLIM, CS_ACTIVE, "run one loop, print it, exit"},
    {"dry-run", CT_BOOL, F(dry_run), 0, "false", NOLIM, CS_ACTIVE,
     "decide and print, never change the cloud or the cluster"},
    {"cluster-snapshot", CT_STRING, F(cluster_snapshot), 0, NULL, NOLIM, CS_ACTIVE,
     "read the cluster from this recorded dump instead of the API server"},
    {"kubernetes-version", CT_STRING, F(kubernetes_version), 0, NULL, NOLIM, CS_ACTIVE,
     "the cluster's version (1.NN) for scheduling rules that changed between versions "
     "(default: the API server's /version; with --cluster-snapshot the newest rules)"},
    {"output", CT_OUTPUT, F(output), 0, "text", NOLIM, CS_ACTIVE,
     "format of what --once prints: text or json"},
    {"kubeconfig", CT_STRING, F(kubeconfig), 0, NULL, NOLIM, CS_ACTIVE,
     "kubeconfig file (default: in-cluster, then $KUBECONFIG)"},
    {"kube-context", CT_STRING, F(kube_context), 0, NULL, NOLIM, CS_ACTIVE,
     "context of the kubeconfig to use"},
    {"logging-format", CT_LOG_FORMAT, F(logging_format), 0, "text", NOLIM, CS_ACTIVE,
     "log format: text (klog) or json"},
    {"v", CT_INT, F(verbosity), 0, "0", 0, 10, CS_ACTIVE,
     "log verbosity; 4 or more adds debug logs"},
    {"help", CT_BOOL, F(show_help), 0, "false", NOLIM, CS_ACTIVE, "print this help and exit"},
    {"version", CT_BOOL, F(show_version), 0, "false", NOLIM, CS_ACTIVE,
     "print the version and exit"},
    {"help-man", CT_BOOL, F(show_help_man), 0, "false", NOLIM, CS_ACTIVE,
     "print the manual page (roff) and exit"},

    /* node groups and the loop */
    {"cloud-config", CT_STRING, F(cloud_config), 0, NULL, NOLIM, CS_STORED,
     "provider configuration file"},
    {"nodes", CT_NODES, F(nodes), F(n_nodes), NULL, 0, NODES_MAX, CS_ACTIVE,
     "MIN:MAX:NAME bounds of a node group (its name or id); repeatable"},
    {"node-group-auto-discovery", CT_STRINGS, F(node_group_auto_discovery), 0, NULL, NOLIM,
     CS_STORED, "node group discovery spec (no backend of nodescaler discovers by tag)"},
    {"scan-interval", CT_DURATION, F(scan_interval_ms), 0, "10s", POS, CS_ACTIVE,
     "how often the cluster is re-evaluated"},
    {"frequent-loops-enabled", CT_BOOL, F(frequent_loops_enabled), 0, "true", NOLIM, CS_ACTIVE,
     "run the next loop at once after a productive one"},

    /* scale-up */
    {"expander", CT_EXPANDER, F(expander), 0, "least-waste", NOLIM, CS_ACTIVE,
     "chain of random, most-pods, least-waste, least-nodes, priority"},
    {"expander-priority-config", CT_STRING, F(expander_priority_config), 0, NULL, NOLIM,
     CS_ACTIVE,
     "FILE of the priority expander's priorities (default: ConfigMap "
     "cluster-autoscaler-priority-expander in --namespace)"},
    {"grpc-expander-url", CT_STRING, F(grpc_expander_url), 0, NULL, NOLIM, CS_STORED,
     "URL of the gRPC expander"},
    {"grpc-expander-cert", CT_STRING, F(grpc_expander_cert), 0, NULL, NOLIM, CS_STORED,
     "CA certificate of the gRPC expander"},
    {"estimator", CT_STRING, F(estimator), 0, "binpacking", NOLIM, CS_STORED,
     "node count estimator; only binpacking"},
    {"max-nodes-total", CT_INT, F(max_nodes_total), 0, "0", 0, NODES_MAX, CS_ACTIVE,
     "cap on the number of nodes in the cluster; 0 for none"},
    {"cores-total", CT_RANGE, F(cores_total_min), F(cores_total_max), "0:320000", 0, CORES_MAX,
     CS_ACTIVE, "MIN:MAX cores in the cluster"},
    {"memory-total", CT_RANGE, F(memory_total_min_gib), F(memory_total_max_gib), "0:6400000", 0,
     GIB_MAX, CS_ACTIVE, "MIN:MAX GiB of memory in the cluster"},
    {"max-nodes-per-scaleup", CT_INT, F(max_nodes_per_scaleup), 0, "1000", 1, NODES_MAX,
     CS_ACTIVE, "nodes one estimation may add to a group"},
    {"max-nodegroup-binpacking-duration", CT_DURATION, F(max_nodegroup_binpacking_duration_ms),
     0, "10s", NONNEG, CS_STORED, "time limit of the estimation for one group"},
    {"max-binpacking-time", CT_DURATION, F(max_binpacking_time_ms), 0, "5m", NONNEG, CS_STORED,
     "time limit of the whole scale-up evaluation"},
    {"fastpath-binpacking-enabled", CT_BOOL, F(fastpath_binpacking_enabled), 0, "false", NOLIM,
     CS_STORED, "arithmetic estimation for the last group"},
    {"balance-similar-node-groups", CT_BOOL, F(balance_similar_node_groups), 0, "false", NOLIM,
     CS_ACTIVE, "spread a scale-up over similar groups"},
    {"balancing-ignore-label", CT_STRINGS, F(balancing_ignore_labels), 0, NULL, NOLIM,
     CS_ACTIVE, "label ignored when comparing groups; repeatable"},
    {"balancing-label", CT_STRINGS, F(balancing_labels), 0, NULL, NOLIM, CS_STORED,
     "compare groups only by these labels; repeatable"},
    {"memory-difference-ratio", CT_FLOAT, F(memory_difference_ratio), 0, "0.015", 0, 1,
     CS_ACTIVE, "memory difference still similar"},
    {"max-allocatable-difference-ratio", CT_FLOAT, F(max_allocatable_difference_ratio), 0,
     "0.05", 0, 1, CS_ACTIVE, "allocatable difference still similar"},
    {"max-free-difference-ratio", CT_FLOAT, F(max_free_difference_ratio), 0, "0.05", 0, 1,
     CS_ACTIVE, "free resources difference still similar"},
    {"new-pod-scale-up-delay", CT_DURATION, F(new_pod_scale_up_delay_ms), 0, "0s", NONNEG,
     CS_ACTIVE, "pods younger than this (or their pod-scale-up-delay annotation) wait"},
    {"max-node-provision-time", CT_DURATION, F(max_node_provision_time_ms), 0, "15m", POS,
     CS_ACTIVE, "a node not registered after this is a failed scale-up"},
    {"max-node-startup-time", CT_DURATION, F(max_node_startup_time_ms), 0, "15m", POS,
     CS_ACTIVE, "a registered node not ready after this is unready"},
    {"initial-node-group-backoff-duration", CT_DURATION,
     F(initial_node_group_backoff_duration_ms), 0, "5m", POS, CS_ACTIVE,
     "first back-off of a group whose scale-up failed"},
    {"max-node-group-backoff-duration", CT_DURATION, F(max_node_group_backoff_duration_ms), 0,
     "30m", POS, CS_ACTIVE, "longest back-off of a group"},
    {"node-group-backoff-reset-timeout", CT_DURATION, F(node_group_backoff_reset_timeout_ms), 0,
     "3h", POS, CS_ACTIVE, "quiet time after which a group's back-off resets"},
    {"max-total-unready-percentage", CT_FLOAT, F(max_total_unready_percentage), 0, "45", 0, 100,
     CS_ACTIVE, "above this share of unready nodes the autoscaler stops"},
    {"ok-total-unready-count", CT_INT, F(ok_total_unready_count), 0, "3", 0, NODES_MAX,
     CS_ACTIVE, "unready nodes always tolerated"},
    {"scale-up-from-zero", CT_BOOL, F(scale_up_from_zero), 0, "true", NOLIM, CS_STORED,
     "act even with no ready node"},
    {"enforce-node-group-min-size", CT_BOOL, F(enforce_node_group_min_size), 0, "false", NOLIM,
     CS_STORED, "grow groups to their minimum without pending pods"},
    {"parallel-scale-up", CT_BOOL, F(parallel_scale_up), 0, "false", NOLIM, CS_STORED,
     "resize several groups concurrently"},
    {"salvo-scale-up", CT_BOOL, F(salvo_scale_up), 0, "false", NOLIM, CS_STORED,
     "several scale-ups per loop"},
    {"salvo-scale-up-budget", CT_DURATION, F(salvo_scale_up_budget_ms), 0, "1m", NONNEG,
     CS_STORED, "time budget of a salvo"},
    {"expendable-pods-priority-cutoff", CT_INT, F(expendable_pods_priority_cutoff), 0, "-10",
     INT32_MIN, INT32_MAX, CS_ACTIVE, "pods of lower priority never cause a scale-up"},

    /* scale-down */
    {"scale-down-enabled", CT_BOOL, F(scale_down_enabled), 0, "true", NOLIM, CS_ACTIVE,
     "remove unneeded nodes"},
    {"scale-down-utilization-threshold", CT_FLOAT, F(scale_down_utilization_threshold), 0,
     "0.5", 0, 1, CS_ACTIVE, "below this requested/allocatable a node may go"},
    {"scale-down-gpu-utilization-threshold", CT_FLOAT, F(scale_down_gpu_utilization_threshold),
     0, "0.5", 0, 1, CS_ACTIVE, "the same for GPU nodes"},
    {"scale-down-unneeded-time", CT_DURATION, F(scale_down_unneeded_time_ms), 0, "10m", NONNEG,
     CS_ACTIVE, "how long a node stays unneeded before it goes"},
    {"scale-down-unready-enabled", CT_BOOL, F(scale_down_unready_enabled), 0, "true", NOLIM,
     CS_ACTIVE, "remove unready nodes too"},
    {"scale-down-unready-time", CT_DURATION, F(scale_down_unready_time_ms), 0, "20m", NONNEG,
     CS_ACTIVE, "how long an unready node stays unneeded before it goes"},
    {"scale-down-delay-after-add", CT_DURATION, F(scale_down_delay_after_add_ms), 0, "10m",
     NONNEG, CS_ACTIVE, "no scale-down this long after a scale-up"},
    {"scale-down-delay-after-delete", CT_DURATION, F(scale_down_delay_after_delete_ms), 0, "0s",
     NONNEG, CS_ACTIVE, "no scale-down this long after a deletion"},
    {"scale-down-delay-after-failure", CT_DURATION, F(scale_down_delay_after_failure_ms), 0,
     "3m", NONNEG, CS_ACTIVE, "no scale-down this long after a failed one"},
    {"scale-down-delay-type-local", CT_BOOL, F(scale_down_delay_type_local), 0, "false", NOLIM,
     CS_STORED, "apply the delays per group"},
    {"scale-down-simulation-timeout", CT_DURATION, F(scale_down_simulation_timeout_ms), 0,
     "30s", POS, CS_STORED, "time limit of the removal simulation"},
    {"unremovable-node-recheck-timeout", CT_DURATION, F(unremovable_node_recheck_timeout_ms), 0,
     "5m", NONNEG, CS_STORED, "wait before re-checking an unremovable node"},
    {"max-scale-down-parallelism", CT_INT, F(max_scale_down_parallelism), 0, "10", 1, 10000,
     CS_ACTIVE, "node deletions in flight"},
    {"max-drain-parallelism", CT_INT, F(max_drain_parallelism), 0, "1", 1, 10000, CS_ACTIVE,
     "drained node deletions in flight"},
    {"max-graceful-termination-sec", CT_INT, F(max_graceful_termination_s), 0, "600", 0,
     INT32_MAX, CS_ACTIVE, "longest grace period given to an evicted pod, seconds"},
    {"drain-priority-config", CT_STRING, F(drain_priority_config), 0, NULL, NOLIM, CS_STORED,
     "PRIORITY:SECONDS,... eviction bands (excludes --max-graceful-termination-sec)"},
    {"max-pod-eviction-time", CT_DURATION, F(max_pod_eviction_time_ms), 0, "2m", POS, CS_ACTIVE,
     "how long evictions of a node's pods are retried"},
    {"skip-nodes-with-local-storage", CT_BOOL, F(skip_nodes_with_local_storage), 0, "true",
     NOLIM, CS_ACTIVE, "keep nodes running pods with emptyDir or hostPath"},
    {"skip-nodes-with-system-pods", CT_BOOL, F(skip_nodes_with_system_pods), 0, "true", NOLIM,
     CS_ACTIVE, "keep nodes running kube-system pods without a PDB"},
    {"skip-nodes-with-custom-controller-pods", CT_BOOL,
     F(skip_nodes_with_custom_controller_pods), 0, "true", NOLIM, CS_ACTIVE,
     "keep nodes running pods of unknown controllers"},
    {"blocking-system-pod-distruption-timeout", CT_DURATION,
     F(blocking_system_pod_disruption_timeout_ms), 0, "1h", NONNEG, CS_STORED,
     "after this, system pods stop blocking scale-down (spelling as in the Go flag)"},
    {"min-replica-count", CT_INT, F(min_replica_count), 0, "0", 0, INT32_MAX, CS_STORED,
     "keep nodes with pods of controllers smaller than this"},
    {"ignore-daemonsets-utilization", CT_BOOL, F(ignore_daemonsets_utilization), 0, "false",
     NOLIM, CS_ACTIVE, "leave DaemonSet pods out of utilization"},
    {"ignore-mirror-pods-utilization", CT_BOOL, F(ignore_mirror_pods_utilization), 0, "false",
     NOLIM, CS_ACTIVE, "leave mirror pods out of utilization"},
    {"daemonset-eviction-for-empty-nodes", CT_BOOL, F(daemonset_eviction_for_empty_nodes), 0,
     "false", NOLIM, CS_ACTIVE, "evict DaemonSet pods from empty nodes"},
    {"daemonset-eviction-for-occupied-nodes", CT_BOOL, F(daemonset_eviction_for_occupied_nodes),
     0, "true", NOLIM, CS_ACTIVE, "evict DaemonSet pods from occupied nodes"},
    {"cordon-node-before-terminating", CT_BOOL, F(cordon_node_before_terminating), 0, "true",
     NOLIM, CS_ACTIVE, "cordon a node before deleting it"},
    {"node-delete-delay-after-taint", CT_DURATION, F(node_delete_delay_after_taint_ms), 0, "5s",
     NONNEG, CS_ACTIVE, "wait between tainting and deleting a node"},
    {"node-deletion-delay-timeout", CT_DURATION, F(node_deletion_delay_timeout_ms), 0, "2m",
     NONNEG, CS_STORED, "longest wait for delay-deletion annotations"},
    {"node-deletion-batcher-interval", CT_DURATION, F(node_deletion_batcher_interval_ms), 0,
     "0s", NONNEG, CS_STORED, "batch node deletions over this interval"},
    {"max-bulk-soft-taint-count", CT_INT, F(max_bulk_soft_taint_count), 0, "10", 0, NODES_MAX,
     CS_ACTIVE, "candidate (PreferNoSchedule) taints per loop"},
    {"max-bulk-soft-taint-time", CT_DURATION, F(max_bulk_soft_taint_time_ms), 0, "3s", NONNEG,
     CS_ACTIVE, "time spent on candidate taints per loop"},
    {"force-delete-unregistered-nodes", CT_BOOL, F(force_delete_unregistered_nodes), 0, "false",
     NOLIM, CS_STORED, "delete long-unregistered instances below the group minimum"},
    {"force-delete-failed-nodes", CT_BOOL, F(force_delete_failed_nodes), 0, "false", NOLIM,
     CS_STORED, "delete failed instances below the group minimum"},

    /* templates and scheduling */
    {"startup-taint", CT_STRINGS, F(startup_taints), 0, NULL, NOLIM, CS_ACTIVE,
     "taint key removed from templates (present only while a node starts); repeatable"},
    {"startup-taint-prefix", CT_STRINGS, F(startup_taint_prefixes), 0, NULL, NOLIM, CS_ACTIVE,
     "taint key prefix treated as a startup taint; repeatable"},
    {"status-taint", CT_STRINGS, F(status_taints), 0, NULL, NOLIM, CS_STORED,
     "taint key that reports status and is ignored; repeatable"},
    {"ignore-taint", CT_STRINGS, F(ignore_taints), 0, NULL, NOLIM, CS_ACTIVE,
     "deprecated name of --startup-taint; repeatable"},
    {"scale-from-unschedulable", CT_BOOL, F(scale_from_unschedulable), 0, "false", NOLIM,
     CS_STORED, "ignore spec.unschedulable of templates"},
    {"force-ds", CT_BOOL, F(force_ds), 0, "false", NOLIM, CS_STORED,
     "add every pending DaemonSet pod to templates"},
    {"node-info-cache-expire-time", CT_DURATION, F(node_info_cache_expire_time_ms), 0, "87600h",
     NONNEG, CS_STORED, "lifetime of cached templates"},
    {"predicate-parallelism", CT_INT, F(predicate_parallelism), 0, "4", 1, 1024, CS_STORED,
     "threads evaluating scheduler filters"},
    {"scheduler-config-file", CT_STRING, F(scheduler_config_file), 0, NULL, NOLIM, CS_STORED,
     "KubeSchedulerConfiguration file"},
    {"scheduler-verbosity", CT_INT, F(scheduler_verbosity), 0, "0", 0, 10, CS_STORED,
     "log verbosity of the scheduler simulation"},
    {"bypassed-scheduler-names", CT_STRINGS, F(bypassed_scheduler_names), 0, NULL, NOLIM,
     CS_STORED, "schedulers whose pods count as unschedulable at once"},
    {"allowed-scheduler-names", CT_STRINGS, F(allowed_scheduler_names), 0, NULL, NOLIM,
     CS_STORED, "schedulers whose pods are considered"},

    /* status, serving, Kubernetes client, leader election */
    {"write-status-configmap", CT_BOOL, F(write_status_configmap), 0, "true", NOLIM, CS_ACTIVE,
     "write the status ConfigMap"},
    {"status-config-map-name", CT_STRING, F(status_config_map_name), 0,
     "cluster-autoscaler-status", NOLIM, CS_ACTIVE, "name of the status ConfigMap"},
    {"namespace", CT_STRING, F(namespace_name), 0, "kube-system", NOLIM, CS_ACTIVE,
     "namespace of the status ConfigMap, the lease and the priority expander's ConfigMap"},
    {"address", CT_STRING, F(address), 0, ":8085", NOLIM, CS_ACTIVE,
     "listen address of /metrics, /health-check and /explain: :PORT, IPv4:PORT or "
     "[IPv6]:PORT (port 0: a free one)"},
    {"max-inactivity", CT_DURATION, F(max_inactivity_ms), 0, "10m", HEALTH_LIMITS, CS_ACTIVE,
     "/health-check fails after this long without a loop starting"},
    {"max-failing-time", CT_DURATION, F(max_failing_time_ms), 0, "15m", HEALTH_LIMITS,
     CS_ACTIVE, "/health-check fails after this long without a successful loop"},
    {"max-startup-time", CT_DURATION, F(max_startup_time_ms), 0, "20m", HEALTH_LIMITS,
     CS_ACTIVE,
     "/health-check fails if the first successful loop takes longer (at least the two "
     "above)"},
    {"explain-history-loops", CT_INT, F(explain_history_loops), 0, "20", 1, 1000, CS_ACTIVE,
     "loops whose decisions /explain keeps"},
    {"emit-per-nodegroup-metrics", CT_BOOL, F(emit_per_nodegroup_metrics), 0, "false", NOLIM,
     CS_STORED, "export metrics per node group"},
    {"record-duplicated-events", CT_BOOL, F(record_duplicated_events), 0, "false", NOLIM,
     CS_ACTIVE, "do not deduplicate events"},
    {"debugging-snapshot-enabled", CT_BOOL, F(debugging_snapshot_enabled), 0, "false", NOLIM,
     CS_STORED, "serve debugging snapshots"},
    {"profiling", CT_BOOL, F(profiling), 0, "false", NOLIM, CS_STORED, "serve profiling data"},
    {"kubernetes", CT_STRING, F(kubernetes), 0, NULL, NOLIM, CS_STORED,
     "API server URL, overriding the kubeconfig's"},
    {"kube-api-content-type", CT_STRING, F(kube_api_content_type), 0,
     "application/vnd.kubernetes.protobuf", NOLIM, CS_STORED,
     "content type asked of the API server (nodescaler speaks JSON)"},
    {"kube-client-qps", CT_FLOAT, F(kube_client_qps), 0, "5", 0, 100000, CS_ACTIVE,
     "API requests per second"},
    {"kube-client-burst", CT_INT, F(kube_client_burst), 0, "10", 1, 100000, CS_ACTIVE,
     "API request burst"},
    {"user-agent", CT_STRING, F(user_agent), 0, "cluster-autoscaler", NOLIM, CS_STORED,
     "User-Agent towards the API server"},
    {"leader-elect", CT_BOOL, F(leader_elect), 0, "true", NOLIM, CS_ACTIVE,
     "run only while holding the lease"},
    {"leader-elect-lease-duration", CT_DURATION, F(leader_elect_lease_duration_ms), 0, "15s",
     POS, CS_ACTIVE, "lease duration"},
    {"leader-elect-renew-deadline", CT_DURATION, F(leader_elect_renew_deadline_ms), 0, "10s",
     POS, CS_ACTIVE, "renew deadline of the leader"},
    {"leader-elect-retry-period", CT_DURATION, F(leader_elect_retry_period_ms), 0, "2s", POS,
     CS_ACTIVE, "wait between lease attempts"},
    {"leader-elect-resource-lock", CT_STRING, F(leader_elect_resource_lock), 0, "leases", NOLIM,
     CS_ACTIVE, "lock kind; only leases"},
    {"leader-elect-resource-name", CT_STRING, F(leader_elect_resource_name), 0,
     "cluster-autoscaler", NOLIM, CS_ACTIVE, "name of the lease"},
    {"stderrthreshold", CT_STRING, F(stderrthreshold), 0, "INFO", NOLIM, CS_STORED,
     "klog compatibility; every log goes to stderr"},

    /* Kubernetes client deadlines (nodescaler's own): bounded so that a hung API server
     * stalls a loop for minutes at worst, never for hours. */
    {"kube-api-connect-timeout", CT_DURATION, F(kube_api_connect_timeout_ms), 0, "5s", 100,
     600000, CS_ACTIVE, "deadline of the TCP and TLS set-up with the API server"},
    {"kube-api-request-timeout", CT_DURATION, F(kube_api_request_timeout_ms), 0, "30s", 1000,
     3600000, CS_ACTIVE, "deadline of one API request other than a watch"},
    {"kube-api-stall-timeout", CT_DURATION, F(kube_api_stall_timeout_ms), 0, "30s", 1000,
     600000, CS_ACTIVE, "an API response that sends nothing for this long fails"},
    {"kube-api-slow-call-time", CT_DURATION, F(kube_api_slow_call_ms), 0, "5s", 1, 3600000,
     CS_ACTIVE, "an API request slower than this logs a warning"},

    /* Go Cluster Autoscaler 1.26 to 1.31 flags of other clouds, of klog and of removed
     * features: accepted so that existing manifests start. klog's underscore names match
     * through the '_' = '-' rule of config_find. */
    {"cluster-name", CT_STRING, F(cluster_name), 0, NULL, NOLIM, CS_STORED,
     "autoscaled cluster name, for clouds that tag by it"},
    {"logtostderr", CT_BOOL, F(logtostderr), 0, "true", NOLIM, CS_STORED,
     "klog compatibility; every log goes to stderr"},
    {"alsologtostderr", CT_BOOL, F(alsologtostderr), 0, "false", NOLIM, CS_STORED,
     "klog compatibility; every log goes to stderr"},
    {"add-dir-header", CT_BOOL, F(add_dir_header), 0, "false", NOLIM, CS_STORED,
     "klog compatibility (also --add_dir_header)"},
    {"log-backtrace-at", CT_STRING, F(log_backtrace_at), 0, ":0", NOLIM, CS_STORED,
     "klog compatibility (also --log_backtrace_at)"},
    {"log-dir", CT_STRING, F(log_dir), 0, NULL, NOLIM, CS_STORED,
     "klog compatibility; logs are not written to files (also --log_dir)"},
    {"log-file", CT_STRING, F(log_file), 0, NULL, NOLIM, CS_STORED,
     "klog compatibility; logs are not written to files (also --log_file)"},
    {"log-file-max-size", CT_INT, F(log_file_max_size_mb), 0, "1800", 0, 1000000000, CS_STORED,
     "klog compatibility, MB (also --log_file_max_size)"},
    {"one-output", CT_BOOL, F(one_output), 0, "false", NOLIM, CS_STORED,
     "klog compatibility (also --one_output)"},
    {"skip-headers", CT_BOOL, F(skip_headers), 0, "false", NOLIM, CS_STORED,
     "klog compatibility (also --skip_headers)"},
    {"skip-log-headers", CT_BOOL, F(skip_log_headers), 0, "false", NOLIM, CS_STORED,
     "klog compatibility (also --skip_log_headers)"},
    {"vmodule", CT_STRING, F(vmodule), 0, NULL, NOLIM, CS_STORED,
     "per-file log verbosity, pattern=N,..."},
    {"log-flush-frequency", CT_DURATION, F(log_flush_frequency_ms), 0, "5s", POS, CS_STORED,
     "interval between log flushes"},
    {"log-json-info-buffer-size", CT_STRING, F(log_json_info_buffer_size), 0, "0", NOLIM,
     CS_STORED, "JSON log buffer of info messages (a quantity)"},
    {"log-json-split-stream", CT_BOOL, F(log_json_split_stream), 0, "false", NOLIM, CS_STORED,
     "JSON logs: errors to stderr, info to stdout"},
    {"log-text-info-buffer-size", CT_STRING, F(log_text_info_buffer_size), 0, "0", NOLIM,
     CS_STORED, "text log buffer of info messages (a quantity)"},
    {"log-text-split-stream", CT_BOOL, F(log_text_split_stream), 0, "false", NOLIM, CS_STORED,
     "text logs: errors to stderr, info to stdout"},
    {"feature-gates", CT_STRING, F(feature_gates), 0, NULL, NOLIM, CS_STORED,
     "KEY=BOOL,... Kubernetes feature gates"},
    {"async-node-groups", CT_BOOL, F(async_node_groups), 0, "false", NOLIM, CS_STORED,
     "create node groups asynchronously"},
    {"enable-proactive-scaleup", CT_BOOL, F(enable_proactive_scaleup), 0, "false", NOLIM,
     CS_STORED, "scale up for pods their controllers are about to create"},
    {"pod-injection-limit", CT_INT, F(pod_injection_limit), 0, "5000", 0, 10000000, CS_STORED,
     "most fake pods added by the proactive scale-up"},
    {"enable-provisioning-requests", CT_BOOL, F(enable_provisioning_requests), 0, "false",
     NOLIM, CS_STORED, "act on ProvisioningRequest objects"},
    {"dynamic-node-delete-delay-after-taint-enabled", CT_BOOL,
     F(dynamic_node_delete_delay_after_taint_enabled), 0, "false", NOLIM, CS_STORED,
     "derive the delay after tainting from observed latency"},
    {"scale-down-candidates-pool-ratio", CT_FLOAT, F(scale_down_candidates_pool_ratio), 0,
     "0.1", 0, 1, CS_STORED, "share of nodes re-checked as extra removal candidates"},
    {"scale-down-candidates-pool-min-count", CT_INT, F(scale_down_candidates_pool_min_count), 0,
     "50", 0, NODES_MAX, CS_STORED, "fewest nodes re-checked as extra removal candidates"},
    {"scale-down-non-empty-candidates-count", CT_INT, F(scale_down_non_empty_candidates_count),
     0, "30", 0, NODES_MAX, CS_STORED, "most non-empty nodes considered per loop"},
    {"max-empty-bulk-delete", CT_INT, F(max_empty_bulk_delete), 0, "10", 0, NODES_MAX,
     CS_STORED, "empty nodes deleted at once (removed in the Go autoscaler 1.33)"},
    {"parallel-drain", CT_BOOL, F(parallel_drain), 0, "true", NOLIM, CS_STORED,
     "drain several nodes at once (removed in the Go autoscaler 1.32)"},
    {"leader-elect-resource-namespace", CT_STRING, F(leader_elect_resource_namespace), 0, NULL,
     NOLIM, CS_STORED, "unused in the Go autoscaler too: the lease lives in --namespace"},
    {"node-autoprovisioning-enabled", CT_BOOL, F(node_autoprovisioning_enabled), 0, "false",
     NOLIM, CS_STORED, "GKE node auto-provisioning"},
    {"max-autoprovisioned-node-group-count", CT_INT, F(max_autoprovisioned_node_group_count), 0,
     "15", 0, NODES_MAX, CS_STORED, "GKE node auto-provisioning: most groups"},
    {"gpu-total", CT_STRINGS, F(gpu_total), 0, NULL, NOLIM, CS_STORED,
     "GKE: TYPE:MIN:MAX GPUs in the cluster; repeatable"},
    {"aws-use-static-instance-list", CT_BOOL, F(aws_use_static_instance_list), 0, "false",
     NOLIM, CS_STORED, "AWS only"},
    {"clusterapi-cloud-config-authoritative", CT_BOOL, F(clusterapi_cloud_config_authoritative),
     0, "false", NOLIM, CS_STORED, "Cluster API only"},
    {"regional", CT_BOOL, F(regional), 0, "false", NOLIM, CS_STORED, "GCE only"},
    {"gce-concurrent-refreshes", CT_INT, F(gce_concurrent_refreshes), 0, "1", 1, 10000,
     CS_STORED, "GCE only"},
    {"gce-mig-instances-min-refresh-wait-time", CT_DURATION,
     F(gce_mig_instances_min_refresh_wait_time_ms), 0, "5s", NONNEG, CS_STORED, "GCE only"},
    {"gce-expander-ephemeral-storage-support", CT_BOOL,
     F(gce_expander_ephemeral_storage_support), 0, "true", NOLIM, CS_STORED, "GCE only"},
    {"bulk-mig-instances-listing-enabled", CT_BOOL, F(bulk_mig_instances_listing_enabled), 0,
     "false", NOLIM, CS_STORED, "GCE only"},
    {"cloud-provider-gce-lb-src-cidrs", CT_STRING, F(cloud_provider_gce_lb_src_cidrs), 0,
     "130.211.0.0/22,209.85.152.0/22,209.85.204.0/22,35.191.0.0/16", NOLIM, CS_STORED,
     "GCE only"},
    {"cloud-provider-gce-l7lb-src-cidrs", CT_STRING, F(cloud_provider_gce_l7lb_src_cidrs), 0,
     "130.211.0.0/22,35.191.0.0/16", NOLIM, CS_STORED, "GCE only"},
};

#define N_FLAGS (sizeof(config_flags) / sizeof(config_flags[0]))

/* A compile-time check that the given[] marks have room for every flag. */
typedef char config_flags_fit[(N_FLAGS <= CONFIG_MAX_FLAGS) ? 1 : -1];

static void config_err(char *err, size_t len, const char *fmt, ...) NSC_PRINTF(3, 4);

static void
config_err(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

int
config_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return NSC_ERR_INVALID;
}

/* Nanoseconds per unit of a Go duration, 0 for an unknown unit; *len gets its length. */
static uint64_t
config_duration_unit(const char *s, size_t *len)
{
    static const struct {
        const char *name;
        uint64_t ns;
    } units[] = {
        {"ns", 1ULL},           {"us", 1000ULL},
        {"\xc2\xb5s", 1000ULL}, /* U+00B5 micro sign */
        {"\xce\xbcs", 1000ULL}, /* U+03BC Greek mu */
        {"ms", 1000000ULL},     {"s", 1000000000ULL},
        {"m", 60000000000ULL},  {"h", 3600000000000ULL},
    };
    size_t i;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t n = strlen(units[i].name);

        /* "m" must not swallow the "m" of "ms": longer names are listed first. */
        if (strncmp(s, units[i].name, n) == 0) {
            *len = n;
            return units[i].ns;
        }
    }
    return 0;
}

int
config_parse_duration_ms(const char *text, int64_t *out_ms)
{
    const char *s = text;
    uint64_t total_ns = 0;
    bool negative = false;

    if (*s == '-' || *s == '+')
        negative = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *out_ms = 0;
        return 0;
    }
    if (*s == '\0')
        return NSC_ERR_INVALID;
    while (*s != '\0') {
        uint64_t whole = 0, frac = 0, scale = 1, unit, add;
        bool digits = false;
        size_t ulen = 0;

        while (*s >= '0' && *s <= '9') {
            if (whole > (UINT64_MAX - 9) / 10)
                return NSC_ERR_INVALID;
            whole = whole * 10 + (uint64_t)(*s++ - '0');
            digits = true;
        }
        if (*s == '.') {
            s++;
            while (*s >= '0' && *s <= '9') {
                /* Digits past nanosecond precision of an hour cannot matter. */
                if (scale < 1000000000000000000ULL) {
                    frac = frac * 10 + (uint64_t)(*s - '0');
                    scale *= 10;
                }
                s++;
                digits = true;
            }
        }
        if (!digits)
            return NSC_ERR_INVALID;
        unit = config_duration_unit(s, &ulen);
        if (unit == 0)
            return NSC_ERR_INVALID;
        s += ulen;
        if (whole > (uint64_t)INT64_MAX / unit)
            return NSC_ERR_INVALID;
        add = whole * unit +
              (uint64_t)((long double)frac * (long double)unit / (long double)scale);
        if (add > (uint64_t)INT64_MAX - total_ns)
            return NSC_ERR_INVALID;
        total_ns += add;
    }
    *out_ms = (int64_t)(total_ns / 1000000ULL) * (negative ? -1 : 1);
    return 0;
}

static int
config_parse_int(const char *text, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return NSC_ERR_INVALID;
    *out = (int64_t)v;
    return 0;
}

/* An optional sign and only digits, but too many for int64. */
static bool
config_int_overflows(const char *text)
{
    const char *p = text + (*text == '-' || *text == '+');

    if (*p == '\0')
        return false;
    for (; *p != '\0'; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static int
config_parse_float(const char *text, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v))
        return NSC_ERR_INVALID;
    *out = v;
    return 0;
}

static int
config_set_string(char **slot, const char *value)
{
    char *copy = strdup(value);

    if (copy == NULL)
        return NSC_ERR_NOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

/* Appends the comma-separated items of value (empty items skipped), as pflag's slices. */
static int
config_append_strings(struct config_strings *list, const char *value)
{
    const char *p = value;

    while (*p != '\0') {
        size_t n = strcspn(p, ",");

        if (n > 0) {
            char **grown = realloc(list->items, (list->n + 1) * sizeof(*grown));

            if (grown == NULL)
                return NSC_ERR_NOMEM;
            list->items = grown;
            grown[list->n] = strndup(p, n);
            if (grown[list->n] == NULL)
                return NSC_ERR_NOMEM;
            list->n++;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* "MIN:MAX" of integers with 0 <= MIN <= MAX <= limit. */
static int
config_parse_range(const char *text, int64_t limit, int64_t *lo, int64_t *hi)
{
    const char *colon = strchr(text, ':');
    char buf[64];

    if (colon == NULL || (size_t)(colon - text) >= sizeof(buf))
        return NSC_ERR_INVALID;
    memcpy(buf, text, (size_t)(colon - text));
    buf[colon - text] = '\0';
    if (config_parse_int(buf, lo) < 0 || config_parse_int(colon + 1, hi) < 0 || *lo < 0 ||
        *lo > *hi || *hi > limit)
        return NSC_ERR_INVALID;
    return 0;
}

static const char *const config_expanders[] = {"random", "most-pods", "least-waste",
                                               "least-nodes", "priority"};

/* Returns NULL when every name of the chain is known, else a static reason. */
static const char *
config_check_expander(const char *chain, char *bad, size_t bad_len)
{
    const char *p = chain;

    if (*p == '\0')
        return "empty chain";
    while (1) {
        size_t n = strcspn(p, ","), i;
        bool known = false;

        for (i = 0; i < sizeof(config_expanders) / sizeof(config_expanders[0]); i++) {
            if (strlen(config_expanders[i]) == n && strncmp(p, config_expanders[i], n) == 0)
                known = true;
        }
        /* The Go autoscaler's price and grpc expanders are refused here, at start, rather
         * than accepted and then failing in the first planning pass. */
        if ((n == 5 && strncmp(p, "price", n) == 0) || (n == 4 && strncmp(p, "grpc", n) == 0)) {
            snprintf(bad, bad_len,
                     "expander \"%.*s\" is not supported by nodescaler (supported: random, "
                     "most-pods, least-waste, least-nodes, priority)",
                     (int)n, p);
            return bad;
        }
        if (!known) {
            snprintf(bad, bad_len,
                     "unknown expander \"%.*s\" (known: random, most-pods, "
                     "least-waste, least-nodes, priority)",
                     (int)n, p);
            return bad;
        }
        if (p[n] == '\0')
            return NULL;
        p += n + 1;
    }
}

/* Applies one value to one flag. On a bad value writes the reason (without the flag). */
/* A duration bound in the units --help uses: "100ms", "5s", "10m", "1h". */
static const char *
config_ms_text(int64_t ms, char *buf, size_t len)
{
    if (ms >= 3600000 && ms % 3600000 == 0)
        snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
    else if (ms >= 60000 && ms % 60000 == 0)
        snprintf(buf, len, "%lldm", (long long)(ms / 60000));
    else if (ms >= 1000 && ms % 1000 == 0)
        snprintf(buf, len, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, len, "%lldms", (long long)ms);
    return buf;
}

static int
config_apply(struct nsc_config *cfg, const struct config_flag *f, const char *value, char *why,
             size_t why_len)
{
    char *base = (char *)cfg;
    int64_t i64, i64b;
    double d;
    bool b;

    switch (f->type) {
    case CT_BOOL:
        if (config_parse_bool(value, &b) < 0) {
            config_err(why, why_len, "not a boolean (true or false)");
            return NSC_ERR_INVALID;
        }
        *(bool *)(base + f->off) = b;
        return 0;
    case CT_INT:
        if (config_parse_int(value, &i64) < 0) {
            /* Past int64 is still a number: say which numbers would do. */
            if (config_int_overflows(value))
                config_err(why, why_len, "out of range [%lld, %lld]", (long long)f->lo,
                           (long long)f->hi);
            else
                config_err(why, why_len, "not an integer");
            return NSC_ERR_INVALID;
        }
        if (i64 < f->lo || i64 > f->hi) {
            config_err(why, why_len, "out of range [%lld, %lld]", (long long)f->lo,
                       (long long)f->hi);
            return NSC_ERR_INVALID;
        }
        *(int64_t *)(base + f->off) = i64;
        return 0;
    case CT_FLOAT:
        if (config_parse_float(value, &d) < 0) {
            config_err(why, why_len, "not a number");
            return NSC_ERR_INVALID;
        }
        if (d < (double)f->lo || d > (double)f->hi) {
            config_err(why, why_len, "out of range [%lld, %lld]", (long long)f->lo,
                       (long long)f->hi);
            return NSC_ERR_INVALID;
        }
        *(double *)(base + f->off) = d;
        return 0;
    case CT_DURATION:
        if (config_parse_duration_ms(value, &i64) < 0) {
            config_err(why, why_len, "not a duration (examples: 300ms, 10s, 1m30s, 3h)");
            return NSC_ERR_INVALID;
        }
        if (f->hi != INT64_MAX && (i64 < f->lo || i64 > f->hi)) {
            char lo[32], hi[32];
            config_err(why, why_len, "out of range [%s, %s]",
                       config_ms_text(f->lo, lo, sizeof(lo)),
                       config_ms_text(f->hi, hi, sizeof(hi)));
            return NSC_ERR_INVALID;
        }
        if (i64 < f->lo) {
            config_err(why, why_len, "must be %s", f->lo > 0 ? "at least 1ms" : "non-negative");
            return NSC_ERR_INVALID;
        }
        *(int64_t *)(base + f->off) = i64;
        return 0;
    case CT_STRING:
        return config_set_string((char **)(base + f->off), value);
    case CT_STRINGS:
        return config_append_strings((struct config_strings *)(base + f->off), value);
    case CT_RANGE:
        if (config_parse_range(value, f->hi, &i64, &i64b) < 0) {
            config_err(why, why_len, "want MIN:MAX with 0 <= MIN <= MAX <= %lld",
                       (long long)f->hi);
            return NSC_ERR_INVALID;
        }
        *(int64_t *)(base + f->off) = i64;
        *(int64_t *)(base + f->off2) = i64b;
        return 0;
    case CT_NODES: {
        struct config_node_group_spec *grown;
        const char *second = strchr(value, ':');
        const char *third = second ? strchr(second + 1, ':') : NULL;
        char range[64];

        if (third == NULL || third[1] == '\0' || (size_t)(third - value) >= sizeof(range)) {
            config_err(why, why_len, "want MIN:MAX:NAME");
            return NSC_ERR_INVALID;
        }
        memcpy(range, value, (size_t)(third - value));
        range[third - value] = '\0';
        if (config_parse_range(range, f->hi, &i64, &i64b) < 0) {
            config_err(why, why_len, "want MIN:MAX:NAME with 0 <= MIN <= MAX <= %lld",
                       (long long)f->hi);
            return NSC_ERR_INVALID;
        }
        grown = realloc(cfg->nodes, (cfg->n_nodes + 1) * sizeof(*grown));
        if (grown == NULL)
            return NSC_ERR_NOMEM;
        cfg->nodes = grown;
        grown[cfg->n_nodes].min_size = i64;
        grown[cfg->n_nodes].max_size = i64b;
        grown[cfg->n_nodes].name = strdup(third + 1);
        if (grown[cfg->n_nodes].name == NULL)
            return NSC_ERR_NOMEM;
        cfg->n_nodes++;
        return 0;
    }
    case CT_BACKEND_OPT: {
        const char *eq = strchr(value, '=');
        struct nsc_option *grown;
        char *key, *val;

        if (eq == NULL || eq == value) {
            config_err(why, why_len, "want KEY=VALUE");
            return NSC_ERR_INVALID;
        }
        grown = realloc(cfg->backend_opts, (cfg->n_backend_opts + 1) * sizeof(*grown));
        if (grown == NULL)
            return NSC_ERR_NOMEM;
        cfg->backend_opts = grown;
        key = strndup(value, (size_t)(eq - value));
        val = strdup(eq + 1);
        if (key == NULL || val == NULL) {
            free(key);
            free(val);
            return NSC_ERR_NOMEM;
        }
        grown[cfg->n_backend_opts].key = key;
        grown[cfg->n_backend_opts].value = val;
        cfg->n_backend_opts++;
        return 0;
    }
    case CT_OUTPUT:
        if (strcmp(value, "text") != 0 && strcmp(value, "json") != 0) {
            config_err(why, why_len, "want text or json");
            return NSC_ERR_INVALID;
        }
        cfg->output = strcmp(value, "json") == 0 ? CONFIG_OUTPUT_JSON : CONFIG_OUTPUT_TEXT;
        return 0;
    case CT_LOG_FORMAT:
        if (strcmp(value, "text") != 0 && strcmp(value, "json") != 0) {
            config_err(why, why_len, "want text or json");
            return NSC_ERR_INVALID;
        }
        cfg->logging_format = strcmp(value, "json") == 0 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
        return 0;
    case CT_EXPANDER: {
        const char *reason = config_check_expander(value, why, why_len);

        if (reason != NULL) {
            if (reason != why)
                config_err(why, why_len, "%s", reason);
            return NSC_ERR_INVALID;
        }
        return config_set_string((char **)(base + f->off), value);
    }
    }
    return NSC_ERR_INTERNAL;
}

static const struct config_flag *
config_find(const char *name, size_t name_len, size_t *index)
{
    size_t i;

    /* Go's component-base normalises '_' to '-', so klog's --log_dir is --log-dir. */
    for (i = 0; i < N_FLAGS; i++) {
        const char *fn = config_flags[i].name;
        size_t k;

        if (strlen(fn) != name_len)
            continue;
        for (k = 0; k < name_len; k++)
            if (fn[k] != name[k] && !(fn[k] == '-' && name[k] == '_'))
                break;
        if (k == name_len) {
            *index = i;
            return &config_flags[i];
        }
    }
    return NULL;
}

int
config_init(struct nsc_config *cfg)
{
    char why[256];
    size_t i;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    for (i = 0; i < N_FLAGS; i++) {
        if (config_flags[i].def == NULL)
            continue;
        rc = config_apply(cfg, &config_flags[i], config_flags[i].def, why, sizeof(why));
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* "prio:sec,prio:sec": integers, seconds non-negative. */
static int
config_check_drain_priority(const char *text)
{
    const char *p = text;

    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        char item[64];
        int64_t prio, sec;
        char *colon;

        if (n == 0 || n >= sizeof(item))
            return NSC_ERR_INVALID;
        memcpy(item, p, n);
        item[n] = '\0';
        colon = strchr(item, ':');
        if (colon == NULL)
            return NSC_ERR_INVALID;
        *colon = '\0';
        if (config_parse_int(item, &prio) < 0 || config_parse_int(colon + 1, &sec) < 0 ||
            sec < 0)
            return NSC_ERR_INVALID;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* Checks that need several flags at once. */
static int
config_check(const struct nsc_config *cfg, char *err, size_t len)
{
    if (config_given(cfg, "drain-priority-config") &&
        config_given(cfg, "max-graceful-termination-sec")) {
        config_err(err, len,
                   "flags --drain-priority-config and --max-graceful-termination-sec "
                   "exclude each other");
        return NSC_ERR_INVALID;
    }
    if (cfg->drain_priority_config != NULL &&
        config_check_drain_priority(cfg->drain_priority_config) < 0) {
        config_err(err, len,
                   "invalid value \"%s\" for flag --drain-priority-config: want "
                   "PRIORITY:SECONDS[,PRIORITY:SECONDS...]",
                   cfg->drain_priority_config);
        return NSC_ERR_INVALID;
    }
    uint32_t minor;
    if (cfg->kubernetes_version != NULL &&
        model_kube_minor_parse(cfg->kubernetes_version, &minor) < 0) {
        config_err(err, len,
                   "invalid value \"%s\" for flag --kubernetes-version: want 1.MINOR "
                   "(for example 1.29 or v1.29.3)",
                   cfg->kubernetes_version);
        return NSC_ERR_INVALID;
    }
    /* A recorded dump holds no ConfigMap: the priorities must come from a file. */
    if (config_expander_has(cfg, "priority") && cfg->expander_priority_config == NULL &&
        cfg->cluster_snapshot != NULL) {
        config_err(err, len,
                   "flag --expander=%s with --cluster-snapshot needs "
                   "--expander-priority-config=FILE (the ConfigMap "
                   "cluster-autoscaler-priority-expander is read only from a live cluster)",
                   cfg->expander);
        return NSC_ERR_INVALID;
    }
    if (strcmp(cfg->estimator, "binpacking") != 0) {
        config_err(err, len,
                   "invalid value \"%s\" for flag --estimator: only binpacking exists",
                   cfg->estimator);
        return NSC_ERR_INVALID;
    }
    if (strcmp(cfg->leader_elect_resource_lock, "leases") != 0) {
        config_err(err, len,
                   "invalid value \"%s\" for flag --leader-elect-resource-lock: only leases is "
                   "supported",
                   cfg->leader_elect_resource_lock);
        return NSC_ERR_INVALID;
    }
    /* client-go's leader election refuses these orders too. */
    if (cfg->leader_elect &&
        (cfg->leader_elect_lease_duration_ms <= cfg->leader_elect_renew_deadline_ms ||
         cfg->leader_elect_renew_deadline_ms * 10 <= cfg->leader_elect_retry_period_ms * 12)) {
        config_err(
            err, len,
            "flags --leader-elect-lease-duration (%lldms) > --leader-elect-renew-deadline "
            "(%lldms) > 1.2 x --leader-elect-retry-period (%lldms) must hold",
            (long long)cfg->leader_elect_lease_duration_ms,
            (long long)cfg->leader_elect_renew_deadline_ms,
            (long long)cfg->leader_elect_retry_period_ms);
        return NSC_ERR_INVALID;
    }
    if (cfg->address != NULL) {
        struct serve_addr a;
        char why[256];

        if (serve_addr_parse(cfg->address, &a, why, sizeof(why)) < 0) {
            config_err(err, len, "invalid value \"%s\" for flag --address: %s", cfg->address,
                       why);
            return NSC_ERR_INVALID;
        }
    }
    if (cfg->max_node_group_backoff_duration_ms < cfg->initial_node_group_backoff_duration_ms) {
        config_err(err, len,
                   "flag --max-node-group-backoff-duration must not be shorter than "
                   "--initial-node-group-backoff-duration");
        return NSC_ERR_INVALID;
    }
    return 0;
}

int
config_parse(struct nsc_config *cfg, int argc, char *const *argv, char *err, size_t err_len)
{
    char why[256];
    int i, rc;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *name, *eq, *value;
        const struct config_flag *f;
        size_t name_len, index;

        if (strcmp(arg, "-h") == 0) {
            cfg->show_help = true;
            continue;
        }
        if (arg[0] != '-' || arg[1] == '\0' || strcmp(arg, "--") == 0) {
            config_err(err, err_len, "unexpected argument \"%s\" (flags start with --)",
                       strcmp(arg, "--") == 0 && i + 1 < argc ? argv[i + 1] : arg);
            return NSC_ERR_INVALID;
        }
        /* Go's flag package takes -name and --name alike. */
        name = arg + (arg[1] == '-' ? 2 : 1);
        eq = strchr(name, '=');
        name_len = eq ? (size_t)(eq - name) : strlen(name);
        f = config_find(name, name_len, &index);
        if (f == NULL) {
            config_err(err, err_len, "unknown flag --%.*s", (int)name_len, name);
            return NSC_ERR_INVALID;
        }
        if (eq != NULL) {
            value = eq + 1;
        } else if (f->type == CT_BOOL) {
            /* A bare boolean means true; "--flag false" is not a value, as in Go. */
            value = "true";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            config_err(err, err_len, "flag --%s needs a value", f->name);
            return NSC_ERR_INVALID;
        }
        why[0] = '\0';
        rc = config_apply(cfg, f, value, why, sizeof(why));
        if (rc == NSC_ERR_INVALID) {
            config_err(err, err_len, "invalid value \"%s\" for flag --%s: %s", value, f->name,
                       why);
            return rc;
        }
        if (rc < 0) {
            config_err(err, err_len, "out of memory while parsing flag --%s", f->name);
            return rc;
        }
        cfg->given[index] = 1;
    }
    if (cfg->show_help || cfg->show_version || cfg->show_help_man)
        return 0;
    return config_check(cfg, err, err_len);
}

static void
config_strings_free(struct config_strings *list)
{
    size_t i;

    for (i = 0; i < list->n; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

void
config_free(struct nsc_config *cfg)
{
    size_t i;

    if (cfg == NULL)
        return;
    for (i = 0; i < N_FLAGS; i++) {
        const struct config_flag *f = &config_flags[i];
        char *base = (char *)cfg;

        if (f->type == CT_STRING || f->type == CT_EXPANDER) {
            free(*(char **)(base + f->off));
            *(char **)(base + f->off) = NULL;
        } else if (f->type == CT_STRINGS) {
            config_strings_free((struct config_strings *)(base + f->off));
        }
    }
    for (i = 0; i < cfg->n_nodes; i++)
        free(cfg->nodes[i].name);
    free(cfg->nodes);
    for (i = 0; i < cfg->n_backend_opts; i++) {
        free((char *)(uintptr_t)cfg->backend_opts[i].key);
        free((char *)(uintptr_t)cfg->backend_opts[i].value);
    }
    free(cfg->backend_opts);
    memset(cfg, 0, sizeof(*cfg));
}

bool
config_given(const struct nsc_config *cfg, const char *flag)
{
    size_t index;

    return config_find(flag, strlen(flag), &index) != NULL && cfg->given[index];
}

bool
config_expander_has(const struct nsc_config *cfg, const char *name)
{
    const char *p = cfg->expander != NULL ? cfg->expander : "";
    size_t n = strlen(name);

    while (*p != '\0') {
        size_t item = strcspn(p, ",");

        if (item == n && strncmp(p, name, n) == 0)
            return true;
        p += item;
        if (*p == ',')
            p++;
    }
    return false;
}

static const char *
config_metavar(enum config_type t)
{
    switch (t) {
    case CT_BOOL:
        return "[=BOOL]";
    case CT_INT:
        return "=INT";
    case CT_FLOAT:
        return "=NUMBER";
    case CT_DURATION:
        return "=DURATION";
    case CT_RANGE:
        return "=MIN:MAX";
    case CT_NODES:
        return "=MIN:MAX:NAME";
    case CT_BACKEND_OPT:
        return "=KEY=VALUE";
    case CT_OUTPUT:
    case CT_LOG_FORMAT:
        return "=text|json";
    case CT_EXPANDER:
        return "=CHAIN";
    case CT_STRINGS:
        return "=LIST";
    case CT_STRING:
        break;
    }
    return "=STRING";
}

/* What --help and the man page add after a flag's text: its default unless it is a false
 * boolean, the range every number is held to, and [stored]. */
static void
config_notes(const struct config_flag *f, char *buf, size_t len)
{
    bool shows_def = f->def != NULL && (f->type != CT_BOOL || strcmp(f->def, "true") == 0);
    bool ranged =
        f->type == CT_INT || f->type == CT_FLOAT || f->type == CT_RANGE || f->type == CT_NODES;
    bool ranged_ms = f->type == CT_DURATION && f->hi != INT64_MAX;
    char lo[32], hi[32];
    size_t n = 0;

    buf[0] = '\0';
#define CONFIG_NOTE(...)                                                                       \
    do {                                                                                       \
        if (n < len)                                                                           \
            n += (size_t)snprintf(buf + n, len - n, __VA_ARGS__);                              \
    } while (0)
    if (shows_def)
        CONFIG_NOTE(" (default %s", f->def);
    if (ranged)
        CONFIG_NOTE("%s %lld..%lld", shows_def ? "; range" : " (range", (long long)f->lo,
                    (long long)f->hi);
    if (ranged_ms)
        CONFIG_NOTE("%s %s..%s", shows_def ? "; range" : " (range",
                    config_ms_text(f->lo, lo, sizeof(lo)),
                    config_ms_text(f->hi, hi, sizeof(hi)));
    if (shows_def || ranged || ranged_ms)
        CONFIG_NOTE(")");
    if (f->state == CS_STORED)
        CONFIG_NOTE(" [stored]");
#undef CONFIG_NOTE
}

void
config_usage(FILE *out)
{
    size_t i;

    fputs("Usage: nodescaler --backend=NAME [--backend-opt=KEY=VALUE]... [flags]\n"
          "\n"
          "A Kubernetes node autoscaler. Flags take --name=value or --name value (-name works\n"
          "too); booleans take --name, --name=true or --name=false; durations use Go syntax\n"
          "(300ms, 10s, 1m30s, 3h). Flag names and defaults follow the Go Cluster Autoscaler.\n"
          "Flags marked [stored] are accepted for compatibility and validated, but nothing\n"
          "acts on them yet; giving one logs a warning.\n"
          "\n"
          "Exit status: 0 success, 1 failure at run time, 2 bad command line.\n"
          "\n",
          out);
    for (i = 0; i < N_FLAGS; i++) {
        const struct config_flag *f = &config_flags[i];
        char left[96], notes[160];

        snprintf(left, sizeof(left), "--%s%s", f->name, config_metavar(f->type));
        config_notes(f, notes, sizeof(notes));
        fprintf(out, "  %-46s %s%s\n", left, f->help, notes);
    }
}

/* Roff text: a backslash and a minus sign (which roff would print as a hyphen) escaped. */
static void
config_roff(FILE *out, const char *text)
{
    for (; *text != '\0'; text++) {
        if (*text == '\\')
            fputs("\\e", out);
        else if (*text == '-')
            fputs("\\-", out);
        else
            fputc(*text, out);
    }
}

void
config_man(FILE *out)
{
    size_t i;

    fprintf(out,
            ".\\\" nodescaler.8: written by nodescaler --help-man from its flag table.\n"
            ".TH NODESCALER 8 \"\" \"nodescaler %s\" \"System Administration\"\n",
            nsc_engine_version());
    fputs(".SH NAME\n"
          "nodescaler \\- Kubernetes node autoscaler\n"
          ".SH SYNOPSIS\n"
          ".B nodescaler\n"
          "\\fB\\-\\-backend\\fR=\\fINAME\\fR "
          "[\\fB\\-\\-backend\\-opt\\fR=\\fIKEY\\fR=\\fIVALUE\\fR]... "
          "[\\fIflags\\fR]\n"
          ".SH DESCRIPTION\n"
          "nodescaler watches a Kubernetes cluster, simulates the scheduler, grows node groups "
          "when pods cannot be scheduled and removes nodes that are not needed. Cloud "
          "backends are shared objects loaded from the backend directory.\n"
          ".PP\n"
          "Flags take \\fB\\-\\-name\\fR=\\fIvalue\\fR or \\fB\\-\\-name\\fR \\fIvalue\\fR "
          "(\\fB\\-name\\fR works too); booleans take \\fB\\-\\-name\\fR, "
          "\\fB\\-\\-name\\fR=true or \\fB\\-\\-name\\fR=false; durations use Go syntax "
          "(300ms, 10s, 1m30s, 3h). Flag names and defaults follow the Go Cluster Autoscaler. "
          "Flags marked [stored] are accepted for compatibility and validated, but nothing "
          "acts on them yet.\n"
          ".SH OPTIONS\n",
          out);
    for (i = 0; i < N_FLAGS; i++) {
        const struct config_flag *f = &config_flags[i];
        char notes[160];

        config_notes(f, notes, sizeof(notes));
        fputs(".TP\n\\fB", out);
        config_roff(out, "--");
        config_roff(out, f->name);
        fputs("\\fR\\fI", out);
        config_roff(out, config_metavar(f->type));
        fputs("\\fR\n", out);
        config_roff(out, f->help);
        config_roff(out, notes);
        fputc('\n', out);
    }
    fputs(".SH EXIT STATUS\n"
          "0 on success, 1 on a failure at run time, 2 on a bad command line.\n"
          ".SH ENVIRONMENT\n"
          ".TP\n"
          ".B NSC_BACKEND_PATH\n"
          "Colon\\-separated directories searched for \\fINAME\\fR.so before the backend "
          "directory.\n"
          ".SH FILES\n"
          ".TP\n",
          out);
    fputs(".I ", out);
    config_roff(out, NSC_BACKEND_DIR);
    fputs("\nThe backends \\fB\\-\\-backend\\fR=\\fINAME\\fR loads.\n"
          ".SH SEE ALSO\n"
          ".BR nsc\\-backend\\-conformance (1),\n"
          ".BR kubectl (1)\n",
          out);
}

void
config_warn_inactive(const struct nsc_config *cfg)
{
    size_t i;

    for (i = 0; i < N_FLAGS; i++) {
        if (cfg->given[i] && config_flags[i].state == CS_STORED)
            log_warning("flag --%s is accepted for compatibility but nothing acts on it yet",
                        config_flags[i].name);
    }
    if (cfg->expander_priority_config != NULL && !config_expander_has(cfg, "priority"))
        log_warning("flag --expander-priority-config has no effect: --expander=%s has no "
                    "priority expander",
                    cfg->expander);
}
