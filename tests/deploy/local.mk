# tests/deploy: the install kit (deploy/manifests, deploy/helm, deploy/generate-secret.sh),
# included from the top Makefile.am.

# Both manifest variants render (tests/deploy/render.py: the kustomize subset they use)
# and keep their promises: security settings, probe, credentials, backend, known flags.
TESTS += tests/deploy/manifests.sh
EXTRA_DIST += tests/deploy/manifests.sh tests/deploy/render.py tests/deploy/check-manifests.py

# deploy/generate-secret.sh with a fake kubectl: values on stdin only, empty ones refused.
TESTS += tests/deploy/generate-secret.sh
EXTRA_DIST += tests/deploy/generate-secret.sh

# Both variants accepted by the real kube-apiserver v1.20.2 with server-side dry run.
TESTS += tests/deploy/dry-run.sh
EXTRA_DIST += tests/deploy/dry-run.sh tests/deploy/apply-dry-run.py

# The Helm chart, rendered by a renderer built from Debian's Go packages, checked, and
# accepted by the real kube-apiserver with server-side dry run (defaults and values-ha.yaml).
TESTS += tests/deploy/helm.sh
EXTRA_DIST += tests/deploy/helm.sh tests/deploy/values-ha.yaml \
	tests/deploy/chart-render/render.go tests/deploy/chart-render/deps.sh
CLEANFILES += tests/deploy/nsc-chart-render

# RBAC against use: every test records the kube emulator's requests (when it starts one)
# in tests/<dir>/<name>.requests, and rbac.sh compares the manifests' rules with those of
# the scenarios below, which therefore run first.
AM_TESTS_ENVIRONMENT += \
	NSC_KUBE_REQUEST_LOG='$(abs_top_builddir)/$(@:.log=.requests)'; \
	export NSC_KUBE_REQUEST_LOG; rm -f "$$NSC_KUBE_REQUEST_LOG";
TESTS += tests/deploy/rbac.sh
EXTRA_DIST += tests/deploy/rbac.sh tests/deploy/rbac-check.py
tests/deploy/rbac.log: tests/e2e/daemon-scale-up.log tests/e2e/daemon-scale-down.log \
	tests/e2e/daemon-leader.log tests/e2e/daemon-restart.log \
	tests/unit/priority-configmap.log
CLEANFILES += tests/*/*.requests
