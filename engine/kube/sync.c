/* Model synchronisation: informer events become model upserts and deletes; a one-pass
 * load lists the same kinds for offline-style single runs. */
#include "config.h"

#include "kube/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

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
apply_delete(struct model *m, const char *kind, json_t *obj)
{
    json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));

    if (name == NULL)
        return;
    if (!strcmp(kind, "Pod"))
        model_delete_pod(m, ns ? ns : "", name);
    else if (!strcmp(kind, "Node"))
        model_delete_node(m, name);
    else if (!strcmp(kind, "PodDisruptionBudget"))
        model_delete_pdb(m, ns ? ns : "", name);
    else if (!strcmp(kind, "PersistentVolume"))
        model_delete_pv(m, name);
    else if (!strcmp(kind, "PersistentVolumeClaim"))
        model_delete_pvc(m, ns ? ns : "", name);
    else if (!strcmp(kind, "Namespace"))
        model_delete_namespace(m, name);
}

static void
on_event(void *ud, enum kube_event_type type, json_t *obj)
{
    struct sync_kind *k = ud;

    if (type == KUBE_EVENT_DELETED)
        apply_delete(k->s->m, k->desc->kind, obj);
    else
        /* a malformed object is logged by the model and left out */
        (void)model_upsert(k->s->m, obj, k->desc->kind);
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
        o.on_event = on_event;
        o.ud = &s->k[i];
        if (!strcmp(kinds[i].kind, "Pod"))
            o.wake_if = kube_pod_is_unschedulable;
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
};

static int
load_item(void *ud, json_t *item)
{
    struct load_ctx *lc = ud;
    int rc = model_upsert(lc->m, item, lc->kind);

    if (rc == NSC_ERR_NOMEM)
        return rc;
    if (rc == NSC_ERR_NOT_IMPLEMENTED)
        lc->st->n_ignored++;
    else if (rc < 0)
        lc->st->n_skipped++;
    else if (!strcmp(lc->kind, "Pod"))
        lc->st->n_pods++;
    else if (!strcmp(lc->kind, "Node"))
        lc->st->n_nodes++;
    else if (!strcmp(lc->kind, "PodDisruptionBudget"))
        lc->st->n_pdbs++;
    else if (!strcmp(lc->kind, "PersistentVolume"))
        lc->st->n_pvs++;
    else if (!strcmp(lc->kind, "PersistentVolumeClaim"))
        lc->st->n_pvcs++;
    else if (!strcmp(lc->kind, "Namespace"))
        lc->st->n_namespaces++;
    return 0;
}

int
kube_load_model(struct kube_client *c, struct model *m, struct model_load_stats *stats,
                char *err, size_t err_len)
{
    struct model_load_stats local = {0};
    const char *pdb_path = kube_pdb_path(c);
    size_t i;

    for (i = 0; i < N_KINDS; i++) {
        struct load_ctx lc = {m, kinds[i].kind, stats ? stats : &local};
        struct kube_resp resp;
        int rc = kube_list(c, kinds[i].path ? kinds[i].path : pdb_path, NULL, 500, load_item,
                           &lc, NULL, 0, &resp);

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
