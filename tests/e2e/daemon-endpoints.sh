#!/bin/sh
# What operators see over HTTP from a running daemon (sks backend, kube and Exoscale
# emulators, fake scheduler): a malformed --address exits 2 and a taken port 1; the port
# chosen for --address=127.0.0.1:0 is logged; /metrics is well-formed Prometheus text whose
# counters move after a scale-up; /explain names the pending pod that triggered it and the
# reasons for one no group can take; 405, 404 and 400 where due; /health-check turns 500
# while the cloud API hangs (no loop starts) and while every call fails, and 200 again
# once it answers. Every wait polls for its condition with a deadline.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
. "$top_srcdir/tests/e2e/cluster.sh"

bin="$top_builddir/nodescaler"

# ---- the command line, before any cluster ----
cl_work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-e2e-endpoints-cli.XXXXXX")
for bad in localhost:8085 127.0.0.1 '[::1]8085' :70000 1.2.3.4.5:80; do
    rc=0
    "$bin" --backend=static --address="$bad" >/dev/null 2>"$cl_work/err" || rc=$?
    [ "$rc" -eq 2 ] || fail "--address=$bad exited $rc, want 2"
    grep -q -- '--address' "$cl_work/err" || fail "--address=$bad: flag not named: $(cat "$cl_work/err")"
done
cl_say "ok: malformed --address values exit 2 naming the flag"
# A port already taken: exit 1 naming the address (before any backend or cluster).
python3 - "$bin" <<'PY' || fail "a taken port: see above"
import socket, subprocess, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
addr = "127.0.0.1:%d" % s.getsockname()[1]
r = subprocess.run([sys.argv[1], "--backend=static", "--address=" + addr],
                   capture_output=True, text=True, timeout=60)
if r.returncode != 1 or addr not in r.stderr:
    print("taken port %s: exit %d, stderr %r" % (addr, r.returncode, r.stderr))
    sys.exit(1)
PY
cl_say "ok: a taken port exits 1 naming the address"
rm -rf "$cl_work"
cl_work=""

cluster_start endpoints sks

# Short health limits so that a stuck or failing loop shows within seconds; a history long
# enough that the scale-up's loop is still kept when the test asks.
daemon_start ep --scan-interval=1s --leader-elect=false --max-inactivity=5s \
    --max-failing-time=3s --explain-history-loops=1000
port=$(sed -n 's/.*serving metrics, health and explain on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
    "$cl_work/ep.log" | head -n 1)
[ -n "$port" ] || fail "the daemon did not log the port it serves on"
url="http://127.0.0.1:$port"

# http_code [CURL-ARG...] PATH: the status of a request to the daemon.
http_code() {
    cl_path=$1
    shift
    curl -sS --max-time 15 -o "$cl_work/body" -w '%{http_code}' "$@" "$url$cl_path"
}
# metric SELECTOR: the value of the sample written exactly so (name{labels}), or nothing.
metric() {
    curl -sS --max-time 15 "$url/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
# metric_at_least SELECTOR N
metric_at_least() {
    cl_v=$(metric "$1")
    [ -n "$cl_v" ] && python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$cl_v" "$2"
}
health_is() {
    [ "$(http_code /health-check)" = "$1" ] && grep -q -- "$2" "$cl_work/body"
}
explain_has() {
    [ "$(http_code "/explain?pod=$1")" = 200 ] && grep -q -- "$2" "$cl_work/body"
}

wait_for "/health-check 200 after the first loops" "health_is 200 OK"

# Every sample belongs to a family announced by HELP then TYPE; histograms end in +Inf
# equal to their count.
curl -sS --max-time 15 "$url/metrics" >"$cl_work/metrics.txt"
python3 - "$cl_work/metrics.txt" <<'PY' || fail "/metrics is not well-formed: see above"
import re, sys
help_, type_, hist = set(), {}, {}
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    m = re.match(r"# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$", line)
    if m:
        (help_.add if m.group(1) == "HELP" else lambda k: type_.__setitem__(k, m.group(3)))(m.group(2))
        if m.group(1) == "TYPE" and m.group(2) not in help_:
            sys.exit("line %d: TYPE before HELP" % n)
        continue
    m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)$', line)
    if not m:
        sys.exit("line %d: not a sample: %r" % (n, line))
    name = m.group(1)
    fam = name if name in type_ else re.sub(r"_(bucket|sum|count)$", "", name)
    if fam not in type_:
        sys.exit("line %d: %s without HELP/TYPE" % (n, name))
    float(m.group(3))
    if name.endswith("_bucket") and 'le="+Inf"' in (m.group(2) or ""):
        hist[(fam, re.sub(r',?le="\+Inf"', "", m.group(2)))] = float(m.group(3))
    if name.endswith("_count") and type_.get(fam) == "histogram":
        if hist.get((fam, m.group(2) or "{}")) != float(m.group(3)):
            sys.exit("line %d: %s: +Inf bucket != count" % (n, name))
PY
cl_say "ok: /metrics is well-formed"
[ "$(metric cluster_autoscaler_scaled_up_nodes_total)" = 0 ] ||
    fail "scaled_up_nodes_total is $(metric cluster_autoscaler_scaled_up_nodes_total) before any scale-up"

# One pod only the GPU nodepool can take (0 -> 1), one no group can take.
pods_create 1 1 job gpu
pods_create 1 100 huge
wait_for "scaled_up_nodes_total counts the new node" \
    "metric_at_least cluster_autoscaler_scaled_up_nodes_total 1"
metric_at_least 'nodescaler_backend_calls_total{backend="sks",call="resize"}' 1 ||
    fail "no resize counted: $(metric 'nodescaler_backend_calls_total{backend="sks",call="resize"}')"
metric_at_least 'cluster_autoscaler_function_duration_seconds_count{function="main"}' 2 ||
    fail "loops not timed"
metric_at_least 'nodescaler_informer_objects{resource="pods"}' 2 || fail "pods not counted"
[ "$(metric 'cluster_autoscaler_node_groups_count{node_group_type="autoscaled"}')" = 2 ] ||
    fail "node_groups_count is not 2"
cl_say "ok: the counters moved after the scale-up"

wait_for "/explain names job-1 as having triggered the scale-up" \
    "explain_has default/job-1 'triggered scale-up'"
wait_for "/explain says why huge-1 triggers none" "explain_has default/huge-1 'no scale-up'"
grep -q "$cl_g1" "$cl_work/body" || fail "/explain?pod=default/huge-1 gives no reason per group"
[ "$(http_code /explain)" = 200 ] && grep -q '"loops"' "$cl_work/body" || fail "/explain"
[ "$(http_code '/explain?pod=default/nobody')" = 404 ] || fail "unknown pod not 404"
grep -q '"error"' "$cl_work/body" || fail "unknown pod: no JSON error"
[ "$(http_code '/explain?node=no-such-node')" = 404 ] || fail "unknown node not 404"
[ "$(http_code '/explain?pod=no-namespace')" = 400 ] || fail "malformed pod not 400"
[ "$(http_code '/explain?color=red')" = 400 ] || fail "unknown parameter not 400"
[ "$(http_code /metrics -X POST)" = 405 ] || fail "POST not 405"
curl -sS --max-time 15 -o /dev/null -D "$cl_work/headers" -X DELETE "$url/health-check"
grep -qi '^Allow: GET, HEAD' "$cl_work/headers" || fail "405 without Allow: $(cat "$cl_work/headers")"
[ "$(http_code /debug)" = 404 ] || fail "unknown path not 404"
[ "$(http_code /health-check -I)" = 200 ] || fail "HEAD /health-check not 200"
cl_say "ok: /explain lookups, 400, 404 and 405"

# The cloud API hangs: the loop blocks in the backend, no loop starts, the server answers.
exo_admin POST faults '{"kind":"slow","operation":"*","delay-ms":20000,"count":3}' >/dev/null ||
    fail "cannot inject the hang"
wait_for "/health-check 500 while the backend hangs" "health_is 500 'max-inactivity'"
exo_admin DELETE faults >/dev/null || fail "cannot clear the faults"
wait_for "/health-check 200 once the backend answers" "health_is 200 OK"

# Every cloud call fails: loops run and fail, errors_total counts them.
exo_admin POST faults '{"kind":"500","operation":"*","count":-1}' >/dev/null ||
    fail "cannot inject the failures"
wait_for "/health-check 500 while every loop fails" "health_is 500 'max-failing-time'"
# The backend retries a 500 for a while before the loop gives up: poll.
wait_for "errors_total counts the failed loop" \
    "metric_at_least 'cluster_autoscaler_errors_total{type=\"cloudProviderError\"}' 1"
wait_for "the loop after a failure counted as a retry" \
    "metric_at_least 'nodescaler_loops_total{trigger=\"retry\"}' 1"
exo_admin DELETE faults >/dev/null || fail "cannot clear the faults"
grep -q "$cl_secret" "$cl_work/ep.log" && fail "the secret was logged"
curl -sS --max-time 15 "$url/explain" | grep -q "$cl_secret" && fail "the secret was served"
daemon_stop ep
cl_say "ok"
