"""Idiomatic torch.nn mirrors of the harness's built-in cases.

Attribute names follow the funcad Cells of the same case so that the bridge maps parameters by name;
where funcad keeps MindSpore's names (BatchNorm's gamma/beta/moving_mean/moving_variance) the case
supplies a name map instead of renaming anything here.
"""

from __future__ import annotations

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


class QuickstartMLP(nn.Module):
    """MindSpore's quickstart network: Flatten, then Dense 784-512-512-10 with ReLU."""

    def __init__(self, in_features: int = 28 * 28, hidden: int = 512, num_classes: int = 10):
        super().__init__()
        self.flatten = nn.Flatten()
        self.dense_relu_sequential = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense_relu_sequential(self.flatten(x))


class LeNet5(nn.Module):
    """LeNet-5 for 1x28x28 images: two conv/ReLU/max-pool blocks, three fully connected layers.

    The convolutions have no bias, as MindSpore's ``Conv2d`` defaults to ``has_bias=False``; the
    first pads to keep 28x28 (MindSpore's ``pad_mode='same'``), the second is ``valid``.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding="same", bias=False)
        self.conv2 = nn.Conv2d(6, 16, 5, bias=False)
        self.relu = nn.ReLU()
        self.max_pool2d = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.max_pool2d(self.relu(self.conv1(x)))
        x = self.max_pool2d(self.relu(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


class MLPBatchNorm(nn.Module):
    """Flatten, Dense 784-128, BatchNorm1d, ReLU, Dense 128-10."""

    def __init__(self, in_features: int = 28 * 28, hidden: int = 128, num_classes: int = 10, bn_momentum: float = 0.1):
        super().__init__()
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.BatchNorm1d(hidden, momentum=bn_momentum),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.flatten(x))
