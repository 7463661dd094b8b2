/* Scale-up planner: pending pods, equivalence groups, existing and upcoming capacity
 * first, then per-group first-fit-decreasing estimation on templates, limits, expanders,
 * balancing, repeated until every pending pod is placed or refused with reasons. */
#include "scaleup/scaleup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "nsc_config.h"

void
scaleup_options_default(struct scaleup_options *o)
{
    memset(o, 0, sizeof(*o));
    o->expander = "least-waste";
    o->cores_total_max = 320000;
    o->memory_total_max_gib = 6400000;
    o->max_nodes_per_scaleup = 1000;
    o->expendable_priority_cutoff = -10;
    o->random_seed = 1;
    o->memory_difference_ratio = 0.015;
    o->max_allocatable_difference_ratio = 0.05;
    o->max_free_difference_ratio = 0.05;
}

/* Pending pods that are interchangeable for placement. */
struct eqgroup {
    const struct model_pod **pods;
    size_t n, cap;
    size_t start; /* pods[start..n) still need a place */
    struct sim_ctx *ctx;
    bool order_free; /* no affinity or spread: a node once refused stays refused */
};

struct tmpl {
    struct model_node node;      /* what the simulation copies */
    struct model_node *owned;    /* parsed from the backend's JSON */
    struct taint *own_taints;    /* sanitised copy for live-node templates */
    const struct model_pod **ds; /* DaemonSet and mirror pods the node brings */
    size_t n_ds;
};

struct group_plan {
    const struct group_rec *g;
    const struct model_node *src; /* live node the template copies, NULL when none */
    bool has_tmpl;
    struct tmpl t;
    char why[256];    /* group-level refusal, "" when none */
    char capped[256]; /* why the last estimation stopped short, "" when it did not */
    int32_t registered;
    int32_t target;
    uint32_t seq;       /* numbers the group's simulated nodes */
    uint32_t *name_ids; /* [seq]: interned name of template node seq, 0 = not yet */
    uint32_t cap_name_ids;
    size_t inc; /* index in the result's increases, SIZE_MAX when none */
    int64_t free_t[RES_N_FIXED];
};

struct planner {
    struct model *m;
    const struct group_set *gs;
    const struct scaleup_options *o;
    struct sim_snapshot *s;
    struct group_plan *gst;
    size_t n_groups;
    struct eqgroup *eq;
    size_t n_eq;
    char **reason; /* [eq * n_groups + g]: why a fresh node of g refuses eq, NULL = fits */
    int64_t total_nodes, total_cores_m, total_mem;
    uint64_t rng;
    struct scaleup_priorities *prio; /* o->priority_config parsed once; NULL: none */
    struct scaleup_result *r;
    uint32_t k_scale_up_delay; /* the pod-scale-up-delay annotation's key, or INTERN_NONE */
};

static bool
taint_sanitised_away(const struct model *m, uint32_t key)
{
    const char *k = intern_str(&m->strings, key);
    return strcmp(k, "ToBeDeletedByClusterAutoscaler") == 0 ||
           strcmp(k, "DeletionCandidateOfClusterAutoscaler") == 0 ||
           strncmp(k, "node.kubernetes.io/", 19) == 0 ||
           strcmp(k, "node.cloudprovider.kubernetes.io/uninitialized") == 0 ||
           strncmp(k, "startup-taint.cluster-autoscaler.kubernetes.io/", 47) == 0 ||
           strncmp(k, "ignore-taint.cluster-autoscaler.kubernetes.io/", 46) == 0 ||
           strncmp(k, "status-taint.cluster-autoscaler.kubernetes.io/", 46) == 0;
}

static bool
good_template_source(const struct model *m, const struct model_node *n)
{
    /* A kubelet that has not reported capacity yet would make a template that fits nothing,
     * and the group would look useless to every pending pod. */
    if (n->ready != 1 || n->unschedulable || n->deleting || !model_node_has_capacity(n))
        return false;
    uint32_t tbd = intern_find(&m->strings, "ToBeDeletedByClusterAutoscaler", 30);
    for (uint32_t i = 0; i < n->n_taints; i++)
        if (tbd && n->taints[i].key == tbd)
            return false;
    return true;
}

static int
tmpl_from_node(const struct model *m, const struct model_node *src, struct tmpl *t)
{
    t->node = *src;
    if (src->n_taints) {
        t->own_taints = malloc(src->n_taints * sizeof(*t->own_taints));
        if (!t->own_taints)
            return NSC_ERR_NOMEM;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < src->n_taints; i++)
        if (!taint_sanitised_away(m, src->taints[i].key))
            t->own_taints[k++] = src->taints[i];
    t->node.taints = t->own_taints;
    t->node.n_taints = k;
    t->node.unschedulable = false;
    return 0;
}

static void
tmpl_free(struct tmpl *t)
{
    model_node_free(t->owned);
    free(t->own_taints);
    free(t->ds);
    memset(t, 0, sizeof(*t));
}

static int
ptr_push(const struct model_pod ***arr, size_t *n, size_t *cap, const struct model_pod *p)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        const struct model_pod **na = realloc(*arr, ncap * sizeof(*na));
        if (!na)
            return NSC_ERR_NOMEM;
        *arr = na;
        *cap = ncap;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

/* ---- setup ---- */

/* A backend's template may omit its name; the simulation names its copies anyway. */
static int
template_named(json_t *j, const char *group_id)
{
    if (!json_is_object(j))
        return 0; /* model_parse_node reports it */
    json_t *meta = json_object_get(j, "metadata");
    if (!meta) {
        meta = json_object();
        if (!meta || json_object_set_new(j, "metadata", meta) < 0)
            return NSC_ERR_NOMEM;
    }
    if (!json_is_object(meta) || json_object_get(meta, "name"))
        return 0;
    char name[300];
    snprintf(name, sizeof(name), "template-node-for-%s", group_id);
    return json_object_set_new(meta, "name", json_string(name)) < 0 ? NSC_ERR_NOMEM : 0;
}

static int
setup_groups(struct planner *pl)
{
    struct model *m = pl->m;
    struct smap pid;
    int rc = NSC_ERR_NOMEM;
    smap_init(&pid);
    pl->n_groups = pl->gs->n_groups;
    pl->gst = calloc(pl->n_groups ? pl->n_groups : 1, sizeof(*pl->gst));
    if (!pl->gst)
        goto out;
    for (size_t g = 0; g < pl->n_groups; g++) {
        struct group_plan *gs = &pl->gst[g];
        gs->g = &pl->gs->groups[g];
        gs->target = gs->g->target_size;
        gs->inc = SIZE_MAX;
        for (size_t i = 0; i < gs->g->n_instances; i++)
            if (gs->g->instances[i].provider_id &&
                smap_put(&pid, gs->g->instances[i].provider_id, (uint32_t)g) < 0)
                goto out;
    }
    const struct model_node **src = calloc(pl->n_groups ? pl->n_groups : 1, sizeof(*src));
    if (!src)
        goto out;
    for (uint32_t i = 0; i < m->nodes.n_slots; i++) {
        const struct model_node *n = m->nodes.slots[i];
        uint32_t g;
        if (!n)
            continue;
        pl->total_nodes++;
        pl->total_cores_m = sim_sat_add(pl->total_cores_m,
                                        n->cap_cpu_m ? n->cap_cpu_m : n->alloc.fixed[RES_CPU]);
        pl->total_mem =
            sim_sat_add(pl->total_mem, n->cap_mem ? n->cap_mem : n->alloc.fixed[RES_MEMORY]);
        if (!n->provider_id || !smap_get(&pid, n->provider_id, &g))
            continue;
        pl->gst[g].registered++;
        if (!src[g] && good_template_source(m, n))
            src[g] = n;
    }
    /* A member that cannot be read exists but is of no use: counted as registered, it is not
     * mistaken for an upcoming node onto which pending pods could be placed. */
    for (uint32_t i = 0; i < m->bad_nodes.n_slots; i++) {
        const struct model_unreadable *u = m->bad_nodes.slots[i];
        uint32_t g;
        if (!u)
            continue;
        pl->total_nodes++;
        if (u->provider_id && smap_get(&pid, u->provider_id, &g))
            pl->gst[g].registered++;
    }
    for (size_t g = 0; g < pl->n_groups; g++) {
        struct group_plan *gs = &pl->gst[g];
        if (src[g]) {
            if (tmpl_from_node(m, src[g], &gs->t) < 0) {
                free(src);
                goto out;
            }
            gs->src = src[g];
            gs->has_tmpl = true;
        } else if (gs->g->template_node_json) {
            json_error_t jerr;
            json_t *j = json_loads(gs->g->template_node_json, 0, &jerr);
            char perr[256] = "";
            if (!j) {
                snprintf(gs->why, sizeof(gs->why), "template node JSON of the backend: %s",
                         jerr.text);
            } else if (template_named(j, gs->g->id) < 0 ||
                       model_parse_node(m, j, &gs->t.owned, perr, sizeof(perr)) < 0) {
                snprintf(gs->why, sizeof(gs->why), "template node of the backend: %s", perr);
            } else {
                gs->t.node = *gs->t.owned;
                gs->has_tmpl = true;
            }
            json_decref(j);
        } else {
            snprintf(gs->why, sizeof(gs->why),
                     "no ready node in the group and the backend gives no template");
        }
        if (!gs->has_tmpl && gs->why[0])
            log_msg(NSC_LOG_INFO, "scaleup", "group %s: %s", gs->g->id, gs->why);
    }
    free(src);
    rc = 0;
out:
    smap_free(&pid);
    return rc;
}

/*
 * One running pod of every DaemonSet, the pattern of the pod that DaemonSet would start on
 * a new node (the model keeps pods, not DaemonSets). In model order, so that the same
 * cluster always gives the same templates. *out is owned by the caller.
 */
static int
daemonset_patterns(const struct model *m, const struct model_pod ***out, size_t *n_out)
{
    const struct model_pod **v = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t i = 0; i < m->pods.n_slots; i++) {
        const struct model_pod *p = m->pods.slots[i];
        if (!p || p->terminating || p->node == INTERN_NONE || !p->owner_uid ||
            !model_pod_is_daemonset(m, p))
            continue;
        size_t j = 0;
        while (j < n && v[j]->owner_uid != p->owner_uid) /* DaemonSets are few */
            j++;
        if (j == n && ptr_push(&v, &n, &cap, p) < 0) {
            free(v);
            return NSC_ERR_NOMEM;
        }
    }
    *out = v;
    *n_out = n;
    return 0;
}

/*
 * A backend's template has no pods, but a node made from it runs every DaemonSet whose
 * taints, selector and affinity it meets, as far as its allocatable goes: those pods take
 * room the pending pods cannot have, so a scale-up from zero asks for enough nodes.
 */
static int
template_daemonsets(struct planner *pl, struct group_plan *gs, const struct model_pod **pat,
                    size_t n_pat)
{
    const struct model_node *n = &gs->t.node;
    int64_t room[RES_N_FIXED];
    size_t cap = gs->t.n_ds;
    for (int k = 0; k < RES_N_FIXED; k++)
        room[k] = n->alloc.fixed[k];
    for (size_t i = 0; i < n_pat; i++) {
        const int64_t *req = pat[i]->spec->req.fixed;
        bool fits = room[RES_PODS] >= 1;
        for (int k = 0; k < RES_PODS; k++)
            fits = fits && req[k] <= room[k];
        if (!fits || !sim_daemon_pod_fits(pl->m, pat[i], n))
            continue;
        if (ptr_push(&gs->t.ds, &gs->t.n_ds, &cap, pat[i]) < 0)
            return NSC_ERR_NOMEM;
        for (int k = 0; k < RES_PODS; k++)
            room[k] -= req[k];
        room[RES_PODS]--;
    }
    if (gs->t.n_ds > 0)
        log_msg(NSC_LOG_DEBUG, "scaleup",
                "group %s: the template node runs %zu DaemonSet pod(s)", gs->g->id, gs->t.n_ds);
    return 0;
}

/*
 * DaemonSet and mirror pods of live template sources travel with their template; a
 * backend's template gets the DaemonSet pods a new node would run. The snapshot already
 * lists each node's pods (in model order), so only the source nodes' pods are looked at,
 * not every pod of the cluster.
 */
static int
template_pods(struct planner *pl)
{
    const struct sim_snapshot *s = pl->s;
    const struct model_pod **pat = NULL;
    size_t n_pat = 0;
    bool have_pat = false;
    for (size_t g = 0; g < pl->n_groups; g++) {
        struct group_plan *gs = &pl->gst[g];
        uint32_t idx = gs->src ? sim_node_index(s, gs->src->name) : SIM_NONE;
        for (uint32_t i = 0; idx != SIM_NONE && i < s->nodes[idx].n_pods; i++) {
            const struct model_pod *p = s->pods[s->nodes[idx].pods[i]].p;
            if (p->terminating ||
                !(model_pod_is_daemonset(pl->m, p) || model_pod_is_mirror(pl->m, p)))
                continue;
            size_t cap = gs->t.n_ds; /* grows one at a time: small lists */
            if (ptr_push(&gs->t.ds, &gs->t.n_ds, &cap, p) < 0) {
                free(pat);
                return NSC_ERR_NOMEM;
            }
        }
        if (!gs->src && gs->has_tmpl) {
            if (!have_pat && daemonset_patterns(pl->m, &pat, &n_pat) < 0)
                return NSC_ERR_NOMEM;
            have_pat = true;
            if (template_daemonsets(pl, gs, pat, n_pat) < 0) {
                free(pat);
                return NSC_ERR_NOMEM;
            }
        }
        for (int k = 0; k < RES_N_FIXED; k++)
            gs->free_t[k] = gs->t.node.alloc.fixed[k];
        for (size_t i = 0; i < gs->t.n_ds; i++)
            for (int k = 0; k < RES_PODS; k++)
                gs->free_t[k] = sim_sat_sub(gs->free_t[k], gs->t.ds[i]->spec->req.fixed[k]);
    }
    free(pat);
    return 0;
}

/*
 * The interned name of group g's simulated node number seq. Estimates that are reverted
 * give their numbers back, so the same few names serve every estimate of a round and are
 * interned once.
 */
static int
template_name(struct planner *pl, size_t g, bool upcoming, uint32_t seq, uint32_t *name_id)
{
    struct group_plan *gs = &pl->gst[g];
    if (!upcoming && seq < gs->cap_name_ids && gs->name_ids[seq]) {
        *name_id = gs->name_ids[seq];
        return 0;
    }
    char name[300];
    snprintf(name, sizeof(name), "%s-%s-%u", upcoming ? "upcoming" : "template-node-for",
             gs->g->id, seq);
    if (!(*name_id = intern_cstr(&pl->m->strings, name)))
        return NSC_ERR_NOMEM;
    if (upcoming)
        return 0;
    if (seq >= gs->cap_name_ids) {
        uint32_t ncap = gs->cap_name_ids ? gs->cap_name_ids : 64;
        while (ncap <= seq)
            ncap *= 2;
        uint32_t *nn = realloc(gs->name_ids, ncap * sizeof(*nn));
        if (!nn)
            return NSC_ERR_NOMEM;
        memset(nn + gs->cap_name_ids, 0, (ncap - gs->cap_name_ids) * sizeof(*nn));
        gs->name_ids = nn;
        gs->cap_name_ids = ncap;
    }
    gs->name_ids[seq] = *name_id;
    return 0;
}

/* Add one node of group g's template (with its DaemonSet pods) to the snapshot: an
 * upcoming node (being created already) or a node an estimate adds. */
static int
add_template_node(struct planner *pl, size_t g, bool upcoming, uint32_t *idx)
{
    struct group_plan *gs = &pl->gst[g];
    uint32_t name_id;
    int rc = template_name(pl, g, upcoming, gs->seq++, &name_id);
    if (rc < 0 || (rc = sim_add_template_node_id(pl->s, &gs->t.node, name_id, idx)) < 0)
        return rc;
    pl->s->nodes[*idx].tag = (int32_t)g;
    for (size_t i = 0; i < gs->t.n_ds; i++)
        if ((rc = sim_add_pod(pl->s, gs->t.ds[i], *idx)) < 0)
            return rc;
    return 0;
}

static int64_t
tmpl_cpu(const struct group_plan *gs)
{
    return gs->t.node.cap_cpu_m ? gs->t.node.cap_cpu_m : gs->t.node.alloc.fixed[RES_CPU];
}

static int64_t
tmpl_mem(const struct group_plan *gs)
{
    return gs->t.node.cap_mem ? gs->t.node.cap_mem : gs->t.node.alloc.fixed[RES_MEMORY];
}

/*
 * Nodes being created (target above the registered count) take pending pods before any
 * scale-up. Each pending pod takes at most one node, so no more upcoming nodes than there
 * are pending pods are simulated; the rest only count in the cluster totals. A target
 * outside [0, max] is reported and trusted only up to max.
 */
static int
add_upcoming(struct planner *pl)
{
    size_t n_pending = 0;
    for (size_t e = 0; e < pl->n_eq; e++)
        n_pending += pl->eq[e].n - pl->eq[e].start;
    for (size_t g = 0; g < pl->n_groups; g++) {
        struct group_plan *gs = &pl->gst[g];
        int32_t target = gs->target;
        if (target < 0 || target > gs->g->max_size) {
            log_msg(NSC_LOG_WARNING, "scaleup",
                    "group %s: target size %d is outside [0, max %d]; only up to the max is "
                    "counted as upcoming, and the group is not grown",
                    gs->g->id, target, gs->g->max_size);
            target = target < 0 ? 0 : gs->g->max_size;
        }
        int64_t up = (int64_t)target - gs->registered;
        if (up <= 0 || !gs->has_tmpl)
            continue;
        int64_t n_sim = up < (int64_t)n_pending ? up : (int64_t)n_pending;
        for (int64_t i = 0; i < n_sim; i++) {
            uint32_t idx;
            if (add_template_node(pl, g, true, &idx) < 0)
                return NSC_ERR_NOMEM;
        }
        pl->total_nodes = sim_sat_add(pl->total_nodes, up);
        pl->total_cores_m = sim_sat_add(pl->total_cores_m, sim_sat_mul(up, tmpl_cpu(gs)));
        pl->total_mem = sim_sat_add(pl->total_mem, sim_sat_mul(up, tmpl_mem(gs)));
    }
    return 0;
}

static bool
labels_equal(const struct labelset *a, const struct labelset *b)
{
    uint32_t na = a ? a->n : 0, nb = b ? b->n : 0;
    if (na != nb)
        return false;
    return na == 0 || memcmp(a->l, b->l, na * sizeof(struct label)) == 0;
}

static int
none_add(struct planner *pl, const struct model_pod *p, const char *why)
{
    struct scaleup_result *r = pl->r;
    struct scaleup_none *nn = realloc(r->none, (r->n_none + 1) * sizeof(*nn));
    if (!nn)
        return NSC_ERR_NOMEM;
    r->none = nn;
    memset(&r->none[r->n_none], 0, sizeof(*nn));
    r->none[r->n_none].pod = p;
    if (why && !(r->none[r->n_none].why = strdup(why)))
        return NSC_ERR_NOMEM;
    r->n_none++;
    return 0;
}

static int
eq_cmp(const void *a, const void *b)
{
    const struct eqgroup *x = a, *y = b;
    const struct model_pod *a0 = x->pods[0], *b0 = y->pods[0];
    int32_t px = a0->spec->priority, py = b0->spec->priority;
    if (px != py)
        return px > py ? -1 : 1;
    /* Then oldest first, then by name: a total order, so plans are reproducible. */
    if (a0->created_s != b0->created_s)
        return a0->created_s < b0->created_s ? -1 : 1;
    if (a0->ns != b0->ns)
        return a0->ns < b0->ns ? -1 : 1;
    return strcmp(a0->name, b0->name);
}

/* As cluster-autoscaler's filterOutYoungPods: a pod younger than its delay may still be
 * placed by the scheduler on its own, so it is left for a later loop. The annotation can
 * only lengthen the delay; one that does not parse is ignored, as there. */
static bool
pod_too_young(const struct planner *pl, const struct model_pod *p)
{
    int64_t delay_ms = pl->o->new_pod_delay_ms;

    if (pl->o->now_s <= 0 || p->created_s <= 0)
        return false;
    if (p->annotations && pl->k_scale_up_delay != INTERN_NONE) {
        uint32_t v = labels_get(p->annotations, pl->k_scale_up_delay);
        int64_t ms;
        if (v != INTERN_NONE &&
            config_parse_duration_ms(intern_str(&pl->m->strings, v), &ms) == 0 && ms > delay_ms)
            delay_ms = ms;
    }
    if (delay_ms <= 0)
        return false;
    int64_t age_s = pl->o->now_s - p->created_s;
    return age_s < 0 || age_s < delay_ms / 1000 + (delay_ms % 1000 != 0);
}

static int
collect_pending(struct planner *pl)
{
    struct model *m = pl->m;
    struct smap index;
    smap_init(&index);
    int rc = NSC_ERR_NOMEM;
    for (uint32_t i = 0; i < m->pods.n_slots; i++) {
        const struct model_pod *p = m->pods.slots[i];
        if (!p || p->node || p->terminating || !p->unschedulable || p->spec->gated ||
            p->phase == PHASE_SUCCEEDED || p->phase == PHASE_FAILED)
            continue;
        pl->r->n_pending++;
        if (pod_too_young(pl, p)) {
            pl->r->n_young++;
            continue;
        }
        if (p->spec->priority < pl->o->expendable_priority_cutoff) {
            char why[160];
            snprintf(
                why, sizeof(why),
                "priority %d is below the expendable cutoff %d: pods like it never cause a "
                "scale-up",
                p->spec->priority, pl->o->expendable_priority_cutoff);
            if (none_add(pl, p, why) < 0)
                goto out;
            continue;
        }
        /* Same controller, same spec (shared pointer), same labels: one simulation. Pods
         * without a controller and DaemonSet pods stay alone, as in cluster-autoscaler. */
        size_t gi = pl->n_eq;
        char key[96];
        bool groupable = p->owner_uid && !model_pod_is_daemonset(m, p);
        if (groupable) {
            uint64_t lh =
                p->labels ? intern_hash(p->labels->l, p->labels->n * sizeof(struct label)) : 0;
            snprintf(key, sizeof(key), "%u/%p/%llx", p->owner_uid, (const void *)p->spec,
                     (unsigned long long)lh);
            uint32_t found;
            if (smap_get(&index, key, &found) &&
                labels_equal(pl->eq[found].pods[0]->labels, p->labels))
                gi = found;
        }
        if (gi == pl->n_eq) {
            struct eqgroup *ne = realloc(pl->eq, (pl->n_eq + 1) * sizeof(*ne));
            if (!ne)
                goto out;
            pl->eq = ne;
            memset(&pl->eq[gi], 0, sizeof(*ne));
            pl->n_eq++;
            const struct pod_spec *ps = p->spec;
            pl->eq[gi].order_free = ps->n_aff == 0 && ps->n_spread == 0;
            if (groupable && smap_put(&index, key, (uint32_t)gi) < 0)
                goto out;
        }
        if (ptr_push(&pl->eq[gi].pods, &pl->eq[gi].n, &pl->eq[gi].cap, p) < 0)
            goto out;
    }
    /* Higher priority first, as the scheduler's queue orders them. */
    if (pl->n_eq > 1)
        qsort(pl->eq, pl->n_eq, sizeof(*pl->eq), eq_cmp);
    for (size_t i = 0; i < pl->n_eq; i++)
        if (sim_ctx_new(pl->s, pl->eq[i].pods[0], &pl->eq[i].ctx) < 0)
            goto out;
    rc = 0;
out:
    smap_free(&index);
    return rc;
}

static const char *
node_name(const struct planner *pl, uint32_t idx)
{
    return intern_str(&pl->m->strings, pl->s->nodes[idx].name_id);
}

/* Pods that fit nodes already there, or already being created, take them. */
static int
place_existing(struct planner *pl)
{
    struct sim_snapshot *s = pl->s;
    for (size_t e = 0; e < pl->n_eq; e++) {
        struct eqgroup *eq = &pl->eq[e];
        uint32_t cursor = 0;
        while (eq->start < eq->n) {
            uint32_t node = sim_find(s, eq->ctx, cursor, s->n_nodes, NULL, NULL);
            if (node == SIM_NONE)
                break; /* its twins will not fit either */
            const struct model_pod *p = eq->pods[eq->start];
            if (sim_add_pod(s, p, node) < 0)
                return NSC_ERR_NOMEM;
            struct scaleup_result *r = pl->r;
            struct scaleup_fit *nf = realloc(r->fits, (r->n_fits + 1) * sizeof(*nf));
            if (!nf)
                return NSC_ERR_NOMEM;
            r->fits = nf;
            r->fits[r->n_fits].pod = p;
            if (!(r->fits[r->n_fits].node = strdup(node_name(pl, node))))
                return NSC_ERR_NOMEM;
            r->n_fits++;
            eq->start++;
            if (eq->order_free)
                cursor = node;
        }
    }
    return 0;
}

/* Why a fresh node of each group refuses each equivalence group (once per pair). */
static int
precheck(struct planner *pl)
{
    pl->reason = calloc(pl->n_eq * pl->n_groups + 1, sizeof(*pl->reason));
    if (!pl->reason)
        return NSC_ERR_NOMEM;
    for (size_t g = 0; g < pl->n_groups; g++) {
        if (!pl->gst[g].has_tmpl)
            continue;
        uint32_t mark = sim_fork(pl->s), idx;
        if (add_template_node(pl, g, false, &idx) < 0)
            return NSC_ERR_NOMEM;
        for (size_t e = 0; e < pl->n_eq; e++) {
            if (pl->eq[e].start == pl->eq[e].n)
                continue;
            char why[300];
            if (sim_check(pl->s, pl->eq[e].ctx, idx, why, sizeof(why)) != SIM_OK &&
                !(pl->reason[e * pl->n_groups + g] = strdup(why)))
                return NSC_ERR_NOMEM;
        }
        sim_revert(pl->s, mark);
    }
    return 0;
}

/* How many nodes group g may still add now; 0 with gs->why set when none. */
static int32_t
group_cap(struct planner *pl, size_t g)
{
    struct group_plan *gs = &pl->gst[g];
    const struct scaleup_options *o = pl->o;
    if (!gs->has_tmpl)
        return 0;
    if (gs->g->target_size < 0 || gs->g->target_size > gs->g->max_size) {
        snprintf(gs->why, sizeof(gs->why),
                 "target size %d reported by the backend is outside [0, max %d]: not trusted",
                 gs->g->target_size, gs->g->max_size);
        return 0;
    }
    int64_t cap = (int64_t)gs->g->max_size - gs->target;
    if (cap <= 0) {
        snprintf(gs->why, sizeof(gs->why), "max node group size reached (%d)", gs->g->max_size);
        return 0;
    }
    if (o->max_nodes_per_scaleup > 0 && cap > o->max_nodes_per_scaleup)
        cap = o->max_nodes_per_scaleup;
    if (o->max_nodes_total > 0) {
        int64_t left = sim_sat_sub(o->max_nodes_total, pl->total_nodes);
        if (left <= 0) {
            snprintf(gs->why, sizeof(gs->why), "max-nodes-total reached (%d)",
                     o->max_nodes_total);
            return 0;
        }
        if (cap > left)
            cap = left;
    }
    if (o->cores_total_max > 0 && tmpl_cpu(gs) > 0) {
        /* A saturated total is never below a limit: nothing more is added. */
        int64_t left = sim_sat_sub(sim_sat_mul(o->cores_total_max, 1000), pl->total_cores_m) /
                       tmpl_cpu(gs);
        if (left <= 0) {
            snprintf(gs->why, sizeof(gs->why),
                     "max cluster cpu limit reached (--cores-total %lld)",
                     (long long)o->cores_total_max);
            return 0;
        }
        if (cap > left)
            cap = left;
    }
    if (o->memory_total_max_gib > 0 && tmpl_mem(gs) > 0) {
        int64_t left =
            sim_sat_sub(sim_sat_mul(o->memory_total_max_gib, 1LL << 30), pl->total_mem) /
            tmpl_mem(gs);
        if (left <= 0) {
            snprintf(gs->why, sizeof(gs->why),
                     "max cluster memory limit reached (--memory-total %lld GiB)",
                     (long long)o->memory_total_max_gib);
            return 0;
        }
        if (cap > left)
            cap = left;
    }
    gs->why[0] = 0;
    return (int32_t)cap;
}

struct estimate {
    int32_t nodes;
    size_t n_pods;
    int64_t cpu_m, mem;
    size_t *placed; /* per equivalence group */
    bool capped;
};

struct scored {
    double score;
    size_t idx;
};

static int
score_cmp(const void *a, const void *b)
{
    const struct scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int
order_for(struct planner *pl, size_t g, size_t *order)
{
    const struct model_node *t = &pl->gst[g].t.node;
    struct scored *sc_list = malloc((pl->n_eq + 1) * sizeof(*sc_list));
    if (!sc_list)
        return NSC_ERR_NOMEM;
    for (size_t e = 0; e < pl->n_eq; e++) {
        const struct res *r = &pl->eq[e].pods[0]->spec->req;
        double sc = 0;
        if (t->alloc.fixed[RES_CPU] > 0)
            sc += (double)r->fixed[RES_CPU] / (double)t->alloc.fixed[RES_CPU];
        if (t->alloc.fixed[RES_MEMORY] > 0)
            sc += (double)r->fixed[RES_MEMORY] / (double)t->alloc.fixed[RES_MEMORY];
        sc_list[e] = (struct scored){sc, e};
    }
    /* Biggest first (cluster-autoscaler's decreasing pod orderer); ties keep queue order. */
    if (pl->n_eq > 1)
        qsort(sc_list, pl->n_eq, sizeof(*sc_list), score_cmp);
    for (size_t e = 0; e < pl->n_eq; e++)
        order[e] = sc_list[e].idx;
    free(sc_list);
    return 0;
}

/*
 * First-fit decreasing onto new nodes of group g (at most cap): the biggest pods first,
 * each on the first new node that takes it, a new node when none does. With commit false
 * the snapshot is left unchanged.
 */
static int
estimate(struct planner *pl, size_t g, int32_t cap, size_t *order, struct estimate *est,
         bool commit)
{
    struct sim_snapshot *s = pl->s;
    uint32_t mark = sim_fork(s);
    uint32_t first = s->n_nodes, seq0 = pl->gst[g].seq;
    int32_t added = 0;
    est->nodes = 0;
    est->n_pods = 0;
    est->cpu_m = est->mem = 0;
    est->capped = false;
    memset(est->placed, 0, pl->n_eq * sizeof(*est->placed));
    for (size_t oi = 0; oi < pl->n_eq; oi++) {
        size_t e = order[oi];
        struct eqgroup *eq = &pl->eq[e];
        if (eq->start == eq->n || pl->reason[e * pl->n_groups + g])
            continue;
        uint32_t cursor = first;
        for (size_t k = eq->start; k < eq->n; k++) {
            uint32_t node = sim_find(s, eq->ctx, cursor, s->n_nodes, NULL, NULL);
            if (node == SIM_NONE) {
                if (added >= cap) {
                    est->capped = true;
                    break;
                }
                if (add_template_node(pl, g, false, &node) < 0)
                    return NSC_ERR_NOMEM;
                added++;
                if (sim_check(s, eq->ctx, node, NULL, 0) != SIM_OK)
                    break; /* placed pods elsewhere refuse it (e.g. affinity): stop */
            }
            const struct model_pod *p = eq->pods[k];
            if (sim_add_pod(s, p, node) < 0)
                return NSC_ERR_NOMEM;
            est->placed[e]++;
            est->n_pods++;
            est->cpu_m = sim_sat_add(est->cpu_m, p->spec->req.fixed[RES_CPU]);
            est->mem = sim_sat_add(est->mem, p->spec->req.fixed[RES_MEMORY]);
            if (eq->order_free)
                cursor = node;
        }
    }
    for (uint32_t i = first; i < s->n_nodes; i++)
        if (s->nodes[i].n_pods > pl->gst[g].t.n_ds)
            est->nodes++;
    if (!commit) {
        sim_revert(s, mark);
        pl->gst[g].seq = seq0;
    }
    return 0;
}

static int
increase_add(struct planner *pl, size_t g, int32_t new_target)
{
    struct group_plan *gs = &pl->gst[g];
    struct scaleup_result *r = pl->r;
    if (gs->inc == SIZE_MAX) {
        struct scaleup_increase *ni = realloc(r->increases, (r->n_increases + 1) * sizeof(*ni));
        if (!ni)
            return NSC_ERR_NOMEM;
        r->increases = ni;
        memset(&r->increases[r->n_increases], 0, sizeof(*ni));
        r->increases[r->n_increases].group = g;
        r->increases[r->n_increases].from = gs->g->target_size;
        gs->inc = r->n_increases++;
    }
    int32_t delta = new_target - gs->target;
    r->increases[gs->inc].to = new_target;
    pl->total_nodes = sim_sat_add(pl->total_nodes, delta);
    pl->total_cores_m = sim_sat_add(pl->total_cores_m, sim_sat_mul(delta, tmpl_cpu(gs)));
    pl->total_mem = sim_sat_add(pl->total_mem, sim_sat_mul(delta, tmpl_mem(gs)));
    gs->target = new_target;
    return 0;
}

/* Groups similar to best that can take every kind of pod the best option placed. */
static size_t
similar_groups(struct planner *pl, size_t best, const struct estimate *est, size_t *out,
               int32_t *caps)
{
    size_t n = 0;
    out[n] = best;
    caps[n++] = group_cap(pl, best);
    if (!pl->o->balance_similar)
        return n;
    const struct group_plan *b = &pl->gst[best];
    for (size_t g = 0; g < pl->n_groups; g++) {
        if (g == best || !pl->gst[g].has_tmpl)
            continue;
        if (!scaleup_similar(pl->m, &b->t.node, &pl->gst[g].t.node, b->free_t,
                             pl->gst[g].free_t, pl->o))
            continue;
        bool covers = true;
        for (size_t e = 0; e < pl->n_eq && covers; e++)
            covers = est->placed[e] == 0 || pl->reason[e * pl->n_groups + g] == NULL;
        int32_t cap = covers ? group_cap(pl, g) : 0;
        if (cap <= 0)
            continue;
        out[n] = g;
        caps[n++] = cap;
    }
    return n;
}

static int
apply_option(struct planner *pl, size_t best, struct estimate *est, size_t *order)
{
    size_t *gl = malloc(pl->n_groups * sizeof(*gl));
    int32_t *caps = malloc(pl->n_groups * sizeof(*caps));
    int32_t *cur = malloc(pl->n_groups * sizeof(*cur));
    int32_t *mx = malloc(pl->n_groups * sizeof(*mx));
    int32_t *tg = malloc(pl->n_groups * sizeof(*tg));
    int rc = NSC_ERR_NOMEM;
    if (!gl || !caps || !cur || !mx || !tg)
        goto out;
    size_t n = similar_groups(pl, best, est, gl, caps);
    if (n == 1) {
        /* Replay the estimation and keep it. */
        if ((rc = estimate(pl, best, caps[0], order, est, true)) < 0)
            goto out;
        tg[0] = pl->gst[best].target + est->nodes;
    } else {
        for (size_t i = 0; i < n; i++) {
            cur[i] = pl->gst[gl[i]].target;
            mx[i] = cur[i] + caps[i];
        }
        scaleup_balance_split(cur, mx, n, est->nodes, tg);
        uint32_t first = pl->s->n_nodes;
        for (size_t i = 0; i < n; i++)
            for (int32_t k = cur[i]; k < tg[i]; k++) {
                uint32_t idx;
                if ((rc = add_template_node(pl, gl[i], false, &idx)) < 0)
                    goto out;
            }
        for (size_t oi = 0; oi < pl->n_eq; oi++) {
            size_t e = order[oi];
            struct eqgroup *eq = &pl->eq[e];
            est->placed[e] = 0;
            for (size_t k = eq->start; k < eq->n; k++) {
                uint32_t node = sim_find(pl->s, eq->ctx, first, pl->s->n_nodes, NULL, NULL);
                if (node == SIM_NONE)
                    break;
                if ((rc = sim_add_pod(pl->s, eq->pods[k], node)) < 0)
                    goto out;
                est->placed[e]++;
            }
        }
    }
    /* Credit each placed pod to the group whose new node took it. */
    for (size_t e = 0; e < pl->n_eq; e++) {
        struct eqgroup *eq = &pl->eq[e];
        eq->start += est->placed[e];
    }
    for (size_t i = 0; i < n; i++)
        if (tg[i] > pl->gst[gl[i]].target && (rc = increase_add(pl, gl[i], tg[i])) < 0)
            goto out;
    rc = 0;
out:
    free(gl);
    free(caps);
    free(cur);
    free(mx);
    free(tg);
    return rc;
}

/* Pods on planned new nodes go to their group's increase. */
static int
collect_increase_pods(struct planner *pl, uint32_t first_pod)
{
    struct sim_snapshot *s = pl->s;
    for (uint32_t i = first_pod; i < s->n_pods; i++) {
        const struct sim_pod *sp = &s->pods[i];
        if (sp->node == SIM_NONE || sp->p->node != INTERN_NONE)
            continue; /* template DaemonSet pods are bound in the model */
        int32_t g = s->nodes[sp->node].tag;
        if (g < 0 || pl->gst[g].inc == SIZE_MAX)
            continue;
        struct scaleup_increase *inc = &pl->r->increases[pl->gst[g].inc];
        /* Capacity doubles at each power of two, so it is implied by the count. */
        if ((inc->n_pods & (inc->n_pods - 1)) == 0) {
            const struct model_pod **np =
                realloc(inc->pods, (inc->n_pods ? inc->n_pods * 2 : 1) * sizeof(*np));
            if (!np)
                return NSC_ERR_NOMEM;
            inc->pods = np;
        }
        inc->pods[inc->n_pods++] = sp->p;
    }
    return 0;
}

static int
plan_loop(struct planner *pl)
{
    struct scaleup_option *opts = malloc((pl->n_groups + 1) * sizeof(*opts));
    struct estimate *ests = calloc(pl->n_groups + 1, sizeof(*ests));
    size_t **orders = calloc(pl->n_groups + 1, sizeof(*orders));
    int rc = NSC_ERR_NOMEM;
    if (!opts || !ests || !orders)
        goto out;
    for (size_t g = 0; g < pl->n_groups; g++) {
        ests[g].placed = calloc(pl->n_eq + 1, sizeof(size_t));
        orders[g] = malloc((pl->n_eq + 1) * sizeof(size_t));
        if (!ests[g].placed || !orders[g])
            goto out;
        if (pl->gst[g].has_tmpl && (rc = order_for(pl, g, orders[g])) < 0)
            goto out;
    }
    for (;;) {
        size_t n_opts = 0;
        for (size_t g = 0; g < pl->n_groups; g++) {
            int32_t cap = group_cap(pl, g);
            if (cap <= 0)
                continue;
            if ((rc = estimate(pl, g, cap, orders[g], &ests[g], false)) < 0)
                goto out;
            if (ests[g].capped)
                snprintf(pl->gst[g].capped, sizeof(pl->gst[g].capped),
                         "the pods that fit a new node exceed the %d node(s) the group may add",
                         cap);
            if (ests[g].n_pods == 0 || ests[g].nodes == 0)
                continue;
            struct group_plan *gs = &pl->gst[g];
            opts[n_opts++] = (struct scaleup_option){
                .group = g,
                .node_count = ests[g].nodes,
                .n_pods = ests[g].n_pods,
                .pods_cpu_m = ests[g].cpu_m,
                .pods_mem = ests[g].mem,
                .node_cpu_m = tmpl_cpu(gs),
                .node_mem = tmpl_mem(gs),
                .group_id = gs->g->id,
                .group_name = gs->g->name,
            };
        }
        if (n_opts == 0)
            break;
        size_t pick = scaleup_expand_parsed(opts, n_opts, pl->o->expander, pl->prio, &pl->rng);
        size_t best = opts[pick].group;
        uint32_t first_pod = pl->s->n_pods;
        size_t before = 0, after = 0;
        for (size_t e = 0; e < pl->n_eq; e++)
            before += pl->eq[e].n - pl->eq[e].start;
        if ((rc = apply_option(pl, best, &ests[best], orders[best])) < 0)
            goto out;
        if ((rc = collect_increase_pods(pl, first_pod)) < 0)
            goto out;
        for (size_t e = 0; e < pl->n_eq; e++)
            after += pl->eq[e].n - pl->eq[e].start;
        if (after == 0 || after >= before)
            break;
    }
    rc = 0;
out:
    if (ests)
        for (size_t g = 0; g < pl->n_groups; g++)
            free(ests[g].placed);
    if (orders)
        for (size_t g = 0; g < pl->n_groups; g++)
            free(orders[g]);
    free(opts);
    free(ests);
    free(orders);
    return rc;
}

static int
report_unplaced(struct planner *pl)
{
    for (size_t e = 0; e < pl->n_eq; e++) {
        struct eqgroup *eq = &pl->eq[e];
        for (size_t k = eq->start; k < eq->n; k++) {
            if (none_add(pl, eq->pods[k], pl->n_groups ? NULL : "no node groups") < 0)
                return NSC_ERR_NOMEM;
            struct scaleup_none *nn = &pl->r->none[pl->r->n_none - 1];
            nn->reasons = calloc(pl->n_groups + 1, sizeof(*nn->reasons));
            if (!nn->reasons)
                return NSC_ERR_NOMEM;
            for (size_t g = 0; g < pl->n_groups; g++) {
                /* Group-level refusals (no template, max size, cluster limits) come first,
                 * as cluster-autoscaler filters groups before running predicates. */
                const char *why = NULL;
                if (group_cap(pl, g) <= 0)
                    why = pl->gst[g].why;
                if (!why && pl->reason[e * pl->n_groups + g])
                    why = pl->reason[e * pl->n_groups + g];
                if (!why)
                    why = pl->gst[g].capped[0]
                              ? pl->gst[g].capped
                              : "fits a new node, but no scale-up could place it";
                nn->reasons[nn->n_reasons].group = g;
                if (!(nn->reasons[nn->n_reasons].why = strdup(why)))
                    return NSC_ERR_NOMEM;
                nn->n_reasons++;
            }
        }
    }
    return 0;
}

int
scaleup_plan(struct model *m, const struct group_set *groups, const struct scaleup_options *o,
             struct scaleup_result *out, char *err, size_t err_len)
{
    struct planner pl = {.m = m, .gs = groups, .o = o, .r = out, .rng = o->random_seed};
    pl.k_scale_up_delay = intern_find(&m->strings, SCALEUP_ANN_POD_SCALE_UP_DELAY,
                                      strlen(SCALEUP_ANN_POD_SCALE_UP_DELAY));
    memset(out, 0, sizeof(*out));
    int rc = scaleup_options_check(o, err, err_len);
    if (rc < 0)
        return rc;
    /* The options check has validated the configuration, so a failure here can only be
     * memory; scaleup_expand would likewise leave the priority step out. */
    char why[256];
    if (o->priority_config && scaleup_priorities_new(o->priority_config, &pl.prio, why,
                                                     sizeof(why)) == NSC_ERR_NOMEM) {
        snprintf(err, err_len, "out of memory while planning a scale-up");
        return NSC_ERR_NOMEM;
    }
    if ((rc = setup_groups(&pl)) < 0 || (rc = sim_snapshot_new(m, &pl.s)) < 0 ||
        (rc = template_pods(&pl)) < 0 || (rc = collect_pending(&pl)) < 0 ||
        (rc = add_upcoming(&pl)) < 0 || (rc = place_existing(&pl)) < 0 ||
        (rc = precheck(&pl)) < 0 || (rc = plan_loop(&pl)) < 0 ||
        (rc = report_unplaced(&pl)) < 0) {
        if (rc == NSC_ERR_NOMEM)
            snprintf(err, err_len, "out of memory while planning a scale-up");
        scaleup_result_free(out);
    }
    for (size_t e = 0; e < pl.n_eq; e++) {
        sim_ctx_free(pl.eq[e].ctx);
        free(pl.eq[e].pods);
    }
    free(pl.eq);
    if (pl.reason)
        for (size_t i = 0; i < pl.n_eq * pl.n_groups; i++)
            free(pl.reason[i]);
    free(pl.reason);
    for (size_t g = 0; g < pl.n_groups; g++) {
        tmpl_free(&pl.gst[g].t);
        free(pl.gst[g].name_ids);
    }
    free(pl.gst);
    sim_snapshot_free(pl.s);
    scaleup_priorities_free(pl.prio);
    return rc;
}

void
scaleup_result_free(struct scaleup_result *r)
{
    for (size_t i = 0; i < r->n_fits; i++)
        free(r->fits[i].node);
    free(r->fits);
    for (size_t i = 0; i < r->n_increases; i++)
        free(r->increases[i].pods);
    free(r->increases);
    for (size_t i = 0; i < r->n_none; i++) {
        for (size_t j = 0; j < r->none[i].n_reasons; j++)
            free(r->none[i].reasons[j].why);
        free(r->none[i].reasons);
        free(r->none[i].why);
    }
    free(r->none);
    memset(r, 0, sizeof(*r));
}
