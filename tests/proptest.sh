#!/bin/sh
# Property tests on topologies nobody wrote by hand (tests/specs/random.lua).
# For COUNT seeds from SEED, each topology, as drawn and as its smooth twin,
# is generated twice (the bytes must match); its memory plan is checked
# (tests/test_plan.c's invariants); generated without the rewriting passes
# (skipc -O0) it must compute the same bits: outputs, loss, every gradient,
# dx and infer's outputs (tests/grad_dump.c). The smooth twin is also built
# against tests/model_check.c, which checks by finite differences the
# gradient of every parameter and of the input, that infer equals forward in
# evaluation bit for bit, and the gradient probes. (The drawn topology gets
# no finite differences: with relu and max pooling over batches of four, a
# batchnorm can see a channel the relu zeroed but for a few values and
# amplify a step-sized change a hundredfold, so the quotient measures that,
# not the gradient. Its kinked ops are checked kernel by kernel, and its
# passes against -O0.) A failure is shrunk to the fewest random layers that
# still fail, kept in $B/proptest/, and printed with the command that
# reproduces it.
# Usage: tests/proptest.sh [COUNT [SEED [LAYERS]]]   (defaults 30 1 12)
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/build_env.sh
count=${1:-30}; first=${2:-1}; layers=${3:-12}
out=$B/proptest
work=$out/work
mkdir -p "$work/again" "$work/plain"
pkg="$(pkg-config --cflags openblas cmocka)"
libs="$(pkg-config --libs openblas cmocka) -lm -lpthread"
warn="-std=c99 -Wall -Wextra -Werror -pedantic"

# model_check once: every random model is called rnd, and model_check.c
# needs only the declaration from its header.
printf '#include "rt_model.h"\nextern const RtModel rnd_model;\n' > "$work/rnd.h"
# shellcheck disable=SC2086
$CCT -std=c11 -O1 $SAN $pkg -Iruntime -I"$work" -DSKIPC_MODEL=rnd_model \
    -DSKIPC_MODEL_HEADER='"rnd.h"' -c tests/model_check.c -o "$out/check.o" || exit 1
# shellcheck disable=SC2086
$CCT -std=c11 -O1 $SAN -Iruntime -I"$work" -DSKIPC_MODEL=rnd_model \
    -DSKIPC_MODEL_HEADER='"rnd.h"' -c tests/grad_dump.c -o "$out/dump.o" || exit 1

# Builds $work/DIR/rnd.c into $work/DIR/NAME linked with object OBJ.
build_model() {   # DIR OBJ NAME
    # shellcheck disable=SC2086
    $CCT $warn -O1 $SAN $pkg -Iruntime -I"$work/$1" -c "$work/$1/rnd.c" -o "$work/$1/rnd.o" \
        2>"$work/cc.err" &&
    $CCT $SAN -o "$work/$1/$3" "$2" "$work/$1/rnd.o" "$B/libskipcrt.a" $libs 2>>"$work/cc.err"
}

# Runs one case; prints why it fails, nothing when it passes. Status 0 = pass.
run_case() {   # SEED LAYERS SMOOTH
    defs="-D seed=$1 -D layers=$2 -D smooth=$3"
    # shellcheck disable=SC2086
    if ! "$B/skipc" tests/specs/random.lua -o "$work/rnd.c" $defs 2>"$work/gen.err"; then
        echo "generation failed: $(grep error "$work/gen.err" | head -1)"; return 1
    fi
    # shellcheck disable=SC2086
    "$B/skipc" tests/specs/random.lua -o "$work/again/rnd.c" $defs 2>/dev/null
    if ! cmp -s "$work/rnd.c" "$work/again/rnd.c" || ! cmp -s "$work/rnd.h" "$work/again/rnd.h"; then
        echo "generation is not deterministic"; return 1
    fi
    # shellcheck disable=SC2086
    if ! "$B/tests/test_plan" tests/specs/random.lua $defs > "$work/plan.log" 2>&1; then
        echo "memory plan invariants broken"; return 1
    fi
    # shellcheck disable=SC2086
    "$B/skipc" -O0 tests/specs/random.lua -o "$work/plain/rnd.c" $defs 2>/dev/null
    if ! build_model . "$out/dump.o" dump || ! build_model plain "$out/dump.o" dump; then
        echo "generated C does not build: $(head -1 "$work/cc.err")"; return 1
    fi
    if ! "$work/dump" > "$work/dump.txt" 2>&1 || ! "$work/plain/dump" > "$work/plain/dump.txt" 2>&1
    then
        echo "model dump failed: $(tail -1 "$work/dump.txt")"; return 1
    fi
    if ! cmp -s "$work/dump.txt" "$work/plain/dump.txt"; then
        echo "the passes change results: $(diff "$work/plain/dump.txt" "$work/dump.txt" | sed -n 2p)"
        return 1
    fi
    [ "$3" = true ] || return 0
    if ! build_model . "$out/check.o" check; then
        echo "generated C does not build: $(head -1 "$work/cc.err")"; return 1
    fi
    "$work/check" > "$work/check.log" 2>&1 && return 0
    why=$(grep -m1 MISMATCH "$work/check.log" || grep -m1 -E 'FAILED|error' "$work/check.log")
    echo "model checks failed: $why"
    return 1
}

# The fewest layers (1 up to LAYERS) with which the case still fails.
shrink() {   # SEED LAYERS SMOOTH
    for l in $(seq 1 "$2"); do
        if ! run_case "$1" "$l" "$3" > /dev/null; then echo "$l"; return; fi
    done
    echo "$2"
}

passed=0; failed=0
start=$(date +%s)
seed=$first
while [ "$seed" -lt $((first + count)) ]; do
    for smooth in false true; do
        if why=$(run_case "$seed" "$layers" "$smooth"); then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            small=$(shrink "$seed" "$layers" "$smooth")
            keep=$out/fail_seed${seed}_layers${small}_smooth$smooth
            run_case "$seed" "$small" "$smooth" > /dev/null
            mkdir -p "$keep" && cp "$work"/rnd.c "$work"/rnd.h "$work"/*.log "$keep/" 2>/dev/null
            echo "proptest: FAIL SEED=$seed LAYERS=$layers SMOOTH=$smooth: $why"
            echo "  shrunk to $small layers, kept in $keep; reproduce with"
            echo "  tests/proptest.sh 1 $seed $small   or   $B/skipc tests/specs/random.lua" \
                 "-o rnd.c -D seed=$seed -D layers=$small -D smooth=$smooth"
        fi
    done
    seed=$((seed + 1))
done
echo "proptest: $count seeds from SEED=$first, $layers layers, as drawn and smooth:" \
     "$passed passed, $failed failed in $(($(date +%s) - start)) s"
[ "$failed" -eq 0 ]
