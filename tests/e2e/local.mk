# tests/e2e: build rules, included from the top Makefile.am.

# nodescaler --once reads the cluster in-cluster when it runs in a pod.
TESTS += tests/e2e/once-in-cluster.sh
EXTRA_DIST += tests/e2e/once-in-cluster.sh

# --nodes given twice for a group, or to a backend that takes no bounds.
TESTS += tests/e2e/once-nodes.sh
EXTRA_DIST += tests/e2e/once-nodes.sh

# The control loop (no --once) with the kube and Exoscale emulators and the fake scheduler:
# one scale-up per set of pending pods, SIGTERM, and a dry run that writes nothing.
TESTS += tests/e2e/daemon-scale-up.sh
EXTRA_DIST += tests/e2e/daemon-scale-up.sh tests/e2e/fake-scheduler.py

# The control loop's start: refused flag combinations, SIGTERM before the first list.
TESTS += tests/e2e/daemon-start.sh
EXTRA_DIST += tests/e2e/daemon-start.sh

# The daemon scenarios' library (cluster.sh) and the emulators' knobs, checked with --once.
TESTS += tests/e2e/daemon-harness.sh
EXTRA_DIST += tests/e2e/cluster.sh tests/e2e/daemon-harness.sh

# Two daemon replicas: one leads and scales; after a SIGKILL the other takes the lease.
TESTS += tests/e2e/daemon-leader.sh
EXTRA_DIST += tests/e2e/daemon-leader.sh

# A daemon restart: stale deletion taints are cleared, unneeded-since times are kept.
TESTS += tests/e2e/daemon-restart.sh
EXTRA_DIST += tests/e2e/daemon-restart.sh

# The control loop shrinking a group: a node freed of its load is tainted, drained, evicted
# from its pool; a PodDisruptionBudget that closes during the drain fails it and the node
# is untainted. Both backends; SIGTERM at the end.
TESTS += tests/e2e/daemon-scale-down.sh
EXTRA_DIST += tests/e2e/daemon-scale-down.sh

# /metrics, /health-check and /explain of a running daemon: counters after a scale-up, the
# pending pods explained, 400/404/405, health turning 500 while the cloud hangs or fails.
TESTS += tests/e2e/daemon-endpoints.sh
EXTRA_DIST += tests/e2e/daemon-endpoints.sh
# No credential (Exoscale key and secret, bearer token, kubeconfig client key) in any log,
# output or object nodescaler writes, on the good paths and the error paths of both APIs.
TESTS += tests/e2e/secrets.sh
EXTRA_DIST += tests/e2e/secrets.sh

# Scale-down is held while a watched resource must be listed again, and resumes after.
TESTS += tests/e2e/daemon-stale.sh
EXTRA_DIST += tests/e2e/daemon-stale.sh

# The control loop grows an empty nodepool or pool from zero, once, on both backends.
TESTS += tests/e2e/daemon-from-zero.sh
EXTRA_DIST += tests/e2e/daemon-from-zero.sh

# Machines that never register: after --max-node-provision-time the group is backed off,
# not grown again, and another group that fits is tried.
TESTS += tests/e2e/daemon-provision.sh
EXTRA_DIST += tests/e2e/daemon-provision.sh

# The control loop under Exoscale 500s, resets and timeouts and kube 500s, 410s and
# dropped watches: one scale-up for the pods, no node removed, recovery.
TESTS += tests/e2e/daemon-faults.sh
EXTRA_DIST += tests/e2e/daemon-faults.sh

# Events and the status ConfigMap the daemon writes for a scale-up and a pod nothing helps.
TESTS += tests/e2e/daemon-status.sh
EXTRA_DIST += tests/e2e/daemon-status.sh
