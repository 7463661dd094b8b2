#!/bin/sh
# Installs, from Debian's packages, what the chart renderer (render.go) is built from:
# Go, Masterminds' sprig (the template functions Helm uses), yaml.v3, and gojsonschema
# (the library Helm validates values.schema.json with). Needs root.
set -eu
pkgs="golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
    golang-github-xeipuuv-gojsonschema-dev"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "chart-render deps: missing$missing (install as root)" >&2
    exit 1
fi
# apt holds a lock; give a concurrent apt-get up to 5 minutes rather than failing at once
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y \
    --no-install-recommends $missing >&2
