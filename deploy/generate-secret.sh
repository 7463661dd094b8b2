#!/bin/sh
# Creates or updates the Secret exoscale-api-credentials that nodescaler's manifests and
# chart read, from EXOSCALE_API_KEY, EXOSCALE_API_SECRET, EXOSCALE_ZONE and, optionally,
# EXOSCALE_SKS_CLUSTER (sks: the cluster's name or ID). Idempotent (kubectl apply).
# Options: --namespace NS (default kube-system), --name NAME, --dry-run (print the Secret
# with its values masked instead of applying it). KUBECTL overrides the kubectl binary.
# The values travel only on kubectl's standard input: never in an argument (visible in
# ps), never on the terminal or in a log.
set -eu

namespace=kube-system
name=exoscale-api-credentials
dry_run=
while [ $# -gt 0 ]; do
    case $1 in
    --namespace) [ $# -ge 2 ] || { echo "generate-secret: --namespace needs a value" >&2; exit 2; }
        namespace=$2; shift 2 ;;
    --namespace=*) namespace=${1#*=}; shift ;;
    --name) [ $# -ge 2 ] || { echo "generate-secret: --name needs a value" >&2; exit 2; }
        name=$2; shift 2 ;;
    --name=*) name=${1#*=}; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "generate-secret: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

fail() {
    echo "generate-secret: $*; nothing was applied" >&2
    exit 1
}
# Kubernetes object names: lowercase DNS labels (RFC 1123), at most 63 characters here.
dns_label() {
    printf '%s' "$1" | grep -Eqx '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?'
}
dns_label "$namespace" || fail "--namespace '$namespace' is not a namespace name"
dns_label "$name" || fail "--name '$name' is not a Secret name"

# The same rules as nodescaler's own check (plugins/exoscale/config.c), so that a
# mistyped value fails here rather than in a crash-looping pod; values are never shown.
key=${EXOSCALE_API_KEY:-}
secret=${EXOSCALE_API_SECRET:-}
zone=${EXOSCALE_ZONE:-}
cluster=${EXOSCALE_SKS_CLUSTER:-}
[ -n "$key" ] || fail "EXOSCALE_API_KEY is empty or not set"
[ -n "$secret" ] || fail "EXOSCALE_API_SECRET is empty or not set"
[ -n "$zone" ] || fail "EXOSCALE_ZONE is empty or not set (e.g. ch-gva-2)"
printf '%s' "$key" | grep -Eqx '[A-Za-z0-9]{1,128}' ||
    fail "EXOSCALE_API_KEY is not an API key (1 to 128 letters and digits, \"EXO...\"; value not shown)"
printf '%s' "$secret" | LC_ALL=C grep -Eqx '[!-~]+' ||
    fail "EXOSCALE_API_SECRET holds whitespace or non-ASCII bytes (value not shown)"
printf '%s' "$zone" | grep -Eqx '[A-Za-z0-9-]{1,63}' ||
    fail "EXOSCALE_ZONE '$zone' is not a zone name (letters, digits and '-', e.g. ch-gva-2)"
if [ -n "$cluster" ]; then
    printf '%s' "$cluster" | LC_ALL=C grep -Eqx '[!-~]{1,255}' ||
        fail "EXOSCALE_SKS_CLUSTER holds whitespace or non-ASCII bytes"
fi

# printf is a shell builtin: the values reach base64 through a pipe, not an argument.
b64() { printf '%s' "$1" | base64 | tr -d '\n'; }
manifest() {
    cat <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: $name
  namespace: $namespace
  labels:
    app.kubernetes.io/name: nodescaler
type: Opaque
data:
  api-key: $(b64 "$key")
  api-secret: $(b64 "$secret")
  api-zone: $(b64 "$zone")
YAML
    if [ -n "$cluster" ]; then
        echo "  sks-cluster: $(b64 "$cluster")"
    fi
}

if [ -n "$dry_run" ]; then
    manifest | sed -E 's/^(  (api-key|api-secret)): .*/\1: <hidden>/'
    exit 0
fi
kubectl=${KUBECTL:-kubectl}
command -v "$kubectl" >/dev/null 2>&1 || fail "'$kubectl' not found on PATH"
# kubectl's own output names the object only ("secret/... configured").
manifest | "$kubectl" apply -f -
