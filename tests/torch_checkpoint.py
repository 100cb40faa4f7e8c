"""A torchvision model's state_dict as a PyTorch user saves it with
safetensors (the format written here by hand, as Debian packages no
python3-safetensors: JSON header, then raw little-endian data), with
num_batches_tracked as I64 and batchnorm statistics far from their
initial values; and an input with the float64 evaluation-mode output.

    torch_checkpoint.py MODEL OUTDIR    writes OUTDIR/MODEL.safetensors,
                                        OUTDIR/MODEL_x.npy, OUTDIR/MODEL_y64.npy
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision

DTYPES = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().contiguous().numpy()
        data = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)


def main():
    name, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(1234)
    model.eval()
    save_safetensors(os.path.join(out, name + ".safetensors"), model.state_dict())
    x = torch.randn(2, 3, 224, 224)
    np.save(os.path.join(out, name + "_x.npy"), x.numpy())
    with torch.no_grad():
        y = model.double()(x.double())
    np.save(os.path.join(out, name + "_y64.npy"), y.numpy())


if __name__ == "__main__":
    main()
