#!/bin/sh
# A long fuzzing campaign over the libFuzzer targets built by fuzz.mk: two targets at a time
# at nice 19, each for a fixed time, restarted after a crash until its time is used up.
# Writes OUTDIR/logs/TARGET.N.log, OUTDIR/corpus/TARGET, OUTDIR/artifacts/TARGET-* and a
# table, OUTDIR/summary.md, with one row per finished target: seconds, executions, execs/s,
# coverage (cov: and ft: of libFuzzer's last status line), crashes and stalls. A timeout
# whose input, run again alone, finishes within the limit is a stall (the machine was busy:
# the runs are at nice 19 and libFuzzer's timeout is wall time), not a crash.
# Usage: campaign.sh SRCDIR FUZZDIR OUTDIR SECONDS DEADLINE [TARGET...]
#   FUZZDIR   tests/fuzz of the build tree (make fuzz-build), holding the fuzz_* binaries
#   SECONDS   time per target (1..86400)
#   DEADLINE  a Unix time no run may outlast: each run's -max_total_time is cut to it
set -u
if [ $# -lt 5 ]; then
    echo "usage: campaign.sh SRCDIR FUZZDIR OUTDIR SECONDS DEADLINE [TARGET...]" >&2
    exit 2
fi
src=$1
fuzzdir=$2
out=$3
secs=$4
deadline=$5
shift 5
targets=${*:-"model_diff model_json model_text kubeconfig jscan exec watch exo_sks exo_pool static
flags priority template quantity"}
case $secs$deadline in
'' | *[!0-9]*)
    echo "campaign.sh: SECONDS '$secs' and DEADLINE '$deadline' must be whole numbers" >&2
    exit 2
    ;;
esac
if [ "$secs" -lt 1 ] || [ "$secs" -gt 86400 ]; then
    echo "campaign.sh: SECONDS=$secs is outside 1..86400" >&2
    exit 2
fi
if [ "$deadline" -le "$(date +%s)" ]; then
    echo "campaign.sh: DEADLINE $deadline is already past" >&2
    exit 2
fi
# A crash that comes back at once must not turn the campaign into a loop of restarts.
max_crashes=5
# libFuzzer's -timeout, seconds of wall time for one input.
timeout=10

mkdir -p "$out/logs" "$out/corpus" "$out/artifacts" || exit 1
sh "$src/tests/fuzz/seeds.sh" "$src" "$out" || exit 1
ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS
summary=$out/summary.md
if [ ! -f "$summary" ]; then
    printf '| target | seconds | executions | execs/s | cov | ft | crashes | stalls |\n' >"$summary"
    printf '|---|---:|---:|---:|---:|---:|---:|---:|\n' >>"$summary"
fi

# One target for its time; appends its row to the summary.
run_target() {
    t=$1
    bin=$fuzzdir/fuzz_$t
    case $t in
    kubeconfig | priority) dict="-dict=$src/tests/fuzz/yaml.dict" ;;
    quantity | flags) dict="" ;;
    *) dict="-dict=$src/tests/fuzz/json.dict" ;;
    esac
    if [ ! -x "$bin" ]; then
        printf '| %s | not built | | | | | | |\n' "$t" >>"$summary"
        return
    fi
    mkdir -p "$out/corpus/$t"
    start=$(date +%s)
    end=$((start + secs))
    [ "$end" -gt "$deadline" ] && end=$deadline
    execs=0 crashes=0 stalls=0 runs=0 cov=? ft=?
    while :; do
        now=$(date +%s)
        left=$((end - now))
        [ "$left" -ge 5 ] || break
        runs=$((runs + 1))
        log=$out/logs/$t.$runs.log
        # shellcheck disable=SC2086
        nice -n 19 "$bin" -max_total_time="$left" $dict -timeout=$timeout -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" "$out/corpus/$t" \
            "$out/seeds/$t" >"$log" 2>&1
        rc=$?
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        execs=$((execs + ${n:-0}))
        last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
        c=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
        f=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
        [ -n "$c" ] && cov=$c
        [ -n "$f" ] && ft=$f
        [ "$rc" -eq 0 ] && break
        unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
        if grep -q 'libFuzzer: timeout' "$log" && [ -f "$unit" ] &&
            "$bin" -timeout=$timeout "$unit" >"$log.rerun" 2>&1; then
            stalls=$((stalls + 1))
            echo "fuzz_$t: timeout under load; $unit ran again alone within ${timeout}s" >&2
            mv "$unit" "$unit.stall"
            [ "$stalls" -lt 20 ] || break
            continue
        fi
        crashes=$((crashes + 1))
        echo "fuzz_$t: crash $crashes (exit $rc), log $log" >&2
        [ "$crashes" -lt "$max_crashes" ] || break
    done
    took=$(($(date +%s) - start))
    [ "$took" -gt 0 ] || took=1
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$took" "$execs" \
        "$((execs / took))" "$cov" "$ft" "$crashes" "$stalls" >>"$summary"
}

# Two lanes, each taking every other target in turn.
lane() {
    i=0
    for t in $targets; do
        [ $((i % 2)) -eq "$1" ] && run_target "$t"
        i=$((i + 1))
    done
}
echo "campaign: started $(date -u +%FT%TZ), $secs s per target, deadline $(date -u -d "@$deadline" +%FT%TZ)" >&2
lane 0 &
lane 1 &
wait
echo "campaign: finished $(date -u +%FT%TZ)" >&2
