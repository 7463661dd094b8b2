# deploy: build rules, included from the top Makefile.am.
dist_noinst_DATA += deploy/examples/groups.json
dist_noinst_SCRIPTS += deploy/install-deps.sh
dist_noinst_SCRIPTS += deploy/demo.sh
dist_noinst_DATA += deploy/examples/cluster.json deploy/examples/cluster-groups.json
dist_noinst_DATA += deploy/kubernetes/rbac.yaml
