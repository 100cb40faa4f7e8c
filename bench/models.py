"""The reference side of make bench: the networks of specs/resnet.lua
(ResNet-20 and -56) and specs/densenet_bc.lua (DenseNet-BC-40, growth 12)
in PyTorch, layer for layer, for 1x28x28 inputs and 10 classes."""
import torch
from torch import nn


def conv_bn(cin, cout, k, stride=1, padding=0):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding, bias=False),
                         nn.BatchNorm2d(cout))


class Basic(nn.Module):
    """torchvision's BasicBlock with the 1x1 projection shortcut."""

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.branch = nn.Sequential(conv_bn(cin, planes, 3, stride, 1), nn.ReLU(inplace=True),
                                    conv_bn(planes, planes, 3, 1, 1))
        self.short = (nn.Identity() if stride == 1 and cin == planes
                      else conv_bn(cin, planes, 1, stride))

    def forward(self, x):
        return torch.relu(self.branch(x) + self.short(x))


def resnet(depth):
    n = (depth - 2) // 6
    layers = [conv_bn(1, 16, 3, 1, 1), nn.ReLU(inplace=True)]
    cin = 16
    for stage, planes in enumerate((16, 32, 64)):
        for i in range(n):
            layers.append(Basic(cin, planes, 2 if stage > 0 and i == 0 else 1))
            cin = planes
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


class DenseLayer(nn.Module):
    """torchvision's _DenseLayer: bn relu conv1x1 (4*growth) bn relu conv3x3."""

    def __init__(self, cin, growth):
        super().__init__()
        self.f = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
                               nn.Conv2d(cin, 4 * growth, 1, bias=False),
                               nn.BatchNorm2d(4 * growth), nn.ReLU(inplace=True),
                               nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.f(x)], 1)


def densenet_bc(depth=40, growth=12):
    n = (depth - 4) // 6
    c = 2 * growth
    layers = [nn.Conv2d(1, c, 3, padding=1, bias=False)]
    for block in range(3):
        for _ in range(n):
            layers.append(DenseLayer(c, growth))
            c += growth
        if block < 2:
            layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2)]
            c //= 2
    layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
               nn.Flatten(), nn.Linear(c, 10)]
    return nn.Sequential(*layers)


MODELS = {
    "resnet20": lambda: resnet(20),
    "resnet56": lambda: resnet(56),
    "densenet40": lambda: densenet_bc(40, 12),
}
