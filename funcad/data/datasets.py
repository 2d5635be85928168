"""Small datasets that ship with scikit-learn, a synthetic image set, and digits upscaled to MNIST size."""

from __future__ import annotations

import numpy as np


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: x float32 (1797, 64) scaled to [0, 1], y int64 in 0..9."""
    from sklearn.datasets import load_digits as sk_digits

    data = sk_digits()
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)


def load_breast_cancer(standardize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's breast cancer set: x float32 (569, 30), y int64 in {0, 1}.

    With ``standardize`` each feature is shifted and scaled to zero mean and unit variance (the raw
    features span five orders of magnitude, which stalls gradient descent)."""
    from sklearn.datasets import load_breast_cancer as sk_cancer

    data = sk_cancer()
    x = data.data
    if standardize:
        x = (x - x.mean(0)) / x.std(0)
    return x.astype(np.float32), data.target.astype(np.int64)


def upscale_digits(x: np.ndarray, size: int = 28) -> np.ndarray:
    """8x8 digits -> (N, 1, size, size) float32: each pixel becomes a (size // 8)-square block and the
    result is centred with zero borders, the way MNIST centres its digits."""
    x = np.asarray(x, dtype=np.float32)
    if x.shape[1:] not in ((64,), (8, 8), (1, 8, 8)):
        raise ValueError(f"upscale_digits: expected digits of shape (N, 64), (N, 8, 8) or (N, 1, 8, 8), got {x.shape}")
    factor = size // 8
    if factor < 1:
        raise ValueError(f"upscale_digits: size must be at least 8, got {size}")
    blocks = x.reshape(-1, 8, 8).repeat(factor, axis=1).repeat(factor, axis=2)
    before = (size - 8 * factor) // 2
    after = size - 8 * factor - before
    return np.pad(blocks, ((0, 0), (before, after), (before, after)))[:, None]


def synthetic_images(n: int, shape: tuple = (1, 28, 28), num_classes: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A learnable image classification set: each class is a fixed random template (smooth blobs), each
    sample its class template plus Gaussian noise. x float32 (n, *shape), y int64; same seed, same data."""
    if n < 1 or num_classes < 2:
        raise ValueError(f"synthetic_images: need n >= 1 and num_classes >= 2, got n={n}, num_classes={num_classes}")
    rng = np.random.default_rng(seed)
    templates = rng.normal(size=(num_classes,) + tuple(shape))
    for axis in range(1, templates.ndim):  # smooth along every spatial axis so neighbouring pixels agree
        templates = (templates + np.roll(templates, 1, axis=axis) + np.roll(templates, -1, axis=axis)) / 3.0
    templates /= templates.std(axis=tuple(range(1, templates.ndim)), keepdims=True)
    y = rng.integers(0, num_classes, size=n)
    x = templates[y] + rng.normal(scale=1.0, size=(n,) + tuple(shape))
    return x.astype(np.float32), y.astype(np.int64)
