#!/bin/sh
# No credential leaves nodescaler: the daemon and --once run at --v=10 against the
# emulators with a recognisable Exoscale API key and secret, a bearer token and a
# kubeconfig client key, also on the error paths (401, 403 and 500 answers from both
# APIs, TLS spoken to a plain-http server, an unreachable address, a server that echoes
# the credentials in error pages and redirects). Every output of
# nodescaler and everything it wrote to the cluster (the kube emulator's write log and the
# objects at those paths: events, ConfigMaps, Nodes, the lease) is then searched for each
# credential; none may appear. The emulators' own logs are theirs, not searched.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
. "$top_srcdir/tests/e2e/cluster.sh"

cluster_start secrets sks
out=$cl_work/collected
mkdir "$out"

bad_secret=wrong-secret-Vn4Bq8Xz2Lk6Pw0Rt5Ys3Hm7
unknown_key=EXO7e57a11c0ffee5ca1ab1e0000
bad_token=wrong-bearer-Qz8Lp3Wv6Nk1Xr4Tj7Hs2Bm5
key_marker=NSCe2eClientKeyMaterialC0ffee0ddBa11F00d5eed
key_pem=$(printf -- '-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n' "$key_marker")
key_b64=$(printf '%s' "$key_pem" | base64 -w0)
cert_b64=$(printf -- '-----BEGIN CERTIFICATE-----\nMIIBnsc\n-----END CERTIFICATE-----\n' |
    base64 -w0)

# kubeconfig FILE SERVER TOKEN: the cluster's kubeconfig with a client certificate and key
# (ignored over http, but loaded and registered like any other).
kubeconfig() {
    (
        umask 077
        cat >"$1" <<KC
apiVersion: v1
kind: Config
current-context: e2e
clusters:
- name: emu
  cluster:
    server: $2
users:
- name: e2e
  user:
    token: $3
    client-certificate-data: $cert_b64
    client-key-data: $key_b64
contexts:
- name: e2e
  context: {cluster: emu, user: e2e, namespace: default}
KC
    )
}
kube_port=${cl_kube_url##*:}
exo_port=$(cat "$cl_work/exo.port")
kubeconfig "$cl_work/kc-good" "$cl_kube_url" "$cl_kube_token"
kubeconfig "$cl_work/kc-badtoken" "$cl_kube_url" "$bad_token"
kubeconfig "$cl_work/kc-tls" "https://127.0.0.1:$kube_port" "$cl_kube_token"
kubeconfig "$cl_work/kc-unreachable" "http://127.0.0.1:1" "$cl_kube_token"

# A server that echoes what it is sent, as a verbose proxy or a login page would: error
# pages quoting the Authorization header so that the credential straddles the cut of an
# error excerpt (kube: 200 bytes; Exoscale: 400), and redirects whose Location carries
# user info, the credential in the path and a token in the query.
python3 - "$cl_work/echo.port" "$cl_kube_token" >"$cl_work/echo.log" 2>&1 <<'PY' &
import http.server, json, sys
port_file, token = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        auth = self.headers.get("Authorization", "")
        if self.path.startswith("/echo/"):
            body = "<html>" + "p" * 170 + "Authorization: " + auth + " </html>"
            self.reply(500, "text/html", body)
        elif self.path.startswith("/exo-echo/"):
            body = json.dumps({"message": "p" * 367 + " " + auth})
            self.reply(403, "application/json", body)
        elif self.path.startswith("/redirect/"):
            self.reply(302, "text/html", "moved",
                       "http://admin:pw@login.example/sso?token=" + token)
        elif self.path.startswith("/exo-redirect/"):
            key = auth.split("credential=")[-1].split(",")[0]
            self.reply(302, "text/html", "moved", "http://login.example/for/" + key + "?k=" + key)
        else:
            self.reply(404, "text/plain", "no")
    def reply(self, code, ctype, body, location=None):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(data)
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
PY
cl_pids="$! $cl_pids"
cl_wait_file "$cl_work/echo.port" "the echo server"
echo_url=http://127.0.0.1:$(cat "$cl_work/echo.port")
kubeconfig "$cl_work/kc-echo" "$echo_url/echo" "$cl_kube_token"
kubeconfig "$cl_work/kc-redirect" "$echo_url/redirect" "$cl_kube_token"

# once NAME KUBECONFIG [VAR=VALUE...] -- [FLAG...]: one --once pass at --v=10, stdout and
# stderr kept apart in $out; its exit status does not matter (most runs fail on purpose),
# but it must end within its deadline.
once() {
    o_name=$1 o_kc=$2
    shift 2
    o_env=""
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        o_env="$o_env $1"
        shift
    done
    [ $# -eq 0 ] || shift
    o_rc=0
    # shellcheck disable=SC2086
    env EXOSCALE_API_KEY="$cl_key" EXOSCALE_API_SECRET="$cl_secret" $o_env \
        timeout 150 "$top_builddir/nodescaler" --backend=sks --kubeconfig="$o_kc" \
        $cl_nodes_flags --v=10 --once "$@" >"$out/$o_name.stdout" 2>"$out/$o_name.stderr" ||
        o_rc=$?
    [ "$o_rc" -ne 124 ] || fail "nodescaler --once ($o_name) ran past its 150 s"
    cl_say "ran $o_name: exit $o_rc, $(wc -c <"$out/$o_name.stderr") bytes of log"
}

# Pending pods, so that the good runs scale, post events and write the status ConfigMap.
pods_create 3 1500m web

# The daemon, served endpoints included when it serves them.
DAEMON_KEY=$cl_key DAEMON_SECRET=$cl_secret
cl_kubeconfig_saved=$cl_kubeconfig
cl_kubeconfig=$cl_work/kc-good
daemon_start daemon --v=10 --address=127.0.0.1:0 --scan-interval=2s
daemon_wait_loops daemon 2
port=$(sed -n 's/.*serving metrics, health and explain on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
    "$cl_work/daemon.log" | head -n 1)
[ -n "$port" ] || fail "the daemon logged no 'serving metrics, health and explain on' port"
for p in metrics explain health-check; do
    curl -sS --max-time 15 "http://127.0.0.1:$port/$p" >"$out/served-$p" 2>&1 ||
        fail "GET /$p of the daemon failed: $(cat "$out/served-$p")"
done
grep -q '^cluster_autoscaler_' "$out/served-metrics" || fail "/metrics served no metric"
daemon_stop daemon
cl_kubeconfig=$cl_kubeconfig_saved

# Good runs and every error path.
once good "$cl_work/kc-good" -- --dry-run
once good-real "$cl_work/kc-good"
once kube-401 "$cl_work/kc-badtoken"
kube_admin /admin/fault '{"status":403,"count":-1}'
once kube-403 "$cl_work/kc-good"
kube_admin /admin/clear-faults
kube_admin /admin/fault '{"status":500,"count":-1}'
once kube-500 "$cl_work/kc-good"
kube_admin /admin/clear-faults
once kube-tls "$cl_work/kc-tls"
once kube-unreachable "$cl_work/kc-unreachable"
once exo-401 "$cl_work/kc-good" EXOSCALE_API_SECRET="$bad_secret" -- --dry-run
once exo-403 "$cl_work/kc-good" EXOSCALE_API_KEY="$unknown_key" -- --dry-run
exo_admin POST faults '{"kind":"500","operation":"*","count":-1}' >/dev/null ||
    fail "cannot add a 500 fault"
once exo-500 "$cl_work/kc-good" -- --dry-run
exo_admin DELETE faults >/dev/null || fail "cannot clear the Exoscale faults"
once exo-tls "$cl_work/kc-good" EXOSCALE_API_ENDPOINT="https://127.0.0.1:$exo_port/v2" -- --dry-run
once kube-echo "$cl_work/kc-echo"
once kube-redirect "$cl_work/kc-redirect"
once exo-echo "$cl_work/kc-good" EXOSCALE_API_ENDPOINT="$echo_url/exo-echo/v2" -- --dry-run
once exo-redirect "$cl_work/kc-good" EXOSCALE_API_ENDPOINT="$echo_url/exo-redirect/v2" -- --dry-run
once exo-unreachable "$cl_work/kc-good" EXOSCALE_API_ENDPOINT="http://127.0.0.1:1/v2" -- --dry-run

# What nodescaler left in the cluster: the write log and the objects at those paths.
kube_curl -f "$cl_kube_url/admin/writes" >"$out/kube-writes.json" || fail "no write log"
python3 - "$out/kube-writes.json" >"$out/kube-paths" <<'PY'
import json, sys
seen = set()
for w in json.load(open(sys.argv[1]))["writes"]:
    p = w["path"].split("?")[0]
    if p.endswith("/status") or p.endswith("/eviction"):
        p = p.rsplit("/", 1)[0]
    if p not in seen:
        seen.add(p)
        print(p)
PY
i=0
for p in $(cat "$out/kube-paths") /api/v1/nodes /api/v1/namespaces/default/events \
    /api/v1/namespaces/kube-system/configmaps /api/v1/namespaces/default/configmaps; do
    i=$((i + 1))
    kube_curl "$cl_kube_url$p" >"$out/kube-object-$i.json" 2>&1 || true
done
cp "$cl_work/daemon.log" "$out/daemon.log"
[ "$(grep -c . "$out/kube-paths")" -gt 0 ] || fail "nodescaler wrote nothing to the cluster"
grep -q 'Starting main loop' "$out/daemon.log" || fail "the daemon log holds no loop"

# The search. Every credential, and the client key's PEM and base64 forms.
n_files=$(find "$out" -type f | wc -l)
n_bytes=$(find "$out" -type f -exec cat {} + | wc -c)
cl_say "searching $n_files files, $n_bytes bytes"
[ "$n_files" -gt 10 ] && [ "$n_bytes" -gt 10000 ] ||
    fail "too little to search: $n_files files, $n_bytes bytes"
# search DIR: prints each credential found under DIR with where; returns 1 if any.
search() {
    s_found=0
    for s in "$cl_key" "$cl_secret" "$cl_kube_token" "$bad_secret" "$unknown_key" \
        "$bad_token" "$key_marker" "$key_b64"; do
        if grep -rlF -- "$s" "$1" >"$cl_work/hits"; then
            s_found=1
            echo "LEAK: ${s%"${s#????}"}... in:"
            sed 's/^/    /' "$cl_work/hits"
            grep -rhF -- "$s" "$1" | head -n 3 | cut -c1-300
        fi
    done
    return $s_found
}
# The search must be able to fail: each credential planted in a file is found.
mkdir "$cl_work/planted"
for s in "$cl_key" "$cl_secret" "$cl_kube_token" "$bad_secret" "$unknown_key" "$bad_token" \
    "$key_marker" "$key_b64"; do
    printf 'I1206 log line ... %s ...\n' "$s" >"$cl_work/planted/one"
    if search "$cl_work/planted" >/dev/null; then
        fail "the search missed a planted credential"
    fi
done
leaks=0
search "$out" || leaks=1
# The runs did reach the error paths they were meant for.
grep -q '500 InternalError: <html>pppp' "$out/kube-echo.stderr" || fail "kube-echo: no error page"
grep -q 'redirected to http://\[redacted\]@login.example/sso' "$out/kube-redirect.stderr" ||
    fail "kube-redirect: no redirect reported"
grep -q 'HTTP 403: pppp' "$out/exo-echo.stderr" || fail "exo-echo: no error page"
grep -q 'HTTP 302 Found, redirected to http://login.example/for/' "$out/exo-redirect.stderr" ||
    fail "exo-redirect: no redirect reported"
grep -qE '401|Unauthorized' "$out/kube-401.stderr" || fail "kube-401 logged no 401"
grep -qE '500|InternalError' "$out/kube-500.stderr" || fail "kube-500 logged no 500"
grep -qE 'HTTP 40[13]' "$out/exo-401.stderr" "$out/exo-401.stdout" ||
    fail "exo-401 logged no 401/403"
[ $leaks -eq 0 ] || fail "credentials leaked (above)"
cl_say "ok: no credential in $n_files files, $n_bytes bytes"
echo "ok"
