"""MindSpore's other module paths for names funcad keeps elsewhere (``mindspore.common.tensor``,
``mindspore.nn.dynamic_lr``, ``mindspore.nn.loss.loss`` ...): each is an alias of the funcad module that holds its
names, so code importing from them runs after changing ``mindspore`` to ``funcad``."""

from __future__ import annotations

import importlib
import sys

ALIASES = {
    "funcad.common.tensor": "funcad.core.tensor",
    "funcad.nn.learning_rate_schedule": "funcad.nn.lr",
    "funcad.nn.dynamic_lr": "funcad.nn.lr",
    "funcad.dataset.vision.c_transforms": "funcad.dataset.vision",
    "funcad.dataset.vision.py_transforms": "funcad.dataset.vision",
    "funcad.dataset.vision.transforms": "funcad.dataset.vision",
    "funcad.dataset.transforms.c_transforms": "funcad.dataset.transforms",
    "funcad.dataset.transforms.py_transforms": "funcad.dataset.transforms",
    "funcad.dataset.transforms.transforms": "funcad.dataset.transforms",
    "funcad.nn.wrap.grad_reducer": "funcad.communication.grad_reducer",
    # paths MindSpore's model zoo imports from
    "funcad.nn.loss.loss": "funcad.nn.loss",
    "funcad.nn.wrap.cell_wrapper": "funcad.nn",
    "funcad.nn.wrap.loss_scale": "funcad.nn",
    "funcad.nn.optim.momentum": "funcad.nn.optim.sgd",
    "funcad.train.loss_scale_manager": "funcad.amp.loss_scale",
    "funcad.dataset.engine": "funcad.dataset",
    "funcad.ops.function": "funcad.ops.functional",
    # mindspore.experimental.optim's one-optimizer modules
    **{f"funcad.experimental.optim.{name}": "funcad.experimental.optim.adam" for name in ("adamw", "adamax", "nadam", "radam")},
    **{f"funcad.experimental.optim.{name}": "funcad.experimental.optim.sgd" for name in ("asgd", "rprop")},
    **{f"funcad.experimental.optim.{name}": "funcad.experimental.optim.adaptive" for name in ("adadelta", "adagrad", "rmsprop")},
}


def install() -> None:
    """Make every alias importable (``import a.b``, ``from a import b``)."""
    for alias, target in ALIASES.items():
        module = importlib.import_module(target)
        sys.modules.setdefault(alias, module)
        parent, _, child = alias.rpartition(".")
        setattr(importlib.import_module(parent), child, module)
