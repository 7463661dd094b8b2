/* Check suite of the command-line flags: defaults equal to the Go Cluster Autoscaler's,
 * Go duration and bool syntax, good values stored, bad ones refused naming flag and value. */
#include "config.h"

#include "nsc_config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_LEN 512
#define MAX_ARGS 40

#define assert_contains(hay, needle)                                                           \
    ck_assert_msg(strstr((hay), (needle)) != NULL, "expected \"%s\" in \"%s\"", (needle), (hay))

/* Splits a space-separated command line (no quoting needed by these tables) and parses it. */
static int
parse_line(struct nsc_config *cfg, const char *line, char *err)
{
    char buf[1024], prog[] = "nodescaler", *argv[MAX_ARGS], *save = NULL, *tok;
    int argc = 0;

    snprintf(buf, sizeof(buf), "%s", line);
    argv[argc++] = prog;
    for (tok = strtok_r(buf, " ", &save); tok && argc < MAX_ARGS;
         tok = strtok_r(NULL, " ", &save))
        argv[argc++] = tok;
    ck_assert_msg(tok == NULL, "too many arguments in \"%s\"", line);
    ck_assert_int_eq(config_init(cfg), 0);
    err[0] = '\0';
    return config_parse(cfg, argc, argv, err, ERR_LEN);
}

START_TEST(defaults_match_go)
{
    struct nsc_config cfg;
    char err[ERR_LEN];

    ck_assert_int_eq(parse_line(&cfg, "", err), 0);
    ck_assert_ptr_null(cfg.backend);
    ck_assert(!cfg.once);
    ck_assert(!cfg.dry_run);
    ck_assert_int_eq(cfg.output, CONFIG_OUTPUT_TEXT);
    ck_assert_int_eq(cfg.logging_format, LOG_FORMAT_TEXT);
    ck_assert_int_eq(cfg.scan_interval_ms, 10000);
    ck_assert(cfg.frequent_loops_enabled);
    ck_assert_str_eq(cfg.expander, "least-waste");
    ck_assert_str_eq(cfg.estimator, "binpacking");
    ck_assert_int_eq(cfg.max_nodes_total, 0);
    ck_assert_int_eq(cfg.cores_total_min, 0);
    ck_assert_int_eq(cfg.cores_total_max, 320000);
    ck_assert_int_eq(cfg.memory_total_min_gib, 0);
    ck_assert_int_eq(cfg.memory_total_max_gib, 6400000);
    ck_assert_int_eq(cfg.max_nodes_per_scaleup, 1000);
    ck_assert_int_eq(cfg.max_nodegroup_binpacking_duration_ms, 10000);
    ck_assert_int_eq(cfg.max_binpacking_time_ms, 300000);
    ck_assert(!cfg.balance_similar_node_groups);
    ck_assert_double_eq(cfg.memory_difference_ratio, 0.015);
    ck_assert_double_eq(cfg.max_allocatable_difference_ratio, 0.05);
    ck_assert_double_eq(cfg.max_free_difference_ratio, 0.05);
    ck_assert_int_eq(cfg.new_pod_scale_up_delay_ms, 0);
    ck_assert_int_eq(cfg.max_node_provision_time_ms, 15 * 60000);
    ck_assert_int_eq(cfg.max_node_startup_time_ms, 15 * 60000);
    ck_assert_int_eq(cfg.initial_node_group_backoff_duration_ms, 5 * 60000);
    ck_assert_int_eq(cfg.max_node_group_backoff_duration_ms, 30 * 60000);
    ck_assert_int_eq(cfg.node_group_backoff_reset_timeout_ms, 3 * 3600000);
    ck_assert_double_eq(cfg.max_total_unready_percentage, 45);
    ck_assert_int_eq(cfg.ok_total_unready_count, 3);
    ck_assert(cfg.scale_up_from_zero);
    ck_assert(!cfg.enforce_node_group_min_size);
    ck_assert_int_eq(cfg.salvo_scale_up_budget_ms, 60000);
    ck_assert_int_eq(cfg.expendable_pods_priority_cutoff, -10);
    ck_assert(cfg.scale_down_enabled);
    ck_assert_double_eq(cfg.scale_down_utilization_threshold, 0.5);
    ck_assert_double_eq(cfg.scale_down_gpu_utilization_threshold, 0.5);
    ck_assert_int_eq(cfg.scale_down_unneeded_time_ms, 600000);
    ck_assert(cfg.scale_down_unready_enabled);
    ck_assert_int_eq(cfg.scale_down_unready_time_ms, 1200000);
    ck_assert_int_eq(cfg.scale_down_delay_after_add_ms, 600000);
    ck_assert_int_eq(cfg.scale_down_delay_after_delete_ms, 0);
    ck_assert_int_eq(cfg.scale_down_delay_after_failure_ms, 180000);
    ck_assert_int_eq(cfg.scale_down_simulation_timeout_ms, 30000);
    ck_assert_int_eq(cfg.unremovable_node_recheck_timeout_ms, 300000);
    ck_assert_int_eq(cfg.max_scale_down_parallelism, 10);
    ck_assert_int_eq(cfg.max_drain_parallelism, 1);
    ck_assert_int_eq(cfg.max_graceful_termination_s, 600);
    ck_assert_ptr_null(cfg.drain_priority_config);
    ck_assert_int_eq(cfg.max_pod_eviction_time_ms, 120000);
    ck_assert(cfg.skip_nodes_with_local_storage);
    ck_assert(cfg.skip_nodes_with_system_pods);
    ck_assert(cfg.skip_nodes_with_custom_controller_pods);
    ck_assert_int_eq(cfg.blocking_system_pod_disruption_timeout_ms, 3600000);
    ck_assert(!cfg.daemonset_eviction_for_empty_nodes);
    ck_assert(cfg.daemonset_eviction_for_occupied_nodes);
    ck_assert(cfg.cordon_node_before_terminating);
    ck_assert_int_eq(cfg.node_delete_delay_after_taint_ms, 5000);
    ck_assert_int_eq(cfg.node_deletion_delay_timeout_ms, 120000);
    ck_assert_int_eq(cfg.max_bulk_soft_taint_count, 10);
    ck_assert_int_eq(cfg.max_bulk_soft_taint_time_ms, 3000);
    ck_assert_int_eq(cfg.node_info_cache_expire_time_ms, (int64_t)87600 * 3600000);
    ck_assert_int_eq(cfg.predicate_parallelism, 4);
    ck_assert(cfg.write_status_configmap);
    ck_assert_str_eq(cfg.status_config_map_name, "cluster-autoscaler-status");
    ck_assert_str_eq(cfg.namespace_name, "kube-system");
    ck_assert_str_eq(cfg.address, ":8085");
    ck_assert_int_eq(cfg.max_inactivity_ms, 600000);
    ck_assert_int_eq(cfg.max_failing_time_ms, 900000);
    ck_assert_int_eq(cfg.max_startup_time_ms, 1200000);
    ck_assert_double_eq(cfg.kube_client_qps, 5);
    ck_assert_int_eq(cfg.kube_client_burst, 10);
    ck_assert_int_eq(cfg.kube_api_connect_timeout_ms, 5000);
    ck_assert_int_eq(cfg.kube_api_request_timeout_ms, 30000);
    ck_assert_int_eq(cfg.kube_api_stall_timeout_ms, 30000);
    ck_assert_int_eq(cfg.kube_api_slow_call_ms, 5000);
    ck_assert(cfg.logtostderr);
    ck_assert_int_eq(cfg.max_empty_bulk_delete, 10);
    ck_assert(cfg.leader_elect);
    ck_assert_int_eq(cfg.leader_elect_lease_duration_ms, 15000);
    ck_assert_int_eq(cfg.leader_elect_renew_deadline_ms, 10000);
    ck_assert_int_eq(cfg.leader_elect_retry_period_ms, 2000);
    ck_assert_str_eq(cfg.leader_elect_resource_name, "cluster-autoscaler");
    ck_assert_uint_eq(cfg.n_nodes, 0);
    ck_assert_uint_eq(cfg.n_backend_opts, 0);
    config_free(&cfg);
}
END_TEST

static const struct {
    const char *text;
    int ok;
    int64_t ms;
} durations[] = {
    {"0", 1, 0},
    {"10s", 1, 10000},
    {"1m30s", 1, 90000},
    {"3h", 1, 10800000},
    {"1.5h", 1, 5400000},
    {"300ms", 1, 300},
    {"2h45m", 1, 9900000},
    {"1500us", 1, 1},
    {"999999ns", 1, 0},
    {"87600h", 1, (int64_t)87600 * 3600000},
    {".5s", 1, 500},
    {"1.s", 1, 1000},
    {"-1s", 1, -1000},
    {"+2s", 1, 2000},
    {"\xc2\xb5s", 0, 0},
    {"1\xc2\xb5s", 1, 0},
    {"", 0, 0},
    {"10", 0, 0},
    {"s", 0, 0},
    {"1d", 0, 0},
    {"1m 30s", 0, 0},
    {"abc", 0, 0},
    {"1.2.3s", 0, 0},
    {"9999999999h", 0, 0},
    {"-", 0, 0},
    {".s", 0, 0},
};

START_TEST(duration_syntax)
{
    int64_t ms = 12345;
    int rc = config_parse_duration_ms(durations[_i].text, &ms);

    if (durations[_i].ok) {
        ck_assert_msg(rc == 0, "\"%s\" refused", durations[_i].text);
        ck_assert_int_eq(ms, durations[_i].ms);
    } else {
        ck_assert_msg(rc == NSC_ERR_INVALID, "\"%s\" accepted", durations[_i].text);
    }
}
END_TEST

START_TEST(bool_syntax)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    static const char *const bad[] = {"", "yes", "on", "tRUE", "2", "truee"};
    bool b;
    size_t i;

    for (i = 0; i < 6; i++) {
        b = false;
        ck_assert_int_eq(config_parse_bool(yes[i], &b), 0);
        ck_assert(b);
        ck_assert_int_eq(config_parse_bool(no[i], &b), 0);
        ck_assert(!b);
        ck_assert_int_eq(config_parse_bool(bad[i], &b), NSC_ERR_INVALID);
    }
}
END_TEST

START_TEST(good_values_stored)
{
    struct nsc_config cfg;
    char err[ERR_LEN];

    ck_assert_int_eq(parse_line(&cfg,
                                "--backend=static --backend-opt groups=a.json "
                                "--backend-opt=zone=ch-gva-2 --backend-opt=empty= --once "
                                "--dry-run=true --scan-interval 1m30s --output=json "
                                "--logging-format=json --v=4 --nodes=1:10:pool-a "
                                "--nodes 0:3:pool-b --cores-total=8:64 --skip-nodes-with-"
                                "local-storage=false --scale-down-utilization-threshold=0.7",
                                err),
                     0);
    ck_assert_str_eq(cfg.backend, "static");
    ck_assert_uint_eq(cfg.n_backend_opts, 3);
    ck_assert_str_eq(cfg.backend_opts[0].key, "groups");
    ck_assert_str_eq(cfg.backend_opts[0].value, "a.json");
    ck_assert_str_eq(cfg.backend_opts[1].key, "zone");
    ck_assert_str_eq(cfg.backend_opts[1].value, "ch-gva-2");
    ck_assert_str_eq(cfg.backend_opts[2].value, "");
    ck_assert(cfg.once);
    ck_assert(cfg.dry_run);
    ck_assert_int_eq(cfg.scan_interval_ms, 90000);
    ck_assert_int_eq(cfg.output, CONFIG_OUTPUT_JSON);
    ck_assert_int_eq(cfg.logging_format, LOG_FORMAT_JSON);
    ck_assert_int_eq(cfg.verbosity, 4);
    ck_assert_uint_eq(cfg.n_nodes, 2);
    ck_assert_int_eq(cfg.nodes[0].min_size, 1);
    ck_assert_int_eq(cfg.nodes[0].max_size, 10);
    ck_assert_str_eq(cfg.nodes[0].name, "pool-a");
    ck_assert_str_eq(cfg.nodes[1].name, "pool-b");
    ck_assert_int_eq(cfg.cores_total_min, 8);
    ck_assert_int_eq(cfg.cores_total_max, 64);
    ck_assert(!cfg.skip_nodes_with_local_storage);
    ck_assert_double_eq(cfg.scale_down_utilization_threshold, 0.7);
    ck_assert(config_given(&cfg, "scan-interval"));
    ck_assert(!config_given(&cfg, "expander"));
    config_free(&cfg);
}
END_TEST

START_TEST(go_spellings)
{
    struct nsc_config cfg;
    char err[ERR_LEN];

    /* Single dash, a later value winning, repeatable lists split on commas. */
    ck_assert_int_eq(parse_line(&cfg,
                                "-cloud-provider=static -expander=priority,least-waste "
                                "--balancing-ignore-label=a,b --balancing-ignore-label c "
                                "--scan-interval=5s --scan-interval=20s --leader-elect=false "
                                "--drain-priority-config=1000:60,0:30",
                                err),
                     0);
    ck_assert_str_eq(cfg.backend, "static");
    ck_assert_str_eq(cfg.expander, "priority,least-waste");
    ck_assert_uint_eq(cfg.balancing_ignore_labels.n, 3);
    ck_assert_str_eq(cfg.balancing_ignore_labels.items[2], "c");
    ck_assert_int_eq(cfg.scan_interval_ms, 20000);
    ck_assert(!cfg.leader_elect);
    ck_assert_str_eq(cfg.drain_priority_config, "1000:60,0:30");
    config_free(&cfg);
}
END_TEST

START_TEST(help_and_version)
{
    struct nsc_config cfg;
    char err[ERR_LEN];

    ck_assert_int_eq(parse_line(&cfg, "--help", err), 0);
    ck_assert(cfg.show_help);
    config_free(&cfg);
    ck_assert_int_eq(parse_line(&cfg, "-h --scan-interval=1s", err), 0);
    ck_assert(cfg.show_help);
    config_free(&cfg);
    ck_assert_int_eq(parse_line(&cfg, "--version", err), 0);
    ck_assert(cfg.show_version);
    config_free(&cfg);
}
END_TEST

static const struct {
    const char *args;
    const char *message;
} bad_lines[] = {
    {"--bogus", "unknown flag --bogus"},
    {"--bogus=1", "unknown flag --bogus"},
    {"--scan", "unknown flag --scan"},
    {"static", "unexpected argument \"static\" (flags start with --)"},
    {"--once extra", "unexpected argument \"extra\""},
    {"--scan-interval", "flag --scan-interval needs a value"},
    {"--scan-interval=abc",
     "invalid value \"abc\" for flag --scan-interval: not a duration (examples: 300ms, 10s, "
     "1m30s, 3h)"},
    {"--scan-interval=0s",
     "invalid value \"0s\" for flag --scan-interval: must be at least 1ms"},
    {"--scale-down-unneeded-time=-1m",
     "invalid value \"-1m\" for flag --scale-down-unneeded-time: must be non-negative"},
    {"--once=yes", "invalid value \"yes\" for flag --once: not a boolean (true or false)"},
    {"--max-nodes-total=ten",
     "invalid value \"ten\" for flag --max-nodes-total: not an integer"},
    {"--max-nodes-total=-1",
     "invalid value \"-1\" for flag --max-nodes-total: out of range [0, 1000000]"},
    /* Past int32 (truncated to 3, or negative and so no cap) and past int64. */
    {"--max-nodes-total=4294967299",
     "invalid value \"4294967299\" for flag --max-nodes-total: out of range [0, 1000000]"},
    {"--max-nodes-total=2147483648",
     "invalid value \"2147483648\" for flag --max-nodes-total: out of range [0, 1000000]"},
    {"--max-nodes-total=99999999999999999999", "flag --max-nodes-total: out of range [0, "
                                               "1000000]"},
    {"--max-nodes-per-scaleup=0", "flag --max-nodes-per-scaleup: out of range [1, 1000000]"},
    {"--max-nodes-per-scaleup=4294967296",
     "flag --max-nodes-per-scaleup: out of range [1, 1000000]"},
    {"--expendable-pods-priority-cutoff=2147483648",
     "flag --expendable-pods-priority-cutoff: out of range [-2147483648, 2147483647]"},
    {"--ok-total-unready-count=4294967296",
     "flag --ok-total-unready-count: out of range [0, 1000000]"},
    {"--max-scale-down-parallelism=100000",
     "flag --max-scale-down-parallelism: out of range [1, 10000]"},
    {"--max-drain-parallelism=0", "flag --max-drain-parallelism: out of range [1, 10000]"},
    {"--max-graceful-termination-sec=2147483648",
     "flag --max-graceful-termination-sec: out of range [0, 2147483647]"},
    {"--min-replica-count=2147483648",
     "flag --min-replica-count: out of range [0, 2147483647]"},
    {"--max-bulk-soft-taint-count=4294967296",
     "flag --max-bulk-soft-taint-count: out of range [0, 1000000]"},
    {"--predicate-parallelism=4096", "flag --predicate-parallelism: out of range [1, 1024]"},
    {"--scheduler-verbosity=-1", "flag --scheduler-verbosity: out of range [0, 10]"},
    {"--kube-client-burst=0", "flag --kube-client-burst: out of range [1, 100000]"},
    /* The client's deadlines: an hour-long connect would stall every loop as long. */
    {"--kube-api-connect-timeout=11m",
     "invalid value \"11m\" for flag --kube-api-connect-timeout: out of range [100ms, 10m]"},
    {"--kube-api-connect-timeout=10ms",
     "flag --kube-api-connect-timeout: out of range [100ms, 10m]"},
    {"--kube-api-request-timeout=2h", "flag --kube-api-request-timeout: out of range [1s, 1h]"},
    {"--kube-api-stall-timeout=500ms", "flag --kube-api-stall-timeout: out of range [1s, 10m]"},
    {"--kube-api-slow-call-time=0s", "flag --kube-api-slow-call-time: out of range [1ms, 1h]"},
    {"--max-empty-bulk-delete=-1", "flag --max-empty-bulk-delete: out of range [0, 1000000]"},
    {"--scale-down-candidates-pool-ratio=2",
     "flag --scale-down-candidates-pool-ratio: out of range [0, 1]"},
    {"--kube-client-qps=1e6", "flag --kube-client-qps: out of range [0, 100000]"},
    {"--max-total-unready-percentage=101",
     "flag --max-total-unready-percentage: out of range [0, 100]"},
    {"--memory-difference-ratio=-0.1", "flag --memory-difference-ratio: out of range [0, 1]"},
    {"--cores-total=0:10000000000000000",
     "flag --cores-total: want MIN:MAX with 0 <= MIN <= MAX <= 1000000000"},
    {"--memory-total=0:10000000000",
     "flag --memory-total: want MIN:MAX with 0 <= MIN <= MAX <= 1000000000"},
    {"--nodes=0:2147483648:pool", "flag --nodes: want MIN:MAX:NAME with 0 <= MIN <= MAX <= "
                                  "1000000"},
    {"--v=11", "invalid value \"11\" for flag --v: out of range [0, 10]"},
    {"--scale-down-utilization-threshold=1.5",
     "invalid value \"1.5\" for flag --scale-down-utilization-threshold: out of range [0, 1]"},
    {"--scale-down-utilization-threshold=nan",
     "invalid value \"nan\" for flag --scale-down-utilization-threshold: not a number"},
    {"--cores-total=10", "invalid value \"10\" for flag --cores-total: want MIN:MAX"},
    {"--memory-total=9:3", "invalid value \"9:3\" for flag --memory-total: want MIN:MAX with 0 "
                           "<= MIN <= MAX"},
    {"--nodes=1:10", "invalid value \"1:10\" for flag --nodes: want MIN:MAX:NAME"},
    {"--nodes=5:1:pool", "invalid value \"5:1:pool\" for flag --nodes: want MIN:MAX:NAME with"},
    {"--nodes=1:x:pool", "invalid value \"1:x:pool\" for flag --nodes"},
    {"--backend-opt=groups", "invalid value \"groups\" for flag --backend-opt: want KEY=VALUE"},
    {"--backend-opt==x", "invalid value \"=x\" for flag --backend-opt: want KEY=VALUE"},
    {"--output=yaml", "invalid value \"yaml\" for flag --output: want text or json"},
    {"--logging-format=klog", "invalid value \"klog\" for flag --logging-format: want text or "
                              "json"},
    {"--expander=cheapest", "invalid value \"cheapest\" for flag --expander: unknown expander "
                            "\"cheapest\""},
    {"--expander=least-waste,,random", "unknown expander \"\""},
    {"--expander=price,least-waste", "invalid value \"price,least-waste\" for flag --expander: "
                                     "expander \"price\" is not supported by nodescaler"},
    {"--expander=priority,grpc", "expander \"grpc\" is not supported by nodescaler"},
    {"--estimator=oldbinpacking", "invalid value \"oldbinpacking\" for flag --estimator: only "
                                  "binpacking exists"},
    {"--drain-priority-config=100:60 --max-graceful-termination-sec=30",
     "flags --drain-priority-config and --max-graceful-termination-sec exclude each other"},
    {"--drain-priority-config=high:60", "invalid value \"high:60\" for flag "
                                        "--drain-priority-config"},
    {"--leader-elect-renew-deadline=20s", "--leader-elect-lease-duration (15000ms) > "
                                          "--leader-elect-renew-deadline (20000ms)"},
    {"--initial-node-group-backoff-duration=1h", "flag --max-node-group-backoff-duration must "
                                                 "not be shorter"},
    {"--leader-elect-resource-lock=endpoints", "only leases is supported"},
    {"--kubernetes-version=2.5", "invalid value \"2.5\" for flag --kubernetes-version: want "
                                 "1.MINOR"},
    {"--kubernetes-version=v1.x", "invalid value \"v1.x\" for flag --kubernetes-version"},
    {"--expander=least-waste,priority --cluster-snapshot=dump.json",
     "flag --expander=least-waste,priority with --cluster-snapshot needs "
     "--expander-priority-config=FILE"},
};

START_TEST(bad_values_refused)
{
    struct nsc_config cfg;
    char err[ERR_LEN];

    ck_assert_int_eq(parse_line(&cfg, bad_lines[_i].args, err), NSC_ERR_INVALID);
    assert_contains(err, bad_lines[_i].message);
    /* One line, for a terminal. */
    ck_assert_ptr_null(strchr(err, '\n'));
    config_free(&cfg);
}
END_TEST

START_TEST(usage_lists_every_flag)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(f);
    config_usage(f);
    fclose(f);
    assert_contains(text, "--scan-interval=DURATION");
    assert_contains(text, "(default 10s) [stored]");
    assert_contains(text, "--nodes=MIN:MAX:NAME");
    assert_contains(text, "--once[=BOOL]");
    assert_contains(text, "--blocking-system-pod-distruption-timeout=DURATION");
    assert_contains(text, "--expander-priority-config=STRING");
    /* The offline replay's scale-down acts on these; the unneeded times it sets to zero. */
    assert_contains(text, "remove unneeded nodes (default true)\n");
    assert_contains(text, "node deletions in flight (default 10; range 1..10000)\n");
    assert_contains(text, "cap on the number of nodes in the cluster; 0 for none (default 0; "
                          "range 0..1000000)\n");
    assert_contains(text, "MIN:MAX cores in the cluster (default 0:320000; range "
                          "0..1000000000)\n");
    /* Every number flag states the range it is held to. */
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *eol = strchr(line, '\n');
        size_t n = eol != NULL ? (size_t)(eol - line) : strlen(line);
        char buf[512];

        snprintf(buf, sizeof(buf), "%.*s", (int)n, line);
        if (strstr(buf, "=INT ") || strstr(buf, "=NUMBER ") || strstr(buf, "=MIN:MAX "))
            ck_assert_msg(strstr(buf, " range ") != NULL, "no range in: %s", buf);
        line = eol != NULL ? eol + 1 : NULL;
    }
    assert_contains(text, "leave DaemonSet pods out of utilization\n");
    assert_contains(text, "before it goes (default 10m)\n");
    free(text);
}
END_TEST

/* Where the priority expander's configuration may come from, for each source of cluster. */
START_TEST(priority_config_sources)
{
    struct nsc_config cfg;
    char err[ERR_LEN];

    ck_assert_int_eq(parse_line(&cfg,
                                "--expander=priority,least-waste --cluster-snapshot=dump.json "
                                "--expander-priority-config=prio.yaml",
                                err),
                     0);
    ck_assert_str_eq(cfg.expander_priority_config, "prio.yaml");
    ck_assert(config_expander_has(&cfg, "priority"));
    ck_assert(config_expander_has(&cfg, "least-waste"));
    ck_assert(!config_expander_has(&cfg, "least"));
    config_free(&cfg);
    /* A live cluster has the ConfigMap. */
    ck_assert_int_eq(parse_line(&cfg, "--expander=priority --kubeconfig=kc", err), 0);
    ck_assert_ptr_null(cfg.expander_priority_config);
    config_free(&cfg);
    ck_assert_int_eq(parse_line(&cfg, "--expander=most-pods --cluster-snapshot=d.json", err),
                     0);
    ck_assert(!config_expander_has(&cfg, "priority"));
    config_free(&cfg);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("flags");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, defaults_match_go);
    tcase_add_loop_test(tc, duration_syntax, 0,
                        (int)(sizeof(durations) / sizeof(durations[0])));
    tcase_add_test(tc, bool_syntax);
    tcase_add_test(tc, good_values_stored);
    tcase_add_test(tc, go_spellings);
    tcase_add_test(tc, help_and_version);
    tcase_add_loop_test(tc, bad_values_refused, 0,
                        (int)(sizeof(bad_lines) / sizeof(bad_lines[0])));
    tcase_add_test(tc, usage_lists_every_flag);
    tcase_add_test(tc, priority_config_sources);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
