"""Data of the built-in cases, as float32/int64 numpy arrays, and the batch order both engines see."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class DataError(ValueError):
    """A data directory that cannot be read or holds no usable IDX files."""


def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's breast cancer set, each feature standardised; targets (N, 1) float for BCE with logits."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x = data.data.astype(np.float64)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x.astype(np.float32), data.target.astype(np.float32).reshape(-1, 1)


def images_28(data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N, 1, 28, 28) images in [0, 1] and int64 labels: MNIST-format IDX files from ``data_dir``, else digits upscaled."""
    if data_dir is None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        small = digits.images.astype(np.float32) / 16.0
        x = _upscale(small, 28)
        return x[:, None], digits.target.astype(np.int64)
    return _idx_pair(Path(data_dir))


def _upscale(images: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize of (N, h, w) to (N, size, size)."""
    h, w = images.shape[1:]
    rows = (np.arange(size) * h) // size
    cols = (np.arange(size) * w) // size
    return images[:, rows][:, :, cols]


def _idx_pair(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    raise DataError(f"cannot read IDX files from {data_dir}")


def batch_order(x: np.ndarray, y: np.ndarray, batch_size: int, steps: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``steps`` batches: each epoch a fresh seeded permutation, incomplete last batches dropped, epochs chained."""
    n = len(x)
    if not 0 < batch_size <= n:
        raise ValueError(f"batch size {batch_size} must be between 1 and the number of samples ({n})")
    rng = np.random.default_rng(seed)
    per_epoch = n // batch_size
    out = []
    while len(out) < steps:
        order = rng.permutation(n)
        for i in range(min(per_epoch, steps - len(out))):
            idx = order[i * batch_size:(i + 1) * batch_size]
            out.append((x[idx], y[idx]))
    return out
