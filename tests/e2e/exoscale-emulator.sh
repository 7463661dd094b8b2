# Sourced by the Exoscale e2e tests (not run on its own): starts the Exoscale emulator.
# exo_emulator_start WORK WORLD [ARG...]: runs the emulator on WORLD (extra emulator
# arguments after it) with its port file and output under WORK, sets emu_pid (the caller's
# trap stops it) and base, and exports EXOSCALE_ZONE and EXOSCALE_API_ENDPOINT for
# nodescaler. Exits 1 with the emulator's output when it has not started within 10 s.
exo_emulator_start() {
    exo_work=$1
    exo_world=$2
    shift 2
    "$top_builddir/tests/emulator/exoscale-emulator" --world "$exo_world" "$@" \
        --port-file "$exo_work/port" >"$exo_work/emulator.out" 2>&1 &
    emu_pid=$!
    exo_i=0
    while [ ! -s "$exo_work/port" ]; do
        exo_i=$((exo_i + 1))
        if [ $exo_i -ge 100 ]; then
            echo "exoscale-emulator did not start"
            cat "$exo_work/emulator.out"
            exit 1
        fi
        sleep 0.1
    done
    base="http://127.0.0.1:$(cat "$exo_work/port")"
    export EXOSCALE_ZONE=ch-gva-2 EXOSCALE_API_ENDPOINT="$base/v2"
}
