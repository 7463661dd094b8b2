#!/bin/sh
# Runs the libFuzzer targets built by fuzz.mk and prints one line per target: runs,
# execs/s, coverage (edges) and features. Usage: run.sh SRCDIR OUT MODE N, where MODE is
#   runs N      each target for N runs from its seeds, in a fresh scratch corpus (CI)
#   seconds N   each target for N seconds, keeping what it finds in OUT/corpus
#   findings 0  each reproducer of tests/data/fuzz/findings/TARGET-* against its target
# A crash leaves its input in OUT/artifacts/ and fails the run. Exits non-zero when any
# target crashed, timed out or broke an invariant.
set -u
src=$1
out=$2
mode=$3
n=$4
# FUZZ_TARGETS (space-separated) picks some of them.
targets=${FUZZ_TARGETS:-"quantity model_text model_json model_diff jscan watch kubeconfig exec exo_sks
exo_pool static flags priority template"}

case $mode in
runs | seconds | findings) ;;
*)
    echo "run.sh: unknown mode '$mode' (runs, seconds or findings)" >&2
    exit 2
    ;;
esac
case $n in
'' | *[!0-9]*)
    echo "run.sh: '$n' is not a whole number (FUZZ_RUNS or FUZZ_SECONDS)" >&2
    exit 2
    ;;
esac
if [ "$mode" = seconds ] && { [ "$n" -lt 1 ] || [ "$n" -gt 86400 ]; }; then
    echo "run.sh: FUZZ_SECONDS=$n is outside 1..86400" >&2
    exit 2
fi

sh "$src/tests/fuzz/seeds.sh" "$src" "$out" || exit 1
mkdir -p "$out/artifacts" "$out/logs"
# A crash report must stop the run and name the line; leaks count as crashes.
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS

status=0
failed=""
for t in $targets; do
    bin=$out/fuzz_$t
    log=$out/logs/$t.log
    case $t in
    kubeconfig | priority) dict="-dict=$src/tests/fuzz/yaml.dict" ;;
    quantity | flags) dict="" ;;
    *) dict="-dict=$src/tests/fuzz/json.dict" ;;
    esac
    if [ ! -x "$bin" ]; then
        echo "fuzz_$t: not built" >&2
        status=1
        failed="$failed $t"
        continue
    fi
    if [ "$mode" = findings ]; then
        for f in "$src"/tests/data/fuzz/findings/"$t"-*; do
            [ -f "$f" ] || continue
            if "$bin" "$f" >"$log" 2>&1; then
                echo "fuzz_$t: $(basename "$f"): ok (no longer fails)"
            else
                echo "fuzz_$t: $(basename "$f"): still crashes ($(grep -m1 -e 'ERROR:' -e 'invariant broken' -e 'runtime error' "$log"))"
                status=1
            fi
        done
        continue
    fi
    if [ "$mode" = runs ]; then
        corpus=$out/smoke/$t
        rm -rf "$corpus"
        limit="-runs=$n"
        # Each run of the exec target forks /bin/cat: a tenth of the runs keeps the smoke
        # test short.
        [ "$t" = exec ] && limit="-runs=$((n / 10))"
    else
        corpus=$out/corpus/$t
        limit="-max_total_time=$n"
    fi
    mkdir -p "$corpus"
    # shellcheck disable=SC2086
    "$bin" $limit $dict -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$t-" "$corpus" "$out/seeds/$t" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
    if [ $rc -eq 0 ]; then
        printf 'fuzz_%-11s ok      runs %-8s execs/s %-6s cov %-6s ft %-6s corpus %s\n' \
            "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
    else
        printf 'fuzz_%-11s FAILED  (exit %s, log %s)\n' "$t" "$rc" "$log"
        grep -m1 -A3 -e '^==[0-9]*==ERROR' -e 'invariant broken' -e 'runtime error' "$log"
        ls "$out/artifacts/$t-"* 2>/dev/null | sed 's/^/  reproducer: /'
        status=1
        failed="$failed $t"
    fi
done
if [ $status -ne 0 ] && [ "$mode" != findings ]; then
    echo "fuzz: FAILED:$failed (copy a reproducer to tests/data/fuzz/findings/TARGET-NAME)"
fi
exit $status
