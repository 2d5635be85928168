"""Idiomatic torch.nn mirrors of the harness's built-in cases.

Attribute names follow the funcad Cells of the same case so that the bridge maps parameters by name;
where funcad keeps MindSpore's names (BatchNorm's gamma/beta/moving_mean/moving_variance) the case
supplies a name map instead of renaming anything here.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


class TutorialLinear(nn.Module):
    """The seed's notebook model: ``z = x @ w + b`` with ``w`` (5, 3) and ``b`` (3,)."""

    def __init__(self, in_features: int = 5, out_features: int = 3):
        super().__init__()
        self.w = nn.Parameter(torch.randn(in_features, out_features))
        self.b = nn.Parameter(torch.randn(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.w + self.b


class LogisticRegression(nn.Module):
    """One linear unit producing a logit per sample (pair with ``BCEWithLogitsLoss``)."""

    def __init__(self, in_features: int = 30):
        super().__init__()
        self.linear = nn.Linear(in_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class QuickstartMLP(nn.Sequential):
    """MindSpore's quickstart network: Flatten, then Dense 784-512-512-10 with ReLU."""

    def __init__(self, in_features: int = 28 * 28, hidden: int = 512, num_classes: int = 10):
        dense_relu_sequential = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                              nn.Linear(hidden, num_classes))
        super().__init__(OrderedDict(flatten=nn.Flatten(), dense_relu_sequential=dense_relu_sequential))


class LeNet5(nn.Module):
    """LeNet-5 for 1x28x28 images: two conv/ReLU/max-pool blocks, three fully connected layers.

    The convolutions have no bias, as MindSpore's ``Conv2d`` defaults to ``has_bias=False``; the
    first pads to keep 28x28 (MindSpore's ``pad_mode='same'``), the second is ``valid``. One ReLU and
    one max-pool module serve every layer that uses them.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(in_channels, 6, 5, padding="same", bias=False), nn.Conv2d(6, 16, 5, bias=False)
        self.relu, self.max_pool2d, self.flatten = nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2), nn.Flatten()
        self.fc1, self.fc2, self.fc3 = nn.Linear(16 * 5 * 5, 120), nn.Linear(120, 84), nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in (self.conv1, self.conv2):
            x = self.max_pool2d(self.relu(conv(x)))
        x = self.flatten(x)
        for fc in (self.fc1, self.fc2):
            x = self.relu(fc(x))
        return self.fc3(x)


class MLPBatchNorm(nn.Sequential):
    """Flatten, Dense 784-128, BatchNorm1d, ReLU, Dense 128-10."""

    def __init__(self, in_features: int = 28 * 28, hidden: int = 128, num_classes: int = 10, bn_momentum: float = 0.1):
        layers = nn.Sequential(nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden, momentum=bn_momentum), nn.ReLU(),
                               nn.Linear(hidden, num_classes))
        super().__init__(OrderedDict(flatten=nn.Flatten(), layers=layers))
