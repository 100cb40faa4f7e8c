#!/bin/sh
# The example program, examples/classify.c, built as make example builds it:
# a deployment build named classifier embedding a checkpoint (a ResNet-20
# trained here for a few seconds), linked statically with the portable
# runtime. On five Fashion-MNIST test images its top five classes must be
# the model binary's (predict on the same checkpoint, softmax of its
# logits), each probability within 0.02 points; stdin works as a file does;
# an image of the wrong size is a one-line error.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/build_env.sh
out=$B/tests/example
data=/usr/share/datasets/fashion-mnist
mkdir -p "$out"
make -s "$B/resnet20" build-portable/libskipcrt.a || exit 1
fail() { echo "test_example: FAILED: $*"; exit 1; }

ckpt=$out/resnet20.safetensors
"$B/resnet20" train --epochs 2 --limit-train 2048 --limit-test 256 --batch 64 --threads 2 \
    --out "$ckpt" > "$out/train.txt" 2>&1 || fail "training"
"$B/skipc" specs/resnet.lua -D depth=20 -o "$out/classifier.c" --infer --weights "$ckpt" \
    2>/dev/null || fail "skipc --infer --weights"
# shellcheck disable=SC2086
gcc -std=c11 -O2 -Wall -Wextra -Werror -Iruntime -I"$out" -Wa,-I"$out" -static \
    -o "$out/classify" examples/classify.c "$out/classifier.c" "$out/classifier_weights.c" \
    build-portable/libskipcrt.a -lm -lpthread || fail "build"

# Five test images: as PGM files, and as one IDX file for the model binary.
n=5
{ printf '\0\0\10\3\0\0\0\5\0\0\0\34\0\0\0\34'
  zcat "$data/t10k-images-idx3-ubyte.gz" | tail -c +17 | head -c $((784 * n)); } > "$out/five.idx"
"$B/resnet20" predict --weights "$ckpt" --input "$out/five.idx" --output "$out/five.npy" \
    --threads 1 >/dev/null || fail "model binary predict"
# The model binary's top five: softmax of its logits (a .npy of n x 10
# floats after numpy's 128-byte header), "percent class" lines.
classes="T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Ankle_boot"
od -An -v -f -j 128 -w40 "$out/five.npy" | awk -v names="$classes" '
    { split(names, cl, " "); m = $1; for (k = 1; k <= 10; k++) if ($k > m) m = $k
      s = 0; for (k = 1; k <= 10; k++) { p[k] = exp($k - m); s += p[k]; used[k] = 0 }
      for (r = 1; r <= 5; r++) { b = 0; for (k = 1; k <= 10; k++)
          if (!used[k] && (!b || p[k] > p[b])) b = k
          used[b] = 1; printf "%s %s%s", 100 * p[b] / s, cl[b], r < 5 ? " " : "\n" } }' \
    > "$out/want.txt"
for i in $(seq 0 $((n - 1))); do
    { printf 'P5\n28 28\n255\n'
      tail -c +$((17 + 784 * i)) "$out/five.idx" | head -c 784; } > "$out/img$i.pgm"
    "$out/classify" "$out/img$i.pgm" > "$out/img$i.txt" || fail "classify img$i.pgm"
    "$out/classify" < "$out/img$i.pgm" | cmp -s - "$out/img$i.txt" || fail "stdin differs"
    got=$(sed 's/Ankle boot/Ankle_boot/; s/^ *\([0-9.]*\)% */\1 /' "$out/img$i.txt" | tr '\n' ' ')
    want=$(sed -n "$((i + 1))p" "$out/want.txt")
    echo "$got" "$want" | awk '{ for (r = 0; r < 5; r++) {
            if ($(2 * r + 2) != $(2 * r + 12) || ($(2 * r + 1) - $(2 * r + 11))^2 > 0.0004) exit 1 } }' ||
        fail "image $i: classify says '$got', the model binary '$want'"
    echo "test_example: image $i: $(head -1 "$out/img$i.txt" | sed 's/^ *//') (as predict)"
done
printf 'P5 3 3 255\n' | "$out/classify" 2> "$out/err.txt" && fail "a 3x3 image was accepted"
[ "$(wc -l < "$out/err.txt")" -eq 1 ] || fail "the error is not one line"
echo "test_example: 1 passed, 0 failed"
