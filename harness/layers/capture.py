"""What each layer computes on both sides at one step: its inputs, forward output, output gradient and parameter gradients.

A layer is identified by its Cell path and its call number (``relu`` called twice is ``relu`` and ``relu#2``); the torch
twin's module at the same path computes the same output (``torch_ref.Twin.module_paths`` is the identity on paths).
The funcad side records a layer by wrapping its ``construct``; its output gradient is the gradient with respect to a
zero *probe* added to the output, so it comes out of ``value_and_grad`` as an input gradient. The torch side records
with forward hooks and tensor hooks. Dropout layers are off on both sides while capturing, so an isolated layer never
meets a random mask.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

import funcad
from funcad import Tensor, nn, ops
from funcad.core.dtypes import is_floating
from funcad.nn.cell import Cell
from harness.inputs import call_model
from torch_ref.arrays import to_numpy


@dataclass
class LayerCall:
    """One call of one layer on one side, as numpy arrays."""

    path: str
    call: int
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    outputs: list[np.ndarray] = field(default_factory=list)  # the floating-point output leaves, in order
    output_grads: list[np.ndarray | None] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.path if self.call == 1 else f"{self.path}#{self.call}"


def leaves(value) -> list:
    """The leaves of nested tuples and lists, in order."""
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def map_leaves(fn: Callable, value):
    """``value`` with every leaf replaced by ``fn(leaf)``, its tuple/list structure kept."""
    if isinstance(value, (tuple, list)):
        return type(value)(map_leaves(fn, item) for item in value)
    return fn(value)


def is_float(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.is_floating_point()
    return isinstance(value, (Tensor, np.ndarray)) and is_floating(value.dtype)


def as_numpy(value):
    if isinstance(value, torch.Tensor):
        return to_numpy(value)
    if isinstance(value, Tensor):
        return np.asarray(value).copy()
    return value


def _calls_in_order(records: dict[tuple[str, int], LayerCall], path: str) -> int:
    return 1 + sum(1 for p, _ in records if p == path)


# -- funcad ------------------------------------------------------------------------------------------------------------

class FuncadLayers:
    """Records the layer calls of a funcad Cell; ``edits`` (path -> fn(output)) change a layer's output as it leaves."""

    def __init__(self, net: Cell, paths: Iterable[str], edits: dict[str, Callable] | None = None):
        self.net = net
        self.cells = dict(net.cells_and_names())
        self.records: dict[tuple[str, int], LayerCall] = {}
        self.probes: list | None = None  # set while taking output gradients: one zero tensor per float output leaf
        self.edits = edits or {}
        for path in paths:
            self._wrap(path, self.cells[path])

    def _wrap(self, path: str, cell: Cell) -> None:
        construct = type(cell).construct.__get__(cell)

        def recorded(*args, **kwargs):
            out = construct(*args, **kwargs)
            if path in self.edits:
                out = self.edits[path](out)
            call = _calls_in_order(self.records, path)
            if self.probes is not None:
                out = map_leaves(lambda leaf: leaf + self.probes.pop(0) if is_float(leaf) else leaf, out)
            self.records[(path, call)] = LayerCall(path, call, tuple(map_leaves(as_numpy, args)),
                                                   {k: map_leaves(as_numpy, v) for k, v in kwargs.items()},
                                                   [as_numpy(leaf) for leaf in leaves(out) if is_float(leaf)])
            return out

        object.__setattr__(cell, "construct", recorded)

    def capture(self, loss_of: Callable, x, y) -> tuple[float, dict[str, np.ndarray]]:
        """Forward outputs and, through probes, output gradients of every recorded layer; returns the loss and the
        parameter gradients by name."""
        self.records.clear()
        loss_of(x, y)  # learns each output's shape
        zeros = [np.zeros_like(o) for rec in self.records.values() for o in rec.outputs]
        params = self.net.trainable_params()

        def probed(x, y, *probes):
            self.probes = list(probes)
            self.records.clear()
            try:
                return loss_of(x, y)
            finally:
                self.probes = None

        positions = tuple(range(2, 2 + len(zeros)))
        loss, (probe_grads, param_grads) = funcad.value_and_grad(probed, positions or None, params)(x, y, *map(Tensor, zeros))
        probe_grads = list(probe_grads) if isinstance(probe_grads, tuple) else [probe_grads]
        for rec in self.records.values():
            rec.output_grads = [np.asarray(probe_grads.pop(0)).copy() for _ in rec.outputs]
        return float(np.asarray(loss)), {p.name: np.asarray(g).copy() for p, g in zip(params, param_grads)}


def float_inputs(call: LayerCall) -> list[np.ndarray]:
    """The floating-point arrays among a call's arguments, positional first, then keywords in order."""
    return [a for a in leaves((call.args, list(call.kwargs.values()))) if is_float(a)]


def with_floats(call: LayerCall, floats: Sequence) -> tuple[tuple, dict]:
    """A call's arguments with its floating-point arrays replaced, in order, by ``floats``."""
    it = iter(floats)
    def swap(a):
        return next(it) if is_float(a) else a
    return map_leaves(swap, call.args), {k: map_leaves(swap, v) for k, v in call.kwargs.items()}


def isolated_funcad(cell: Cell, own_call: LayerCall, torch_inputs: list[np.ndarray], output_grads: list[np.ndarray],
                    dtype) -> tuple[list, list, dict]:
    """One funcad layer alone, called as funcad called it (``own_call``) but on torch's floating-point inputs: its outputs,
    the gradients of those inputs and of its parameters, given torch's gradient of its outputs (``output_grads``)."""
    count = len(float_inputs(own_call))
    if count > len(torch_inputs):
        raise ValueError(f"layer {own_call.key}: funcad passes it {count} floating-point inputs, torch only {len(torch_inputs)}; "
                         "it cannot be isolated")
    torch_inputs = torch_inputs[:count]  # torch may pass more (a padding mask made float), after the ones both pass
    def as_tensor(a):
        return Tensor(a) if isinstance(a, np.ndarray) else a
    own_call = LayerCall(own_call.path, own_call.call, map_leaves(as_tensor, own_call.args),
                         {k: map_leaves(as_tensor, v) for k, v in own_call.kwargs.items()})
    params = cell.trainable_params()
    outputs: list = []

    def dotted(*xs):
        args, kwargs = with_floats(own_call, xs)
        out = [leaf for leaf in leaves(cell(*args, **kwargs)) if is_float(leaf)]
        outputs[:] = [as_numpy(o) for o in out]
        zero = Tensor(np.zeros((), dtype))  # a layer whose outputs get no gradient still returns a Tensor (grad refuses an int)
        return sum((ops.sum(o * Tensor(g.astype(dtype))) for o, g in zip(out, output_grads) if g is not None), zero)

    xs = [Tensor(np.asarray(a).astype(dtype)) for a in torch_inputs]
    if not xs and not params:
        dotted()
        return outputs, [], {}
    grads = funcad.grad(dotted, tuple(range(len(xs))) or None, params or None)(*xs)
    if xs and params:
        input_grads, param_grads = grads
    else:
        input_grads, param_grads = (grads, ()) if xs else ((), grads)
    input_grads = input_grads if isinstance(input_grads, tuple) else (input_grads,)
    param_grads = param_grads if isinstance(param_grads, tuple) else (param_grads,)
    return outputs, [as_numpy(g) for g in input_grads], {p.name: as_numpy(g) for p, g in zip(params, param_grads)}


def without_dropout(net: Cell, module: torch.nn.Module) -> tuple[Cell, torch.nn.Module]:
    """Deep copies of both models with every dropout layer off (set to evaluation) and the dropout attention and
    recurrent layers apply inside themselves set to 0, the rest still training."""
    net, module = copy.deepcopy(net), copy.deepcopy(module)
    for _, cell in net.cells_and_names():
        if "Dropout" in type(cell).__name__:
            cell.set_train(False)
        elif isinstance(cell, (nn.MultiheadAttention, nn.RNN, nn.GRU, nn.LSTM)):
            cell.dropout = 0.0
    for sub in module.modules():
        if isinstance(sub, torch.nn.modules.dropout._DropoutNd):
            sub.eval()
        elif isinstance(sub, (torch.nn.MultiheadAttention, torch.nn.RNNBase)):
            sub.dropout = 0.0
    return net, module


# -- torch -------------------------------------------------------------------------------------------------------------

class TorchLayers:
    """Records the layer calls of a torch module by hooks, with the gradients of their outputs after ``backward``;
    ``paths`` maps each Cell path to its module's path, and records are keyed by Cell path."""

    def __init__(self, module: torch.nn.Module, paths: dict[str, str], edits: dict[str, Callable] | None = None):
        self.module = module
        self.records: dict[tuple[str, int], LayerCall] = {}
        modules = dict(module.named_modules())
        self.edits = edits or {}
        self.edits_only = False  # True: hooks still apply the edits but record nothing (a layer re-run alone)
        self.handles = [modules[m].register_forward_hook(self._hook(p, m), with_kwargs=True) for p, m in paths.items()]

    def _hook(self, path: str, module_path: str):
        def hook(mod, args, kwargs, out):
            if module_path in self.edits:
                out = self.edits[module_path](out)
            if self.edits_only:
                return out
            call = _calls_in_order(self.records, path)
            rec = LayerCall(path, call, tuple(map_leaves(as_numpy, args)), {k: map_leaves(as_numpy, v) for k, v in kwargs.items()})
            float_out = [leaf for leaf in leaves(out) if is_float(leaf)]
            rec.outputs = [as_numpy(o) for o in float_out]
            rec.output_grads = [None] * len(float_out)  # None: no gradient reaches it (an input view, a constant)
            for i, o in enumerate(float_out):
                if o.requires_grad:
                    o.register_hook(lambda g, rec=rec, i=i: rec.output_grads.__setitem__(i, as_numpy(g)))
            self.records[(path, call)] = rec
            return out
        return hook

    def capture(self, loss_fn: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, dict[str, np.ndarray]]:
        self.records.clear()
        self.module.zero_grad(set_to_none=True)
        loss = loss_fn(call_model(self.module, x), y)
        loss.backward()
        grads = {n: as_numpy(p.grad) if p.grad is not None else np.zeros(tuple(p.shape), as_numpy(p).dtype)
                 for n, p in self.module.named_parameters()}
        return float(loss.detach()), grads

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
