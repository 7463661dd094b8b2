# deploy: build rules, included from the top Makefile.am.
dist_noinst_DATA += deploy/examples/groups.json
dist_noinst_SCRIPTS += deploy/install-deps.sh
dist_noinst_SCRIPTS += deploy/demo.sh
dist_noinst_DATA += deploy/examples/cluster.json deploy/examples/cluster-groups.json
# Installing in a cluster: the Secret script and the kustomize manifests.
dist_noinst_SCRIPTS += deploy/generate-secret.sh
dist_noinst_DATA += deploy/manifests/base/kustomization.yaml \
	deploy/manifests/base/serviceaccount.yaml deploy/manifests/base/rbac.yaml \
	deploy/manifests/base/deployment.yaml deploy/manifests/base/poddisruptionbudget.yaml \
	deploy/manifests/sks/kustomization.yaml deploy/manifests/sks/deployment-patch.yaml \
	deploy/manifests/instance-pool/kustomization.yaml \
	deploy/manifests/instance-pool/deployment-patch.yaml
