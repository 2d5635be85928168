"""MindSpore's ``mindspore.experimental`` namespace: its torch-style optimizers and schedulers (``optim``)."""

from funcad.experimental import optim

__all__ = ["optim"]
