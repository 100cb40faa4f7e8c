#!/bin/sh
# Runs libFuzzer targets one after another and prints, per target, the
# executions, the coverage (cov: edges, ft: features) and whether it found
# a crash. Used by make fuzz.
# Usage: tools/fuzz.sh OUTDIR SECONDS TARGET...
#   OUTDIR/fuzz_TARGET      the binary (make fuzz-build)
#   tests/fuzz/corpus/T     committed seeds, read only
#   OUTDIR/corpus/T         what the run adds (so tests/ stays clean)
#   OUTDIR/crashes/T        crashing, leaking or slow inputs
#   OUTDIR/fuzz_T.log       libFuzzer's output
# FUZZ_FLAGS adds libFuzzer options, e.g. FUZZ_FLAGS=-max_len=65536.
# Exits 1 if any target found something.
set -u
[ $# -ge 3 ] || { echo "usage: $0 OUTDIR SECONDS TARGET..." >&2; exit 2; }
out=$1; secs=$2; shift 2
found=0
summary=""

# The number after 'key' in the last line of the log that has it.
last_num() {
    grep -o "$1 *[0-9]*" "$2" | tail -n 1 | grep -o '[0-9]*$'
}

for t in "$@"; do
    bin=$out/fuzz_$t log=$out/fuzz_$t.log
    mkdir -p "$out/corpus/$t" "$out/crashes/$t" "$out/tmp"
    # Crashes of earlier runs stay; only files newer than this mark count.
    mark=$out/tmp/start_$t
    touch "$mark"
    echo "=== fuzz_$t: $secs s (log: $log)"
    # Scratch files go under OUTDIR too: a crash skips the cleanup at exit.
    # -close_fd_mask=2 silences the targets' own stderr (the spec front
    # end's diagnostics); libFuzzer and sanitizer reports still reach the log.
    # shellcheck disable=SC2086
    TMPDIR=$out/tmp "$bin" -max_total_time="$secs" -close_fd_mask=2 -timeout=20 \
        -print_final_stats=1 -artifact_prefix="$out/crashes/$t/" ${FUZZ_FLAGS:-} \
        "$out/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(last_num 'stat::number_of_executed_units:' "$log")
    [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    cov=$(last_num 'cov:' "$log"); ft=$(last_num 'ft:' "$log")
    artifacts=$(find "$out/crashes/$t" -type f -newer "$mark" | sort)
    if [ "$rc" -eq 0 ] && [ -z "$artifacts" ]; then result="no crash"
    else
        found=1
        result="FOUND (exit $rc):$(echo "$artifacts" | tr '\n' ' ')"
        grep -m 1 -E '^==[0-9]+==ERROR|runtime error|deadly signal|ALARM|out-of-memory' "$log"
    fi
    line="fuzz_$t: ${execs:-?} execs, cov: ${cov:-?} ft: ${ft:-?}, $result"
    echo "$line"
    summary="$summary$line
"
done
echo "=== summary"
printf '%s' "$summary"
exit "$found"
