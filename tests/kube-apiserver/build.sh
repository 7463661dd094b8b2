#!/bin/sh
# Builds kube-apiserver v1.20.2 from Debian's "kubernetes" source package and installs
# etcd from Debian, for the client integration tests. The binary is cached outside the
# clone (NSC_KUBE_CACHE, default /var/cache/nodescaler) so a machine builds it once.
# Prints the path of the binary on stdout. Needs root the first time (apt-get).
set -eu

cache=${NSC_KUBE_CACHE:-/var/cache/nodescaler}
bin="$cache/kube-apiserver-v1.20.2"
log() { echo "kube-apiserver-build: $*" >&2; }

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
log "building (a few minutes on 2 cores)"
PATH=/usr/lib/go-1.19/bin:$PATH GOFLAGS=-tags=providerless GOPROXY=off GO111MODULE=on \
    GOCACHE="$work/gocache" GOPATH="$work/gopath" \
    make WHAT=cmd/kube-apiserver KUBE_GIT_VERSION=v1.20.2 \
    KUBE_BUILD_PLATFORMS=linux/amd64 >&2
built=$(find _output -type f -name kube-apiserver -perm -u+x | head -n 1)
[ -n "$built" ] || { log "no kube-apiserver binary was produced"; exit 1; }
install -m 0755 "$built" "$bin.tmp"
mv "$bin.tmp" "$bin"
log "cached $bin"
echo "$bin"
