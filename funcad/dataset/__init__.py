"""``funcad.dataset``: the part of ``mindspore.dataset`` that tutorials write (sources, ``map``, ``shuffle``,
``batch``, ``take``/``skip``/``split``/``concat``/``zip``, iterators, ``vision`` and ``transforms`` operations), on numpy, in one process."""

from funcad.dataset import config, transforms, vision
from funcad.dataset.mnist import MnistDataset
from funcad.dataset.pipeline import Dataset, GeneratorDataset, NumpySlicesDataset
from funcad.dataset.pipeline import zip_datasets as zip  # noqa: A004 - MindSpore's name

__all__ = ["Dataset", "NumpySlicesDataset", "GeneratorDataset", "MnistDataset", "vision", "transforms", "config", "zip"]
