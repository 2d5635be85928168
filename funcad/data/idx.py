"""Reader for the IDX format of MNIST and Fashion-MNIST (raw or gzip-compressed).

Layout: two zero bytes, a dtype code, the number of dimensions n, then n big-endian uint32 sizes,
then the values in big-endian C order.
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into an array in native byte order."""
    if len(raw) < 4:
        raise ValueError(f"{source}: not an IDX file: {len(raw)} bytes is shorter than the 4-byte magic number")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise ValueError(f"{source}: not an IDX file: magic number starts with {raw[:2].hex()} instead of 0000")
    if code not in _DTYPES:
        valid = ", ".join(f"0x{c:02X}" for c in _DTYPES)
        raise ValueError(f"{source}: unknown IDX dtype code 0x{code:02X}; valid codes: {valid}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{source}: truncated header: {ndim} dimensions need {header} bytes, file has {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_DTYPES[code])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{source}: shape {shape} of {dtype.name} needs {expected} data bytes, file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file; gzip compression is detected from the content, not the name."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"{path}: corrupt gzip data ({err})") from None
    return parse_idx(raw, path)


_MNIST_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(directory: str, stem: str) -> str:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        candidate = os.path.join(directory, name)
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"no {stem}[.gz] in {directory!r}")


def mnist_arrays(directory: str | os.PathLike, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The images (N, H, W) and labels (N,) of MNIST's training or test files in ``directory``, as stored."""
    directory = os.fspath(directory)
    image_file, label_file = (_find(directory, stem) for stem in _MNIST_FILES[train])
    images, labels = load_idx(image_file), load_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{directory}: expected images (N, H, W) and labels (N,), got {images.shape} and {labels.shape}")
    return images, labels


def load_mnist(directory: str | os.PathLike, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST or Fashion-MNIST from the standard IDX file names in ``directory``:
    images as float32 (N, 1, 28, 28) scaled to [0, 1], labels as int64."""
    images, labels = mnist_arrays(directory, train)
    return (images.astype(np.float32) / 255.0)[:, None], labels.astype(np.int64)
