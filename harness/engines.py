"""The two sides of a comparison, with one interface so the harness never asks which engine it holds.

``FuncadEngine`` is written the functional MindSpore way, exactly as a user writes it::

    def forward_fn(inputs, targets):
        logits = net(inputs)
        loss = loss_fn(logits, targets)
        return loss, logits                      # has_aux=True (the quickstart); else just `loss`

    grad_fn = value_and_grad(forward_fn, None, optimizer.parameters, has_aux=has_aux)

    def train_step(inputs, targets):
        loss, grads = grad_fn(inputs, targets)
        optimizer(grads)
        return loss

``inputs`` is one Tensor, or a tuple of them for a Cell whose construct takes several (``net(*inputs)``: see
``harness.inputs``). ``TorchEngine`` wraps ``torch_ref.pipeline.TorchTrainer`` (zero_grad, forward, loss, backward,
step) and speaks funcad's parameter names through the case's name map. Both take and return numpy arrays at the edges
(``forward``, ``loss_and_grads``, ``step``, ``state``, ``load_state``) and expose engine-native callables for timing
(``prepare`` once, then ``time_forward``/``time_backward``/``time_step`` on the prepared inputs).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

import funcad
from funcad import Tensor
from funcad.core.dtypes import is_floating
from harness.inputs import call_model, map_inputs
from torch_ref.arrays import to_numpy
from torch_ref.bridge import NameMap, funcad_state, name_mapper
from torch_ref.dropout import aligned_masks, set_mask_key
from torch_ref.kernel_dropout import PACKED_UNALIGNED
from torch_ref.pipeline import TorchTrainer

GradEdit = Callable[[dict], dict] | None

#: Part of every note ``unaligned_dropout`` makes, by which ``unaligned_notes`` picks them out of a case's known differences.
UNALIGNED_MASKS = "funcad's masks cannot be aligned with torch's"
MASK_STRIDE = 1 << 32  # the dropout key of an engine's n-th call is [seed, n * MASK_STRIDE]: calls never share masks


class _AlignedMasks:
    """Each forward, gradient and training call of an engine starts from the dropout key of its call number, so the
    two engines (and the float32 and float64 pairs) draw the same dropout masks at the same call (``torch_ref.dropout``)."""

    name = ""
    mask_seed = 0  # the case's seed, set when it builds the engines
    _calls = 0

    def _masks_for_next_call(self) -> None:
        set_mask_key(self.mask_seed, self._calls * MASK_STRIDE, self.name)
        self._calls += 1


def unaligned_dropout(module: torch.nn.Module) -> list[str]:
    """Notes naming each layer of ``module`` whose dropout torch drew with its own generator during the run (since
    ``begin_dropout_watch``): a recurrent layer with dropout between its layers fed a packed sequence, whose kernel
    drops over the packed rows (``torch_ref.kernel_dropout``). A difference a run then finds may be those masks alone."""
    notes = []
    for path, layer in module.named_modules():
        if not (isinstance(layer, torch.nn.RNNBase) and layer.dropout > 0 and layer.num_layers > 1 and layer.mode.lower() in PACKED_UNALIGNED):
            continue
        notes.append(f"{path or 'the model'} ({type(layer).__name__}, dropout {layer.dropout:g}): torch draws the dropout between its "
                     f"layers inside its recurrent kernel when fed a packed sequence, where {UNALIGNED_MASKS}; differences may be "
                     f"those masks alone: pass the padded batch (funcad's seq_length) or set that dropout to 0 to compare the rest")
    return notes


def begin_dropout_watch() -> None:
    """Forget the packed recurrent kernels earlier runs met, so ``unaligned_dropout`` speaks of the run starting."""
    PACKED_UNALIGNED.clear()


def unaligned_notes(known_differences: Sequence[str]) -> list[str]:
    """The notes of ``unaligned_dropout`` among a case's known differences: those a failing run should show first."""
    return [note for note in known_differences if UNALIGNED_MASKS in note]


def _as_funcad(array, dtype) -> Tensor:
    a = np.asarray(array)
    return Tensor.from_numpy(a.astype(dtype) if is_floating(a.dtype) else a)  # one copy at most, as before


def _inputs_as_funcad(x, dtype):
    """A batch's inputs as funcad Tensors: floating ones in ``dtype``, integer and boolean ones as they are."""
    return map_inputs(lambda a: _as_funcad(a, dtype), x)


class FuncadEngine(_AlignedMasks):
    """A funcad Cell trained with ``value_and_grad`` and ``optimizer(grads)``."""

    name = "funcad"

    def __init__(self, net, loss_fn, optimizer, has_aux: bool = False):
        self.net, self.loss_fn, self.optimizer, self.has_aux = net, loss_fn, optimizer, has_aux
        self.dtype = np.dtype(optimizer.parameters[0].dtype)
        net.set_train(True)

        if has_aux:
            def forward_fn(inputs, targets):
                logits = call_model(net, inputs)
                loss = loss_fn(logits, targets)
                return loss, logits
        else:
            def forward_fn(inputs, targets):
                logits = call_model(net, inputs)
                return loss_fn(logits, targets)

        grad_fn = funcad.value_and_grad(forward_fn, None, optimizer.parameters, has_aux=has_aux)

        def train_step(inputs, targets):
            value, grads = grad_fn(inputs, targets)
            optimizer(grads)
            return value[0] if has_aux else value

        self.forward_fn, self.grad_fn, self.train_step = forward_fn, grad_fn, train_step
        self.param_names = [p.name for p in optimizer.parameters]

    def prepare(self, x, y) -> tuple[Tensor | tuple[Tensor, ...], Tensor]:
        return _inputs_as_funcad(x, self.dtype), _as_funcad(y, self.dtype)

    # numpy edges ---------------------------------------------------------------------------------
    def forward(self, x) -> np.ndarray:
        self._masks_for_next_call()
        return np.asarray(call_model(self.net, _inputs_as_funcad(x, self.dtype))).copy()

    def _loss_grads(self, x, y) -> tuple[float, tuple]:
        self._masks_for_next_call()
        value, grads = self.grad_fn(*self.prepare(x, y))
        return float(value[0] if self.has_aux else value), grads

    def loss_and_grads(self, x, y) -> tuple[float, dict[str, np.ndarray]]:
        loss, grads = self._loss_grads(x, y)
        return loss, {n: np.asarray(g).copy() for n, g in zip(self.param_names, grads)}

    def step(self, x, y, edit: GradEdit = None) -> float:
        """One training step; ``edit`` may replace gradients (by name, numpy) before the update."""
        if edit is None:
            self._masks_for_next_call()
            return float(self.train_step(*self.prepare(x, y)))
        loss, grads = self._loss_grads(x, y)
        named = edit({n: np.asarray(g) for n, g in zip(self.param_names, grads)})
        self.optimizer(tuple(Tensor(named[n]) for n in self.param_names))
        return loss

    def state(self) -> dict[str, np.ndarray]:
        return {n: np.asarray(p).copy() for n, p in funcad_state(self.net).items()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        params = funcad_state(self.net)
        for n, v in state.items():
            params[n].set_data(np.asarray(v))

    # timing ----------------------------------------------------------------------------------------
    def time_forward(self, x, y):
        return call_model(self.net, x)

    def time_backward(self, x, y):
        return self.grad_fn(x, y)

    def time_step(self, x, y):
        return self.train_step(x, y)


@contextlib.contextmanager
def _created_in(dtype: torch.dtype) -> Iterator[None]:
    """In a float64 run, the tensors a forward creates without a dtype (``torch.zeros(layers, batch, hidden)``) are
    float64, as the weights are: torch's default dtype while inside."""
    saved = torch.get_default_dtype()
    if dtype == torch.float64:
        torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)


def _torch_call(method: Callable, *, aligned: bool = True) -> Callable:
    """A torch engine call whose created tensors take the run's precision (``_created_in``) and whose dropout and
    random draws are funcad's (``torch_ref.dropout.aligned_masks``), except in timing (``aligned=False``): nothing is
    compared there, and torch runs its own kernels, as it runs alone."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with aligned_masks() if aligned else contextlib.nullcontext(), _created_in(self.trainer.dtype):
            return method(self, *args, **kwargs)

    return call


_timed_torch_call = functools.partial(_torch_call, aligned=False)


class TorchEngine(_AlignedMasks):
    """A torch Module trained imperatively; names are translated to funcad's through ``name_map``."""

    name = "torch"

    def __init__(self, trainer: TorchTrainer, name_map: NameMap, funcad_names: list[str]):
        self.trainer = trainer
        to_torch = name_mapper(name_map)
        self.to_torch = {n: to_torch(n) for n in funcad_names}
        self.to_funcad = {t: f for f, t in self.to_torch.items()}

    def prepare(self, x, y):
        return self.trainer.inputs(x), self.trainer.tensor(y)

    @_torch_call
    def forward(self, x) -> np.ndarray:
        self._masks_for_next_call()
        return self.trainer.forward(x)

    @_torch_call
    def loss_and_grads(self, x, y) -> tuple[float, dict[str, np.ndarray]]:
        self._masks_for_next_call()
        loss, grads = self.trainer.loss_and_grads(x, y)
        return loss, {self.to_funcad.get(n, n): g for n, g in grads.items()}

    @_torch_call
    def step(self, x, y, edit: GradEdit = None) -> float:
        self._masks_for_next_call()
        if edit is None:
            return self.trainer.train_step(x, y)
        params = {n: p for n, p in self.trainer.model.named_parameters() if p.requires_grad}  # what the optimizer trains

        def before_step():
            """``edit`` sees the trained parameters' gradients, zeros where torch has none (a parameter the forward does
            not use), as funcad reports them; such a parameter keeps no gradient (so torch's optimizer skips it) unless
            the edit gives it a nonzero one. Frozen parameters are not trained on either side."""
            named = {self.to_funcad.get(n, n): to_numpy(p.grad) if p.grad is not None else np.zeros_like(to_numpy(p))
                     for n, p in params.items()}
            edited = edit(named)
            for n, p in params.items():
                value = edited[self.to_funcad.get(n, n)]
                if p.grad is not None:
                    p.grad.copy_(self.trainer.tensor(value))
                elif np.any(value):
                    p.grad = self.trainer.tensor(value)

        return float(self.trainer.step_tensors(*self.prepare(x, y), before_step=before_step))

    def state(self) -> dict[str, np.ndarray]:
        return {self.to_funcad.get(n, n): v for n, v in self.trainer.state().items()}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self.trainer.load_state({self.to_torch.get(n, n): v for n, v in state.items()})

    @_timed_torch_call
    def time_forward(self, x, y):
        return self.trainer.forward_tensors(x)

    @_timed_torch_call
    def time_backward(self, x, y):
        return self.trainer.backward_tensors(x, y)

    @_timed_torch_call
    def time_step(self, x, y):
        return self.trainer.step_tensors(x, y)


def device_sync(torch_engine: TorchEngine) -> Callable:
    """A pass-through that waits for the torch engine's device first (CUDA), so timings include its work."""
    if torch_engine.trainer.device.type == "cuda":
        def sync(value):
            torch.cuda.synchronize()
            return value
        return sync
    return lambda value: value


def jit_callables(f: FuncadEngine, x, y) -> tuple[dict[str, Callable], str | None]:
    """``funcad.jit`` versions of the three timed phases, when funcad has a jit; else a note saying why not."""
    jit = getattr(funcad, "jit", None)
    if jit is None:
        return {}, "funcad jit: not available in this funcad (funcad.jit missing); speed shows eager only"
    out = {}
    try:
        forward, backward, step = jit(lambda inputs: call_model(f.net, inputs)), jit(f.grad_fn), jit(f.train_step)
        for name, fn, args in (("forward", forward, (x,)), ("forward+backward", backward, (x, y)), ("train step", step, (x, y))):
            fn(*args)
            out[name] = (lambda fn=fn, args=args: fn(*args))
    except Exception as exc:  # a jit failure is reported, never fatal to the comparison
        return out, f"funcad jit: failed on this case ({type(exc).__name__}: {exc}); speed shows the phases that compiled"
    return out, None
