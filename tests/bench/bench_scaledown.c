/* Scale-down benchmark: one planning pass over generated clusters (every node evaluated,
 * removals simulated), each case in its own process so that its peak RSS is its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_util.h"
#include "model/model.h"
#include "plugin/plugin.h"
#include "scaledown/scaledown.h"

struct bench_case {
    const char *name;
    uint32_t nodes, pods_per_node, groups;
    int go_shape;             /* the Go autoscaler's BenchmarkRunOnceScaleDown cluster */
    int64_t expect_removable; /* -1: not checked */
    double budget_s;          /* the bound */
};

static int
upsert(struct model *m, json_t *o)
{
    int rc = o ? model_upsert(m, o, NULL) : NSC_ERR_NOMEM;
    json_decref(o);
    return rc;
}

static json_t *
node_json(const char *name, const char *cpu, const char *mem)
{
    char pid[128];
    snprintf(pid, sizeof(pid), "static://%s", name);
    return json_pack("{s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{s:s}, s:{s:{s:s, s:s, s:s}, "
                     "s:[{s:s, s:s}]}}",
                     "kind", "Node", "metadata", "name", name, "creationTimestamp",
                     "2026-01-01T00:00:00Z", "labels", "kubernetes.io/hostname", name,
                     "topology.kubernetes.io/zone", "z1", "spec", "providerID", pid, "status",
                     "allocatable", "cpu", cpu, "memory", mem, "pods", "110", "conditions",
                     "type", "Ready", "status", "True");
}

static json_t *
pod_json(const char *ns, const char *name, const char *node, const char *owner_kind,
         const char *owner, const char *app, const char *cpu, const char *mem, int safe)
{
    json_t *p = json_pack("{s:s, s:{s:s, s:s, s:s, s:{s:s}, s:[{s:s, s:s, s:s, s:s, s:b}]}, "
                          "s:{s:s, s:[{s:s, s:s, s:{s:{s:s, s:s}}}]}, s:{s:s}}",
                          "kind", "Pod", "metadata", "name", name, "namespace", ns,
                          "creationTimestamp", "2026-01-01T00:00:00Z", "labels", "app", app,
                          "ownerReferences", "apiVersion", "apps/v1", "kind", owner_kind,
                          "name", owner, "uid", owner, "controller", 1, "spec", "nodeName",
                          node, "containers", "name", "c", "image", "app", "resources",
                          "requests", "cpu", cpu, "memory", mem, "status", "phase", "Running");
    if (p && safe)
        json_object_set_new(
            json_object_get(p, "metadata"), "annotations",
            json_pack("{s:s}", "cluster-autoscaler.kubernetes.io/safe-to-evict", "true"));
    return p;
}

/*
 * General shape: nodes of 8 cpu / 32 GiB; one DaemonSet pod per node and the rest from
 * deployments of 50 replicas whose size depends on the node (100m, 150m, 200m, 250m cpu),
 * so a quarter of the nodes sit under the threshold and must be simulated; one
 * deployment in ten has a PDB allowing 2 disruptions.
 * Go shape: nodes of 10000m / 10000 bytes, 40 safe-to-evict pods of 1% each (40%).
 */
static int
build(const struct bench_case *bc, struct model *m, struct group_set *gs)
{
    static const char *const cpus[] = {"100m", "150m", "200m", "250m"};
    char name[64], pname[160], owner[64];
    gs->n_groups = bc->groups;
    gs->groups = calloc(bc->groups, sizeof(*gs->groups));
    if (!gs->groups)
        return NSC_ERR_NOMEM;
    uint32_t per_group = (bc->nodes + bc->groups - 1) / bc->groups;
    for (uint32_t g = 0; g < bc->groups; g++) {
        struct group_rec *r = &gs->groups[g];
        snprintf(name, sizeof(name), "pool-%u", g);
        r->id = strdup(name);
        r->min_size = 0;
        r->max_size = 100000;
        r->instances = calloc(per_group, sizeof(*r->instances));
        if (!r->id || !r->instances)
            return NSC_ERR_NOMEM;
    }
    uint32_t deploy = 0, in_deploy = 0;
    for (uint32_t i = 0; i < bc->nodes; i++) {
        snprintf(name, sizeof(name), "node-%05u", i);
        struct group_rec *r = &gs->groups[i / per_group];
        snprintf(pname, sizeof(pname), "static://%s", name);
        r->instances[r->n_instances].provider_id = strdup(pname);
        r->instances[r->n_instances++].state = NSC_INSTANCE_RUNNING;
        r->target_size = (int32_t)r->n_instances;
        int rc = upsert(m, bc->go_shape ? node_json(name, "10", "10000")
                                        : node_json(name, "8", "32Gi"));
        if (rc < 0)
            return rc;
        for (uint32_t k = 0; k < bc->pods_per_node; k++) {
            snprintf(pname, sizeof(pname), "p-%05u-%02u", i, k);
            json_t *p;
            if (bc->go_shape) {
                p = pod_json("default", pname, name, "ReplicaSet", "rs-go", "go", "100m", "100",
                             1);
            } else if (k == 0) {
                p = pod_json("kube-system", pname, name, "DaemonSet", "ds-agent", "agent",
                             "100m", "128Mi", 0);
            } else {
                /* Deployments fill node classes in turn: each is sized for its class. */
                const char *cpu = cpus[i % 4];
                snprintf(owner, sizeof(owner), "rs-%u-%u", i % 4, deploy);
                p = pod_json("default", pname, name, "ReplicaSet", owner, owner, cpu, "256Mi",
                             0);
                if (++in_deploy == 50) {
                    in_deploy = 0;
                    deploy++;
                }
            }
            if ((rc = upsert(m, p)) < 0)
                return rc;
        }
    }
    if (!bc->go_shape) {
        for (uint32_t d = 0; d < deploy; d += 10) {
            snprintf(owner, sizeof(owner), "pdb-%u", d);
            for (int c = 0; c < 4; c++) {
                char app[96], pn[160];
                snprintf(app, sizeof(app), "rs-%d-%u", c, d);
                snprintf(pn, sizeof(pn), "%s-%d", owner, c);
                int rc = upsert(m, json_pack("{s:s, s:{s:s, s:s}, s:{s:i, s:{s:{s:s}}}, "
                                             "s:{s:i}}",
                                             "kind", "PodDisruptionBudget", "metadata", "name",
                                             pn, "namespace", "default", "spec",
                                             "maxUnavailable", 2, "selector", "matchLabels",
                                             "app", app, "status", "disruptionsAllowed", 2));
                if (rc < 0)
                    return rc;
            }
        }
    }
    return 0;
}

static int
run_case(const struct bench_case *bc)
{
    struct model *m = model_new();
    struct group_set gs = {0};
    if (!m || build(bc, m, &gs) < 0) {
        fprintf(stderr, "%s: building the cluster failed\n", bc->name);
        return 1;
    }
    struct scaledown_options o;
    scaledown_options_default(&o);
    o.unneeded_time_s = 0;
    if (bc->go_shape) {
        /* As the Go benchmark: parallelism 2000, unneeded time 0. */
        o.max_parallelism = 2000;
        o.max_drain_parallelism = 2000;
    }
    struct scaledown_state st = {.now_s = 1767229200}; /* 2026-01-01T01:00:00Z */
    struct scaledown_journal j;
    char err[256] = "";
    double t0 = bench_now_s();
    double c0 = bench_cpu_s();
    int rc = scaledown_plan(m, &gs, &o, &st, &j, err, sizeof(err));
    double wall = bench_now_s() - t0, cpu = bench_cpu_s() - c0;
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", bc->name, err);
        return 1;
    }
    size_t n_blocked = 0, n_noplace = 0, n_busy = 0;
    for (size_t i = 0; i < j.n_nodes; i++) {
        n_blocked += j.nodes[i].reason == SD_REASON_BLOCKED_BY_POD;
        n_noplace += j.nodes[i].reason == SD_REASON_NO_PLACE_TO_MOVE_PODS;
        n_busy += j.nodes[i].reason == SD_REASON_NOT_UNDERUTILIZED;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("| %s | %u | %u | %zu | %zu | %zu | %zu | %zu | %.0f / %.0f | %.1f | %s |\n",
           bc->name, bc->nodes, bc->nodes * bc->pods_per_node, j.n_removable + j.n_unneeded,
           j.n_removable, n_busy, n_blocked, n_noplace, wall * 1000, cpu * 1000,
           ru.ru_maxrss / 1024.0, wall <= bc->budget_s ? "ok" : "OVER");
    fflush(stdout);
    int bad = 0;
    if (bc->expect_removable >= 0 && (int64_t)j.n_removable != bc->expect_removable) {
        fprintf(stderr, "%s: %zu removable, expected %lld\n", bc->name, j.n_removable,
                (long long)bc->expect_removable);
        bad = 1;
    }
    scaledown_journal_free(&j);
    group_set_free(&gs);
    model_free(m);
    return bad;
}

static const char *
case_name(const void *c)
{
    return ((const struct bench_case *)c)->name;
}

static int
case_run(const void *c)
{
    return run_case(c);
}

int
main(int argc, char **argv)
{
    static const struct bench_case cases[] = {
        {"small", 200, 30, 4, 0, -1, 1.0},
        {"5k-x30", 5000, 30, 10, 0, -1, 1.0},
        {"15k-x30", 15000, 30, 30, 0, -1, 5.0},
        {"go-2k-x40", 2000, 40, 1, 1, 1200, 1.0},
    };
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--case=", 7) == 0) {
            only = argv[i] + 7;
        } else {
            fprintf(stderr, "usage: %s [--case=NAME]\n", argv[0]);
            return 2;
        }
    }
    printf("| case | nodes | pods | unneeded | removable | busy | blocked | no place | plan ms "
           "(wall / cpu) | peak MB | bound |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    return bench_run_cases(cases, sizeof(cases) / sizeof(cases[0]), sizeof(cases[0]), only,
                           case_name, case_run);
}
