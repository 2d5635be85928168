"""``funcad.dataset``: the part of ``mindspore.dataset`` that tutorials write (sources, samplers and sharding, ``map``,
``shuffle``, ``batch``, ``take``/``skip``/``split``/``concat``/``zip``, iterators, ``vision`` and ``transforms``
operations, ``text``'s Vocab and Lookup), on numpy, in one process."""

from funcad.dataset import config, samplers, text, transforms, vision
from funcad.dataset.cifar import Cifar10Dataset, Cifar100Dataset
from funcad.dataset.image_folder import ImageFolderDataset
from funcad.dataset.mnist import FashionMnistDataset, MnistDataset
from funcad.dataset.pipeline import Dataset, GeneratorDataset, NumpySlicesDataset
from funcad.dataset.pipeline import zip_datasets as zip  # noqa: A004 - MindSpore's name
from funcad.dataset.samplers import (
    BuiltinSampler,
    DistributedSampler,
    PKSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    SubsetSampler,
    WeightedRandomSampler,
)

__all__ = ["Dataset", "NumpySlicesDataset", "GeneratorDataset", "MnistDataset", "FashionMnistDataset", "Cifar10Dataset",
           "Cifar100Dataset", "samplers", "ImageFolderDataset", "BuiltinSampler", "Sampler", "PKSampler", "SequentialSampler",
           "RandomSampler", "SubsetSampler", "SubsetRandomSampler", "WeightedRandomSampler", "DistributedSampler", "vision",
           "transforms", "text", "config", "zip"]
