"""MindSpore tutorial code that several tests run, written once: the examples (standalone scripts) loaded as modules,
and the mixed_precision tutorial's loss-scaled training step."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import funcad as ms
from funcad.amp import all_finite

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> ModuleType:
    """``examples/<name>.py`` as a module, loaded once per session (the examples are scripts, not a package: loading
    runs the script's top level, so a tutorial written at top level runs and its names hold its results)."""
    key = f"example_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # classes find their module there (inspect, pickle)
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[key]
            raise
    return sys.modules[key]


def mixed_precision_train_step(model, loss_fn, optimizer, loss_scaler):
    """The mixed_precision tutorial's forward_fn, grad_fn and train_step: the loss scaled, the update only when every
    gradient is finite (``if is_finite:``, a branch on a traced value under jit)."""

    def forward_fn(data, label):
        logits = model(data)
        loss = loss_fn(logits, label)
        # scale up the loss value
        loss = loss_scaler.scale(loss)
        return loss, logits

    grad_fn = ms.value_and_grad(forward_fn, None, model.trainable_params(), has_aux=True)

    def train_step(data, label):
        (loss, _), grads = grad_fn(data, label)
        loss = loss_scaler.unscale(loss)

        is_finite = all_finite(grads)
        if is_finite:
            grads = loss_scaler.unscale(grads)
            optimizer(grads)
        loss_scaler.adjust(is_finite)

        return loss

    return train_step
