#!/bin/sh
# Waits until the apiserver started by start.sh answers /readyz (60 s at most).
set -eu
dir=$1
port=$(cat "$dir/port")
i=0
while :; do
    if curl -sf --cacert "$dir/serving.crt" -H "Authorization: Bearer $(cat "$dir/admin.token")" \
        "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
        exit 0
    fi
    i=$((i + 1))
    if [ $i -ge 300 ] || ! kill -0 "$(cat "$dir/apiserver.pid")" 2>/dev/null; then
        echo "kube-apiserver did not become ready; last log lines:" >&2
        tail -n 30 "$dir/apiserver.log" >&2 || true
        exit 1
    fi
    sleep 0.2
done
