"""Data of the built-in cases (from ``funcad.data``) and the batch order both engines see."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from funcad import data


class DataError(ValueError):
    """A data directory that cannot be read or holds no usable MNIST-format IDX files."""


def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Breast cancer features standardised; targets (N, 1) float32 for BCE with logits."""
    x, y = data.load_breast_cancer(standardize=True)
    return x, y.astype(np.float32).reshape(-1, 1)


def images_28(data_dir: str | Path | None = None, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, 28, 28) float32 images in [0, 1] and int64 labels: MNIST IDX files from ``data_dir``, else digits upscaled.

    Labels outside ``0 .. classes - 1`` are a DataError naming the labels file and the values, raised before training
    (a model with ``classes`` outputs would fail on them mid-run)."""
    if data_dir is None:
        x, y = data.load_digits()
        return data.upscale_digits(x, 28), y
    check_data_dir(data_dir)
    try:
        x, y = data.load_mnist(data_dir, train=True)
    except (OSError, ValueError) as exc:
        raise DataError(f"data dir {data_dir}: {exc}") from None
    bad = np.unique(y[(y < 0) | (y >= classes)])
    if len(bad):
        labels = next(iter(sorted(Path(data_dir).glob("train-labels*"))), Path(data_dir) / "train-labels-idx1-ubyte")
        shown = ", ".join(str(v) for v in bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise DataError(f"{labels}: labels {shown} are outside the {classes} classes (0 to {classes - 1}) of the image cases")
    return x, y


def colour_images_32(n: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3, 32, 32) float32 synthetic images (a smooth template per class plus noise) and int64 labels, always the same."""
    return data.synthetic_images(n, shape=(3, 32, 32), seed=1)


def check_data_dir(data_dir: str | Path) -> None:
    """Raise DataError unless ``data_dir`` is a readable directory."""
    path = Path(data_dir)
    if not path.is_dir():
        raise DataError(f"data dir {data_dir} does not exist or is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise DataError(f"data dir {data_dir} is not readable")


def batch_order(x: np.ndarray, y: np.ndarray, batch_size: int, steps: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``steps`` batches: epoch k shuffled with seed ``seed + k``, incomplete last batches dropped, epochs chained."""
    n = len(x)
    if not 0 < batch_size <= n:
        raise ValueError(f"batch size {batch_size} must be between 1 and the number of samples ({n})")
    out: list = []
    epoch = 0
    while len(out) < steps:
        for batch in data.batches(x, y, batch_size, shuffle=True, seed=seed + epoch, drop_remainder=True):
            out.append(batch)
            if len(out) == steps:
                break
        epoch += 1
    return out


def signals(n: int = 512, length: int = 64, num_classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(n, 1, length) float32 noisy sines whose frequency is set by the class, and int64 labels; always the same."""
    rng = np.random.default_rng(2)
    y = rng.integers(0, num_classes, n)
    t = np.arange(length) / length
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    x = np.sin(2 * np.pi * (2 + 2 * y[:, None]) * t + phase) + 0.3 * rng.standard_normal((n, length))
    return x[:, None].astype(np.float32), y.astype(np.int64)


def token_sequences(n: int = 512, length: int = 12, vocab_size: int = 32, num_classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """(n, length) int64 ids in [1, vocab_size) padded with 0 at the end to lengths in [2, length], and int64 labels:
    the most frequent of ``num_classes`` bands of ids; always the same."""
    rng = np.random.default_rng(3)
    ids = rng.integers(1, vocab_size, (n, length))
    lengths = rng.integers(2, length + 1, n)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = 0
    bands = (ids - 1) * num_classes // (vocab_size - 1)
    counts = np.stack([((bands == k) & (ids > 0)).sum(axis=1) for k in range(num_classes)], axis=1)
    return ids.astype(np.int64), counts.argmax(axis=1).astype(np.int64)
