/* Differential test of the scheduling simulation against a real kube-scheduler: replays
 * scenario files on a live kube-apiserver, one pod at a time, and compares each outcome
 * (node chosen, or the "0/N nodes are available: ..." histogram) with engine/sim. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "model/model.h"
#include "sim/sim.h"

#define WAIT_SCHEDULED_MS 30000 /* per pod: bound or marked unschedulable */
#define WAIT_CLEAN_MS 30000     /* objects of the previous scenario gone */
#define SETTLE_MS 1500          /* the scheduler's informers see a new scenario's objects */
#define MAX_REASONS 64

struct http {
    CURL *c;
    struct curl_slist *hdrs;
    const char *base;
};

struct buf {
    char *p;
    size_t n;
};

/* A "0/N nodes are available" histogram: reason text -> node count. */
struct hist {
    uint32_t n;
    char *reason[MAX_REASONS];
    int count[MAX_REASONS];
};

struct totals {
    unsigned scenarios, pods, agree, disagree, known, expect_failed, errors;
};

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct buf *b = arg;
    size_t len = size * nmemb;
    char *np = realloc(b->p, b->n + len + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, data, len);
    b->n += len;
    np[b->n] = 0;
    b->p = np;
    return len;
}

/* One request; body borrowed (NULL for none); *out owned (NULL when the answer is not
 * JSON). Returns the HTTP status, or -1 when the request failed (message printed). */
static long
http_do(struct http *h, const char *method, const char *path, json_t *body, json_t **out)
{
    char url[2048];
    struct buf b = {NULL, 0};
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    long status = -1;
    snprintf(url, sizeof(url), "%s%s", h->base, path);
    curl_easy_setopt(h->c, CURLOPT_URL, url);
    /* A bodyless request resets the handle to GET first so that no earlier POST state
     * remains (libcurl would read a body from stdin); the method word is then replaced. */
    if (text)
        curl_easy_setopt(h->c, CURLOPT_POSTFIELDS, text);
    else
        curl_easy_setopt(h->c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h->c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h->c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h->c, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(h->c);
    if (rc != CURLE_OK)
        fprintf(stderr, "schedcheck: %s %s: %s\n", method, url, curl_easy_strerror(rc));
    else
        curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, &status);
    if (out)
        *out = b.p ? json_loads(b.p, 0, NULL) : NULL;
    free(b.p);
    free(text);
    return status;
}

/* ---- cluster setup ---- */

static const char *
jstr(json_t *o, const char *path1, const char *path2)
{
    json_t *v = json_object_get(o, path1);
    if (path2)
        v = json_object_get(v, path2);
    return json_string_value(v);
}

/* Delete every pod and node; wait until the lists are empty. Returns 0 or -1. */
static int
clean_cluster(struct http *h)
{
    long deadline = now_ms() + WAIT_CLEAN_MS;
    for (;;) {
        json_t *pods = NULL, *nodes = NULL;
        if (http_do(h, "GET", "/api/v1/pods", NULL, &pods) != 200 ||
            http_do(h, "GET", "/api/v1/nodes", NULL, &nodes) != 200) {
            json_decref(pods);
            json_decref(nodes);
            return -1;
        }
        size_t n_left = json_array_size(json_object_get(pods, "items")) +
                        json_array_size(json_object_get(nodes, "items"));
        size_t i;
        json_t *it;
        char path[1024];
        json_array_foreach(json_object_get(pods, "items"), i, it)
        {
            snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s?gracePeriodSeconds=0",
                     jstr(it, "metadata", "namespace"), jstr(it, "metadata", "name"));
            http_do(h, "DELETE", path, NULL, NULL);
        }
        json_array_foreach(json_object_get(nodes, "items"), i, it)
        {
            snprintf(path, sizeof(path), "/api/v1/nodes/%s", jstr(it, "metadata", "name"));
            http_do(h, "DELETE", path, NULL, NULL);
        }
        json_decref(pods);
        json_decref(nodes);
        if (n_left == 0)
            return 0;
        if (now_ms() > deadline) {
            fprintf(stderr,
                    "schedcheck: objects of the previous scenario still present after "
                    "%d ms\n",
                    WAIT_CLEAN_MS);
            return -1;
        }
        sleep_ms(200);
    }
}

/* A Node object from a scenario's compact node (borrowed); owned result. */
static json_t *
make_node(json_t *d)
{
    const char *name = json_string_value(json_object_get(d, "name"));
    json_t *labels = json_deep_copy(json_object_get(d, "labels"));
    if (!labels)
        labels = json_object();
    if (!json_object_get(labels, "kubernetes.io/hostname") &&
        !json_is_true(json_object_get(d, "no_hostname_label")))
        json_object_set_new(labels, "kubernetes.io/hostname", json_string(name));
    json_t *cap = json_deep_copy(json_object_get(d, "capacity"));
    if (!cap)
        cap = json_pack("{s:s, s:s, s:s}", "cpu", "4", "memory", "8Gi", "pods", "110");
    json_t *alloc = json_deep_copy(json_object_get(d, "allocatable"));
    if (!alloc)
        alloc = json_deep_copy(cap);
    json_t *spec = json_object();
    if (json_object_get(d, "taints"))
        json_object_set(spec, "taints", json_object_get(d, "taints"));
    if (json_is_true(json_object_get(d, "unschedulable")))
        json_object_set_new(spec, "unschedulable", json_true());
    return json_pack("{s:s, s:s, s:{s:s, s:o}, s:o, s:{s:o, s:o}}", "apiVersion", "v1", "kind",
                     "Node", "metadata", "name", name, "labels", labels, "spec", spec, "status",
                     "capacity", cap, "allocatable", alloc);
}

/* A Pod object from a scenario pod (borrowed): namespace "default" and a container image
 * filled in when absent. Owned result. */
static json_t *
make_pod(json_t *d)
{
    json_t *p = json_deep_copy(d);
    json_object_del(p, "expect");
    json_object_del(p, "known_difference");
    json_object_set_new(p, "apiVersion", json_string("v1"));
    json_object_set_new(p, "kind", json_string("Pod"));
    json_t *md = json_object_get(p, "metadata");
    if (!json_object_get(md, "namespace"))
        json_object_set_new(md, "namespace", json_string("default"));
    json_t *spec = json_object_get(p, "spec");
    if (!spec) {
        spec = json_object();
        json_object_set_new(p, "spec", spec);
    }
    if (!json_object_get(spec, "containers"))
        json_object_set_new(spec, "containers", json_pack("[{s:s}]", "name", "c"));
    const char *lists[] = {"containers", "initContainers"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, lists[l]), i, c)
        {
            if (!json_object_get(c, "image"))
                json_object_set_new(c, "image", json_string("registry.invalid/pause:1"));
        }
    }
    json_object_set_new(spec, "terminationGracePeriodSeconds", json_integer(0));
    return p;
}

static int
create(struct http *h, const char *path, json_t *obj, bool exist_ok, const char *what)
{
    json_t *ans = NULL;
    long st = http_do(h, "POST", path, obj, &ans);
    int rc = 0;
    if (!(st == 201 || st == 200 || (exist_ok && st == 409))) {
        fprintf(stderr, "schedcheck: creating %s: HTTP %ld: %s\n", what, st,
                ans ? json_string_value(json_object_get(ans, "message")) : "(no body)");
        rc = -1;
    }
    json_decref(ans);
    return rc;
}

static void
pods_path(char *buf, size_t len, json_t *pod)
{
    snprintf(buf, len, "/api/v1/namespaces/%s/pods", jstr(pod, "metadata", "namespace"));
}

/* Where a scenario's volume object is created, by kind; NULL for another kind. */
static const char *
volume_path(char *buf, size_t len, json_t *obj)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (kind && strcmp(kind, "StorageClass") == 0)
        snprintf(buf, len, "/apis/storage.k8s.io/v1/storageclasses");
    else if (kind && strcmp(kind, "CSINode") == 0)
        snprintf(buf, len, "/apis/storage.k8s.io/v1/csinodes");
    else if (kind && strcmp(kind, "PersistentVolume") == 0)
        snprintf(buf, len, "/api/v1/persistentvolumes");
    else if (kind && strcmp(kind, "PersistentVolumeClaim") == 0)
        snprintf(buf, len, "/api/v1/namespaces/%s/persistentvolumeclaims",
                 jstr(obj, "metadata", "namespace"));
    else
        return NULL;
    return buf;
}

/* The cluster as `kubectl get nodes,pods,namespaces,pv,pvc,sc,csinodes -A -o json` prints it.
 * Owned. */
static json_t *
cluster_list(struct http *h)
{
    static const struct {
        const char *path, *kind, *api;
    } kinds[] = {
        {"/api/v1/namespaces", "Namespace", "v1"},
        {"/api/v1/nodes", "Node", "v1"},
        {"/api/v1/pods", "Pod", "v1"},
        {"/api/v1/persistentvolumes", "PersistentVolume", "v1"},
        {"/api/v1/persistentvolumeclaims", "PersistentVolumeClaim", "v1"},
        {"/apis/storage.k8s.io/v1/storageclasses", "StorageClass", "storage.k8s.io/v1"},
        {"/apis/storage.k8s.io/v1/csinodes", "CSINode", "storage.k8s.io/v1"}};
    json_t *items = json_array();
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        json_t *l = NULL;
        if (http_do(h, "GET", kinds[k].path, NULL, &l) != 200) {
            json_decref(l);
            json_decref(items);
            return NULL;
        }
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(l, "items"), i, it)
        {
            json_object_set_new(it, "kind", json_string(kinds[k].kind));
            json_object_set_new(it, "apiVersion", json_string(kinds[k].api));
            json_array_append(items, it);
        }
        json_decref(l);
    }
    return json_pack("{s:s, s:s, s:o}", "apiVersion", "v1", "kind", "List", "items", items);
}

/* ---- histograms ---- */

static void
hist_add(struct hist *h, const char *reason)
{
    for (uint32_t i = 0; i < h->n; i++)
        if (strcmp(h->reason[i], reason) == 0) {
            h->count[i]++;
            return;
        }
    if (h->n < MAX_REASONS) {
        h->reason[h->n] = strdup(reason);
        h->count[h->n++] = 1;
    }
}

static int
hist_get(const struct hist *h, const char *reason)
{
    for (uint32_t i = 0; i < h->n; i++)
        if (strcmp(h->reason[i], reason) == 0)
            return h->count[i];
    return 0;
}

static void
hist_free(struct hist *h)
{
    for (uint32_t i = 0; i < h->n; i++)
        free(h->reason[i]);
    h->n = 0;
}

/* Parse "0/N nodes are available: 2 reason, 1 other reason." into h and *n_nodes.
 * Returns 0, or -1 when msg has another shape. */
static int
hist_parse(const char *msg, struct hist *h, int *n_nodes)
{
    int used = 0;
    if (sscanf(msg, "0/%d nodes are available: %n", n_nodes, &used) != 1 || used == 0)
        return -1;
    char *rest = strdup(msg + used);
    size_t len = strlen(rest);
    if (len && rest[len - 1] == '.')
        rest[len - 1] = 0;
    int rc = 0;
    for (char *tok = rest; tok && *tok;) {
        /* Reasons may hold ", " themselves (the taint one does): an entry starts only
         * where ", " is followed by a count. */
        char *next = tok;
        while ((next = strstr(next, ", ")) && !(next[2] >= '0' && next[2] <= '9'))
            next += 2;
        if (next) {
            *next = 0;
            next += 2;
        }
        char *end;
        long n = strtol(tok, &end, 10);
        if (end == tok || *end != ' ') {
            rc = -1;
            break;
        }
        for (long i = 0; i < n; i++)
            hist_add(h, end + 1);
        tok = next;
    }
    free(rest);
    return rc;
}

/* ---- the simulation's verdicts, as kube-scheduler 1.20 words them ---- */

/* Every resource NodeResourcesFit (1.20 fitsRequest) reports short on node n: the
 * simulation stops at the first, the scheduler lists all of them. */
static int
add_resource_reasons(const struct sim_snapshot *s, const struct model_pod *p, uint32_t node,
                     struct hist *h)
{
    static const char *const names[] = {"cpu", "memory", "ephemeral-storage"};
    const struct sim_node *n = &s->nodes[node];
    const struct res *a = &n->src->alloc, *r = &p->spec->req;
    int added = 0;
    if (n->used[RES_PODS] + 1 > a->fixed[RES_PODS]) {
        hist_add(h, "Too many pods");
        added++;
    }
    if (!r->fixed[RES_CPU] && !r->fixed[RES_MEMORY] && !r->fixed[RES_EPHEMERAL] && !r->n_ext)
        return added;
    for (int k = 0; k < RES_PODS; k++)
        if (a->fixed[k] < r->fixed[k] + n->used[k]) {
            char reason[128];
            snprintf(reason, sizeof(reason), "Insufficient %s", names[k]);
            hist_add(h, reason);
            added++;
        }
    for (uint32_t i = 0; i < r->n_ext; i++) {
        int64_t alloc = 0, used = 0;
        for (uint32_t j = 0; j < a->n_ext; j++)
            if (a->ext[j].name == r->ext[i].name) {
                alloc = a->ext[j].val;
                used = n->used_ext[j];
            }
        if (alloc < r->ext[i].val + used) {
            char reason[512];
            snprintf(reason, sizeof(reason), "Insufficient %s",
                     intern_str(&s->m->strings, r->ext[i].name));
            hist_add(h, reason);
            added++;
        }
    }
    return added;
}

/* Adds the 1.20 reason texts of one refused node to h. Returns 0, or -1 when the
 * verdict has no 1.20 counterpart (the caller reports it). */
static int
add_reasons(const struct sim_snapshot *s, const struct model_pod *p, uint32_t node, int verdict,
            const char *why, struct hist *h)
{
    switch (verdict) {
    case SIM_FAIL_UNSCHEDULABLE:
        hist_add(h, "node(s) were unschedulable");
        return 0;
    case SIM_FAIL_TAINT: {
        /* 1.20 names the first untolerated taint; the simulation's sentence carries it as
         * "{key: value}". */
        const char *b = strchr(why, '{'), *e = b ? strchr(b, '}') : NULL;
        if (!e)
            return -1;
        char reason[512];
        snprintf(reason, sizeof(reason), "node(s) had taint %.*s, that the pod didn't tolerate",
                 (int)(e - b + 1), b);
        hist_add(h, reason);
        return 0;
    }
    case SIM_FAIL_NODE_AFFINITY:
        hist_add(h, "node(s) didn't match Pod's node affinity");
        return 0;
    case SIM_FAIL_PORTS:
        hist_add(h, "node(s) didn't have free ports for the requested pod ports");
        return 0;
    case SIM_FAIL_RESOURCES:
        return add_resource_reasons(s, p, node, h) > 0 ? 0 : -1;
    case SIM_FAIL_SPREAD:
        if (strstr(why, "missing required label"))
            hist_add(h, "node(s) didn't match pod topology spread constraints (missing "
                        "required label)");
        else
            hist_add(h, "node(s) didn't match pod topology spread constraints");
        return 0;
    case SIM_FAIL_AFFINITY:
        hist_add(h, "node(s) didn't match pod affinity/anti-affinity");
        hist_add(h, "node(s) didn't match pod affinity rules");
        return 0;
    case SIM_FAIL_ANTI_AFFINITY:
        hist_add(h, "node(s) didn't match pod affinity/anti-affinity");
        hist_add(h, "node(s) didn't match pod anti-affinity rules");
        return 0;
    case SIM_FAIL_EXISTING_ANTI:
        hist_add(h, "node(s) didn't match pod affinity/anti-affinity");
        hist_add(h, "node(s) didn't satisfy existing pods anti-affinity rules");
        return 0;
    case SIM_FAIL_VOLUME: {
        /* The volume plugins' messages are the simulation's, without the claim or volume
         * it adds in parentheses. ReadWriteOncePod is not in 1.20. */
        char reason[512];
        const char *cut = strstr(why, " (");
        if (strstr(why, "ReadWriteOncePod"))
            return -1;
        snprintf(reason, sizeof(reason), "%.*s", cut ? (int)(cut - why) : (int)strlen(why),
                 why);
        hist_add(h, reason);
        return 0;
    }
    default:
        return -1;
    }
}

struct sim_result {
    uint32_t n_nodes, n_feasible;
    char **node_name;
    int *verdict;
    char **why;
    struct hist hist;
    bool untranslatable; /* a verdict without a 1.20 reason */
};

static void
sim_result_free(struct sim_result *r)
{
    for (uint32_t i = 0; i < r->n_nodes; i++) {
        free(r->node_name[i]);
        free(r->why[i]);
    }
    free(r->node_name);
    free(r->verdict);
    free(r->why);
    hist_free(&r->hist);
}

/* Run the simulation for pod (borrowed, as the apiserver would store it) against the
 * cluster list (borrowed). Returns 0 or -1 (message printed). */
static int
simulate(json_t *list, json_t *pod, struct sim_result *out)
{
    char err[512] = "";
    int rc = -1;
    struct model *m = model_new();
    struct sim_snapshot *s = NULL;
    struct sim_ctx *c = NULL;
    memset(out, 0, sizeof(*out));
    if (!m)
        goto done;
    m->kube_minor = 20; /* the rules of the scheduler it is compared with */
    struct model_load_stats st;
    if (model_load_json(m, list, &st, err, sizeof(err)) < 0 || st.n_skipped) {
        fprintf(stderr, "schedcheck: the model refused the cluster state: %s (%u skipped)\n",
                err, st.n_skipped);
        goto done;
    }
    if (model_upsert_pod(m, pod) < 0) {
        fprintf(stderr, "schedcheck: the model refused the pod\n");
        goto done;
    }
    const struct model_pod *mp =
        model_find_pod(m, jstr(pod, "metadata", "namespace"), jstr(pod, "metadata", "name"));
    if (!mp || sim_snapshot_new(m, &s) < 0 || sim_ctx_new(s, mp, &c) < 0)
        goto done;
    out->n_nodes = s->n_nodes;
    out->node_name = calloc(s->n_nodes + 1, sizeof(char *));
    out->verdict = calloc(s->n_nodes + 1, sizeof(int));
    out->why = calloc(s->n_nodes + 1, sizeof(char *));
    if (!out->node_name || !out->verdict || !out->why)
        goto done;
    for (uint32_t i = 0; i < s->n_nodes; i++) {
        char why[512] = "";
        out->verdict[i] = sim_check(s, c, i, why, sizeof(why));
        out->node_name[i] = strdup(s->nodes[i].src->name);
        out->why[i] = strdup(out->verdict[i] == SIM_OK ? "fits" : why);
        if (out->verdict[i] == SIM_OK)
            out->n_feasible++;
        else if (add_reasons(s, mp, i, out->verdict[i], why, &out->hist) < 0)
            out->untranslatable = true;
    }
    rc = 0;
done:
    sim_ctx_free(c);
    sim_snapshot_free(s);
    model_free(m);
    return rc;
}

/* ---- one pod ---- */

/* Submit pod and wait until it is bound (*node owned) or marked unschedulable (*msg
 * owned). Returns 0, or -1 on timeout or API failure (message printed). */
static int
submit_and_wait(struct http *h, json_t *pod, char **node, char **msg)
{
    char path[1024];
    pods_path(path, sizeof(path), pod);
    if (create(h, path, pod, false, "pod") < 0)
        return -1;
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s",
             jstr(pod, "metadata", "name"));
    long deadline = now_ms() + WAIT_SCHEDULED_MS;
    *node = *msg = NULL;
    while (now_ms() < deadline) {
        json_t *got = NULL;
        if (http_do(h, "GET", path, NULL, &got) == 200) {
            const char *nn = jstr(got, "spec", "nodeName");
            if (nn && *nn)
                *node = strdup(nn);
            size_t i;
            json_t *cond;
            json_array_foreach(json_object_get(json_object_get(got, "status"), "conditions"), i,
                               cond)
            {
                const char *type = jstr(cond, "type", NULL);
                const char *status = jstr(cond, "status", NULL);
                const char *reason = jstr(cond, "reason", NULL);
                if (type && strcmp(type, "PodScheduled") == 0 && status &&
                    strcmp(status, "False") == 0 && reason &&
                    strcmp(reason, "Unschedulable") == 0 && !*node)
                    *msg =
                        strdup(jstr(cond, "message", NULL) ? jstr(cond, "message", NULL) : "");
            }
        }
        json_decref(got);
        if (*node || *msg)
            return 0;
        sleep_ms(50);
    }
    fprintf(stderr,
            "schedcheck: pod %s was neither bound nor marked unschedulable within %d ms\n",
            path, WAIT_SCHEDULED_MS);
    return -1;
}

static void
print_sim(const struct sim_result *r)
{
    for (uint32_t i = 0; i < r->n_nodes; i++)
        fprintf(stderr, "    simulation: node %s: %s\n", r->node_name[i], r->why[i]);
}

/* Compare one pod's outcome; prints a diff on disagreement. Returns true on agreement. */
static bool
compare(const char *scen, const char *pref, const struct sim_result *r, const char *node,
        const char *msg)
{
    bool ok = true;
    if (r->untranslatable) {
        fprintf(stderr,
                "MISMATCH %s %s: a simulation verdict has no kube-scheduler 1.20 "
                "counterpart\n",
                scen, pref);
        ok = false;
    }
    if (node) {
        uint32_t i;
        for (i = 0; i < r->n_nodes && strcmp(r->node_name[i], node) != 0; i++)
            ;
        if (i == r->n_nodes) {
            fprintf(stderr,
                    "MISMATCH %s %s: scheduler bound it to %s, a node the simulation "
                    "does not know\n",
                    scen, pref, node);
            ok = false;
        } else if (r->verdict[i] != SIM_OK) {
            fprintf(stderr,
                    "MISMATCH %s %s node %s: scheduler bound it there; simulation "
                    "refuses it: %s\n",
                    scen, pref, node, r->why[i]);
            ok = false;
        }
    } else {
        struct hist sched = {0};
        int n_nodes = -1;
        if (hist_parse(msg, &sched, &n_nodes) < 0) {
            fprintf(stderr, "MISMATCH %s %s: unexpected scheduler message \"%s\"\n", scen, pref,
                    msg);
            ok = false;
        } else {
            if ((uint32_t)n_nodes != r->n_nodes) {
                fprintf(stderr, "MISMATCH %s %s: scheduler saw %d nodes, simulation %u\n", scen,
                        pref, n_nodes, r->n_nodes);
                ok = false;
            }
            if (r->n_feasible) {
                fprintf(stderr,
                        "MISMATCH %s %s: scheduler: unschedulable; simulation: fits %u "
                        "node(s):",
                        scen, pref, r->n_feasible);
                for (uint32_t i = 0; i < r->n_nodes; i++)
                    if (r->verdict[i] == SIM_OK)
                        fprintf(stderr, " %s", r->node_name[i]);
                fprintf(stderr, "\n");
                ok = false;
            }
            for (uint32_t i = 0; i < sched.n; i++) {
                int want = hist_get(&r->hist, sched.reason[i]);
                if (want != sched.count[i]) {
                    fprintf(stderr,
                            "MISMATCH %s %s: \"%s\": scheduler %d node(s), simulation %d\n",
                            scen, pref, sched.reason[i], sched.count[i], want);
                    ok = false;
                }
            }
            for (uint32_t i = 0; i < r->hist.n; i++)
                if (!hist_get(&sched, r->hist.reason[i])) {
                    fprintf(stderr,
                            "MISMATCH %s %s: \"%s\": scheduler 0 node(s), simulation %d\n",
                            scen, pref, r->hist.reason[i], r->hist.count[i]);
                    ok = false;
                }
        }
        hist_free(&sched);
    }
    if (!ok) {
        if (node)
            fprintf(stderr, "    scheduler: bound to %s\n", node);
        else
            fprintf(stderr, "    scheduler: %s\n", msg);
        print_sim(r);
    }
    return ok;
}

/* The scenario's own expectation ("unschedulable", "scheduled" or a node name), which
 * keeps a scenario testing what it says it tests. */
static bool
check_expect(const char *scen, const char *pref, json_t *d, const char *node)
{
    const char *want = json_string_value(json_object_get(d, "expect"));
    if (!want)
        return true;
    bool ok;
    if (strcmp(want, "unschedulable") == 0)
        ok = node == NULL;
    else if (strcmp(want, "scheduled") == 0)
        ok = node != NULL;
    else
        ok = node && strcmp(node, want) == 0;
    if (!ok)
        fprintf(stderr, "EXPECTATION %s %s: scenario expects %s, scheduler: %s\n", scen, pref,
                want, node ? node : "unschedulable");
    return ok;
}

static int
run_pod(struct http *h, const char *scen, json_t *d, struct totals *t)
{
    json_t *pod = make_pod(d);
    char path[1024], pref[512];
    int rc = -1;
    struct sim_result r = {0};
    char *node = NULL, *msg = NULL;
    json_t *list = NULL, *dry = NULL;
    snprintf(pref, sizeof(pref), "pod %s/%s", jstr(pod, "metadata", "namespace"),
             jstr(pod, "metadata", "name"));
    /* The pod as the apiserver stores it (defaults, admission), without storing it. */
    pods_path(path, sizeof(path), pod);
    strcat(path, "?dryRun=All");
    long st = http_do(h, "POST", path, pod, &dry);
    if (st != 201 && st != 200) {
        fprintf(stderr, "schedcheck: %s %s: dry-run create: HTTP %ld: %s\n", scen, pref, st,
                dry ? json_string_value(json_object_get(dry, "message")) : "");
        goto done;
    }
    if (!(list = cluster_list(h)) || simulate(list, dry, &r) < 0)
        goto done;
    if (submit_and_wait(h, pod, &node, &msg) < 0)
        goto done;
    t->pods++;
    /* A documented difference between 1.20 and the current scheduler, which the
     * simulation follows: it must show, else the marker is stale and fails. */
    const char *known = json_string_value(json_object_get(d, "known_difference"));
    bool agree = compare(scen, pref, &r, node, msg);
    if (known && !agree) {
        t->known++;
        printf("known difference %s %s: %s\n", scen, pref, known);
    } else if (known) {
        t->disagree++;
        fprintf(stderr, "MISMATCH %s %s: marked as a known difference (%s) but both agree\n",
                scen, pref, known);
    } else if (agree) {
        t->agree++;
        printf("ok %s %s: %s%s\n", scen, pref, node ? "bound to " : "", node ? node : msg);
    } else {
        t->disagree++;
    }
    if (!check_expect(scen, pref, d, node))
        t->expect_failed++;
    if (!node) {
        /* Gone before the next pod: a retry could bind it once the state changes. */
        pods_path(path, sizeof(path), pod);
        snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%s?gracePeriodSeconds=0",
                 jstr(pod, "metadata", "name"));
        http_do(h, "DELETE", path, NULL, NULL);
    }
    rc = 0;
done:
    sim_result_free(&r);
    free(node);
    free(msg);
    json_decref(list);
    json_decref(dry);
    json_decref(pod);
    return rc;
}

static int
run_scenario(struct http *h, const char *file, struct totals *t)
{
    json_error_t je;
    json_t *sc = json_load_file(file, 0, &je);
    const char *scen = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    if (!sc) {
        fprintf(stderr, "schedcheck: %s:%d: %s\n", file, je.line, je.text);
        return -1;
    }
    int rc = -1;
    size_t i;
    json_t *d;
    if (clean_cluster(h) < 0)
        goto done;
    json_array_foreach(json_object_get(sc, "namespaces"), i, d)
    {
        json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                               "metadata", "name", json_string_value(d));
        int c = create(h, "/api/v1/namespaces", ns, true, "namespace");
        json_decref(ns);
        if (c < 0)
            goto done;
    }
    json_array_foreach(json_object_get(sc, "nodes"), i, d)
    {
        json_t *n = make_node(d);
        int c = create(h, "/api/v1/nodes", n, false, "node");
        json_decref(n);
        if (c < 0)
            goto done;
    }
    /* Claims, volumes and classes are not deleted between scenarios (no controller
     * removes a claim's protection finalizer): their names must be unique over all
     * scenarios, and an existing one is taken as is. */
    json_array_foreach(json_object_get(sc, "volumes"), i, d)
    {
        char path[1024];
        if (!volume_path(path, sizeof(path), d)) {
            fprintf(stderr,
                    "schedcheck: %s: volumes[%zu]: kind is not StorageClass, CSINode, "
                    "PersistentVolume or PersistentVolumeClaim\n",
                    file, i);
            goto done;
        }
        if (create(h, path, d, true, "volume object") < 0)
            goto done;
    }
    json_array_foreach(json_object_get(sc, "bound"), i, d)
    {
        json_t *p = make_pod(d);
        char path[1024];
        pods_path(path, sizeof(path), p);
        int c = create(h, path, p, false, "bound pod");
        json_decref(p);
        if (c < 0)
            goto done;
    }
    sleep_ms(SETTLE_MS);
    t->scenarios++;
    json_array_foreach(json_object_get(sc, "pods"), i, d)
    {
        if (run_pod(h, scen, d, t) < 0)
            goto done;
    }
    rc = 0;
done:
    json_decref(sc);
    return rc;
}

/* Print n free loopback TCP ports (for the harness script). */
static int
free_ports(int n)
{
    int fds[16];
    if (n < 1 || n > 16)
        return 2;
    for (int i = 0; i < n; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof(a);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(fds[i], (struct sockaddr *)&a, &l) < 0) {
            perror("schedcheck: free port");
            return 1;
        }
        printf("%s%u", i ? " " : "", ntohs(a.sin_port));
    }
    printf("\n");
    for (int i = 0; i < n; i++)
        close(fds[i]);
    return 0;
}

static void
usage(void)
{
    fprintf(stderr, "usage: schedcheck --server URL --token-file FILE --cacert FILE "
                    "SCENARIO.json...\n       schedcheck --free-ports N\n");
}

int
main(int argc, char **argv)
{
    const char *server = NULL, *token_file = NULL, *cacert = NULL;
    int i;
    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--free-ports") == 0 && i + 1 < argc)
            return free_ports(atoi(argv[i + 1]));
        if (i + 1 >= argc) {
            usage();
            return 2;
        }
        if (strcmp(argv[i], "--server") == 0)
            server = argv[++i];
        else if (strcmp(argv[i], "--token-file") == 0)
            token_file = argv[++i];
        else if (strcmp(argv[i], "--cacert") == 0)
            cacert = argv[++i];
        else {
            usage();
            return 2;
        }
    }
    if (!server || !token_file || !cacert || i == argc) {
        usage();
        return 2;
    }
    char token[512] = "", auth[600];
    FILE *f = fopen(token_file, "r");
    if (!f || !fgets(token, sizeof(token), f)) {
        fprintf(stderr, "schedcheck: cannot read the token file %s\n", token_file);
        if (f)
            fclose(f);
        return 2;
    }
    fclose(f);
    token[strcspn(token, "\r\n")] = 0;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);

    setvbuf(stdout, NULL, _IOLBF, 0); /* keep "ok" lines in order with the diffs */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct http h = {curl_easy_init(), NULL, server};
    h.hdrs = curl_slist_append(h.hdrs, auth);
    h.hdrs = curl_slist_append(h.hdrs, "Content-Type: application/json");
    h.hdrs = curl_slist_append(h.hdrs, "Accept: application/json");
    curl_easy_setopt(h.c, CURLOPT_HTTPHEADER, h.hdrs);
    curl_easy_setopt(h.c, CURLOPT_CAINFO, cacert);
    curl_easy_setopt(h.c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h.c, CURLOPT_CONNECTTIMEOUT, 10L);

    struct totals t = {0};
    for (; i < argc; i++)
        if (run_scenario(&h, argv[i], &t) < 0)
            t.errors++;
    printf("schedcheck: %u scenarios, %u pods compared, %u agree, %u disagree, %u known "
           "version differences, %u scenario expectations failed, %u errors\n",
           t.scenarios, t.pods, t.agree, t.disagree, t.known, t.expect_failed, t.errors);
    curl_slist_free_all(h.hdrs);
    curl_easy_cleanup(h.c);
    curl_global_cleanup();
    return t.disagree || t.expect_failed || t.errors ? 1 : 0;
}
