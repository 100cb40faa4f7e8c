"""Times one PyTorch contender of make bench in a process of its own:
    torch_bench.py MODEL train|infer BATCH THREADS STEPS
A training step is forward, cross-entropy, backward and SGD with Nesterov
momentum and weight decay (what the skipc side runs); inference is the
evaluation-mode forward under inference_mode. Untimed steps first, at
least three and for at least a second: oneDNN builds its kernels during the
first iterations. Prints one line: images/s."""
import sys
import time

import torch
from torch import nn

from models import MODELS


def main():
    name, mode, batch, threads, steps = sys.argv[1:6]
    batch, threads, steps = int(batch), int(threads), int(steps)
    torch.set_num_threads(threads)
    torch.manual_seed(7)
    model = MODELS[name]()
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    if mode == "train":
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4,
                              nesterov=True)
        loss_fn = nn.CrossEntropyLoss()
        model.train()

        def step():
            opt.zero_grad(set_to_none=False)
            loss_fn(model(x), y).backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.inference_mode():
                model(x)
    t0 = time.perf_counter()
    for i in range(1000):
        step()
        if i >= 2 and time.perf_counter() - t0 > 1.0:
            break
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    print(f"{steps * batch / (time.perf_counter() - t0):.2f}")


if __name__ == "__main__":
    main()
