/* Kubernetes Events the control loop posts about pods, nodes and the status ConfigMap:
 * bounded fields, duplicates held back for a window, a per-object and a per-loop budget. */
#ifndef NSC_LOOP_EVENTS_H
#define NSC_LOOP_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/client.h"
#include "loop/decision.h"
#include "loop/groups.h"
#include <nodescaler/backend.h>

/* Bounds from the API server's validation of core/v1 Events (reason <= 128, message
 * <= 1024 for events.k8s.io; object names are DNS subdomains <= 253). */
#define EVENTS_REASON_MAX 128
#define EVENTS_MESSAGE_MAX 1024
#define EVENTS_NAME_MAX 253

/** Options; events_options_default() gives the values in brackets. */
struct events_options {
    int64_t dedup_window_ms;  /* an identical event is not posted again within [5 min] */
    bool record_duplicates;   /* --record-duplicated-events [false]: no dedup window */
    size_t max_per_loop;      /* posts between two events_loop_begin [20] */
    uint32_t object_burst;    /* posts one object may get at once [10] */
    int64_t object_refill_ms; /* one more post per object after [1 min] */
    bool dry_run;             /* log each event, post none */
    const char *component;    /* source.component [nodescaler]; borrowed */
    const char *instance;     /* reportingInstance (the pod's host name) or NULL; borrowed */
};

/** Fill o with the defaults above. */
void events_options_default(struct events_options *o);

/** One Event as it will be posted: every string bounded, valid UTF-8, NUL-terminated. */
struct events_event {
    char kind[32];
    char api_version[32];
    char object_namespace[EVENTS_NAME_MAX + 1]; /* "" for cluster-scoped objects */
    char object_name[EVENTS_NAME_MAX + 1];
    char namespace[EVENTS_NAME_MAX + 1]; /* where the Event lives: the object's, or default */
    char name[EVENTS_NAME_MAX + 1];      /* "<object>.<hex unix ns>", a DNS subdomain */
    char type[16];                       /* Normal or Warning */
    char reason[EVENTS_REASON_MAX + 1];
    char message[EVENTS_MESSAGE_MAX + 1];
    const char *component;
    const char *instance; /* may be NULL */
    int64_t wall_ms;
};

/** Send one Event; 0 or a negative status with err filled. */
typedef int events_post_fn(void *ud, const struct events_event *ev, char *err, size_t err_len);

/** The core/v1 POST /api/v1/namespaces/NS/events; ud is a struct kube_client. */
int events_post_kube(void *ud, const struct events_event *ev, char *err, size_t err_len);

/** What became of one event. */
enum events_result {
    EVENTS_POSTED = 0,
    EVENTS_DRY_RUN,      /* logged only */
    EVENTS_DUPLICATE,    /* the same event was posted within the window */
    EVENTS_RATE_LIMITED, /* its object has no budget left */
    EVENTS_LOOP_CAP,     /* this loop posted max_per_loop events already */
    EVENTS_NOT_LEADER,   /* another replica leads: it posts */
    EVENTS_FAILED        /* the post failed (logged); not remembered, so tried again */
};

/** The object an event is about; strings borrowed. namespace NULL or "" when cluster-scoped. */
struct events_ref {
    const char *kind;
    const char *namespace;
    const char *name;
};

struct events;

/**
 * An emitter with options o (copied, strings borrowed) sending through post (ud passed
 * on). Starts as leader. Returns 0 or NSC_ERR_NOMEM.
 */
int events_new(const struct events_options *o, events_post_fn *post, void *ud,
               struct events **out);

/** Free the emitter. NULL accepted. */
void events_free(struct events *e);

/** Only the leader posts: events of a replica that does not lead are dropped. */
void events_set_leader(struct events *e, bool leading);

/** A new loop: the per-loop budget starts again. */
void events_loop_begin(struct events *e);

/**
 * Post one event about ref at wall time now_ms (the clock is the caller's, so that tests
 * can move it). type "Normal" or "Warning". Fields over their bound are cut at a UTF-8
 * boundary, invalid bytes and controls replaced. Returns what became of it.
 */
enum events_result events_emit(struct events *e, int64_t now_ms, const struct events_ref *ref,
                               const char *type, const char *reason, const char *fmt, ...)
    NSC_PRINTF(6, 7);

/** Counts by result since events_new (index: enum events_result). */
const uint64_t *events_counts(const struct events *e);

/** Where the cluster-level events go: the status ConfigMap's object. Strings borrowed. */
struct events_cluster_ref {
    const char *namespace;
    const char *configmap;
};

/**
 * The events of a decision (borrowed), as the Go autoscaler posts them: TriggeredScaleUp
 * on each pod a scale-up that was applied (or planned, in a dry run) is for, and
 * ScaledUpGroup on the status ConfigMap; FailedToScaleUpGroup there for a refused resize;
 * NotTriggerScaleUp on each pod no group helps, with the reason per group. groups (may be
 * NULL) gives each group's max size for the messages.
 */
void events_from_decision(struct events *e, int64_t now_ms, const struct decision *d,
                          const struct group_set *groups, const struct events_cluster_ref *cl);

/** Render the message of NotTriggerScaleUp for one pod into buf (cut to len). */
void events_no_scale_up_message(const struct decision_no_scale_up *n, char *buf, size_t len);

#endif
