"""The imperative PyTorch training loop: ``zero_grad``, forward, loss, ``backward``, ``step``.

``TorchTrainer`` owns a module, a loss module and an optimizer, moved to one dtype and device; it takes and
returns numpy arrays at its edges so the harness can compare it with funcad, and exposes the same loop on
torch tensors (``step_tensors``) for timing without conversion costs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable

import numpy as np
import torch

from torch_ref.arrays import from_numpy, numpy_dtype, to_numpy, torch_dtype
from torch_ref.bridge import torch_state


def call_model(model: Callable, inputs):
    """``model`` on a batch's inputs: one tensor, or a tuple of them given as separate arguments (a forward taking
    several, ``forward(input_ids, attention_mask)``)."""
    return model(*inputs) if isinstance(inputs, tuple) else model(inputs)


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class TorchTrainer:
    """One model trained the imperative way.

    ``optimizer`` is a built optimizer, or ``make_optimizer(named_parameters)`` called after the model is moved
    to its dtype and device (an optimizer built before a dtype change would hold stale tensors).
    """

    def __init__(self, model: torch.nn.Module, loss_fn: torch.nn.Module,
                 optimizer: torch.optim.Optimizer | Callable[[list], torch.optim.Optimizer],
                 dtype="float32", device: torch.device | str | None = None):
        self.device = torch.device(device) if device is not None else default_device()
        self.dtype = torch_dtype(dtype)
        self.model = model.to(device=self.device, dtype=self.dtype)
        self.model.train()
        self.loss_fn = loss_fn
        self.optimizer = optimizer if isinstance(optimizer, torch.optim.Optimizer) else optimizer(list(self.model.named_parameters()))

    def tensor(self, array) -> torch.Tensor:
        """numpy -> torch on this trainer's device; floating arrays take its dtype, integer labels become int64."""
        t = from_numpy(array)
        t = t.to(self.dtype) if t.is_floating_point() else t.long()
        return t.to(self.device)

    def inputs(self, x) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """A batch's inputs, numpy -> torch: one array, or a tuple of them (a forward taking several); as ``tensor``,
        but boolean arrays (masks) stay boolean."""
        if isinstance(x, tuple):
            return tuple(self.inputs(a) for a in x)
        return from_numpy(x).to(self.device) if np.asarray(x).dtype == np.bool_ else self.tensor(x)

    def step_tensors(self, x: torch.Tensor, y: torch.Tensor, before_step: Callable[[], None] | None = None) -> torch.Tensor:
        """One training step: zero_grad, forward, loss, backward, step. Returns the loss (a detached tensor).

        ``before_step`` runs between backward and step (the harness plants faults in ``p.grad`` there).
        """
        self.optimizer.zero_grad()
        loss = self.loss_fn(call_model(self.model, x), y)
        loss.backward()
        if before_step is not None:
            before_step()
        self.optimizer.step()
        return loss.detach()

    def backward_tensors(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """zero_grad, forward, loss, backward (no step): leaves gradients in ``p.grad``."""
        self.optimizer.zero_grad()
        loss = self.loss_fn(call_model(self.model, x), y)
        loss.backward()
        return loss.detach()

    def forward_tensors(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return call_model(self.model, x)

    def forward_context(self) -> contextlib.AbstractContextManager:
        """What the model's forward runs inside (nothing here; autocast for a mixed-precision trainer)."""
        return contextlib.nullcontext()

    # numpy edges ---------------------------------------------------------------------------
    def forward(self, x) -> np.ndarray:
        return to_numpy(self.forward_tensors(self.inputs(x)))

    def loss_and_grads(self, x, y) -> tuple[float, dict[str, np.ndarray]]:
        loss = self.backward_tensors(self.inputs(x), self.tensor(y))
        grads = {n: (to_numpy(p.grad) if p.grad is not None else np.zeros(tuple(p.shape), numpy_dtype(p.dtype)))
                 for n, p in self.model.named_parameters()}
        return float(loss), grads

    def train_step(self, x, y) -> float:
        return float(self.step_tensors(self.inputs(x), self.tensor(y)))

    def state(self) -> dict[str, np.ndarray]:
        return {n: to_numpy(t) for n, t in torch_state(self.model).items()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        current = torch_state(self.model)
        with torch.no_grad():
            for name, value in state.items():
                current[name].copy_(from_numpy(value))


def train(model: torch.nn.Module, loss_fn: torch.nn.Module, optimizer: torch.optim.Optimizer, batches: Iterable,
          dtype="float32", device: torch.device | str | None = None) -> list[float]:
    """The textbook loop over ``(x, y)`` numpy batches; returns the loss of each step."""
    trainer = TorchTrainer(model, loss_fn, optimizer, dtype, device)
    return [trainer.train_step(x, y) for x, y in batches]
