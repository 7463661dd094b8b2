/* The simulation snapshot: dense nodes and pods with per-node aggregates, and an undo
 * log that makes fork O(1) and revert proportional to the changes undone. */
#include "sim/sim.h"

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
        if (!n->used_ext)
            return NSC_ERR_NOMEM;
    }
    *idx = s->n_nodes++;
    return 0;
}

static void
node_release(struct sim_node *n)
{
    free(n->own_labels);
    free(n->used_ext);
    free(n->pods);
}

/* Add or subtract a pod's request to its node's aggregates. */
static void
node_account(struct sim_node *n, const struct model_pod *p, int sign)
{
    const struct res *r = &p->spec->req;
    for (int k = 0; k < RES_PODS; k++)
        n->used[k] += sign * r->fixed[k];
    n->used[RES_PODS] += sign;
    const struct res *a = &n->src->alloc;
    for (uint32_t i = 0, j = 0; i < r->n_ext && j < a->n_ext;) {
        if (r->ext[i].name == a->ext[j].name) {
            n->used_ext[j] += sign * r->ext[i].val;
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
}

static int
node_link(struct sim_node *n, uint32_t pod_idx, const struct model_pod *p)
{
    if (grow((void **)&n->pods, &n->cap_pods, n->n_pods + 1, sizeof(*n->pods)) < 0)
        return NSC_ERR_NOMEM;
    n->pods[n->n_pods++] = pod_idx;
    node_account(n, p, 1);
    return 0;
}

static void
node_unlink(struct sim_node *n, uint32_t pod_idx, const struct model_pod *p)
{
    /* The pod is usually the last one added: scan from the end. */
    for (uint32_t i = n->n_pods; i-- > 0;) {
        if (n->pods[i] == pod_idx) {
            n->pods[i] = n->pods[--n->n_pods];
            break;
        }
    }
    node_account(n, p, -1);
}

static int
pod_append(struct sim_snapshot *s, const struct model_pod *p, uint32_t node, uint32_t *anti)
{
    if (grow((void **)&s->pods, &s->cap_pods, s->n_pods + 1, sizeof(*s->pods)) < 0)
        return NSC_ERR_NOMEM;
    uint32_t idx = s->n_pods;
    if (node_link(&s->nodes[node], idx, p) < 0)
        return NSC_ERR_NOMEM;
    s->pods[idx] = (struct sim_pod){p, node};
    s->n_pods++;
    *anti = 0;
    if (p->spec->n_anti) {
        if (grow((void **)&s->anti_pods, &s->cap_anti_pods, s->n_anti_pods + 1,
                 sizeof(*s->anti_pods)) < 0) {
            node_unlink(&s->nodes[node], idx, p);
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
    for (uint32_t i = 0; i < m->nodes.n_slots; i++) {
        const struct model_node *mn = m->nodes.slots[i];
        uint32_t idx;
        if (!mn)
            continue;
        if (node_init(s, mn, mn->name_id, NULL, &idx) < 0 ||
            smap_put(&s->node_index, mn->name, idx) < 0)
            goto nomem;
    }
    for (uint32_t i = 0; i < m->pods.n_slots; i++) {
        const struct model_pod *p = m->pods.slots[i];
        if (!p || p->node == INTERN_NONE || p->phase == PHASE_SUCCEEDED ||
            p->phase == PHASE_FAILED)
            continue;
        uint32_t node;
        if (!smap_get(&s->node_index, intern_str(&m->strings, p->node), &node))
            continue; /* bound to a node the model does not have (yet) */
        uint32_t anti;
        if (pod_append(s, p, node, &anti) < 0)
            goto nomem;
    }
    *out = s;
    return 0;
nomem:
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
    free(s->undo);
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
    struct intern *in = &s->m->strings;
    uint32_t name_id = intern_cstr(in, name);
    uint32_t n = tmpl->labels ? tmpl->labels->n : 0;
    struct labelset *ls = malloc(sizeof(*ls) + (n + 1) * sizeof(struct label));
    if (!name_id || !ls) {
        free(ls);
        return NSC_ERR_NOMEM;
    }
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
        s->n_pods--;
        node_unlink(&s->nodes[node], s->n_pods, p);
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
    node_unlink(&s->nodes[sp->node], pod_idx, sp->p);
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
            break;
        case UNDO_ADD_POD: {
            struct sim_pod *sp = &s->pods[u.a];
            if (sp->node != SIM_NONE)
                node_unlink(&s->nodes[sp->node], u.a, sp->p);
            s->n_anti_pods -= u.b;
            s->n_pods--;
            break;
        }
        case UNDO_REMOVE_POD: {
            struct sim_pod *sp = &s->pods[u.a];
            s->epoch++;
            sp->node = u.b;
            /* Capacity was reserved when the pod was first linked. */
            if (node_link(&s->nodes[u.b], u.a, sp->p) < 0)
                abort(); /* cannot happen: the array kept its capacity */
            break;
        }
        case UNDO_DISABLE_NODE:
            s->nodes[u.a].disabled = false;
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
