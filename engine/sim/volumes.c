/* Volume placement as kube-scheduler decides it: VolumeBinding's PreFilter (claims found,
 * bound or to bind, classes), VolumeRestrictions (ReadWriteOncePod), VolumeBinding's
 * Filter (bound volumes' node affinity, a PV or a provisioner for claims to bind) and
 * VolumeZone. Reasons are the scheduler's own failure messages. */
#include "sim/volumes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The scheduler's messages (volumebinding, volumerestrictions, volumezone). */
#define MSG_IMMEDIATE "pod has unbound immediate PersistentVolumeClaims"
#define MSG_PV_MISSING                                                                         \
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
#define MSG_NODE_CONFLICT "node(s) had volume node affinity conflict"
#define MSG_BIND_CONFLICT "node(s) didn't find available persistent volumes to bind"
#define MSG_ZONE "node(s) had no available volume zone"
#define MSG_VOLUME_COUNT "node(s) exceed max volume count"
#define MSG_RWOP                                                                               \
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access " \
    "mode"

#define WHY(...)                                                                               \
    do {                                                                                       \
        if (why)                                                                               \
            snprintf(why, why_len, __VA_ARGS__);                                               \
    } while (0)

void
sim_vols_clear(struct sim_vols *v)
{
    for (uint32_t i = 0; i < v->n_claims; i++)
        free(v->claims[i].cands);
    free(v->claims);
    free(v->chosen);
    free(v->csi);
    memset(v, 0, sizeof(*v));
}

static const struct model_sc *
find_sc(const struct model *m, const char *name)
{
    uint32_t slot;
    return smap_get(&m->scs.index, name, &slot) ? m->scs.slots[slot] : NULL;
}

/* The class a claim without one gets. The admission plugin gives new claims the default
 * class, and the volume controller gives it to older ones too; with no default, or two
 * (which one the cluster picks is not known here), there is none and the claim binds
 * immediately. */
static const struct model_sc *
default_sc(const struct model *m)
{
    const struct model_sc *found = NULL;
    for (uint32_t i = 0; i < m->scs.n_slots; i++) {
        const struct model_sc *sc = m->scs.slots[i];
        if (!sc || !sc->is_default)
            continue;
        if (found)
            return NULL;
        found = sc;
    }
    return found;
}

/* The binder's rules for an unbound PV to be offered to claim c of class cls. */
static bool
pv_can_bind(const struct model *m, const struct model_pvc *c, const char *cls,
            const struct model_pv *pv)
{
    if (strcmp(intern_str(&m->strings, pv->class_id), cls) != 0)
        return false;
    if (pv->claim_name != INTERN_NONE &&
        (pv->claim_ns != c->ns ||
         strcmp(intern_str(&m->strings, pv->claim_name), c->name) != 0))
        return false; /* reserved for another claim */
    return (c->modes & ~pv->modes) == 0 && pv->capacity >= c->request && pv->block == c->block;
}

/* A PV reserved for the claim first, then the smallest, as the binder picks. */
static int
cand_cmp(const void *a, const void *b)
{
    const struct model_pv *x = *(const struct model_pv *const *)a;
    const struct model_pv *y = *(const struct model_pv *const *)b;
    bool rx = x->claim_name != INTERN_NONE, ry = y->claim_name != INTERN_NONE;
    if (rx != ry)
        return rx ? -1 : 1;
    if (x->capacity != y->capacity)
        return x->capacity < y->capacity ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int
gather_cands(const struct model *m, struct sim_vclaim *vc)
{
    const struct model_pvc *c = vc->pvc;
    /* A claim with a label selector is matched against PV labels the model does not keep:
     * no PV is offered (only provisioning), never a wrong one. */
    if (c->has_selector)
        return 0;
    for (uint32_t i = 0; i < m->pvs.n_slots; i++) {
        const struct model_pv *pv = m->pvs.slots[i];
        if (!pv || !pv_can_bind(m, c, vc->sc->name, pv))
            continue;
        const struct model_pv **nc = realloc(vc->cands, (vc->n_cands + 1) * sizeof(*nc));
        if (!nc)
            return NSC_ERR_NOMEM;
        vc->cands = nc;
        vc->cands[vc->n_cands++] = pv;
    }
    if (vc->n_cands > 1)
        qsort(vc->cands, vc->n_cands, sizeof(*vc->cands), cand_cmp);
    return 0;
}

static const struct model_pvc *
find_pvc(const struct model *m, uint32_t ns, uint32_t claim)
{
    char key[600];
    uint32_t slot;
    snprintf(key, sizeof(key), "%s/%s", intern_str(&m->strings, ns),
             intern_str(&m->strings, claim));
    return smap_get(&m->pvcs.index, key, &slot) ? m->pvcs.slots[slot] : NULL;
}

/* Append the CSI volume of pod p's claim `claim` to out (room for it is there), as
 * NodeVolumeLimits resolves it: a bound claim by its PV's spec.csi.driver, an unbound
 * one by its class's provisioner. Claims, PVs or classes that cannot be found count as
 * no CSI volume (VolumeBinding refuses such pods on its own). Duplicates are skipped. */
static void
csi_vol_of(const struct model *m, uint32_t ns, uint32_t claim, struct sim_csi_vol *out,
           uint32_t *n)
{
    const struct model_pvc *pvc = find_pvc(m, ns, claim);
    struct sim_csi_vol cv = {0};
    uint32_t slot;
    if (!pvc)
        return;
    if (pvc->volume != INTERN_NONE) {
        const struct model_pv *pv =
            smap_get(&m->pvs.index, intern_str(&m->strings, pvc->volume), &slot)
                ? m->pvs.slots[slot]
                : NULL;
        if (!pv || pv->csi_driver == INTERN_NONE)
            return;
        cv = (struct sim_csi_vol){pv->csi_driver, 0, pvc->volume};
    } else {
        const char *cls = intern_str(&m->strings, pvc->class_id);
        const struct model_sc *sc = pvc->has_class ? find_sc(m, cls) : default_sc(m);
        if (!sc || sc->provisioner == INTERN_NONE)
            return;
        cv = (struct sim_csi_vol){sc->provisioner, ns, claim};
    }
    for (uint32_t i = 0; i < *n; i++)
        if (out[i].driver == cv.driver && out[i].a == cv.a && out[i].b == cv.b)
            return;
    out[(*n)++] = cv;
}

int
sim_vols_prepare(const struct sim_snapshot *s, const struct model_pod *p, struct sim_vols *v)
{
    const struct model *m = s->m;
    const struct pod_spec *ps = p->spec;
    bool immediate = false;
    if (ps->n_claims == 0)
        return 0;
    v->claims = calloc(ps->n_claims, sizeof(*v->claims));
    v->chosen = calloc(ps->n_claims, sizeof(*v->chosen));
    if (!v->claims || !v->chosen)
        return NSC_ERR_NOMEM;
    for (uint32_t i = 0; i < ps->n_claims; i++) {
        const char *cname = intern_str(&m->strings, ps->claims[i]);
        char key[600];
        uint32_t slot;
        const struct model_pvc *pvc = NULL;
        snprintf(key, sizeof(key), "%s/%s", intern_str(&m->strings, p->ns), cname);
        if (smap_get(&m->pvcs.index, key, &slot))
            pvc = m->pvcs.slots[slot];
        if (!pvc) {
            snprintf(v->fail, sizeof(v->fail), "persistentvolumeclaim \"%s\" not found", cname);
            return 0;
        }
        struct sim_vclaim *vc = &v->claims[v->n_claims++];
        vc->pvc = pvc;
        v->has_rwop = v->has_rwop || (pvc->modes & MODE_RWOP);
        if (pvc->volume != INTERN_NONE) {
            if (smap_get(&m->pvs.index, intern_str(&m->strings, pvc->volume), &slot))
                vc->pv = m->pvs.slots[slot];
            continue;
        }
        const char *cls = intern_str(&m->strings, pvc->class_id);
        if (pvc->has_class && !*cls) {
            immediate = true; /* "": no class, only PVs without one, bound by the controller */
            continue;
        }
        vc->sc = pvc->has_class ? find_sc(m, cls) : default_sc(m);
        if (!vc->sc && pvc->has_class) {
            snprintf(v->fail, sizeof(v->fail), "storageclass.storage.k8s.io \"%s\" not found",
                     cls);
            return 0;
        }
        if (!vc->sc || !vc->sc->wait_first_consumer) {
            vc->sc = NULL;
            immediate = true;
            continue;
        }
        if (gather_cands(m, vc) < 0)
            return NSC_ERR_NOMEM;
    }
    if (immediate) {
        snprintf(v->fail, sizeof(v->fail), "%s", MSG_IMMEDIATE);
        return 0;
    }
    /* CSINodes are only looked at for pods with CSI volumes. */
    if (m->csinodes.n_live == 0)
        return 0;
    if (!(v->csi = calloc(ps->n_claims, sizeof(*v->csi))))
        return NSC_ERR_NOMEM;
    for (uint32_t i = 0; i < ps->n_claims; i++)
        csi_vol_of(m, p->ns, ps->claims[i], v->csi, &v->n_csi);
    return 0;
}

/* NodeVolumeLimits for CSI: per driver that the node's CSINode limits, the distinct volumes
 * of the pods on the node plus the pod's own that are not among them must not exceed
 * allocatable.count. A node without a CSINode, or a driver without a count, has no limit.
 * Templates of new nodes have the CSINode of the node they were copied from, if any. */
static int
csi_limits(const struct sim_snapshot *s, struct sim_vols *v, const struct sim_node *n,
           char *why, size_t why_len)
{
    const struct model *m = s->m;
    uint32_t slot;
    if (!smap_get(&m->csinodes.index, n->src->name, &slot))
        return SIM_OK;
    const struct model_csinode *cn = m->csinodes.slots[slot];
    bool limited = false;
    for (uint32_t i = 0; i < v->n_csi && !limited; i++)
        for (uint32_t d = 0; d < cn->n_drivers && !limited; d++)
            limited = cn->drivers[d].driver == v->csi[i].driver && cn->drivers[d].count >= 0;
    if (!limited)
        return SIM_OK;
    uint32_t n_claims = 0;
    for (uint32_t i = 0; i < n->n_pods; i++)
        n_claims += s->pods[n->pods[i]].p->spec->n_claims;
    struct sim_csi_vol *att = n_claims ? calloc(n_claims, sizeof(*att)) : NULL;
    uint32_t n_att = 0;
    if (n_claims && !att) {
        WHY("out of memory");
        return SIM_FAIL_VOLUME; /* fail closed */
    }
    for (uint32_t i = 0; i < n->n_pods; i++) {
        const struct model_pod *q = s->pods[n->pods[i]].p;
        for (uint32_t k = 0; k < q->spec->n_claims; k++)
            csi_vol_of(m, q->ns, q->spec->claims[k], att, &n_att);
    }
    int rc = SIM_OK;
    for (uint32_t d = 0; d < cn->n_drivers && rc == SIM_OK; d++) {
        const struct model_csi_limit *l = &cn->drivers[d];
        if (l->count < 0)
            continue;
        int64_t attached = 0, fresh = 0;
        for (uint32_t i = 0; i < n_att; i++)
            attached += att[i].driver == l->driver;
        for (uint32_t i = 0; i < v->n_csi; i++) {
            const struct sim_csi_vol *cv = &v->csi[i];
            if (cv->driver != l->driver)
                continue;
            bool there = false;
            for (uint32_t k = 0; k < n_att && !there; k++)
                there = att[k].driver == cv->driver && att[k].a == cv->a && att[k].b == cv->b;
            fresh += !there;
        }
        if (fresh > 0 && attached + fresh > l->count) {
            WHY("%s (%s: %" PRId64 " attached + %" PRId64 " new > %" PRId64 ")",
                MSG_VOLUME_COUNT, intern_str(&m->strings, l->driver), attached, fresh,
                l->count);
            rc = SIM_FAIL_VOLUME;
        }
    }
    free(att);
    return rc;
}

/* The PV's zone/region labels ("a__b" lists several) against the node's. */
static bool
pv_zone_ok(const struct model *m, const struct model_pv *pv, const struct sim_node *n)
{
    const uint32_t keys[4] = {m->s_zone, m->s_region, m->s_zone_legacy, m->s_region_legacy};
    bool node_has = false;
    for (int i = 0; i < 4; i++)
        node_has = node_has || labels_get(n->labels, keys[i]);
    if (!node_has)
        return true; /* VolumeZone lets nodes without topology labels pass */
    for (int i = 0; i < 4; i++) {
        uint32_t pvv = labels_get(pv->labels, keys[i]);
        if (!pvv)
            continue;
        uint32_t nv = labels_get(n->labels, keys[i]);
        if (!nv) /* a legacy PV label is matched by the node's stable one and back */
            nv = labels_get(n->labels, keys[i ^ 2]);
        if (!nv)
            return false;
        const char *list = intern_str(&m->strings, pvv), *want = intern_str(&m->strings, nv);
        size_t wl = strlen(want);
        bool found = false;
        for (const char *q = list; *q && !found;) {
            const char *e = strstr(q, "__");
            size_t l = e ? (size_t)(e - q) : strlen(q);
            found = l == wl && memcmp(q, want, l) == 0;
            q = e ? e + 2 : q + l;
        }
        if (!found)
            return false;
    }
    return true;
}

/* Does another pod of the snapshot use one of p's ReadWriteOncePod claims? The scheduler
 * counts such pods over the whole cluster, so the answer holds for every node. */
static bool
rwop_conflict(const struct sim_snapshot *s, struct sim_vols *v, const struct model_pod *p)
{
    if (v->rwop_known && v->rwop_epoch == s->epoch && v->rwop_pods == s->n_pods &&
        v->rwop_revs == s->n_revs)
        return v->rwop_conflict;
    bool hit = false;
    for (uint32_t i = 0; i < s->n_pods && !hit; i++) {
        const struct sim_pod *sp = &s->pods[i];
        const struct model_pod *q = sp->p;
        if (sp->node == SIM_NONE || s->nodes[sp->node].disabled || q == p || q->ns != p->ns)
            continue;
        for (uint32_t a = 0; a < q->spec->n_claims && !hit; a++)
            for (uint32_t b = 0; b < v->n_claims && !hit; b++)
                hit = (v->claims[b].pvc->modes & MODE_RWOP) &&
                      q->spec->claims[a] == p->spec->claims[b];
    }
    v->rwop_known = true;
    v->rwop_conflict = hit;
    v->rwop_epoch = s->epoch;
    v->rwop_pods = s->n_pods;
    v->rwop_revs = s->n_revs;
    return hit;
}

/* A PV for claim vc on node n that no earlier claim of the pod took, or NULL. */
static const struct model_pv *
pick_pv(const struct model *m, const struct sim_vclaim *vc, const struct model_pv *const *taken,
        uint32_t n_taken, const struct sim_node *n)
{
    for (uint32_t i = 0; i < vc->n_cands; i++) {
        const struct model_pv *pv = vc->cands[i];
        bool used = false;
        for (uint32_t k = 0; k < n_taken && !used; k++)
            used = taken[k] == pv;
        if (used)
            continue;
        if (!pv->node_aff ||
            node_selector_matches(&m->strings, pv->node_aff, n->name_id, n->labels))
            return pv;
    }
    return NULL;
}

int
sim_vols_check(const struct sim_snapshot *s, struct sim_vols *v, const struct model_pod *p,
               const struct sim_node *n, char *why, size_t why_len)
{
    const struct model *m = s->m;
    if (v->n_claims == 0)
        return SIM_OK;
    if (v->has_rwop && rwop_conflict(s, v, p)) {
        WHY("%s", MSG_RWOP);
        return SIM_FAIL_VOLUME;
    }
    int rc;
    if (v->n_csi && (rc = csi_limits(s, v, n, why, why_len)) != SIM_OK)
        return rc;
    for (uint32_t i = 0; i < v->n_claims; i++) {
        const struct sim_vclaim *vc = &v->claims[i];
        if (vc->pvc->volume == INTERN_NONE)
            continue;
        if (!vc->pv) {
            WHY("%s (claim %s, volume %s)", MSG_PV_MISSING, vc->pvc->name,
                intern_str(&m->strings, vc->pvc->volume));
            return SIM_FAIL_VOLUME;
        }
        if (vc->pv->node_aff &&
            !node_selector_matches(&m->strings, vc->pv->node_aff, n->name_id, n->labels)) {
            WHY("%s (volume %s)", MSG_NODE_CONFLICT, vc->pv->name);
            return SIM_FAIL_VOLUME;
        }
    }
    uint32_t n_taken = 0;
    for (uint32_t i = 0; i < v->n_claims; i++) {
        const struct sim_vclaim *vc = &v->claims[i];
        if (!vc->sc)
            continue;
        const struct model_pv *pv = pick_pv(m, vc, v->chosen, n_taken, n);
        if (pv) {
            v->chosen[n_taken++] = pv;
            continue;
        }
        if (!vc->sc->no_provisioner &&
            (!vc->sc->topo ||
             node_selector_matches(&m->strings, vc->sc->topo, n->name_id, n->labels)))
            continue;
        WHY("%s (claim %s, class %s)", MSG_BIND_CONFLICT, vc->pvc->name, vc->sc->name);
        return SIM_FAIL_VOLUME;
    }
    for (uint32_t i = 0; i < v->n_claims; i++) {
        const struct model_pv *pv = v->claims[i].pv;
        if (pv && !pv_zone_ok(m, pv, n)) {
            WHY("%s (volume %s)", MSG_ZONE, pv->name);
            return SIM_FAIL_VOLUME;
        }
    }
    return SIM_OK;
}
