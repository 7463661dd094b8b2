/* Volume placement as kube-scheduler's VolumeRestrictions, VolumeBinding and VolumeZone
 * plugins decide it (private to engine/sim): a pod's claims resolved once, then a node check.
 */
#ifndef NSC_SIM_VOLUMES_H
#define NSC_SIM_VOLUMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/sim.h"

/** One claim of the pod, as PreFilter resolved it. Pointers borrowed from the model. */
struct sim_vclaim {
    const struct model_pvc *pvc;
    const struct model_pv *pv;     /* bound claims: their volume, NULL when it does not exist */
    const struct model_sc *sc;     /* claims that wait for their first consumer: the class */
    const struct model_pv **cands; /* those: PVs the binder could give them, smallest first */
    uint32_t n_cands;
};

/** A CSI volume as NodeVolumeLimits counts it: a bound claim's PV, or an unbound claim
 * (counted under its class's provisioner until it is bound). */
struct sim_csi_vol {
    uint32_t driver; /* interned driver name */
    uint32_t a, b;   /* PV: 0 and the interned PV name; claim: namespace and claim name */
};

/** A pod's volume state. Zeroed is empty; sim_vols_clear frees it. */
struct sim_vols {
    char fail[256]; /* PreFilter's reason: the pod fits no node ("" when none) */
    struct sim_vclaim *claims;
    uint32_t n_claims;
    bool has_rwop; /* a claim is ReadWriteOncePod: other pods using it are looked for */
    /* The last look for them, valid while the snapshot's epoch, pod and revert counts are
     * those seen (pods using a claim do not depend on the node). */
    bool rwop_known, rwop_conflict;
    uint64_t rwop_epoch;
    uint32_t rwop_pods, rwop_revs;
    const struct model_pv **chosen; /* scratch of the node check: PVs taken by earlier claims */
    struct sim_csi_vol *csi;        /* the pod's CSI volumes (n_csi) */
    uint32_t n_csi;
};

/**
 * Resolve pod p's claims against the snapshot's model (VolumeBinding's PreFilter): a claim
 * that does not exist, a class that does not exist, or a claim that is unbound and binds
 * immediately sets v->fail. Call only when the snapshot has volume checks on
 * (s->has_pvcs). v must be empty. Returns 0 or NSC_ERR_NOMEM.
 */
int sim_vols_prepare(const struct sim_snapshot *s, const struct model_pod *p,
                     struct sim_vols *v);

/** Free what sim_vols_prepare took and empty v. */
void sim_vols_clear(struct sim_vols *v);

/**
 * The Filter half for node n: ReadWriteOncePod claims used by another pod, CSI attach
 * limits (the node's CSINode allocatable counts, NodeVolumeLimits), bound volumes'
 * node affinity, claims to bind (a matching PV on the node, or a class that can provision
 * there), then bound volumes' zone labels. Returns SIM_OK or SIM_FAIL_VOLUME with the
 * scheduler's reason in why (may be NULL).
 */
int sim_vols_check(const struct sim_snapshot *s, struct sim_vols *v, const struct model_pod *p,
                   const struct sim_node *n, char *why, size_t why_len);

#endif
