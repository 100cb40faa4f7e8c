#!/bin/sh
# Demo: build the ResNet-20 model binary from its committed generated C,
# train it for one epoch on Fashion-MNIST (progress on the terminal, a
# checkpoint after the epoch, gradient norms per layer in a CSV), then
# evaluate the checkpoint. MODEL=mlp tools/demo.sh runs the same with the MLP.
set -eu
MODEL=${MODEL:-resnet20}
BIN=build/$MODEL
CKPT=build/$MODEL.safetensors
LOG=build/$MODEL.train.csv

make "$BIN"
rm -f "$LOG"
"$BIN" train --epochs 1 --threads 2 --out "$CKPT" --log "$LOG"
"$BIN" eval --weights "$CKPT" | tee "build/$MODEL.eval.txt"
acc=$(sed -n 's/^test loss .* accuracy \([0-9.]*%\).*/\1/p' "build/$MODEL.eval.txt")
echo "$MODEL after 1 epoch: test accuracy $acc; checkpoint $CKPT, training log $LOG"
