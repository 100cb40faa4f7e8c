#!/bin/sh
# Faults during training, on a real process. Ctrl-C: the first SIGINT
# finishes the step, saves a checkpoint that resumes where the run stopped
# and exits with status 130 and the command to continue; a second SIGINT
# ends it at once and the last checkpoint still loads (test_train.c checks
# that resuming after an interruption is bit-exact). A full disk (a file
# size limit here) is reported before training starts, and the checkpoint
# already there is kept. (test_io_safetensors.c kills saves with SIGKILL.)
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/build_env.sh
make -s "$B/mlp" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
ok() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

# Waits (up to 60 s) until the run has printed its first progress.
started() {
    for _ in $(seq 600); do
        grep -q "training /" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

train() {
    "$B/mlp" train --epochs 50 --limit-train 20000 --limit-test 1000 --threads 1 \
        --out "$tmp/$1.st" > "$tmp/$1.log" 2>&1 &
    pid=$!
}

# One SIGINT: a clean stop with a resumable checkpoint.
train one
if started "$tmp/one.log"; then
    sleep 1
    kill -INT "$pid"
    wait "$pid"
    status=$?
    if [ "$status" -ne 130 ] || ! grep -q "continue with: .*train --resume $tmp/one.st" "$tmp/one.log"
    then fail "one SIGINT: status $status; $(tail -3 "$tmp/one.log")"
    elif ! "$B/mlp" train --resume "$tmp/one.st" --out "$tmp/one.st" --epochs 1 \
            --limit-train 20000 --limit-test 1000 --threads 1 > "$tmp/resume.log" 2>&1
    then fail "resuming the interrupted run: $(tail -3 "$tmp/resume.log")"
    else ok; fi
else kill "$pid"; fail "training did not start: $(cat "$tmp/one.log")"; fi

# Two SIGINTs: out at once; the checkpoint of the last finished epoch loads.
train two
if started "$tmp/two.log"; then
    for _ in $(seq 600); do [ -e "$tmp/two.st" ] && break; sleep 0.1; done
    kill -INT "$pid"; kill -INT "$pid"
    wait "$pid"
    status=$?
    if [ "$status" -ne 0 ] && [ "$status" -ne 1 ] &&
        "$B/mlp" eval --weights "$tmp/two.st" --limit-test 100 > /dev/null 2>&1; then ok
    else fail "two SIGINTs: status $status; $(tail -3 "$tmp/two.log")"; fi
else kill "$pid"; fail "training did not start: $(cat "$tmp/two.log")"; fi

# No room for a checkpoint: said before the first step, the old one kept.
"$B/mlp" train --epochs 1 --limit-train 500 --limit-test 100 --out "$tmp/full.st" > /dev/null 2>&1
cp "$tmp/full.st" "$tmp/full.before"
(ulimit -f 100; "$B/mlp" train --epochs 1 --limit-train 500 --limit-test 100 \
    --out "$tmp/full.st" > "$tmp/full.log" 2>&1)
status=$?
if [ "$status" -eq 1 ] && grep -q "full.st: cannot write a .*-byte checkpoint there: File too large" \
    "$tmp/full.log" && ! grep -q "step 1/" "$tmp/full.log" && cmp -s "$tmp/full.st" "$tmp/full.before" &&
    [ -z "$(find "$tmp" -name '*probe*')" ]; then ok
else fail "file size limit: status $status; $(tail -2 "$tmp/full.log")"; fi

echo "test_faults: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
