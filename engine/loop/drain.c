/* Scale-down actuation as a state machine: each node goes taint -> delay -> evict pods ->
 * wait until they are gone -> backend evict, and any failure on the way rolls back. */
#include "config.h"

#include "loop/drain.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/writes.h"
#include "log.h"
#include "plugin/plugin.h"

#define FAILURES_KEPT 64
#define MAX_PODS_PER_NODE 10000
#define MAX_CLEANUP_NODES 50000
#define REASON_LEN 512

#define SEC 1000LL
#define HOUR (3600LL * SEC)
#define DAY (24LL * HOUR)

enum drain_state {
    DS_TAINT = 0,
    DS_DELAY,
    DS_EVICT,
    DS_WAIT_GONE,
    DS_DELETE,
    DS_ROLLBACK,
    DS_DONE
};

struct dpod {
    char *ns, *name;
    int64_t grace_ms; /* as sent: capped */
    bool daemonset;
    bool evict;   /* evicted by this drain (else left alone) */
    bool evicted; /* eviction accepted, or given up for a best-effort DaemonSet pod */
    bool gone;
    int64_t next_try_ms;
    int n_tries;
};

struct drain {
    char *node, *provider_id, *group_id;
    bool empty;
    struct dpod *pods;
    size_t n_pods;
    enum drain_state st;
    int64_t evict_start_ms, gone_deadline_ms, next_ms;
    int64_t delete_deadline_ms; /* 0 until the first backend evict */
    bool touched; /* a taint write was sent: the outcome is unknown until rolled back */
    bool ok;
    bool left_tainted;
    char reason[REASON_LEN];
    char last_answer[REASON_LEN]; /* the latest eviction refusal, for the reason */
};

struct failure {
    char *node;
    char reason[REASON_LEN];
};

struct drainer {
    struct kube_client *c;
    struct drain_options o;
    struct drain_hooks h;
    struct drain **drains;
    size_t n_drains, cap;
    struct failure failures[FAILURES_KEPT];
    size_t next_failure;
    uint64_t n_evicted_ok, n_evicted_failed; /* pods, since drain_new */
};

/* ---- options ---------------------------------------------------------------------- */

void
drain_options_default(struct drain_options *o)
{
    memset(o, 0, sizeof(*o));
    o->node_delete_delay_after_taint_ms = 5 * SEC;
    o->max_pod_eviction_time_ms = 120 * SEC;
    o->eviction_retry_ms = 10 * SEC;
    o->max_graceful_termination_ms = 600 * SEC;
    o->default_grace_ms = 30 * SEC;
    o->pod_gone_margin_ms = 30 * SEC;
    o->pod_poll_ms = 5 * SEC;
    o->rollback_retry_ms = 1 * SEC;
    o->backend_retry_ms = 5 * SEC;
    o->backend_evict_time_ms = 120 * SEC;
    o->max_drain_parallelism = 1;
    o->max_scale_down_parallelism = 10;
    o->max_bulk_soft_taint_count = 10;
    o->max_bulk_soft_taint_time_ms = 3 * SEC;
    o->cordon_node_before_terminating = true;
    o->daemonset_eviction_for_empty_nodes = false;
    o->daemonset_eviction_for_occupied_nodes = true;
}

static int
check_range(const char *name, int64_t v, int64_t lo, int64_t hi, char *err, size_t err_len)
{
    if (v >= lo && v <= hi)
        return 0;
    snprintf(err, err_len, "drain option %s: %lld is outside [%lld, %lld]", name, (long long)v,
             (long long)lo, (long long)hi);
    return NSC_ERR_INVALID;
}

int
drain_options_check(const struct drain_options *o, char *err, size_t err_len)
{
    /* the bounds are generous sanity limits: beyond them a value is a unit mistake */
    if (check_range("node_delete_delay_after_taint_ms", o->node_delete_delay_after_taint_ms, 0,
                    HOUR, err, err_len) ||
        check_range("max_pod_eviction_time_ms", o->max_pod_eviction_time_ms, 1, DAY, err,
                    err_len) ||
        check_range("eviction_retry_ms", o->eviction_retry_ms, 1, HOUR, err, err_len) ||
        check_range("max_graceful_termination_ms", o->max_graceful_termination_ms, 0, 7 * DAY,
                    err, err_len) ||
        check_range("default_grace_ms", o->default_grace_ms, 0, 7 * DAY, err, err_len) ||
        check_range("pod_gone_margin_ms", o->pod_gone_margin_ms, 0, DAY, err, err_len) ||
        check_range("pod_poll_ms", o->pod_poll_ms, 1, HOUR, err, err_len) ||
        check_range("rollback_retry_ms", o->rollback_retry_ms, 1, HOUR, err, err_len) ||
        check_range("backend_retry_ms", o->backend_retry_ms, 1, HOUR, err, err_len) ||
        check_range("backend_evict_time_ms", o->backend_evict_time_ms, 0, DAY, err, err_len) ||
        check_range("max_scale_down_parallelism", o->max_scale_down_parallelism, 1, 10000, err,
                    err_len) ||
        check_range("max_drain_parallelism", o->max_drain_parallelism, 1,
                    o->max_scale_down_parallelism, err, err_len) ||
        check_range("max_bulk_soft_taint_count", o->max_bulk_soft_taint_count, 0, 10000, err,
                    err_len) ||
        check_range("max_bulk_soft_taint_time_ms", o->max_bulk_soft_taint_time_ms, 0, HOUR, err,
                    err_len))
        return NSC_ERR_INVALID;
    return 0;
}

/* ---- node edits ------------------------------------------------------------------- */

/* Kubernetes object names (DNS subdomains); anything else would not be a safe path part. */
static int
valid_name(const char *s)
{
    size_t n = s ? strlen(s) : 0, i;

    if (n == 0 || n > 253)
        return 0;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
              s[i] == '.'))
            return 0;
    return 1;
}

static json_t *
obj_child(json_t *parent, const char *key)
{
    json_t *o = json_object_get(parent, key);

    if (!json_is_object(o)) {
        o = json_object();
        if (o == NULL || json_object_set_new(parent, key, o))
            return NULL;
    }
    return o;
}

/* Drop every taint with key; add one (value, effect) unless effect is NULL. *changed says
 * whether the list differs. */
static int
set_taint(json_t *node, const char *key, const char *value, const char *effect, int keep_old,
          int *changed)
{
    json_t *spec = obj_child(node, "spec"), *keep, *t;
    size_t i;
    int found = 0;

    if (spec == NULL || (keep = json_array()) == NULL)
        return NSC_ERR_NOMEM;
    json_array_foreach(json_object_get(spec, "taints"), i, t)
    {
        const char *k = json_string_value(json_object_get(t, "key"));

        if (k && !strcmp(k, key)) {
            found = 1;
            if (effect && keep_old)
                json_array_append(keep, t);
            continue;
        }
        json_array_append(keep, t);
    }
    if (effect && !(found && keep_old)) {
        json_t *nt = json_pack("{s:s, s:s, s:s}", "key", key, "value", value, "effect", effect);

        if (nt == NULL || json_array_append_new(keep, nt)) {
            json_decref(keep);
            return NSC_ERR_NOMEM;
        }
    }
    *changed = effect ? !(found && keep_old) : found;
    if (!*changed) {
        json_decref(keep);
        return 0;
    }
    return json_object_set_new(spec, "taints", keep) ? NSC_ERR_NOMEM : 0;
}

struct mark_edit {
    const char *value; /* unix seconds */
    int mark;          /* 1: taint (and cordon); 0: untaint and lift our cordon */
    int cordon;
    int changed; /* the last edit found something to write */
};

static int
edit_mark(void *ud, json_t *node)
{
    struct mark_edit *me = ud;
    json_t *md = obj_child(node, "metadata"), *spec = obj_child(node, "spec"), *ann;
    int changed = 0, rc;

    if (md == NULL || spec == NULL || (ann = obj_child(md, "annotations")) == NULL)
        return NSC_ERR_NOMEM;
    /* a taint left by an earlier attempt keeps its time: it says since when we act */
    rc = set_taint(node, DRAIN_TAINT_TO_BE_DELETED, me->value, me->mark ? "NoSchedule" : NULL,
                   1, &changed);
    if (rc)
        return rc;
    if (me->mark && me->cordon && !json_is_true(json_object_get(spec, "unschedulable"))) {
        /* the annotation records that the cordon is ours, so that we never lift a cordon
         * an administrator set */
        if (json_object_set_new(spec, "unschedulable", json_true()) ||
            json_object_set_new(ann, DRAIN_ANN_CORDONED, json_string("true")))
            return NSC_ERR_NOMEM;
        changed = 1;
    }
    if (!me->mark && json_object_get(ann, DRAIN_ANN_CORDONED)) {
        json_object_del(spec, "unschedulable");
        json_object_del(ann, DRAIN_ANN_CORDONED);
        changed = 1;
    }
    me->changed = changed;
    return changed ? 0 : 1;
}

/* Taint or untaint a node; *changed (may be NULL) says whether it needed a write. */
static int
node_mark_changed(struct drainer *d, const char *node, int mark, int *changed, char *err,
                  size_t err_len)
{
    char value[32], desc[768];
    struct mark_edit me = {value, mark, d->o.cordon_node_before_terminating, 0};
    struct kube_resp resp;
    int rc;

    snprintf(value, sizeof(value), "%lld", (long long)(kube_wall_ms() / 1000));
    rc = kube_node_update(d->c, node, edit_mark, &me, &resp);
    if (rc)
        snprintf(err, err_len, "%s node %s: %s", mark ? "taint" : "untaint", node,
                 resp.status || resp.message[0] ? kube_resp_describe(&resp, desc, sizeof(desc))
                                                : plugin_status_name(rc));
    kube_resp_clear(&resp);
    if (changed)
        *changed = rc == 0 && me.changed;
    return rc;
}

static int
node_mark(struct drainer *d, const char *node, int mark, char *err, size_t err_len)
{
    return node_mark_changed(d, node, mark, NULL, err, err_len);
}

/* ---- the state machine ------------------------------------------------------------ */

static void
drain_free_one(struct drain *x)
{
    size_t i;

    if (x == NULL)
        return;
    for (i = 0; i < x->n_pods; i++) {
        free(x->pods[i].ns);
        free(x->pods[i].name);
    }
    free(x->pods);
    free(x->node);
    free(x->provider_id);
    free(x->group_id);
    free(x);
}

int
drain_backend_evict(void *ud, const char *group_id, const char *provider_id, char *err,
                    size_t err_len)
{
    const char *ids[1] = {provider_id};

    return backend_evict(ud, group_id, ids, 1, err, err_len);
}

int
drain_new(struct kube_client *c, const struct drain_options *o, const struct drain_hooks *h,
          struct drainer **out, char *err, size_t err_len)
{
    struct drainer *d;
    int rc;

    *out = NULL;
    if ((rc = drain_options_check(o, err, err_len)) != 0)
        return rc;
    if (c == NULL || h == NULL || h->evict_instance == NULL) {
        snprintf(err, err_len, "drainer: a Kubernetes client and a backend evict are needed");
        return NSC_ERR_INVALID;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NSC_ERR_NOMEM;
    d->c = c;
    d->o = *o;
    d->h = *h;
    *out = d;
    return 0;
}

void
drain_free(struct drainer *d)
{
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < d->n_drains; i++)
        drain_free_one(d->drains[i]);
    for (i = 0; i < FAILURES_KEPT; i++)
        free(d->failures[i].node);
    free(d->drains);
    free(d);
}

size_t
drain_n_active(const struct drainer *d)
{
    return d->n_drains;
}

size_t
drain_n_active_with_pods(const struct drainer *d)
{
    size_t i, n = 0;

    for (i = 0; i < d->n_drains; i++)
        n += !d->drains[i]->empty;
    return n;
}

static struct drain *
find_drain(const struct drainer *d, const char *node)
{
    size_t i;

    for (i = 0; i < d->n_drains; i++)
        if (!strcmp(d->drains[i]->node, node))
            return d->drains[i];
    return NULL;
}

bool
drain_is_draining(const struct drainer *d, const char *node_name)
{
    return find_drain(d, node_name) != NULL;
}

const char *
drain_failure_reason(const struct drainer *d, const char *node_name)
{
    size_t i, k;

    /* newest first: a node that failed twice reports its latest reason */
    for (i = 0; i < FAILURES_KEPT; i++) {
        k = (d->next_failure + FAILURES_KEPT - 1 - i) % FAILURES_KEPT;
        if (d->failures[k].node && !strcmp(d->failures[k].node, node_name))
            return d->failures[k].reason;
    }
    return NULL;
}

int
drain_start(struct drainer *d, const struct drain_request *req, int64_t now_ms, char *err,
            size_t err_len)
{
    struct drain *x;
    size_t i;

    if (!valid_name(req->node_name) || req->provider_id == NULL || !*req->provider_id ||
        strlen(req->provider_id) > 1024 || req->group_id == NULL || !*req->group_id ||
        (req->n_pods && req->pods == NULL) || req->n_pods > MAX_PODS_PER_NODE) {
        snprintf(err, err_len,
                 "drain of node %.253s: a valid node name, provider id, group id and at most "
                 "%d pods are needed",
                 req->node_name ? req->node_name : "(none)", MAX_PODS_PER_NODE);
        return NSC_ERR_INVALID;
    }
    if (find_drain(d, req->node_name)) {
        snprintf(err, err_len, "drain of node %s: already in progress", req->node_name);
        return NSC_ERR_INVALID;
    }
    if ((int64_t)d->n_drains >= d->o.max_scale_down_parallelism ||
        (!req->empty && (int64_t)drain_n_active_with_pods(d) >= d->o.max_drain_parallelism)) {
        snprintf(err, err_len,
                 "drain of node %s: %zu deletions in progress (%zu with pods) reach "
                 "max-scale-down-parallelism %lld / max-drain-parallelism %lld",
                 req->node_name, d->n_drains, drain_n_active_with_pods(d),
                 (long long)d->o.max_scale_down_parallelism,
                 (long long)d->o.max_drain_parallelism);
        return NSC_ERR_OUT_OF_RESOURCES;
    }
    for (i = 0; i < req->n_pods; i++) {
        const struct drain_pod *p = &req->pods[i];

        if (!valid_name(p->namespace) || !valid_name(p->name)) {
            snprintf(err, err_len, "drain of node %s: pod %zu has no valid namespace/name",
                     req->node_name, i);
            return NSC_ERR_INVALID;
        }
        if (req->empty && !p->daemonset) {
            /* the planner's view is stale: the node is not empty any more */
            snprintf(err, err_len,
                     "drain of node %s: called empty but pod %s/%s is not a "
                     "DaemonSet pod",
                     req->node_name, p->namespace, p->name);
            return NSC_ERR_INVALID;
        }
    }
    if (d->n_drains == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 8;
        struct drain **nd = realloc(d->drains, cap * sizeof(*nd));

        if (nd == NULL)
            return NSC_ERR_NOMEM;
        d->drains = nd;
        d->cap = cap;
    }
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NSC_ERR_NOMEM;
    x->node = strdup(req->node_name);
    x->provider_id = strdup(req->provider_id);
    x->group_id = strdup(req->group_id);
    x->pods = req->n_pods ? calloc(req->n_pods, sizeof(*x->pods)) : NULL;
    if (x->node == NULL || x->provider_id == NULL || x->group_id == NULL ||
        (req->n_pods && x->pods == NULL)) {
        drain_free_one(x);
        return NSC_ERR_NOMEM;
    }
    x->empty = req->empty;
    for (i = 0; i < req->n_pods; i++) {
        const struct drain_pod *p = &req->pods[i];
        struct dpod *q = &x->pods[x->n_pods++];
        int64_t g = p->grace_ms < 0 ? d->o.default_grace_ms : p->grace_ms;

        q->ns = strdup(p->namespace);
        q->name = strdup(p->name);
        if (q->ns == NULL || q->name == NULL) {
            drain_free_one(x);
            return NSC_ERR_NOMEM;
        }
        q->grace_ms =
            g < d->o.max_graceful_termination_ms ? g : d->o.max_graceful_termination_ms;
        q->daemonset = p->daemonset;
        q->evict = !p->daemonset || (req->empty ? d->o.daemonset_eviction_for_empty_nodes
                                                : d->o.daemonset_eviction_for_occupied_nodes);
    }
    x->st = DS_TAINT;
    x->next_ms = now_ms;
    d->drains[d->n_drains++] = x;
    log_msg(NSC_LOG_INFO, "drain", "%snode %s (group %s): drain started, %zu pods, %s",
            d->o.dry_run ? "dry run: " : "", x->node, x->group_id, x->n_pods,
            x->empty ? "empty" : "with pods");
    return 0;
}

static void fail(struct drain *x, int64_t now_ms, const char *fmt, ...) NSC_PRINTF(3, 4);

/* Stop the drain: no further eviction; the taint goes first if it may have been set. */
static void
fail(struct drain *x, int64_t now_ms, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(x->reason, sizeof(x->reason), fmt, ap);
    va_end(ap);
    log_msg(NSC_LOG_WARNING, "drain", "node %s: scale-down failed: %s", x->node, x->reason);
    x->ok = false;
    x->st = x->touched ? DS_ROLLBACK : DS_DONE;
    x->next_ms = now_ms;
}

/* The caller's hook; 1 when the drain must stop (and has been failed). */
static int
stop_wanted(struct drainer *d, struct drain *x, int64_t now_ms)
{
    char why[256] = "";

    if (d->h.check == NULL || d->h.check(d->h.ud, x->node, why, sizeof(why)) == 0)
        return 0;
    why[sizeof(why) - 1] = '\0';
    fail(x, now_ms, "stopped: %s", why[0] ? why : "the node is needed again");
    return 1;
}

static int64_t
grace_s_of(const struct dpod *p)
{
    /* whole seconds, rounded up so that the cap never shortens a pod's period */
    return (p->grace_ms + 999) / 1000;
}

/* One eviction; returns 1 when a request was sent. */
static int
step_evict(struct drainer *d, struct drain *x, int64_t now_ms)
{
    struct dpod *p = NULL;
    enum kube_evict_result res = KUBE_EVICT_FAILED;
    struct kube_resp resp;
    char desc[768];
    size_t i;
    int rc, pending = 0;

    for (i = 0; i < x->n_pods; i++) {
        struct dpod *q = &x->pods[i];

        if (!q->evict || q->evicted)
            continue;
        pending = 1;
        if (p == NULL && q->next_try_ms <= now_ms)
            p = q;
    }
    if (!pending) {
        int64_t wait = 0;

        for (i = 0; i < x->n_pods; i++)
            if (x->pods[i].evict && !x->pods[i].daemonset && x->pods[i].grace_ms > wait)
                wait = x->pods[i].grace_ms;
        x->gone_deadline_ms = now_ms + wait + d->o.pod_gone_margin_ms;
        x->st = DS_WAIT_GONE;
        x->next_ms = now_ms;
        return 0;
    }
    if (now_ms - x->evict_start_ms >= d->o.max_pod_eviction_time_ms) {
        size_t first = x->n_pods;
        for (i = 0; i < x->n_pods; i++)
            if (x->pods[i].evict && !x->pods[i].evicted) {
                d->n_evicted_failed++;
                if (first == x->n_pods)
                    first = i;
            }
        i = first;
        fail(x, now_ms, "pod %s/%s not evicted within %llds: %s", x->pods[i].ns,
             x->pods[i].name, (long long)(d->o.max_pod_eviction_time_ms / 1000),
             x->last_answer[0] ? x->last_answer : "no attempt");
        return 0;
    }
    if (p == NULL || stop_wanted(d, x, now_ms))
        return 0;
    if (d->o.dry_run) {
        log_msg(NSC_LOG_INFO, "drain",
                "dry run: would evict pod %s/%s from node %s (grace %llds)", p->ns, p->name,
                x->node, (long long)grace_s_of(p));
        p->evicted = p->gone = true;
        return 0;
    }
    p->n_tries++;
    rc = kube_evict(d->c, p->ns, p->name, (long)grace_s_of(p), &res, &resp);
    if (rc == 0) {
        p->evicted = true;
        d->n_evicted_ok++;
        /* DaemonSet pods are not waited for: nothing reschedules them elsewhere */
        p->gone = res == KUBE_EVICT_GONE || p->daemonset;
        log_msg(NSC_LOG_INFO, "drain", "node %s: pod %s/%s evicted", x->node, p->ns, p->name);
    } else if (res == KUBE_EVICT_MULTIPLE_PDBS) {
        fail(x, now_ms, "pod %s/%s: %s (more than one PodDisruptionBudget; not retried)", p->ns,
             p->name, kube_resp_describe(&resp, desc, sizeof(desc)));
    } else if (p->daemonset) {
        /* DaemonSet pods go best effort, as cluster-autoscaler does: their controller
         * does not reschedule them elsewhere, and the node going away ends them */
        log_msg(NSC_LOG_INFO, "drain", "node %s: DaemonSet pod %s/%s left: %s", x->node, p->ns,
                p->name, kube_resp_describe(&resp, desc, sizeof(desc)));
        p->evicted = p->gone = true;
    } else {
        int64_t pause = d->o.eviction_retry_ms;

        /* a PDB still being processed says when to come back; never sooner than asked */
        if (resp.retry_after_s > 0 && resp.retry_after_s <= 3600 &&
            resp.retry_after_s * SEC > pause)
            pause = resp.retry_after_s * SEC;
        snprintf(x->last_answer, sizeof(x->last_answer), "%s",
                 kube_resp_describe(&resp, desc, sizeof(desc)));
        log_msg(NSC_LOG_DEBUG, "drain", "node %s: pod %s/%s not evicted (try %d): %s", x->node,
                p->ns, p->name, p->n_tries, x->last_answer);
        p->next_try_ms = now_ms + pause;
    }
    kube_resp_clear(&resp);
    return 1;
}

/* Whether the pod still holds the node: 1, 0, or negative when unknown. */
static int
pod_present(struct drainer *d, struct drain *x, const struct dpod *p)
{
    struct kube_resp resp;
    char path[600];
    const char *on;
    int rc;

    if (d->h.pod_lookup)
        return d->h.pod_lookup(d->h.ud, p->ns, p->name, x->node);
    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", p->ns, p->name);
    rc = kube_request(d->c, "GET", path, NULL, NULL, 0, &resp);
    if (rc == NSC_ERR_NOT_FOUND) {
        rc = 0;
    } else if (rc == 0) {
        /* a StatefulSet pod comes back under the same name, on another node */
        on = json_string_value(json_object_get(json_object_get(resp.obj, "spec"), "nodeName"));
        rc = on && !strcmp(on, x->node);
    } else {
        rc = -1;
    }
    kube_resp_clear(&resp);
    return rc;
}

/* One lookup of a pod not yet seen gone; returns 1 when a request was made. */
static int
step_wait_gone(struct drainer *d, struct drain *x, int64_t now_ms)
{
    struct dpod *p = NULL;
    size_t i;
    int r;

    for (i = 0; i < x->n_pods && p == NULL; i++)
        if (x->pods[i].evict && !x->pods[i].gone)
            p = &x->pods[i];
    if (p == NULL) {
        x->st = DS_DELETE;
        x->next_ms = now_ms;
        return 0;
    }
    if (now_ms >= x->gone_deadline_ms) {
        fail(x, now_ms, "pod %s/%s still on the node %llds after its eviction", p->ns, p->name,
             (long long)((now_ms - x->evict_start_ms) / 1000));
        return 0;
    }
    if (now_ms < x->next_ms)
        return 0;
    r = pod_present(d, x, p);
    if (r == 0) {
        p->gone = true;
    } else {
        if (r < 0)
            log_msg(NSC_LOG_DEBUG, "drain",
                    "node %s: pod %s/%s: cannot tell whether it is "
                    "gone; waiting",
                    x->node, p->ns, p->name);
        x->next_ms = now_ms + d->o.pod_poll_ms;
    }
    return 1;
}

static int
step_delete(struct drainer *d, struct drain *x, int64_t now_ms)
{
    char err[512] = "";
    int rc;

    if (stop_wanted(d, x, now_ms))
        return 0;
    if (d->o.dry_run) {
        log_msg(NSC_LOG_INFO, "drain",
                "dry run: would remove instance %s of group %s (node %s)", x->provider_id,
                x->group_id, x->node);
        x->ok = true;
        x->st = DS_DONE;
        return 0;
    }
    if (now_ms < x->next_ms)
        return 0;
    if (x->delete_deadline_ms == 0)
        x->delete_deadline_ms = now_ms + d->o.backend_evict_time_ms;
    rc = d->h.evict_instance(d->h.backend_ud, x->group_id, x->provider_id, err, sizeof(err));
    /* A transient refusal (another operation still running on the group, say the removal
     * of a sibling node drained at the same time) is retried: the node is empty and
     * tainted, and undoing the drain for a wait of seconds would waste it. Evicting names
     * the instance, so a retry can never remove another one. */
    if (rc == NSC_ERR_TRANSIENT && now_ms + d->o.backend_retry_ms <= x->delete_deadline_ms) {
        log_msg(NSC_LOG_WARNING, "drain",
                "node %s: backend evict of instance %s in group %s not done yet (%s); "
                "retrying in %lld ms",
                x->node, x->provider_id, x->group_id, err[0] ? err : "transient",
                (long long)d->o.backend_retry_ms);
        x->next_ms = now_ms + d->o.backend_retry_ms;
        return 1;
    }
    if (rc) {
        fail(x, now_ms, "backend evict of instance %s in group %s: %s: %s", x->provider_id,
             x->group_id, plugin_status_name(rc), err[0] ? err : "no detail");
        return 1;
    }
    log_msg(NSC_LOG_INFO, "drain", "node %s: instance %s of group %s removed", x->node,
            x->provider_id, x->group_id);
    x->ok = true;
    x->st = DS_DONE;
    return 1;
}

static int
step_rollback(struct drainer *d, struct drain *x, int64_t now_ms)
{
    char err[1024];
    int rc;

    if (now_ms < x->next_ms)
        return 0;
    if (d->o.dry_run) {
        log_msg(NSC_LOG_INFO, "drain", "dry run: would untaint node %s", x->node);
        x->st = DS_DONE;
        return 0;
    }
    rc = node_mark(d, x->node, 0, err, sizeof(err));
    if (rc == 0 || rc == NSC_ERR_NOT_FOUND) {
        x->st = DS_DONE;
    } else {
        /* never leave it tainted: the slot stays taken, and no new drain starts, until
         * this succeeds */
        log_msg(NSC_LOG_WARNING, "drain", "%s; retrying", err);
        x->next_ms = now_ms + d->o.rollback_retry_ms;
    }
    return 1;
}

/* Advance one drain by at most one request. */
static void
advance(struct drainer *d, struct drain *x, int64_t now_ms)
{
    char err[1024];
    int sent = 0;

    while (!sent && x->st != DS_DONE) {
        enum drain_state before = x->st;

        switch (x->st) {
        case DS_TAINT:
            if (stop_wanted(d, x, now_ms))
                break;
            if (d->o.dry_run) {
                log_msg(NSC_LOG_INFO, "drain", "dry run: would taint node %s %s:NoSchedule%s",
                        x->node, DRAIN_TAINT_TO_BE_DELETED,
                        d->o.cordon_node_before_terminating ? " and cordon it" : "");
            } else {
                x->touched = true;
                sent = 1;
                if (node_mark(d, x->node, 1, err, sizeof(err))) {
                    fail(x, now_ms, "%s", err);
                    break;
                }
            }
            x->st = DS_DELAY;
            x->next_ms = now_ms + d->o.node_delete_delay_after_taint_ms;
            break;
        case DS_DELAY:
            if (now_ms < x->next_ms)
                return;
            x->evict_start_ms = now_ms;
            x->st = DS_EVICT;
            break;
        case DS_EVICT:
            sent = step_evict(d, x, now_ms);
            break;
        case DS_WAIT_GONE:
            sent = step_wait_gone(d, x, now_ms);
            break;
        case DS_DELETE:
            sent = step_delete(d, x, now_ms);
            break;
        case DS_ROLLBACK:
            sent = step_rollback(d, x, now_ms);
            break;
        case DS_DONE:
            break;
        }
        if (!sent && x->st == before)
            return; /* waiting */
    }
}

void
drain_eviction_counts(const struct drainer *d, uint64_t *ok, uint64_t *failed)
{
    *ok = d ? d->n_evicted_ok : 0;
    *failed = d ? d->n_evicted_failed : 0;
}

static void
record_failure(struct drainer *d, const struct drain *x)
{
    struct failure *f = &d->failures[d->next_failure];

    free(f->node);
    f->node = strdup(x->node);
    snprintf(f->reason, sizeof(f->reason), "%s", x->reason);
    d->next_failure = (d->next_failure + 1) % FAILURES_KEPT;
}

/* Take a finished drain out, then tell the caller (who may start another from the hook). */
static void
finish(struct drainer *d, size_t i)
{
    struct drain *x = d->drains[i];
    struct drain_outcome oc;

    d->drains[i] = d->drains[--d->n_drains];
    if (!x->ok)
        record_failure(d, x);
    oc.node_name = x->node;
    oc.group_id = x->group_id;
    oc.provider_id = x->provider_id;
    oc.ok = x->ok;
    oc.dry_run = d->o.dry_run;
    oc.left_tainted = x->left_tainted;
    oc.reason = x->ok ? "" : x->reason;
    if (d->h.done)
        d->h.done(d->h.ud, &oc);
    drain_free_one(x);
}

size_t
drain_step(struct drainer *d, int64_t now_ms)
{
    size_t i;

    for (i = 0; i < d->n_drains; i++)
        advance(d, d->drains[i], now_ms);
    for (i = d->n_drains; i-- > 0;)
        if (d->drains[i]->st == DS_DONE)
            finish(d, i);
    return d->n_drains;
}

size_t
drain_abort_all(struct drainer *d, int64_t deadline_ms, const char *reason)
{
    const struct kube_clock *clk = kube_client_clock(d->c);
    char err[1024];
    size_t left = 0;

    while (d->n_drains > 0) {
        struct drain *x = d->drains[d->n_drains - 1];

        if (x->st != DS_DONE || !x->ok) {
            snprintf(x->reason, sizeof(x->reason), "aborted: %s", reason ? reason : "shutdown");
            x->ok = false;
        }
        while (x->touched && !x->ok && !d->o.dry_run) {
            int rc = node_mark(d, x->node, 0, err, sizeof(err));
            int64_t now, pause;

            if (rc == 0 || rc == NSC_ERR_NOT_FOUND)
                break;
            now = clk->now_ms(clk->ctx);
            if (now >= deadline_ms) {
                log_msg(NSC_LOG_ERROR, "drain", "node %s left tainted at shutdown: %s", x->node,
                        err);
                x->left_tainted = true;
                left++;
                break;
            }
            pause = deadline_ms - now < d->o.rollback_retry_ms ? deadline_ms - now
                                                               : d->o.rollback_retry_ms;
            clk->sleep_ms(clk->ctx, pause);
        }
        finish(d, d->n_drains - 1);
    }
    return left;
}

/* ---- cleanup, soft taints, unneeded-since ------------------------------------------- */

int
drain_cleanup_stale_taints(struct drainer *d, const char *const *tainted, size_t n_tainted,
                           size_t *n_cleaned, char *err, size_t err_len)
{
    char e[1024];
    size_t i;
    int rc, first = 0, changed;

    *n_cleaned = 0;
    if (n_tainted > MAX_CLEANUP_NODES) {
        snprintf(err, err_len, "stale taints: %zu nodes named, more than %d", n_tainted,
                 MAX_CLEANUP_NODES);
        return NSC_ERR_INVALID;
    }
    /* The names come from the watched view, which may lag: node_mark reads the node
     * again before it writes, so a node untainted meanwhile costs a GET, not a write. */
    for (i = 0; i < n_tainted; i++) {
        const char *name = tainted[i];

        if (!valid_name(name) || find_drain(d, name))
            continue;
        if (d->o.dry_run) {
            log_msg(NSC_LOG_INFO, "drain", "dry run: would remove stale %s from node %s",
                    DRAIN_TAINT_TO_BE_DELETED, name);
            continue;
        }
        rc = node_mark_changed(d, name, 0, &changed, e, sizeof(e));
        if (rc == NSC_ERR_NOT_FOUND || (rc == 0 && !changed))
            continue;
        if (rc) {
            log_msg(NSC_LOG_WARNING, "drain", "stale taint: %s", e);
            if (!first) {
                first = rc;
                snprintf(err, err_len, "%s", e);
            }
            continue;
        }
        log_msg(NSC_LOG_INFO, "drain", "node %s: stale %s removed", name,
                DRAIN_TAINT_TO_BE_DELETED);
        (*n_cleaned)++;
    }
    return first;
}

struct soft_edit {
    const char *value;
    int add;
};

static int
edit_soft(void *ud, json_t *node)
{
    struct soft_edit *se = ud;
    int changed = 0, rc;

    /* an existing candidate taint keeps its time */
    rc = set_taint(node, DRAIN_TAINT_CANDIDATE, se->value, se->add ? "PreferNoSchedule" : NULL,
                   1, &changed);
    return rc ? rc : changed ? 0 : 1;
}

int
drain_soft_taint_update(struct drainer *d, const char *const *unneeded, size_t n_unneeded,
                        const char *const *needed, size_t n_needed, size_t *n_written,
                        char *err, size_t err_len)
{
    const struct kube_clock *clk = kube_client_clock(d->c);
    int64_t t0 = clk->now_ms(clk->ctx);
    char value[32], desc[768];
    size_t i, n = n_unneeded + n_needed;
    int first = 0;

    *n_written = 0;
    if (d->o.max_bulk_soft_taint_count == 0 || d->o.max_bulk_soft_taint_time_ms == 0)
        return 0;
    snprintf(value, sizeof(value), "%lld", (long long)(kube_wall_ms() / 1000));
    for (i = 0; i < n; i++) {
        const char *name = i < n_unneeded ? unneeded[i] : needed[i - n_unneeded];
        struct soft_edit se = {value, i < n_unneeded};
        struct kube_resp resp;
        int rc;

        if ((int64_t)*n_written >= d->o.max_bulk_soft_taint_count ||
            clk->now_ms(clk->ctx) - t0 >= d->o.max_bulk_soft_taint_time_ms)
            break;
        if (!valid_name(name) || find_drain(d, name))
            continue;
        if (d->o.dry_run) {
            log_msg(NSC_LOG_INFO, "drain", "dry run: would %s %s on node %s",
                    se.add ? "set" : "remove", DRAIN_TAINT_CANDIDATE, name);
            continue;
        }
        /* the edit reports "unchanged" without a PUT: count only real writes */
        rc = kube_node_update(d->c, name, edit_soft, &se, &resp);
        if (rc == 0 && resp.status == 200 && !strcmp(resp.method, "PUT"))
            (*n_written)++;
        if (rc && rc != NSC_ERR_NOT_FOUND && !first) {
            first = rc;
            snprintf(err, err_len, "soft taint on node %s: %s", name,
                     kube_resp_describe(&resp, desc, sizeof(desc)));
        }
        kube_resp_clear(&resp);
    }
    return first;
}

struct since_edit {
    const char *value; /* NULL: remove */
};

static int
edit_since(void *ud, json_t *node)
{
    struct since_edit *se = ud;
    json_t *md = obj_child(node, "metadata"), *ann;
    int64_t cur;

    if (md == NULL || (ann = obj_child(md, "annotations")) == NULL)
        return NSC_ERR_NOMEM;
    if (se->value == NULL) {
        if (json_object_get(ann, DRAIN_ANN_UNNEEDED_SINCE) == NULL)
            return 1;
        json_object_del(ann, DRAIN_ANN_UNNEEDED_SINCE);
        return 0;
    }
    /* keep an older valid time; an unreadable one is replaced (restarting the count) */
    if (drain_unneeded_since_of(node, &cur) == 0)
        return 1;
    return json_object_set_new(ann, DRAIN_ANN_UNNEEDED_SINCE, json_string(se->value))
               ? NSC_ERR_NOMEM
               : 0;
}

int
drain_set_unneeded_since(struct drainer *d, const char *node_name, int64_t since_s, char *err,
                         size_t err_len)
{
    char value[32], desc[768];
    struct since_edit se = {since_s >= 0 ? value : NULL};
    struct kube_resp resp;
    int rc;

    if (!valid_name(node_name) || since_s > 253402300799LL) {
        snprintf(err, err_len, "unneeded-since: bad node name or time %lld",
                 (long long)since_s);
        return NSC_ERR_INVALID;
    }
    if (since_s >= 0)
        kube_format_time(since_s * 1000, value, sizeof(value));
    if (d->o.dry_run) {
        log_msg(NSC_LOG_INFO, "drain", "dry run: would %s %s on node %s",
                since_s >= 0 ? "set" : "remove", DRAIN_ANN_UNNEEDED_SINCE, node_name);
        return 0;
    }
    rc = kube_node_update(d->c, node_name, edit_since, &se, &resp);
    if (rc)
        snprintf(err, err_len, "unneeded-since on node %s: %s", node_name,
                 kube_resp_describe(&resp, desc, sizeof(desc)));
    kube_resp_clear(&resp);
    return rc;
}

/* Exactly n digits at s; -1 otherwise. */
static int
digits(const char *s, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int
drain_unneeded_since_of(const json_t *node, int64_t *since_s)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *s = json_string_value(
        json_object_get(json_object_get(json_object_get(node, "metadata"), "annotations"),
                        DRAIN_ANN_UNNEEDED_SINCE));
    int y, mo, dd, h, mi, sec;
    struct tm tm;
    const char *p;
    time_t t;

    if (json_object_get(json_object_get(json_object_get(node, "metadata"), "annotations"),
                        DRAIN_ANN_UNNEEDED_SINCE) == NULL)
        return NSC_ERR_NOT_FOUND;
    if (s == NULL || strlen(s) < 20 || strlen(s) > 40)
        return NSC_ERR_INVALID;
    y = digits(s, 4);
    mo = digits(s + 5, 2);
    dd = digits(s + 8, 2);
    h = digits(s + 11, 2);
    mi = digits(s + 14, 2);
    sec = digits(s + 17, 2);
    if (y < 1970 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':' || mo < 1 || mo > 12 || dd < 1 || dd > mdays[mo - 1] ||
        h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
        return NSC_ERR_INVALID;
    p = s + 19;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
        if (p == s + 20)
            return NSC_ERR_INVALID;
    }
    /* only UTC: the writer (this file) writes Z, and an offset would be someone else's */
    if ((*p != 'Z' && *p != 'z') || p[1] != '\0')
        return NSC_ERR_INVALID;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = dd;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return NSC_ERR_INVALID;
    *since_s = (int64_t)t;
    return 0;
}
