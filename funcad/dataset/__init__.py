"""``funcad.dataset``: the part of ``mindspore.dataset`` that tutorials write (sources, ``map``, ``shuffle``,
``batch``, iterators, ``vision`` and ``transforms`` operations), on numpy, in one process."""

from funcad.dataset import transforms, vision
from funcad.dataset.mnist import MnistDataset
from funcad.dataset.pipeline import Dataset, GeneratorDataset, NumpySlicesDataset

__all__ = ["Dataset", "NumpySlicesDataset", "GeneratorDataset", "MnistDataset", "vision", "transforms"]
