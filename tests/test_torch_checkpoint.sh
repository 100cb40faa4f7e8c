#!/bin/sh
# Checkpoints from PyTorch: torchvision's resnet18 and densenet121 with
# random weights, their state_dicts saved as safetensors (num_batches_tracked
# as I64, no skipc metadata) by tests/torch_checkpoint.py, load unedited
# into the model binaries of specs/resnet_imagenet.lua and
# densenet_imagenet.lua: predict's outputs equal PyTorch's float64
# evaluation-mode outputs within 1e-4 relative L2, and skipc --infer
# --weights embeds the same file. Skipped, loudly, without Debian's
# python3-torch and python3-torchvision.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/build_env.sh
out=$B/tests/torch
py=/usr/bin/python3
mkdir -p "$out"
if ! $py -c "import torch, torchvision" 2>/dev/null; then
    echo "test_torch_checkpoint: SKIPPED: no python3-torch / python3-torchvision (make deps installs them)"
    exit 0
fi
failed=0
for name in resnet18 densenet121; do
    make -s "$B/$name" || exit 1
    $py tests/torch_checkpoint.py "$name" "$out" || { failed=$((failed + 1)); continue; }
    ckpt=$out/$name.safetensors
    if ! "$B/$name" predict --weights "$ckpt" --input "$out/${name}_x.npy" \
            --output "$out/${name}_y.npy" --threads 2 > "$out/$name.log" 2>&1; then
        cat "$out/$name.log"; failed=$((failed + 1)); continue
    fi
    $py -c "
import numpy as np, sys
y = np.load('$out/${name}_y.npy').astype(np.float64); r = np.load('$out/${name}_y64.npy')
e = np.linalg.norm(y - r) / np.linalg.norm(r)
print('test_torch_checkpoint: $name predict against PyTorch float64: relative L2 %.2e' % e)
sys.exit(0 if e <= 1e-4 else 1)" || failed=$((failed + 1))
    # shellcheck disable=SC2046  # the spec and its -D values, as specs/models.txt has them
    if ! "$B/skipc" $(awk -v n="$name" '$1 == n {$1 = ""; print}' specs/models.txt) \
            -o "$out/${name}_embed.c" --infer --weights "$ckpt" 2> "$out/$name.skipc.log"; then
        cat "$out/$name.skipc.log"; failed=$((failed + 1))
    fi
done
echo "test_torch_checkpoint: $((2 - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
