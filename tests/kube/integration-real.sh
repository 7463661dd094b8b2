#!/bin/sh
# Runs the Kubernetes client's integration suite against a real kube-apiserver v1.20.2
# and etcd on 127.0.0.1 (built once from Debian's source package and cached outside the
# tree by tests/kube-apiserver/build.sh). Skipped (77) with NSC_SKIP_REAL_APISERVER=1, or
# when neither root (to install and build) nor a cached binary is available.
set -eu
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
here=$top_srcdir/tests/kube-apiserver
if [ -n "${NSC_SKIP_REAL_APISERVER:-}" ]; then
    echo "NSC_SKIP_REAL_APISERVER set: skipped"
    exit 77
fi
if [ "$(id -u)" != 0 ] && ! [ -x "${NSC_KUBE_CACHE:-/var/cache/nodescaler}/kube-apiserver-v1.20.2" ]; then
    echo "not root and no cached kube-apiserver: skipped (run tests/kube-apiserver/build.sh as root)"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-it-real.XXXXXX")
cleanup() {
    sh "$here/stop.sh" "$work"
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
sh "$here/start.sh" "$work"
NSC_IT_KUBECONFIG=$work/admin.kubeconfig
NSC_IT_UNBOUND_KUBECONFIG=$work/unbound.kubeconfig
NSC_IT_TOKENFILE_KUBECONFIG=$work/tokenfile.kubeconfig
NSC_IT_EXPIRE_CMD="sh $here/restart-apiserver.sh $work"
NSC_IT_NAME=kube-integration-real
export NSC_IT_KUBECONFIG NSC_IT_UNBOUND_KUBECONFIG NSC_IT_TOKENFILE_KUBECONFIG NSC_IT_EXPIRE_CMD NSC_IT_NAME
"$top_builddir/tests/kube/test_kube_integration"
