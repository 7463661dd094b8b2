/* The kube-apiserver emulator's store: objects as JSON text, a sorted view for paging,
 * the change log for watches with compaction (what makes old resourceVersions 410). */
#include "config.h"

#include "kube_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

const struct kst_res_info kst_res_infos[KST_N_RES] = {
    [KST_NODES] = {"", "nodes", "Node", 0},
    [KST_PODS] = {"", "pods", "Pod", 1},
    [KST_PDBS] = {"policy", "poddisruptionbudgets", "PodDisruptionBudget", 1},
    [KST_LEASES] = {"coordination.k8s.io", "leases", "Lease", 1},
    [KST_EVENTS] = {"", "events", "Event", 1},
    [KST_CONFIGMAPS] = {"", "configmaps", "ConfigMap", 1},
    [KST_NAMESPACES] = {"", "namespaces", "Namespace", 0},
    [KST_PVS] = {"", "persistentvolumes", "PersistentVolume", 0},
    [KST_PVCS] = {"", "persistentvolumeclaims", "PersistentVolumeClaim", 1},
    [KST_SCS] = {"storage.k8s.io", "storageclasses", "StorageClass", 0},
    [KST_CSINODES] = {"storage.k8s.io", "csinodes", "CSINode", 0},
};

static void *
xmalloc(size_t n)
{
    void *p = malloc(n);

    if (p == NULL) {
        fprintf(stderr, "kube-emulator: out of memory\n");
        abort();
    }
    return p;
}

static char *
xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;

    return memcpy(xmalloc(n), s, n);
}

void
kst_init(struct kst_store *s)
{
    int i;

    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->rv = 1000;
    s->max_log = 400000;
    for (i = 0; i < KST_N_RES; i++)
        s->res[i].index = json_object();
}

static void
obj_free(struct kst_obj *o)
{
    if (o == NULL)
        return;
    free(o->ns);
    free(o->name);
    free(o->json);
    free(o->node_name);
    free(o->phase);
    free(o);
}

void
kst_destroy(struct kst_store *s)
{
    size_t i, j;

    for (i = 0; i < KST_N_RES; i++) {
        for (j = 0; j < s->res[i].n_objs; j++)
            obj_free(s->res[i].objs[j]);
        free(s->res[i].objs);
        free(s->res[i].sorted);
        json_decref(s->res[i].index);
    }
    for (i = 0; i < s->n_log; i++)
        obj_free(s->log[i].obj);
    free(s->log);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cond);
}

static void
make_key(char *key, size_t len, const char *ns, const char *name)
{
    snprintf(key, len, "%s/%s", ns ? ns : "", name);
}

struct kst_obj *
kst_get(struct kst_store *s, int res, const char *ns, const char *name)
{
    char key[1024];
    json_t *pos;

    make_key(key, sizeof(key), ns, name);
    pos = json_object_get(s->res[res].index, key);
    return pos ? s->res[res].objs[json_integer_value(pos)] : NULL;
}

json_t *
kst_obj_json(const struct kst_obj *o)
{
    return json_loadb(o->json, o->len, 0, NULL);
}

void
kst_now_rfc3339(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static struct kst_obj *
obj_from_json(const char *ns, const char *name, json_t *j, uint64_t rv)
{
    struct kst_obj *o = calloc(1, sizeof(*o));
    const char *v;

    if (o == NULL)
        abort();
    o->ns = xstrdup(ns ? ns : "");
    o->name = xstrdup(name);
    o->rv = rv;
    v = json_string_value(json_object_get(json_object_get(j, "spec"), "nodeName"));
    o->node_name = xstrdup(v ? v : "");
    v = json_string_value(json_object_get(json_object_get(j, "status"), "phase"));
    o->phase = xstrdup(v ? v : "");
    o->unschedulable =
        json_is_true(json_object_get(json_object_get(j, "spec"), "unschedulable"));
    o->json = json_dumps(j, JSON_COMPACT);
    if (o->json == NULL)
        abort();
    o->len = strlen(o->json);
    return o;
}

static struct kst_obj *
obj_copy(const struct kst_obj *src)
{
    struct kst_obj *o = xmalloc(sizeof(*o));

    *o = *src;
    o->ns = xstrdup(src->ns);
    o->name = xstrdup(src->name);
    o->json = xstrdup(src->json);
    o->node_name = xstrdup(src->node_name);
    o->phase = xstrdup(src->phase);
    return o;
}

static void
log_add(struct kst_store *s, int res, char type, const struct kst_obj *o)
{
    if (s->n_log == s->cap_log) {
        s->cap_log = s->cap_log ? s->cap_log * 2 : 4096;
        s->log = realloc(s->log, s->cap_log * sizeof(*s->log));
        if (s->log == NULL)
            abort();
    }
    s->log[s->n_log].rv = s->rv;
    s->log[s->n_log].res = res;
    s->log[s->n_log].type = type;
    s->log[s->n_log].obj = obj_copy(o);
    s->log[s->n_log].obj->rv = s->rv;
    s->n_log++;
    if (s->n_log > s->max_log) {
        /* keep the newer half; what goes is compacted, as etcd would */
        size_t drop = s->n_log / 2, i;

        for (i = 0; i < drop; i++)
            obj_free(s->log[i].obj);
        s->compacted_rv = s->log[drop - 1].rv + 1;
        memmove(s->log, s->log + drop, (s->n_log - drop) * sizeof(*s->log));
        s->n_log -= drop;
    }
    pthread_cond_broadcast(&s->cond);
}

struct kst_obj *
kst_put(struct kst_store *s, int res, const char *ns, const char *name, json_t *obj, int log_it)
{
    struct kst_res *r = &s->res[res];
    json_t *md = json_object_get(obj, "metadata");
    struct kst_obj *old = kst_get(s, res, ns, name), *o;
    char key[1024], rvs[32], ts[40];

    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(obj, "metadata", md);
    }
    s->rv++;
    snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)s->rv);
    json_object_set_new(md, "resourceVersion", json_string(rvs));
    json_object_set_new(md, "name", json_string(name));
    if (kst_res_infos[res].namespaced)
        json_object_set_new(md, "namespace", json_string(ns));
    else
        json_object_del(md, "namespace");
    if (old == NULL) {
        char uid[40];

        snprintf(uid, sizeof(uid), "%08llx-0000-4000-8000-%012llx",
                 (unsigned long long)(s->rv & 0xffffffffu),
                 (unsigned long long)s->rv * 2654435761u);
        if (!json_is_string(json_object_get(md, "uid")))
            json_object_set_new(md, "uid", json_string(uid));
        if (!json_is_string(json_object_get(md, "creationTimestamp"))) {
            kst_now_rfc3339(ts, sizeof(ts));
            json_object_set_new(md, "creationTimestamp", json_string(ts));
        }
    }
    o = obj_from_json(ns, name, obj, s->rv);
    json_decref(obj);
    make_key(key, sizeof(key), ns, name);
    if (old) {
        size_t pos = (size_t)json_integer_value(json_object_get(r->index, key));

        r->objs[pos] = o;
        if (r->sorted_valid) {
            /* the sorted view holds pointers: swap the one entry */
            size_t lo = 0, hi = r->n_sorted;

            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(r->sorted[mid]->ns, o->ns);

                if (c == 0)
                    c = strcmp(r->sorted[mid]->name, o->name);
                if (c == 0) {
                    r->sorted[mid] = o;
                    break;
                }
                if (c < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
        }
        obj_free(old);
    } else {
        if (r->n_objs == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 256;
            r->objs = realloc(r->objs, r->cap * sizeof(*r->objs));
            if (r->objs == NULL)
                abort();
        }
        json_object_set_new(r->index, key, json_integer((json_int_t)r->n_objs));
        r->objs[r->n_objs++] = o;
        r->sorted_valid = 0;
    }
    if (log_it)
        log_add(s, res, old ? 'M' : 'A', o);
    return o;
}

int
kst_delete(struct kst_store *s, int res, const char *ns, const char *name)
{
    struct kst_res *r = &s->res[res];
    char key[1024], lastkey[1024], rvs[32];
    struct kst_obj *o = kst_get(s, res, ns, name), *last;
    size_t pos;
    json_t *j;

    if (o == NULL)
        return -1;
    make_key(key, sizeof(key), ns, name);
    pos = (size_t)json_integer_value(json_object_get(r->index, key));
    last = r->objs[r->n_objs - 1];
    make_key(lastkey, sizeof(lastkey), last->ns, last->name);
    r->objs[pos] = last;
    json_object_set_new(r->index, lastkey, json_integer((json_int_t)pos));
    json_object_del(r->index, key);
    r->n_objs--;
    r->sorted_valid = 0;
    /* The DELETED event carries the last state with the deletion's resourceVersion. */
    s->rv++;
    j = kst_obj_json(o);
    snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)s->rv);
    json_object_set_new(json_object_get(j, "metadata"), "resourceVersion", json_string(rvs));
    obj_free(o);
    o = obj_from_json(ns, name, j, s->rv);
    json_decref(j);
    log_add(s, res, 'D', o);
    obj_free(o);
    return 0;
}

static int
cmp_obj(const void *a, const void *b)
{
    const struct kst_obj *x = *(struct kst_obj *const *)a, *y = *(struct kst_obj *const *)b;
    int c = strcmp(x->ns, y->ns);

    return c ? c : strcmp(x->name, y->name);
}

struct kst_obj **
kst_sorted(struct kst_store *s, int res, size_t *n)
{
    struct kst_res *r = &s->res[res];

    if (!r->sorted_valid) {
        free(r->sorted);
        r->sorted = xmalloc((r->n_objs + 1) * sizeof(*r->sorted));
        if (r->n_objs)
            memcpy(r->sorted, r->objs, r->n_objs * sizeof(*r->sorted));
        qsort(r->sorted, r->n_objs, sizeof(*r->sorted), cmp_obj);
        r->n_sorted = r->n_objs;
        r->sorted_valid = 1;
    }
    *n = r->n_sorted;
    return r->sorted;
}

size_t
kst_log_after(struct kst_store *s, uint64_t after)
{
    size_t lo = 0, hi = s->n_log;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (s->log[mid].rv <= after)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void
kst_compact(struct kst_store *s)
{
    size_t i;

    for (i = 0; i < s->n_log; i++)
        obj_free(s->log[i].obj);
    s->n_log = 0;
    s->compacted_rv = s->rv + 1;
}

json_t *
kst_merge_patch(json_t *target, json_t *patch)
{
    const char *k;
    json_t *v;

    if (!json_is_object(patch)) {
        json_decref(target);
        return json_deep_copy(patch);
    }
    if (!json_is_object(target)) {
        json_decref(target);
        target = json_object();
    }
    json_object_foreach(patch, k, v)
    {
        if (json_is_null(v)) {
            json_object_del(target, k);
        } else {
            json_t *cur = json_object_get(target, k);

            json_incref(cur);
            json_object_set_new(target, k, kst_merge_patch(cur, v));
        }
    }
    return target;
}
