#!/bin/sh
# Run by `make installcheck`: builds plugins/skeleton out of tree against the installed
# nodescaler (its .pc and header only) and runs the installed nsc-backend-conformance on it.
# Usage: skeleton.sh SRCDIR PKGCONFIGDIR BINDIR
# With autoreconf on the PATH the skeleton's own configure and `make check` are used, as a
# third party would; without it, one cc line with the .pc's flags.
set -eu
srcdir=$1
pcdir=$2
bindir=$3
tool="$bindir/nsc-backend-conformance"
work=$(mktemp -d "${TMPDIR:-/tmp}/nsc-skeleton.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
chmod 0700 "$work"
[ -x "$tool" ] || { echo "skeleton.sh: $tool is not installed"; exit 1; }
# The source tree may be read-only (distcheck): build from a copy.
cp -R "$srcdir/plugins/skeleton" "$work/src"
chmod -R u+w "$work/src"
PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
if command -v autoreconf >/dev/null 2>&1; then
    (cd "$work/src" && autoreconf -fi >"$work/autoreconf.log" 2>&1) ||
        { cat "$work/autoreconf.log"; exit 1; }
    mkdir "$work/build"
    (cd "$work/build" && "$work/src/configure" NSC_CONFORMANCE="$tool" \
        --with-backenddir="$work/installed" >"$work/configure.log" 2>&1) ||
        { cat "$work/configure.log"; exit 1; }
    (cd "$work/build" && ${MAKE:-make} check) || exit 1
    echo "skeleton.sh: the skeleton builds with its own configure and passes the conformance tool"
else
    cflags=$(pkg-config --cflags nodescaler-backend)
    # shellcheck disable=SC2086 # the .pc's flags are words
    ${CC:-cc} -std=c99 -Wall -Wextra -Werror -fPIC -shared $cflags \
        -o "$work/skeleton.so" "$work/src/skeleton.c"
    chmod 0600 "$work/skeleton.so"
    "$tool" --bad-opt --mutate --opt size=2 "$work/skeleton.so"
    echo "skeleton.sh: no autoreconf; the skeleton built with cc passes the conformance tool"
fi
