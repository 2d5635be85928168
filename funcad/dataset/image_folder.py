"""MindSpore's ``ImageFolderDataset``: one class per sub-folder of a directory, its files the class's images."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from funcad.dataset.cifar import check_dir
from funcad.dataset.pipeline import _RandomAccess, accepted_options
from funcad.dataset.vision_color import decode_image


class ImageFolderDataset(_RandomAccess):
    """Columns ``image`` and ``label`` (int32): the files of each top-level sub-folder of ``dataset_dir``, folders and
    files in sorted name order. ``extensions`` (e.g. ['.png', '.JPEG'], compared exactly) keeps the files ending so
    (None: every file); ``class_indexing`` ({folder: label}) reads only those folders, with those labels, otherwise
    the folders are numbered 0, 1, ... in sorted order. ``image`` is the file's bytes (1-D uint8) to ``map`` a
    ``vision.Decode()`` over, or with ``decode=True`` the decoded RGB image (HWC uint8, Pillow). Row selection
    (``shuffle``, ``num_samples``, ``sampler``, ``num_shards``/``shard_id``) as the other sources."""

    column_names = ["image", "label"]

    def __init__(self, dataset_dir: str | os.PathLike, num_samples: int | None = None, num_parallel_workers: int | None = None,
                 shuffle: bool | None = None, sampler=None, extensions: Sequence[str] | None = None,
                 class_indexing: Mapping[str, int] | None = None, decode: bool = False, num_shards: int | None = None,
                 shard_id: int | None = None, **kwargs):
        owner = "ImageFolderDataset"
        accepted_options(owner, {k: v for k, v in kwargs.items() if not (k == "decrypt" and v is None)})
        path = check_dir(owner, dataset_dir)
        if extensions is not None and (isinstance(extensions, str) or not all(isinstance(e, str) for e in extensions)):
            raise TypeError(f"{owner}: extensions must be a list of strings such as ['.png'], got {extensions!r}")
        folders = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))
        if class_indexing is None:
            self._class_indexing = {name: i for i, name in enumerate(folders)}
        else:
            if not isinstance(class_indexing, Mapping) or not all(isinstance(v, int) and not isinstance(v, bool) for v in class_indexing.values()):
                raise TypeError(f"{owner}: class_indexing must be a dict {{folder name: int label}}, got {class_indexing!r}")
            missing = sorted(set(class_indexing) - set(folders))
            if missing:
                raise ValueError(f"{owner}: class_indexing names folder(s) {missing} that are not in {path!r}")
            self._class_indexing = dict(class_indexing)
        self._files: list[tuple[str, int]] = []
        for folder in folders:
            if folder not in self._class_indexing:
                continue
            for name in sorted(os.listdir(os.path.join(path, folder))):
                file = os.path.join(path, folder, name)
                if os.path.isfile(file) and (extensions is None or os.path.splitext(name)[1] in extensions):
                    self._files.append((file, self._class_indexing[folder]))
        if not self._files:
            raise RuntimeError(f"{owner}: no image files{'' if extensions is None else f' with extensions {list(extensions)}'} "
                               f"in the sub-folders of {path!r}")
        self._decode = bool(decode)
        super().__init__(len(self._files), shuffle, num_samples, sampler, num_shards, shard_id)

    def get_class_indexing(self) -> dict[str, int]:
        """The folder name of each label."""
        return dict(self._class_indexing)

    def _row(self, i: int) -> tuple:
        file, label = self._files[i]
        data = np.fromfile(file, dtype=np.uint8)
        return (decode_image("ImageFolderDataset", data) if self._decode else data), np.int32(label)


__all__ = ["ImageFolderDataset"]
