"""MindSpore's ``MnistDataset``: MNIST (or Fashion-MNIST) read from its IDX files in a directory, nothing downloaded."""

from __future__ import annotations

import os

import numpy as np

from funcad.data.idx import mnist_arrays
from funcad.dataset.pipeline import _RandomAccess, accepted_options


class MnistDataset(_RandomAccess):
    """Columns ``image`` (uint8, (28, 28, 1), height-width-channel) and ``label`` (uint32), as MindSpore's, from the
    standard file names in ``dataset_dir`` (``train-images-idx3-ubyte`` and so on, raw or gzipped). ``usage`` is
    'train', 'test' or 'all' (None: 'all': the splits present, training rows first). ``shuffle``, ``num_samples``, ``sampler``
    and ``num_shards``/``shard_id`` pick the rows as in MindSpore (``funcad.dataset.samplers``): by default a new random
    order on every pass from funcad's global generator; ``shuffle=False`` with ``num_samples`` keeps the first rows."""

    column_names = ["image", "label"]
    _owner = "MnistDataset"

    def __init__(self, dataset_dir: str | os.PathLike, usage: str | None = None, num_samples: int | None = None,
                 num_parallel_workers: int | None = None, shuffle: bool | None = None, sampler=None,
                 num_shards: int | None = None, shard_id: int | None = None, **kwargs):
        owner = self._owner
        accepted_options(owner, kwargs)
        usage = "all" if usage is None else usage
        if usage not in ("train", "test", "all"):
            raise ValueError(f"{owner}: usage must be 'train', 'test' or 'all', got {usage!r}")
        if not os.path.isdir(dataset_dir):
            raise FileNotFoundError(f"{owner}: dataset_dir {os.fspath(dataset_dir)!r} is not a directory")
        parts = []
        for train in {"train": (True,), "test": (False,), "all": (True, False)}[usage]:
            try:
                parts.append(mnist_arrays(dataset_dir, train))
            except FileNotFoundError as missing:
                if usage != "all":
                    raise FileNotFoundError(f"{owner}: {missing}") from None
        if not parts:  # 'all' reads the splits that are there, as MindSpore's does (a tutorial's test folder has one)
            raise FileNotFoundError(f"{owner}: no IDX files (train-* or t10k-*) in {os.fspath(dataset_dir)!r}")
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        self._images = images.astype(np.uint8)[..., None]
        self._labels = labels.astype(np.uint32)
        super().__init__(len(self._labels), shuffle, num_samples, sampler, num_shards, shard_id)

    def _row(self, i: int) -> tuple:
        return self._images[i], self._labels[i]


class FashionMnistDataset(MnistDataset):
    """MindSpore's ``FashionMnistDataset``: Fashion-MNIST ships in MNIST's IDX format under MNIST's file names, so it
    reads as ``MnistDataset`` does, with the same columns, arguments and row selection."""

    _owner = "FashionMnistDataset"
