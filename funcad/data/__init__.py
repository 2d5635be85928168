"""funcad.data: datasets that ship with packages, an IDX (MNIST format) reader, and batching. Nothing is downloaded."""

from funcad.data.batching import batches
from funcad.data.datasets import load_breast_cancer, load_digits, synthetic_images, upscale_digits
from funcad.data.idx import load_idx, load_mnist, parse_idx

__all__ = ["batches", "load_digits", "load_breast_cancer", "synthetic_images", "upscale_digits", "load_idx", "load_mnist", "parse_idx"]
