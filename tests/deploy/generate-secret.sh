#!/bin/sh
# deploy/generate-secret.sh with a fake kubectl on PATH that records its arguments and
# standard input: the Secret reaches kubectl apply on stdin only, with every value intact
# (shell metacharacters too); empty or malformed values are refused before kubectl runs;
# no value of the secret appears in an argument or in the script's output.
set -eu
: "${top_srcdir:=.}"
script=$(cd "$top_srcdir" && pwd)/deploy/generate-secret.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-gensecret.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir "$work/bin"
cat >"$work/bin/kubectl" <<FAKE
#!/bin/sh
printf '%s\n' "\$@" >"$work/argv"
cat >"$work/stdin"
echo "secret/exoscale-api-credentials configured"
FAKE
chmod +x "$work/bin/kubectl"
fails=0
bad() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

key=EXO0123456789abcdefABCDEF
secret='s3cr3t-$(touch${IFS}pwned)-`id`-"q"-'"'"'x'"'"'-\n-%s-TOP'
run() {
    rm -f "$work/argv" "$work/stdin"
    # env's options (-u) come first, then the assignments
    (cd "$work" && env "$@" PATH="$work/bin:$PATH" sh "$script") >"$work/out" 2>&1
}

# 1. good values: applied once, from stdin, values intact, secret never in argv or output
if run EXOSCALE_API_KEY=$key EXOSCALE_API_SECRET="$secret" EXOSCALE_ZONE=ch-gva-2 \
    EXOSCALE_SKS_CLUSTER=prod; then
    [ "$(tr '\n' ' ' <"$work/argv")" = "apply -f - " ] ||
        bad "kubectl arguments: $(tr '\n' ' ' <"$work/argv")"
    grep -qF -- "TOP" "$work/argv" && bad "the secret is in kubectl's arguments"
    grep -qF -- "TOP" "$work/out" && bad "the secret is in the script's output"
    grep -qF -- "TOP" "$work/stdin" && bad "the secret is in clear on stdin (expected base64 data)"
    python3 - "$work/stdin" "$key" "$secret" <<'PY' || bad "the Secret sent is not as expected"
import base64, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
d = {k: base64.b64decode(v).decode() for k, v in doc["data"].items()}
want = {"api-key": sys.argv[2], "api-secret": sys.argv[3], "api-zone": "ch-gva-2",
        "sks-cluster": "prod"}
assert doc["kind"] == "Secret" and doc["metadata"]["name"] == "exoscale-api-credentials", doc
assert doc["metadata"]["namespace"] == "kube-system", doc
assert d == want, (d, want)
PY
    [ -e "$work/pwned" ] && bad "a value was evaluated by the shell"
else
    bad "good values refused: $(cat "$work/out")"
fi

# 2. each required variable empty or unset: refused, kubectl never runs, the message names it
for v in EXOSCALE_API_KEY EXOSCALE_API_SECRET EXOSCALE_ZONE; do
    for how in empty unset; do
        set --
        [ $how = unset ] && set -- -u "$v"
        for a in EXOSCALE_API_KEY=$key EXOSCALE_API_SECRET=TOPsecret EXOSCALE_ZONE=ch-gva-2; do
            case $a in "$v="*) [ $how = empty ] && set -- "$@" "$v=" ;; *) set -- "$@" "$a" ;; esac
        done
        if run "$@"; then
            bad "$v $how accepted"
        else
            [ -e "$work/argv" ] && bad "$v $how: kubectl ran"
            grep -q "$v is empty or not set" "$work/out" || bad "$v $how: message: $(cat "$work/out")"
            grep -qF TOPsecret "$work/out" && bad "$v $how: the secret is in the message"
        fi
    done
done

# 3. malformed values: refused without showing the secret
if run EXOSCALE_API_KEY=$key EXOSCALE_API_SECRET='TOP secret' EXOSCALE_ZONE=ch-gva-2; then
    bad "a secret with a space accepted"
else
    [ -e "$work/argv" ] && bad "secret with a space: kubectl ran"
    grep -qF TOP "$work/out" && bad "secret with a space: shown in the message"
    grep -q 'EXOSCALE_API_SECRET holds whitespace' "$work/out" || bad "message: $(cat "$work/out")"
fi
if run EXOSCALE_API_KEY='EXO key' EXOSCALE_API_SECRET=TOPsecret EXOSCALE_ZONE=ch-gva-2; then
    bad "a key with a space accepted"
fi
if run EXOSCALE_API_KEY=$key EXOSCALE_API_SECRET=TOPsecret EXOSCALE_ZONE='ch gva'; then
    bad "a zone with a space accepted"
fi
if run EXOSCALE_API_KEY=$key EXOSCALE_API_SECRET=TOPsecret EXOSCALE_ZONE=ch-gva-2 \
    KUBECTL=/nonexistent/kubectl; then
    bad "a missing kubectl was not reported"
fi
grep -q "not found on PATH" "$work/out" || bad "missing kubectl: message: $(cat "$work/out")"

# 4. --dry-run masks the key and secret and runs no kubectl
if env PATH="$work/bin:$PATH" EXOSCALE_API_KEY=$key EXOSCALE_API_SECRET=TOPsecret \
    EXOSCALE_ZONE=ch-gva-2 sh "$script" --dry-run --namespace=ops >"$work/out" 2>&1; then
    grep -qF TOPsecret "$work/out" && bad "--dry-run shows the secret"
    grep -qF "$key" "$work/out" && bad "--dry-run shows the key"
    grep -q 'namespace: ops' "$work/out" || bad "--dry-run ignores --namespace: $(cat "$work/out")"
    [ -e "$work/argv" ] && bad "--dry-run ran kubectl"
else
    bad "--dry-run failed: $(cat "$work/out")"
fi

if [ $fails -ne 0 ]; then
    echo "generate-secret: $fails checks failed"
    exit 1
fi
echo "generate-secret: every check passed"
