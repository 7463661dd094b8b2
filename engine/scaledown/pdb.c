/* Scale-down PDB budgets: which PodDisruptionBudgets select a pod, and how many
 * disruptions each has left as the planner chooses nodes to remove together. */
#include "scaledown/scaledown.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_W 5 /* count, then up to 4 PDB indices */
#define MEMO_MAX_LABELS 24

static int
pdb_cmp(const void *a, const void *b)
{
    const struct model_pdb *x = *(const struct model_pdb *const *)a;
    const struct model_pdb *y = *(const struct model_pdb *const *)b;
    if (x->ns != y->ns)
        return x->ns < y->ns ? -1 : 1;
    return strcmp(x->name, y->name);
}

int
scaledown_pdbs_init(struct scaledown_pdbs *t, const struct model *m)
{
    memset(t, 0, sizeof(*t));
    t->m = m;
    smap_init(&t->memo);
    uint32_t n = m->pdbs.n_live;
    if (n == 0)
        return 0;
    t->pdb = calloc(n, sizeof(*t->pdb));
    t->remaining = calloc(n, sizeof(*t->remaining));
    if (!t->pdb || !t->remaining) {
        scaledown_pdbs_free(t);
        return NSC_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < m->pdbs.n_slots && t->n < n; i++)
        if (m->pdbs.slots[i])
            t->pdb[t->n++] = m->pdbs.slots[i];
    qsort(t->pdb, t->n, sizeof(*t->pdb), pdb_cmp);
    scaledown_pdbs_reset(t);
    return 0;
}

void
scaledown_pdbs_free(struct scaledown_pdbs *t)
{
    free(t->pdb);
    free(t->remaining);
    smap_free(&t->memo);
    free(t->memo_vals);
    memset(t, 0, sizeof(*t));
}

void
scaledown_pdbs_reset(struct scaledown_pdbs *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        t->remaining[i] = t->pdb[i]->disruptions_allowed;
}

static uint32_t
match_all(const struct scaledown_pdbs *t, const struct model_pod *p, uint32_t *out,
          uint32_t cap)
{
    /* First PDB of the pod's namespace: the array is sorted by namespace id. */
    uint32_t lo = 0, hi = t->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t->pdb[mid]->ns < p->ns)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t n = 0;
    for (uint32_t i = lo; i < t->n && t->pdb[i]->ns == p->ns; i++) {
        const struct model_pdb *b = t->pdb[i];
        /* policy/v1: a null selector selects nothing, an empty one every pod of the
         * namespace (selector_matches is true for an empty selector). */
        if (b->sel_null || !selector_matches(&t->m->strings, &b->sel, p->labels))
            continue;
        if (n < cap)
            out[n] = i;
        n++;
    }
    return n;
}

uint32_t
scaledown_pdbs_match(struct scaledown_pdbs *t, const struct model_pod *p, uint32_t *out,
                     uint32_t cap)
{
    if (t->n == 0)
        return 0;
    uint32_t nl = p->labels ? p->labels->n : 0;
    if (nl > MEMO_MAX_LABELS)
        return match_all(t, p, out, cap);
    char key[24 + MEMO_MAX_LABELS * 18];
    size_t off = (size_t)snprintf(key, sizeof(key), "%x", p->ns);
    for (uint32_t i = 0; i < nl; i++)
        off += (size_t)snprintf(key + off, sizeof(key) - off, ",%x=%x", p->labels->l[i].key,
                                p->labels->l[i].val);
    uint32_t slot, got[MEMO_W - 1];
    if (smap_get(&t->memo, key, &slot)) {
        const uint32_t *v = &t->memo_vals[(size_t)slot * MEMO_W];
        for (uint32_t i = 0; i < v[0] && i < cap && i < MEMO_W - 1; i++)
            out[i] = v[1 + i];
        if (v[0] <= MEMO_W - 1 || cap <= MEMO_W - 1)
            return v[0];
        return match_all(t, p, out, cap);
    }
    uint32_t n = match_all(t, p, got, MEMO_W - 1);
    for (uint32_t i = 0; i < n && i < cap && i < MEMO_W - 1; i++)
        out[i] = got[i];
    if (n > MEMO_W - 1 && cap > MEMO_W - 1)
        match_all(t, p, out, cap);
    if (t->n_memo == t->cap_memo) {
        uint32_t ncap = t->cap_memo ? t->cap_memo * 2 : 64;
        uint32_t *nv = realloc(t->memo_vals, (size_t)ncap * MEMO_W * sizeof(*nv));
        if (!nv)
            return n; /* no memo: correct, only slower */
        t->memo_vals = nv;
        t->cap_memo = ncap;
    }
    if (smap_put(&t->memo, key, t->n_memo) < 0)
        return n;
    uint32_t *v = &t->memo_vals[(size_t)t->n_memo++ * MEMO_W];
    v[0] = n;
    for (uint32_t i = 0; i < MEMO_W - 1; i++)
        v[1 + i] = i < n ? got[i] : 0;
    return n;
}
