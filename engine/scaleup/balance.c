/* Balancing similar node groups: cluster-autoscaler's template comparator and the
 * smallest-first split of new nodes. */
#include "scaleup/scaleup.h"

#include <stdlib.h>
#include <string.h>

static bool
within(int64_t a, int64_t b, double ratio)
{
    int64_t big = a > b ? a : b, small = a > b ? b : a;
    /* Free room can be negative (DaemonSet pods above allocatable): the difference may not
     * fit in int64. */
    return (double)big - (double)small <= (double)big * ratio;
}

static bool
label_ignored(const struct model *m, uint32_t key, const struct scaleup_options *o)
{
    const char *k = intern_str(&m->strings, key);
    static const char *const builtin[] = {"kubernetes.io/hostname",
                                          "topology.kubernetes.io/zone",
                                          "topology.kubernetes.io/region",
                                          "failure-domain.beta.kubernetes.io/zone",
                                          "failure-domain.beta.kubernetes.io/region",
                                          "beta.kubernetes.io/fluentd-ds-ready",
                                          "cluster-autoscaler.kubernetes.io/template-node"};
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
        if (strcmp(k, builtin[i]) == 0)
            return true;
    for (size_t i = 0; i < o->n_balancing_ignore_labels; i++)
        if (strcmp(k, o->balancing_ignore_labels[i]) == 0)
            return true;
    return false;
}

static bool
labels_similar(const struct model *m, const struct labelset *a, const struct labelset *b,
               const struct scaleup_options *o)
{
    uint32_t na = a ? a->n : 0, nb = b ? b->n : 0, i = 0, j = 0;
    while (i < na || j < nb) {
        if (i < na && label_ignored(m, a->l[i].key, o)) {
            i++;
            continue;
        }
        if (j < nb && label_ignored(m, b->l[j].key, o)) {
            j++;
            continue;
        }
        if (i >= na || j >= nb)
            return false;
        if (a->l[i].key != b->l[j].key || a->l[i].val != b->l[j].val)
            return false;
        i++;
        j++;
    }
    return true;
}

bool
scaleup_similar(const struct model *m, const struct model_node *a, const struct model_node *b,
                const int64_t free_a[RES_N_FIXED], const int64_t free_b[RES_N_FIXED],
                const struct scaleup_options *o)
{
    /* Capacity: cpu exact, memory within the memory ratio; extended resources exact. */
    if (a->cap_cpu_m != b->cap_cpu_m ||
        !within(a->cap_mem, b->cap_mem, o->memory_difference_ratio))
        return false;
    if (a->alloc.n_ext != b->alloc.n_ext)
        return false;
    for (uint32_t i = 0; i < a->alloc.n_ext; i++)
        if (a->alloc.ext[i].name != b->alloc.ext[i].name ||
            a->alloc.ext[i].val != b->alloc.ext[i].val)
            return false;
    for (int k = RES_CPU; k <= RES_MEMORY; k++) {
        if (!within(a->alloc.fixed[k], b->alloc.fixed[k], o->max_allocatable_difference_ratio))
            return false;
        if (!within(free_a[k], free_b[k], o->max_free_difference_ratio))
            return false;
    }
    return labels_similar(m, a->labels, b->labels, o);
}

int32_t
scaleup_balance_split(const int32_t *cur, const int32_t *max, size_t n, int32_t total,
                      int32_t *out)
{
    int32_t placed = 0;
    for (size_t i = 0; i < n; i++)
        out[i] = cur[i];
    while (placed < total) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            if (out[i] >= max[i])
                continue;
            if (best == n || out[i] < out[best])
                best = i;
        }
        if (best == n)
            break; /* every group is at its maximum */
        out[best]++;
        placed++;
    }
    return placed;
}
