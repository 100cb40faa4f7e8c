"""Exports the evaluation-mode PyTorch models of models.py (1x28x28) and
torchvision's ResNet-18 (3x224x224) to ONNX for the ONNX Runtime
contender: export_onnx.py OUTDIR (one NAME.onnx each, the batch dimension
left free)."""
import os
import sys

import torch
import torchvision

from models import MODELS


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    models = {name: (make, (1, 28, 28)) for name, make in MODELS.items()}
    models["resnet18"] = (torchvision.models.resnet18, (3, 224, 224))
    for name, (make, shape) in models.items():
        model = make().eval()
        torch.onnx.export(model, torch.randn(1, *shape), os.path.join(out, name + ".onnx"),
                          input_names=["x"], output_names=["y"], opset_version=13,
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})


if __name__ == "__main__":
    main()
