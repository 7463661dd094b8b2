/* Synthetic cluster generator for the benchmarks: a kubectl v1.List and the static
 * backend's groups file. */
#ifndef NSC_BENCH_GEN_H
#define NSC_BENCH_GEN_H

#include <stdint.h>
#include <stdio.h>

struct gen_params {
    uint32_t nodes;         /* existing nodes */
    uint32_t groups;        /* node groups; nodes are split evenly, in order */
    uint32_t pods_per_node; /* running pods per node (about 30) */
    uint32_t pending;       /* pending pods */
    uint32_t anti_pct;      /* share of controllers with hostname anti-affinity, percent */
    uint32_t spread_pct;    /* share with a zone spread constraint (DoNotSchedule) */
    uint32_t selector_pct;  /* share with a nodeSelector on their pool */
    uint32_t taint_pct;     /* share of groups tainted dedicated=batch:NoSchedule */
    int identical; /* 1: every pending pod 200m/200Mi of one controller, nodes 10 cpu */
    uint32_t seed;
    int exoscale; /* 1: providerIDs exoscale://<instance id>, groups as SKS nodepools */
};

/** Defaults: 1,000 nodes, 10 groups, 30 pods per node, 1,000 pending, 20/10/10/10 %. */
void gen_defaults(struct gen_params *p);

/** Write the snapshot (kubectl v1.List) and the groups file (either may be NULL). */
int gen_write(const struct gen_params *p, FILE *snapshot, FILE *groups);

/** Write the Exoscale emulator's world matching a snapshot written with p->exoscale: one
 * SKS cluster whose nodepools (one per group) hold the nodes' instances. */
int gen_write_world(const struct gen_params *p, FILE *world);

/** The Exoscale emulator credentials in the world (an SKS key with the backend's
 * operations). */
#define GEN_EXO_KEY "EXObench000000000000000001"
#define GEN_EXO_SECRET "bench-secret-0123456789abcdefghijklmnopqrst"

#endif
