#!/bin/sh
# Differential test of the scheduling simulation: runs etcd, kube-apiserver and
# kube-scheduler v1.20.2 on 127.0.0.1 and lets schedcheck replay every scenario under
# tests/data/schedcheck/ against them and against engine/sim. Fails (never skips) when
# the binaries cannot be had: the comparison must run in CI.
set -eu

src=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${top_builddir:-.}
prog="$bld/tests/schedcheck/schedcheck"
log() { echo "schedcheck.sh: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

[ -x "$prog" ] || fail "$prog is not built (run make check)"
apiserver=$(sh "$src/tests/kube-apiserver/build.sh" kube-apiserver) ||
    fail "no kube-apiserver v1.20.2: run tests/kube-apiserver/build.sh as root once (apt-get), or provide it in ${NSC_KUBE_CACHE:-/var/cache/nodescaler}"
scheduler=$(sh "$src/tests/kube-apiserver/build.sh" kube-scheduler) ||
    fail "no kube-scheduler v1.20.2: run tests/kube-apiserver/build.sh kube-scheduler as root once (apt-get), or provide it in ${NSC_KUBE_CACHE:-/var/cache/nodescaler}"
etcd=$(command -v etcd || echo /usr/bin/etcd)
[ -x "$etcd" ] || fail "no etcd (Debian package etcd-server)"
command -v openssl >/dev/null || fail "no openssl"
command -v curl >/dev/null || fail "no curl"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/schedcheck.XXXXXX")
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

dump_logs() {
    for f in etcd apiserver scheduler; do
        log "last lines of $f's log:"
        tail -n 20 "$tmp/$f.log" >&2 || true
    done
}

# shellcheck disable=SC2046
set -- $("$prog" --free-ports 3)
etcd_port=$1 peer_port=$2 api_port=$3

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/tls.key" -out "$tmp/tls.crt" \
    >/dev/null 2>&1 || fail "openssl could not make a certificate"
openssl genrsa -out "$tmp/sa.key" 2048 >/dev/null 2>&1 || fail "openssl could not make a key"
token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$token" >"$tmp/token"
printf '%s,admin,admin-uid,system:masters\n' "$token" >"$tmp/tokens.csv"
cat >"$tmp/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $tmp/tls.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
KC

"$etcd" --name schedcheck --data-dir "$tmp/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "schedcheck=http://127.0.0.1:$peer_port" >"$tmp/etcd.log" 2>&1 &
pids="$pids $!"

# TaintNodesByCondition would taint every new node not-ready (no kubelet here); no
# controller creates default service accounts.
"$apiserver" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="$api_port" --etcd-servers="http://127.0.0.1:$etcd_port" \
    --tls-cert-file="$tmp/tls.crt" --tls-private-key-file="$tmp/tls.key" \
    --client-ca-file="$tmp/tls.crt" --token-auth-file="$tmp/tokens.csv" \
    --authorization-mode=RBAC --service-account-issuer=https://127.0.0.1 \
    --service-account-key-file="$tmp/sa.key" \
    --service-account-signing-key-file="$tmp/sa.key" \
    --service-cluster-ip-range=10.96.0.0/16 --endpoint-reconciler-type=none \
    --disable-admission-plugins=ServiceAccount,TaintNodesByCondition \
    >"$tmp/apiserver.log" 2>&1 &
pids="$pids $!"

i=0
until curl -sf --cacert "$tmp/tls.crt" -H "Authorization: Bearer $token" \
    "https://127.0.0.1:$api_port/readyz" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 120 ]; then
        dump_logs
        fail "kube-apiserver not ready after 60 s"
    fi
    sleep 0.5
done

"$scheduler" --kubeconfig="$tmp/kubeconfig" --leader-elect=false --port=0 \
    --secure-port=0 >"$tmp/scheduler.log" 2>&1 &
sched_pid=$!
pids="$pids $sched_pid"
sleep 1
kill -0 "$sched_pid" 2>/dev/null || { dump_logs; fail "kube-scheduler exited at start"; }

status=0
"$prog" --server "https://127.0.0.1:$api_port" --token-file "$tmp/token" \
    --cacert "$tmp/tls.crt" "$src"/tests/data/schedcheck/*.json || status=$?
if [ $status -ne 0 ]; then
    dump_logs
    fail "the simulation and kube-scheduler v1.20.2 disagree (see MISMATCH lines above)"
fi
exit 0
