#!/bin/sh
# Installs the Debian packages nodescaler needs to build, test and run its demo.
# Idempotent: installs only what is missing. Run as root on Debian bookworm.
set -eu

pkgs="build-essential autoconf automake libtool pkg-config git
libcurl4-openssl-dev libjansson-dev libssl-dev libyaml-dev libpcre2-dev libmicrohttpd-dev check
clang libclang-rt-14-dev clang-format valgrind binutils curl ca-certificates python3
python3-yaml"

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing packages:$missing; run this script as root" >&2
        exit 1
    fi
    echo "install-deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi
