/* Model synchronisation: informer events become model upserts and deletes; a one-pass
 * load lists the same kinds for offline-style single runs. */
#include "config.h"

#include "kube/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "model/intern.h"

struct kind_desc {
    const char *name;
    const char *path; /* NULL: the PDB path, found at run time */
    const char *kind;
};

static const struct kind_desc kinds[] = {
    {"namespaces", "/api/v1/namespaces", "Namespace"},
    {"nodes", "/api/v1/nodes", "Node"},
    {"persistentvolumes", "/api/v1/persistentvolumes", "PersistentVolume"},
    {"persistentvolumeclaims", "/api/v1/persistentvolumeclaims", "PersistentVolumeClaim"},
    {"poddisruptionbudgets", NULL, "PodDisruptionBudget"},
    {"pods", "/api/v1/pods", "Pod"},
    {"storageclasses", "/apis/storage.k8s.io/v1/storageclasses", "StorageClass"},
    {"csinodes", "/apis/storage.k8s.io/v1/csinodes", "CSINode"},
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))

struct sync_kind {
    struct kube_sync *s;
    const struct kind_desc *desc;
};

struct kube_sync {
    struct kube_client *c;
    struct model *m;
    struct kube_informers *set;
    struct sync_kind k[N_KINDS];
};

const char *
kube_pdb_path(struct kube_client *c)
{
    struct kube_resp resp;
    int rc = kube_request(c, "GET", "/apis/policy/v1", NULL, NULL, 0, &resp);
    long st = resp.status;

    kube_resp_clear(&resp);
    /* only a definite 404 means the group version is missing; on errors try v1 */
    if (rc && st == 404)
        return "/apis/policy/v1beta1/poddisruptionbudgets";
    return "/apis/policy/v1/poddisruptionbudgets";
}

static void
apply_delete(struct model *m, const char *kind, const char *ns, const char *name)
{
    if (!strcmp(kind, "Pod"))
        model_delete_pod(m, ns, name);
    else if (!strcmp(kind, "Node"))
        model_delete_node(m, name);
    else if (!strcmp(kind, "PodDisruptionBudget"))
        model_delete_pdb(m, ns, name);
    else if (!strcmp(kind, "PersistentVolume"))
        model_delete_pv(m, name);
    else if (!strcmp(kind, "PersistentVolumeClaim"))
        model_delete_pvc(m, ns, name);
    else if (!strcmp(kind, "Namespace"))
        model_delete_namespace(m, name);
    else if (!strcmp(kind, "StorageClass"))
        model_delete_sc(m, name);
    else if (!strcmp(kind, "CSINode"))
        model_delete_csinode(m, name);
}

/* What kube_pod_is_unschedulable says of the pod's JSON, read from the model. */
static int
pod_waits(const struct model *m, const char *ns, const char *name)
{
    const struct model_pod *p = model_find_pod(m, ns, name);

    return p && p->unschedulable && p->node == INTERN_NONE && !p->terminating &&
           p->phase == PHASE_PENDING;
}

static int
span_str(char *buf, size_t len, const struct kube_span *sp)
{
    if (sp->len >= len)
        return -1;
    if (sp->len)
        memcpy(buf, sp->p, sp->len); /* an absent field has no pointer */
    buf[sp->len] = '\0';
    return 0;
}

/* Objects reach the model as text, parsed once by the model's own scanner (no jansson
 * tree); a pod that starts to wait for a node wakes the control loop. */
static void
on_raw_event(void *ud, enum kube_event_type type, const char *json, size_t len,
             const struct kube_raw_meta *meta)
{
    struct sync_kind *k = ud;
    struct model *m = k->s->m;
    char ns[256], name[256], err[256] = "";
    int is_pod = !strcmp(k->desc->kind, "Pod"), waited = 0, rc;

    if (span_str(ns, sizeof(ns), &meta->ns) != 0 ||
        span_str(name, sizeof(name), &meta->name) != 0)
        return; /* longer than any valid name: the model would refuse it as well */
    if (type == KUBE_EVENT_DELETED) {
        apply_delete(m, k->desc->kind, ns, name);
        return;
    }
    if (is_pod)
        waited = pod_waits(m, ns, name);
    rc = model_upsert_text(m, json, len, k->desc->kind, NULL, err, sizeof(err));
    if (rc == NSC_ERR_INVALID)
        log_msg(NSC_LOG_WARNING, "kube", "%s %s%s%s left out: %s", k->desc->kind, ns,
                ns[0] ? "/" : "", name, err);
    if (is_pod && !waited && pod_waits(m, ns, name))
        kube_informers_wake(k->s->set);
}

int
kube_sync_new(struct kube_client *c, struct model *m, struct kube_sync **out)
{
    struct kube_sync *s = calloc(1, sizeof(*s));
    const char *pdb_path;
    size_t i;
    int rc;

    *out = NULL;
    if (s == NULL)
        return NSC_ERR_NOMEM;
    s->c = c;
    s->m = m;
    m->volumes_listed = true;
    rc = kube_informers_new(c, &s->set);
    if (rc) {
        free(s);
        return rc;
    }
    pdb_path = kube_pdb_path(c);
    for (i = 0; i < N_KINDS; i++) {
        struct kube_informer_opts o = {0};

        s->k[i].s = s;
        s->k[i].desc = &kinds[i];
        o.name = kinds[i].name;
        o.path = kinds[i].path ? kinds[i].path : pdb_path;
        o.kind = kinds[i].kind;
        o.on_raw_event = on_raw_event;
        o.ud = &s->k[i];
        rc = kube_informers_add(s->set, &o, NULL);
        if (rc) {
            kube_sync_free(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}

void
kube_sync_free(struct kube_sync *s)
{
    if (s == NULL)
        return;
    kube_informers_free(s->set);
    free(s);
}

int
kube_sync_run(struct kube_sync *s, int64_t timeout_ms)
{
    return kube_informers_run(s->set, timeout_ms);
}

int
kube_sync_synced(const struct kube_sync *s)
{
    return kube_informers_synced(s->set);
}

void
kube_sync_wake(struct kube_sync *s)
{
    kube_informers_wake(s->set);
}

struct kube_informers *
kube_sync_informers(struct kube_sync *s)
{
    return s->set;
}

struct load_ctx {
    struct model *m;
    const char *kind;
    struct model_load_stats *st;
    char err[256];
};

static int
load_item(void *ud, const char *json, size_t len)
{
    struct load_ctx *lc = ud;
    int rc = model_upsert_text(lc->m, json, len, lc->kind, lc->st, lc->err, sizeof(lc->err));

    /* a malformed object is counted as skipped by the model; text that is not JSON at all
     * means the answer is broken: stop, as a whole page that is not JSON does */
    return rc == NSC_ERR_INVALID ? NSC_ERR_INTERNAL : rc;
}

int
kube_load_model(struct kube_client *c, struct model *m, struct model_load_stats *stats,
                char *err, size_t err_len)
{
    struct model_load_stats local = {0};
    const char *pdb_path = kube_pdb_path(c);
    size_t i;

    m->volumes_listed = true;
    for (i = 0; i < N_KINDS; i++) {
        struct load_ctx lc = {m, kinds[i].kind, stats ? stats : &local, ""};
        struct kube_resp resp;
        /* the latest, from storage: a one-shot read has no watch to catch up with, and
         * storage lists in key order (a watch cache in any order), so that the same
         * cluster gives the same report */
        int rc = kube_list_raw_at(c, kinds[i].path ? kinds[i].path : pdb_path, NULL, 500, NULL,
                                  load_item, &lc, NULL, 0, &resp);

        if (rc == NSC_ERR_INTERNAL && lc.err[0] && err && err_len) {
            snprintf(err, err_len, "GET %s: a %s is not JSON: %s", resp.path, lc.kind, lc.err);
            kube_resp_clear(&resp);
            return rc;
        }
        if (rc) {
            if (err && err_len)
                kube_resp_describe(&resp, err, err_len);
            kube_resp_clear(&resp);
            return rc;
        }
        kube_resp_clear(&resp);
    }
    return 0;
}
