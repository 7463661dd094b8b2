/* Scale-down PDB budgets: which PodDisruptionBudgets select a pod, and how many
 * disruptions each has left as the planner chooses nodes to remove together. */
#include "scaledown/scaledown.h"

#include <stdlib.h>
#include <string.h>

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
    memset(t, 0, sizeof(*t));
}

void
scaledown_pdbs_reset(struct scaledown_pdbs *t)
{
    for (uint32_t i = 0; i < t->n; i++)
        t->remaining[i] = t->pdb[i]->disruptions_allowed;
}

uint32_t
scaledown_pdbs_match(const struct scaledown_pdbs *t, const struct model_pod *p, uint32_t *out,
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
