#!/bin/sh
# Scale-down benchmark, small cases only (make check): the planner runs on a generated
# cluster, and the Go autoscaler's shape yields exactly its 1,200 removable nodes.
bench="${top_builddir:-.}/tests/bench/nsc-bench-scaledown"
"$bench" --case=small || exit 1
"$bench" --case=go-2k-x40 || exit 1
