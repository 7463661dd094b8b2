/* Writes nodescaler makes to the cluster: evictions, node taints and annotations by
 * read-modify-write, core/v1 Events with aggregation of repeats, the status ConfigMap. */
#ifndef NSC_KUBE_WRITES_H
#define NSC_KUBE_WRITES_H

#include <stdint.h>

#include <jansson.h>

#include "kube/client.h"

enum kube_evict_result {
    KUBE_EVICT_DONE = 0,      /* 201: the pod is being deleted */
    KUBE_EVICT_GONE,          /* 404: the pod no longer exists (success for a drain) */
    KUBE_EVICT_BLOCKED,       /* 429: a PodDisruptionBudget allows no disruption now */
    KUBE_EVICT_MULTIPLE_PDBS, /* 500: more than one PDB selects the pod; do not retry */
    KUBE_EVICT_FAILED         /* anything else: resp says what */
};

/**
 * Evict a pod through the Eviction API: policy/v1 first, policy/v1beta1 when the server
 * does not know v1 (a 404 for the subresource, or a 400 "no kind Eviction is registered
 * for version policy/v1" as 1.20 answers); the version that worked is remembered by the
 * client. grace_s < 0 leaves the pod's own grace period. *result tells the outcome;
 * resp describes the last answer (clear it after). Returns 0 for DONE and GONE, else the
 * request's negative status.
 */
int kube_evict(struct kube_client *c, const char *ns, const char *name, long grace_s,
               enum kube_evict_result *result, struct kube_resp *resp);

/** Edit a node in place; return 0 to write it, 1 when nothing needs to change, or a
 * negative status to abort. */
typedef int kube_node_edit_fn(void *ud, json_t *node);

/**
 * GET the node, edit it, PUT it back with its resourceVersion; on 409 Conflict start
 * again (up to 8 attempts, 750 ms apart), because spec.taints is an atomic list that a
 * patch would overwrite whole. Returns 0 (also when the edit said nothing changes), the
 * edit's status, or the request's (resp describes it).
 */
int kube_node_update(struct kube_client *c, const char *name, kube_node_edit_fn *edit, void *ud,
                     struct kube_resp *resp);

/** Add or replace the taint `key` (value may be NULL) with this effect. */
int kube_node_taint(struct kube_client *c, const char *name, const char *key, const char *value,
                    const char *effect, struct kube_resp *resp);

/** Remove every taint with this key (no write when there is none). */
int kube_node_untaint(struct kube_client *c, const char *name, const char *key,
                      struct kube_resp *resp);

/** Set (value non-NULL) or remove (NULL) an annotation on a node. */
int kube_node_annotate(struct kube_client *c, const char *name, const char *key,
                       const char *value, struct kube_resp *resp);

/** The object an Event is about. Strings borrowed. namespace NULL/"" = cluster-scoped. */
struct kube_obj_ref {
    const char *kind;
    const char *api_version;
    const char *namespace;
    const char *name;
    const char *uid;
};

struct kube_recorder;

/**
 * An event recorder (client borrowed): component is the source ("nodescaler"), instance
 * the reporting instance (pod name), both copied.
 */
int kube_recorder_new(struct kube_client *c, const char *component, const char *instance,
                      struct kube_recorder **out);

/** Free the recorder. NULL accepted. */
void kube_recorder_free(struct kube_recorder *r);

/**
 * Record an Event about ref. type is "Normal" or "Warning". A repeat of the same
 * (object, type, reason, message) bumps count and lastTimestamp on the existing Event
 * with a PATCH (a new POST if it has gone), as client-go's recorder does. Events of
 * cluster-scoped objects go to "default". Returns 0 or the request's status (logged; an
 * Event is best effort).
 */
int kube_record(struct kube_recorder *r, const struct kube_obj_ref *ref, const char *type,
                const char *reason, const char *fmt, ...) NSC_PRINTF(5, 6);

/**
 * Create or replace the ConfigMap ns/name with data (borrowed JSON object of strings)
 * and the annotation cluster-autoscaler.kubernetes.io/last-updated set to now. Returns 0
 * or the request's status (resp describes it).
 */
int kube_configmap_put(struct kube_client *c, const char *ns, const char *name,
                       const json_t *data, struct kube_resp *resp);

/**
 * Read the value of key in the data of the ConfigMap ns/name. *value receives an owned
 * copy (free()), or NULL when the ConfigMap exists without that key or with a value that
 * is not a string. Returns 0, or the request's status (NSC_ERR_NOT_FOUND when there is
 * no such ConfigMap; resp describes it; clear it after).
 */
int kube_configmap_get(struct kube_client *c, const char *ns, const char *name, const char *key,
                       char **value, struct kube_resp *resp);

/** Format wall time ms as MicroTime "2006-01-02T15:04:05.000000Z" (six digits). */
void kube_format_microtime(int64_t wall_ms, char *buf, size_t len);

/** Format wall time ms as RFC 3339 seconds "2006-01-02T15:04:05Z". */
void kube_format_time(int64_t wall_ms, char *buf, size_t len);

#endif
