#!/bin/sh
# Restarts only the kube-apiserver started by start.sh (etcd keeps running): its watch
# cache starts afresh, so watches from older resourceVersions get 410 Expired.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
pid=$(cat "$dir/apiserver.pid")
kill "$pid" 2>/dev/null || true
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -9 "$pid" 2>/dev/null || true
sh "$dir/apiserver.sh"
sh "$here/wait-ready.sh" "$dir"
