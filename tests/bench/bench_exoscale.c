/* Exoscale API calls per control loop of the sks and instance-pool backends against the
 * emulator, at 10, 100 and 1,000 nodes: the first (cold) refresh, the steady state at a
 * 10 s scan interval on a simulated clock, and a loop with a scale-up in flight.
 * Usage: bench_exoscale [NODES...] (default 10 100 1000). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "exoscale_emu.h"
#include "plugin/plugin.h"

#define KEY "EXObench000000000000000001"
#define SECRET "bench-secret-0123456789abcdefghijklmnopqrs"
#define N_GROUPS 5
#define LOOPS 30
#define SCAN_MS 10000

static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A world with N_GROUPS nodepools (sks) or standalone pools sharing `nodes` instances. */
static json_t *
make_world(int nodes, int sks)
{
    json_t *w =
        json_pack("{s:s,s:[{s:s,s:s,s:s}],s:[{s:s,s:s,s:s,s:i,s:i,s:I}],s:[{s:s,s:i}]}", "zone",
                  "ch-gva-2", "credentials", "key", KEY, "secret", SECRET, "operations", "*",
                  "instance-types", "id", "b6cd1ff5-3a2f-4e9d-a4d1-8988c1191fe8", "family",
                  "standard", "size", "medium", "cpus", 2, "gpus", 0, "memory",
                  (json_int_t)4294967296LL, "quotas", "resource", "instance", "limit", -1);
    json_t *groups = json_array();
    int g;

    for (g = 0; g < N_GROUPS; g++) {
        int size = nodes / N_GROUPS + (g < nodes % N_GROUPS ? 1 : 0);
        char name[32];

        snprintf(name, sizeof(name), "group-%d", g);
        json_array_append_new(groups, json_pack("{s:s,s:i,s:{s:s},s:{s:s}}", "name", name,
                                                "size", size, "instance-type", "id",
                                                "b6cd1ff5-3a2f-4e9d-a4d1-8988c1191fe8",
                                                "labels", "bench", "yes"));
    }
    if (sks)
        json_object_set_new(w, "sks-clusters",
                            json_pack("[{s:s,s:o}]", "name", "bench", "nodepools", groups));
    else
        json_object_set_new(w, "instance-pools", groups);
    return w;
}

static long
peak_rss_kib(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int
run(const char *backend_name, int nodes)
{
    struct exo_emu_opts o;
    struct exo_emu *emu = NULL;
    struct plugin *plug = NULL;
    struct nsc_backend *be = NULL;
    const struct nsc_backend_ops *ops;
    struct nsc_host *host = NULL;
    char err[1024], endpoint[64];
    struct nsc_option opts[] = {{"api-key", KEY},
                                {"api-secret", SECRET},
                                {"zone", "ch-gva-2"},
                                {"api-endpoint", NULL},
                                {"nodes", "0:2000:group-0"}};
    int64_t clock_ms = wall_ms();
    uint64_t c0, cold, steady, scale;
    double t0, t_refresh = 0;
    int i, rc = 1;
    json_t *w = make_world(nodes, strcmp(backend_name, "sks") == 0);

    memset(&o, 0, sizeof(o));
    o.state = w;
    if (exo_emu_start(&o, &emu, err, sizeof(err)) < 0) {
        fprintf(stderr, "emulator: %s\n", err);
        goto done;
    }
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u/v2", (unsigned)exo_emu_port(emu));
    opts[3].value = endpoint;
    host = host_new(backend_name, opts, 5, &clock_ms);
    if (host == NULL || plugin_load(backend_name, &plug, err, sizeof(err)) < 0) {
        fprintf(stderr, "load %s: %s\n", backend_name, err);
        goto done;
    }
    ops = plugin_ops(plug);
    if (ops->create(host, opts, 5, &be, err, sizeof(err)) < 0) {
        fprintf(stderr, "create: %s\n", err);
        goto done;
    }
    c0 = exo_emu_calls(emu, NULL);
    if (ops->refresh(be) < 0) {
        fprintf(stderr, "refresh: %s\n", ops->last_error(be));
        goto done;
    }
    cold = exo_emu_calls(emu, NULL) - c0;
    c0 = exo_emu_calls(emu, NULL);
    for (i = 0; i < LOOPS; i++) {
        clock_ms += SCAN_MS;
        t0 = mono_s();
        if (ops->refresh(be) < 0) {
            fprintf(stderr, "refresh: %s\n", ops->last_error(be));
            goto done;
        }
        t_refresh += mono_s() - t0;
    }
    steady = exo_emu_calls(emu, NULL) - c0;
    /* One loop that starts a scale-up and the loop after it. */
    c0 = exo_emu_calls(emu, NULL);
    {
        char gid[64] = "";
        /* The first group's id: read it back from the emulator's world. */
        json_t *snap = exo_emu_snapshot(emu);
        json_t *arr =
            strcmp(backend_name, "sks") == 0
                ? json_object_get(json_array_get(json_object_get(snap, "sks-clusters"), 0),
                                  "nodepools")
                : json_object_get(snap, "instance-pools");
        size_t k;
        json_t *g;

        json_array_foreach(arr, k, g)
        {
            if (strcmp(json_string_value(json_object_get(g, "name")), "group-0") == 0)
                snprintf(gid, sizeof(gid), "%s", json_string_value(json_object_get(g, "id")));
        }
        json_decref(snap);
        if (ops->resize(be, gid, (int32_t)(nodes / N_GROUPS + 2)) < 0) {
            fprintf(stderr, "resize %s: %s\n", gid, ops->last_error(be));
            goto done;
        }
        clock_ms += SCAN_MS;
        if (ops->refresh(be) < 0)
            goto done;
    }
    scale = exo_emu_calls(emu, NULL) - c0;
    printf("%-14s %6d nodes %2d groups: cold refresh %3llu calls; steady %.2f calls/loop "
           "(%llu in %d loops at %d s, %.2f ms/refresh); scale-up loop + next %llu calls; "
           "peak RSS %ld KiB\n",
           backend_name, nodes, N_GROUPS, (unsigned long long)cold, (double)steady / LOOPS,
           (unsigned long long)steady, LOOPS, SCAN_MS / 1000, t_refresh * 1000 / LOOPS,
           (unsigned long long)scale, peak_rss_kib());
    rc = 0;
done:
    if (be != NULL)
        plugin_ops(plug)->destroy(be);
    if (plug != NULL)
        plugin_unload(plug);
    host_free(host);
    exo_emu_stop(emu);
    json_decref(w);
    return rc;
}

int
main(int argc, char **argv)
{
    static const int dflt[] = {10, 100, 1000};
    int i, rc = 0;

    if (argc > 1) {
        for (i = 1; i < argc; i++) {
            rc |= run("sks", atoi(argv[i]));
            rc |= run("instance-pool", atoi(argv[i]));
        }
        return rc;
    }
    for (i = 0; i < 3; i++) {
        rc |= run("sks", dflt[i]);
        rc |= run("instance-pool", dflt[i]);
    }
    return rc;
}
