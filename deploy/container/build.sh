#!/bin/sh
# Builds nodescaler's image from Debian's packages alone: mmdebstrap makes two bookworm
# root filesystems (build: compiler and -dev packages; run: the runtime libraries only),
# podman (or docker) imports them as base images and builds deploy/container/Containerfile.
# Usage: deploy/container/build.sh [TAG]   (default nodescaler:<version>)
# Needs: mmdebstrap and podman or docker (apt-get install mmdebstrap podman), and a
# Debian mirror (MIRROR, default http://deb.debian.org/debian).
# With --rootfs-only DIR: no container runtime; makes the run root filesystem in DIR,
# installs nodescaler into it (built here) and runs `nodescaler --version` and the
# offline replay of deploy/examples in it as uid 65532 with chroot, for machines where
# no container can run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
mirror=${MIRROR:-http://deb.debian.org/debian}
version=$(sed -n 's/^AC_INIT(\[nodescaler\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
build_pkgs="build-essential,autoconf,automake,libtool,pkg-config,libcurl4-openssl-dev,\
libjansson-dev,libssl-dev,libyaml-dev,libpcre2-dev,libmicrohttpd-dev,check,ca-certificates"
# what `ldd nodescaler` and the backends name, plus CA certificates for the Exoscale API
run_pkgs="libcurl4,libjansson4,libssl3,libyaml-0-2,libpcre2-8-0,libmicrohttpd12,ca-certificates"

log() { echo "container-build: $*" >&2; }
need() {
    command -v "$1" >/dev/null 2>&1 || { log "$1 not found: $2"; exit 1; }
}
need mmdebstrap "apt-get install mmdebstrap"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-image.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

if [ "${1:-}" = --rootfs-only ]; then
    [ $# -eq 2 ] || { log "usage: build.sh --rootfs-only DIR"; exit 2; }
    [ "$(id -u)" = 0 ] || { log "--rootfs-only needs root (chroot)"; exit 1; }
    dir=$2
    mkdir -p "$dir"
    log "making the run root filesystem in $dir"
    mmdebstrap --variant=minbase --include="$run_pkgs" bookworm "$dir" "$mirror"
    log "building nodescaler for it"
    [ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null)
    mkdir "$work/build"
    (cd "$work/build" && "$top/configure" --prefix=/usr >/dev/null && make -j2 >/dev/null &&
        make install DESTDIR="$dir" >/dev/null)
    rm -rf "$dir/usr/include" "$dir/usr/lib/pkgconfig"
    find "$dir/usr/lib/nodescaler" -name '*.la' -delete
    chmod -R go-w "$dir/usr/lib/nodescaler"
    chroot --userspec=65532:65532 "$dir" /usr/bin/nodescaler --version
    # the backend loader opens backends through /proc/self/fd, as a container's /proc
    # allows: a private mount and pid namespace gives the chroot one
    mkdir -p "$dir/tmp/examples"
    cp "$top/deploy/examples/groups.json" "$top/deploy/examples/cluster.json" "$dir/tmp/examples/"
    chmod 0644 "$dir/tmp/examples/"*.json
    unshare --mount --pid --fork --mount-proc="$dir/proc" \
        chroot --userspec=65532:65532 "$dir" /usr/bin/nodescaler --backend=static \
        --backend-opt=groups=/tmp/examples/groups.json \
        --cluster-snapshot=/tmp/examples/cluster.json --once --dry-run
    rm -rf "$dir/tmp/examples"
    log "root filesystem size: $(du -sh "$dir" | cut -f1)"
    exit 0
fi

tag=${1:-nodescaler:$version}
if command -v podman >/dev/null 2>&1; then
    rt=podman
elif command -v docker >/dev/null 2>&1; then
    rt=docker
else
    log "neither podman nor docker found: apt-get install podman (or use --rootfs-only DIR)"
    exit 1
fi
log "making the build and run root filesystems from $mirror (several minutes)"
mmdebstrap --variant=minbase --include="$build_pkgs" bookworm "$work/build.tar" "$mirror"
mmdebstrap --variant=minbase --include="$run_pkgs" bookworm "$work/run.tar" "$mirror"
"$rt" import "$work/build.tar" localhost/nodescaler-build-base:bookworm
"$rt" import "$work/run.tar" localhost/nodescaler-run-base:bookworm
log "building $tag with $rt"
"$rt" build -f "$here/Containerfile" -t "$tag" "$top"
"$rt" image ls "$tag"
