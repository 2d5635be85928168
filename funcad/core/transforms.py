"""grad, value_and_grad, vjp and jvp with MindSpore 2.x's calling conventions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcad.core import pytree
from funcad.core.base_ops import stop_gradient
from funcad.core.dtypes import default_array, is_float_dtype
from funcad.core.forward import JVPTrace
from funcad.core.reverse import VJPTrace, backward
from funcad.core.tensor import Parameter, Tensor
from funcad.core.trace import Tracer, lower, numpy_dtype, scope


def _as_input(value, fname: str, what: str, key):
    """A differentiable leaf: a float or complex Tensor (Python floats become float32). The error names the leaf as
    ``what.format(key)`` (e.g. "weight {!r}"), built only when it is raised."""
    if value.__class__ is Tensor:  # the common case: read numpy's dtype, no DType wrapping
        t = value
        if value._data.dtype.kind == "f":
            return t
        dtype = value.dtype
    elif isinstance(value, Tensor):
        dtype = value.dtype
        t = value
    else:
        arr = default_array(value)
        dtype = arr.dtype
        t = Tensor._wrap(arr)
    if not is_float_dtype(dtype):
        raise TypeError(f"{fname}: {what.format(key)} has dtype {dtype}; only floating-point and complex inputs can be differentiated")
    return t


def _check_outputs(leaves: list, fn, fname: str, what: str) -> None:
    """Only Tensors can be differentiated: a function returning None, a str, a Python number or a list of those is an
    error (as in MindSpore and JAX), not a zero gradient."""
    if leaves and all(isinstance(leaf, Tensor) for leaf in leaves):
        return
    bad = [leaf for leaf in leaves if not isinstance(leaf, Tensor)]
    got = ", ".join(f"{type(b).__name__} {b!r}"[:80] for b in bad[:3]) if bad else "nothing (an empty structure)"
    raise TypeError(f"{fname}: {what} of {getattr(fn, '__name__', repr(fn))!r} must be Tensors, got {got}")


def _ones_like(value) -> Tensor:
    return Tensor._wrap(np.ones(value.shape, dtype=numpy_dtype(value)))


def _zeros_like(value) -> Tensor:
    return Tensor._wrap(np.zeros(value.shape, dtype=value.dtype))


def _stop_all_levels(value):
    # a plain Tensor is already a constant at every level
    return stop_gradient(value) if isinstance(value, Tensor) and value.__class__ is not Tensor else value


def _normalize_positions(grad_position, fname: str) -> tuple[tuple, bool]:
    if grad_position is None:
        return (), False
    if isinstance(grad_position, (bool, np.bool_)) or not isinstance(grad_position, (int, tuple, list)):
        raise TypeError(f"{fname}: grad_position must be an int, a tuple of ints or None, got {grad_position!r}")
    if isinstance(grad_position, int):
        return (grad_position,), True
    positions = tuple(grad_position)
    if not positions or not all(isinstance(p, int) for p in positions):
        raise ValueError(f"{fname}: grad_position must be a non-empty tuple of ints, got {grad_position!r}")
    return positions, len(positions) == 1


def _normalize_weights(weights, fname: str) -> tuple[list, bool]:
    if weights is None:
        return [], False
    if isinstance(weights, Parameter):
        return [weights], True
    if isinstance(weights, Tensor) or not isinstance(weights, Sequence):
        raise TypeError(f"{fname}: weights must be a Parameter or a list/tuple of Parameters, got {type(weights).__name__}")
    weights = list(weights)
    for i, w in enumerate(weights):
        if not isinstance(w, Parameter):
            raise TypeError(f"{fname}: weights[{i}] is a {type(w).__name__}, not a Parameter")
    return weights, False


class _Differentiation:
    """One call of a reverse-mode transform: trace the function, seed the outputs, pull back."""

    def __init__(self, fn, positions, weights, has_aux, fname):
        self.fn, self.positions, self.weights, self.has_aux, self.fname = fn, positions, weights, has_aux, fname

    def trace(self, args: tuple, kwargs: dict):
        """Run the function on tracers: (trace, {position: (tracers, treedef)}, weight tracers, output, aux)."""
        positions = tuple(p + len(args) if p < 0 else p for p in self.positions)
        for p, given in zip(positions, self.positions):
            if not 0 <= p < len(args):
                raise ValueError(f"{self.fname}: grad_position {given} is out of range for a function called with {len(args)} arguments")
        trace = VJPTrace()
        args = list(args)
        with scope(trace):
            input_leaves = {}
            for p in positions:
                leaves, treedef = pytree.flatten(args[p])
                tracers = [trace.new_input(_as_input(v, self.fname, "argument at position {}", p)) for v in leaves]
                input_leaves[p] = (tracers, treedef)
                args[p] = pytree.unflatten(treedef, tracers)
            weight_tracers = []
            for w in self.weights:
                current = w._current()
                value = _as_input(Tensor._wrap(w._data) if current is w else current, self.fname, "weight {!r}", w.name)
                t = trace.new_input(value)
                weight_tracers.append((w, w._bound))
                w._bound = t
            try:
                out = self.fn(*args, **kwargs)
            finally:
                bound_tracers = [w._bound for w in self.weights]
                for w, previous in reversed(weight_tracers):  # reversed: a Parameter listed twice ends unbound
                    w._bound = previous
        if self.has_aux:
            if not isinstance(out, (tuple, list)) or not out:
                raise ValueError(f"{self.fname}: has_aux=True needs the function to return a tuple (output, *aux), got {type(out).__name__}")
            main, aux = out[0], tuple(out[1:])
        else:
            main, aux = out, ()
        return trace, [input_leaves[p] for p in positions], bound_tracers, main, aux

    def pull_back(self, trace, input_leaves, bound_tracers, seeds) -> tuple[list, list]:
        """The cotangents of the inputs (one pytree per position) and of the weights, from output ``seeds``."""
        reached = backward(trace, seeds)

        def cotangent(tracer):
            g = reached.get(id(tracer))
            return _zeros_like(tracer._value) if g is None else g

        input_grads = [pytree.unflatten(treedef, [cotangent(t) for t in tracers]) for tracers, treedef in input_leaves]
        return input_grads, [cotangent(t) for t in bound_tracers]

    def run(self, args: tuple, kwargs: dict):
        trace, input_leaves, bound_tracers, main, aux = self.trace(args, kwargs)
        main_leaves, main_def = pytree.flatten(main)
        seeds = [(leaf, _ones_like(leaf)) for leaf in main_leaves if isinstance(leaf, Tracer) and leaf._trace is trace]
        if len(seeds) != len(main_leaves) or not seeds:  # some output is no tracer: it may be no Tensor at all
            _check_outputs(main_leaves, self.fn, self.fname, "the differentiated output")
        if any(numpy_dtype(leaf).kind == "c" for leaf in main_leaves):
            raise TypeError(f"{self.fname}: the differentiated output of {getattr(self.fn, '__name__', repr(self.fn))!r} is complex; "
                            "gradients need a real output (take ops.real or ops.abs of it), or use vjp with a cotangent")
        input_grads, weight_grads = self.pull_back(trace, input_leaves, bound_tracers, seeds)
        value = pytree.unflatten(main_def, [lower(v, trace) for v in main_leaves])
        aux = tuple(_stop_all_levels(lower(a, trace)) for a in pytree.flatten(aux)[0]) if aux else ()
        return value, aux, input_grads, weight_grads


def _package(input_grads, weight_grads, positions, bare_input, weights, bare_weight, return_ids):
    if return_ids:
        input_grads = [(p, g) for p, g in zip(positions, input_grads)]
        weight_grads = [(w.name, g) for w, g in zip(weights, weight_grads)]
    ig = input_grads[0] if bare_input else tuple(input_grads)
    wg = weight_grads[0] if bare_weight else tuple(weight_grads)
    if positions and weights:
        return ig, wg
    return ig if positions else wg


def _make(fn, grad_position, weights, has_aux, return_ids, with_value, fname):
    positions, bare_input = _normalize_positions(grad_position, fname)
    weight_list, bare_weight = _normalize_weights(weights, fname)
    if not positions and not weight_list:
        raise ValueError(f"{fname}: grad_position and weights cannot both be None")
    diff = _Differentiation(fn, positions, weight_list, has_aux, fname)

    def transformed(*args, **kwargs):
        value, aux, ig, wg = diff.run(args, kwargs)  # keyword arguments pass through, not differentiated (as in JAX)
        grads = _package(ig, wg, positions, bare_input, weight_list, bare_weight, return_ids)
        if with_value:
            return ((value, *aux) if has_aux else value), grads
        return (grads, aux) if has_aux else grads

    transformed.__name__ = f"{fname}({getattr(fn, '__name__', 'fn')})"
    transformed.__wrapped__ = fn
    return transformed


def grad(fn: Callable, grad_position: Any = 0, weights: Any = None, has_aux: bool = False, return_ids: bool = False) -> Callable:
    """Gradient function of ``fn`` (MindSpore's ``mindspore.grad``); keyword arguments reach ``fn`` undifferentiated."""
    return _make(fn, grad_position, weights, has_aux, return_ids, False, "grad")


def value_and_grad(fn: Callable, grad_position: Any = 0, weights: Any = None, has_aux: bool = False, return_ids: bool = False) -> Callable:
    """Function returning ``(value, gradients)`` of ``fn`` (MindSpore's ``mindspore.value_and_grad``); keyword arguments
    reach ``fn`` undifferentiated."""
    return _make(fn, grad_position, weights, has_aux, return_ids, True, "value_and_grad")


def vjp(fn: Callable, *inputs, weights: Any = None, has_aux: bool = False):
    """MindSpore's ``mindspore.vjp``: ``(outputs, vjp_fn)``, plus ``aux`` with has_aux. ``vjp_fn(v)`` maps output
    cotangents to a tuple with one cotangent per input (a tuple even for one input, as MindSpore's); with
    ``weights`` (a Parameter or a list of them) it returns ``(input_cotangents, weight_cotangents)``."""
    return _vjp(fn, inputs, weights, has_aux, "vjp")


def _vjp(fn: Callable, inputs: tuple, weights, has_aux: bool, fname: str):
    weight_list, bare_weight = _normalize_weights(weights, fname)
    diff = _Differentiation(fn, tuple(range(len(inputs))), weight_list, has_aux, fname)
    trace, input_leaves, bound_tracers, out, aux = diff.trace(inputs, {})
    if has_aux:
        aux = pytree.tree_map(lambda a: _stop_all_levels(lower(a, trace)), aux[0] if len(aux) == 1 else aux)
    out_leaves, out_def = pytree.flatten(out)
    _check_outputs(out_leaves, fn, fname, "the outputs")

    def vjp_fn(*cotangents):
        cot = cotangents[0] if len(cotangents) == 1 else cotangents
        cot_leaves, cot_def = pytree.flatten(cot)
        if cot_def != out_def:
            raise ValueError(f"{fname}: the cotangent's structure {cot_def} does not match the output structure {out_def}")
        seeds = []
        for o, c in zip(out_leaves, cot_leaves):
            c = c if isinstance(c, Tensor) else Tensor(c, dtype=o.dtype)
            if tuple(c.shape) != tuple(o.shape):
                raise ValueError(f"{fname}: cotangent of shape {tuple(c.shape)} for an output of shape {tuple(o.shape)}")
            if isinstance(o, Tracer) and o._trace is trace:
                seeds.append((o, c))
        input_grads, weight_grads = diff.pull_back(trace, input_leaves, bound_tracers, seeds)
        if not weight_list:
            return tuple(input_grads)
        return tuple(input_grads), (weight_grads[0] if bare_weight else tuple(weight_grads))

    value = pytree.unflatten(out_def, [lower(v, trace) for v in out_leaves])
    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def jvp(fn: Callable, inputs, v, has_aux: bool = False):
    """Forward mode: ``(outputs, jvp_outputs)`` (plus ``aux``) of ``fn`` at ``inputs`` along ``v``."""
    single = not isinstance(inputs, (tuple, list))
    inputs = (inputs,) if single else tuple(inputs)
    v = (v,) if single or not isinstance(v, (tuple, list)) else tuple(v)
    if len(v) != len(inputs):
        raise ValueError(f"jvp: {len(inputs)} inputs but {len(v)} tangents")
    trace = JVPTrace()
    with scope(trace):
        args = []
        for p, (x, dx) in enumerate(zip(inputs, v)):
            x = _as_input(x, "jvp", "input {}", p)
            dx = dx if isinstance(dx, Tensor) else Tensor(dx, dtype=x.dtype)
            if tuple(dx.shape) != tuple(x.shape):
                raise ValueError(f"jvp: tangent {p} has shape {tuple(dx.shape)}, input has shape {tuple(x.shape)}")
            args.append(trace.new_input(x, dx))
        out = fn(*args)
    aux = ()
    if has_aux:
        out, aux = out[0], tuple(out[1:])

    def tangent(o):
        if isinstance(o, Tracer) and o._trace is trace:
            return o._tangent
        return _zeros_like(o)

    primal = pytree.tree_map(lambda o: lower(o, trace), out)
    tangents = pytree.tree_map(tangent, out)
    if has_aux:
        return primal, tangents, pytree.tree_map(lambda a: _stop_all_levels(lower(a, trace)), aux)
    return primal, tangents
