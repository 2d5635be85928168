"""Writing MNIST-style IDX files of uint8 arrays for tests (the format ``funcad.data.load_idx`` reads)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, gzipped: bool = False) -> None:
    array = np.asarray(array)
    raw = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()
    Path(path).write_bytes(gzip.compress(raw) if gzipped else raw)
