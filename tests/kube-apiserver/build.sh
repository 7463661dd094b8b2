#!/bin/sh
# Builds a Kubernetes v1.20.2 component (kube-apiserver by default, kube-scheduler, or
# kubectl) from Debian's "kubernetes" source package and installs etcd from Debian, for the
# integration tests. Usage: build.sh [kube-apiserver|kube-scheduler|kubectl]. Binaries are
# cached outside the clone (NSC_KUBE_CACHE, default /var/cache/nodescaler) so a machine
# builds each once; one source unpack builds every server component not yet cached.
# kubectl is built only when asked for (it only regenerates a fixture, see
# make-replay-dump.sh), so the tests never spend minutes on it.
# Prints the path of the requested binary on stdout. Needs root the first time (apt-get).
set -eu

component=${1:-kube-apiserver}
components="kube-apiserver kube-scheduler"
case " $components kubectl " in
*" $component "*) ;;
*) echo "kube-build: unknown component '$component' (expected one of: $components kubectl)" >&2; exit 2 ;;
esac
cache=${NSC_KUBE_CACHE:-/var/cache/nodescaler}
bin="$cache/$component-v1.20.2"
log() { echo "$component-build: $*" >&2; }

need_pkgs="golang-1.19-go etcd-server etcd-client golang-github-modern-go-reflect2-dev rsync openssl"

missing=""
for p in $need_pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -x "$bin" ] && [ -z "$missing" ]; then
    echo "$bin"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    log "needs root to install:$missing (or a cached $bin)"
    exit 1
fi

# One build at a time (make -j check may start several tests that need binaries).
mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock 9

export DEBIAN_FRONTEND=noninteractive
# Source entries next to the binary ones, same mirror and key.
src=/etc/apt/sources.list.d/nodescaler-deb-src.sources
if ! [ -f "$src" ]; then
    uri=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
    [ -n "$uri" ] || uri=http://deb.debian.org/debian
    cat >"$src" <<SRC
Types: deb-src
URIs: $uri
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt-get update -q >&2
elif [ -n "$missing" ]; then
    apt-get update -q >&2
fi
if [ -n "$missing" ]; then
    log "installing$missing"
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >&2
fi
if [ -x "$bin" ]; then
    echo "$bin"
    exit 0
fi

# Every server component not cached yet is built from the same unpacked source.
what=""
[ "$component" = kubectl ] && what=cmd/kubectl
for c in $components; do
    [ -x "$cache/$c-v1.20.2" ] || what="$what cmd/$c"
done
what=${what# }

mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
log "fetching the kubernetes source package"
apt-get source --download-only kubernetes >&2
orig=$(ls kubernetes_*.orig.tar.* | head -n 1)
mkdir src
tar -xf "$orig" -C src --strip-components=1
cd src
# The vendored reflect2 1.0.1 breaks on Go >= 1.18; Debian's 1.0.2 works.
r2=/usr/share/gocode/src/github.com/modern-go/reflect2
v2=vendor/github.com/modern-go/reflect2
for f in "$v2"/*.go "$v2"/*.s; do
    case "$f" in *_test.go) continue ;; esac
    rm -f "$f"
done
for f in "$r2"/*.go "$r2"/*.s; do
    case "$f" in *_test.go) continue ;; esac
    [ -e "$f" ] && cp "$f" "$v2"/
done
log "building $what (about 10 minutes per component on 2 idle cores; once per machine)"
# Go's build is silent for minutes at a time: say once a minute that it is still going, so
# that a console (CI's, a newcomer's) does not look hung.
started=$(date +%s)
(
    while sleep 60; do
        log "still building $what ($((($(date +%s) - started) / 60)) min so far)"
    done
) &
ticker=$!
trap 'kill "$ticker" 2>/dev/null; rm -rf "$work"' EXIT
PATH=/usr/lib/go-1.19/bin:$PATH GOFLAGS=-tags=providerless GOPROXY=off GO111MODULE=on \
    GOCACHE="$work/gocache" GOPATH="$work/gopath" \
    make WHAT="$what" KUBE_GIT_VERSION=v1.20.2 \
    KUBE_BUILD_PLATFORMS=linux/amd64 >&2
kill "$ticker" 2>/dev/null || true
log "built in $((($(date +%s) - started) / 60)) min"
for w in $what; do
    c=${w#cmd/}
    built=$(find _output -type f -name "$c" -perm -u+x | head -n 1)
    [ -n "$built" ] || { log "no $c binary was produced"; exit 1; }
    install -m 0755 "$built" "$cache/$c-v1.20.2.tmp"
    mv "$cache/$c-v1.20.2.tmp" "$cache/$c-v1.20.2"
    log "cached $cache/$c-v1.20.2"
done
echo "$bin"
