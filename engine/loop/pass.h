/* One pass of the autoscaler: refresh the backend, read the cluster, plan scale-up then
 * scale-down, apply, and hand the typed decision back for reporting. --once runs one pass;
 * the control loop runs them on a timer. */
#ifndef NSC_LOOP_PASS_H
#define NSC_LOOP_PASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/client.h"
#include "loop/decision.h"
#include "loop/gstate.h"
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

/**
 * The scale-up part of loop_plan alone: plan with m and groups (borrowed) and fill the
 * scale-up part and the summary of *out (zeroed first; owned: decision_free). The control
 * loop plans scale-down separately, with its own history. Returns 0 or a negative status
 * with err set.
 */
int loop_plan_scaleup(struct model *m, const struct group_set *groups,
                      const struct scaleup_options *o, struct decision *out, char *err,
                      size_t err_len);

/**
 * Load cfg->backend through the loader and create it with every --backend-opt and each
 * --nodes=MIN:MAX:NAME as the option nodes=MIN:MAX:NAME (refusing two bounds for one
 * group). *plugin_out and *out are owned by the caller (backend_destroy, then
 * plugin_unload). Returns 0 or a negative status with err naming the cause.
 */
int loop_backend_open(const struct nsc_config *cfg, struct plugin **plugin_out,
                      struct backend **out, char *err, size_t err_len);

/** Each --nodes NAME must be a group of set (borrowed), by id or name: NSC_ERR_INVALID with
 * err listing the groups otherwise. */
int loop_check_nodes(const struct nsc_config *cfg, const struct group_set *set, char *err,
                     size_t err_len);

/**
 * The priority expander's configuration when the --expander chain has `priority`: the
 * --expander-priority-config file, else the ConfigMap cluster-autoscaler-priority-expander
 * in --namespace read with kube (borrowed; NULL when there is no API server). *out
 * receives the owned text, NULL when the chain has no priority. Returns 0 or a negative
 * status with err naming where it looked and the problem.
 */
/**
 * Set m->kube_minor, which picks the scheduling rules that changed between Kubernetes
 * versions: from --kubernetes-version when given (already validated), else from the API
 * server's /version when kube (borrowed) is not NULL. A /version that cannot be read or
 * understood is logged as a warning and leaves the newest rules (kube_minor 0).
 */
void loop_kube_version(const struct nsc_config *cfg, struct kube_client *kube, struct model *m);

int loop_priority_config(const struct nsc_config *cfg, struct kube_client *kube, char **out,
                         char *err, size_t err_len);

/** The backend's absolute resize as decision_apply calls it; arg is a struct backend. */
int loop_resize(void *arg, const char *group_id, int32_t to, char *err, size_t err_len);

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

/**
 * The Nodes as the group state reads them (gstate_update): every node of the model, and
 * every Node it could not read (registered, not ready). Taint keys point into the model;
 * free *out and *keys_out. Returns 0 or NSC_ERR_NOMEM.
 */
int loop_gstate_nodes(const struct model *m, struct gstate_node **out, size_t *n_out,
                      const char ***keys_out);

#endif
