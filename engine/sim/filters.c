/* The kube-scheduler Filter plugins over the snapshot, with per-pod prepared state
 * (PreFilter) that follows the snapshot incrementally as pods and nodes are added. */
#include "sim/sim.h"
#include "sim/volumes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPREAD_MAX 32 /* constraints per pod we track eligibility for (bitmask) */

struct term_state {
    const struct affinity_term *t;
    struct u32map counts; /* topology value -> matching pods */
    int64_t total;
};

struct sym_state {
    uint32_t key;
    struct u32map vals; /* forbidden topology values -> count */
};

struct spread_state {
    const struct spread *sp;
    struct u32map counts; /* every eligible domain, with its matching pods */
    int32_t min;          /* INT32_MAX when there is no domain */
    uint32_t n_at_min;
    bool self_match;
};

/* What the context learnt from one pod or node, so that it can be taken back when a
 * revert removes that pod or node (counts are sums: entries undo in any order). */
enum clog_kind {
    CLOG_AFF,
    CLOG_AFF_TOTAL,
    CLOG_ANTI,
    CLOG_SYM,
    CLOG_SPREAD_COUNT,
    CLOG_SPREAD_DOMAIN
};

struct clog {
    uint32_t src; /* pod or node index */
    uint8_t src_is_node;
    uint8_t kind;
    uint16_t idx; /* term, sym or spread index */
    uint32_t key;
    int32_t delta;
};

struct sim_ctx {
    struct sim_snapshot *s;
    const struct model_pod *pod;
    uint64_t epoch;
    uint32_t revs_seen;
    struct clog *log;
    uint32_t n_log, cap_log;
    uint32_t cur_src; /* source of the changes being made */
    bool cur_is_node;
    uint32_t nodes_seen, pods_seen;
    bool prepared;
    bool self_aff; /* the pod matches all of its own affinity terms */
    struct term_state *aff, *anti;
    uint32_t n_aff, n_anti;
    struct sym_state *sym;
    uint32_t n_sym;
    struct spread_state *spread;
    uint32_t n_spread;
    uint32_t *elig; /* per node: bit i = counted by spread constraint i */
    uint32_t cap_elig;
    struct sim_vols vols;     /* the pod's claims, when volume checks are on */
    struct sim_plist scratch; /* pod indices being gathered (symmetry) */
};

static int
clog_push(struct sim_ctx *c, uint8_t kind, uint32_t idx, uint32_t key, int32_t delta)
{
    if (c->n_log == c->cap_log) {
        uint32_t ncap = c->cap_log ? c->cap_log * 2 : 64;
        struct clog *nl = realloc(c->log, ncap * sizeof(*nl));
        if (!nl)
            return NSC_ERR_NOMEM;
        c->log = nl;
        c->cap_log = ncap;
    }
    c->log[c->n_log++] =
        (struct clog){c->cur_src, c->cur_is_node, kind, (uint16_t)idx, key, delta};
    return 0;
}

/* Count in map m (kind/idx name it for the log). */
static int
ctx_count(struct sim_ctx *c, struct u32map *m, uint8_t kind, uint32_t idx, uint32_t key,
          int32_t delta)
{
    if (u32map_add(m, key, delta) < 0)
        return NSC_ERR_NOMEM;
    return clog_push(c, kind, idx, key, delta);
}

const char *
sim_fail_name(enum sim_fail f)
{
    static const char *const names[SIM_FAIL_N] = {
        "fits",
        "node(s) were unschedulable",
        "node(s) had untolerated taint",
        "node(s) didn't match Pod's node affinity/selector",
        "node(s) didn't have free ports for the requested pod ports",
        "Insufficient resources",
        "node(s) had volume node affinity conflict",
        "node(s) didn't match pod topology spread constraints",
        "node(s) didn't match pod affinity rules",
        "node(s) didn't match pod anti-affinity rules",
        "node(s) didn't satisfy existing pods anti-affinity rules",
        "node removed in simulation",
    };
    return (unsigned)f < SIM_FAIL_N ? names[f] : "unknown";
}

void
sim_format_amount(int kind, int64_t v, char *buf, size_t len)
{
    if (kind == RES_CPU) {
        int64_t a = v < 0 ? -v : v;
        if (a % 1000 == 0)
            snprintf(buf, len, "%" PRId64, v / 1000);
        else {
            char frac[8];
            snprintf(frac, sizeof(frac), "%03" PRId64, a % 1000);
            for (int i = 2; i > 0 && frac[i] == '0'; i--)
                frac[i] = 0;
            snprintf(buf, len, "%s%" PRId64 ".%s", v < 0 ? "-" : "", a / 1000, frac);
        }
        return;
    }
    if (kind == RES_MEMORY || kind == RES_EPHEMERAL) {
        static const char *const suf[] = {"Ei", "Pi", "Ti", "Gi", "Mi", "Ki"};
        for (int i = 0; i < 6; i++) {
            int shift = 60 - 10 * i;
            int64_t unit = (int64_t)1 << shift;
            if (v != 0 && v % unit == 0) {
                snprintf(buf, len, "%" PRId64 "%s", v / unit, suf[i]);
                return;
            }
        }
    }
    snprintf(buf, len, "%" PRId64, v);
}

/* ---- matching helpers ---- */

static bool
ns_labels_match(const struct model *m, const struct selector *sel, uint32_t ns)
{
    if (sel->n == 0)
        return true; /* {} selects every namespace */
    const struct model_ns *n = NULL;
    uint32_t slot;
    if (smap_get(&m->nss.index, intern_str(&m->strings, ns), &slot))
        n = m->nss.slots[slot];
    return n && selector_matches(&m->strings, sel, n->labels);
}

/* Does pod q match term t written in a pod of namespace owner_ns with labels owner? */
static bool
term_matches(const struct model *m, const struct affinity_term *t, uint32_t owner_ns,
             const struct labelset *owner, const struct model_pod *q)
{
    if (t->sel_null)
        return false;
    if (t->n_ns == 0 && !t->has_ns_sel) {
        if (q->ns != owner_ns)
            return false;
    } else {
        bool ok = false;
        for (uint32_t i = 0; i < t->n_ns && !ok; i++)
            ok = t->ns[i] == q->ns;
        if (!ok && t->has_ns_sel)
            ok = ns_labels_match(m, &t->ns_sel, q->ns);
        if (!ok)
            return false;
    }
    if (!selector_matches(&m->strings, &t->sel, q->labels))
        return false;
    /* matchLabelKeys / mismatchLabelKeys: the owner's values joined to the selector. */
    for (uint32_t i = 0; i < t->n_match_keys; i++) {
        uint32_t v = labels_get(owner, t->match_keys[i]);
        if (v && labels_get(q->labels, t->match_keys[i]) != v)
            return false;
    }
    for (uint32_t i = 0; i < t->n_mismatch_keys; i++) {
        uint32_t v = labels_get(owner, t->mismatch_keys[i]);
        if (v && labels_get(q->labels, t->mismatch_keys[i]) == v)
            return false;
    }
    return true;
}

static bool
spread_matches(const struct model *m, const struct spread *sp, const struct labelset *owner,
               const struct labelset *q)
{
    if (sp->sel_null || !selector_matches(&m->strings, &sp->sel, q))
        return false;
    if (!model_kube_at_least(m, MODEL_KUBE_MINOR_SPREAD_MATCH_KEYS))
        return true;
    for (uint32_t i = 0; i < sp->n_match_keys; i++) {
        uint32_t v = labels_get(owner, sp->match_keys[i]);
        if (v && labels_get(q, sp->match_keys[i]) != v)
            return false;
    }
    return true;
}

static bool
tolerates(const struct pod_spec *ps, const struct taint *t)
{
    for (uint32_t i = 0; i < ps->n_tolerations; i++) {
        const struct toleration *tol = &ps->tolerations[i];
        if (tol->effect != EFFECT_ALL && tol->effect != t->effect)
            continue;
        if (tol->key != INTERN_NONE && tol->key != t->key)
            continue;
        if (tol->exists || tol->val == t->val)
            return true;
    }
    return false;
}

/* First NoSchedule/NoExecute taint the pod does not tolerate, or NULL. */
static const struct taint *
untolerated(const struct pod_spec *ps, const struct model_node *n)
{
    for (uint32_t i = 0; i < n->n_taints; i++) {
        const struct taint *t = &n->taints[i];
        if (t->effect == EFFECT_PREFER_NO_SCHEDULE)
            continue;
        if (!tolerates(ps, t))
            return t;
    }
    return NULL;
}

static bool
node_affinity_ok(const struct model *m, const struct pod_spec *ps, const struct sim_node *n)
{
    const struct labelset *ns = ps->node_selector;
    if (ns) {
        for (uint32_t i = 0; i < ns->n; i++)
            if (labels_get(n->labels, ns->l[i].key) != ns->l[i].val)
                return false;
    }
    if (ps->node_aff &&
        !node_selector_matches(&m->strings, ps->node_aff, n->name_id, n->labels))
        return false;
    return true;
}

bool
sim_daemon_pod_fits(const struct model *m, const struct model_pod *p,
                    const struct model_node *n)
{
    const struct pod_spec *ps = p->spec;
    const struct labelset *ns = ps->node_selector;

    if (untolerated(ps, n) != NULL)
        return false;
    for (uint32_t i = 0; ns != NULL && i < ns->n; i++)
        if (labels_get(n->labels, ns->l[i].key) != ns->l[i].val)
            return false;
    if (ps->node_aff == NULL)
        return true;
    for (uint32_t t = 0; t < ps->node_aff->n_terms; t++) {
        const struct node_term *term = &ps->node_aff->terms[t];
        /* A term the controller made of the pinning field alone carries no constraint. */
        if (term->exprs.n == 0 && term->fields.n == 0)
            continue;
        if (selector_matches(&m->strings, &term->exprs, n->labels))
            return true;
    }
    return false;
}

/* ---- context ---- */

static void
ctx_clear(struct sim_ctx *c)
{
    for (uint32_t i = 0; i < c->n_aff; i++)
        u32map_free(&c->aff[i].counts);
    for (uint32_t i = 0; i < c->n_anti; i++)
        u32map_free(&c->anti[i].counts);
    for (uint32_t i = 0; i < c->n_sym; i++)
        u32map_free(&c->sym[i].vals);
    for (uint32_t i = 0; i < c->n_spread; i++)
        u32map_free(&c->spread[i].counts);
    free(c->aff);
    free(c->anti);
    free(c->sym);
    free(c->spread);
    free(c->elig);
    sim_vols_clear(&c->vols);
    free(c->log);
    c->log = NULL;
    c->n_log = c->cap_log = 0;
    c->aff = c->anti = NULL;
    c->sym = NULL;
    c->spread = NULL;
    c->elig = NULL;
    c->n_aff = c->n_anti = c->n_sym = c->n_spread = c->cap_elig = 0;
    c->prepared = false;
}

static int
sym_add(struct sim_ctx *c, uint32_t key, uint32_t val)
{
    for (uint32_t i = 0; i < c->n_sym; i++)
        if (c->sym[i].key == key)
            return ctx_count(c, &c->sym[i].vals, CLOG_SYM, i, val, 1);
    struct sym_state *ns = realloc(c->sym, (c->n_sym + 1) * sizeof(*ns));
    if (!ns)
        return NSC_ERR_NOMEM;
    c->sym = ns;
    c->sym[c->n_sym].key = key;
    u32map_init(&c->sym[c->n_sym].vals);
    c->n_sym++;
    return ctx_count(c, &c->sym[c->n_sym - 1].vals, CLOG_SYM, c->n_sym - 1, val, 1);
}

static void
spread_recompute_min(struct spread_state *st)
{
    st->min = INT32_MAX;
    st->n_at_min = 0;
    if (!st->counts.keys)
        return;
    for (uint32_t i = 0; i <= st->counts.mask; i++) {
        if (!st->counts.keys[i])
            continue;
        int32_t v = st->counts.vals[i];
        if (v < st->min) {
            st->min = v;
            st->n_at_min = 1;
        } else if (v == st->min) {
            st->n_at_min++;
        }
    }
}

/* A new eligible domain (count 0) or one more pod in a domain. */
static int
spread_bump(struct sim_ctx *c, uint32_t si, uint32_t val, int32_t delta)
{
    struct spread_state *st = &c->spread[si];
    bool had = u32map_has(&st->counts, val);
    if (had && delta == 0)
        return 0; /* a node of a domain already known */
    int32_t before = u32map_get(&st->counts, val);
    if (u32map_add(&st->counts, val, delta) < 0)
        return NSC_ERR_NOMEM;
    if (!had && clog_push(c, CLOG_SPREAD_DOMAIN, si, val, 0) < 0)
        return NSC_ERR_NOMEM;
    if (delta && clog_push(c, CLOG_SPREAD_COUNT, si, val, delta) < 0)
        return NSC_ERR_NOMEM;
    int32_t after = before + delta;
    if (!had) {
        if (after < st->min) {
            st->min = after;
            st->n_at_min = 1;
        } else if (after == st->min) {
            st->n_at_min++;
        }
    } else if (before == st->min && delta > 0) {
        if (--st->n_at_min == 0)
            spread_recompute_min(st);
    }
    return 0;
}

static int
ctx_add_node(struct sim_ctx *c, uint32_t idx)
{
    struct sim_snapshot *s = c->s;
    if (c->n_spread == 0)
        return 0;
    if (idx >= c->cap_elig) {
        uint32_t ncap = c->cap_elig ? c->cap_elig : 64;
        while (ncap <= idx)
            ncap *= 2;
        uint32_t *ne = realloc(c->elig, ncap * sizeof(*ne));
        if (!ne)
            return NSC_ERR_NOMEM;
        c->elig = ne;
        c->cap_elig = ncap;
    }
    c->elig[idx] = 0;
    const struct sim_node *n = &s->nodes[idx];
    if (n->disabled)
        return 0;
    /* Nodes lacking any constraint's key take no part in spreading. */
    for (uint32_t i = 0; i < c->n_spread; i++)
        if (!labels_get(n->labels, c->spread[i].sp->topo_key))
            return 0;
    const struct pod_spec *ps = c->pod->spec;
    /* Before the policies, the scheduler honoured node affinity and ignored taints. */
    bool policies = model_kube_at_least(s->m, MODEL_KUBE_MINOR_SPREAD_POLICIES);
    for (uint32_t i = 0; i < c->n_spread && i < SPREAD_MAX; i++) {
        const struct spread *sp = c->spread[i].sp;
        if ((sp->honor_affinity || !policies) && !node_affinity_ok(s->m, ps, n))
            continue;
        if (sp->honor_taints && policies && untolerated(ps, n->src))
            continue;
        c->elig[idx] |= 1u << i;
        c->cur_src = idx;
        c->cur_is_node = true;
        if (spread_bump(c, i, labels_get(n->labels, sp->topo_key), 0) < 0)
            return NSC_ERR_NOMEM;
    }
    return 0;
}

/* The pod at idx, when it sits on a live node; sets it as the source of what follows. */
static const struct sim_node *
ctx_src_pod(struct sim_ctx *c, uint32_t idx)
{
    const struct sim_pod *sp = &c->s->pods[idx];
    if (sp->node == SIM_NONE || c->s->nodes[sp->node].disabled)
        return NULL;
    c->cur_src = idx;
    c->cur_is_node = false;
    return &c->s->nodes[sp->node];
}

/* Affinity: a pod counts when it matches every term (kube-scheduler's affinityCounts). */
static int
ctx_pod_aff(struct sim_ctx *c, uint32_t idx)
{
    const struct sim_node *n = ctx_src_pod(c, idx);
    if (!n)
        return 0;
    const struct model *m = c->s->m;
    const struct model_pod *p = c->pod, *q = c->s->pods[idx].p;
    for (uint32_t i = 0; i < c->n_aff; i++)
        if (!term_matches(m, c->aff[i].t, p->ns, p->labels, q))
            return 0;
    for (uint32_t i = 0; i < c->n_aff; i++) {
        uint32_t v = labels_get(n->labels, c->aff[i].t->topo_key);
        if (!v)
            continue;
        if (ctx_count(c, &c->aff[i].counts, CLOG_AFF, i, v, 1) < 0 ||
            clog_push(c, CLOG_AFF_TOTAL, i, 0, 1) < 0)
            return NSC_ERR_NOMEM;
        c->aff[i].total++;
    }
    return 0;
}

static int
ctx_pod_anti(struct sim_ctx *c, uint32_t idx, uint32_t i)
{
    const struct sim_node *n = ctx_src_pod(c, idx);
    if (!n)
        return 0;
    const struct model_pod *p = c->pod, *q = c->s->pods[idx].p;
    if (!term_matches(c->s->m, c->anti[i].t, p->ns, p->labels, q))
        return 0;
    uint32_t v = labels_get(n->labels, c->anti[i].t->topo_key);
    if (v && ctx_count(c, &c->anti[i].counts, CLOG_ANTI, i, v, 1) < 0)
        return NSC_ERR_NOMEM;
    return 0;
}

/* Existing pods' anti-affinity against the context's pod (symmetry). */
static int
ctx_pod_sym(struct sim_ctx *c, uint32_t idx)
{
    const struct sim_node *n = ctx_src_pod(c, idx);
    if (!n)
        return 0;
    const struct model_pod *p = c->pod, *q = c->s->pods[idx].p;
    for (uint32_t i = 0; i < q->spec->n_anti; i++) {
        const struct affinity_term *t = &q->spec->anti[i];
        if (!term_matches(c->s->m, t, q->ns, q->labels, p))
            continue;
        uint32_t v = labels_get(n->labels, t->topo_key);
        if (v && sym_add(c, t->topo_key, v) < 0)
            return NSC_ERR_NOMEM;
    }
    return 0;
}

static int
ctx_pod_spread(struct sim_ctx *c, uint32_t idx, uint32_t i)
{
    const struct sim_node *n = ctx_src_pod(c, idx);
    if (!n || i >= SPREAD_MAX)
        return 0;
    const struct sim_pod *sp = &c->s->pods[idx];
    const struct model_pod *p = c->pod, *q = sp->p;
    if (q->ns != p->ns || q->terminating || sp->node >= c->cap_elig ||
        !(c->elig[sp->node] & (1u << i)))
        return 0;
    if (!spread_matches(c->s->m, c->spread[i].sp, p->labels, q->labels))
        return 0;
    return spread_bump(c, i, labels_get(n->labels, c->spread[i].sp->topo_key), 1);
}

/* Index of the first value >= from in v[0..n), which is sorted: pod indices are pushed
 * in increasing order and popped from the end. */
static uint32_t
sorted_lower(const uint32_t *v, uint32_t n, uint32_t from)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v[mid] < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Pods from index `from` on that may match a selector: those carrying its first
 * single-value In label, or every pod when it has none. Calls fn(c, idx, arg) for each. */
static int
ctx_each_candidate(struct sim_ctx *c, uint32_t from, const struct selector *sel, bool sel_null,
                   int (*fn)(struct sim_ctx *, uint32_t, uint32_t), uint32_t arg)
{
    if (sel_null)
        return 0; /* matches no pod */
    for (uint32_t i = 0; i < sel->n; i++) {
        if (sel->reqs[i].op != SEL_IN || sel->reqs[i].n_vals != 1)
            continue;
        const struct sim_plist *l = sim_lindex_get(
            &c->s->by_label, (uint64_t)sel->reqs[i].key << 32 | sel->reqs[i].vals[0]);
        for (uint32_t k = l ? sorted_lower(l->v, l->n, from) : 0; l && k < l->n; k++)
            if (fn(c, l->v[k], arg) < 0)
                return NSC_ERR_NOMEM;
        return 0;
    }
    for (uint32_t k = from; k < c->s->n_pods; k++)
        if (fn(c, k, arg) < 0)
            return NSC_ERR_NOMEM;
    return 0;
}

static int
u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * Symmetry for pods from index `from` on: only pods with an anti-affinity term keyed on
 * one of this pod's labels, or with a term that has no key, can forbid it. They are
 * visited in index order, each once, so the state is the one a scan of every pod builds.
 */
static int
ctx_sym_since(struct sim_ctx *c, uint32_t from)
{
    struct sim_snapshot *s = c->s;
    const struct labelset *ls = c->pod->labels;
    struct sim_plist *sc = &c->scratch;
    sc->n = 0;
    for (uint32_t i = 0; i <= (ls ? ls->n : 0); i++) {
        const struct sim_plist *l =
            i < (ls ? ls->n : 0)
                ? sim_lindex_get(&s->anti_by_label, (uint64_t)ls->l[i].key << 32 | ls->l[i].val)
                : &s->anti_generic;
        if (!l)
            continue;
        for (uint32_t k = sorted_lower(l->v, l->n, from); k < l->n; k++)
            if (sim_plist_push(sc, l->v[k]) < 0)
                return NSC_ERR_NOMEM;
    }
    if (sc->n > 1)
        qsort(sc->v, sc->n, sizeof(*sc->v), u32_cmp);
    for (uint32_t k = 0; k < sc->n; k++)
        if ((k == 0 || sc->v[k] != sc->v[k - 1]) && ctx_pod_sym(c, sc->v[k]) < 0)
            return NSC_ERR_NOMEM;
    return 0;
}

static int
aff_cb(struct sim_ctx *c, uint32_t idx, uint32_t arg)
{
    (void)arg;
    return ctx_pod_aff(c, idx);
}

static int
sym_cb(struct sim_ctx *c, uint32_t idx, uint32_t arg)
{
    (void)arg;
    return ctx_pod_sym(c, idx);
}

/* Learn the pod's own terms (affinity, anti-affinity, spread) from the pods from index
 * `from` on, through the label index. */
static int
ctx_terms_since(struct sim_ctx *c, uint32_t from)
{
    if (c->n_aff &&
        ctx_each_candidate(c, from, &c->aff[0].t->sel, c->aff[0].t->sel_null, aff_cb, 0) < 0)
        return NSC_ERR_NOMEM;
    for (uint32_t i = 0; i < c->n_anti; i++)
        if (ctx_each_candidate(c, from, &c->anti[i].t->sel, c->anti[i].t->sel_null,
                               ctx_pod_anti, i) < 0)
            return NSC_ERR_NOMEM;
    for (uint32_t i = 0; i < c->n_spread; i++)
        if (ctx_each_candidate(c, from, &c->spread[i].sp->sel, c->spread[i].sp->sel_null,
                               ctx_pod_spread, i) < 0)
            return NSC_ERR_NOMEM;
    return 0;
}

static int
ctx_prepare(struct sim_ctx *c)
{
    struct sim_snapshot *s = c->s;
    const struct model *m = s->m;
    const struct model_pod *p = c->pod;
    const struct pod_spec *ps = p->spec;
    ctx_clear(c);
    if (ps->n_aff) {
        c->aff = calloc(ps->n_aff, sizeof(*c->aff));
        if (!c->aff)
            return NSC_ERR_NOMEM;
        c->n_aff = ps->n_aff;
        c->self_aff = true;
        for (uint32_t i = 0; i < ps->n_aff; i++) {
            c->aff[i].t = &ps->aff[i];
            c->self_aff = c->self_aff && term_matches(m, &ps->aff[i], p->ns, p->labels, p);
        }
    }
    if (ps->n_anti) {
        c->anti = calloc(ps->n_anti, sizeof(*c->anti));
        if (!c->anti)
            return NSC_ERR_NOMEM;
        c->n_anti = ps->n_anti;
        for (uint32_t i = 0; i < ps->n_anti; i++)
            c->anti[i].t = &ps->anti[i];
    }
    uint32_t n_dns = 0;
    for (uint32_t i = 0; i < ps->n_spread; i++)
        n_dns += ps->spread[i].do_not_schedule;
    if (n_dns) {
        c->spread = calloc(n_dns, sizeof(*c->spread));
        if (!c->spread)
            return NSC_ERR_NOMEM;
        for (uint32_t i = 0; i < ps->n_spread; i++) {
            if (!ps->spread[i].do_not_schedule)
                continue;
            struct spread_state *st = &c->spread[c->n_spread++];
            st->sp = &ps->spread[i];
            st->min = INT32_MAX;
            st->self_match = spread_matches(m, st->sp, p->labels, p->labels);
        }
    }
    if (s->has_pvcs && sim_vols_prepare(s, p, &c->vols) < 0)
        return NSC_ERR_NOMEM;
    for (uint32_t i = 0; i < s->n_nodes; i++)
        if (ctx_add_node(c, i) < 0)
            return NSC_ERR_NOMEM;
    if (ctx_terms_since(c, 0) < 0)
        return NSC_ERR_NOMEM;
    /* Symmetry: only pods whose anti-affinity term keys on one of this pod's labels. */
    for (uint32_t i = 0; p->labels && i < p->labels->n; i++) {
        const struct sim_plist *l = sim_lindex_get(
            &s->anti_by_label, (uint64_t)p->labels->l[i].key << 32 | p->labels->l[i].val);
        for (uint32_t k = 0; l && k < l->n; k++)
            if (sym_cb(c, l->v[k], 0) < 0)
                return NSC_ERR_NOMEM;
    }
    for (uint32_t k = 0; k < s->anti_generic.n; k++)
        if (sym_cb(c, s->anti_generic.v[k], 0) < 0)
            return NSC_ERR_NOMEM;
    c->nodes_seen = s->n_nodes;
    c->pods_seen = s->n_pods;
    c->epoch = s->epoch;
    c->revs_seen = s->n_revs;
    c->prepared = true;
    return 0;
}

/* Take back what pods >= low_pods and nodes >= low_nodes taught the context. */
static void
ctx_rewind(struct sim_ctx *c, uint32_t low_pods, uint32_t low_nodes)
{
    uint32_t dirty = 0; /* spread constraints whose minimum must be recomputed */
    uint32_t k = 0;
    /* Newest first, so a domain's counts go before the domain itself. */
    for (uint32_t i = c->n_log; i-- > 0;) {
        struct clog *e = &c->log[i];
        if (e->src < (e->src_is_node ? low_nodes : low_pods))
            continue;
        switch (e->kind) {
        case CLOG_AFF:
            u32map_add(&c->aff[e->idx].counts, e->key, -e->delta);
            break;
        case CLOG_AFF_TOTAL:
            c->aff[e->idx].total -= e->delta;
            break;
        case CLOG_ANTI:
            u32map_add(&c->anti[e->idx].counts, e->key, -e->delta);
            break;
        case CLOG_SYM:
            u32map_add(&c->sym[e->idx].vals, e->key, -e->delta);
            break;
        case CLOG_SPREAD_COUNT:
            u32map_add(&c->spread[e->idx].counts, e->key, -e->delta);
            dirty |= 1u << (e->idx % 32);
            break;
        case CLOG_SPREAD_DOMAIN:
            u32map_del(&c->spread[e->idx].counts, e->key);
            dirty |= 1u << (e->idx % 32);
            break;
        }
        e->kind = 0xff; /* undone */
    }
    for (uint32_t i = 0; i < c->n_log; i++)
        if (c->log[i].kind != 0xff)
            c->log[k++] = c->log[i];
    c->n_log = k;
    for (uint32_t i = 0; i < c->n_spread; i++)
        if (dirty & (1u << (i % 32)))
            spread_recompute_min(&c->spread[i]);
    if (c->pods_seen > low_pods)
        c->pods_seen = low_pods;
    if (c->nodes_seen > low_nodes)
        c->nodes_seen = low_nodes;
}

static int
ctx_sync(struct sim_ctx *c)
{
    struct sim_snapshot *s = c->s;
    if (!c->prepared || c->epoch != s->epoch)
        return ctx_prepare(c);
    if (c->revs_seen != s->n_revs) {
        uint32_t low_p = c->pods_seen, low_n = c->nodes_seen;
        for (uint32_t r = c->revs_seen; r < s->n_revs; r++) {
            if (s->rev_pods[r] < low_p)
                low_p = s->rev_pods[r];
            if (s->rev_nodes[r] < low_n)
                low_n = s->rev_nodes[r];
        }
        c->revs_seen = s->n_revs;
        if (low_p < c->pods_seen || low_n < c->nodes_seen)
            ctx_rewind(c, low_p, low_n);
    }
    for (uint32_t i = c->nodes_seen; i < s->n_nodes; i++)
        if (ctx_add_node(c, i) < 0)
            return NSC_ERR_NOMEM;
    c->nodes_seen = s->n_nodes;
    if (c->pods_seen < s->n_pods &&
        (ctx_terms_since(c, c->pods_seen) < 0 || ctx_sym_since(c, c->pods_seen) < 0))
        return NSC_ERR_NOMEM;
    c->pods_seen = s->n_pods;
    return 0;
}

int
sim_ctx_new(struct sim_snapshot *s, const struct model_pod *pod, struct sim_ctx **out)
{
    struct sim_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return NSC_ERR_NOMEM;
    c->s = s;
    c->pod = pod;
    *out = c;
    return 0;
}

void
sim_ctx_free(struct sim_ctx *c)
{
    if (!c)
        return;
    ctx_clear(c);
    free(c->scratch.v);
    free(c);
}

const struct model_pod *
sim_ctx_pod(const struct sim_ctx *c)
{
    return c->pod;
}

/* ---- filters ---- */

#define WHY(...)                                                                               \
    do {                                                                                       \
        if (why)                                                                               \
            snprintf(why, why_len, __VA_ARGS__);                                               \
    } while (0)

static int
check_resources(const struct sim_snapshot *s, const struct pod_spec *ps,
                const struct sim_node *n, char *why, size_t why_len)
{
    static const char *const names[RES_N_FIXED] = {"cpu", "memory", "ephemeral-storage",
                                                   "pods"};
    const struct res *a = &n->src->alloc;
    if (n->used[RES_PODS] + 1 > a->fixed[RES_PODS]) {
        WHY("Too many pods: %" PRId64 " of %" PRId64 " allocatable", n->used[RES_PODS],
            a->fixed[RES_PODS]);
        return SIM_FAIL_RESOURCES;
    }
    for (int k = 0; k < RES_PODS; k++) {
        int64_t r = ps->req.fixed[k];
        if (r > 0 && r > a->fixed[k] - n->used[k]) {
            if (why) {
                char rq[32], fr[32];
                sim_format_amount(k, r, rq, sizeof(rq));
                sim_format_amount(k, a->fixed[k] - n->used[k], fr, sizeof(fr));
                WHY("Insufficient %s: requests %s, free %s", names[k], rq, fr);
            }
            return SIM_FAIL_RESOURCES;
        }
    }
    for (uint32_t i = 0, j = 0; i < ps->req.n_ext; i++) {
        int64_t r = ps->req.ext[i].val;
        if (r <= 0)
            continue;
        while (j < a->n_ext && a->ext[j].name < ps->req.ext[i].name)
            j++;
        int64_t free_v = 0;
        if (j < a->n_ext && a->ext[j].name == ps->req.ext[i].name)
            free_v = a->ext[j].val - n->used_ext[j];
        if (r > free_v) {
            WHY("Insufficient %s: requests %" PRId64 ", free %" PRId64,
                intern_str(&s->m->strings, ps->req.ext[i].name), r, free_v);
            return SIM_FAIL_RESOURCES;
        }
    }
    return SIM_OK;
}

static bool
ports_conflict(const struct host_port *a, const struct host_port *b, uint32_t zero)
{
    return a->port == b->port && a->proto == b->proto &&
           (a->ip == b->ip || a->ip == zero || b->ip == zero);
}

static int
check_ports(const struct sim_snapshot *s, const struct pod_spec *ps, const struct sim_node *n,
            char *why, size_t why_len)
{
    static const char *const protos[] = {"TCP", "UDP", "SCTP"};
    if (!ps->n_ports || !n->n_port_pods)
        return SIM_OK;
    for (uint32_t i = 0; i < n->n_pods; i++) {
        const struct pod_spec *qs = s->pods[n->pods[i]].p->spec;
        for (uint32_t a = 0; a < ps->n_ports; a++)
            for (uint32_t b = 0; b < qs->n_ports; b++)
                if (ports_conflict(&ps->ports[a], &qs->ports[b], s->m->s_zero_ip)) {
                    WHY("node(s) didn't have free ports for the requested pod ports: %s/%u in "
                        "use",
                        protos[ps->ports[a].proto], ps->ports[a].port);
                    return SIM_FAIL_PORTS;
                }
    }
    return SIM_OK;
}

static int
check_spread(const struct sim_snapshot *s, const struct sim_ctx *c, const struct sim_node *n,
             char *why, size_t why_len)
{
    for (uint32_t i = 0; i < c->n_spread; i++) {
        const struct spread_state *st = &c->spread[i];
        uint32_t v = labels_get(n->labels, st->sp->topo_key);
        if (!v) {
            WHY("node(s) didn't match pod topology spread constraints (missing required label "
                "%s)",
                intern_str(&s->m->strings, st->sp->topo_key));
            return SIM_FAIL_SPREAD;
        }
        int64_t min = st->min;
        if (st->sp->min_domains > 0 && st->counts.n < (uint32_t)st->sp->min_domains &&
            model_kube_at_least(s->m, MODEL_KUBE_MINOR_SPREAD_MIN_DOMAINS))
            min = 0;
        int64_t skew = (int64_t)u32map_get(&st->counts, v) + st->self_match - min;
        if (skew > st->sp->max_skew) {
            WHY("node(s) didn't match pod topology spread constraints (%s=%s: skew %" PRId64
                " > maxSkew %d)",
                intern_str(&s->m->strings, st->sp->topo_key), intern_str(&s->m->strings, v),
                skew, st->sp->max_skew);
            return SIM_FAIL_SPREAD;
        }
    }
    return SIM_OK;
}

static int
check_interpod(const struct sim_snapshot *s, const struct sim_ctx *c, const struct sim_node *n,
               char *why, size_t why_len)
{
    const struct model *m = s->m;
    if (c->n_aff) {
        bool exist = true;
        for (uint32_t i = 0; i < c->n_aff; i++) {
            uint32_t v = labels_get(n->labels, c->aff[i].t->topo_key);
            if (!v) {
                WHY("node(s) didn't match pod affinity rules (no label %s)",
                    intern_str(&m->strings, c->aff[i].t->topo_key));
                return SIM_FAIL_AFFINITY;
            }
            if (u32map_get(&c->aff[i].counts, v) <= 0)
                exist = false;
        }
        if (!exist) {
            bool any = false;
            for (uint32_t i = 0; i < c->n_aff && !any; i++)
                any = c->aff[i].total > 0;
            /* The first pod of a group with affinity to itself may go anywhere. */
            if (any || !c->self_aff) {
                WHY("node(s) didn't match pod affinity rules");
                return SIM_FAIL_AFFINITY;
            }
        }
    }
    for (uint32_t i = 0; i < c->n_anti; i++) {
        uint32_t v = labels_get(n->labels, c->anti[i].t->topo_key);
        if (v && u32map_get(&c->anti[i].counts, v) > 0) {
            WHY("node(s) didn't match pod anti-affinity rules (%s=%s)",
                intern_str(&m->strings, c->anti[i].t->topo_key), intern_str(&m->strings, v));
            return SIM_FAIL_ANTI_AFFINITY;
        }
    }
    for (uint32_t i = 0; i < c->n_sym; i++) {
        uint32_t v = labels_get(n->labels, c->sym[i].key);
        if (v && u32map_get(&c->sym[i].vals, v) > 0) {
            WHY("node(s) didn't satisfy existing pods anti-affinity rules (%s=%s)",
                intern_str(&m->strings, c->sym[i].key), intern_str(&m->strings, v));
            return SIM_FAIL_EXISTING_ANTI;
        }
    }
    return SIM_OK;
}

static int
check_node(struct sim_snapshot *s, struct sim_ctx *c, uint32_t node, char *why, size_t why_len)
{
    const struct sim_node *n = &s->nodes[node];
    const struct model *m = s->m;
    const struct pod_spec *ps = c->pod->spec;
    if (n->disabled) {
        WHY("node removed in simulation");
        return SIM_FAIL_DISABLED;
    }
    /* VolumeBinding's PreFilter refused the pod: no Filter runs, on any node. */
    if (c->vols.fail[0]) {
        WHY("%s", c->vols.fail);
        return SIM_FAIL_VOLUME;
    }
    if (n->src->unschedulable) {
        struct taint t = {m->s_unschedulable_taint, INTERN_NONE, EFFECT_NO_SCHEDULE};
        if (!tolerates(ps, &t)) {
            WHY("node(s) were unschedulable");
            return SIM_FAIL_UNSCHEDULABLE;
        }
    }
    const struct taint *t = untolerated(ps, n->src);
    if (t) {
        WHY("node(s) had untolerated taint {%s: %s}", intern_str(&m->strings, t->key),
            intern_str(&m->strings, t->val));
        return SIM_FAIL_TAINT;
    }
    if (!node_affinity_ok(m, ps, n)) {
        WHY("node(s) didn't match Pod's node affinity/selector");
        return SIM_FAIL_NODE_AFFINITY;
    }
    int rc;
    if ((rc = check_ports(s, ps, n, why, why_len)) != SIM_OK)
        return rc;
    if ((rc = check_resources(s, ps, n, why, why_len)) != SIM_OK)
        return rc;
    if ((rc = sim_vols_check(s, &c->vols, c->pod, n, why, why_len)) != SIM_OK)
        return rc;
    if ((rc = check_spread(s, c, n, why, why_len)) != SIM_OK)
        return rc;
    return check_interpod(s, c, n, why, why_len);
}

int
sim_check(struct sim_snapshot *s, struct sim_ctx *c, uint32_t node, char *why, size_t why_len)
{
    if (node >= s->n_nodes) {
        WHY("no such node");
        return SIM_FAIL_DISABLED;
    }
    if (ctx_sync(c) < 0) {
        WHY("out of memory");
        return SIM_FAIL_DISABLED;
    }
    return check_node(s, c, node, why, why_len);
}

uint32_t
sim_find(struct sim_snapshot *s, struct sim_ctx *c, uint32_t from, uint32_t to,
         sim_node_ok_fn *ok, void *arg)
{
    if (to > s->n_nodes)
        to = s->n_nodes;
    /* Resources are one of the filters: nodes without room for the requests are skipped
     * through the free-capacity index, and the context syncs only once a node has room. */
    const struct res *r = &c->pod->spec->req;
    const struct sim_free need = {
        r->fixed[RES_CPU] > 0 ? r->fixed[RES_CPU] : INT64_MIN,
        r->fixed[RES_MEMORY] > 0 ? r->fixed[RES_MEMORY] : INT64_MIN,
        1,
    };
    bool synced = false;
    for (uint32_t i = sim_next_with_room(s, from, to, &need); i != SIM_NONE && i < to;
         i = sim_next_with_room(s, i + 1, to, &need)) {
        if (ok && !ok(s, i, arg))
            continue;
        if (!synced) {
            if (ctx_sync(c) < 0)
                return SIM_NONE;
            synced = true;
        }
        if (check_node(s, c, i, NULL, 0) == SIM_OK)
            return i;
    }
    return SIM_NONE;
}
