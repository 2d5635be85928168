"""The funcad side of the built-in cases: Cells written as a MindSpore 2.x user writes them.

Each mirrors a module of ``torch_ref.models`` parameter for parameter (same names up to the Cell's own
torch name map, same shapes); initial values are drawn here and copied into torch, never re-drawn.
"""

from __future__ import annotations

import numpy as np

import funcad
from funcad import Parameter, nn, ops


class TutorialLinear(nn.Cell):
    """The seed's notebook model ``z = x @ w + b`` with ``w`` (5, 3) and ``b`` (3,) drawn from N(0, 1)."""

    def __init__(self, in_features: int = 5, out_features: int = 3):
        super().__init__()
        rng = np.random.default_rng(funcad.get_seed())
        self.w = Parameter(rng.standard_normal((in_features, out_features)).astype(np.float32), name="w")
        self.b = Parameter(rng.standard_normal(out_features).astype(np.float32), name="b")

    def construct(self, x):
        return ops.matmul(x, self.w) + self.b


class LogisticRegression(nn.Cell):
    def __init__(self, in_features: int = 30):
        super().__init__()
        self.linear = nn.Dense(in_features, 1)

    def construct(self, x):
        return self.linear(x)


class QuickstartMLP(nn.Cell):
    """MindSpore's quickstart ``Network``: Flatten, then Dense 784-512-512-10 with ReLU."""

    def __init__(self, in_features: int = 28 * 28, hidden: int = 512, num_classes: int = 10):
        super().__init__()
        self.flatten = nn.Flatten()
        self.dense_relu_sequential = nn.SequentialCell(
            nn.Dense(in_features, hidden), nn.ReLU(),
            nn.Dense(hidden, hidden), nn.ReLU(),
            nn.Dense(hidden, num_classes),
        )

    def construct(self, x):
        return self.dense_relu_sequential(self.flatten(x))


class LeNet5(nn.Cell):
    """LeNet-5 for 1x28x28 images (MindSpore's model-zoo layout; convolutions without bias).

    ``pad_mode="valid"`` for the first convolution is the model zoo's own LeNet5, for 1x32x32 images (the vmap
    tutorial's).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, pad_mode: str = "same"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, pad_mode=pad_mode)
        self.conv2 = nn.Conv2d(6, 16, 5, pad_mode="valid")
        self.relu = nn.ReLU()
        self.max_pool2d = nn.MaxPool2d(kernel_size=2, stride=2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Dense(16 * 5 * 5, 120)
        self.fc2 = nn.Dense(120, 84)
        self.fc3 = nn.Dense(84, num_classes)

    def construct(self, x):
        x = self.max_pool2d(self.relu(self.conv1(x)))
        x = self.max_pool2d(self.relu(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)


class MLPBatchNorm(nn.Cell):
    """Flatten, Dense 784-128, BatchNorm1d (MindSpore momentum 0.9 == torch 0.1), ReLU, Dense 128-10."""

    def __init__(self, in_features: int = 28 * 28, hidden: int = 128, num_classes: int = 10, bn_momentum: float = 0.9):
        super().__init__()
        self.flatten = nn.Flatten()
        self.layers = nn.SequentialCell(
            nn.Dense(in_features, hidden),
            nn.BatchNorm1d(hidden, momentum=bn_momentum),
            nn.ReLU(),
            nn.Dense(hidden, num_classes),
        )

    def construct(self, x):
        return self.layers(self.flatten(x))


class ResidualBlock(nn.Cell):
    """Two 3x3 convolutions with BatchNorm2d and a shortcut (a 1x1 convolution with BatchNorm2d when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, pad_mode="pad", padding=1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, pad_mode="same")
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.SequentialCell(nn.Conv2d(in_channels, out_channels, 1, stride=stride, pad_mode="valid"), nn.BatchNorm2d(out_channels))
        else:
            self.shortcut = nn.Identity()

    def construct(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class SmallResNet(nn.Cell):
    """A residual CNN for 3x32x32 images: a 3x3 stem, one block at 32x32, one downsampling block, global average pool, Dense."""

    def __init__(self, num_classes: int = 10, width: int = 8):
        super().__init__()
        self.stem = nn.SequentialCell(nn.Conv2d(3, width, 3, pad_mode="same"), nn.BatchNorm2d(width), nn.ReLU())
        self.blocks = nn.SequentialCell(ResidualBlock(width, width), ResidualBlock(width, 2 * width, stride=2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Dense(2 * width, num_classes)

    def construct(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(self.flatten(self.pool(x)))


class SignalCNN(nn.Cell):
    """A 1-D CNN for (N, 1, 64) signals: two Conv1d/BatchNorm1d/ReLU/MaxPool1d blocks, Flatten, Dense."""

    def __init__(self, num_classes: int = 4, length: int = 64):
        super().__init__()
        self.features = nn.SequentialCell(
            nn.Conv1d(1, 8, 5), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2, 2),
            nn.Conv1d(8, 16, 3), nn.BatchNorm1d(16), nn.ReLU(), nn.MaxPool1d(2, 2),
        )
        self.flatten = nn.Flatten()
        self.fc = nn.Dense(16 * (length // 4), num_classes)

    def construct(self, x):
        return self.fc(self.flatten(self.features(x)))


class LSTMClassifier(nn.Cell):
    """Embedding (id 0 pads), a 2-layer bidirectional LSTM with dropout between its layers over each sequence's real
    length, Dense on the last states.

    The lengths come from the ids (the count of non-padding ids, padding at the end) and reach the LSTM as
    MindSpore's ``seq_length``; the features are the last layer's final states, forward and backward."""

    def __init__(self, vocab_size: int = 32, embedding_size: int = 16, hidden_size: int = 24, num_classes: int = 4, dropout: float = 0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=0)
        self.lstm = nn.LSTM(embedding_size, hidden_size, num_layers=2, batch_first=True, bidirectional=True, dropout=dropout)
        self.fc = nn.Dense(2 * hidden_size, num_classes)

    def construct(self, ids):
        lengths = ops.sum(ids != 0, axis=1)
        _, (h, _) = self.lstm(self.embedding(ids), None, lengths)
        return self.fc(ops.concat((h[-2], h[-1]), axis=1))


class TransformerClassifier(nn.Cell):
    """Token and learnt position embeddings, a 2-layer Transformer encoder with a padding mask and dropout 0.1 (on the
    attention weights, the feed-forward block and the residuals, with the same masks both sides), and a Dense head on
    the first position."""

    def __init__(self, vocab_size: int = 32, length: int = 12, d_model: int = 16, num_classes: int = 4, dropout: float = 0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=0)
        rng = np.random.default_rng(funcad.get_seed())
        self.position = Parameter(rng.normal(0.0, 0.02, (length, d_model)).astype(np.float32), name="position")
        self.encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(d_model, 2, 2 * d_model, dropout=dropout, batch_first=True), 2)
        self.fc = nn.Dense(d_model, num_classes)

    def construct(self, ids):
        padding = ids == 0
        h = self.encoder(self.embedding(ids) + self.position, None, padding)
        return self.fc(h[:, 0])
