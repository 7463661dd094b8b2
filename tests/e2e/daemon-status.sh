#!/bin/sh
# What operators see in the cluster: a daemon on the emulators grows the general nodepool
# for a pending pod and says so with Events (TriggeredScaleUp on the pod, ScaledUpGroup on
# the status ConfigMap, NotTriggerScaleUp with the reason per group on a pod too big for
# any group) and the status ConfigMap cluster-autoscaler-status, which shows the new target
# and is not rewritten while nothing changes; a bad --status-config-map-name stops the
# start. Every wait polls with a deadline.
set -eu
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
. "$top_srcdir/tests/e2e/cluster.sh"

cm_path=/api/v1/namespaces/kube-system/configmaps/cluster-autoscaler-status

# events NS: the Events of a namespace, one "REASON KIND NAME TYPE|MESSAGE" a line.
events() {
    kube_api GET "/api/v1/namespaces/$1/events" |
        cl_json "'\\n'.join('%s %s %s %s|%s' % (e['reason'], e['involvedObject']['kind'], e['involvedObject']['name'], e['type'], e['message']) for e in d['items'])"
}
# has_event NS REASON KIND NAME: such an Event exists.
has_event() { events "$1" | grep -q "^$2 $3 $4 "; }
event_message() { events "$1" | sed -n "s/^$2 $3 $4 [A-Za-z]*|//p" | head -n 1; }
status_text() { kube_api GET "$cm_path" | cl_json 'd["data"]["status"]'; }
status_rv() { kube_api GET "$cm_path" | cl_json 'd["metadata"]["resourceVersion"]'; }
# pods_settled PREFIX N: N pods of PREFIX, each bound or marked Unschedulable.
pods_settled() {
    kube_api GET "/api/v1/namespaces/default/pods?labelSelector=app%3D$1" |
        cl_json "len(d['items']) == $2 and all(p['spec'].get('nodeName') or any(c.get('reason') == 'Unschedulable' for c in p.get('status', {}).get('conditions', [])) for p in d['items'])" |
        grep -qx True
}

# A status ConfigMap name the API server would refuse stops the start, naming the flag,
# before any cluster or cloud is contacted.
rc=0
"$top_builddir/nodescaler" --backend=static \
    --backend-opt="groups=$top_srcdir/tests/data/replay/groups.json" \
    --status-config-map-name=Bad_Name >/dev/null 2>"${TMPDIR:-/tmp}/nsc-status-$$.err" || rc=$?
err=$(cat "${TMPDIR:-/tmp}/nsc-status-$$.err")
rm -f "${TMPDIR:-/tmp}/nsc-status-$$.err"
[ "$rc" -eq 1 ] || { echo "FAIL: a bad --status-config-map-name exited $rc, want 1: $err"; exit 1; }
case $err in
*'--status-config-map-name="Bad_Name": not a ConfigMap name'*) ;;
*) echo "FAIL: a bad --status-config-map-name says: $err"; exit 1 ;;
esac
echo "ok: --status-config-map-name=Bad_Name refused"

cluster_start status sks

# Two pods of 1.5 CPU: one fits the general machine (2 CPUs), the other needs a new one.
# One pod of 64 CPUs fits no machine of any group.
pods_create 2 1500m web
pods_create 1 64 huge
wait_for "web pods bound or unschedulable" "pods_settled web 2"
wait_for "huge pod unschedulable" "pods_settled huge 1"
pending=$(kube_api GET "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb" |
    cl_json "[p['metadata']['name'] for p in d['items'] if not p['spec'].get('nodeName')][0]")

daemon_start d1 --scan-interval=2s
wait_for "the general nodepool grown" "[ \"\$(group_size $cl_g1)\" -ge 2 ]"
wait_for "TriggeredScaleUp on $pending" "has_event default TriggeredScaleUp Pod $pending"
msg=$(event_message default TriggeredScaleUp Pod "$pending")
case $msg in
"pod triggered scale-up: [{$cl_g1 1->2 (max: 5)}]") ;;
*) fail "TriggeredScaleUp says \"$msg\"" ;;
esac
cl_say "ok: TriggeredScaleUp on $pending: $msg"

wait_for "NotTriggerScaleUp on huge-1" "has_event default NotTriggerScaleUp Pod huge-1"
msg=$(event_message default NotTriggerScaleUp Pod huge-1)
case $msg in
"pod didn't trigger scale-up: group $cl_g1: "*"; group $cl_g2: "*) ;;
*) fail "NotTriggerScaleUp says \"$msg\", want a reason for each group" ;;
esac
cl_say "ok: NotTriggerScaleUp on huge-1: $msg"

wait_for "ScaledUpGroup on the status ConfigMap" \
    "has_event kube-system ScaledUpGroup ConfigMap cluster-autoscaler-status"
msg=$(event_message kube-system ScaledUpGroup ConfigMap cluster-autoscaler-status)
[ "$msg" = "Scale-up: setting group $cl_g1 size to 2 instead of 1 (max: 5)" ] ||
    fail "ScaledUpGroup says \"$msg\""
cl_say "ok: ScaledUpGroup: $msg"

# The status ConfigMap shows the new target of the general group.
wait_for "status ConfigMap with the new target" \
    "status_text | python3 -c 'import sys, yaml; s = yaml.safe_load(sys.stdin); g = [g for g in s[\"nodeGroups\"] if g[\"name\"] == \"$cl_g1\"][0]; sys.exit(0 if s[\"autoscalerStatus\"] == \"Running\" and g[\"health\"][\"cloudProviderTarget\"] == 2 else 1)'"
kube_api GET "$cm_path" | cl_json 'd["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/last-updated"]' |
    grep -q ' +0000 UTC$' || fail "no last-updated annotation on the status ConfigMap"
cl_say "ok: the status ConfigMap shows $cl_g1 at target 2"

# Once the new node is ready and the web pod bound, nothing changes any more: later loops
# leave the ConfigMap alone, and post no Event twice.
wait_for "web pods bound" "[ \"\$(pods_pending web)\" -eq 0 ]"
wait_for "status with both general nodes ready" \
    "status_text | python3 -c 'import sys, yaml; s = yaml.safe_load(sys.stdin); g = [g for g in s[\"nodeGroups\"] if g[\"name\"] == \"$cl_g1\"][0]; sys.exit(0 if g[\"health\"][\"nodeCounts\"][\"registered\"][\"ready\"] == 2 and g[\"scaleUp\"][\"status\"] == \"NoActivity\" else 1)'"
n=$(daemon_loops d1)
wait_for "one more loop" "[ \"\$(daemon_loops d1)\" -gt $n ]"
rv=$(status_rv)
n_events=$(events default | wc -l)
n=$(daemon_loops d1)
wait_for "two more loops" "[ \"\$(daemon_loops d1)\" -gt $((n + 1)) ]"
[ "$(status_rv)" = "$rv" ] || fail "the status ConfigMap was rewritten without a change"
[ "$(events default | wc -l)" -eq "$n_events" ] ||
    fail "Events posted again: $(events default)"
cl_say "ok: two loops later the ConfigMap (resourceVersion $rv) and the Events are unchanged"

daemon_kill d1 TERM
[ "$daemon_rc" = 0 ] || fail "d1 exit status $daemon_rc after SIGTERM"
echo "ok"
