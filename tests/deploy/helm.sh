#!/bin/sh
# The Helm chart (deploy/helm/nodescaler) rendered without helm, by a renderer built here
# from Debian's Go packages (tests/deploy/chart-render): the defaults and a two-replica,
# ServiceMonitor-free set (values-ha.yaml) must render, keep the manifests' promises and
# be accepted by the real kube-apiserver v1.20.2 with server-side dry run; values the
# schema or a `required` refuses must fail the render with a message naming them.
# Skipped (77) when the Go packages are missing and cannot be installed (not root), or
# without PyYAML; the dry-run part needs the cached kube-apiserver as dry-run.sh does.
set -eu
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
chart=$top_srcdir/deploy/helm/nodescaler
if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "python3 with PyYAML is needed: skipped"
    exit 77
fi
if ! sh "$top_srcdir/tests/deploy/chart-render/deps.sh"; then
    echo "the chart renderer's Go packages are missing and this is not root: skipped"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-helm.XXXXXX")
cleanup() {
    [ ! -d "$work/api" ] || sh "$top_srcdir/tests/kube-apiserver/stop.sh" "$work/api"
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The renderer is built once per build tree (about 40 s) and again when its source changes.
render=$top_builddir/tests/deploy/nsc-chart-render
src=$top_srcdir/tests/deploy/chart-render/render.go
if [ ! -x "$render" ] || [ "$src" -nt "$render" ]; then
    mkdir -p "$work/gp/src/github.com/Masterminds/sprig" "$work/gp/src/github.com/Masterminds/semver" \
        "$work/build" "$(dirname "$render")"
    # Debian installs sprig v3 and semver v3 without the /v3 in their paths, which GOPATH
    # mode needs to resolve their import paths
    ln -s /usr/share/gocode/src/github.com/Masterminds/sprig "$work/gp/src/github.com/Masterminds/sprig/v3"
    ln -s /usr/share/gocode/src/github.com/Masterminds/semver "$work/gp/src/github.com/Masterminds/semver/v3"
    cp "$src" "$work/build/render.go"
    (cd "$work/build" && GO111MODULE=off GOPATH="$work/gp:/usr/share/gocode" \
        GOCACHE="$work/gocache" go build -o nsc-chart-render render.go)
    mv "$work/build/nsc-chart-render" "$render"
fi

tojson() {
    python3 -c 'import json, sys, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)'
}
"$top_builddir/nodescaler" --help >"$work/help.txt"
# (through files, not pipes: a failed render must fail the test)
"$render" "$chart" >"$work/default.yaml"
"$render" -f "$top_srcdir/tests/deploy/values-ha.yaml" "$chart" >"$work/ha.yaml"
tojson <"$work/default.yaml" >"$work/default.json"
tojson <"$work/ha.yaml" >"$work/ha.json"
python3 "$top_srcdir/tests/deploy/check-manifests.py" sks "$work/default.json" "$work/help.txt"
python3 "$top_srcdir/tests/deploy/check-manifests.py" instance-pool "$work/ha.json" "$work/help.txt" \
    --replicas 2
python3 "$top_srcdir/tests/deploy/render.py" "$top_srcdir/deploy/manifests/sks" >"$work/manifests.json"
python3 - "$work/default.json" "$work/ha.json" "$work/manifests.json" <<'PY'
import base64, json, sys, yaml
default, ha, manifests = (json.load(open(f)) for f in sys.argv[1:4])
kinds = lambda objs: sorted(o["kind"] for o in objs)
errors = []
def need(c, what):
    if not c:
        errors.append(what)
need("Secret" not in kinds(default), "the defaults create a Secret")
need("ConfigMap" not in kinds(default), "the defaults create a ConfigMap")
need("Service" in kinds(default), "the defaults have no Service")
need(not any(o["kind"] == "ServiceMonitor" for o in default + ha), "a ServiceMonitor rendered")
dep = next(o for o in ha if o["kind"] == "Deployment")
args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
for a in ("--nodes=1:10:workers", "--nodes=0:4:gpu", "--expander=priority", "--v=4",
          "--scale-down-unneeded-time=5m"):
    need(a in args, f"{a} missing from {args}")
sec = next((o for o in ha if o["kind"] == "Secret"), {})
data = {k: base64.b64decode(v).decode() for k, v in sec.get("data", {}).items()}
need(data == {"api-key": "EXOtest0123456789", "api-secret": "not-a-real-secret",
              "api-zone": "ch-gva-2"}, f"Secret data {data}")
cm = next((o for o in ha if o["kind"] == "ConfigMap"), {})
need(cm.get("metadata", {}).get("name") == "cluster-autoscaler-priority-expander", "ConfigMap name")
prio = yaml.safe_load(cm.get("data", {}).get("priorities", "")) if cm else None
need(prio == {"10": ["gpu"], "50": ["workers"]} or prio == {10: ["gpu"], 50: ["workers"]},
     f"priorities {prio}")
# the chart grants what the manifests grant (tests/deploy/rbac.sh checks those against use)
for kind in ("ClusterRole", "Role"):
    rules = lambda objs: next(o for o in objs if o["kind"] == kind)["rules"]
    need(rules(default) == rules(manifests), f"the chart's {kind} differs from the manifests'")
pdb = next(o for o in ha if o["kind"] == "PodDisruptionBudget")
need(pdb["spec"].get("minAvailable") == 1 and "maxUnavailable" not in pdb["spec"],
     f"PDB spec {pdb['spec']}")
if errors:
    sys.exit("chart: " + "; ".join(errors))
print("chart: defaults and values-ha.yaml render as expected")
PY

# Refusals: each must fail the render and name what is wrong.
refuse() {
    want=$1
    shift
    printf '%s\n' "$@" >"$work/bad.yaml"
    if "$render" -f "$work/bad.yaml" "$chart" >/dev/null 2>"$work/err"; then
        echo "the chart rendered with: $*"
        exit 1
    fi
    grep -q -- "$want" "$work/err" || { echo "expected '$want' in:"; cat "$work/err"; exit 1; }
}
refuse 'replicaCount' 'replicaCount: two'
refuse 'Additional property colour is not allowed' 'colour: blue'
refuse 'extraArgs' 'extraArgs: {namespace: other}'
refuse 'backend' 'backend: aws'
refuse 'secret.apiKey is required' 'secret: {name: s, create: true, apiSecret: x, zone: ch-gva-2}'
refuse 'rbac.serviceAccount.name is required' 'rbac: {serviceAccount: {create: false}}'
refuse 'serviceMonitor.enabled needs service.create' 'service: {create: false}' \
    'serviceMonitor: {enabled: true}'
echo "chart: bad values refused"

if [ -n "${NSC_SKIP_REAL_APISERVER:-}" ] || { [ "$(id -u)" != 0 ] &&
    ! [ -x "${NSC_KUBE_CACHE:-/var/cache/nodescaler}/kube-apiserver-v1.20.2" ]; }; then
    echo "no kube-apiserver to dry-run the rendered chart on: skipped"
    exit 77
fi
sh "$top_srcdir/tests/kube-apiserver/start.sh" "$work/api"
python3 "$top_srcdir/tests/deploy/apply-dry-run.py" "$work/api" "$work/default.json" "$work/ha.json"
echo "chart: the defaults and values-ha.yaml accepted by kube-apiserver (dry run)"
