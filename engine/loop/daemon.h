/* The control loop: nodescaler as a long-lived process (without --once), keeping the
 * cluster model current through watches and running a loop every --scan-interval. */
#ifndef NSC_LOOP_DAEMON_H
#define NSC_LOOP_DAEMON_H

#include <stddef.h>

#include "nsc_config.h"

/**
 * Run the autoscaler until SIGTERM or SIGINT: load the backend, connect to the API server
 * (--kubeconfig, else in-cluster), wait until every watched kind is listed, take the lease
 * (--leader-elect) and, while leading, loop: refresh the groups, track failed scale-ups,
 * grow groups for unschedulable pods, and remove unneeded nodes through drains. With
 * cfg->dry_run every action is logged and nothing is written to the cluster or the cloud
 * (no lease either). Installs handlers for SIGTERM and SIGINT; cfg is borrowed.
 *
 * Returns 0 after a stop by signal (drains rolled back, lease released), or a negative
 * status with err naming what could not be set up (backend, kube client, first sync
 * within its deadline, options).
 */
int loop_daemon_run(const struct nsc_config *cfg, char *err, size_t err_len);

#endif
