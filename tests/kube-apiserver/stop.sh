#!/bin/sh
# Stops the kube-apiserver and etcd started by start.sh DIR (by their pid files).
dir=$1
for p in apiserver etcd; do
    if [ -f "$dir/$p.pid" ]; then
        pid=$(cat "$dir/$p.pid")
        kill "$pid" 2>/dev/null
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -9 "$pid" 2>/dev/null
        rm -f "$dir/$p.pid"
    fi
done
exit 0
