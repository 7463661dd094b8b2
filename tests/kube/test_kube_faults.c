/* The client under the faults the kube-apiserver emulator injects through its admin
 * endpoint: a dropped watch is reconnected after a backoff without a relist, a 410 (as a
 * watch answer or an ERROR event) relists, a 500 or a 429 is retried when the server says
 * when and otherwise reported with its status and reason, a slow answer times out; and a
 * relist reports only what changed while the watch was down; the model kept by kube_sync
 * follows, and a pod turning unschedulable wakes it.
 * Needs NSC_IT_KUBECONFIG and NSC_IT_ADMIN_URL (faults-emulator.sh sets them). */
#include "config.h"

#include <check.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/informer.h"
#include "kube/sync.h"
#include "log.h"
#include "model/model.h"

static char ns[64];

static struct kube_client *
client_with(long timeout_ms)
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
    o.timeout_ms = timeout_ms;
    ck_assert_msg(kube_client_new(cfg, &o, &c, err, sizeof(err)) == 0, "%s", err);
    return c;
}

/* POST to the emulator's admin endpoint; the test fails unless it answers 200. Returns
 * the answer (owned), NULL when it is not JSON. */
static json_t *
admin_json(const char *what, const char *body)
{
    const char *base = getenv("NSC_IT_ADMIN_URL");
    CURL *e = curl_easy_init();
    char url[512];
    long code = 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    json_t *out;

    ck_assert_msg(base != NULL, "NSC_IT_ADMIN_URL not set");
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
    out = json_loadb(buf, len, 0, NULL);
    free(buf);
    return out;
}

static void
admin(const char *what, const char *body)
{
    json_decref(admin_json(what, body));
}

/* Inject a fault: the emulator's admin/fault body, formatted as printf does. */
static void __attribute__((format(printf, 1, 2))) fault(const char *fmt, ...)
{
    char body[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    ck_assert_msg(n > 0 && (size_t)n < sizeof(body), "fault body too long");
    admin("fault", body);
}

static long
req(struct kube_client *c, const char *method, const char *path, const char *body,
    struct kube_resp *resp, int *rc)
{
    json_t *b = body ? json_loads(body, 0, NULL) : NULL;

    *rc = kube_request(c, method, path, b, NULL, 0, resp);
    json_decref(b);
    return resp->status;
}

static void
make_pod(struct kube_client *c, const char *name)
{
    struct kube_resp resp;
    char path[256], body[512];
    int rc;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"},\"spec\":"
             "{\"containers\":[{\"name\":\"c\",\"image\":\"registry.invalid/pause:1\"}]}}",
             name);
    ck_assert_int_eq(req(c, "POST", path, body, &resp, &rc), 201);
    kube_resp_clear(&resp);
}

static void
setup(void)
{
    struct kube_client *c = client_with(0);
    struct kube_resp resp;
    char body[256];
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_set_level(NSC_LOG_ERROR);
    snprintf(ns, sizeof(ns), "faults-%d-%ld", (int)getpid(), (long)(kube_wall_ms() % 100000));
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
             ns);
    ck_assert_int_eq(req(c, "POST", "/api/v1/namespaces", body, &resp, &rc), 201);
    kube_resp_clear(&resp);
    make_pod(c, "p-0");
    kube_client_free(c);
    admin("clear-faults", NULL);
}

static void
teardown(void)
{
    admin("clear-faults", NULL);
    curl_global_cleanup();
}

struct counts {
    int added, modified, deleted;
};

static void
count_event(void *ud, enum kube_event_type type, json_t *obj)
{
    struct counts *n = ud;

    (void)obj;
    if (type == KUBE_EVENT_ADDED)
        n->added++;
    else if (type == KUBE_EVENT_MODIFIED)
        n->modified++;
    else
        n->deleted++;
}

/* A pods informer on the test namespace (path: room for its collection path). */
static struct kube_informers *
pods_informer(struct kube_client *c, struct counts *n, char *path, size_t path_len,
              struct kube_informer **inf)
{
    struct kube_informers *set;
    struct kube_informer_opts o = {0};

    snprintf(path, path_len, "/api/v1/namespaces/%s/pods", ns);
    o.name = "pods";
    o.path = path;
    o.kind = "Pod";
    o.on_event = count_event;
    o.ud = n;
    ck_assert_int_eq(kube_informers_new(c, &set), 0);
    ck_assert_int_eq(kube_informers_add(set, &o, inf), 0);
    return set;
}

/* The same, run until it watches. */
static struct kube_informers *
watching_informer(struct kube_client *c, struct counts *n, struct kube_informer **inf)
{
    char path[256];
    struct kube_informers *set = pods_informer(c, n, path, sizeof(path), inf);
    int64_t end = kube_wall_ms() + 10000;

    while (kube_informer_reflector(*inf)->state != KUBE_REFL_WATCHING && kube_wall_ms() < end)
        kube_informers_run(set, 50);
    ck_assert_int_eq(kube_informer_reflector(*inf)->state, KUBE_REFL_WATCHING);
    ck_assert_int_eq(n->added, 1);
    return set;
}

/* Run until the informer watches again after a failure; returns the milliseconds taken. */
static int64_t
until_watching_again(struct kube_informers *set, const struct kube_reflector *r, long failures0,
                     long relists0)
{
    int64_t t0 = kube_wall_ms(), end = t0 + 15000;

    while ((r->state != KUBE_REFL_WATCHING ||
            (r->n_failures == failures0 && r->n_relists == relists0)) &&
           kube_wall_ms() < end)
        kube_informers_run(set, 20);
    ck_assert_int_eq(r->state, KUBE_REFL_WATCHING);
    return kube_wall_ms() - t0;
}

/* A GET of path answered once with status and Retry-After: 1 is retried after the
 * delay and succeeds. */
static void
get_retried_after(struct kube_client *c, const char *path, int status)
{
    struct kube_resp resp;
    int rc;
    int64_t t0;

    fault("{\"path\":\"%s\",\"status\":%d,\"retry_after\":1}", path, status);
    t0 = kube_wall_ms();
    ck_assert_int_eq(req(c, "GET", path, NULL, &resp, &rc), 200);
    ck_assert_int_ge(kube_wall_ms() - t0, 950);
    kube_resp_clear(&resp);
}

START_TEST(test_fault_drop_watch)
{
    struct kube_client *c = client_with(0);
    struct kube_informer *inf;
    struct counts n = {0};
    struct kube_informers *set = watching_informer(c, &n, &inf);
    const struct kube_reflector *r = kube_informer_reflector(inf);
    long failures = r->n_failures, relists = r->n_relists;
    int64_t ms, end;

    /* the connection breaks: back off (0.8 s, drawn from [0.6, 0.8]), watch again from
     * the last resourceVersion, no relist */
    admin("drop-watches", NULL);
    ms = until_watching_again(set, r, failures, relists);
    ck_assert_int_eq(r->n_failures, failures + 1);
    ck_assert_int_eq(r->n_relists, relists);
    ck_assert_msg(ms >= 550, "watched again after %lld ms: no backoff", (long long)ms);
    ck_assert_msg(ms < 5000, "watched again after %lld ms", (long long)ms);
    /* and the new watch delivers */
    make_pod(c, "p-after-drop");
    end = kube_wall_ms() + 10000;
    while (n.added < 2 && kube_wall_ms() < end)
        kube_informers_run(set, 50);
    ck_assert_int_eq(n.added, 2);
    kube_informers_free(set);
    kube_client_free(c);
}
END_TEST

START_TEST(test_fault_410)
{
    struct kube_client *c = client_with(0);
    struct kube_informer *inf;
    struct counts n = {0};
    struct kube_informers *set = watching_informer(c, &n, &inf);
    const struct kube_reflector *r = kube_informer_reflector(inf);
    long failures, relists;
    int64_t ms;

    /* a watch answered 410 Gone relists, then watches again */
    fault("{\"path\":\"/api/v1/namespaces/%s/pods\",\"watch\":true,\"status\":410}", ns);
    failures = r->n_failures;
    relists = r->n_relists;
    admin("drop-watches", NULL);
    until_watching_again(set, r, failures, relists);
    ms = until_watching_again(set, r, r->n_failures, relists);
    ck_assert_int_eq(r->n_relists, relists + 1);
    ck_assert(kube_informer_size(inf) == 1);
    /* an ERROR event with code 410 on the open watch relists at once, no backoff */
    relists = r->n_relists;
    failures = r->n_failures;
    admin("expire", NULL);
    ms = until_watching_again(set, r, failures, relists);
    ck_assert_int_eq(r->n_relists, relists + 1);
    ck_assert_int_eq(r->n_failures, failures);
    ck_assert_msg(ms < 500, "relisted after %lld ms", (long long)ms);
    ck_assert_int_eq(n.deleted, 0);
    kube_informers_free(set);
    kube_client_free(c);
}
END_TEST

START_TEST(test_fault_500)
{
    struct kube_client *c = client_with(0);
    struct kube_resp resp;
    char path[256], msg[768];
    int rc;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/p-0", ns);
    /* without Retry-After: no retry, the status and its reason are named */
    fault("{\"path\":\"%s\",\"status\":500}", path);
    ck_assert_int_eq(req(c, "GET", path, NULL, &resp, &rc), 500);
    ck_assert_int_eq(rc, NSC_ERR_TRANSIENT);
    ck_assert_str_eq(resp.reason, "InternalError");
    kube_resp_describe(&resp, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "500") && strstr(msg, "InternalError") &&
                      strstr(msg, "injected by the emulator"),
                  "%s", msg);
    kube_resp_clear(&resp);
    /* the fault was used up: the next GET succeeds */
    ck_assert_int_eq(req(c, "GET", path, NULL, &resp, &rc), 200);
    ck_assert_int_eq(rc, 0);
    kube_resp_clear(&resp);
    /* with Retry-After, a GET is retried after the delay */
    get_retried_after(c, path, 503);
    kube_client_free(c);
}
END_TEST

START_TEST(test_fault_429)
{
    struct kube_client *c = client_with(0);
    struct kube_resp resp;
    char path[256], msg[768];
    int rc;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/p-0", ns);
    /* once, with Retry-After: a GET waits and succeeds */
    get_retried_after(c, path, 429);
    /* more often than the retries allow: the 429 is reported, with its Retry-After */
    fault("{\"path\":\"%s\",\"status\":429,\"retry_after\":1,\"count\":10}", path);
    ck_assert_int_eq(req(c, "GET", path, NULL, &resp, &rc), 429);
    ck_assert_int_eq(rc, NSC_ERR_TRANSIENT);
    ck_assert_str_eq(resp.reason, "TooManyRequests");
    ck_assert_int_eq(resp.retry_after_s, 1);
    kube_resp_describe(&resp, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "429") != NULL, "%s", msg);
    kube_resp_clear(&resp);
    admin("clear-faults", NULL);
    /* a write is never retried: one 429 is the answer */
    fault("{\"method\":\"PATCH\",\"path\":\"%s\",\"status\":429,\"retry_after\":1}", path);
    {
        json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "a", "b");

        rc = kube_request(c, "PATCH", path, patch, "application/merge-patch+json", 0, &resp);
        json_decref(patch);
    }
    ck_assert_int_eq(resp.status, 429);
    ck_assert_int_eq(rc, NSC_ERR_TRANSIENT);
    kube_resp_clear(&resp);
    kube_client_free(c);
}
END_TEST

/* Waits until the emulator answers no API request, at most 30 s. */
static void
wait_idle(void)
{
    int64_t end = kube_wall_ms() + 30000;
    json_int_t serving;

    do {
        json_t *st = admin_json("stats", NULL);

        serving = json_integer_value(json_object_get(st, "serving"));
        json_decref(st);
        if (serving == 0)
            return;
        usleep(50000);
    } while (kube_wall_ms() < end);
    ck_abort_msg("the emulator still answers %lld requests after 30 s", (long long)serving);
}

START_TEST(test_fault_slow)
{
    struct kube_client *c = client_with(500);
    struct kube_resp resp;
    char path[256], msg[768];
    int rc;
    int64_t t0;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
    /* an answer slower than the request timeout: a timeout, named as such */
    fault("{\"path\":\"%s\",\"delay_ms\":3000}", path);
    t0 = kube_wall_ms();
    ck_assert_int_eq(req(c, "GET", path, NULL, &resp, &rc), 0);
    ck_assert_int_eq(rc, NSC_ERR_TRANSIENT);
    ck_assert_msg(kube_wall_ms() - t0 < 2500, "took %lld ms", (long long)(kube_wall_ms() - t0));
    ck_assert_str_eq(resp.reason, "Timeout");
    kube_resp_describe(&resp, msg, sizeof(msg));
    ck_assert_msg(strstr(msg, "no response") != NULL, "%s", msg);
    kube_resp_clear(&resp);
    /* a slow answer within the timeout is just slow */
    fault("{\"path\":\"%s\",\"delay_ms\":200}", path);
    ck_assert_int_eq(req(c, "GET", path, NULL, &resp, &rc), 200);
    kube_resp_clear(&resp);
    kube_client_free(c);
    /* the abandoned list is still being answered; let it land here, not in the counts of a
     * later test */
    wait_idle();
}
END_TEST

START_TEST(test_fault_list_500)
{
    struct kube_client *c = client_with(0);
    struct kube_informer *inf;
    struct counts n = {0};
    char path[256];
    struct kube_informers *set = pods_informer(c, &n, path, sizeof(path), &inf);
    int64_t t0, end;

    /* the first list fails: back off, list again, then watch */
    fault("{\"path\":\"%s\",\"watch\":false,\"status\":500}", path);
    t0 = kube_wall_ms();
    end = t0 + 10000;
    while (!kube_informers_synced(set) && kube_wall_ms() < end)
        kube_informers_run(set, 50);
    ck_assert(kube_informers_synced(set));
    ck_assert_int_eq(kube_informer_reflector(inf)->n_failures, 1);
    ck_assert_int_ge(kube_wall_ms() - t0, 550);
    ck_assert_int_eq(n.added, 1);
    kube_informers_free(set);
    kube_client_free(c);
}
END_TEST

struct raw_seen {
    int added, modified, deleted;
    char last_modified[64], last_deleted[64];
    int text_ok; /* every text starts with '{' and holds its name */
};

static int
holds(const char *text, size_t len, const char *s)
{
    size_t n = strlen(s), i;

    for (i = 0; i + n <= len; i++)
        if (memcmp(text + i, s, n) == 0)
            return 1;
    return 0;
}

static void
raw_event(void *ud, enum kube_event_type type, const char *json, size_t len,
          const struct kube_raw_meta *meta)
{
    struct raw_seen *r = ud;
    char name[64];

    snprintf(name, sizeof(name), "%.*s", (int)meta->name.len, meta->name.p);
    if (len == 0 || json[0] != '{' || meta->name.len == 0 || !holds(json, len, name))
        r->text_ok = 0;
    if (type == KUBE_EVENT_ADDED) {
        r->added++;
    } else if (type == KUBE_EVENT_MODIFIED) {
        r->modified++;
        snprintf(r->last_modified, sizeof(r->last_modified), "%s", name);
    } else {
        r->deleted++;
        snprintf(r->last_deleted, sizeof(r->last_deleted), "%s", name);
    }
}

START_TEST(test_relist_skips_unchanged)
{
    struct kube_client *c = client_with(0);
    struct kube_informers *set;
    struct kube_informer *inf;
    struct kube_informer_opts o = {0};
    struct raw_seen seen = {0, 0, 0, "", "", 1};
    const struct kube_reflector *r;
    struct kube_resp resp;
    char path[256];
    long relists, failures;
    int rc;

    /* an informer that hands on raw text: p-0, p-1, p-2 listed */
    make_pod(c, "p-1");
    make_pod(c, "p-2");
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
    o.name = "pods";
    o.path = path;
    o.kind = "Pod";
    o.on_raw_event = raw_event;
    o.ud = &seen;
    ck_assert_int_eq(kube_informers_new(c, &set), 0);
    ck_assert_int_eq(kube_informers_add(set, &o, &inf), 0);
    r = kube_informer_reflector(inf);
    {
        int64_t end = kube_wall_ms() + 10000;

        while (r->state != KUBE_REFL_WATCHING && kube_wall_ms() < end)
            kube_informers_run(set, 50);
    }
    ck_assert_int_eq(seen.added, 3);
    /* the watch drops, its next start is answered 410; meanwhile p-1 changes and p-2 is
     * deleted: the relist reports exactly that, and p-0 as nothing (same resourceVersion) */
    fault("{\"path\":\"%s\",\"watch\":true,\"status\":410}", path);
    relists = r->n_relists;
    failures = r->n_failures;
    admin("drop-watches", NULL);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/p-1", ns);
    {
        json_t *patch = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "changed", "yes");

        rc = kube_request(c, "PATCH", path, patch, "application/merge-patch+json", 0, &resp);
        json_decref(patch);
        ck_assert_int_eq(resp.status, 200);
        kube_resp_clear(&resp);
    }
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/p-2", ns);
    ck_assert_int_eq(req(c, "DELETE", path, NULL, &resp, &rc), 200);
    kube_resp_clear(&resp);
    until_watching_again(set, r, failures, relists);
    until_watching_again(set, r, r->n_failures, relists);
    ck_assert_int_eq(r->n_relists, relists + 1);
    ck_assert_int_eq(kube_informer_n_unchanged(inf), 1);
    ck_assert_int_eq(seen.added, 3);
    ck_assert_int_eq(seen.modified, 1);
    ck_assert_str_eq(seen.last_modified, "p-1");
    ck_assert_int_eq(seen.deleted, 1);
    ck_assert_str_eq(seen.last_deleted, "p-2");
    ck_assert_uint_eq(kube_informer_size(inf), 2);
    ck_assert(seen.text_ok);
    kube_informers_free(set);
    kube_client_free(c);
}
END_TEST

START_TEST(test_sync_model_and_wake)
{
    struct kube_client *c = client_with(0);
    struct model *m = model_new();
    struct kube_sync *sync;
    struct kube_resp resp;
    char path[256];
    int woke = 0, rc;
    int64_t end;

    /* the model follows the cluster through text parsed by the model itself */
    ck_assert_int_eq(kube_sync_new(c, m, &sync), 0);
    end = kube_wall_ms() + 10000;
    while ((!kube_sync_synced(sync) || model_find_pod(m, ns, "p-0") == NULL) &&
           kube_wall_ms() < end)
        kube_sync_run(sync, 100);
    ck_assert_ptr_nonnull(model_find_pod(m, ns, "p-0"));
    ck_assert(!model_find_pod(m, ns, "p-0")->unschedulable);
    /* a pod turning unschedulable wakes the loop, and the model says so */
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/p-0/status", ns);
    {
        json_t *st = json_pack("{s:{s:s, s:[{s:s, s:s, s:s}]}}", "status", "phase", "Pending",
                               "conditions", "type", "PodScheduled", "status", "False",
                               "reason", "Unschedulable");

        rc = kube_request(c, "PATCH", path, st, "application/merge-patch+json", 0, &resp);
        json_decref(st);
        ck_assert_int_eq(resp.status, 200);
        kube_resp_clear(&resp);
    }
    end = kube_wall_ms() + 10000;
    while (!woke && kube_wall_ms() < end)
        woke = kube_sync_run(sync, 1000) == 1;
    ck_assert_msg(woke, "no wake-up for an unschedulable pod");
    ck_assert(model_find_pod(m, ns, "p-0")->unschedulable);
    /* a delete leaves the model */
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/p-0", ns);
    ck_assert_int_eq(req(c, "DELETE", path, NULL, &resp, &rc), 200);
    kube_resp_clear(&resp);
    end = kube_wall_ms() + 10000;
    while (model_find_pod(m, ns, "p-0") != NULL && kube_wall_ms() < end)
        kube_sync_run(sync, 100);
    ck_assert_ptr_null(model_find_pod(m, ns, "p-0"));
    kube_sync_free(sync);
    model_free(m);
    kube_client_free(c);
}
END_TEST

/* A clock that moves only when the client sleeps: what the rate limiter makes it wait
 * is counted exactly, whatever the machine's speed. */
struct fake_clock {
    int64_t now, slept;
};

static int64_t
fake_now(void *ctx)
{
    return ((struct fake_clock *)ctx)->now;
}

static void
fake_sleep(void *ctx, int64_t ms)
{
    struct fake_clock *fc = ctx;

    fc->now += ms;
    fc->slept += ms;
}

static int
count_raw(void *ud, const char *json, size_t len)
{
    (void)json;
    (void)len;
    ++*(int *)ud;
    return 0;
}

/* How many lists the emulator served by kind of resourceVersion asked for. */
static void
list_counts(long long *cache, long long *at_version, long long *latest)
{
    json_t *st = admin_json("stats", NULL), *l = json_object_get(st, "lists");

    ck_assert_msg(json_is_object(l), "admin/stats has no list counts");
    *cache = json_integer_value(json_object_get(l, "cache"));
    *at_version = json_integer_value(json_object_get(l, "at_version"));
    *latest = json_integer_value(json_object_get(l, "latest"));
    json_decref(st);
}

/* The pages of one list take one rate-limiter token between them, not one each. */
START_TEST(test_list_pages_one_token)
{
    struct fake_clock fc = {1000000, 0};
    const struct kube_clock clk = {fake_now, fake_sleep, &fc};
    struct kube_config *cfg = NULL;
    struct kube_client *c = NULL;
    struct kube_client_opts o = {0};
    struct kube_resp resp;
    char err[1024] = "", path[256], name[32];
    int i, n = 0;

    ck_assert_int_eq(
        kube_config_load_kubeconfig(getenv("NSC_IT_KUBECONFIG"), NULL, &cfg, err, sizeof(err)),
        0);
    o.qps = 1;
    o.burst = 1;
    o.clock = &clk;
    ck_assert_msg(kube_client_new(cfg, &o, &c, err, sizeof(err)) == 0, "%s", err);
    for (i = 1; i < 5; i++) {
        snprintf(name, sizeof(name), "p-%d", i);
        make_pod(c, name);
    }
    fc.slept = 0;
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
    /* refill the bucket, then list 5 pods in pages of 2 */
    fc.now += 10000;
    ck_assert_int_eq(kube_list_raw_at(c, path, NULL, 2, NULL, count_raw, &n, NULL, 0, &resp),
                     0);
    kube_resp_clear(&resp);
    ck_assert_int_eq(n, 5);
    ck_assert_msg(fc.slept == 0, "the list's pages waited %lld ms for the rate limiter",
                  (long long)fc.slept);
    /* a second list does wait: the limiter still counts lists */
    ck_assert_int_eq(kube_list_raw_at(c, path, NULL, 2, NULL, count_raw, &n, NULL, 0, &resp),
                     0);
    kube_resp_clear(&resp);
    ck_assert_int_ge(fc.slept, 900);
    kube_client_free(c);
}
END_TEST

/* Lists ask for the version client-go's reflector asks for, and fall back to the latest
 * when the server cannot serve it (504 too large, 410 too old). */
START_TEST(test_list_versions)
{
    struct kube_client *c = client_with(0);
    struct model *m = model_new();
    struct kube_sync *sync;
    struct kube_resp resp;
    char path[256], err[512] = "";
    long long cache0, at0, latest0, cache1, at1, latest1;
    int64_t end;
    int n = 0;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
    wait_idle();
    /* the informers' first lists come from the watch cache only */
    list_counts(&cache0, &at0, &latest0);
    ck_assert_int_eq(kube_sync_new(c, m, &sync), 0);
    end = kube_wall_ms() + 10000;
    while (!kube_sync_synced(sync) && kube_wall_ms() < end)
        kube_sync_run(sync, 100);
    ck_assert(kube_sync_synced(sync));
    kube_sync_free(sync);
    list_counts(&cache1, &at1, &latest1);
    ck_assert_int_ge(cache1 - cache0, 3);
    ck_assert_int_eq(at1, at0);
    ck_assert_int_eq(latest1, latest0);
    ck_assert_ptr_nonnull(model_find_pod(m, ns, "p-0"));
    /* a one-shot read lists the latest, from storage */
    {
        struct model *once = model_new();

        ck_assert_msg(kube_load_model(c, once, NULL, err, sizeof(err)) == 0, "%s", err);
        ck_assert_ptr_nonnull(model_find_pod(once, ns, "p-0"));
        model_free(once);
    }
    list_counts(&cache0, &at0, &latest0);
    ck_assert_int_eq(cache0, cache1);
    ck_assert_int_ge(latest0 - latest1, 3);
    cache1 = cache0;
    at1 = at0;
    latest1 = latest0;
    /* a version ahead of the server: 504, then the latest */
    ck_assert_int_eq(
        kube_list_raw_at(c, path, NULL, 100, "999999999999", count_raw, &n, NULL, 0, &resp), 0);
    kube_resp_clear(&resp);
    ck_assert_int_eq(n, 1);
    list_counts(&cache0, &at0, &latest0);
    ck_assert_int_eq(at0, at1 + 1);
    ck_assert_int_eq(latest0, latest1 + 1);
    /* a compacted version: 410, then the latest */
    admin("expire", NULL);
    n = 0;
    ck_assert_int_eq(kube_list_raw_at(c, path, NULL, 100, "1", count_raw, &n, NULL, 0, &resp),
                     0);
    kube_resp_clear(&resp);
    ck_assert_int_eq(n, 1);
    list_counts(&cache1, &at1, &latest1);
    ck_assert_int_eq(at1, at0 + 1);
    ck_assert_int_eq(latest1, latest0 + 1);
    model_free(m);
    kube_client_free(c);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("kube-faults");
    TCase *tc = tcase_create("faults");
    SRunner *sr;
    int failed;

    if (getenv("NSC_IT_KUBECONFIG") == NULL || getenv("NSC_IT_ADMIN_URL") == NULL)
        return 77;
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fault_drop_watch);
    tcase_add_test(tc, test_fault_410);
    tcase_add_test(tc, test_fault_500);
    tcase_add_test(tc, test_fault_429);
    tcase_add_test(tc, test_fault_slow);
    tcase_add_test(tc, test_fault_list_500);
    tcase_add_test(tc, test_relist_skips_unchanged);
    tcase_add_test(tc, test_sync_model_and_wake);
    tcase_add_test(tc, test_list_pages_one_token);
    tcase_add_test(tc, test_list_versions);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
