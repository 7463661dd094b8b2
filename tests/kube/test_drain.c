/* Scale-down actuation (engine/loop/drain.c) against the kube-apiserver emulator: taint,
 * delay, evictions under PodDisruptionBudgets, the backend's evict, rollback on every
 * failure, dry run, stale-taint cleanup, soft taints and the unneeded-since annotation.
 * The drainer runs on an injected clock; only the emulator's answers take real time.
 * Needs NSC_IT_KUBECONFIG and NSC_IT_ADMIN_URL (drain-emulator.sh sets them). */
#include "config.h"

#include <check.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/writes.h"
#include "log.h"
#include "loop/drain.h"

static char ns[64];
static struct kube_client *kc;

static struct kube_client *
new_client(void)
{
    struct kube_config *cfg = NULL;
    struct kube_client *c = NULL;
    struct kube_client_opts o = {0};
    char err[1024] = "";
    const char *path = getenv("NSC_IT_KUBECONFIG");

    ck_assert_msg(path != NULL, "NSC_IT_KUBECONFIG not set");
    ck_assert_msg(kube_config_load_kubeconfig(path, NULL, &cfg, err, sizeof(err)) == 0, "%s",
                  err);
    o.qps = -1;
    ck_assert_msg(kube_client_new(cfg, &o, &c, err, sizeof(err)) == 0, "%s", err);
    return c;
}

/* One request with a JSON text body; returns the HTTP status, *out the body if wanted. */
static long
req(const char *method, const char *path, const char *body, const char *ctype, json_t **out)
{
    struct kube_resp resp;
    json_t *b = body ? json_loads(body, 0, NULL) : NULL;
    long st;

    ck_assert_msg(body == NULL || b != NULL, "bad test JSON: %s", body);
    kube_request(kc, method, path, b, ctype, 0, &resp);
    json_decref(b);
    st = resp.status;
    if (out) {
        *out = resp.obj;
        resp.obj = NULL;
    }
    kube_resp_clear(&resp);
    return st;
}

/* POST to the emulator's admin endpoint; *out receives the answer when wanted. */
static void
admin(const char *what, const char *body, json_t **out)
{
    const char *base = getenv("NSC_IT_ADMIN_URL");
    CURL *e = curl_easy_init();
    char url[512];
    long code = 0;
    FILE *mem;
    char *buf = NULL;
    size_t len = 0;

    ck_assert_msg(base != NULL, "NSC_IT_ADMIN_URL not set");
    mem = open_memstream(&buf, &len);
    snprintf(url, sizeof(url), "%s/admin/%s", base, what);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "{}");
    curl_easy_setopt(e, CURLOPT_WRITEDATA, mem);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 10L);
    ck_assert_int_eq(curl_easy_perform(e), CURLE_OK);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(e);
    fclose(mem);
    ck_assert_msg(code == 200, "admin/%s: %ld", what, code);
    if (out)
        *out = json_loads(buf, 0, NULL);
    free(buf);
}

/* The emulator's resourceVersion: it moves with every write and with nothing else. */
static long long
store_rv(void)
{
    json_t *st = NULL;
    long long rv;

    admin("stats", NULL, &st);
    rv = (long long)json_integer_value(json_object_get(st, "resourceVersion"));
    json_decref(st);
    return rv;
}

static const char *
node_name(const char *suffix)
{
    static char names[16][96];
    static int next;
    char *n = names[next++ % 16];

    snprintf(n, 96, "%s-%s", ns, suffix);
    return n;
}

static void
make_node(const char *name)
{
    char body[512];

    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"%s\"},\"spec\":"
             "{\"providerID\":\"exoscale://%s\",\"taints\":[{\"key\":\"keep-me\",\"value\":"
             "\"x\",\"effect\":\"NoSchedule\"}]}}",
             name, name);
    ck_assert_int_eq(req("POST", "/api/v1/nodes", body, NULL, NULL), 201);
}

static json_t *
get_node(const char *name)
{
    char path[256];
    json_t *node = NULL;

    snprintf(path, sizeof(path), "/api/v1/nodes/%s", name);
    ck_assert_int_eq(req("GET", path, NULL, NULL, &node), 200);
    return node;
}

static int
taint_count(const char *name, const char *key)
{
    json_t *node = get_node(name), *t;
    size_t i;
    int n = 0;

    json_array_foreach(json_object_get(json_object_get(node, "spec"), "taints"), i, t) n +=
        !strcmp(json_string_value(json_object_get(t, "key")), key);
    json_decref(node);
    return n;
}

static int
cordoned(const char *name)
{
    json_t *node = get_node(name);
    int v = json_is_true(json_object_get(json_object_get(node, "spec"), "unschedulable"));

    json_decref(node);
    return v;
}

static void
make_pod(const char *name, const char *node, const char *app)
{
    char path[256], body[1024];

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"labels\":"
             "{\"app\":\"%s\"}},\"spec\":{\"nodeName\":\"%s\",\"containers\":[{\"name\":\"c\","
             "\"image\":\"registry.invalid/pause:1\"}]}}",
             name, app, node);
    ck_assert_int_eq(req("POST", path, body, NULL, NULL), 201);
    /* Running and Ready: a Pending pod would be evicted without any budget check */
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", ns, name);
    ck_assert_int_eq(req("PATCH", path,
                         "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":"
                         "\"Ready\",\"status\":\"True\"}]}}",
                         "application/merge-patch+json", NULL),
                     200);
}

static int
pod_exists(const char *name)
{
    char path[256];

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, name);
    return req("GET", path, NULL, NULL, NULL) == 200;
}

static void
make_pdb(const char *name, const char *app, int allowed)
{
    char path[256], body[1024];
    json_t *pdb = NULL;
    json_int_t gen;

    snprintf(path, sizeof(path), "/apis/policy/v1/namespaces/%s/poddisruptionbudgets", ns);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{"
             "\"name\":\"%s\"},\"spec\":{\"minAvailable\":1,\"selector\":{\"matchLabels\":{"
             "\"app\":\"%s\"}}}}",
             name, app);
    ck_assert_int_eq(req("POST", path, body, NULL, &pdb), 201);
    gen = json_integer_value(json_object_get(json_object_get(pdb, "metadata"), "generation"));
    json_decref(pdb);
    /* no controller-manager here: play the disruption controller */
    snprintf(path, sizeof(path), "/apis/policy/v1/namespaces/%s/poddisruptionbudgets/%s/status",
             ns, name);
    snprintf(body, sizeof(body),
             "{\"status\":{\"observedGeneration\":%lld,\"disruptionsAllowed\":%d,"
             "\"currentHealthy\":%d,\"desiredHealthy\":1,\"expectedPods\":%d}}",
             (long long)gen, allowed, allowed + 1, allowed + 1);
    ck_assert_int_eq(req("PATCH", path, body, "application/merge-patch+json", NULL), 200);
}

/* ---- a fake backend and the caller's hooks ---------------------------------------- */

struct fake {
    int n_evicts;
    char last_group[64], last_id[128];
    int fail;               /* the backend answers with an error this many times; -1: always */
    int fail_rc;            /* that error; 0: NSC_ERR_TRANSIENT */
    int pods_left_at_evict; /* pods still on the node when the instance was removed */
    const char *node;
    const char *const *pods;
    size_t n_pods;
    int stop_after_checks; /* check hook says "needed" after this many calls; 0: never */
    int n_checks;
    int n_done, n_ok;
    char reason[512];
};

static int
fake_evict(void *ud, const char *group_id, const char *provider_id, char *err, size_t err_len)
{
    struct fake *f = ud;
    size_t i;

    f->n_evicts++;
    snprintf(f->last_group, sizeof(f->last_group), "%s", group_id);
    snprintf(f->last_id, sizeof(f->last_id), "%s", provider_id);
    for (i = 0; i < f->n_pods; i++)
        f->pods_left_at_evict += pod_exists(f->pods[i]);
    if (f->fail) {
        if (f->fail > 0)
            f->fail--;
        snprintf(err, err_len, "instance pool is not running (injected)");
        return f->fail_rc ? f->fail_rc : NSC_ERR_TRANSIENT;
    }
    return 0;
}

static int
fake_check(void *ud, const char *node, char *why, size_t why_len)
{
    struct fake *f = ud;

    (void)node;
    f->n_checks++;
    if (f->stop_after_checks && f->n_checks > f->stop_after_checks) {
        snprintf(why, why_len, "node is needed again (injected)");
        return 1;
    }
    return 0;
}

static void
fake_done(void *ud, const struct drain_outcome *oc)
{
    struct fake *f = ud;

    f->n_done++;
    f->n_ok += oc->ok;
    snprintf(f->reason, sizeof(f->reason), "%s", oc->reason);
}

static struct drainer *
new_drainer(struct drain_options *o, struct fake *f)
{
    struct drain_hooks h = {0};
    struct drainer *d = NULL;
    char err[512] = "";

    h.check = fake_check;
    h.evict_instance = fake_evict;
    h.done = fake_done;
    h.ud = f;
    h.backend_ud = f;
    ck_assert_msg(drain_new(kc, o, &h, &d, err, sizeof(err)) == 0, "%s", err);
    return d;
}

static void
start(struct drainer *d, const char *node, int empty, const struct drain_pod *pods,
      size_t n_pods, int64_t now)
{
    struct drain_request r = {0};
    char err[512] = "", pid[128];

    snprintf(pid, sizeof(pid), "exoscale://%s", node);
    r.node_name = node;
    r.provider_id = pid;
    r.group_id = "pool-a";
    r.empty = empty;
    r.pods = pods;
    r.n_pods = n_pods;
    ck_assert_msg(drain_start(d, &r, now, err, sizeof(err)) == 0, "%s", err);
}

/* Step every step_ms of injected time from t0 until nothing is left (at most until_ms). */
static int64_t
run(struct drainer *d, int64_t t0, int64_t step_ms, int64_t until_ms)
{
    int64_t t;

    for (t = t0; t <= until_ms; t += step_ms)
        if (drain_step(d, t) == 0)
            return t;
    return -1;
}

static void
setup(void)
{
    char body[256];

    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_set_level(NSC_LOG_ERROR);
    kc = new_client();
    snprintf(ns, sizeof(ns), "dr-%d-%ld", (int)getpid(), (long)(kube_wall_ms() % 100000));
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
             ns);
    ck_assert_int_eq(req("POST", "/api/v1/namespaces", body, NULL, NULL), 201);
    admin("clear-faults", NULL, NULL);
}

static void
teardown(void)
{
    admin("clear-faults", NULL, NULL);
    kube_client_free(kc);
    kc = NULL;
    curl_global_cleanup();
}

/* ---- cases --------------------------------------------------------------------------- */

START_TEST(test_empty_node)
{
    const char *n = node_name("empty");
    struct drain_options o;
    struct fake f = {0};
    struct drainer *d;

    make_node(n);
    drain_options_default(&o);
    d = new_drainer(&o, &f);
    start(d, n, 1, NULL, 0, 1000);
    ck_assert_uint_eq(drain_step(d, 1000), 1);
    ck_assert_int_eq(taint_count(n, DRAIN_TAINT_TO_BE_DELETED), 1);
    ck_assert_int_eq(taint_count(n, "keep-me"), 1);
    ck_assert_int_eq(cordoned(n), 1);
    /* --node-delete-delay-after-taint: nothing before 5 s */
    ck_assert_uint_eq(drain_step(d, 5999), 1);
    ck_assert_int_eq(f.n_evicts, 0);
    ck_assert_uint_eq(drain_step(d, 6000), 0);
    ck_assert_int_eq(f.n_evicts, 1);
    ck_assert_str_eq(f.last_id + strlen("exoscale://"), n);
    ck_assert_str_eq(f.last_group, "pool-a");
    ck_assert_int_eq(f.n_done, 1);
    ck_assert_int_eq(f.n_ok, 1);
    drain_free(d);
}
END_TEST

START_TEST(test_node_with_pods)
{
    const char *n = node_name("pods");
    static const char *const names[] = {"w-a", "w-b", "ds-x"};
    struct drain_pod pods[3] = {
        {NULL, "w-a", 5000, false}, {NULL, "w-b", -1, false}, {NULL, "ds-x", 1000, true}};
    struct drain_options o;
    struct fake f = {0};
    struct drainer *d;
    size_t i;

    make_node(n);
    for (i = 0; i < 3; i++) {
        pods[i].namespace = ns;
        make_pod(names[i], n, names[i]);
    }
    f.pods = names;
    f.n_pods = 3;
    drain_options_default(&o);
    d = new_drainer(&o, &f);
    start(d, n, 0, pods, 3, 0);
    ck_assert_uint_eq(drain_step(d, 0), 1);
    ck_assert_int_eq(taint_count(n, DRAIN_TAINT_TO_BE_DELETED), 1);
    /* one request a step: the first eviction only */
    ck_assert_uint_eq(drain_step(d, 5000), 1);
    ck_assert_int_eq(pod_exists("w-a"), 0);
    ck_assert_int_eq(pod_exists("w-b"), 1);
    ck_assert_int_ge(run(d, 5001, 1000, 120000), 0);
    ck_assert_int_eq(pod_exists("w-b"), 0);
    ck_assert_int_eq(pod_exists("ds-x"), 0); /* --daemonset-eviction-for-occupied-nodes */
    ck_assert_int_eq(f.n_evicts, 1);
    ck_assert_int_eq(f.pods_left_at_evict, 0);
    ck_assert_int_eq(f.n_ok, 1);
    {
        uint64_t ok, failed;
        drain_eviction_counts(d, &ok, &failed);
        ck_assert_uint_eq(ok, 3); /* the DaemonSet pod's eviction counts too */
        ck_assert_uint_eq(failed, 0);
    }
    drain_free(d);
}
END_TEST

START_TEST(test_pdb_blocks)
{
    const char *n = node_name("pdb");
    struct drain_pod pods[1] = {{NULL, "guarded", 30000, false}};
    struct drain_options o;
    struct fake f = {0};
    struct drainer *d;
    int64_t end;

    make_node(n);
    make_pod("guarded", n, "guarded");
    make_pdb("pdb-guarded", "guarded", 0);
    pods[0].namespace = ns;
    drain_options_default(&o);
    o.node_delete_delay_after_taint_ms = 0;
    o.max_pod_eviction_time_ms = 2000;
    o.eviction_retry_ms = 500;
    d = new_drainer(&o, &f);
    start(d, n, 0, pods, 1, 0);
    end = run(d, 0, 100, 10000);
    ck_assert_msg(end >= 2000 && end <= 2600, "drain ended at %lld ms", (long long)end);
    ck_assert_int_eq(f.n_evicts, 0);
    ck_assert_int_eq(f.n_ok, 0);
    ck_assert_int_eq(f.n_done, 1);
    {
        uint64_t ok, failed;
        drain_eviction_counts(d, &ok, &failed);
        ck_assert_uint_eq(ok, 0);
        ck_assert_uint_eq(failed, 1);
    }
    ck_assert_msg(strstr(f.reason, "guarded") && strstr(f.reason, "disruption budget"), "%s",
                  f.reason);
    ck_assert_ptr_nonnull(drain_failure_reason(d, n));
    ck_assert_int_eq(pod_exists("guarded"), 1);
    ck_assert_int_eq(taint_count(n, DRAIN_TAINT_TO_BE_DELETED), 0);
    ck_assert_int_eq(taint_count(n, "keep-me"), 1);
    ck_assert_int_eq(cordoned(n), 0);
    drain_free(d);
}
END_TEST

START_TEST(test_backend_error_untaints)
{
    const char *n = node_name("bkerr");
    struct drain_options o;
    struct fake f = {0};
    struct drainer *d;

    make_node(n);
    drain_options_default(&o);
    o.backend_retry_ms = 5000;
    o.backend_evict_time_ms = 12000;
    f.fail = -1;
    d = new_drainer(&o, &f);
    start(d, n, 1, NULL, 0, 0);
    ck_assert_int_ge(run(d, 0, 1000, 60000), 0);
    /* tried at the start, +5 s and +10 s; +15 s is past the 12 s it may retry */
    ck_assert_int_eq(f.n_evicts, 3);
    ck_assert_int_eq(f.n_ok, 0);
    ck_assert_msg(strstr(f.reason, "instance pool is not running") != NULL, "%s", f.reason);
    ck_assert_int_eq(taint_count(n, DRAIN_TAINT_TO_BE_DELETED), 0);
    ck_assert_int_eq(cordoned(n), 0);
    drain_free(d);
}
END_TEST

/* A group busy with a sibling's removal refuses for a moment: the drained node is not
 * given up, the evict is sent again and succeeds; a final refusal is not retried. */
START_TEST(test_backend_busy_retried)
{
    const char *n = node_name("bkbusy"), *m = node_name("bkbad");
    struct drain_options o;
    struct fake f = {0};
    struct drainer *d;

    make_node(n);
    make_node(m);
    drain_options_default(&o);
    o.backend_retry_ms = 5000;
    f.fail = 2;
    d = new_drainer(&o, &f);
    start(d, n, 1, NULL, 0, 0);
    ck_assert_int_ge(run(d, 0, 1000, 60000), 0);
    ck_assert_int_eq(f.n_evicts, 3);
    ck_assert_int_eq(f.n_done, 1);
    ck_assert_int_eq(f.n_ok, 1);
    drain_free(d);

    memset(&f, 0, sizeof(f));
    f.fail = -1;
    f.fail_rc = NSC_ERR_INVALID;
    d = new_drainer(&o, &f);
    start(d, m, 1, NULL, 0, 0);
    ck_assert_int_ge(run(d, 0, 1000, 60000), 0);
    ck_assert_int_eq(f.n_evicts, 1);
    ck_assert_int_eq(f.n_ok, 0);
    ck_assert_int_eq(taint_count(m, DRAIN_TAINT_TO_BE_DELETED), 0);
    drain_free(d);
}
END_TEST

START_TEST(test_needed_again_rolls_back)
{
    const char *n = node_name("needed");
    struct drain_pod pods[1] = {{NULL, "stay", 1000, false}};
    struct drain_options o;
    struct fake f = {0};
    struct drainer *d;

    make_node(n);
    make_pod("stay", n, "stay");
    pods[0].namespace = ns;
    drain_options_default(&o);
    f.stop_after_checks = 1; /* yes before the taint, no before the first eviction */
    d = new_drainer(&o, &f);
    start(d, n, 0, pods, 1, 0);
    ck_assert_int_ge(run(d, 0, 1000, 20000), 0);
    ck_assert_int_eq(pod_exists("stay"), 1);
    ck_assert_int_eq(f.n_evicts, 0);
    ck_assert_msg(strstr(f.reason, "needed again") != NULL, "%s", f.reason);
    ck_assert_int_eq(taint_count(n, DRAIN_TAINT_TO_BE_DELETED), 0);
    drain_free(d);
}
END_TEST

START_TEST(test_dry_run_writes_nothing)
{
    const char *n = node_name("dry");
    struct drain_pod pods[1] = {{NULL, "dry-a", 1000, false}};
    struct drain_options o;
    struct fake f = {0};
    struct drainer *d;
    const char *un[1];
    size_t nw = 9;
    char err[512] = "";
    long long rv0;

    make_node(n);
    make_pod("dry-a", n, "dry-a");
    pods[0].namespace = ns;
    un[0] = n;
    drain_options_default(&o);
    o.dry_run = true;
    d = new_drainer(&o, &f);
    rv0 = store_rv();
    start(d, n, 0, pods, 1, 0);
    ck_assert_int_ge(run(d, 0, 1000, 60000), 0);
    ck_assert_int_eq(drain_soft_taint_update(d, un, 1, NULL, 0, &nw, err, sizeof(err)), 0);
    ck_assert_int_eq(drain_set_unneeded_since(d, n, 1700000000, err, sizeof(err)), 0);
    ck_assert_int_eq(store_rv(), rv0);
    ck_assert_int_eq(f.n_evicts, 0);
    ck_assert_int_eq(f.n_ok, 1);
    ck_assert_int_eq(pod_exists("dry-a"), 1);
    ck_assert_int_eq(taint_count(n, DRAIN_TAINT_TO_BE_DELETED), 0);
    drain_free(d);
}
END_TEST

/* Lists the emulator served for the latest state (what a full re-list of nodes is). */
static long long
lists_latest(void)
{
    json_t *st = NULL;
    long long n;

    admin("stats", NULL, &st);
    n = (long long)json_integer_value(json_object_get(json_object_get(st, "lists"), "latest"));
    json_decref(st);
    return n;
}

START_TEST(test_stale_taint_cleanup)
{
    const char *ours = node_name("stale"), *admin_cordon = node_name("admincordon");
    const char *owned = node_name("owned"), *unlisted = node_name("unlisted");
    const char *clean = node_name("clean"), *missing = node_name("missing");
    const char *tainted[5];
    const struct kube_clock *clk;
    struct drain_options o;
    struct fake f = {0};
    struct drainer *d;
    struct kube_resp resp;
    char err[512] = "", path[256];
    size_t n = 0;
    long long lists0;

    make_node(ours);
    make_node(admin_cordon);
    make_node(owned);
    make_node(unlisted);
    make_node(clean);
    drain_options_default(&o);
    /* a drain that was killed after its taint and cordon */
    d = new_drainer(&o, &f);
    start(d, ours, 1, NULL, 0, 0);
    drain_step(d, 0);
    drain_free(d);
    ck_assert_int_eq(cordoned(ours), 1);
    /* an administrator's cordon, with a leftover taint */
    snprintf(path, sizeof(path), "/api/v1/nodes/%s", admin_cordon);
    ck_assert_int_eq(req("PATCH", path, "{\"spec\":{\"unschedulable\":true}}",
                         "application/merge-patch+json", NULL),
                     200);
    ck_assert_int_eq(kube_node_taint(kc, admin_cordon, DRAIN_TAINT_TO_BE_DELETED, "1700000000",
                                     "NoSchedule", &resp),
                     0);
    kube_resp_clear(&resp);
    /* tainted, but not in the caller's view: the cleanup must not go looking for it */
    ck_assert_int_eq(kube_node_taint(kc, unlisted, DRAIN_TAINT_TO_BE_DELETED, "1700000000",
                                     "NoSchedule", &resp),
                     0);
    kube_resp_clear(&resp);
    /* a drain in progress keeps its taint */
    d = new_drainer(&o, &f);
    start(d, owned, 1, NULL, 0, 0);
    drain_step(d, 0);
    /* The view as the informers saw it: a node untainted since and one deleted since are
     * in it too, and count as nothing to clean. */
    tainted[0] = ours;
    tainted[1] = admin_cordon;
    tainted[2] = owned;
    tainted[3] = clean;
    tainted[4] = missing;
    lists0 = lists_latest();
    ck_assert_int_eq(drain_cleanup_stale_taints(d, tainted, 5, &n, err, sizeof(err)), 0);
    ck_assert_msg(lists_latest() == lists0, "the cleanup listed the nodes (%lld lists)",
                  lists_latest() - lists0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(taint_count(ours, DRAIN_TAINT_TO_BE_DELETED), 0);
    ck_assert_int_eq(cordoned(ours), 0);
    ck_assert_int_eq(taint_count(admin_cordon, DRAIN_TAINT_TO_BE_DELETED), 0);
    ck_assert_int_eq(cordoned(admin_cordon), 1);
    ck_assert_int_eq(taint_count(owned, DRAIN_TAINT_TO_BE_DELETED), 1);
    ck_assert_int_eq(taint_count(unlisted, DRAIN_TAINT_TO_BE_DELETED), 1);
    ck_assert_int_eq(taint_count(clean, "keep-me"), 1);
    /* more names than any cluster has nodes is refused, naming the bound */
    ck_assert_int_eq(drain_cleanup_stale_taints(d, tainted, 50001, &n, err, sizeof(err)),
                     NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "50001") != NULL, "%s", err);
    /* and abort (SIGTERM) rolls that one back too */
    clk = kube_client_clock(kc);
    ck_assert_uint_eq(drain_abort_all(d, clk->now_ms(clk->ctx) + 5000, "SIGTERM"), 0);
    ck_assert_int_eq(taint_count(owned, DRAIN_TAINT_TO_BE_DELETED), 0);
    ck_assert_int_eq(cordoned(owned), 0);
    ck_assert_int_eq(f.n_done, 1);
    ck_assert_msg(strstr(f.reason, "SIGTERM") != NULL, "%s", f.reason);
    drain_free(d);
}
END_TEST

START_TEST(test_soft_taints_bounded)
{
    const char *nodes[5];
    struct drain_options o;
    struct fake f = {0};
    struct drainer *d;
    char err[512] = "", body[256];
    size_t i, nw = 0;
    int tainted = 0;

    for (i = 0; i < 5; i++) {
        char s[16];

        snprintf(s, sizeof(s), "soft%zu", i);
        nodes[i] = node_name(s);
        make_node(nodes[i]);
    }
    drain_options_default(&o);
    o.max_bulk_soft_taint_count = 3;
    d = new_drainer(&o, &f);
    ck_assert_int_eq(drain_soft_taint_update(d, nodes, 5, NULL, 0, &nw, err, sizeof(err)), 0);
    ck_assert_uint_eq(nw, 3);
    for (i = 0; i < 5; i++)
        tainted += taint_count(nodes[i], DRAIN_TAINT_CANDIDATE);
    ck_assert_int_eq(tainted, 3);
    /* the next call finishes the rest: nodes already tainted cost no write */
    ck_assert_int_eq(drain_soft_taint_update(d, nodes, 5, NULL, 0, &nw, err, sizeof(err)), 0);
    ck_assert_uint_eq(nw, 2);
    ck_assert_int_eq(taint_count(nodes[4], DRAIN_TAINT_CANDIDATE), 1);
    /* needed again: removed */
    ck_assert_int_eq(drain_soft_taint_update(d, NULL, 0, nodes, 1, &nw, err, sizeof(err)), 0);
    ck_assert_uint_eq(nw, 1);
    ck_assert_int_eq(taint_count(nodes[0], DRAIN_TAINT_CANDIDATE), 0);
    ck_assert_int_eq(taint_count(nodes[0], "keep-me"), 1);
    drain_free(d);

    /* --max-bulk-soft-taint-time: slow node reads stop the pass early */
    o.max_bulk_soft_taint_count = 10;
    o.max_bulk_soft_taint_time_ms = 150;
    d = new_drainer(&o, &f);
    snprintf(body, sizeof(body),
             "{\"method\":\"GET\",\"path\":\"/api/v1/nodes/\",\"delay_ms\":100,\"count\":-1}");
    admin("fault", body, NULL);
    ck_assert_int_eq(drain_soft_taint_update(d, NULL, 0, nodes + 1, 4, &nw, err, sizeof(err)),
                     0);
    admin("clear-faults", NULL, NULL);
    ck_assert_msg(nw >= 1 && nw <= 2, "%zu removals in 150 ms of 100 ms reads", nw);
    ck_assert_int_eq(taint_count(nodes[4], DRAIN_TAINT_CANDIDATE), 1);
    drain_free(d);
}
END_TEST

START_TEST(test_unneeded_since_round_trip)
{
    const char *n = node_name("since");
    struct drain_options o;
    struct fake f = {0};
    struct drainer *d;
    char err[512] = "";
    int64_t since = 0;
    json_t *node;

    make_node(n);
    drain_options_default(&o);
    d = new_drainer(&o, &f);
    node = get_node(n);
    ck_assert_int_eq(drain_unneeded_since_of(node, &since), NSC_ERR_NOT_FOUND);
    json_decref(node);
    ck_assert_int_eq(drain_set_unneeded_since(d, n, 1700000000, err, sizeof(err)), 0);
    /* a later time does not replace the first: a restart must not reset the count */
    ck_assert_int_eq(drain_set_unneeded_since(d, n, 1700000600, err, sizeof(err)), 0);
    node = get_node(n);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(node, "metadata"), "annotations"),
                         DRAIN_ANN_UNNEEDED_SINCE)),
                     "2023-11-14T22:13:20Z");
    ck_assert_int_eq(drain_unneeded_since_of(node, &since), 0);
    ck_assert_int_eq(since, 1700000000);
    json_decref(node);
    ck_assert_int_eq(drain_set_unneeded_since(d, n, -1, err, sizeof(err)), 0);
    node = get_node(n);
    ck_assert_int_eq(drain_unneeded_since_of(node, &since), NSC_ERR_NOT_FOUND);
    json_decref(node);
    ck_assert_int_eq(drain_set_unneeded_since(d, "no-such-node-xyz", 1, err, sizeof(err)),
                     NSC_ERR_NOT_FOUND);
    ck_assert_msg(strstr(err, "no-such-node-xyz") != NULL, "%s", err);
    drain_free(d);
}
END_TEST

START_TEST(test_unneeded_since_parse)
{
    static const struct {
        const char *value;
        int rc;
        int64_t since;
    } cases[] = {
        {"2023-11-14T22:13:20Z", 0, 1700000000},
        {"2023-11-14T22:13:20.123456Z", 0, 1700000000},
        {"1970-01-01T00:00:00Z", 0, 0},
        {"2023-11-14T22:13:20+01:00", NSC_ERR_INVALID, 0},
        {"2023-11-14 22:13:20Z", NSC_ERR_INVALID, 0},
        {"2023-13-14T22:13:20Z", NSC_ERR_INVALID, 0},
        {"2023-11-31T22:13:20Z", NSC_ERR_INVALID, 0},
        {"1969-12-31T23:59:59Z", NSC_ERR_INVALID, 0},
        {"1960-01-01T00:00:00Z", NSC_ERR_INVALID, 0},
        {"2023-11-14T22:13:20.Z", NSC_ERR_INVALID, 0},
        {"1700000000", NSC_ERR_INVALID, 0},
        {"", NSC_ERR_INVALID, 0},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *node = json_pack("{s:{s:{s:s}}}", "metadata", "annotations",
                                 DRAIN_ANN_UNNEEDED_SINCE, cases[i].value);
        int64_t since = -7;

        ck_assert_msg(drain_unneeded_since_of(node, &since) == cases[i].rc, "%s",
                      cases[i].value);
        if (cases[i].rc == 0)
            ck_assert_int_eq(since, cases[i].since);
        json_decref(node);
    }
    {
        json_t *node =
            json_pack("{s:{s:{s:i}}}", "metadata", "annotations", DRAIN_ANN_UNNEEDED_SINCE, 5);
        int64_t since;

        ck_assert_int_eq(drain_unneeded_since_of(node, &since), NSC_ERR_INVALID);
        json_decref(node);
    }
}
END_TEST

START_TEST(test_conflict_on_taint)
{
    const char *n = node_name("conflict");
    struct drain_options o;
    struct fake f = {0};
    struct drainer *d;
    char body[512];

    make_node(n);
    snprintf(body, sizeof(body),
             "{\"method\":\"PUT\",\"path\":\"/api/v1/nodes/%s\",\"status\":409,\"count\":1}",
             n);
    admin("fault", body, NULL);
    drain_options_default(&o);
    d = new_drainer(&o, &f);
    start(d, n, 1, NULL, 0, 0);
    ck_assert_uint_eq(drain_step(d, 0), 1);
    ck_assert_int_eq(f.n_done, 0);
    ck_assert_int_eq(taint_count(n, DRAIN_TAINT_TO_BE_DELETED), 1);
    ck_assert_uint_eq(drain_step(d, 5000), 0);
    ck_assert_int_eq(f.n_ok, 1);
    drain_free(d);
}
END_TEST

START_TEST(test_parallelism_and_bad_input)
{
    struct drain_options o;
    struct fake f = {0};
    struct drainer *d;
    struct drain_request r = {"node-b", "id-b", "pool-a", false, NULL, 0};
    struct drain_pod web = {"default", "web", 1000, false};
    char err[512] = "";
    size_t i;

    drain_options_default(&o);
    o.max_scale_down_parallelism = 3;
    d = new_drainer(&o, &f);
    start(d, "node-a", 0, NULL, 0, 0);
    /* --max-drain-parallelism 1: a second node with pods waits */
    ck_assert_int_eq(drain_start(d, &r, 0, err, sizeof(err)), NSC_ERR_OUT_OF_RESOURCES);
    ck_assert_msg(strstr(err, "max-drain-parallelism") != NULL, "%s", err);
    start(d, "node-c", 1, NULL, 0, 0);
    start(d, "node-d", 1, NULL, 0, 0);
    r.node_name = "node-e";
    r.empty = true;
    ck_assert_int_eq(drain_start(d, &r, 0, err, sizeof(err)), NSC_ERR_OUT_OF_RESOURCES);
    ck_assert_uint_eq(drain_n_active(d), 3);
    ck_assert_uint_eq(drain_n_active_with_pods(d), 1);
    drain_free(d);

    d = new_drainer(&o, &f);
    r.node_name = "node-a";
    r.pods = &web;
    r.n_pods = 1;
    ck_assert_int_eq(drain_start(d, &r, 0, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "default/web") != NULL, "%s", err);
    r.node_name = "../etc";
    r.empty = false;
    ck_assert_int_eq(drain_start(d, &r, 0, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_uint_eq(drain_n_active(d), 0);
    drain_free(d);

    drain_options_default(&o);
    o.max_drain_parallelism = 11;
    ck_assert_int_eq(drain_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    ck_assert_msg(strstr(err, "max_drain_parallelism") != NULL, "%s", err);
    for (i = 0; i < 2; i++) {
        drain_options_default(&o);
        if (i == 0)
            o.max_pod_eviction_time_ms = 0;
        else
            o.max_bulk_soft_taint_count = -1;
        ck_assert_int_eq(drain_options_check(&o, err, sizeof(err)), NSC_ERR_INVALID);
    }
}
END_TEST

int
main(void)
{
    Suite *s;
    TCase *tc;
    SRunner *sr;
    int failed;

    if (getenv("NSC_IT_KUBECONFIG") == NULL) {
        fprintf(stderr, "NSC_IT_KUBECONFIG not set: skipped\n");
        return 77;
    }
    s = suite_create("drain");
    tc = tcase_create("emulator");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_empty_node);
    tcase_add_test(tc, test_node_with_pods);
    tcase_add_test(tc, test_pdb_blocks);
    tcase_add_test(tc, test_backend_error_untaints);
    tcase_add_test(tc, test_backend_busy_retried);
    tcase_add_test(tc, test_needed_again_rolls_back);
    tcase_add_test(tc, test_dry_run_writes_nothing);
    tcase_add_test(tc, test_stale_taint_cleanup);
    tcase_add_test(tc, test_soft_taints_bounded);
    tcase_add_test(tc, test_unneeded_since_round_trip);
    tcase_add_test(tc, test_unneeded_since_parse);
    tcase_add_test(tc, test_conflict_on_taint);
    tcase_add_test(tc, test_parallelism_and_bad_input);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
