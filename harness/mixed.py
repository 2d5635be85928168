"""Mixed precision on both sides (``--dtype mixed``): float16 compute over float32 master weights, with loss scaling.

funcad: ``funcad.amp.auto_mixed_precision(net, "O1")`` (Dense and Conv2d compute in float16) and a
``DynamicLossScaler``; torch: ``torch.autocast("cpu" or "cuda", torch.float16)`` (linear, conv and matmul in float16)
and ``torch.amp.GradScaler``. Both scalers start at ``INIT_SCALE``, halve after a step whose gradients overflow (that
step changes no parameter) and double after ``GROWTH_INTERVAL`` finite steps, so they stay in step with each other.
Gradients, losses and parameters are compared unscaled, in float32, against each other and against the float64 run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

import funcad
from funcad import Tensor
from funcad.amp import DynamicLossScaler, all_finite, auto_mixed_precision
from harness.engines import FuncadEngine, GradEdit
from harness.inputs import call_model
from torch_ref.pipeline import TorchTrainer

MIXED = "mixed"  # the dtype name of a mixed-precision run
LOW = np.float16  # the compute dtype of both sides
INIT_SCALE = 2.0**16  # torch.amp.GradScaler's default
GROWTH_INTERVAL = 2000  # GradScaler's default


def storage_dtype(dtype: str) -> str:
    """The dtype a run's parameters are stored in: float32 master weights for ``mixed``, else the dtype itself."""
    return "float32" if dtype == MIXED else dtype


class ScaledFuncadEngine(FuncadEngine):
    """A funcad Cell at amp level O1, trained with a scaled loss; a step whose unscaled gradients are not all finite
    updates nothing and lowers the scale, as ``nn.TrainOneStepWithLossScaleCell`` does."""

    def __init__(self, net, loss_fn, optimizer, has_aux: bool = False):
        auto_mixed_precision(net, "O1", LOW)
        super().__init__(net, loss_fn, optimizer, has_aux)
        self.scaler = DynamicLossScaler(INIT_SCALE, 2, GROWTH_INTERVAL)
        forward = self.forward_fn

        def scaled_forward(inputs, targets):
            out = forward(inputs, targets)
            return (self.scaler.scale(out[0]), out[1]) if has_aux else self.scaler.scale(out)

        self.grad_fn = funcad.value_and_grad(scaled_forward, None, optimizer.parameters, has_aux=has_aux)
        self.train_step = lambda inputs, targets: self._update(*self._unscaled(inputs, targets))

    def _unscaled(self, inputs, targets) -> tuple[float, tuple]:
        value, grads = self.grad_fn(inputs, targets)
        scale = float(np.asarray(self.scaler.scale_value))
        return float(value[0] if self.has_aux else value) / scale, self.scaler.unscale(grads)

    def _update(self, loss: float, grads: tuple) -> float:
        finite = all_finite(grads)
        if bool(finite):
            self.optimizer(grads)
        self.scaler.adjust(finite)
        return loss

    def _loss_grads(self, x, y) -> tuple[float, tuple]:
        self._masks_for_next_call()
        return self._unscaled(*self.prepare(x, y))

    def step(self, x, y, edit: GradEdit = None) -> float:
        loss, grads = self._loss_grads(x, y)
        if edit is not None:
            named = edit({n: np.asarray(g) for n, g in zip(self.param_names, grads)})
            grads = tuple(Tensor(named[n]) for n in self.param_names)
        return self._update(loss, grads)


class AutocastTrainer(TorchTrainer):
    """``TorchTrainer`` with float32 parameters, the forward pass under ``torch.autocast`` in float16 and the backward
    pass scaled by a ``torch.amp.GradScaler``; gradients are unscaled before anything reads them."""

    def __init__(self, model, loss_fn, optimizer, dtype="float32", device=None):
        super().__init__(model, loss_fn, optimizer, "float32", device)
        self.scaler = torch.amp.GradScaler(self.device.type, init_scale=INIT_SCALE, growth_factor=2.0, backoff_factor=0.5,
                                           growth_interval=GROWTH_INTERVAL)

    def forward_context(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=torch.float16)

    def _loss(self, x, y) -> torch.Tensor:
        with self.forward_context():
            return self.loss_fn(call_model(self.model, x), y)

    def step_tensors(self, x, y, before_step: Callable[[], None] | None = None) -> torch.Tensor:
        self.optimizer.zero_grad()
        loss = self._loss(x, y)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        if before_step is not None:
            before_step()
        self.scaler.step(self.optimizer)  # skipped when an unscaled gradient is not finite
        self.scaler.update()
        return loss.detach()

    def backward_tensors(self, x, y) -> torch.Tensor:
        self.optimizer.zero_grad()
        loss = self._loss(x, y)
        scale = self.scaler.get_scale()
        (loss * scale).backward()
        for p in self.model.parameters():
            if p.grad is not None:
                p.grad.div_(scale)
        return loss.detach()

    def forward_tensors(self, x) -> torch.Tensor:
        with torch.no_grad(), self.forward_context():
            return call_model(self.model, x).float()
