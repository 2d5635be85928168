"""Where a NaN or Inf first appears: the step, forward or backward, the layer, the funcad primitive and the user's source
line (funcad), the torch module and op (torch), and the ranges of the inputs that produced it.

The runner calls ``locate`` when a step ends with a non-finite loss or value: it re-runs that step's forward and
gradient from the state before it, watching every op. funcad is watched by wrapping ``Primitive.run_arrays`` (every
primitive, forward and VJP rules alike, runs through it) for the duration of the re-run only; torch by a
``TorchFunctionMode`` and module forward hooks. A compiled step cannot be watched op by op: ``CompiledWatch`` checks
it at the end of each call and, on a hit, re-runs that step eagerly from the state before it.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

import funcad
from funcad.core import pytree
from funcad.core.dtypes import is_floating
from funcad.core.primitive import Primitive
from funcad.nn.cell import Cell
from harness.inputs import call_model
from torch_ref.arrays import to_numpy

_FUNCAD_DIR = os.path.dirname(funcad.__file__)
_SKIP_DIRS = (_FUNCAD_DIR, os.path.dirname(__file__), os.path.dirname(torch.__file__))


def _range(value) -> str:
    a = np.asarray(to_numpy(value) if isinstance(value, torch.Tensor) else getattr(value, "_data", value))
    if not (is_floating(a.dtype) or a.dtype.kind in "iub") or a.size == 0:
        return f"{a.dtype}{list(a.shape)}"
    finite = a[np.isfinite(a)] if is_floating(a.dtype) else a
    span = f"[{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "no finite values"
    bad = int(a.size - finite.size)
    return f"{a.dtype}{list(a.shape)} {span}" + (f", {bad} non-finite" if bad else "")


def _nonfinite(value) -> bool:
    a = value.detach() if isinstance(value, torch.Tensor) else None
    if a is not None:
        return a.is_floating_point() and not bool(torch.isfinite(a).all())
    data = getattr(value, "_data", value)
    return isinstance(data, np.ndarray) and is_floating(data.dtype) and not np.isfinite(data).all()


def _user_line() -> str:
    """The innermost frame outside funcad, the harness and torch: the user's line that called the op."""
    for frame in reversed(traceback.extract_stack()):
        if not frame.filename.startswith(_SKIP_DIRS):
            return f"{frame.filename}:{frame.lineno}: {(frame.line or '').strip()}"
    return "unknown"


class _FuncadWatch:
    """Records the first primitive whose output is non-finite while its inputs are finite, and the layer running it."""

    def __init__(self, net: Cell):
        self.first: dict | None = None
        self.phase = "forward"
        self.layers: list[str] = []
        self.net = net

    @contextlib.contextmanager
    def watching(self):
        original = Primitive.run_arrays
        watch = self

        def run_arrays(prim, args, kwargs):
            out = original(prim, args, kwargs)
            if watch.first is None and _nonfinite(out) and not any(_nonfinite(a) for a in args):
                watch.first = {"side": "funcad", "phase": watch.phase, "layer": watch.layers[-1] if watch.layers else "-",
                               "op": f"funcad.ops primitive {prim.name}", "source": _user_line(),
                               "inputs": "; ".join(_range(a) for a in args if hasattr(a, "_data") or isinstance(a, np.ndarray))}
            return out

        wrapped = []
        for path, cell in self.net.cells_and_names():
            construct = type(cell).construct.__get__(cell)

            def tracked(*a, _construct=construct, _path=path or "(root)", **k):
                self.layers.append(_path)
                try:
                    return _construct(*a, **k)
                finally:
                    self.layers.pop()
            object.__setattr__(cell, "construct", tracked)
            wrapped.append(cell)
        Primitive.run_arrays = run_arrays
        try:
            yield self
        finally:
            Primitive.run_arrays = original
            for cell in wrapped:
                object.__delattr__(cell, "construct")


class _TorchOps(TorchFunctionMode):
    def __init__(self, watch: dict):
        super().__init__()
        self.watch = watch

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self.watch["first"] is None:
            inputs = [a for a in list(args) + list((kwargs or {}).values()) if isinstance(a, torch.Tensor)]
            outs = out if isinstance(out, (tuple, list)) else [out]
            if any(isinstance(o, torch.Tensor) and _nonfinite(o) for o in outs) and not any(_nonfinite(a) for a in inputs):
                self.watch["first"] = {"side": "torch", "phase": "forward", "layer": self.watch["modules"][-1] if self.watch["modules"] else "(root)",
                                       "op": f"torch.{getattr(func, '__name__', func)}",
                                       "source": _user_line(), "inputs": "; ".join(_range(a) for a in inputs)}
        return out


def locate_funcad(net: Cell, loss_of: Callable, grad_of: Callable, x, y) -> dict | None:
    """The first non-finite funcad primitive in ``loss_of(x, y)`` (forward), else in ``grad_of(x, y)`` (backward)."""
    watch = _FuncadWatch(net)
    with np.errstate(all="ignore"), watch.watching():
        loss_of(x, y)
        if watch.first is None:
            watch.phase = "backward"
            grad_of(x, y)
    return watch.first


def locate_torch(module: torch.nn.Module, loss_fn: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict | None:
    """The first non-finite torch op in the forward (by module and op), else the backward node reporting NaN."""
    watch: dict = {"first": None, "modules": []}
    names = {m: n for n, m in module.named_modules()}
    def enter(mod, args):
        watch["modules"].append(names[mod] or "(root)")

    def leave(mod, args, out):
        watch["modules"].pop()

    handles = [m.register_forward_pre_hook(enter) for m in names] + [m.register_forward_hook(leave) for m in names]
    try:
        with _TorchOps(watch):
            loss = loss_fn(call_model(module, x), y)
    finally:
        for h in handles:
            h.remove()
    if watch["first"] is not None:
        return watch["first"]
    try:
        with torch.autograd.detect_anomaly(check_nan=True), contextlib.redirect_stderr(open(os.devnull, "w")):
            loss.backward()
    except RuntimeError as exc:
        message = str(exc).splitlines()[0]
        return {"side": "torch", "phase": "backward", "layer": "-", "op": message, "source": "-", "inputs": "-"}
    return None


def locate_step(case, options, dtype: str, step: int, state: dict, x, y) -> list[dict]:
    """Where the first NaN/Inf of ``step`` came from on each side: a parameter already non-finite in ``state`` (the
    state before the step, per side), else the step re-run on a fresh pair loaded with ``state``, every op watched."""
    broken = [(side, n) for side in ("funcad", "torch") for n, v in state[side].items()
              if is_floating(np.asarray(v).dtype) and not np.isfinite(v).all()]
    if broken:
        return [{"dtype": dtype, "step": step, "side": side, "phase": "before the step", "layer": "-",
                 "op": f"{name} was already non-finite", "source": "-", "inputs": "-"} for side, name in broken]
    pair = case.build(dtype, options.seed, options.device, options.torch_optimizer)
    pair.funcad.load_state(state["funcad"])
    pair.torch.load_state(state["torch"])
    f, t = pair.funcad, pair.torch.trainer
    found = [locate_funcad(f.net, f.forward_fn, f.grad_fn, *f.prepare(x, y)), locate_torch(t.model, t.loss_fn, t.inputs(x), t.tensor(y))]
    return [{"dtype": dtype, "step": step, **o} for o in found if o is not None] or [
        {"dtype": dtype, "step": step, "side": "both", "phase": "update", "layer": "-", "op": "forward and backward are finite: "
         "the optimizer's update made it", "source": "-", "inputs": "-"}]


class CompiledWatch:
    """``funcad.jit(train_step)``, checked for NaN/Inf at the end of every call (its outputs and ``net``'s Parameters).
    On the first call that ends non-finite, the Parameters are put back as they were before it, ``forward_fn`` and
    ``grad_fn`` re-run eagerly on the same arguments with every op watched (``locate_funcad``), and the state the
    compiled call left is restored, so training goes on as it would have unwatched. ``origin`` is the location, with
    the call's number as ``step`` (None until a hit). Until then each call copies the Parameters once."""

    def __init__(self, train_step: Callable, net: Cell, forward_fn: Callable, grad_fn: Callable):
        self.compiled = funcad.jit(train_step)
        self.net, self.forward_fn, self.grad_fn = net, forward_fn, grad_fn
        self.origin: dict | None = None
        self.calls = 0

    def _snapshot(self) -> dict[str, np.ndarray]:
        return {n: np.asarray(p).copy() for n, p in self.net.parameters_and_names()}

    def _load(self, values: dict[str, np.ndarray]) -> None:
        params = dict(self.net.parameters_and_names())
        for n, v in values.items():
            params[n].set_data(v)

    def __call__(self, *args):
        before = self._snapshot() if self.origin is None else None
        out = self.compiled(*args)
        if before is not None:
            after = self._snapshot()
            if any(_nonfinite(leaf) for leaf in pytree.flatten(out)[0]) or any(_nonfinite(v) for v in after.values()):
                self._load(before)
                found = locate_funcad(self.net, self.forward_fn, self.grad_fn, *args) or {
                    "side": "funcad", "phase": "update", "layer": "-", "op": "forward and backward are finite: the update made it",
                    "source": "-", "inputs": "-"}
                self.origin = {"step": self.calls, **found}
                self._load(after)
        self.calls += 1
        return out
