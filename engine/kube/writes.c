/* Evictions (v1 with a v1beta1 fallback), node read-modify-write with conflict retries,
 * Events with client-side aggregation, the status ConfigMap, and ConfigMap reads. */
#include "config.h"

#include "kube/writes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define NODE_UPDATE_ATTEMPTS 8
#define NODE_CONFLICT_SLEEP_MS 750
#define RECORDER_CACHE 4096

/* ---- time formats ---------------------------------------------------------------- */

void
kube_format_microtime(int64_t wall_ms, char *buf, size_t len)
{
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;

    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000) * 1000);
}

void
kube_format_time(int64_t wall_ms, char *buf, size_t len)
{
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;

    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- eviction ---------------------------------------------------------------------- */

/* Per process, not per client: every cluster nodescaler talks to in one run is the same. */
static int evict_v1beta1;

static int
version_unknown(const struct kube_resp *resp, const char *name)
{
    const char *dkind =
        json_string_value(json_object_get(json_object_get(resp->obj, "details"), "kind"));
    const char *dname =
        json_string_value(json_object_get(json_object_get(resp->obj, "details"), "name"));

    if (resp->status == 400)
        return strstr(resp->message, "policy/v1") != NULL &&
               strstr(resp->message, "Eviction") != NULL;
    /* a 404 about the pod itself means it is gone, not that the API is missing */
    if (resp->status == 404)
        return !(dkind && !strcmp(dkind, "pods") && dname && !strcmp(dname, name));
    return 0;
}

int
kube_evict(struct kube_client *c, const char *ns, const char *name, long grace_s,
           enum kube_evict_result *result, struct kube_resp *resp)
{
    char path[1024];
    json_t *body;
    int rc, tries;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s/eviction", ns, name);
    for (tries = 0; tries < 2; tries++) {
        body = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion",
                         evict_v1beta1 ? "policy/v1beta1" : "policy/v1", "kind", "Eviction",
                         "metadata", "name", name, "namespace", ns);
        if (body == NULL)
            return NSC_ERR_NOMEM;
        if (grace_s >= 0)
            json_object_set_new(body, "deleteOptions",
                                json_pack("{s:I}", "gracePeriodSeconds", (json_int_t)grace_s));
        rc = kube_request(c, "POST", path, body, NULL, 0, resp);
        json_decref(body);
        if (rc && !evict_v1beta1 && version_unknown(resp, name)) {
            log_msg(NSC_LOG_INFO, "kube",
                    "server has no policy/v1 Eviction; using policy/v1beta1");
            evict_v1beta1 = 1;
            kube_resp_clear(resp);
            continue;
        }
        break;
    }
    if (rc == 0) {
        *result = KUBE_EVICT_DONE;
    } else if (resp->status == 404) {
        *result = KUBE_EVICT_GONE;
        rc = 0;
    } else if (resp->status == 429) {
        *result = KUBE_EVICT_BLOCKED;
    } else if (resp->status == 500 &&
               strstr(resp->message, "more than one PodDisruptionBudget")) {
        *result = KUBE_EVICT_MULTIPLE_PDBS;
        rc = NSC_ERR_INVALID;
    } else {
        *result = KUBE_EVICT_FAILED;
    }
    return rc;
}

/* ---- nodes ------------------------------------------------------------------------- */

int
kube_node_update(struct kube_client *c, const char *name, kube_node_edit_fn *edit, void *ud,
                 struct kube_resp *resp)
{
    const struct kube_clock *clk = kube_client_clock(c);
    char path[512];
    int attempt, rc = 0;

    snprintf(path, sizeof(path), "/api/v1/nodes/%s", name);
    memset(resp, 0, sizeof(*resp));
    for (attempt = 0; attempt < NODE_UPDATE_ATTEMPTS; attempt++) {
        json_t *node;

        if (attempt > 0)
            clk->sleep_ms(clk->ctx, NODE_CONFLICT_SLEEP_MS);
        kube_resp_clear(resp);
        rc = kube_request(c, "GET", path, NULL, NULL, 0, resp);
        if (rc)
            return rc;
        node = resp->obj;
        resp->obj = NULL;
        rc = edit(ud, node);
        if (rc != 0) {
            json_decref(node);
            return rc > 0 ? 0 : rc;
        }
        /* the PUT carries metadata.resourceVersion from the GET: a concurrent change
         * makes it fail with 409 instead of being overwritten */
        kube_resp_clear(resp);
        rc = kube_request(c, "PUT", path, node, NULL, 0, resp);
        json_decref(node);
        if (rc == 0 || resp->status != 409)
            return rc;
        log_msg(NSC_LOG_DEBUG, "kube", "node %s changed under us (409); retrying", name);
    }
    return rc;
}

struct taint_edit {
    const char *key, *value, *effect;
    int remove;
};

static int
edit_taint(void *ud, json_t *node)
{
    struct taint_edit *te = ud;
    json_t *spec = json_object_get(node, "spec"), *taints, *t, *keep;
    size_t i;
    int found = 0;

    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(node, "spec", spec);
    }
    taints = json_object_get(spec, "taints");
    keep = json_array();
    if (keep == NULL)
        return NSC_ERR_NOMEM;
    json_array_foreach(taints, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "key"));

        if (k && !strcmp(k, te->key)) {
            const char *v = json_string_value(json_object_get(t, "value"));
            const char *e = json_string_value(json_object_get(t, "effect"));

            found = 1;
            if (!te->remove && strcmp(v ? v : "", te->value ? te->value : "") == 0 && e &&
                !strcmp(e, te->effect)) {
                json_decref(keep);
                return 1; /* already there, identical */
            }
            continue;
        }
        json_array_append(keep, t);
    }
    if (te->remove && !found) {
        json_decref(keep);
        return 1;
    }
    if (!te->remove) {
        json_t *nt = json_pack("{s:s, s:s}", "key", te->key, "effect", te->effect);

        if (nt && te->value)
            json_object_set_new(nt, "value", json_string(te->value));
        if (nt == NULL || json_array_append_new(keep, nt)) {
            json_decref(keep);
            return NSC_ERR_NOMEM;
        }
    }
    json_object_set_new(spec, "taints", keep);
    return 0;
}

int
kube_node_taint(struct kube_client *c, const char *name, const char *key, const char *value,
                const char *effect, struct kube_resp *resp)
{
    struct taint_edit te = {key, value, effect, 0};

    return kube_node_update(c, name, edit_taint, &te, resp);
}

int
kube_node_untaint(struct kube_client *c, const char *name, const char *key,
                  struct kube_resp *resp)
{
    struct taint_edit te = {key, NULL, NULL, 1};

    return kube_node_update(c, name, edit_taint, &te, resp);
}

struct annot_edit {
    const char *key, *value;
};

static int
edit_annotation(void *ud, json_t *node)
{
    struct annot_edit *ae = ud;
    json_t *md = json_object_get(node, "metadata");
    json_t *ann = json_object_get(md, "annotations");
    const char *cur = json_string_value(json_object_get(ann, ae->key));

    if (ae->value == NULL) {
        if (cur == NULL)
            return 1;
        json_object_del(ann, ae->key);
        return 0;
    }
    if (cur && !strcmp(cur, ae->value))
        return 1;
    if (!json_is_object(ann)) {
        ann = json_object();
        json_object_set_new(md, "annotations", ann);
    }
    return json_object_set_new(ann, ae->key, json_string(ae->value)) ? NSC_ERR_NOMEM : 0;
}

int
kube_node_annotate(struct kube_client *c, const char *name, const char *key, const char *value,
                   struct kube_resp *resp)
{
    struct annot_edit ae = {key, value};

    return kube_node_update(c, name, edit_annotation, &ae, resp);
}

/* ---- events ------------------------------------------------------------------------- */

struct rec_entry {
    char *key; /* object + type + reason + message */
    char *ns;
    char *name; /* the Event's name */
    long count;
    char first[32];
};

struct kube_recorder {
    struct kube_client *c;
    char *component, *instance;
    struct rec_entry cache[RECORDER_CACHE];
    size_t next; /* ring: the oldest entry is replaced */
};

int
kube_recorder_new(struct kube_client *c, const char *component, const char *instance,
                  struct kube_recorder **out)
{
    struct kube_recorder *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (r == NULL)
        return NSC_ERR_NOMEM;
    r->c = c;
    r->component = strdup(component ? component : "nodescaler");
    r->instance = strdup(instance ? instance : "");
    if (r->component == NULL || r->instance == NULL) {
        kube_recorder_free(r);
        return NSC_ERR_NOMEM;
    }
    *out = r;
    return 0;
}

static void
rec_entry_clear(struct rec_entry *e)
{
    free(e->key);
    free(e->ns);
    free(e->name);
    memset(e, 0, sizeof(*e));
}

void
kube_recorder_free(struct kube_recorder *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < RECORDER_CACHE; i++)
        rec_entry_clear(&r->cache[i]);
    free(r->component);
    free(r->instance);
    free(r);
}

static struct rec_entry *
rec_find(struct kube_recorder *r, const char *key)
{
    size_t i;

    for (i = 0; i < RECORDER_CACHE; i++)
        if (r->cache[i].key && !strcmp(r->cache[i].key, key))
            return &r->cache[i];
    return NULL;
}

static int
rec_post(struct kube_recorder *r, const struct kube_obj_ref *ref, const char *ns,
         const char *type, const char *reason, const char *msg, const char *key,
         struct rec_entry *reuse)
{
    int64_t wall = kube_wall_ms();
    char name[512], now[32], path[512];
    struct kube_resp resp;
    struct rec_entry *e;
    json_t *ev;
    int rc;

    kube_format_time(wall, now, sizeof(now));
    /* client-go names events "<object>.<hex unix nanoseconds>" */
    snprintf(name, sizeof(name), "%s.%llx", ref->name, (unsigned long long)wall * 1000000ULL);
    ev = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s}, s:s, s:s, s:s, s:{s:s}, s:s, s:s,"
        " s:i, s:s, s:s}",
        "apiVersion", "v1", "kind", "Event", "metadata", "name", name, "namespace", ns,
        "involvedObject", "kind", ref->kind, "apiVersion",
        ref->api_version ? ref->api_version : "v1", "name", ref->name, "reason", reason,
        "message", msg, "type", type, "source", "component", r->component, "firstTimestamp",
        now, "lastTimestamp", now, "count", 1, "reportingComponent", r->component,
        "reportingInstance", r->instance);
    if (ev == NULL)
        return NSC_ERR_NOMEM;
    if (ref->namespace && *ref->namespace)
        json_object_set_new(json_object_get(ev, "involvedObject"), "namespace",
                            json_string(ref->namespace));
    if (ref->uid && *ref->uid)
        json_object_set_new(json_object_get(ev, "involvedObject"), "uid",
                            json_string(ref->uid));
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
    rc = kube_request(r->c, "POST", path, ev, NULL, 0, &resp);
    json_decref(ev);
    if (rc) {
        char d[768];

        log_msg(NSC_LOG_WARNING, "kube", "event %s on %s %s not recorded: %s", reason,
                ref->kind, ref->name, kube_resp_describe(&resp, d, sizeof(d)));
        kube_resp_clear(&resp);
        return rc;
    }
    kube_resp_clear(&resp);
    e = reuse ? reuse : &r->cache[r->next];
    if (reuse == NULL)
        r->next = (r->next + 1) % RECORDER_CACHE;
    rec_entry_clear(e);
    e->key = strdup(key);
    e->ns = strdup(ns);
    e->name = strdup(name);
    e->count = 1;
    snprintf(e->first, sizeof(e->first), "%s", now);
    if (e->key == NULL || e->ns == NULL || e->name == NULL)
        rec_entry_clear(e);
    return 0;
}

int
kube_record(struct kube_recorder *r, const struct kube_obj_ref *ref, const char *type,
            const char *reason, const char *fmt, ...)
{
    char msg[1024], key[2048], path[768], now[32];
    const char *ns = ref->namespace && *ref->namespace ? ref->namespace : "default";
    struct rec_entry *e;
    struct kube_resp resp;
    va_list ap;
    json_t *patch;
    int rc;

    va_start(ap, fmt);
    log_redact_vformat(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(key, sizeof(key), "%s\n%s\n%s\n%s\n%s\n%s\n%s", ref->kind, ns, ref->name,
             ref->uid ? ref->uid : "", type, reason, msg);
    e = rec_find(r, key);
    if (e == NULL)
        return rec_post(r, ref, ns, type, reason, msg, key, NULL);
    kube_format_time(kube_wall_ms(), now, sizeof(now));
    patch = json_pack("{s:I, s:s, s:s}", "count", (json_int_t)e->count + 1, "lastTimestamp",
                      now, "message", msg);
    if (patch == NULL)
        return NSC_ERR_NOMEM;
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s", e->ns, e->name);
    rc = kube_request(r->c, "PATCH", path, patch, "application/strategic-merge-patch+json", 0,
                      &resp);
    json_decref(patch);
    if (rc == 0) {
        e->count++;
        kube_resp_clear(&resp);
        return 0;
    }
    if (resp.status == 404) {
        /* the event expired (event-ttl): start a new one */
        kube_resp_clear(&resp);
        return rec_post(r, ref, ns, type, reason, msg, key, e);
    }
    {
        char d[768];

        log_msg(NSC_LOG_WARNING, "kube", "event %s on %s %s not updated: %s", reason, ref->kind,
                ref->name, kube_resp_describe(&resp, d, sizeof(d)));
    }
    kube_resp_clear(&resp);
    return rc;
}

/* ---- status ConfigMap ---------------------------------------------------------------- */

/* Go's time.Time.String() layout, which cluster-autoscaler writes in last-updated. */
static void
format_go_time(int64_t wall_ms, char *buf, size_t len)
{
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;

    gmtime_r(&s, &tm);
    snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d +0000 UTC", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(wall_ms % 1000));
}

int
kube_configmap_put(struct kube_client *c, const char *ns, const char *name, const json_t *data,
                   struct kube_resp *resp)
{
    char path[768], when[64];
    json_t *cm;
    int rc, attempt;

    format_go_time(kube_wall_ms(), when, sizeof(when));
    for (attempt = 0; attempt < 3; attempt++) {
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", ns, name);
        rc = kube_request(c, "GET", path, NULL, NULL, 0, resp);
        if (rc && resp->status != 404)
            return rc;
        if (rc == 0) {
            json_t *md;

            cm = resp->obj;
            resp->obj = NULL;
            md = json_object_get(cm, "metadata");
            if (!json_is_object(json_object_get(md, "annotations")))
                json_object_set_new(md, "annotations", json_object());
            json_object_set_new(json_object_get(md, "annotations"),
                                "cluster-autoscaler.kubernetes.io/last-updated",
                                json_string(when));
            json_object_set_new(cm, "data", json_deep_copy(data));
            kube_resp_clear(resp);
            rc = kube_request(c, "PUT", path, cm, NULL, 0, resp);
        } else {
            cm =
                json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:O}", "apiVersion", "v1", "kind",
                          "ConfigMap", "metadata", "name", name, "namespace", ns, "annotations",
                          "cluster-autoscaler.kubernetes.io/last-updated", when, "data", data);
            if (cm == NULL)
                return NSC_ERR_NOMEM;
            kube_resp_clear(resp);
            snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps", ns);
            rc = kube_request(c, "POST", path, cm, NULL, 0, resp);
        }
        json_decref(cm);
        /* a concurrent create or update: read again */
        if (rc == 0 || resp->status != 409)
            return rc;
        kube_resp_clear(resp);
    }
    return rc;
}

int
kube_configmap_get(struct kube_client *c, const char *ns, const char *name, const char *key,
                   char **value, struct kube_resp *resp)
{
    char path[768], ens[256], ename[512];
    const char *v;
    int rc;

    *value = NULL;
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s",
             kube_query_escape(ns, ens, sizeof(ens)),
             kube_query_escape(name, ename, sizeof(ename)));
    rc = kube_request(c, "GET", path, NULL, NULL, 0, resp);
    if (rc < 0)
        return rc;
    v = json_string_value(json_object_get(json_object_get(resp->obj, "data"), key));
    if (v != NULL && (*value = strdup(v)) == NULL)
        return NSC_ERR_NOMEM;
    return 0;
}
