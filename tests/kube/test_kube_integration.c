/* Integration suite of the Kubernetes client, run against a kube-apiserver (the real one
 * built from Debian's sources, or the emulator) named by environment variables:
 *   NSC_IT_KUBECONFIG          admin credentials
 *   NSC_IT_UNBOUND_KUBECONFIG  a user with no RBAC bindings (403)
 *   NSC_IT_EXPIRE_CMD          shell command after which old resourceVersions are 410
 * Without NSC_IT_KUBECONFIG the program exits 77 (skipped). */
#include "config.h"

#include <check.h>
#include <curl/curl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/client.h"
#include "kube/informer.h"
#include "kube/lease.h"
#include "kube/sync.h"
#include "loop/events.h"
#include "loop/replay.h"
#include "loop/status.h"
#include "kube/writes.h"
#include "log.h"

static char ns[64];
static char pdb_version[16] = "";

static struct kube_client *
it_client(const char *env)
{
    struct kube_config *cfg = NULL;
    struct kube_client *c = NULL;
    struct kube_client_opts o = {0};
    char err[1024] = "";
    const char *path = getenv(env);

    ck_assert_msg(path != NULL, "%s not set", env);
    ck_assert_msg(kube_config_load_kubeconfig(path, NULL, &cfg, err, sizeof(err)) == 0, "%s",
                  err);
    o.qps = -1;
    ck_assert_msg(kube_client_new(cfg, &o, &c, err, sizeof(err)) == 0, "%s", err);
    return c;
}

/* One request with a JSON text body; returns the HTTP status, *out the body if wanted. */
static long
it_req(struct kube_client *c, const char *method, const char *path, const char *body,
       const char *ctype, json_t **out)
{
    struct kube_resp resp;
    json_t *b = body ? json_loads(body, 0, NULL) : NULL;
    long st;

    ck_assert_msg(body == NULL || b != NULL, "bad test JSON: %s", body);
    kube_request(c, method, path, b, ctype, 0, &resp);
    json_decref(b);
    st = resp.status;
    if (out) {
        *out = resp.obj;
        resp.obj = NULL;
    }
    kube_resp_clear(&resp);
    return st;
}

static void
make_pod(struct kube_client *c, const char *name, const char *node, const char *app,
         const char *phase)
{
    char path[256], body[1024];
    long st;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"labels\":"
             "{\"app\":\"%s\"}},\"spec\":{%s%s%s\"containers\":[{\"name\":\"c\",\"image\":"
             "\"registry.invalid/pause:1\",\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]}}",
             name, app, node ? "\"nodeName\":\"" : "", node ? node : "", node ? "\"," : "");
    st = it_req(c, "POST", path, body, NULL, NULL);
    ck_assert_msg(st == 201, "create pod %s: %ld", name, st);
    if (phase) {
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", ns, name);
        /* Running pods are also Ready: an unready pod may be evicted despite its budget
         * when the budget is otherwise healthy (currentHealthy >= desiredHealthy) */
        snprintf(body, sizeof(body),
                 "{\"status\":{\"phase\":\"%s\",\"conditions\":[{\"type\":\"Ready\","
                 "\"status\":\"%s\"}]}}",
                 phase, strcmp(phase, "Running") == 0 ? "True" : "False");
        st = it_req(c, "PATCH", path, body, "application/merge-patch+json", NULL);
        ck_assert_msg(st == 200, "pod %s status: %ld", name, st);
    }
}

static void
setup_ns(void)
{
    struct kube_client *c = it_client("NSC_IT_KUBECONFIG");
    char body[256];
    long st;

    snprintf(ns, sizeof(ns), "it-%d-%ld", (int)getpid(), (long)(kube_wall_ms() % 100000));
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}",
             ns);
    st = it_req(c, "POST", "/api/v1/namespaces", body, NULL, NULL);
    ck_assert_msg(st == 201, "create namespace: %ld", st);
    if (pdb_version[0] == '\0') {
        char path[256];

        snprintf(path, sizeof(path), "/apis/policy/v1/namespaces/%s/poddisruptionbudgets", ns);
        snprintf(pdb_version, sizeof(pdb_version), "%s",
                 it_req(c, "GET", path, NULL, NULL, NULL) == 404 ? "v1beta1" : "v1");
    }
    kube_client_free(c);
}

static int
append_item(void *ud, json_t *item)
{
    return json_array_append(ud, item);
}

START_TEST(test_list_paginated)
{
    struct kube_client *c = it_client("NSC_IT_KUBECONFIG");
    struct kube_resp resp;
    char path[256], rv[64] = "", name[32];
    json_t *names = json_array();
    int i, rc;

    for (i = 0; i < 7; i++) {
        snprintf(name, sizeof(name), "lp-%d", i);
        make_pod(c, name, NULL, "lp", NULL);
    }
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
    rc = kube_list(c, path, NULL, 2, append_item, names, rv, sizeof(rv), &resp);
    ck_assert_msg(rc == 0, "list: %ld %s", resp.status, resp.message);
    ck_assert_uint_eq(json_array_size(names), 7);
    ck_assert(rv[0] != '\0');
    kube_resp_clear(&resp);
    /* a field selector the server does not know is a 400 naming the field */
    rc = kube_list(c, path, "fieldSelector=spec.foo%3Dx", 2, append_item, names, rv, sizeof(rv),
                   &resp);
    ck_assert_int_eq(resp.status, 400);
    ck_assert_msg(strstr(resp.message, "spec.foo") != NULL, "%s", resp.message);
    kube_resp_clear(&resp);
    json_decref(names);
    kube_client_free(c);
}
END_TEST

struct seen {
    int added, modified, deleted;
    char last_deleted[64];
    char last_added[64];
};

static void
on_event(void *ud, enum kube_event_type type, json_t *obj)
{
    struct seen *s = ud;
    const char *name =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

    if (type == KUBE_EVENT_ADDED) {
        s->added++;
        snprintf(s->last_added, sizeof(s->last_added), "%s", name ? name : "");
    } else if (type == KUBE_EVENT_MODIFIED) {
        s->modified++;
    } else {
        s->deleted++;
        snprintf(s->last_deleted, sizeof(s->last_deleted), "%s", name ? name : "");
    }
}

static void
run_until(struct kube_informers *set, int *counter, int want, int64_t max_ms)
{
    int64_t end = kube_wall_ms() + max_ms;

    while (*counter < want && kube_wall_ms() < end)
        kube_informers_run(set, 200);
    ck_assert_msg(*counter >= want, "waited %lld ms: counter %d < %d", (long long)max_ms,
                  *counter, want);
}

START_TEST(test_informer_watch_and_relist)
{
    struct kube_client *c = it_client("NSC_IT_KUBECONFIG");
    struct kube_informers *set;
    struct kube_informer *inf;
    struct kube_informer_opts o = {0};
    struct seen s = {0};
    char path[256], body[512];
    const char *expire = getenv("NSC_IT_EXPIRE_CMD");
    int woke = 0, i;
    int64_t end;

    make_pod(c, "w-0", "n-x", "w", NULL);
    make_pod(c, "w-gone", "n-x", "w", NULL);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", ns);
    o.name = "pods";
    o.path = path;
    o.kind = "Pod";
    o.page_limit = 1;
    o.on_event = on_event;
    o.ud = &s;
    o.wake_if = kube_pod_is_unschedulable;
    o.reflector.watch_timeout_min_s = 20;
    o.reflector.watch_timeout_max_s = 30;
    ck_assert_int_eq(kube_informers_new(c, &set), 0);
    ck_assert_int_eq(kube_informers_add(set, &o, &inf), 0);
    run_until(set, &s.added, 2, 10000);
    ck_assert(kube_informers_synced(set));
    ck_assert_uint_eq(kube_informer_size(inf), 2);
    /* changes arrive through the watch */
    make_pod(c, "w-1", NULL, "w", NULL);
    run_until(set, &s.added, 3, 10000);
    ck_assert_str_eq(s.last_added, "w-1");
    /* a pod turning unschedulable wakes the loop */
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/w-1/status", ns);
    snprintf(body, sizeof(body),
             "{\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
             "\"status\":\"False\",\"reason\":\"Unschedulable\",\"message\":\"0/1 nodes\"}]}}");
    ck_assert_int_eq(
        it_req(c, "PATCH", path, body, "application/strategic-merge-patch+json", NULL), 200);
    end = kube_wall_ms() + 10000;
    while (!woke && kube_wall_ms() < end)
        woke = kube_informers_run(set, 1000) == 1;
    ck_assert_msg(woke, "no wake-up for an unschedulable pod");
    ck_assert_int_ge(s.modified, 1);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/w-0", ns);
    ck_assert_int_eq(it_req(c, "DELETE", path, "{\"gracePeriodSeconds\":0}", NULL, NULL), 200);
    run_until(set, &s.deleted, 1, 10000);
    ck_assert_str_eq(s.last_deleted, "w-0");

    /* make old resourceVersions expire (410), change things while not watching */
    ck_assert_msg(expire != NULL, "NSC_IT_EXPIRE_CMD not set");
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
    ck_assert_int_eq(
        it_req(c, "POST", path, "{\"metadata\":{\"name\":\"bump\"},\"data\":{}}", NULL, NULL),
        201);
    ck_assert_msg(system(expire) == 0, "%s failed", expire);
    for (i = 0; i < 50; i++) {
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/w-gone", ns);
        if (it_req(c, "DELETE", path, "{\"gracePeriodSeconds\":0}", NULL, NULL) == 200)
            break;
        usleep(200000); /* the restarted server may need a moment */
    }
    make_pod(c, "w-new", NULL, "w", NULL);
    run_until(set, &s.deleted, 2, 30000);
    ck_assert_str_eq(s.last_deleted, "w-gone");
    run_until(set, &s.added, 4, 10000);
    ck_assert_int_ge(kube_informer_reflector(inf)->n_relists, 1);
    ck_assert_uint_eq(kube_informer_size(inf), 2);
    kube_informers_free(set);
    kube_client_free(c);
}
END_TEST

static void
make_pdb(struct kube_client *c, const char *name, const char *app, int allowed)
{
    char path[256], body[1024];
    json_t *pdb = NULL;
    long st;
    json_int_t gen;

    snprintf(path, sizeof(path), "/apis/policy/%s/namespaces/%s/poddisruptionbudgets",
             pdb_version, ns);
    snprintf(
        body, sizeof(body),
        "{\"apiVersion\":\"policy/%s\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":"
        "\"%s\"},\"spec\":{\"minAvailable\":1,\"selector\":{\"matchLabels\":{\"app\":\"%s\"}}}"
        "}",
        pdb_version, name, app);
    st = it_req(c, "POST", path, body, NULL, &pdb);
    ck_assert_msg(st == 201, "create pdb: %ld", st);
    gen = json_integer_value(json_object_get(json_object_get(pdb, "metadata"), "generation"));
    json_decref(pdb);
    /* no controller-manager: play the disruption controller */
    snprintf(path, sizeof(path), "/apis/policy/%s/namespaces/%s/poddisruptionbudgets/%s/status",
             pdb_version, ns, name);
    snprintf(body, sizeof(body),
             "{\"status\":{\"observedGeneration\":%lld,\"disruptionsAllowed\":%d,"
             "\"currentHealthy\":%d,"
             "\"desiredHealthy\":1,\"expectedPods\":%d}}",
             (long long)gen, allowed, allowed + 1, allowed + 1);
    st = it_req(c, "PATCH", path, body, "application/merge-patch+json", NULL);
    ck_assert_msg(st == 200, "pdb status: %ld", st);
}

START_TEST(test_eviction)
{
    struct kube_client *c = it_client("NSC_IT_KUBECONFIG");
    enum kube_evict_result res;
    struct kube_resp resp;
    char path[256];
    json_t *pdb = NULL;
    int rc;

    make_pod(c, "e-free", "n-e", "free", "Running");
    make_pod(c, "e-blocked", "n-e", "blocked", "Running");
    make_pod(c, "e-ok", "n-e", "ok", "Running");
    make_pod(c, "e-two", "n-e", "two", "Running");
    make_pdb(c, "pdb-blocked", "blocked", 0);
    make_pdb(c, "pdb-ok", "ok", 1);
    make_pdb(c, "pdb-two-a", "two", 1);
    make_pdb(c, "pdb-two-b", "two", 1);

    rc = kube_evict(c, ns, "e-free", 0, &res, &resp);
    ck_assert_msg(rc == 0 && res == KUBE_EVICT_DONE, "free: %d %ld %s", rc, resp.status,
                  resp.message);
    ck_assert_int_eq(resp.status, 201);
    kube_resp_clear(&resp);

    rc = kube_evict(c, ns, "e-blocked", 0, &res, &resp);
    ck_assert_int_eq(res, KUBE_EVICT_BLOCKED);
    ck_assert_int_eq(resp.status, 429);
    ck_assert_int_eq(rc, NSC_ERR_TRANSIENT);
    ck_assert_msg(strstr(resp.message, "disruption budget") != NULL, "%s", resp.message);
    kube_resp_clear(&resp);

    rc = kube_evict(c, ns, "e-ok", 0, &res, &resp);
    ck_assert_msg(rc == 0 && res == KUBE_EVICT_DONE, "ok: %ld %s", resp.status, resp.message);
    kube_resp_clear(&resp);
    snprintf(path, sizeof(path), "/apis/policy/%s/namespaces/%s/poddisruptionbudgets/pdb-ok",
             pdb_version, ns);
    ck_assert_int_eq(it_req(c, "GET", path, NULL, NULL, &pdb), 200);
    ck_assert_int_eq(json_integer_value(
                         json_object_get(json_object_get(pdb, "status"), "disruptionsAllowed")),
                     0);
    json_decref(pdb);

    rc = kube_evict(c, ns, "e-two", 0, &res, &resp);
    ck_assert_int_eq(res, KUBE_EVICT_MULTIPLE_PDBS);
    ck_assert_int_eq(resp.status, 500);
    kube_resp_clear(&resp);

    rc = kube_evict(c, ns, "e-missing", 0, &res, &resp);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(res, KUBE_EVICT_GONE);
    ck_assert_int_eq(resp.status, 404);
    kube_resp_clear(&resp);
    kube_client_free(c);
}
END_TEST

struct racing_edit {
    struct kube_client *other;
    const char *node;
    int calls;
};

static int
racing_edit(void *ud, json_t *node)
{
    struct racing_edit *re = ud;
    json_t *spec = json_object_get(node, "spec");
    json_t *taints = json_object_get(spec, "taints");
    struct kube_resp resp;

    re->calls++;
    if (re->calls == 1) {
        /* someone else changes the node between our GET and PUT */
        ck_assert_int_eq(kube_node_annotate(re->other, re->node, "it/racer", "1", &resp), 0);
        kube_resp_clear(&resp);
    }
    if (!json_is_array(taints)) {
        taints = json_array();
        json_object_set_new(spec, "taints", taints);
    }
    json_array_append_new(taints,
                          json_pack("{s:s, s:s, s:s}", "key", "ToBeDeletedByClusterAutoscaler",
                                    "value", "1700000000", "effect", "NoSchedule"));
    return 0;
}

static int
has_taint(json_t *node, const char *key)
{
    json_t *t;
    size_t i;
    int n = 0;

    json_array_foreach(json_object_get(json_object_get(node, "spec"), "taints"), i, t) n +=
        !strcmp(json_string_value(json_object_get(t, "key")), key);
    return n;
}

START_TEST(test_taints_rmw)
{
    struct kube_client *c = it_client("NSC_IT_KUBECONFIG");
    struct kube_client *other = it_client("NSC_IT_KUBECONFIG");
    struct racing_edit re = {other, NULL, 0};
    struct kube_resp resp;
    char name[96], path[160], body[512];
    json_t *node = NULL;

    snprintf(name, sizeof(name), "%s-node", ns);
    re.node = name;
    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"%s\"},\"spec\":"
             "{\"taints\":"
             "[{\"key\":\"keep-me\",\"value\":\"x\",\"effect\":\"NoSchedule\"}]}}",
             name);
    ck_assert_int_eq(it_req(c, "POST", "/api/v1/nodes", body, NULL, NULL), 201);
    ck_assert_int_eq(kube_node_update(c, name, racing_edit, &re, &resp), 0);
    kube_resp_clear(&resp);
    ck_assert_int_eq(re.calls, 2); /* the first PUT got 409 and was retried */
    snprintf(path, sizeof(path), "/api/v1/nodes/%s", name);
    ck_assert_int_eq(it_req(c, "GET", path, NULL, NULL, &node), 200);
    ck_assert_int_eq(has_taint(node, "ToBeDeletedByClusterAutoscaler"), 1);
    ck_assert_int_eq(has_taint(node, "keep-me"), 1);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_object_get(node, "metadata"), "annotations"), "it/racer")),
        "1");
    json_decref(node);
    /* idempotent taint, then untaint keeps the others */
    ck_assert_int_eq(kube_node_taint(c, name, "ToBeDeletedByClusterAutoscaler", "1700000000",
                                     "NoSchedule", &resp),
                     0);
    kube_resp_clear(&resp);
    ck_assert_int_eq(kube_node_untaint(c, name, "ToBeDeletedByClusterAutoscaler", &resp), 0);
    kube_resp_clear(&resp);
    ck_assert_int_eq(
        kube_node_annotate(c, name, "nodescaler/unneeded-since", "1700000000", &resp), 0);
    kube_resp_clear(&resp);
    ck_assert_int_eq(it_req(c, "GET", path, NULL, NULL, &node), 200);
    ck_assert_int_eq(has_taint(node, "ToBeDeletedByClusterAutoscaler"), 0);
    ck_assert_int_eq(has_taint(node, "keep-me"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(node, "metadata"), "annotations"),
                         "nodescaler/unneeded-since")),
                     "1700000000");
    json_decref(node);
    /* a missing node is a 404, not a retry loop */
    ck_assert_int_eq(kube_node_untaint(c, "no-such-node-xyz", "k", &resp), NSC_ERR_NOT_FOUND);
    kube_resp_clear(&resp);
    ck_assert_int_eq(it_req(c, "DELETE", path, NULL, NULL, NULL), 200);
    kube_client_free(c);
    kube_client_free(other);
}
END_TEST

START_TEST(test_lease)
{
    struct kube_client *ca = it_client("NSC_IT_KUBECONFIG");
    struct kube_client *cb = it_client("NSC_IT_KUBECONFIG");
    struct kube_lease_opts o = {0};
    struct kube_lease *a, *b;
    char err[256], path[256];
    json_t *lease = NULL;
    regex_t re;
    int64_t t0;

    o.namespace = ns;
    o.name = "nodescaler";
    o.lease_duration_ms = 3000;
    o.renew_deadline_ms = 2000;
    o.retry_period_ms = 1000;
    o.identity = "host-a_1";
    ck_assert_int_eq(kube_lease_new(ca, &o, &a, err, sizeof(err)), 0);
    o.identity = "host-b_2";
    ck_assert_int_eq(kube_lease_new(cb, &o, &b, err, sizeof(err)), 0);
    {
        struct kube_lease *bad = NULL;

        o.retry_period_ms = 1900;
        ck_assert_int_eq(kube_lease_new(cb, &o, &bad, err, sizeof(err)), NSC_ERR_INVALID);
        ck_assert(strstr(err, "1.2 x retry period") != NULL);
        o.retry_period_ms = 1000;
    }

    ck_assert_int_eq(kube_lease_try(a), 1); /* creates it */
    ck_assert_int_eq(kube_lease_try(b), 0);
    ck_assert_str_eq(kube_lease_holder(b), "host-a_1");
    usleep(1000000);
    ck_assert_int_eq(kube_lease_try(a), 1); /* renews */
    ck_assert_int_eq(kube_lease_try(b), 0);
    /* MicroTime with exactly six fractional digits */
    snprintf(path, sizeof(path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/nodescaler",
             ns);
    ck_assert_int_eq(it_req(ca, "GET", path, NULL, NULL, &lease), 200);
    regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$",
            REG_EXTENDED);
    ck_assert(
        regexec(&re,
                json_string_value(json_object_get(json_object_get(lease, "spec"), "renewTime")),
                0, NULL, 0) == 0);
    regfree(&re);
    json_decref(lease);
    /* a stops renewing: it stops leading after the renew deadline, by itself */
    t0 = kube_wall_ms();
    ck_assert(kube_lease_is_leader(a));
    usleep(2100000);
    ck_assert(!kube_lease_is_leader(a));
    /* b takes over once the lease has expired on b's clock */
    while (!kube_lease_try(b) && kube_wall_ms() - t0 < 8000)
        usleep(300000);
    ck_assert(kube_lease_is_leader(b));
    ck_assert_int_ge(kube_wall_ms() - t0, 2500);
    ck_assert_int_eq(kube_lease_try(a), 0);
    ck_assert_str_eq(kube_lease_holder(a), "host-b_2");
    ck_assert_int_eq(it_req(ca, "GET", path, NULL, NULL, &lease), 200);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(lease, "spec"), "leaseTransitions")),
        1);
    json_decref(lease);
    /* release hands over at once */
    ck_assert_int_eq(kube_lease_release(b), 0);
    ck_assert(!kube_lease_is_leader(b));
    ck_assert_int_eq(kube_lease_try(a), 1);
    kube_lease_free(a);
    kube_lease_free(b);
    kube_client_free(ca);
    kube_client_free(cb);
}
END_TEST

static json_t *
find_events(struct kube_client *c, const char *in_ns, const char *obj_name)
{
    char path[256];
    json_t *list = NULL, *ev, *out = json_array();
    size_t i;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", in_ns);
    ck_assert_int_eq(it_req(c, "GET", path, NULL, NULL, &list), 200);
    json_array_foreach(json_object_get(list, "items"), i, ev)
    {
        const char *n =
            json_string_value(json_object_get(json_object_get(ev, "involvedObject"), "name"));

        if (n && !strcmp(n, obj_name))
            json_array_append(out, ev);
    }
    json_decref(list);
    return out;
}

START_TEST(test_events)
{
    struct kube_client *c = it_client("NSC_IT_KUBECONFIG");
    struct kube_recorder *r;
    struct kube_obj_ref pod = {"Pod", "v1", ns, "ev-pod", "uid-1"};
    struct kube_obj_ref node = {"Node", "v1", NULL, NULL, NULL};
    char node_name[80];
    json_t *evs;

    snprintf(node_name, sizeof(node_name), "%s-evnode", ns);
    node.name = node_name;
    ck_assert_int_eq(kube_recorder_new(c, "nodescaler", "test-instance", &r), 0);
    ck_assert_int_eq(
        kube_record(r, &pod, "Normal", "TriggeredScaleUp", "pod triggered scale-up: %s", "g1"),
        0);
    ck_assert_int_eq(
        kube_record(r, &pod, "Normal", "TriggeredScaleUp", "pod triggered scale-up: %s", "g1"),
        0);
    ck_assert_int_eq(
        kube_record(r, &pod, "Normal", "TriggeredScaleUp", "pod triggered scale-up: %s", "g1"),
        0);
    ck_assert_int_eq(kube_record(r, &pod, "Warning", "NotTriggerScaleUp", "no group fits"), 0);
    evs = find_events(c, ns, "ev-pod");
    ck_assert_uint_eq(json_array_size(evs), 2);
    {
        json_t *e;
        size_t i;
        int found = 0;

        json_array_foreach(evs, i, e)
        {
            if (!strcmp(json_string_value(json_object_get(e, "reason")), "TriggeredScaleUp")) {
                ck_assert_int_eq(json_integer_value(json_object_get(e, "count")), 3);
                ck_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "source"),
                                                                   "component")),
                                 "nodescaler");
                found = 1;
            }
        }
        ck_assert(found);
    }
    json_decref(evs);
    /* a cluster-scoped object's event lives in "default" */
    ck_assert_int_eq(kube_record(r, &node, "Normal", "ScaleDown", "node removed"), 0);
    evs = find_events(c, "default", node_name);
    ck_assert_uint_eq(json_array_size(evs), 1);
    json_decref(evs);
    kube_recorder_free(r);
    kube_client_free(c);
}
END_TEST

START_TEST(test_configmap)
{
    struct kube_client *c = it_client("NSC_IT_KUBECONFIG");
    struct kube_resp resp;
    json_t *data = json_pack("{s:s}", "status", "first"), *cm = NULL;
    char path[256];

    ck_assert_int_eq(kube_configmap_put(c, ns, "nodescaler-status", data, &resp), 0);
    ck_assert_int_eq(resp.status, 201);
    kube_resp_clear(&resp);
    json_object_set_new(data, "status", json_string("second"));
    ck_assert_int_eq(kube_configmap_put(c, ns, "nodescaler-status", data, &resp), 0);
    ck_assert_int_eq(resp.status, 200);
    kube_resp_clear(&resp);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/nodescaler-status", ns);
    ck_assert_int_eq(it_req(c, "GET", path, NULL, NULL, &cm), 200);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cm, "data"), "status")),
                     "second");
    ck_assert_ptr_nonnull(json_string_value(
        json_object_get(json_object_get(json_object_get(cm, "metadata"), "annotations"),
                        "cluster-autoscaler.kubernetes.io/last-updated")));
    json_decref(cm);
    json_decref(data);
    kube_client_free(c);
}
END_TEST

/* The control loop's Events and status ConfigMap as this API server takes them: bounded
 * names and messages are accepted, and the status is created, then replaced. */
START_TEST(test_loop_events_and_status)
{
    struct kube_client *c = it_client("NSC_IT_KUBECONFIG");
    struct events_options eo;
    struct events *e;
    struct events_ref pod = {"Pod", ns, "loop-pod"};
    struct events_ref node = {"Node", NULL, NULL};
    char long_node[254], msg[1500], path[256];
    struct status *st;
    struct status_kube sk = {c, ns, "cluster-autoscaler-status"};
    struct status_io io = {ns, "cluster-autoscaler-status", status_kube_get, status_kube_send,
                           &sk};
    struct status_group g = {0};
    struct status_input in = {0};
    bool written;
    char err[1024] = "";
    json_t *evs, *cm = NULL;
    const char *text;

    events_options_default(&eo);
    ck_assert_int_eq(events_new(&eo, events_post_kube, c, &e), 0);
    /* A node name of the longest valid length: the Event's own name must stay valid. */
    memset(long_node, 'n', sizeof(long_node) - 1);
    long_node[sizeof(long_node) - 1] = '\0';
    node.name = long_node;
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    ck_assert_int_eq(events_emit(e, kube_wall_ms(), &pod, "Normal", "TriggeredScaleUp",
                                 "pod triggered scale-up: [{g 1->2 (max: 3)}] \xff"),
                     EVENTS_POSTED);
    ck_assert_int_eq(
        events_emit(e, kube_wall_ms(), &node, "Warning", "ScaleDownFailed", "%s", msg),
        EVENTS_POSTED);
    evs = find_events(c, ns, "loop-pod");
    ck_assert_uint_eq(json_array_size(evs), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(evs, 0), "message")),
                     "pod triggered scale-up: [{g 1->2 (max: 3)}] ?");
    json_decref(evs);
    evs = find_events(c, "default", long_node);
    ck_assert_uint_eq(json_array_size(evs), 1);
    ck_assert_uint_eq(
        strlen(json_string_value(json_object_get(json_array_get(evs, 0), "message"))),
        EVENTS_MESSAGE_MAX);
    json_decref(evs);
    events_free(e);

    ck_assert_int_eq(status_new(&st), 0);
    g.name = "pool-a";
    g.healthy = true;
    g.target = 2;
    g.max_size = 5;
    g.scale_up = STATUS_SU_IN_PROGRESS;
    in.healthy = true;
    in.scale_up = STATUS_SU_IN_PROGRESS;
    in.groups = &g;
    in.n_groups = 1;
    ck_assert_msg(status_update(st, &io, &in, kube_wall_ms(), &written, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert(written);
    g.scale_up = STATUS_SU_NO_ACTIVITY;
    in.scale_up = STATUS_SU_NOT_NEEDED;
    ck_assert_msg(status_update(st, &io, &in, kube_wall_ms(), &written, err, sizeof(err)) == 0,
                  "%s", err);
    ck_assert(written);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/cluster-autoscaler-status",
             ns);
    ck_assert_int_eq(it_req(c, "GET", path, NULL, NULL, &cm), 200);
    text = json_string_value(json_object_get(json_object_get(cm, "data"), STATUS_KEY));
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "  scaleUp:\n    status: NotNeeded\n"));
    ck_assert_ptr_nonnull(strstr(text, "- name: pool-a\n"));
    json_decref(cm);
    status_free(st);
    kube_client_free(c);
}
END_TEST

START_TEST(test_forbidden)
{
    struct kube_client *c = it_client("NSC_IT_UNBOUND_KUBECONFIG");
    struct kube_resp resp;
    char d[1024];
    int rc = kube_request(c, "GET", "/api/v1/pods?limit=1", NULL, NULL, 0, &resp);

    ck_assert_int_eq(rc, NSC_ERR_AUTH);
    ck_assert_int_eq(resp.status, 403);
    ck_assert_str_eq(resp.reason, "Forbidden");
    kube_resp_describe(&resp, d, sizeof(d));
    ck_assert_msg(
        strstr(d, "GET /api/v1/pods?limit=1: 403 Forbidden: pods is forbidden: User") != NULL,
        "%s", d);
    ck_assert_msg(strstr(d, "cannot list resource \"pods\"") != NULL, "%s", d);
    kube_resp_clear(&resp);
    kube_client_free(c);
}
END_TEST

/* ---- the live cluster read through the client gives the offline replay's decision ---- */

static json_t *
strip_for_create(json_t *item)
{
    json_t *o = json_deep_copy(item), *md = json_object_get(o, "metadata");

    json_object_del(md, "resourceVersion");
    json_object_del(md, "uid");
    json_object_del(md, "creationTimestamp");
    json_object_del(o, "status");
    return o;
}

static void
post_status(struct kube_client *c, const char *path, json_t *item)
{
    json_t *patch = json_pack("{s:O}", "status", json_object_get(item, "status"));
    struct kube_resp resp;

    if (json_object_get(item, "status") == NULL) {
        json_decref(patch);
        return;
    }
    kube_request(c, "PATCH", path, patch, "application/merge-patch+json", 0, &resp);
    ck_assert_msg(resp.status == 200, "%s: %ld %s", path, resp.status, resp.message);
    kube_resp_clear(&resp);
    json_decref(patch);
}

/* Create the snapshot's objects on the server, playing the controllers (status). */
static void
upload_snapshot(struct kube_client *c, const char *file)
{
    json_error_t jerr;
    json_t *snap = json_load_file(file, 0, &jerr), *item;
    const char *pdb_base = kube_pdb_path(c);
    size_t i;

    ck_assert_msg(snap != NULL, "%s: %s", file, jerr.text);
    it_req(c, "POST", "/api/v1/namespaces", "{\"metadata\":{\"name\":\"ml\"}}", NULL, NULL);
    json_array_foreach(json_object_get(snap, "items"), i, item)
    {
        const char *kind = json_string_value(json_object_get(item, "kind"));
        json_t *md = json_object_get(item, "metadata");
        const char *name = json_string_value(json_object_get(md, "name"));
        const char *ins = json_string_value(json_object_get(md, "namespace"));
        char coll[256], path[512];
        json_t *body = strip_for_create(item);
        struct kube_resp resp;

        if (!strcmp(kind, "Node")) {
            snprintf(coll, sizeof(coll), "/api/v1/nodes");
            snprintf(path, sizeof(path), "/api/v1/nodes/%s/status", name);
        } else if (!strcmp(kind, "Pod")) {
            snprintf(coll, sizeof(coll), "/api/v1/namespaces/%s/pods", ins);
            snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/status", ins, name);
        } else {
            /* policy/v1 or v1beta1: the paths differ only in the version */
            const char *ver = strstr(pdb_base, "v1beta1") ? "v1beta1" : "v1";

            json_object_set_new(body, "apiVersion", json_pack("s+", "policy/", ver));
            snprintf(coll, sizeof(coll), "/apis/policy/%s/namespaces/%s/poddisruptionbudgets",
                     ver, ins);
            snprintf(path, sizeof(path), "%s/%s/status", coll, name);
        }
        kube_request(c, "POST", coll, body, NULL, 0, &resp);
        if (resp.status == 403 && strstr(resp.message, "priority")) {
            /* a real server computes priority from a PriorityClass only */
            json_t *spec = json_object_get(body, "spec");
            json_int_t prio = json_integer_value(json_object_get(spec, "priority"));
            char pc[64], pcbody[256];

            snprintf(pc, sizeof(pc), "nsc-it-%lld", (long long)(prio < 0 ? -prio : prio));
            snprintf(pcbody, sizeof(pcbody),
                     "{\"apiVersion\":\"scheduling.k8s.io/v1\",\"kind\":\"PriorityClass\","
                     "\"metadata\":{\"name\":\"%s\"},\"value\":%lld}",
                     pc, (long long)prio);
            it_req(c, "POST", "/apis/scheduling.k8s.io/v1/priorityclasses", pcbody, NULL, NULL);
            json_object_del(spec, "priority");
            json_object_set_new(spec, "priorityClassName", json_string(pc));
            kube_resp_clear(&resp);
            kube_request(c, "POST", coll, body, NULL, 0, &resp);
        }
        ck_assert_msg(resp.status == 201 || resp.status == 409, "create %s %s: %ld %s", kind,
                      name, resp.status, resp.message);
        if (!strcmp(kind, "PodDisruptionBudget")) {
            json_t *st = json_object_get(item, "status");

            json_object_set_new(st, "observedGeneration",
                                json_integer(json_integer_value(json_object_get(
                                    json_object_get(resp.obj, "metadata"), "generation"))));
        }
        kube_resp_clear(&resp);
        post_status(c, path, item);
        json_decref(body);
    }
    json_decref(snap);
}

/* What `kubectl get nodes,pods,pdb,pv,pvc,ns -A -o json` prints: one v1 List whose items
 * carry kind and apiVersion. */
static json_t *
kubectl_dump(struct kube_client *c)
{
    static const struct {
        const char *path, *kind;
    } colls[] = {{"/api/v1/namespaces", "Namespace"},
                 {"/api/v1/nodes", "Node"},
                 {"/api/v1/persistentvolumes", "PersistentVolume"},
                 {"/api/v1/persistentvolumeclaims", "PersistentVolumeClaim"},
                 {NULL, "PodDisruptionBudget"},
                 {"/api/v1/pods", "Pod"}};
    json_t *out = json_pack("{s:s, s:s, s:[]}", "apiVersion", "v1", "kind", "List", "items");
    size_t i, j;

    for (i = 0; i < sizeof(colls) / sizeof(colls[0]); i++) {
        json_t *list = NULL, *it;
        const char *path = colls[i].path ? colls[i].path : kube_pdb_path(c);

        ck_assert_int_eq(it_req(c, "GET", path, NULL, NULL, &list), 200);
        json_array_foreach(json_object_get(list, "items"), j, it)
        {
            json_object_set_new(it, "kind", json_string(colls[i].kind));
            json_object_set(it, "apiVersion", json_object_get(list, "apiVersion"));
            json_array_append(json_object_get(out, "items"), it);
        }
        json_decref(list);
    }
    return out;
}

static void
load_groups(struct group_set *gs, const char *file)
{
    json_error_t jerr;
    json_t *root = json_load_file(file, 0, &jerr), *arr, *g;
    size_t i, k;

    ck_assert_msg(root != NULL, "%s", jerr.text);
    arr = json_object_get(root, "groups");
    gs->n_groups = json_array_size(arr);
    gs->groups = calloc(gs->n_groups, sizeof(*gs->groups));
    json_array_foreach(arr, i, g)
    {
        struct group_rec *r = &gs->groups[i];
        json_t *t = json_object_get(g, "template"), *inst = json_object_get(g, "instances");

        r->id = strdup(json_string_value(json_object_get(g, "id")));
        r->min_size = (int32_t)json_integer_value(json_object_get(g, "min"));
        r->max_size = (int32_t)json_integer_value(json_object_get(g, "max"));
        r->target_size = (int32_t)json_integer_value(json_object_get(g, "target"));
        if (t && !json_is_null(t))
            r->template_node_json = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
        r->n_instances = json_array_size(inst);
        r->instances = calloc(r->n_instances + 1, sizeof(*r->instances));
        for (k = 0; k < r->n_instances; k++)
            r->instances[k].provider_id = strdup(json_string_value(json_array_get(inst, k)));
    }
    json_decref(root);
}

static json_t *
decide_on(struct model *m, const char *groups_file)
{
    struct group_set gs = {0};
    struct scaleup_options o;
    char err[512];
    json_t *d = NULL;
    size_t i, k;

    load_groups(&gs, groups_file);
    scaleup_options_default(&o);
    ck_assert_msg(replay_decide(m, &gs, &o, &d, err, sizeof(err)) == 0, "%s", err);
    for (i = 0; i < gs.n_groups; i++) {
        free(gs.groups[i].id);
        free(gs.groups[i].template_node_json);
        for (k = 0; k < gs.groups[i].n_instances; k++)
            free(gs.groups[i].instances[k].provider_id);
        free(gs.groups[i].instances);
    }
    free(gs.groups);
    return d;
}

START_TEST(test_live_equals_dump)
{
    struct kube_client *c = it_client("NSC_IT_KUBECONFIG");
    const char *top = getenv("top_srcdir");
    char snap[4096], groups[4096], err[1024];
    struct model *live = model_new(), *dumped = model_new();
    struct model_load_stats st = {0};
    json_t *dump, *d_live, *d_dump;
    char *a, *b;

    snprintf(snap, sizeof(snap), "%s/tests/data/replay/snapshot.json", top ? top : "..");
    snprintf(groups, sizeof(groups), "%s/tests/data/replay/groups.json", top ? top : "..");
    upload_snapshot(c, snap);
    dump = kubectl_dump(c);
    ck_assert_msg(kube_load_model(c, live, &st, err, sizeof(err)) == 0, "%s", err);
    ck_assert_uint_ge(st.n_nodes, 3);
    ck_assert_uint_ge(st.n_pods, 15);
    ck_assert_uint_ge(st.n_pdbs, 1);
    ck_assert_msg(model_load_json(dumped, dump, NULL, err, sizeof(err)) == 0, "%s", err);
    d_live = decide_on(live, groups);
    d_dump = decide_on(dumped, groups);
    a = json_dumps(d_live, JSON_INDENT(1) | JSON_SORT_KEYS);
    b = json_dumps(d_dump, JSON_INDENT(1) | JSON_SORT_KEYS);
    ck_assert_msg(json_equal(d_live, d_dump), "live:\n%s\ndump:\n%s", a, b);
    /* and the decision is not empty: the pending pods were considered */
    ck_assert_int_gt(json_array_size(json_object_get(d_live, "scale_up")) +
                         json_array_size(json_object_get(d_live, "no_scale_up")),
                     0);
    free(a);
    free(b);
    json_decref(d_live);
    json_decref(d_dump);
    json_decref(dump);
    model_free(live);
    model_free(dumped);
    kube_client_free(c);
}
END_TEST

/* tokenFile credentials and tls-server-name (a name in the certificate, not the URL's) */
START_TEST(test_tokenfile_tls_server_name)
{
    struct kube_client *c = it_client("NSC_IT_TOKENFILE_KUBECONFIG");
    json_t *nsobj = NULL;
    char path[128];

    ck_assert_ptr_nonnull(kube_client_config(c)->tls_server_name);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s", ns);
    ck_assert_int_eq(it_req(c, "GET", path, NULL, NULL, &nsobj), 200);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(nsobj, "metadata"), "name")), ns);
    json_decref(nsobj);
    kube_client_free(c);
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
    curl_global_init(CURL_GLOBAL_DEFAULT);
    log_set_level(NSC_LOG_INFO);
    s = suite_create(getenv("NSC_IT_NAME") ? getenv("NSC_IT_NAME") : "kube-integration");
    tc = tcase_create("api");
    tcase_add_checked_fixture(tc, setup_ns, NULL);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_list_paginated);
    tcase_add_test(tc, test_informer_watch_and_relist);
    tcase_add_test(tc, test_eviction);
    tcase_add_test(tc, test_taints_rmw);
    tcase_add_test(tc, test_lease);
    tcase_add_test(tc, test_events);
    tcase_add_test(tc, test_configmap);
    tcase_add_test(tc, test_loop_events_and_status);
    tcase_add_test(tc, test_forbidden);
    tcase_add_test(tc, test_live_equals_dump);
    if (getenv("NSC_IT_TOKENFILE_KUBECONFIG"))
        tcase_add_test(tc, test_tokenfile_tls_server_name);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
