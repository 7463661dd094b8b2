/* The status ConfigMap (cluster-autoscaler-status): the Go autoscaler's YAML status of the
 * cluster and of each group, with transition times, written only when it changed. */
#ifndef NSC_LOOP_STATUS_H
#define NSC_LOOP_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The key of the status text in the ConfigMap's data, and the annotation Go writes. */
#define STATUS_KEY "status"
#define STATUS_ANN_LAST_UPDATED "cluster-autoscaler.kubernetes.io/last-updated"

/** Cluster-wide scale-up condition (Go's ClusterScaleUpConditionType). */
enum status_scale_up {
    STATUS_SU_NO_ACTIVITY = 0, /* nothing pending, nothing growing */
    STATUS_SU_NEEDED,          /* pods wait and a group is to grow */
    STATUS_SU_NOT_NEEDED,      /* no group needs to grow */
    STATUS_SU_IN_PROGRESS,     /* a scale-up waits for its nodes */
    STATUS_SU_BACKOFF          /* (groups only) backed off after a failure */
};

/** Node counts, as Go's NodeCount. */
struct status_node_counts {
    uint32_t total, ready, not_started, being_deleted, unready, resource_unready;
    uint32_t long_unregistered, unregistered;
};

/** One group. Strings borrowed. */
struct status_group {
    const char *name;
    bool healthy;
    struct status_node_counts nodes;
    int32_t target, min_size, max_size;
    enum status_scale_up scale_up; /* NO_ACTIVITY, IN_PROGRESS or BACKOFF */
    const char *backoff_code;      /* when BACKOFF; may be NULL */
    const char *backoff_message;   /* when BACKOFF; may be NULL */
    uint32_t scale_down_candidates;
};

/** What the loop knows at its end. Strings and groups borrowed. */
struct status_input {
    bool initializing;   /* before the first loop: autoscalerStatus Initializing */
    const char *message; /* may be NULL */
    bool healthy;
    struct status_node_counts nodes;
    enum status_scale_up scale_up;
    uint32_t scale_down_candidates;
    const struct status_group *groups;
    size_t n_groups;
};

struct status;
struct kube_client;

/** A status tracker (transition times, the last text written). 0 or NSC_ERR_NOMEM. */
int status_new(struct status **out);

/** Free it. NULL accepted. */
void status_free(struct status *st);

/**
 * Render in (borrowed) at wall time now_ms as the Go autoscaler's YAML, noting in st the
 * conditions that changed (their lastTransitionTime). *text receives the text (owned,
 * free()); *key, when not NULL, the same text without the probe times, which change every
 * loop: two keys differ exactly when something else did. Returns 0 or NSC_ERR_NOMEM.
 */
int status_render(struct status *st, const struct status_input *in, int64_t now_ms, char **text,
                  char **key);

/** Read the ConfigMap: 0 with *cm (owned) and *http 200, or a negative status with *http
 * the answer (404 when there is none, 0 when none came); err says what failed. */
typedef int status_get_fn(void *ud, json_t **cm, long *http, char *err, size_t err_len);

/** Send the ConfigMap cm (borrowed) with method POST (create) or PUT (replace, carrying
 * the resourceVersion read): 0, or a negative status with *http (409 on a conflict). */
typedef int status_send_fn(void *ud, const char *method, const json_t *cm, long *http,
                           char *err, size_t err_len);

/** Where and how the ConfigMap is written. Strings borrowed. */
struct status_io {
    const char *namespace;
    const char *name;
    status_get_fn *get;
    status_send_fn *send;
    void *ud;
};

/** The kube client's get and send; ud is a struct status_kube. */
struct status_kube {
    struct kube_client *c;
    const char *namespace, *name;
};
int status_kube_get(void *ud, json_t **cm, long *http, char *err, size_t err_len);
int status_kube_send(void *ud, const char *method, const json_t *cm, long *http, char *err,
                     size_t err_len);

/**
 * Write the status of in at now_ms unless its content (times of probes aside) equals what
 * st wrote last: read the ConfigMap, create it when missing or replace its status (with
 * the last-updated annotation); a 409 (someone else created or changed it meanwhile) is
 * read again and tried once more. *written tells whether a write went out. Returns 0, or
 * a negative status with err naming the ConfigMap and the answer; a failed write is tried
 * again at the next call.
 */
int status_update(struct status *st, const struct status_io *io, const struct status_input *in,
                  int64_t now_ms, bool *written, char *err, size_t err_len);

#endif
