/* Engine benchmarks: snapshot ingest, scale-up planning and the full planning pass on
 * generated clusters, each case in its own process so its peak RSS is its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_util.h"
#include "gen.h"
#include "log.h"
#include "loop/replay.h"

static int
groups_from_file(FILE *f, struct group_set *gs)
{
    json_error_t jerr;
    rewind(f);
    json_t *root = json_loadf(f, 0, &jerr);
    if (!root)
        return -1;
    json_t *arr = json_object_get(root, "groups");
    gs->n_groups = json_array_size(arr);
    gs->groups = calloc(gs->n_groups + 1, sizeof(*gs->groups));
    size_t i;
    json_t *g;
    json_array_foreach(arr, i, g)
    {
        struct group_rec *r = &gs->groups[i];
        r->id = strdup(json_string_value(json_object_get(g, "id")));
        r->min_size = (int32_t)json_integer_value(json_object_get(g, "min"));
        r->max_size = (int32_t)json_integer_value(json_object_get(g, "max"));
        r->target_size = (int32_t)json_integer_value(json_object_get(g, "target"));
        json_t *inst = json_object_get(g, "instances");
        r->n_instances = json_array_size(inst);
        r->instances = calloc(r->n_instances + 1, sizeof(*r->instances));
        for (size_t k = 0; k < r->n_instances; k++)
            r->instances[k].provider_id = strdup(json_string_value(json_array_get(inst, k)));
    }
    json_decref(root);
    return 0;
}

struct bench_case {
    const char *name;
    const char *what;
    struct gen_params p;
    int plan_runs;
};

/* Runs in a child: prints one result line. */
static int
run_case(const struct bench_case *bc)
{
    FILE *snap = tmpfile(), *grp = tmpfile();
    if (!snap || !grp || gen_write(&bc->p, snap, grp) < 0) {
        fprintf(stderr, "%s: cannot generate\n", bc->name);
        return 1;
    }
    fflush(snap);
    long bytes = ftell(snap);
    rewind(snap);
    struct group_set gs = {0};
    if (groups_from_file(grp, &gs) < 0) {
        fprintf(stderr, "%s: cannot read groups\n", bc->name);
        return 1;
    }
    long rss0 = bench_rss_kib();
    struct model *m = model_new();
    char err[400];
    struct model_load_stats st;
    double t0 = bench_now_s(), c0 = bench_cpu_s();
    if (model_load_stream(m, snap, bc->name, &st, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", bc->name, err);
        return 1;
    }
    double t_ingest = bench_now_s() - t0, c_ingest = bench_cpu_s() - c0;
    long rss1 = bench_rss_kib();
    struct scaleup_options o;
    scaleup_options_default(&o);
    double best = 1e9, best_cpu = 1e9;
    size_t n_new = 0, n_fit = 0, n_none = 0;
    for (int r = 0; r < bc->plan_runs; r++) {
        struct scaleup_result res;
        t0 = bench_now_s();
        c0 = bench_cpu_s();
        if (scaleup_plan(m, &gs, &o, &res, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s: %s\n", bc->name, err);
            return 1;
        }
        double t = bench_now_s() - t0, c = bench_cpu_s() - c0;
        if (t < best)
            best = t;
        if (c < best_cpu)
            best_cpu = c;
        n_new = 0;
        for (size_t i = 0; i < res.n_increases; i++)
            n_new += (size_t)(res.increases[i].to - res.increases[i].from);
        n_fit = res.n_fits;
        n_none = res.n_none;
        scaleup_result_free(&res);
    }
    /* The full pass: ingest, plan, decision object. */
    rewind(snap);
    t0 = bench_now_s();
    c0 = bench_cpu_s();
    struct model *m2 = model_new();
    json_t *d = NULL;
    if (model_load_stream(m2, snap, bc->name, NULL, err, sizeof(err)) < 0 ||
        replay_decide(m2, &gs, &o, &d, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", bc->name, err);
        return 1;
    }
    double t_full = bench_now_s() - t0, c_full = bench_cpu_s() - c0;
    json_decref(d);
    model_free(m2);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf(
        "| %-14s | %6u | %7u | %6u | %6.1f | %6.2f / %6.2f | %4.0f | %7.1f / %7.1f | %7.0f / "
        "%7.0f | %5zu | %5zu | %5zu | %6.0f | %5ld |\n",
        bc->name, bc->p.nodes, st.n_pods, bc->p.pending, (double)bytes / 1e6, t_ingest,
        c_ingest, (double)bytes / 1e6 / c_ingest, best * 1e3, best_cpu * 1e3, t_full * 1e3,
        c_full * 1e3, n_new, n_fit, n_none, (double)ru.ru_maxrss / 1024.0,
        st.n_pods ? (rss1 - rss0) * 1024 / (long)st.n_pods : 0L);
    fflush(stdout);
    model_free(m);
    group_set_free(&gs);
    fclose(snap);
    fclose(grp);
    return 0;
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
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--case=", 7) == 0)
            only = argv[i] + 7;
        else {
            fprintf(stderr, "usage: %s [--case=NAME]\n", argv[0]);
            return 2;
        }
    }
    log_set_level(NSC_LOG_ERROR);
    struct bench_case cases[16];
    size_t n = 0;
#define CASE(nm, w, runs, ...)                                                                 \
    do {                                                                                       \
        struct bench_case *c = &cases[n++];                                                    \
        c->name = nm;                                                                          \
        c->what = w;                                                                           \
        c->plan_runs = runs;                                                                   \
        gen_defaults(&c->p);                                                                   \
        __VA_ARGS__;                                                                           \
    } while (0)
    CASE("small", "CI smoke", 1, c->p.nodes = 100, c->p.pending = 100, c->p.groups = 4);
    CASE("500", "ratio base", 3, c->p.nodes = 500, c->p.pending = 500, c->p.groups = 10);
    /* The same 20 groups as the 5k case: time(5k) / time(500) compares cluster sizes alone;
     * with 10 groups it would also count the doubled group count. */
    CASE("500-20g", "ratio base, 20 groups", 3, c->p.nodes = 500, c->p.pending = 500,
         c->p.groups = 20);
    CASE("1k", "target 50 ms", 3, c->p.nodes = 1000, c->p.pending = 1000, c->p.groups = 10);
    CASE("1k-no-anti", "anti-affinity base", 3, c->p.nodes = 1000, c->p.pending = 1000,
         c->p.groups = 10, c->p.anti_pct = 0);
    CASE("5k", "target 250 ms", 3, c->p.nodes = 5000, c->p.pending = 5000, c->p.groups = 20);
    CASE("5k-no-anti", "anti-affinity base", 3, c->p.nodes = 5000, c->p.pending = 5000,
         c->p.groups = 20, c->p.anti_pct = 0);
    CASE("50k-identical", "target 1 s", 3, c->p.nodes = 10, c->p.groups = 1,
         c->p.pending = 50000, c->p.identical = 1, c->p.pods_per_node = 1);
    CASE("15k-memory", "<= 1 KiB/pod, <= 600 MB", 1, c->p.nodes = 15000, c->p.pending = 0,
         c->p.groups = 30);
#undef CASE
    /* Times are wall / CPU of this process: on a shared machine the CPU figure is the one
     * that does not depend on the neighbours. MB/s is per CPU second. */
    printf(
        "| case | nodes | pods | pending | MB | ingest s (wall / cpu) | MB/s | plan ms (wall / "
        "cpu) | full pass ms (wall / cpu) | new nodes | fit | no plan | peak RSS MB | "
        "bytes/pod "
        "|\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    return bench_run_cases(cases, n, sizeof(cases[0]), only, case_name, case_run);
}
