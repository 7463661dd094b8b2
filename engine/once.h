/* One pass of the autoscaler for --once: set up the backend, run one pass of engine/loop
 * (read, decide, act unless --dry-run), and print the decision as text or JSON. */
#ifndef NSC_ONCE_H
#define NSC_ONCE_H

#include <stddef.h>
#include <stdio.h>

#include "nsc_config.h"

/**
 * The whole --once pass: load cfg->backend through the loader, create it with
 * cfg->backend_opts and each --nodes spec as a nodes=MIN:MAX:NAME option, run one
 * loop_pass (refresh, groups, the cluster from --cluster-snapshot, --kubeconfig, or
 * in-cluster when KUBERNETES_SERVICE_HOST is set, else only the groups; plan; apply unless
 * cfg->dry_run), and print its decision to out in cfg->output format. A pass whose
 * resize failed still prints its decision, that resize marked as not applied. Returns 0,
 * or a negative status with err naming the step and the cause (the caller exits 1).
 */
int once_run(const struct nsc_config *cfg, FILE *out, char *err, size_t err_len);

#endif
