# tests/e2e: build rules, included from the top Makefile.am.

# nodescaler --once reads the cluster in-cluster when it runs in a pod.
TESTS += tests/e2e/once-in-cluster.sh
EXTRA_DIST += tests/e2e/once-in-cluster.sh
