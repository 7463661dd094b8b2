/* The decision of one planning pass as a type: what to grow, what to remove, what no
 * scale-up helps and why. The planners fill it, the pass applies it, renderings print it. */
#ifndef NSC_DECISION_H
#define NSC_DECISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "loop/groups.h"
#include "model/model.h"
#include "scaledown/scaledown.h"
#include "scaleup/scaleup.h"

/** Whether a planned action was carried out. */
enum decision_outcome {
    DECISION_PLANNED = 0, /* not (yet) attempted: the pass was not applied, or --dry-run */
    DECISION_APPLIED,     /* the backend accepted it */
    DECISION_FAILED,      /* the backend refused it: error says why */
    DECISION_SKIPPED,     /* not attempted: an earlier action of the pass failed */
    DECISION_UNAVAILABLE  /* not attempted: nothing can carry it out yet */
};

/** One group to grow. Strings owned by the decision. */
struct decision_scale_up {
    size_t group;     /* index into the group_set the pass planned with */
    char *group_id;   /* that group's id */
    int32_t from, to; /* target sizes */
    char **pods;      /* "ns/name" of the pods the new nodes are for */
    size_t n_pods;
    enum decision_outcome outcome;
    char *error; /* the backend's reason when outcome is DECISION_FAILED, else NULL */
    int status;  /* the backend's status when outcome is DECISION_FAILED, else 0 */
};

/** A pending pod that fits a node already there or on its way. */
struct decision_fit {
    char *pod;  /* "ns/name" */
    char *node; /* node name, or "upcoming-<group>-<n>" */
};

/** Why one group cannot take a pod. */
struct decision_reason {
    char *group_id;
    char *why;
};

/** A pending pod no scale-up helps: either one reason for all groups (why, e.g. an
 * expendable pod that was never considered) or one reason per group. */
struct decision_no_scale_up {
    char *pod;
    char *why; /* NULL when reasons are per group */
    struct decision_reason *reasons;
    size_t n_reasons;
};

/** A node the scale-down planner chose to remove in this pass. */
struct decision_scale_down {
    char *node;
    char *group_id;          /* NULL when no group owns it (never, for a removable node) */
    bool empty;              /* only DaemonSet, mirror or finished pods: nothing to drain */
    uint32_t n_pods_to_move; /* pods that would be evicted (underutilized, not empty) */
    enum decision_outcome outcome;
};

/** A node that stays, with its reason ("<Reason>: <message>"). */
struct decision_unremovable {
    char *node;
    char *reason;
    bool unneeded;            /* could go later: unneeded_since_s is set */
    int64_t unneeded_since_s; /* when first found unneeded */
};

/** The counts of the pass. */
struct decision_summary {
    size_t n_nodes, n_pods, n_pending, n_groups;
    size_t n_young; /* pending pods younger than their scale-up delay: not acted on yet */
};

/**
 * What one pass decided. Zero it (or decision_init) before filling; owned by whoever filled
 * it: decision_free. Nothing in it points into the model or the group_set.
 */
struct decision {
    /** false when no cluster was read: only the groups are known, every array is empty
     * and note says why nothing is decided. */
    bool cluster_read;
    char *note; /* one sentence on the whole decision, or NULL */
    /** Whether the pass went through decision_apply, and with --dry-run. */
    bool apply_attempted;
    bool dry_run;
    struct decision_scale_up *scale_up;
    size_t n_scale_up;
    struct decision_fit *fits;
    size_t n_fits;
    struct decision_no_scale_up *no_scale_up;
    size_t n_no_scale_up;
    struct decision_scale_down *scale_down;
    size_t n_scale_down;
    struct decision_unremovable *unremovable;
    size_t n_unremovable;
    struct decision_summary summary;
};

/** Free what d holds and zero it. NULL accepted. */
void decision_free(struct decision *d);

/**
 * The groups-only decision: no cluster was read, so nothing is known to be pending or
 * unneeded. note (copied) says why. Returns 0 or NSC_ERR_NOMEM.
 */
int decision_from_groups(struct decision *d, const struct group_set *groups, const char *note);

/**
 * Fill the scale-up part and the summary of d from a scale-up result (borrowed) planned
 * from m and groups (borrowed). Returns 0 or NSC_ERR_NOMEM (d is then partly filled; free
 * it).
 */
int decision_fill_scaleup(struct decision *d, const struct model *m,
                          const struct group_set *groups, const struct scaleup_result *r);

/**
 * Fill the scale-down part of d from a journal (borrowed): its removable nodes into
 * scale_down, every other node into unremovable. Returns 0 or NSC_ERR_NOMEM.
 */
int decision_fill_scaledown(struct decision *d, const struct scaledown_journal *j);

/** Ask for an absolute target size of a group; 0 or a negative status with err set. */
typedef int decision_resize_fn(void *arg, const char *group_id, int32_t to, char *err,
                               size_t err_len);

/**
 * Carry out d: each scale-up entry once through resize (arg passed on), in order, unless
 * dry_run; the first refusal stops the rest (marked skipped), since a pass that cannot
 * confirm one change should not pile more on it. Scale-down entries are marked as not
 * available: nothing removes nodes yet. Returns 0, or the failed resize's status with err
 * naming the group and the backend's reason.
 */
int decision_apply(struct decision *d, bool dry_run, decision_resize_fn *resize, void *arg,
                   char *err, size_t err_len);

/**
 * The decision object (new reference; NULL on NOMEM):
 *   {"scale_up":      [{"group", "from", "to", "pods"}],
 *    "fits_existing": [{"pod", "node"}],
 *    "no_scale_up":   [{"pod", "reasons": {GROUP: why}}] or [{"pod", "reason"}],
 *    "scale_down":    [{"node", "group"}],
 *    "unremovable":   [{"node", "reason", "unneeded_since"?}],
 *    "summary":       {"nodes", "pods", "pending", "groups"}}
 * When the decision was applied (not a dry run), scale_up and scale_down entries also
 * carry "applied" (bool), a failed one "error", and a scale-down entry "note".
 */
json_t *decision_json(const struct decision *d);

/** The same decision for people, on out. */
void decision_text(const struct decision *d, FILE *out);

/** A short word for an outcome ("applied"); static storage. */
const char *decision_outcome_name(enum decision_outcome o);

#endif
