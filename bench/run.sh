#!/bin/sh
# make bench: skipc side by side with PyTorch (with oneDNN) and ONNX Runtime,
# in one run; then skipc's deployment builds (skipc --infer, native and
# portable) at batch 1 on one thread against the training build's inference
# and ONNX Runtime. Every measurement is a process of its own (so its peak memory
# is its own); each round runs every row once, the contenders of a row one
# after another, and the table gives each contender's median over the
# rounds, the ratios skipc/peer, peak RSS, and skipc's GFLOP/s as a share
# of the FMA peak measured in the same run (bench/fma_peak.c).
#   ROUNDS=3          rounds
#   SKIPC_BIN=build   where the model binaries are (another build to compare)
#   OUT=bench/results.json
#   REPORT_ONLY=1     the table of the last run's measurements again
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SKIPC_BIN=${SKIPC_BIN:-build}
OUT=${OUT:-bench/results.json}
py=/usr/bin/python3
work=build/bench
mkdir -p "$work"

cc -O3 -march=native -pthread bench/fma_peak.c -o "$work/fma_peak"
[ -s "$work/onnx/resnet18.onnx" ] || (cd bench && $py export_onnx.py "../$work/onnx") \
    > "$work/export.log" 2>&1 || { cat "$work/export.log"; exit 1; }

# Rows: kind model batch threads steps
ROWS="train resnet20 128 1 4
train resnet20 128 2 6
train resnet20 32 2 16
train resnet56 128 1 2
train resnet56 128 2 3
train densenet40 64 1 3
train densenet40 64 2 4
infer resnet20 1 1 400
infer resnet20 64 2 40
infer resnet56 1 1 150
infer resnet56 64 2 15
infer densenet40 1 1 150
infer densenet40 64 2 15"

# Deployment rows: model steps (batch 1, one thread). Each model's
# deployment build, linked with the OpenBLAS runtime built for this machine
# (deploy) and with the portable one (make portable: no OpenBLAS, no
# -march=native), into bench/deploy_bench.c.
DEPLOY_ROWS="resnet20 400
densenet40 150
resnet18 20"
mkdir -p "$work/deploy"
blas="$(pkg-config --cflags --libs openblas)"
for m in $(echo "$DEPLOY_ROWS" | awk '{print $1}'); do
    # shellcheck disable=SC2046  # the spec and its -D values from specs/models.txt
    build/skipc $(awk -v n="$m" '$1 == n {$1 = ""; print}' specs/models.txt) --infer \
        -o "$work/deploy/$m.c" 2>/dev/null
    up=$(echo "$m" | tr '[:lower:]' '[:upper:]')
    for v in native portable; do
        if [ $v = native ]; then flags="-O3 -march=native"; lib="build/libskipcrt.a $blas"
        else flags="-O2"; lib="build-portable/libskipcrt.a"; fi
        # shellcheck disable=SC2086
        cc -std=c11 $flags -D_POSIX_C_SOURCE=200809L -Iruntime -I"$work/deploy" -DDEPLOY="$m" \
            -DDEPLOY_UP="$up" -DDEPLOY_HEADER="\"$m.h\"" -o "$work/deploy/${m}_$v" \
            bench/deploy_bench.c "$work/deploy/$m.c" $lib -lm -lpthread
    done
done

# skipc's bench prints "train ... images/s" and "inference ... images/s";
# binaries from before --mode existed time both and are parsed the same.
mode_flag() {
    if "$SKIPC_BIN/$1" bench --help 2>&1 | grep -q -- --mode; then echo "--mode $2"; fi
}

# Runs a command, appends "images/s peak-KiB" to file F.
measure() {   # F CMD...
    f=$1; shift
    if ! /usr/bin/time -f %M -o "$work/rss" "$@" > "$work/out" 2> "$work/err"; then
        echo "bench: failed: $*" >&2; cat "$work/err" >&2; echo "nan 0" >> "$f"; return
    fi
    echo "$(tail -1 "$work/out") $(tail -1 "$work/rss")" >> "$f"
}

skipc_run() {   # F KIND MODEL BATCH THREADS STEPS
    what=train; [ "$2" = infer ] && what=inference
    # shellcheck disable=SC2046
    /usr/bin/time -f %M -o "$work/rss" "$SKIPC_BIN/$3" bench --batch "$4" --threads "$5" \
        --steps "$6" $(mode_flag "$3" "$2") > "$work/out" 2> "$work/err" ||
        { echo "bench: skipc $3 failed" >&2; cat "$work/err" >&2; echo "nan 0" >> "$1"; return; }
    echo "$(awk -v w="$what" '$1 == w {print $2}' "$work/out") $(tail -1 "$work/rss")" >> "$1"
}

peak1=$("$work/fma_peak" 1); peak2=$("$work/fma_peak" 2)
[ "${REPORT_ONLY:-0}" = 1 ] || rm -f "$work"/r_* "$work"/d_*
r=1
[ "${REPORT_ONLY:-0}" = 1 ] && r=$((ROUNDS + 1))   # the table of the last run again
while [ "$r" -le "$ROUNDS" ]; do
    echo "bench: round $r of $ROUNDS" >&2
    i=0
    echo "$ROWS" | while read -r kind model batch threads steps; do
        i=$((i + 1))
        skipc_run "$work/r_${i}_skipc" "$kind" "$model" "$batch" "$threads" "$steps"
        measure "$work/r_${i}_torch" env OMP_NUM_THREADS="$threads" \
            $py bench/torch_bench.py "$model" "$kind" "$batch" "$threads" "$steps"
        if [ "$kind" = infer ]; then
            measure "$work/r_${i}_ort" node bench/ort_bench.js "$work/onnx/$model.onnx" \
                "$batch" "$threads" "$steps"
        fi
    done
    echo "$DEPLOY_ROWS" | while read -r model steps; do
        chw=1,28,28; [ "$model" = resnet18 ] && chw=3,224,224
        measure "$work/d_${model}_native" "$work/deploy/${model}_native" 1 1 "$steps"
        skipc_run "$work/d_${model}_train" infer "$model" 1 1 "$steps"
        measure "$work/d_${model}_ort" node bench/ort_bench.js "$work/onnx/$model.onnx" \
            1 1 "$steps" "$chw"
        measure "$work/d_${model}_portable" "$work/deploy/${model}_portable" 1 1 \
            "$(( (steps + 9) / 10 ))"
    done
    r=$((r + 1))
done

# FLOPs per sample, forward, from the models themselves.
flops() { "$SKIPC_BIN/$1" info | awk '/^forward FLOPs per sample/ {print $5}'; }

echo "$ROWS" | awk -v work="$work" -v p1="$peak1" -v p2="$peak2" -v out="$OUT" \
    -v f20="$(flops resnet20)" -v f56="$(flops resnet56)" -v f40="$(flops densenet40)" '
function median(file,    n, v, i, j, t, line) {
    n = 0
    while ((getline line < file) > 0) { split(line, a, " "); v[++n] = a[1] + 0; rss[n] = a[2] }
    close(file)
    if (n == 0) return "nan"
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    maxrss = 0; for (i = 1; i <= n; i++) if (rss[i] + 0 > maxrss) maxrss = rss[i] + 0
    return v[int((n + 1) / 2)]
}
function mib(k) { return sprintf("%.0f", k / 1024) }
function ratio(a, b) { return (b == "nan" || b == 0 || a == "nan") ? "-" : sprintf("%.2fx", a / b) }
BEGIN {
    fl["resnet20"] = f20; fl["resnet56"] = f56; fl["densenet40"] = f40
    printf "FMA peak measured now: %.1f GFLOP/s on 1 thread, %.1f on 2\n\n", p1, p2
    print "| workload | threads | skipc img/s | PyTorch img/s | skipc/PyTorch | ONNX Runtime img/s | skipc/ORT | skipc GFLOP/s (% of peak) | peak RSS MiB skipc / PyTorch / ORT |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|---|"
    printf "{\n  \"fma_peak_gflops\": {\"1\": %s, \"2\": %s},\n  \"rows\": [\n", p1, p2 > out
}
{
    i = NR; kind = $1; model = $2; batch = $3; th = $4
    s = median(work "/r_" i "_skipc"); srss = maxrss
    t = median(work "/r_" i "_torch"); trss = maxrss
    o = "nan"; orss = 0
    if (kind == "infer") { o = median(work "/r_" i "_ort"); orss = maxrss }
    mult = kind == "train" ? 3 : 1   # a training step: forward, backward-data, backward-weights
    gf = s == "nan" ? 0 : s * fl[model] * mult / 1e9
    pk = th == 1 ? p1 : p2
    name = sprintf("%s %s, batch %d", model, kind == "train" ? "training step" : "inference", batch)
    printf "| %s | %d | %.0f | %.0f | %s | %s | %s | %.1f (%.0f%%) | %s / %s / %s |\n", name, th, s, t,
        ratio(s, t), kind == "infer" ? sprintf("%.0f", o) : "-", kind == "infer" ? ratio(s, o) : "-",
        gf, 100 * gf / pk, mib(srss), mib(trss), kind == "infer" ? mib(orss) : "-"
    key = kind " " model " " batch " " th
    S[key] = s; T[key] = t; O[key] = o; SR[key] = srss; TR[key] = trss
    printf "%s    {\"model\": \"%s\", \"kind\": \"%s\", \"batch\": %d, \"threads\": %d, \"skipc\": %s, \"pytorch\": %s, \"onnxruntime\": %s, \"skipc_gflops\": %.2f, \"rss_kib\": {\"skipc\": %d, \"pytorch\": %d, \"onnxruntime\": %d}}", (NR > 1 ? ",\n" : ""), model, kind, batch, th, s, t, kind == "infer" ? o : "null", gf, srss, trss, orss > out
}
# The targets: each ratio, the least it must reach (the most, for memory) and the aim.
function target(what, v, must, aim, lower) {
    if (v == "" || v == "nan" || v + 0 == 0) { printf "| %s | - | %s | %s | no data |\n", what, must, aim; return }
    ok = lower ? v <= must : v >= must
    printf "| %s | %.2f | %s | %s | %s |\n", what, v, must, aim, ok ? "met" : "MISSED"
}
function q(a, b) { return (a == "nan" || b == "nan" || b + 0 == 0) ? "nan" : a / b }
END {
    printf "\n  ]" > out
    print ""
    print "| target | measured | must reach | aim | |"
    print "|---|---:|---:|---:|---|"
    target("ResNet-20 training step, batch 128, 2 threads, skipc/PyTorch", q(S["train resnet20 128 2"], T["train resnet20 128 2"]), "1.0", "1.4", 0)
    target("ResNet-56 training step, batch 128, 2 threads, skipc/PyTorch", q(S["train resnet56 128 2"], T["train resnet56 128 2"]), "1.0", "1.4", 0)
    target("ResNet-20 training step, batch 32, 2 threads, skipc/PyTorch", q(S["train resnet20 32 2"], T["train resnet20 32 2"]), "1.0", "1.4", 0)
    target("DenseNet-BC-40 training step, batch 64, 2 threads, skipc/PyTorch", q(S["train densenet40 64 2"], T["train densenet40 64 2"]), "1.5", "2.5", 0)
    target("ResNet-20 inference, batch 1, 1 thread, skipc/ORT (latency)", q(S["infer resnet20 1 1"], O["infer resnet20 1 1"]), "1.0", "1.3", 0)
    target("DenseNet-BC-40 inference, batch 1, 1 thread, skipc/ORT (latency)", q(S["infer densenet40 1 1"], O["infer densenet40 1 1"]), "1.0", "1.3", 0)
    target("ResNet-20 inference, batch 64, 2 threads, skipc/ORT", q(S["infer resnet20 64 2"], O["infer resnet20 64 2"]), "0.9", "1.2", 0)
    target("DenseNet-BC-40 inference, batch 64, 2 threads, skipc/ORT", q(S["infer densenet40 64 2"], O["infer densenet40 64 2"]), "0.9", "1.2", 0)
    target("ResNet-20 training step, batch 128: 2 threads over 1", q(S["train resnet20 128 2"], S["train resnet20 128 1"]), "1.7", "1.9", 0)
    target("ResNet-56 training step, batch 128: 2 threads over 1", q(S["train resnet56 128 2"], S["train resnet56 128 1"]), "1.7", "1.9", 0)
    target("DenseNet-BC-40 training step, batch 64: 2 threads over 1", q(S["train densenet40 64 2"], S["train densenet40 64 1"]), "1.7", "1.9", 0)
    target("ResNet-20 training b128, peak RSS skipc/PyTorch", q(SR["train resnet20 128 2"], TR["train resnet20 128 2"]), "0.33", "0.2", 1)
    target("DenseNet-BC-40 training b64, peak RSS skipc/PyTorch", q(SR["train densenet40 64 2"], TR["train densenet40 64 2"]), "0.33", "0.2", 1)
}'
# Deployment builds: latency at batch 1 on one thread, the medians.
echo "$DEPLOY_ROWS" | awk -v work="$work" -v out="$OUT" '
function median(file,    n, v, i, j, t, line) {
    n = 0
    while ((getline line < file) > 0) { split(line, a, " "); v[++n] = a[1] + 0 }
    close(file)
    if (n == 0) return "nan"
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    return v[int((n + 1) / 2)]
}
function ms(ips) { return ips == "nan" || ips == 0 ? "-" : sprintf("%.2f", 1000 / ips) }
function ratio(a, b) { return (b == "nan" || b == 0 || a == "nan") ? "-" : sprintf("%.2fx", a / b) }
BEGIN {
    print ""
    print "Deployment builds (skipc --infer), batch 1, 1 thread: latency in ms (speed ratios)"
    print ""
    print "| model | deployment build | training build infer | deployment/training | ONNX Runtime | deployment/ORT | portable build | portable/deployment |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|"
    printf ",\n  \"deploy_batch1_1thread_images_per_s\": [\n" >> out
}
{
    m = $1; d = median(work "/d_" m "_native"); t = median(work "/d_" m "_train")
    o = median(work "/d_" m "_ort"); p = median(work "/d_" m "_portable")
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", m, ms(d), ms(t), ratio(d, t), ms(o),
        ratio(d, o), ms(p), ratio(p, d)
    printf "%s    {\"model\": \"%s\", \"deploy\": %s, \"training_build\": %s, \"onnxruntime\": %s, \"portable\": %s}", (NR > 1 ? ",\n" : ""), m, d, t, o, p >> out
}
END { printf "\n  ]\n}\n" >> out }'
echo "bench: results in $OUT"
