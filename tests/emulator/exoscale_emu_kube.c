/* The kube half of the Exoscale emulator: a new running instance becomes a Node in a
 * kube-apiserver (real or emulated) through its normal REST API, turns Ready after a
 * delay, and is deleted when the instance is evicted. */
#include "config.h"

#include "exoscale_emu_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
emu_kube_init(struct exo_emu *e, const struct exo_emu_opts *o, char *err, size_t err_len)
{
    size_t n = strlen(o->kube_url);

    while (n > 0 && o->kube_url[n - 1] == '/')
        n--;
    e->kube_url = strndup(o->kube_url, n);
    e->kube_token = o->kube_token ? strdup(o->kube_token) : NULL;
    e->kube_ca_file = o->kube_ca_file ? strdup(o->kube_ca_file) : NULL;
    e->kube_insecure = o->kube_insecure;
    pthread_mutex_init(&e->kube_lock, NULL);
    pthread_mutex_init(&e->kube_flush_lock, NULL);
    if (e->kube_url == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    return 0;
}

void
emu_kube_fini(struct exo_emu *e)
{
    size_t i;

    if (e->kube_url == NULL)
        return;
    for (i = 0; i < e->n_kq; i++)
        free(e->kq[i].body);
    free(e->kq);
    free(e->kube_url);
    free(e->kube_token);
    free(e->kube_ca_file);
    pthread_mutex_destroy(&e->kube_lock);
    pthread_mutex_destroy(&e->kube_flush_lock);
    e->kube_url = NULL;
}

void
emu_kube_queue(struct exo_emu *e, int kind, const char *name, char *body)
{
    struct emu_kube_action *a;

    if (e->kube_url == NULL) {
        free(body);
        return;
    }
    pthread_mutex_lock(&e->kube_lock);
    if (e->n_kq == e->cap_kq) {
        e->cap_kq = e->cap_kq ? e->cap_kq * 2 : 32;
        e->kq = realloc(e->kq, e->cap_kq * sizeof(*e->kq));
        if (e->kq == NULL)
            abort();
    }
    a = &e->kq[e->n_kq++];
    a->kind = kind;
    snprintf(a->name, sizeof(a->name), "%s", name);
    a->body = body;
    pthread_mutex_unlock(&e->kube_lock);
}

/* Resources of the instance's type, as a kubelet would report them. */
static json_t *
emu_kube_resources(struct exo_emu *e, const json_t *itype)
{
    char mem[32];
    json_t *r = json_object();
    json_int_t gpus = json_integer_value(json_object_get(itype, "gpus"));

    (void)e;
    json_object_set_new(
        r, "cpu",
        json_sprintf("%lld", (long long)json_integer_value(json_object_get(itype, "cpus"))));
    snprintf(mem, sizeof(mem), "%lld",
             (long long)json_integer_value(json_object_get(itype, "memory")));
    json_object_set_new(r, "memory", json_string(mem));
    json_object_set_new(r, "pods", json_string("110"));
    if (gpus > 0)
        json_object_set_new(r, "nvidia.com/gpu", json_sprintf("%lld", (long long)gpus));
    return r;
}

char *
emu_kube_node_json(struct exo_emu *e, const struct emu_meta *m, const json_t *inst)
{
    const json_t *pool = json_object_get(e->pools, m->pool_id);
    const json_t *mgr = json_object_get(pool, "manager");
    const char *type_id =
        json_string_value(json_object_get(json_object_get(inst, "instance-type"), "id"));
    const json_t *itype = json_object_get(e->itypes, type_id ? type_id : "");
    json_t *labels = json_object(), *taints = json_array(), *node, *np = NULL, *v;
    char pid[64];
    const char *k;
    char *out;

    json_object_set_new(labels, "kubernetes.io/hostname", json_string(m->node_name));
    json_object_set_new(labels, "kubernetes.io/os", json_string("linux"));
    json_object_set_new(labels, "kubernetes.io/arch", json_string("amd64"));
    json_object_set_new(labels, "topology.kubernetes.io/region", json_string(e->zone));
    if (itype != NULL)
        json_object_set_new(labels, "node.kubernetes.io/instance-type",
                            json_sprintf("%s.%s",
                                         json_string_value(json_object_get(itype, "family")),
                                         json_string_value(json_object_get(itype, "size"))));
    if (mgr != NULL) {
        const char *cid;
        json_t *c, *n;
        size_t i;

        json_object_foreach(e->clusters, cid, c)
        {
            json_array_foreach(json_object_get(c, "nodepools"), i, n)
            {
                if (strcmp(json_string_value(json_object_get(n, "id")),
                           json_string_value(json_object_get(mgr, "id"))) == 0)
                    np = n;
            }
        }
    }
    if (np != NULL) {
        json_object_set_new(labels, "node.exoscale.net/nodepool-id",
                            json_string(json_string_value(json_object_get(np, "id"))));
        json_object_foreach(json_object_get(np, "labels"), k, v) json_object_set(labels, k, v);
        json_object_foreach(json_object_get(np, "taints"), k, v) json_array_append_new(
            taints, json_pack("{s:s,s:O,s:O}", "key", k, "value", json_object_get(v, "value"),
                              "effect", json_object_get(v, "effect")));
    }
    snprintf(pid, sizeof(pid), "exoscale://%s", m->id);
    node = json_pack("{s:s,s:s,s:{s:s,s:o},s:{s:s,s:o}}", "apiVersion", "v1", "kind", "Node",
                     "metadata", "name", m->node_name, "labels", labels, "spec", "providerID",
                     pid, "taints", taints);
    if (itype != NULL)
        json_object_set_new(node, "status",
                            json_pack("{s:o,s:o}", "capacity", emu_kube_resources(e, itype),
                                      "allocatable", emu_kube_resources(e, itype)));
    out = json_dumps(node, JSON_COMPACT);
    json_decref(node);
    return out;
}

static size_t
emu_discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static long
emu_kube_send(struct exo_emu *e, const char *method, const char *path, const char *ctype,
              const char *body)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[1024], auth[2048];
    long status = 0;

    if (c == NULL)
        return 0;
    snprintf(url, sizeof(url), "%s%s", e->kube_url, path);
    if (e->kube_token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", e->kube_token);
        h = curl_slist_append(h, auth);
    }
    if (ctype != NULL) {
        char ct[128];

        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        h = curl_slist_append(h, ct);
    }
    h = curl_slist_append(h, "Accept: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    /* Tests tell the emulator's own writes (it plays kubelet) from the autoscaler's by it. */
    curl_easy_setopt(c, CURLOPT_USERAGENT, "exoscale-emulator");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, emu_discard);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (e->kube_ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, e->kube_ca_file);
    if (e->kube_insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static void
emu_kube_do(struct exo_emu *e, const struct emu_kube_action *a)
{
    char path[256], ts[32], *patch;
    json_t *p;
    long st;

    emu_timestamp(emu_now_ms(), ts);
    if (a->kind == EMU_KUBE_CREATE) {
        json_t *node = json_loads(a->body, 0, NULL);
        json_t *status = json_incref(json_object_get(node, "status"));
        char *create;

        /* The apiserver ignores status on create: post the object, then its status. */
        json_object_del(node, "status");
        create = json_dumps(node, JSON_COMPACT);
        st = emu_kube_send(e, "POST", "/api/v1/nodes", "application/json", create);
        free(create);
        json_decref(node);
        if (st != 201 && st != 200 && st != 409) {
            fprintf(stderr, "exoscale-emulator: POST /api/v1/nodes (%s): HTTP %ld\n", a->name,
                    st);
            __atomic_add_fetch(&e->kube_errors, 1, __ATOMIC_RELAXED);
            json_decref(status);
            return;
        }
        p = json_pack("{s:o}", "status", status ? status : json_object());
        json_object_set_new(json_object_get(p, "status"), "conditions",
                            json_pack("[{s:s,s:s,s:s,s:s,s:s,s:s}]", "type", "Ready", "status",
                                      "False", "reason", "KubeletNotReady", "message",
                                      "instance is booting", "lastHeartbeatTime", ts,
                                      "lastTransitionTime", ts));
    } else if (a->kind == EMU_KUBE_READY) {
        p = json_pack("{s:{s:[{s:s,s:s,s:s,s:s,s:s,s:s}]}}", "status", "conditions", "type",
                      "Ready", "status", "True", "reason", "KubeletReady", "message",
                      "kubelet is posting ready status", "lastHeartbeatTime", ts,
                      "lastTransitionTime", ts);
    } else {
        snprintf(path, sizeof(path), "/api/v1/nodes/%s", a->name);
        st = emu_kube_send(e, "DELETE", path, NULL, NULL);
        if (st != 200 && st != 202 && st != 404) {
            fprintf(stderr, "exoscale-emulator: DELETE %s: HTTP %ld\n", path, st);
            __atomic_add_fetch(&e->kube_errors, 1, __ATOMIC_RELAXED);
        }
        return;
    }
    snprintf(path, sizeof(path), "/api/v1/nodes/%s/status", a->name);
    patch = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    st = emu_kube_send(e, "PATCH", path, "application/merge-patch+json", patch);
    free(patch);
    if (st != 200) {
        fprintf(stderr, "exoscale-emulator: PATCH %s: HTTP %ld\n", path, st);
        __atomic_add_fetch(&e->kube_errors, 1, __ATOMIC_RELAXED);
    }
}

void
emu_kube_flush(struct exo_emu *e)
{
    struct emu_kube_action *batch;
    size_t n, i;

    if (e->kube_url == NULL)
        return;
    pthread_mutex_lock(&e->kube_flush_lock);
    pthread_mutex_lock(&e->kube_lock);
    batch = e->kq;
    n = e->n_kq;
    e->kq = NULL;
    e->n_kq = e->cap_kq = 0;
    pthread_mutex_unlock(&e->kube_lock);
    for (i = 0; i < n; i++) {
        emu_kube_do(e, &batch[i]);
        free(batch[i].body);
    }
    free(batch);
    pthread_mutex_unlock(&e->kube_flush_lock);
}
