# tests/e2e: build rules, included from the top Makefile.am.

# nodescaler --once reads the cluster in-cluster when it runs in a pod.
TESTS += tests/e2e/once-in-cluster.sh
EXTRA_DIST += tests/e2e/once-in-cluster.sh

# --nodes given twice for a group, or to a backend that takes no bounds.
TESTS += tests/e2e/once-nodes.sh
EXTRA_DIST += tests/e2e/once-nodes.sh

# The daemon scenarios' library (cluster.sh) and the emulators' knobs, checked with --once.
TESTS += tests/e2e/daemon-harness.sh
EXTRA_DIST += tests/e2e/cluster.sh tests/e2e/daemon-harness.sh
