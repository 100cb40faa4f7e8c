#!/bin/sh
# The skip-connection experiments on Fashion-MNIST, with the model
# binaries' own commands (gradflow, train, lesion, eval, info):
#
#   1 gradflow     gradient norm per weight, by depth, at initialisation:
#                  plain20/56, resnet20/56, densenet40, with batchnorm and
#                  without (the *_nonorm models), mean over SEEDS
#   2 degradation  plain20/56 and resnet20/56 trained with one recipe for
#                  EPOCHS epochs: training loss and test error per epoch
#   3 lesion       the trained resnet56 with residual blocks dropped, one
#                  at a time and in random sets of k (plain56: its baseline
#                  only; it has no skip to drop)
#   4 concat       densenet40 vs resnet20: test accuracy after EPOCHS
#                  epochs, parameters, FLOPs, training memory at batch 128
#
# Usage: [VAR=value...] tools/experiments.sh [gradflow|degradation|lesion|concat]...
# (no part named: all four, in that order). Settings (full run / QUICK=1):
#   EPOCHS=10 / 1          training epochs (parts 2-4)
#   BATCHES=10 / 1         gradflow batches per seed
#   SEEDS="1 2 3" / "1"    gradflow initialisation and batch seeds
#   GF_BATCH=128 / 32      gradflow batch size
#   LIMIT_TRAIN=0 / 640    training images (0: all 60000)
#   LIMIT_TEST=0 / 200     test images for the per-epoch evaluation (0: all)
#   LESION_TEST=2000 / 100 test images per lesion evaluation (0: all); one
#                          evaluation of resnet56 on all 10000 takes about
#                          a minute on 2 cores, and a lesion run is ~110
#   DRAWS=3 / 1            random sets per k;  MAX_K=0 / 2 (0: every k)
#   THREADS=2              BLAS threads;  DATA=/usr/share/datasets/fashion-mnist
#   OUT=docs/experiments / a new temporary directory: the results
#   WORK=build/experiments / $OUT/work: checkpoints and training logs
# Training uses the binaries' default recipe with --seed 1. A training run
# that finds its checkpoint in WORK (one per model and settings) resumes
# it, or skips it when it has EPOCHS epochs, so an interrupted full run can
# simply be started again, into any OUT; delete WORK to start over.
# QUICK=1 checks the pipeline end to end in about a minute on 2 cores and
# never writes docs/experiments.
set -eu
cd "$(dirname "$0")/.."

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
    EPOCHS=${EPOCHS:-1}; BATCHES=${BATCHES:-1}; SEEDS=${SEEDS:-1}; GF_BATCH=${GF_BATCH:-32}
    LIMIT_TRAIN=${LIMIT_TRAIN:-640}; LIMIT_TEST=${LIMIT_TEST:-200}
    LESION_TEST=${LESION_TEST:-100}; DRAWS=${DRAWS:-1}; MAX_K=${MAX_K:-2}
    OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/skipc_experiments.XXXXXX")}
    WORK=${WORK:-$OUT/work}
else
    EPOCHS=${EPOCHS:-10}; BATCHES=${BATCHES:-10}; SEEDS=${SEEDS:-"1 2 3"}; GF_BATCH=${GF_BATCH:-128}
    LIMIT_TRAIN=${LIMIT_TRAIN:-0}; LIMIT_TEST=${LIMIT_TEST:-0}
    LESION_TEST=${LESION_TEST:-2000}; DRAWS=${DRAWS:-3}; MAX_K=${MAX_K:-0}
    OUT=${OUT:-docs/experiments}
    WORK=${WORK:-build/experiments}
fi
THREADS=${THREADS:-2}
B=${SKIPC_BUILD:-build}   # where make builds the model binaries
DATA=${DATA:-/usr/share/datasets/fashion-mnist}
ALL_PARTS="gradflow degradation lesion concat"
PARTS=${*:-$ALL_PARTS}

mkdir -p "$OUT" "$WORK"
if [ "$QUICK" = 1 ] && [ "$(cd "$OUT" && pwd -P)" = "$(mkdir -p docs/experiments && cd docs/experiments && pwd -P)" ]; then
    echo "experiments: QUICK=1 never writes docs/experiments; choose another OUT" >&2
    exit 2
fi

GF_MODELS="plain20 plain56 resnet20 resnet56 densenet40"
DEG_MODELS="plain20 plain56 resnet20 resnet56"

tools/install-deps.sh gnuplot-nox || echo "experiments: gnuplot-nox not installed; no plots" >&2
bins=""
for m in $GF_MODELS; do bins="$bins $B/$m $B/${m}_nonorm"; done
# shellcheck disable=SC2086
make -s $bins

echo "experiments: QUICK=$QUICK EPOCHS=$EPOCHS BATCHES=$BATCHES SEEDS=\"$SEEDS\" GF_BATCH=$GF_BATCH" \
     "LIMIT_TRAIN=$LIMIT_TRAIN LIMIT_TEST=$LIMIT_TEST LESION_TEST=$LESION_TEST DRAWS=$DRAWS" \
     "MAX_K=$MAX_K THREADS=$THREADS -> $OUT"
T_ALL=$(date +%s)

part_start() { T_PART=$(date +%s); echo; echo "== $1"; }
part_end() {
    s=$(($(date +%s) - T_PART))
    echo "== $1: ${s} s"
    # One row per part, from the invocation that last ran it, so running
    # one part again keeps the other parts' times.
    t=$OUT/timings.csv
    {
        echo "part,seconds"
        for p in $ALL_PARTS; do
            if [ "$p" = "$1" ]; then echo "$p,$s"
            elif [ -f "$t" ]; then grep "^$p," "$t" || true
            fi
        done
    } > "$t.tmp"
    mv "$t.tmp" "$t"
}

# Renders a gnuplot script (data and titles inside) as NAME.png and NAME.svg.
plot() {
    name=$1; script=$2; size=$3
    command -v gnuplot >/dev/null 2>&1 || return 0
    gnuplot -e "set terminal pngcairo size $size font ',10'; set output '$OUT/$name.png'" "$script"
    gnuplot -e "set terminal svg size $size dynamic font ',10'; set output '$OUT/$name.svg'" "$script"
}

# {=====================================================================
# 1 gradient flow at initialisation
# ======================================================================

# Mean over seeds of the per-row gradflow CSVs given (same model, so the
# same rows in the same order); grad_norm also gets its min and max.
average_seeds() {
    out=$1; shift
    awk -F, 'FNR == 1 { next }
        { k = FNR; if (k > last) last = k
          key[k] = $1 "," $2 "," $3; n[k]++
          g[k] += $4; w[k] += $5; r[k] += $6; ig[k] += $7
          if (n[k] == 1 || $4 + 0 < lo[k]) lo[k] = $4 + 0
          if (n[k] == 1 || $4 + 0 > hi[k]) hi[k] = $4 + 0 }
        END { print "depth,layer,param,grad_norm,grad_norm_min,grad_norm_max,weight_norm,ratio,input_grad_norm,seeds"
              for (k = 2; k <= last; k++)
                  printf "%s,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%d\n", key[k], g[k] / n[k], lo[k], hi[k],
                         w[k] / n[k], r[k] / n[k], ig[k] / n[k], n[k] }' "$@" > "$out"
}

run_gradflow() {
    part_start gradflow
    mkdir -p "$OUT/gradflow"
    echo "model,norm,depth,layer,param,grad_norm,grad_norm_min,grad_norm_max,weight_norm,ratio,input_grad_norm,seeds" \
        > "$OUT/gradflow.csv"
    echo "model,norm,first_conv,first_grad_norm,last_conv,last_grad_norm,first_over_last,conv_max_over_min,classifier,classifier_grad_norm" \
        > "$OUT/gradflow_summary.csv"
    for base in $GF_MODELS; do
        for m in "$base" "${base}_nonorm"; do
            norm="batch"; [ "$m" = "$base" ] || norm=none
            files=""
            for s in $SEEDS; do
                f="$OUT/gradflow/$m.seed$s.csv"
                "$B/$m" gradflow --init --seed "$s" --batches "$BATCHES" --batch "$GF_BATCH" \
                    --limit-train "$LIMIT_TRAIN" --data "$DATA" --threads "$THREADS" --csv "$f" \
                    > "$OUT/gradflow/$m.seed$s.txt"
                files="$files $f"
            done
            # shellcheck disable=SC2086
            average_seeds "$OUT/gradflow/$m.csv" $files
            # shellcheck disable=SC2086
            rm -f $files
            awk -F, -v m="$base" -v n="$norm" 'NR > 1 { print m "," n "," $0 }' \
                "$OUT/gradflow/$m.csv" >> "$OUT/gradflow.csv"
            # First and last convolution (the classifier, the last row, and
            # 1x1 projection shortcuts left out), and the spread over all
            # convolutions: the slope of the curve, not one noisy end point.
            awk -F, -v m="$base" -v n="$norm" 'NR > 1 { p[NR] = $3; g[NR] = $4; last = NR }
                END { for (i = 2; i < last; i++) {
                          if (p[i] ~ /downsample/) continue
                          if (!fp) { fp = p[i]; fg = g[i]; lo = hi = g[i] }
                          lp = p[i]; lg = g[i]
                          if (g[i] < lo) lo = g[i]; if (g[i] > hi) hi = g[i] }
                      printf "%s,%s,%s,%.6g,%s,%.6g,%.6g,%.6g,%s,%.6g\n", m, n, fp, fg, lp, lg,
                             (lg > 0 ? fg / lg : 0), (lo > 0 ? hi / lo : 0), p[last], g[last] }' \
                "$OUT/gradflow/$m.csv" | tee -a "$OUT/gradflow_summary.csv"
        done
    done
    gp="$OUT/gradflow/plot.gp"
    cat > "$gp" <<EOF
set datafile separator ","
set logscale y
set format y "10^{%L}"
set grid
set key outside right
set xlabel "depth (weighted layers from the input)"
set ylabel "gradient norm ||dL/dW|| (mean over seeds)"
set multiplot layout 1,2 title "Gradient flow at initialisation, Fashion-MNIST (seeds $SEEDS, $BATCHES batches of $GF_BATCH, training mode)"
set title "with batchnorm"
plot for [m in "$GF_MODELS"] sprintf("$OUT/gradflow/%s.csv", m) skip 1 using 1:4 smooth unique with linespoints title m
set title "without normalisation (-D norm=none)"
plot for [m in "$GF_MODELS"] sprintf("$OUT/gradflow/%s_nonorm.csv", m) skip 1 using 1:4 smooth unique with linespoints title m
unset multiplot
EOF
    plot gradflow "$gp" 1400,560
    part_end gradflow
}

# }=====================================================================

# {=====================================================================
# Training (shared by parts 2-4)
# ======================================================================

# A training run's files in WORK (checkpoint, CSV log, console output),
# named by every setting that changes them: a checkpoint is resumed only by
# a run with the same settings. (Extending a finished run instead would
# stretch its cosine schedule, which is not the same as training for
# EPOCHS epochs from the start.)
run_base() {
    echo "$WORK/$1.e$EPOCHS.train$LIMIT_TRAIN.test$LIMIT_TEST.t$THREADS"
}

# Trains $B/M for EPOCHS epochs, resuming a checkpoint left by an
# interrupted earlier run of this script, and copies its logs to OUT/train.
train_model() {
    m=$1; run=$(run_base "$m")
    ck="$run.safetensors"
    mkdir -p "$OUT/train"
    if [ -f "$ck" ]; then
        "$B/$m" train --resume "$ck" --out "$ck" --epochs "$EPOCHS" --limit-test "$LIMIT_TEST" \
            --data "$DATA" --threads "$THREADS" --log "$run.csv" >> "$run.txt"
    else
        rm -f "$run.csv" "$run.txt"
        "$B/$m" train --epochs "$EPOCHS" --seed 1 --limit-train "$LIMIT_TRAIN" \
            --limit-test "$LIMIT_TEST" --data "$DATA" --threads "$THREADS" --out "$ck" \
            --log "$run.csv" > "$run.txt"
    fi
    cp "$run.csv" "$OUT/train/$m.csv"
    cp "$run.txt" "$OUT/train/$m.txt"
    tail -n 1 "$run.txt"
}

# The epoch rows of a training log (the last one of each epoch, should a
# resumed run have repeated it) as model,epoch,train_loss,train_error,
# test_loss,test_error. Wall time stays in the training log: these rows,
# like every result file, must come out the same on a rerun.
epoch_rows() {
    awk -F, -v m="$1" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        $c["test_acc"] != "" { e = $c["epoch"] + 0; if (e > last) last = e
            row[e] = sprintf("%s,%d,%s,%.6f,%s,%.6f", m, e, $c["train_loss"], 1 - $c["train_acc"],
                             $c["test_loss"], 1 - $c["test_acc"]) }
        END { for (e = 1; e <= last; e++) if (e in row) print row[e] }' "$2"
}

# }=====================================================================

# {=====================================================================
# 2 degradation
# ======================================================================

run_degradation() {
    part_start degradation
    mkdir -p "$OUT/degradation"
    echo "model,epoch,train_loss,train_error,test_loss,test_error" > "$OUT/degradation.csv"
    for m in $DEG_MODELS; do
        train_model "$m"
        epoch_rows "$m" "$OUT/train/$m.csv" | tee "$OUT/degradation/$m.csv" >> "$OUT/degradation.csv"
    done
    gp="$OUT/degradation/plot.gp"
    cat > "$gp" <<EOF
set datafile separator ","
set grid
set key top right
set xlabel "epoch"
set style line 1 lc rgb "#1f77b4" lw 2 dt 2 pt 6
set style line 2 lc rgb "#d62728" lw 2 dt 2 pt 6
set style line 3 lc rgb "#1f77b4" lw 2 pt 7
set style line 4 lc rgb "#d62728" lw 2 pt 7
set multiplot layout 1,2 title "Degradation: plain vs residual, same recipe, Fashion-MNIST ($EPOCHS epochs)"
set title "training loss (mean over the epoch)"
set ylabel "cross-entropy"
plot for [i=1:4] sprintf("$OUT/degradation/%s.csv", word("$DEG_MODELS", i)) using 2:3 with linespoints ls i title word("$DEG_MODELS", i)
set title "test error"
set ylabel "1 - accuracy"
plot for [i=1:4] sprintf("$OUT/degradation/%s.csv", word("$DEG_MODELS", i)) using 2:6 with linespoints ls i title word("$DEG_MODELS", i)
unset multiplot
EOF
    plot degradation "$gp" 1400,560
    part_end degradation
}

# }=====================================================================

# {=====================================================================
# 3 lesion
# ======================================================================

run_lesion() {
    part_start lesion
    mkdir -p "$OUT/lesion"
    train_model resnet56
    train_model plain56
    "$B/resnet56" lesion --weights "$(run_base resnet56).safetensors" --data "$DATA" \
        --limit-test "$LESION_TEST" --draws "$DRAWS" --max-k "$MAX_K" --seed 1 --threads "$THREADS" \
        --csv "$OUT/lesion/resnet56.csv" > "$OUT/lesion/resnet56.txt"
    # plain56 has no residual add: the command says so; its baseline is the reference.
    "$B/plain56" lesion --weights "$(run_base plain56).safetensors" | tee "$OUT/lesion/plain56.txt"
    "$B/plain56" eval --weights "$(run_base plain56).safetensors" --data "$DATA" \
        --limit-test "$LESION_TEST" --threads "$THREADS" >> "$OUT/lesion/plain56.txt"
    plain=$(sed -n 's/^test loss .* accuracy \([0-9.]*\)%.*/\1/p' "$OUT/lesion/plain56.txt")
    {
        echo "model,kind,k,blocks,accuracy"
        awk -F, 'NR > 1 { print "resnet56," $0 }' "$OUT/lesion/resnet56.csv"
        awk -v a="$plain" 'BEGIN { printf "plain56,baseline,0,,%.6f\n", a / 100 }'
    } > "$OUT/lesion.csv"
    # k, draws, mean, min, max (k = 0: the whole network)
    awk -F, 'NR > 1 && ($1 == "baseline" || $1 == "random") { k = $2 + 0; if (k > last) last = k
            n[k]++; s[k] += $4; if (n[k] == 1 || $4 < lo[k]) lo[k] = $4; if (n[k] == 1 || $4 > hi[k]) hi[k] = $4 }
        END { print "k,draws,mean,min,max"
              for (k = 0; k <= last; k++) if (k in n) printf "%d,%d,%.6f,%.6f,%.6f\n", k, n[k], s[k] / n[k], lo[k], hi[k] }' \
        "$OUT/lesion/resnet56.csv" > "$OUT/lesion/resnet56_by_k.csv"
    awk -F, 'NR > 1 && $1 == "single" { printf "%d,%s,%s\n", i++, $3, $4 }' \
        "$OUT/lesion/resnet56.csv" > "$OUT/lesion/resnet56_single.csv"
    cat "$OUT/lesion/resnet56_by_k.csv"
    base=$(awk -F, '$1 == "baseline" { print $4 }' "$OUT/lesion/resnet56.csv")
    images="the first $LESION_TEST test images"; [ "$LESION_TEST" -gt 0 ] || images="all test images"
    gp="$OUT/lesion/plot.gp"
    cat > "$gp" <<EOF
set datafile separator ","
set grid
set yrange [0:1]
set ylabel "test accuracy"
set multiplot layout 1,2 title "Lesion of resnet56 trained $EPOCHS epochs, accuracy on $images"
set title "random sets of k residual blocks dropped (mean, min-max over $DRAWS draws)"
set xlabel "blocks dropped (k)"
set key center right
plot "$OUT/lesion/resnet56_by_k.csv" skip 1 using 1:3:4:5 with yerrorlines lw 2 pt 7 title "resnet56", \\
     $plain / 100.0 with lines dt 2 lw 2 title "plain56, whole network", \\
     0.1 with lines dt 3 lc rgb "gray" title "chance"
set title "one block dropped"
set xlabel "block (0 = nearest the input)"
plot "$OUT/lesion/resnet56_single.csv" using 1:3 with linespoints lw 2 pt 7 title "resnet56, block dropped", \\
     $base with lines dt 2 lw 2 title "resnet56, whole network"
unset multiplot
EOF
    plot lesion "$gp" 1400,560
    part_end lesion
}

# }=====================================================================

# {=====================================================================
# 4 concatenation vs addition
# ======================================================================

# model,params,trainable,mflops,arena_bytes_b128,epochs,test_acc
concat_row() {
    m=$1
    "$B/$m" info --batch 128 > "$OUT/concat/$m.info.txt"
    acc=$(epoch_rows "$m" "$OUT/train/$m.csv" | tail -n 1 | awk -F, '{ printf "%.4f", 1 - $6 }')
    ep=$(epoch_rows "$m" "$OUT/train/$m.csv" | tail -n 1 | cut -d, -f2)
    awk -v m="$m" -v acc="$acc" -v ep="$ep" '
        /^total / { p = $2; t = substr($4, 2) }
        /^forward FLOPs/ { f = substr($6, 2) }
        /^arena for batch/ { a = $5 }
        END { printf "%s,%s,%s,%s,%s,%s,%s\n", m, p, t, f, a, ep, acc }' "$OUT/concat/$m.info.txt"
}

run_concat() {
    part_start concat
    mkdir -p "$OUT/concat"
    train_model densenet40
    train_model resnet20
    {
        echo "model,params,trainable,mflops,arena_bytes_b128,epochs,test_acc"
        concat_row densenet40
        concat_row resnet20
    } > "$OUT/concat.csv"
    awk -F, 'NR == 1 { print "| model | parameters | MFLOPs/sample | training arena, batch 128 | epochs | test accuracy |"
                       print "| --- | ---: | ---: | ---: | ---: | ---: |"; next }
        { printf "| %s | %s | %s | %.1f MiB | %s | %.2f%% |\n", $1, $2, $4, $5 / 1048576, $6, 100 * $7 }' \
        "$OUT/concat.csv" | tee "$OUT/concat.md"
    part_end concat
}

# }=====================================================================

for p in $PARTS; do
    case "$p" in
        gradflow) run_gradflow ;;
        degradation) run_degradation ;;
        lesion) run_lesion ;;
        concat) run_concat ;;
        *) echo "experiments: unknown part '$p' (gradflow, degradation, lesion, concat)" >&2; exit 2 ;;
    esac
done
echo
echo "experiments: done in $(($(date +%s) - T_ALL)) s; results in $OUT"
