#!/bin/sh
# A scale-up whose machines run but never register as Nodes (the Exoscale emulator's
# never-register fault), with the instance-pool backend and two pools that both fit the
# pending pod: the daemon waits --max-node-provision-time, then treats the scale-up as
# failed (the group is backed off and its machine removed), does not grow that group
# again while it is backed off, and tries the other pool, which fails the same way.
# With the sks backend the pod fits only the GPU nodepool: after its failure nothing else
# is grown. Every wait polls with a deadline.
# Run time: 6.5 min measured on 2 loaded cores, run beside another e2e (both backends;
# most of it is set-up).
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
. "$top_srcdir/tests/e2e/cluster.sh"

provision_s=15

log_has() { grep -q -- "$1" "$cl_work/prov.log"; }

scale_op() {
    if [ "$cl_backend" = sks ]; then echo scale-sks-nodepool; else echo scale-instance-pool; fi
}

# scaled_groups: the groups :scale was accepted for, sorted, one a line.
scaled_groups() {
    exo_admin GET state | cl_json "'\\n'.join(sorted(o['reference']['id'] for o in d['operations'] if o['reference']['command'] == '$(scale_op)'))"
}

# resize_gap_ok: the loop that grew the second group started at least the provision time
# after the loop that grew the first (each loop reads its clock as it starts).
resize_gap_ok() {
    python3 - "$cl_work/prov.log" "$provision_s" <<'PY'
import re, sys
def ts(line):
    m = re.match(r"[IWE]\d{4} (\d\d):(\d\d):(\d\d\.\d+) ", line)
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else None
start, t = None, []
for line in open(sys.argv[1]):
    if "Starting main loop" in line:
        start = ts(line)
    elif "] resized group " in line and start is not None:
        t.append(start)
if len(t) < 2:
    sys.exit("want 2 resizes, logged %d" % len(t))
gap = (t[1] - t[0]) % 86400
if gap < float(sys.argv[2]) - 0.5:
    sys.exit("the second group was grown %.1f s after the first, before the provision time" % gap)
print("%.1f" % gap)
PY
}

provision() {
    cluster_start "provision-$1" "$1"
    # No machine of either group ever becomes a Node from now on.
    exo_admin POST faults '{"kind":"never-register","pool":"*","count":-1}' >/dev/null ||
        fail "cannot set the never-register fault"
    if [ "$cl_backend" = instance-pool ]; then
        pods_create 1 1500m base node="$(nodes_of "$cl_g1")"
        pods_create 1 1500m job
    else
        pods_create 1 1 job gpu
    fi
    wait_for "job-1 pending" "[ \$(pods_pending job) -eq 1 ]"
    writes_reset
    daemon_start prov --scan-interval=1s --address=127.0.0.1:0 \
        --max-node-provision-time=${provision_s}s --initial-node-group-backoff-duration=10m \
        --scale-down-enabled=false
    wait_for "a first :scale" "[ \$(exo_calls $(scale_op)) -ge 1 ]"
    wait_for "the failed scale-up noticed" "log_has 'is backed off for .* (timeout)'"
    wait_for "the machine that never registered removed" "[ \$(exo_writes) -gt \$(exo_calls $(scale_op)) ]"
    if [ "$cl_backend" = instance-pool ]; then
        wait_for "the other pool tried" "[ \$(scaled_groups | sort -u | wc -l) -eq 2 ]"
        gap=$(resize_gap_ok 2>&1) || fail "$gap"
        cl_say "ok: the other pool grown $gap s after the first"
        wait_for "the second group backed off too" \
            "log_has 'group $cl_g1 is backed off' && log_has 'group $cl_g2 is backed off'"
    fi
    # Both (or the only fitting) groups backed off: whole loops without a new :scale.
    n=$(exo_calls "$(scale_op)")
    daemon_wait_loops prov 10
    [ "$(exo_calls "$(scale_op)")" -eq "$n" ] || fail "a group was grown again while backed off"
    dup=$(scaled_groups | uniq -d)
    [ -z "$dup" ] || fail "grown twice: $dup ($(scaled_groups | tr '\n' ' '))"
    log_has "is backed off for" || fail "no log of the back-off"
    [ "$(pods_pending job)" -eq 1 ] || fail "job-1 was bound"
    daemon_alive prov || fail "the daemon exited"
    if [ "$cl_backend" = sks ]; then
        [ "$(scaled_groups)" = "$cl_g2" ] || fail "grown: $(scaled_groups), want only $cl_g2"
    fi
    daemon_stop prov
    cl_say "ok: $cl_backend: groups grown once each ($(scaled_groups | tr '\n' ' ')), backed off"
}

(provision instance-pool)
(provision sks)
echo "ok"
