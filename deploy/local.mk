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
dist_noinst_DATA += deploy/helm/nodescaler/Chart.yaml deploy/helm/nodescaler/values.yaml \
	deploy/helm/nodescaler/values.schema.json deploy/helm/nodescaler/README.md \
	deploy/helm/nodescaler/templates/_helpers.tpl \
	deploy/helm/nodescaler/templates/deployment.yaml \
	deploy/helm/nodescaler/templates/pdb.yaml \
	deploy/helm/nodescaler/templates/priority-expander-configmap.yaml \
	deploy/helm/nodescaler/templates/rbac.yaml \
	deploy/helm/nodescaler/templates/secret.yaml \
	deploy/helm/nodescaler/templates/service.yaml \
	deploy/helm/nodescaler/templates/serviceaccount.yaml \
	deploy/helm/nodescaler/templates/servicemonitor.yaml
# The image: Containerfile and the mmdebstrap-based build (needs podman or docker, or root
# with --rootfs-only).
dist_noinst_SCRIPTS += deploy/container/build.sh
dist_noinst_DATA += deploy/container/Containerfile
