/* The cluster model kept current from the API: one informer per kind the engine reads
 * (nodes, pods, PDBs, PVs, PVCs, namespaces), each event applied to the model in place;
 * and the one-pass paginated load that `--once` uses. */
#ifndef NSC_KUBE_SYNC_H
#define NSC_KUBE_SYNC_H

#include <stdint.h>

#include "kube/client.h"
#include "kube/informer.h"
#include "model/model.h"

struct kube_sync;

/**
 * Informers for every kind the model holds, on client c and model m (both borrowed; they
 * must outlive the sync). PDBs are read through policy/v1, or policy/v1beta1 on servers
 * older than 1.21. Nothing is listed before the first kube_sync_run.
 */
int kube_sync_new(struct kube_client *c, struct model *m, struct kube_sync **out);

/** Stop the watches and free. NULL accepted. */
void kube_sync_free(struct kube_sync *s);

/**
 * Apply lists and watch events to the model for up to timeout_ms. Returns 1 when woken
 * early because a pod became unschedulable (or kube_sync_wake), 0 at the timeout.
 */
int kube_sync_run(struct kube_sync *s, int64_t timeout_ms);

/** True once every kind has been listed: act only then. */
int kube_sync_synced(const struct kube_sync *s);

/** Wake a running kube_sync_run (thread- and signal-safe). */
void kube_sync_wake(struct kube_sync *s);

/** The informer set (borrowed), for metrics and tests. */
struct kube_informers *kube_sync_informers(struct kube_sync *s);

/**
 * One pass: list every kind (paginated) into m. stats (may be NULL) counts what was
 * loaded. Returns 0, or the first failing request's status with err describing it
 * ("GET /api/v1/pods?limit=500: 403 Forbidden: ...").
 */
int kube_load_model(struct kube_client *c, struct model *m, struct model_load_stats *stats,
                    char *err, size_t err_len);

/**
 * The PodDisruptionBudget collection path this server serves: "/apis/policy/v1/..." or,
 * before 1.21, "/apis/policy/v1beta1/...". Returns a static string.
 */
const char *kube_pdb_path(struct kube_client *c);

#endif
