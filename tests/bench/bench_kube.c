/* Benchmark of the Kubernetes client against the emulator: the initial paginated list of
 * a large cluster (split only, decoded, into the model), watch event throughput, and
 * reconnect + relist after a 410 with some objects changed meanwhile. Usage: bench_kube
 * EMULATOR [NODES PODS EVENTS [CHANGED]]. Each phase gives wall time, the client's CPU
 * time, the emulator's CPU time and the load average, so that the client's own cost can
 * be told from the emulator's and from the neighbours'. */
#include "config.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/informer.h"
#include "kube/sync.h"
#include "log.h"
#include "model/model.h"

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process (the client; the emulator is another process): on a shared
 * machine the wall time says more about the neighbours than about the client. */
static double
cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* CPU seconds of another process (the emulator, all its threads). */
static double
proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the command name (which may hold blanks): state is field 3 */
    if ((p = strrchr(buf, ')')) == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double
loadavg1(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double l = -1;

    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

/* One measured phase: wall, client CPU, emulator CPU, load average at its end. */
struct phase {
    double t0, c0, e0;
    double wall, cpu, emu_cpu, load;
};

static pid_t emu_pid;

static void
phase_start(struct phase *ph)
{
    ph->t0 = now_s();
    ph->c0 = cpu_s();
    ph->e0 = proc_cpu_s(emu_pid);
}

static void
phase_end(struct phase *ph)
{
    ph->wall = now_s() - ph->t0;
    ph->cpu = cpu_s() - ph->c0;
    ph->emu_cpu = proc_cpu_s(emu_pid) - ph->e0;
    ph->load = loadavg1();
}

static void
phase_print(const char *what, const struct phase *ph)
{
    printf("    %s: wall %.2f s, client CPU %.2f s, emulator CPU %.2f s, load average %.1f\n",
           what, ph->wall, ph->cpu, ph->emu_cpu, ph->load);
}

static long
rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;

    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static int
count_raw(void *ud, const char *json, size_t len)
{
    (void)json;
    (void)len;
    (*(long *)ud)++;
    return 0;
}

static void
count_raw_event(void *ud, enum kube_event_type type, const char *json, size_t len,
                const struct kube_raw_meta *meta)
{
    (void)type;
    (void)json;
    (void)len;
    (void)meta;
    (*(long *)ud)++;
}

static int
count_item(void *ud, json_t *item)
{
    (void)item;
    (*(long *)ud)++;
    return 0;
}

static void
write_cluster(const char *path, int n_nodes, int n_pods)
{
    FILE *f = fopen(path, "w");
    int i;

    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fputs("{\"kind\":\"List\",\"items\":[", f);
    for (i = 0; i < n_nodes; i++)
        fprintf(
            f,
            "%s{\"kind\":\"Node\",\"metadata\":{\"name\":\"node-%05d\",\"labels\":{"
            "\"kubernetes.io/hostname\":\"node-%05d\",\"kubernetes.io/os\":\"linux\","
            "\"topology.kubernetes.io/zone\":\"zone-%d\",\"node.kubernetes.io/instance-type\":"
            "\"standard.large\",\"pool\":\"pool-%d\"},\"annotations\":{"
            "\"node.alpha.kubernetes.io/ttl\":\"0\"}},\"spec\":{\"providerID\":"
            "\"static://node-%05d\",\"podCIDR\":\"10.%d.%d.0/24\"},\"status\":{\"capacity\":{"
            "\"cpu\":\"8\",\"memory\":\"32Gi\",\"pods\":\"110\",\"ephemeral-storage\":"
            "\"100Gi\"},"
            "\"allocatable\":{\"cpu\":\"7800m\",\"memory\":\"31Gi\",\"pods\":\"110\","
            "\"ephemeral-storage\":\"95Gi\"},\"conditions\":[{\"type\":\"MemoryPressure\","
            "\"status\":\"False\",\"reason\":\"KubeletHasSufficientMemory\"},{\"type\":"
            "\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"lastHeartbeatTime\":"
            "\"2026-11-26T10:00:00Z\",\"lastTransitionTime\":\"2026-11-26T09:00:00Z\"}],"
            "\"nodeInfo\":{\"kubeletVersion\":\"v1.30.1\",\"osImage\":\"Debian GNU/Linux "
            "12\"}}}",
            i ? "," : "", i, i, i % 3, i % 10, i, (i >> 8) & 255, i & 255);
    for (i = 0; i < n_pods; i++)
        fprintf(
            f,
            ",{\"kind\":\"Pod\",\"metadata\":{\"name\":\"app-%d-%06d\",\"namespace\":\"ns-%"
            "03d\","
            "\"uid\":\"6f1c0a52-%08x-4e5b-9c1d-0242ac120002\",\"labels\":{\"app\":\"app-%d\","
            "\"pod-template-hash\":\"7d9f8c6b5\"},\"ownerReferences\":[{\"apiVersion\":\"apps/"
            "v1\","
            "\"kind\":\"ReplicaSet\",\"name\":\"app-%d-7d9f8c6b5\",\"uid\":\"r-%d\","
            "\"controller\":true,\"blockOwnerDeletion\":true}],\"creationTimestamp\":"
            "\"2026-11-26T09:10:00Z\"},\"spec\":{\"nodeName\":\"node-%05d\",\"containers\":[{"
            "\"name\":\"main\",\"image\":\"registry.example/app-%d:1.4.2\",\"ports\":[{"
            "\"containerPort\":8080,\"protocol\":\"TCP\"}],\"resources\":{\"requests\":{"
            "\"cpu\":"
            "\"100m\",\"memory\":\"128Mi\"},\"limits\":{\"memory\":\"256Mi\"}},\"env\":[{"
            "\"name\":"
            "\"MODE\",\"value\":\"production\"}]}],\"restartPolicy\":\"Always\","
            "\"schedulerName\":\"default-scheduler\",\"priority\":0,\"tolerations\":[{\"key\":"
            "\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\",\"effect\":\"NoExecute\","
            "\"tolerationSeconds\":300},{\"key\":\"node.kubernetes.io/"
            "unreachable\",\"operator\":"
            "\"Exists\",\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]},\"status\":{"
            "\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},{"
            "\"type\":\"PodScheduled\",\"status\":\"True\"}],\"podIP\":\"10.%d.%d.%d\","
            "\"startTime\":\"2026-11-26T09:10:01Z\"}}",
            i % 500, i, i % 200, (unsigned)i, i % 500, i % 500, i % 500, i % n_nodes, i % 500,
            (i >> 16) & 255, (i >> 8) & 255, i & 255);
    fputs("]}\n", f);
    fclose(f);
}

static int
admin(int port, const char *what, const char *body, json_t **out)
{
    CURL *e = curl_easy_init();
    char url[256];
    long code = 0;
    struct {
        char *d;
        size_t n;
    } buf = {NULL, 0};
    FILE *mem = open_memstream(&buf.d, &buf.n);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/admin/%s", port, what);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "{}");
    curl_easy_setopt(e, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 600L);
    curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(e);
    fclose(mem);
    if (out)
        *out = json_loadb(buf.d, buf.n, 0, NULL);
    free(buf.d);
    return code == 200 ? 0 : -1;
}

int
main(int argc, char **argv)
{
    int n_nodes = argc > 2 ? atoi(argv[2]) : 5000;
    int n_pods = argc > 3 ? atoi(argv[3]) : 150000;
    int n_events = argc > 4 ? atoi(argv[4]) : 100000;
    int n_changed = argc > 5 ? atoi(argv[5]) : n_pods / 10;
    char dir[] = "/tmp/nsc-bench-kube-XXXXXX", data[256], portf[256], kc[256], err[512],
         tbuf[128];
    struct kube_config *cfg;
    struct kube_client *c;
    struct kube_client_opts o = {0};
    struct kube_sync *sync;
    struct model *m;
    const struct kube_informer *pods_inf;
    const struct kube_reflector *pods_refl;
    struct phase ph;
    json_t *stats = NULL;
    double mb, mb_pods;
    long rss0, rss1, base_events, relists, unchanged0;
    pid_t emu;
    int port = 0, i;
    FILE *f;

    if (argc < 2 || n_nodes < 1 || n_pods < 0 || n_events < 0 || n_changed < 0) {
        fprintf(stderr, "usage: bench_kube EMULATOR [NODES PODS EVENTS [CHANGED]]\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_set_level(NSC_LOG_WARNING);
    if (mkdtemp(dir) == NULL)
        return 1;
    snprintf(data, sizeof(data), "%s/cluster.json", dir);
    snprintf(portf, sizeof(portf), "%s/port", dir);
    snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
    write_cluster(data, n_nodes, n_pods);
    emu = fork();
    if (emu == 0) {
        char a1[300], a2[300];

        snprintf(a1, sizeof(a1), "--port-file=%s", portf);
        snprintf(a2, sizeof(a2), "--load=%s", data);
        execl(argv[1], argv[1], a1, a2, (char *)NULL);
        _exit(127);
    }
    emu_pid = emu;
    for (i = 0; i < 3000 && port == 0; i++) {
        usleep(100000);
        if ((f = fopen(portf, "r")) != NULL) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
    }
    if (port == 0) {
        fprintf(stderr, "bench_kube: the emulator did not start\n");
        kill(emu, SIGTERM);
        return 1;
    }
    f = fopen(kc, "w");
    fprintf(f,
            "current-context: b\nclusters:\n- name: e\n  cluster: {server: "
            "\"http://127.0.0.1:%d\"}\n"
            "contexts:\n- name: b\n  context: {cluster: e}\n",
            port);
    fclose(f);
    if (kube_config_load_kubeconfig(kc, NULL, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    o.qps = -1;
    o.timeout_ms = 300000;
    if (kube_client_new(cfg, &o, &c, err, sizeof(err)) != 0)
        return 1;
    admin(port, "stats", NULL, &stats);
    mb_pods =
        (double)json_integer_value(json_object_get(json_object_get(stats, "bytes"), "pods")) /
        1e6;
    mb = mb_pods +
         (double)json_integer_value(json_object_get(json_object_get(stats, "bytes"), "nodes")) /
             1e6;
    json_decref(stats);
    printf("bench kube: %d nodes, %d pods: %.1f MB of JSON as the emulator serves it "
           "(pages of 500)\n",
           n_nodes, n_pods, mb);

    /* 0. the client's transport and list splitting alone: no decoding at all */
    {
        struct kube_resp resp;
        long n = 0;

        phase_start(&ph);
        kube_list_raw(c, "/api/v1/pods", NULL, 500, count_raw, &n, NULL, 0, &resp);
        kube_list_raw(c, "/api/v1/nodes", NULL, 500, count_raw, &n, NULL, 0, &resp);
        phase_end(&ph);
        kube_resp_clear(&resp);
        printf("bench kube: list, items split but not decoded: %ld objects, %.1f MB/s wall, "
               "%.1f MB per client CPU second\n",
               n, mb / ph.wall, mb / ph.cpu);
        phase_print("raw list", &ph);
    }
    /* 0b. the same, each item decoded by jansson (what the model is handed today) */
    {
        struct kube_resp resp;
        long n = 0;

        phase_start(&ph);
        kube_list(c, "/api/v1/pods", NULL, 500, count_item, &n, NULL, 0, &resp);
        kube_list(c, "/api/v1/nodes", NULL, 500, count_item, &n, NULL, 0, &resp);
        phase_end(&ph);
        kube_resp_clear(&resp);
        printf("bench kube: list, items decoded (jansson), no model: %ld objects, %.1f MB/s "
               "wall, %.1f MB per client CPU second\n",
               n, mb / ph.wall, mb / ph.cpu);
        phase_print("decoded list", &ph);
    }

    /* 1. initial list through pagination, applied to the model */
    rss0 = rss_kb();
    m = model_new();
    kube_sync_new(c, m, &sync);
    phase_start(&ph);
    while (!kube_sync_synced(sync))
        kube_sync_run(sync, 1000);
    phase_end(&ph);
    rss1 = rss_kb();
    printf("bench kube: initial list into the model: %.1f MB/s wall, %.1f MB per client CPU "
           "second; RSS +%.0f MB (model and informer index)\n",
           mb / ph.wall, mb / ph.cpu, (double)(rss1 - rss0) / 1024.0);
    phase_print("initial list", &ph);

    /* 2. watch throughput: the emulator queues n_events changes, then we drain them */
    pods_inf = kube_informers_find(kube_sync_informers(sync), "pods");
    pods_refl = kube_informer_reflector(pods_inf);
    kube_sync_run(sync, 200); /* the watch is open */
    base_events = pods_refl->n_watch_events;
    snprintf(tbuf, sizeof(tbuf), "{\"resource\":\"pods\",\"count\":%d}", n_events);
    admin(port, "touch", tbuf, NULL); /* queued first: the client's rate is measured alone */
    phase_start(&ph);
    while (pods_refl->n_watch_events - base_events < n_events && now_s() - ph.t0 < 300)
        kube_sync_run(sync, 100);
    phase_end(&ph);
    printf("bench kube: %ld watch events (MODIFIED pods) applied to the model: %.0f events/s "
           "wall, %.0f events per client CPU second\n",
           pods_refl->n_watch_events - base_events,
           (double)(pods_refl->n_watch_events - base_events) / ph.wall,
           (double)(pods_refl->n_watch_events - base_events) / ph.cpu);
    phase_print("watch", &ph);

    /* 3. 410: every resourceVersion expires, n_changed pods change unseen, the watches
     * drop; relist and watch again */
    relists = pods_refl->n_relists;
    unchanged0 = kube_informer_n_unchanged(pods_inf);
    snprintf(tbuf, sizeof(tbuf), "{\"resource\":\"pods\",\"count\":%d}", n_changed);
    admin(port, "expire", tbuf, NULL);
    phase_start(&ph);
    while ((pods_refl->n_relists == relists || pods_refl->state != KUBE_REFL_WATCHING) &&
           now_s() - ph.t0 < 300)
        kube_sync_run(sync, 50);
    phase_end(&ph);
    printf("bench kube: reconnect + relist of %d pods (%.1f MB) after a 410, %d changed "
           "meanwhile: %.2f s wall, %.2f s client CPU (%ld items unchanged, not decoded)\n",
           n_pods, mb_pods, n_changed, ph.wall, ph.cpu,
           kube_informer_n_unchanged(pods_inf) - unchanged0);
    phase_print("relist", &ph);
    {
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        printf("bench kube: peak RSS of the client process %.0f MB\n",
               (double)ru.ru_maxrss / 1024.0);
    }
    kube_sync_free(sync);
    model_free(m);

    /* 4. the watch again, on an informer that hands on raw text: the client's own cost
     * per event (line splitting, envelope and metadata read, index), without decoding */
    {
        struct kube_informers *set;
        struct kube_informer *inf;
        struct kube_informer_opts io = {0};
        long n_raw = 0;

        io.name = "pods";
        io.path = "/api/v1/pods";
        io.kind = "Pod";
        io.on_raw_event = count_raw_event;
        io.ud = &n_raw;
        kube_informers_new(c, &set);
        kube_informers_add(set, &io, &inf);
        while (!kube_informers_synced(set))
            kube_informers_run(set, 1000);
        kube_informers_run(set, 200);
        pods_refl = kube_informer_reflector(inf);
        base_events = pods_refl->n_watch_events;
        snprintf(tbuf, sizeof(tbuf), "{\"resource\":\"pods\",\"count\":%d}", n_events);
        admin(port, "touch", tbuf, NULL);
        phase_start(&ph);
        while (pods_refl->n_watch_events - base_events < n_events && now_s() - ph.t0 < 300)
            kube_informers_run(set, 100);
        phase_end(&ph);
        printf("bench kube: %ld watch events split, not decoded (the client's own cost): %.0f "
               "events/s wall, %.0f events per client CPU second\n",
               pods_refl->n_watch_events - base_events,
               (double)(pods_refl->n_watch_events - base_events) / ph.wall,
               (double)(pods_refl->n_watch_events - base_events) / ph.cpu);
        phase_print("raw watch", &ph);
        kube_informers_free(set);
    }
    kube_client_free(c);
    kill(emu, SIGTERM);
    waitpid(emu, NULL, 0);
    unlink(data);
    unlink(portf);
    unlink(kc);
    rmdir(dir);
    curl_global_cleanup();
    return 0;
}
