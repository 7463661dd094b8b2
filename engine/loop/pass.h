/* One pass of the autoscaler: refresh the backend, read the cluster, plan scale-up then
 * scale-down, apply, and hand the typed decision back for reporting. --once runs one pass;
 * the control loop runs them on a timer. */
#ifndef NSC_LOOP_PASS_H
#define NSC_LOOP_PASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loop/decision.h"
#include "loop/groups.h"
#include "loop/options.h"
#include "model/model.h"
#include "nsc_config.h"
#include "plugin/plugin.h"

/** What a pass works with. Everything is borrowed and outlives the passes. */
struct loop {
    const struct nsc_config *cfg;
    struct backend *backend;
};

/**
 * Plan with a model and groups (borrowed; m gains interned template names): scale-up with
 * o, then scale-down with sdo at now_s, as if every unneeded node had waited its unneeded
 * time and with the delay-after-add cooldown running when the same pass scales up. Fills
 * *out (zeroed first; owned: decision_free). Returns 0 or a negative status with err set.
 */
int loop_plan(struct model *m, const struct group_set *groups, const struct scaleup_options *o,
              const struct scaledown_options *sdo, int64_t now_s, struct decision *out,
              char *err, size_t err_len);

/** Whether a pass reads a cluster: a dump, a kubeconfig, or the API server of the pod it
 * runs in. Without any, only the backend's groups are known. */
bool loop_has_cluster(const struct nsc_config *cfg);

/** What the cluster is read from, for logs and headers: the dump's path, the kubeconfig's,
 * or "in-cluster". Borrowed from cfg. */
const char *loop_source(const struct nsc_config *cfg);

/**
 * One pass: refresh the backend and read its groups into *groups (zeroed first; owned:
 * group_set_free), check every --nodes NAME against them, read the cluster when there is
 * one (loop_has_cluster), plan, and apply unless --dry-run. *out (zeroed first; owned:
 * decision_free) holds the decision even when applying it failed, with each action's
 * outcome. Returns 0, or a negative status with err naming the step and the cause.
 */
int loop_pass(struct loop *l, struct group_set *groups, struct decision *out, char *err,
              size_t err_len);

#endif
