/* One pass of the autoscaler for --once: read the backend, decide, act unless --dry-run,
 * and print the decision as text or JSON. */
#ifndef NSC_ONCE_H
#define NSC_ONCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nsc_config.h"
#include "plugin/plugin.h"

/** One change to a group's target size, with the reason shown to the operator. */
struct once_action {
    char *group_id; /* owned */
    int32_t from_target;
    int32_t to_target;
    char *reason; /* owned */
};

/** What one pass decided. Owned by whoever filled it: once_decision_free(). */
struct once_decision {
    struct once_action *actions;
    size_t n_actions;
    /** One sentence on the whole decision ("no change: ..."); owned, never NULL once set. */
    char *summary;
};

/**
 * Decide what to do with these groups. This is where the scale-up and scale-down planners
 * plug in: fill *out with their actions and a summary. groups is borrowed; *out is zeroed
 * first. Returns 0, NSC_ERR_NOMEM, or a planner's status with err set.
 */
int once_decide(const struct nsc_config *cfg, const struct group_set *groups,
                struct once_decision *out, char *err, size_t err_len);

/** Free what a decision holds and zero it. NULL accepted. */
void once_decision_free(struct once_decision *d);

/**
 * The whole --once pass: load cfg->backend through the loader, create it with
 * cfg->backend_opts and each --nodes spec as a nodes=MIN:MAX:NAME option, refresh, read the
 * groups (a --nodes NAME that names none is an error), read the cluster (--cluster-snapshot,
 * --kubeconfig, or in-cluster when KUBERNETES_SERVICE_HOST is set; with none of them only
 * the groups are listed), decide, apply unless cfg->dry_run, and print to out in
 * cfg->output format. Returns 0, or a negative status with err naming the step and the
 * cause (the caller exits 1).
 */
int once_run(const struct nsc_config *cfg, FILE *out, char *err, size_t err_len);

#endif
