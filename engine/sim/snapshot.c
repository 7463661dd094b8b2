/* The simulation snapshot: dense nodes and pods with per-node aggregates, and an undo
 * log that makes fork O(1) and revert proportional to the changes undone. */
#include "sim/sim.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum undo_op { UNDO_ADD_NODE, UNDO_ADD_POD, UNDO_REMOVE_POD, UNDO_DISABLE_NODE };

struct sim_undo {
    uint8_t op;
    uint32_t a; /* node or pod index */
    uint32_t b; /* ADD_POD: whether it was pushed on anti_pods; REMOVE_POD: its node */
};

static int
undo_push(struct sim_snapshot *s, uint8_t op, uint32_t a, uint32_t b)
{
    if (s->n_undo == s->cap_undo) {
        uint32_t ncap = s->cap_undo ? s->cap_undo * 2 : 256;
        struct sim_undo *nu = realloc(s->undo, ncap * sizeof(*nu));
        if (!nu)
            return NSC_ERR_NOMEM;
        s->undo = nu;
        s->cap_undo = ncap;
    }
    s->undo[s->n_undo++] = (struct sim_undo){op, a, b};
    return 0;
}

static int
grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    uint32_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*arr, (size_t)ncap * elem);
    if (!n)
        return NSC_ERR_NOMEM;
    *arr = n;
    *cap = ncap;
    return 0;
}

/* ---- label index ---- */

/* Keys are two interned ids: a multiply and a fold spread them well enough, at a fraction
 * of a byte-wise hash's cost (every pod added to a simulation indexes each label). */
static uint32_t
lkey_hash(uint64_t key)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

const struct sim_plist *
sim_lindex_get(const struct sim_lindex *x, uint64_t key)
{
    if (!x->keys)
        return NULL;
    uint32_t i = lkey_hash(key) & x->mask;
    while (x->keys[i]) {
        if (x->keys[i] == key)
            return &x->lists[x->slot[i]];
        i = (i + 1) & x->mask;
    }
    return NULL;
}

int
sim_plist_push(struct sim_plist *l, uint32_t v)
{
    if (l->n == l->cap) {
        uint32_t ncap = l->cap ? l->cap * 2 : 4;
        uint32_t *nv = realloc(l->v, ncap * sizeof(*nv));
        if (!nv)
            return NSC_ERR_NOMEM;
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = v;
    return 0;
}

/* The list of key through the memo of recent keys (pods simulated one after another
 * mostly share their labels), or NULL when the memo does not know it. */
static struct sim_plist *
lindex_memo(struct sim_lindex *x, uint64_t key)
{
    uint32_t h = lkey_hash(key) % SIM_LINDEX_MEMO;
    return x->memo_key[h] == key ? &x->lists[x->memo_slot[h]] : NULL;
}

static void
lindex_memo_set(struct sim_lindex *x, uint64_t key, uint32_t slot)
{
    uint32_t h = lkey_hash(key) % SIM_LINDEX_MEMO;
    x->memo_key[h] = key;
    x->memo_slot[h] = slot;
}

static int
lindex_push(struct sim_lindex *x, uint64_t key, uint32_t v)
{
    struct sim_plist *ml = lindex_memo(x, key);
    if (ml)
        return sim_plist_push(ml, v);
    if (!x->keys || (uint64_t)(x->n + 1) * 2 > (uint64_t)x->mask + 1) {
        uint32_t ncap = x->keys ? (x->mask + 1) * 2 : 1024;
        uint64_t *nk = calloc(ncap, sizeof(*nk));
        uint32_t *ns = calloc(ncap, sizeof(*ns));
        if (!nk || !ns) {
            free(nk);
            free(ns);
            return NSC_ERR_NOMEM;
        }
        for (uint32_t i = 0; x->keys && i <= x->mask; i++) {
            if (!x->keys[i])
                continue;
            uint32_t j = lkey_hash(x->keys[i]) & (ncap - 1);
            while (nk[j])
                j = (j + 1) & (ncap - 1);
            nk[j] = x->keys[i];
            ns[j] = x->slot[i];
        }
        free(x->keys);
        free(x->slot);
        x->keys = nk;
        x->slot = ns;
        x->mask = ncap - 1;
    }
    uint32_t i = lkey_hash(key) & x->mask;
    while (x->keys[i] && x->keys[i] != key)
        i = (i + 1) & x->mask;
    if (!x->keys[i]) {
        if (x->n_lists == x->cap_lists) {
            uint32_t ncap = x->cap_lists ? x->cap_lists * 2 : 256;
            struct sim_plist *nl = realloc(x->lists, ncap * sizeof(*nl));
            if (!nl)
                return NSC_ERR_NOMEM;
            x->lists = nl;
            x->cap_lists = ncap;
        }
        memset(&x->lists[x->n_lists], 0, sizeof(*x->lists));
        x->keys[i] = key;
        x->slot[i] = x->n_lists++;
        x->n++;
    }
    lindex_memo_set(x, key, x->slot[i]);
    return sim_plist_push(&x->lists[x->slot[i]], v);
}

/* Drop v from the end of key's list (it was the last pushed: undo is LIFO). */
static void
lindex_pop(struct sim_lindex *x, uint64_t key, uint32_t v)
{
    struct sim_plist *l = lindex_memo(x, key);
    if (!l)
        l = (struct sim_plist *)(uintptr_t)sim_lindex_get(x, key);
    if (l && l->n && l->v[l->n - 1] == v)
        l->n--;
}

static void
lindex_free(struct sim_lindex *x)
{
    for (uint32_t i = 0; i < x->n_lists; i++)
        free(x->lists[i].v);
    free(x->lists);
    free(x->keys);
    free(x->slot);
    memset(x, 0, sizeof(*x));
}

/* The key of an anti-affinity term in anti_by_label, 0 when it has none. */
static uint64_t
anti_key(const struct affinity_term *t)
{
    if (t->sel_null)
        return 0;
    for (uint32_t i = 0; i < t->sel.n; i++)
        if (t->sel.reqs[i].op == SEL_IN && t->sel.reqs[i].n_vals == 1)
            return (uint64_t)t->sel.reqs[i].key << 32 | t->sel.reqs[i].vals[0];
    return 0;
}

static int
index_pod(struct sim_snapshot *s, const struct model_pod *p, uint32_t idx)
{
    for (uint32_t i = 0; p->labels && i < p->labels->n; i++)
        if (lindex_push(&s->by_label, (uint64_t)p->labels->l[i].key << 32 | p->labels->l[i].val,
                        idx) < 0)
            return NSC_ERR_NOMEM;
    bool generic = false;
    for (uint32_t i = 0; i < p->spec->n_anti; i++) {
        uint64_t k = anti_key(&p->spec->anti[i]);
        if (!k)
            generic = true;
        else if (lindex_push(&s->anti_by_label, k, idx) < 0)
            return NSC_ERR_NOMEM;
    }
    if (generic && sim_plist_push(&s->anti_generic, idx) < 0)
        return NSC_ERR_NOMEM;
    return 0;
}

static void
unindex_pod(struct sim_snapshot *s, const struct model_pod *p, uint32_t idx)
{
    bool generic = false;
    for (uint32_t i = p->spec->n_anti; i-- > 0;) {
        uint64_t k = anti_key(&p->spec->anti[i]);
        if (!k)
            generic = true;
        else
            lindex_pop(&s->anti_by_label, k, idx);
    }
    if (generic && s->anti_generic.n && s->anti_generic.v[s->anti_generic.n - 1] == idx)
        s->anti_generic.n--;
    for (uint32_t i = p->labels ? p->labels->n : 0; i-- > 0;)
        lindex_pop(&s->by_label, (uint64_t)p->labels->l[i].key << 32 | p->labels->l[i].val,
                   idx);
}

/* ---- free-capacity tree ---- */

/* What a node has left; nothing at all for nodes out of the simulation, so that a search
 * never stops there. */
static struct sim_free
free_of(const struct sim_snapshot *s, uint32_t i)
{
    if (i >= s->n_nodes || s->nodes[i].disabled)
        return (struct sim_free){INT64_MIN, INT64_MIN, INT64_MIN};
    const struct sim_node *n = &s->nodes[i];
    const int64_t *a = n->src->alloc.fixed;
    return (struct sim_free){a[RES_CPU] - n->used[RES_CPU], a[RES_MEMORY] - n->used[RES_MEMORY],
                             a[RES_PODS] - n->used[RES_PODS]};
}

static struct sim_free
free_max(struct sim_free a, struct sim_free b)
{
    return (struct sim_free){a.cpu > b.cpu ? a.cpu : b.cpu, a.mem > b.mem ? a.mem : b.mem,
                             a.pods > b.pods ? a.pods : b.pods};
}

/* (Re)build the tree for at least need leaves; on failure searches scan every node. */
static void
ftree_build(struct sim_snapshot *s, uint32_t need)
{
    uint32_t size = 64;
    while (size < need)
        size *= 2;
    struct sim_free *ft = malloc(2 * (size_t)size * sizeof(*ft));
    free(s->ft);
    s->ft = ft;
    s->ft_size = ft ? size : 0;
    if (!ft)
        return;
    for (uint32_t i = 0; i < size; i++)
        ft[size + i] = free_of(s, i);
    for (uint32_t i = size; i-- > 1;)
        ft[i] = free_max(ft[2 * i], ft[2 * i + 1]);
}

/* Node i changed (pods, disabled, added or dropped): refresh its leaf and the maxima. */
static void
ftree_touch(struct sim_snapshot *s, uint32_t i)
{
    if (!s->ft_on)
        return;
    if (i >= s->ft_size) {
        ftree_build(s, i + 1);
        s->ft_on = s->ft != NULL;
        return;
    }
    struct sim_free *ft = s->ft;
    uint32_t k = s->ft_size + i;
    ft[k] = free_of(s, i);
    for (k /= 2; k >= 1; k /= 2) {
        struct sim_free m = free_max(ft[2 * k], ft[2 * k + 1]);
        if (m.cpu == ft[k].cpu && m.mem == ft[k].mem && m.pods == ft[k].pods)
            break;
        ft[k] = m;
    }
}

static bool
free_enough(const struct sim_free *f, const struct sim_free *need)
{
    return f->cpu >= need->cpu && f->mem >= need->mem && f->pods >= need->pods;
}

/* First leaf in [from, to) of subtree k (covering [lo, lo + len)) with enough room. */
static uint32_t
ftree_first(const struct sim_snapshot *s, uint32_t k, uint32_t lo, uint32_t len, uint32_t from,
            uint32_t to, const struct sim_free *need)
{
    if (lo >= to || lo + len <= from || !free_enough(&s->ft[k], need))
        return SIM_NONE;
    if (len == 1)
        return lo;
    uint32_t half = len / 2;
    uint32_t r = ftree_first(s, 2 * k, lo, half, from, to, need);
    return r != SIM_NONE ? r : ftree_first(s, 2 * k + 1, lo + half, half, from, to, need);
}

uint32_t
sim_next_with_room(const struct sim_snapshot *s, uint32_t from, uint32_t to,
                   const struct sim_free *need)
{
    if (to > s->n_nodes)
        to = s->n_nodes;
    if (from >= to)
        return SIM_NONE;
    if (!s->ft_on)
        return from;
    return ftree_first(s, 1, 0, s->ft_size, from, to, need);
}

static int
node_init(struct sim_snapshot *s, const struct model_node *src, uint32_t name_id,
          struct labelset *own, uint32_t *idx)
{
    if (grow((void **)&s->nodes, &s->cap_nodes, s->n_nodes + 1, sizeof(*s->nodes)) < 0)
        return NSC_ERR_NOMEM;
    struct sim_node *n = &s->nodes[s->n_nodes];
    memset(n, 0, sizeof(*n));
    n->src = src;
    n->name_id = name_id;
    n->own_labels = own;
    n->labels = own ? own : src->labels;
    n->tag = -1;
    if (src->alloc.n_ext) {
        n->used_ext = calloc(src->alloc.n_ext, sizeof(*n->used_ext));
        n->used_ext_sum = calloc(src->alloc.n_ext, sizeof(*n->used_ext_sum));
        if (!n->used_ext || !n->used_ext_sum) {
            free(n->used_ext);
            free(n->used_ext_sum);
            n->used_ext = NULL;
            n->used_ext_sum = NULL;
            return NSC_ERR_NOMEM;
        }
    }
    *idx = s->n_nodes++;
    ftree_touch(s, *idx);
    return 0;
}

static void
node_release(struct sim_node *n)
{
    free(n->own_labels);
    free(n->used_ext);
    free(n->used_ext_sum);
    free(n->pods);
}

/*
 * Add (sign 1) or take back (sign -1) one request v >= 0 (the model refuses negative
 * quantities) and return the sum saturated at INT64_MAX. Pods the API server bound are
 * summed unchecked, so a few huge requests can pass the int64 range; the exact sum lets a
 * revert come back to where it was.
 */
static int64_t
sum_account(struct sim_sum *sum, int64_t v, int sign)
{
    if (v < 0)
        v = 0;
    if (sign > 0) {
        if (sum->lo > INT64_MAX - v) {
            sum->lo -= INT64_MAX - v;
            sum->over++;
        } else {
            sum->lo += v;
        }
    } else if (sum->lo < v) {
        sum->lo += INT64_MAX - v;
        sum->over--;
    } else {
        sum->lo -= v;
    }
    return sum->over ? INT64_MAX : sum->lo;
}

/* Add or subtract a pod's request to its node's aggregates. */
static void
node_account(struct sim_snapshot *s, struct sim_node *n, const struct model_pod *p, int sign)
{
    const struct res *r = &p->spec->req;
    for (int k = 0; k < RES_PODS; k++)
        n->used[k] = sum_account(&n->used_sum[k], r->fixed[k], sign);
    n->used[RES_PODS] += sign;
    const struct res *a = &n->src->alloc;
    for (uint32_t i = 0, j = 0; i < r->n_ext && j < a->n_ext;) {
        if (r->ext[i].name == a->ext[j].name) {
            n->used_ext[j] = sum_account(&n->used_ext_sum[j], r->ext[i].val, sign);
            i++;
            j++;
        } else if (r->ext[i].name < a->ext[j].name) {
            i++;
        } else {
            j++;
        }
    }
    if (p->spec->n_ports)
        n->n_port_pods += (uint32_t)sign;
    ftree_touch(s, (uint32_t)(n - s->nodes));
}

static int
node_link(struct sim_snapshot *s, struct sim_node *n, uint32_t pod_idx,
          const struct model_pod *p)
{
    if (grow((void **)&n->pods, &n->cap_pods, n->n_pods + 1, sizeof(*n->pods)) < 0)
        return NSC_ERR_NOMEM;
    n->pods[n->n_pods++] = pod_idx;
    node_account(s, n, p, 1);
    return 0;
}

static void
node_unlink(struct sim_snapshot *s, struct sim_node *n, uint32_t pod_idx,
            const struct model_pod *p)
{
    /* The pod is usually the last one added: scan from the end. */
    for (uint32_t i = n->n_pods; i-- > 0;) {
        if (n->pods[i] == pod_idx) {
            n->pods[i] = n->pods[--n->n_pods];
            break;
        }
    }
    node_account(s, n, p, -1);
}

static int
pod_append(struct sim_snapshot *s, const struct model_pod *p, uint32_t node, uint32_t *anti)
{
    if (grow((void **)&s->pods, &s->cap_pods, s->n_pods + 1, sizeof(*s->pods)) < 0)
        return NSC_ERR_NOMEM;
    uint32_t idx = s->n_pods;
    if (node_link(s, &s->nodes[node], idx, p) < 0)
        return NSC_ERR_NOMEM;
    s->pods[idx] = (struct sim_pod){p, node};
    s->n_pods++;
    *anti = 0;
    if (index_pod(s, p, idx) < 0) {
        unindex_pod(s, p, idx);
        node_unlink(s, &s->nodes[node], idx, p);
        s->n_pods--;
        return NSC_ERR_NOMEM;
    }
    if (p->spec->n_anti) {
        if (grow((void **)&s->anti_pods, &s->cap_anti_pods, s->n_anti_pods + 1,
                 sizeof(*s->anti_pods)) < 0) {
            unindex_pod(s, p, idx);
            node_unlink(s, &s->nodes[node], idx, p);
            s->n_pods--;
            return NSC_ERR_NOMEM;
        }
        s->anti_pods[s->n_anti_pods++] = idx;
        *anti = 1;
    }
    return 0;
}

int
sim_snapshot_new(struct model *m, struct sim_snapshot **out)
{
    struct sim_snapshot *s = calloc(1, sizeof(*s));
    if (!s)
        return NSC_ERR_NOMEM;
    s->m = m;
    s->has_pvcs = m->pvcs.n_live > 0;
    smap_init(&s->node_index);
    /* Pods name their node by interned id: look it up by id (index + 1), not by string. */
    struct u32map by_id;
    u32map_init(&by_id);
    for (uint32_t i = 0; i < m->nodes.n_slots; i++) {
        const struct model_node *mn = m->nodes.slots[i];
        uint32_t idx;
        if (!mn)
            continue;
        if (node_init(s, mn, mn->name_id, NULL, &idx) < 0 ||
            smap_put(&s->node_index, mn->name, idx) < 0 ||
            u32map_add(&by_id, mn->name_id,
                       (int32_t)idx + 1 - u32map_get(&by_id, mn->name_id)) < 0)
            goto nomem;
    }
    if (grow((void **)&s->pods, &s->cap_pods, m->pods.n_slots, sizeof(*s->pods)) < 0)
        goto nomem;
    for (uint32_t i = 0; i < m->pods.n_slots; i++) {
        const struct model_pod *p = m->pods.slots[i];
        if (!p || p->node == INTERN_NONE || p->phase == PHASE_SUCCEEDED ||
            p->phase == PHASE_FAILED)
            continue;
        int32_t node1 = u32map_get(&by_id, p->node);
        if (node1 <= 0)
            continue; /* bound to a node the model does not have (yet) */
        uint32_t anti;
        if (pod_append(s, p, (uint32_t)node1 - 1, &anti) < 0)
            goto nomem;
    }
    u32map_free(&by_id);
    ftree_build(s, s->n_nodes);
    s->ft_on = s->ft != NULL;
    *out = s;
    return 0;
nomem:
    u32map_free(&by_id);
    sim_snapshot_free(s);
    return NSC_ERR_NOMEM;
}

void
sim_snapshot_free(struct sim_snapshot *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->n_nodes; i++)
        node_release(&s->nodes[i]);
    free(s->nodes);
    free(s->pods);
    free(s->anti_pods);
    free(s->ft);
    free(s->undo);
    lindex_free(&s->by_label);
    lindex_free(&s->anti_by_label);
    free(s->anti_generic.v);
    free(s->rev_pods);
    free(s->rev_nodes);
    smap_free(&s->node_index);
    free(s);
}

uint32_t
sim_node_index(const struct sim_snapshot *s, const char *name)
{
    uint32_t idx;
    return smap_get(&s->node_index, name, &idx) ? idx : SIM_NONE;
}

int
sim_add_template_node(struct sim_snapshot *s, const struct model_node *tmpl, const char *name,
                      uint32_t *idx)
{
    uint32_t name_id = intern_cstr(&s->m->strings, name);
    if (!name_id)
        return NSC_ERR_NOMEM;
    return sim_add_template_node_id(s, tmpl, name_id, idx);
}

int
sim_add_template_node_id(struct sim_snapshot *s, const struct model_node *tmpl,
                         uint32_t name_id, uint32_t *idx)
{
    uint32_t n = tmpl->labels ? tmpl->labels->n : 0;
    struct labelset *ls = malloc(sizeof(*ls) + (n + 1) * sizeof(struct label));
    if (!ls)
        return NSC_ERR_NOMEM;
    /* Copy the labels in key order, replacing or inserting kubernetes.io/hostname. */
    uint32_t host = s->m->s_hostname, k = 0;
    bool done = false;
    for (uint32_t i = 0; i < n; i++) {
        const struct label *l = &tmpl->labels->l[i];
        if (!done && l->key >= host) {
            ls->l[k++] = (struct label){host, name_id};
            done = true;
            if (l->key == host)
                continue;
        }
        ls->l[k++] = *l;
    }
    if (!done)
        ls->l[k++] = (struct label){host, name_id};
    ls->n = k;
    if (node_init(s, tmpl, name_id, ls, idx) < 0) {
        free(ls);
        return NSC_ERR_NOMEM;
    }
    if (undo_push(s, UNDO_ADD_NODE, *idx, 0) < 0) {
        node_release(&s->nodes[--s->n_nodes]);
        ftree_touch(s, s->n_nodes);
        return NSC_ERR_NOMEM;
    }
    return 0;
}

int
sim_add_pod(struct sim_snapshot *s, const struct model_pod *p, uint32_t node)
{
    uint32_t anti;
    if (node >= s->n_nodes)
        return NSC_ERR_INVALID;
    if (pod_append(s, p, node, &anti) < 0)
        return NSC_ERR_NOMEM;
    if (undo_push(s, UNDO_ADD_POD, s->n_pods - 1, anti) < 0) {
        unindex_pod(s, p, s->n_pods - 1);
        s->n_pods--;
        node_unlink(s, &s->nodes[node], s->n_pods, p);
        s->n_anti_pods -= anti;
        return NSC_ERR_NOMEM;
    }
    return 0;
}

int
sim_remove_pod(struct sim_snapshot *s, uint32_t pod_idx)
{
    if (pod_idx >= s->n_pods || s->pods[pod_idx].node == SIM_NONE)
        return NSC_ERR_INVALID;
    struct sim_pod *sp = &s->pods[pod_idx];
    if (undo_push(s, UNDO_REMOVE_POD, pod_idx, sp->node) < 0)
        return NSC_ERR_NOMEM;
    node_unlink(s, &s->nodes[sp->node], pod_idx, sp->p);
    sp->node = SIM_NONE;
    s->epoch++;
    return 0;
}

int
sim_disable_node(struct sim_snapshot *s, uint32_t node)
{
    if (node >= s->n_nodes || s->nodes[node].disabled)
        return NSC_ERR_INVALID;
    if (undo_push(s, UNDO_DISABLE_NODE, node, 0) < 0)
        return NSC_ERR_NOMEM;
    s->nodes[node].disabled = true;
    ftree_touch(s, node);
    s->epoch++;
    return 0;
}

uint32_t
sim_fork(const struct sim_snapshot *s)
{
    return s->n_undo;
}

void
sim_revert(struct sim_snapshot *s, uint32_t mark)
{
    if (mark >= s->n_undo)
        return;
    while (s->n_undo > mark) {
        struct sim_undo u = s->undo[--s->n_undo];
        switch (u.op) {
        case UNDO_ADD_NODE:
            node_release(&s->nodes[u.a]);
            s->n_nodes--;
            ftree_touch(s, u.a);
            break;
        case UNDO_ADD_POD: {
            struct sim_pod *sp = &s->pods[u.a];
            if (sp->node != SIM_NONE)
                node_unlink(s, &s->nodes[sp->node], u.a, sp->p);
            unindex_pod(s, sp->p, u.a);
            s->n_anti_pods -= u.b;
            s->n_pods--;
            break;
        }
        case UNDO_REMOVE_POD: {
            struct sim_pod *sp = &s->pods[u.a];
            s->epoch++;
            sp->node = u.b;
            /* Capacity was reserved when the pod was first linked. */
            if (node_link(s, &s->nodes[u.b], u.a, sp->p) < 0)
                abort(); /* cannot happen: the array kept its capacity */
            break;
        }
        case UNDO_DISABLE_NODE:
            s->nodes[u.a].disabled = false;
            ftree_touch(s, u.a);
            s->epoch++;
            break;
        }
    }
    if (s->n_revs == s->cap_revs) {
        uint32_t ncap = s->cap_revs ? s->cap_revs * 2 : 64;
        uint32_t *np = realloc(s->rev_pods, ncap * sizeof(*np));
        if (np)
            s->rev_pods = np;
        uint32_t *nn = realloc(s->rev_nodes, ncap * sizeof(*nn));
        if (nn)
            s->rev_nodes = nn;
        if (!np || !nn) {
            s->epoch++; /* no history: contexts start over */
            return;
        }
        s->cap_revs = ncap;
    }
    s->rev_pods[s->n_revs] = s->n_pods;
    s->rev_nodes[s->n_revs] = s->n_nodes;
    s->n_revs++;
}
