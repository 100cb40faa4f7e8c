#!/bin/sh
# The experiments pipeline end to end at its smallest (QUICK=1: one epoch
# on 640 images, one gradflow batch), into a scratch directory: every
# result CSV must exist with data rows, and the plots too when gnuplot is
# there. About a minute and a half on 2 cores.
set -u
cd "$(dirname "$0")/.."
out=$(mktemp -d "${TMPDIR:-/tmp}/skipc_exp_test.XXXXXX")
trap 'rm -rf "$out"' EXIT
docs_before=$(ls -lR docs/experiments 2>/dev/null | cksum)
if ! QUICK=1 OUT="$out" tools/experiments.sh > "$out.log" 2>&1; then
    tail -n 30 "$out.log"
    echo "test_experiments: tools/experiments.sh failed"
    rm -f "$out.log"
    exit 1
fi
grep '^== .*: [0-9]* s$' "$out.log"
rm -f "$out.log"
failed=0
for f in gradflow.csv gradflow_summary.csv degradation.csv lesion.csv concat.csv timings.csv; do
    rows=$(($(wc -l < "$out/$f" 2>/dev/null || echo 0) - 1))
    if [ "$rows" -lt 1 ]; then echo "test_experiments: $f missing or without data rows"; failed=1; fi
done
# 10 models in the gradflow summary; every network's curve has rows
[ "$(($(wc -l < "$out/gradflow_summary.csv") - 1))" -eq 10 ] || { echo "test_experiments: gradflow_summary.csv lacks models"; failed=1; }
for m in plain20 plain56 resnet20 resnet56; do
    grep -q "^$m,1," "$out/degradation.csv" || { echo "test_experiments: no epoch 1 for $m in degradation.csv"; failed=1; }
done
grep -q '^resnet56,single,1,' "$out/lesion.csv" || { echo "test_experiments: lesion.csv has no single drops"; failed=1; }
if command -v gnuplot > /dev/null 2>&1; then
    for p in gradflow degradation lesion; do
        for e in png svg; do
            [ -s "$out/$p.$e" ] || { echo "test_experiments: $p.$e missing"; failed=1; }
        done
    done
fi
[ "$(ls -lR docs/experiments 2>/dev/null | cksum)" = "$docs_before" ] ||
    { echo "test_experiments: QUICK changed docs/experiments"; failed=1; }
[ "$failed" -eq 0 ] && echo "test_experiments: all result files present"
[ "$failed" -eq 0 ]
