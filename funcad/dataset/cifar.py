"""MindSpore's ``Cifar10Dataset`` and ``Cifar100Dataset``: the CIFAR binary versions read from a directory, nothing
downloaded.

A CIFAR-10 record is one label byte then 3072 image bytes (the red, green and blue 32x32 planes, row by row);
CIFAR-100's has a coarse and a fine label byte first. The files are taken as MindSpore takes them: the ``.bin``
files of the directory in sorted name order, CIFAR-10's ``data_batch_*`` for 'train' and ``test_batch*`` for
'test', CIFAR-100's names containing 'train' or 'test'. A file holds any whole number of records (the real
ones hold 10000 or 50000).
"""

from __future__ import annotations

import os

import numpy as np

from funcad.dataset.pipeline import _RandomAccess, accepted_options

_IMAGE_BYTES = 32 * 32 * 3


class DatasetDirError(FileNotFoundError, ValueError):
    """A missing dataset directory: a ``ValueError`` as MindSpore raises, and a ``FileNotFoundError`` as funcad's
    other file readers raise."""


def check_dir(owner: str, dataset_dir) -> str:
    """``dataset_dir`` as a string, or a clear error naming ``owner`` when it is not a directory."""
    path = os.fspath(dataset_dir)
    if not os.path.isdir(path):
        raise DatasetDirError(f"{owner}: dataset_dir {path!r} does not exist or is not a directory")
    return path


def _usage(owner: str, usage: str | None) -> str:
    usage = "all" if usage is None else usage
    if usage not in ("train", "test", "all"):
        raise ValueError(f"{owner}: usage must be 'train', 'test' or 'all', got {usage!r}")
    return usage


def _records(owner: str, files: list[str], labels: int) -> tuple[np.ndarray, np.ndarray]:
    """The images (N, 32, 32, 3) and labels (N, ``labels``) of the record files, in order."""
    size = labels + _IMAGE_BYTES
    images, label_rows = [], []
    for path in files:
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % size:
            raise ValueError(f"{owner}: {path!r} has {raw.size} bytes, not a whole number of {size}-byte CIFAR records")
        rows = raw.reshape(-1, size)
        label_rows.append(rows[:, :labels])
        images.append(rows[:, labels:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(label_rows).astype(np.uint32)


class _Cifar(_RandomAccess):
    labels: int

    def __init__(self, dataset_dir: str | os.PathLike, usage: str | None = None, num_samples: int | None = None,
                 num_parallel_workers: int | None = None, shuffle: bool | None = None, sampler=None,
                 num_shards: int | None = None, shard_id: int | None = None, **kwargs):
        owner = type(self).__name__
        accepted_options(owner, kwargs)
        usage = _usage(owner, usage)
        path = check_dir(owner, dataset_dir)
        names = sorted(f for f in os.listdir(path) if f.endswith(".bin") and self._wanted(f, usage))
        if not names:
            raise FileNotFoundError(f"{owner}: no {usage!r} CIFAR .bin files ({self._expected(usage)}) in {path!r}")
        self._images, self._labels = _records(owner, [os.path.join(path, f) for f in names], self.labels)
        super().__init__(len(self._images), shuffle, num_samples, sampler, num_shards, shard_id)

    def _row(self, i: int) -> tuple:
        return (self._images[i], *self._labels[i])


class Cifar10Dataset(_Cifar):
    """Columns ``image`` (uint8, (32, 32, 3), height-width-channel) and ``label`` (uint32) from CIFAR-10's binary
    files: ``usage`` 'train' (data_batch_*.bin), 'test' (test_batch.bin) or 'all' (None: both, in sorted file
    order). Row selection (``shuffle``, ``num_samples``, ``sampler``, ``num_shards``/``shard_id``) as the other
    sources."""

    column_names = ["image", "label"]
    labels = 1

    @staticmethod
    def _wanted(name: str, usage: str) -> bool:
        return {"train": "data_batch" in name, "test": "test_batch" in name}.get(usage, "batch" in name)

    @staticmethod
    def _expected(usage: str) -> str:
        return {"train": "data_batch_*.bin", "test": "test_batch.bin"}.get(usage, "data_batch_*.bin, test_batch.bin")


class Cifar100Dataset(_Cifar):
    """Columns ``image`` (uint8, (32, 32, 3)), ``coarse_label`` and ``fine_label`` (uint32) from CIFAR-100's binary
    files: ``usage`` 'train' (train.bin), 'test' (test.bin) or 'all' (None: both, in sorted file order, so test.bin
    first). Row selection as the other sources."""

    column_names = ["image", "coarse_label", "fine_label"]
    labels = 2

    @staticmethod
    def _wanted(name: str, usage: str) -> bool:
        return {"train": "train" in name, "test": "test" in name}.get(usage, "train" in name or "test" in name)

    @staticmethod
    def _expected(usage: str) -> str:
        return {"train": "train.bin", "test": "test.bin"}.get(usage, "train.bin, test.bin")


__all__ = ["Cifar10Dataset", "Cifar100Dataset"]
