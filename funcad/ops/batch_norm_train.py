"""BatchNorm with batch statistics as four primitives: the statistics, the normalisation, and its closed-form gradient.

Composed from small ops, training-mode BatchNorm costs dozens of passes over the activations forward and backward;
here the forward is the channel moments (mean and biased variance, two passes) and one ``x * scale + shift`` pass
pair, and the backward is one primitive for the per-channel sums (``sum(g)``, ``sum(g * xhat)``: the bias and weight
gradients) and one for the input gradient ``invstd * weight * (g - mean(g) - xhat * mean(g * xhat))``, with torch's
CPU formulas. Per-channel sums are BLAS products per (sample, channel) row, then a sum over the samples: their
float32 rounding differs from a plain ``ops.mean`` in the last bits (running statistics included).

``stats`` (the moments) and ``sums`` are handed to the normalisation and its gradient as caches of functions of
``x`` and ``g``: they take no derivative, and the rules in ``x`` and ``g`` are total derivatives that include the
statistics' dependence on ``x``. The gradient primitives' own rules (second order) differentiate their composition
in funcad ops, so derivatives of any order stay exact.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import numpy as np

from funcad.core.primitive import compiled_as_call, primitive
from funcad.core.transforms import jvp, vjp
from funcad.ops import batch_norm_kernels as fused
from funcad.ops.batching import batch_size, to_front
from funcad.ops.conv import from_channels, into_channels
from funcad.ops.creation import ones_like, zeros_like
from funcad.ops.math import rsqrt
from funcad.ops.reduce import mean, sum
from funcad.ops.shape import _shape_of, getitem, reshape, stack, stop_gradient, transpose


def channel_axes(ndim: int) -> tuple:
    """The axes an (N, C, *) input is normalised over: all but the channel axis 1."""
    return (0,) + tuple(range(2, ndim))


def normalize(x, axes: tuple, eps: float):
    """(x - mean) / sqrt(biased var + eps) over ``axes`` in funcad ops, with the statistics used."""
    mu = mean(x, axis=axes, keepdims=True)
    centred = x - mu
    var = mean(centred * centred, axis=axes, keepdims=True)
    return centred * rsqrt(var + eps), mu, var


def _count(shape: tuple) -> int:
    return math.prod(shape) // shape[1]


def _per_channel(v, ndim: int):
    """A (C,) array shaped to broadcast over an (N, C, *) one."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _invstd(stats, eps: float):
    return 1.0 / np.sqrt(stats[1] + eps)


def _rows(a):
    """An (N, C, *) array as one row per (sample, channel)."""
    return a.reshape(a.shape[0] * a.shape[1], -1)


def _channel_sums(a):
    """Per channel sum of an (N, C, *) array: a matrix-vector product per (sample, channel) row, then over samples."""
    if a.ndim == 2:
        return np.add.reduce(a, axis=0)
    rows = _rows(a)
    return np.add.reduce((rows @ np.ones(rows.shape[1], rows.dtype)).reshape(a.shape[:2]), axis=0)


def _channel_dots(a, b):
    """Per channel sum of ``a * b`` over (N, C, *) arrays: a dot product per (sample, channel) row, then over samples."""
    if a.ndim == 2:
        return np.einsum("nc,nc->c", a, b)
    return np.add.reduce(np.einsum("ij,ij->i", _rows(a), _rows(b)).reshape(a.shape[:2]), axis=0)


# -- the primitives' forwards -------------------------------------------------------------------------------------------
def _torch_moments(torch, x):
    var, mu = torch.var_mean(x, dim=channel_axes(x.ndim), correction=0)
    return torch.stack([mu, var])


def _torch_train(torch, x, stats, affine, eps):
    weight, bias = (None, None) if affine is None else affine
    return torch.nn.functional.batch_norm(x, None, None, weight, bias, True, 0.0, eps)


def _torch_sums(torch, g, x, stats, eps):
    axes = channel_axes(x.ndim)
    var, mu = torch.var_mean(x, dim=axes, correction=0, keepdim=True)
    return torch.stack([(g * (x - mu) * torch.rsqrt(var + eps)).sum(axes), g.sum(axes)])


def _torch_input_grad(torch, g, x, stats, sums, affine, eps):
    axes = channel_axes(x.ndim)
    var, mu = torch.var_mean(x, dim=axes, correction=0, keepdim=True)
    invstd = torch.rsqrt(var + eps)
    xhat = (x - mu) * invstd
    dx = (g - g.mean(axes, keepdim=True) - xhat * (g * xhat).mean(axes, keepdim=True)) * invstd
    return dx if affine is None else dx * affine[0].reshape((1, -1) + (1,) * (x.ndim - 2))


@primitive(**compiled_as_call(torch=_torch_moments))
def _batch_moments(x):
    """(2, C): each channel's mean and biased variance over the batch and spatial axes (two passes: the sum, then
    the centred squares: one loop each in ``batch_norm_kernels``, else BLAS products per (sample, channel) row)."""
    if fused.applies(x):
        return fused.moments(x)
    n = float(_count(x.shape))
    mu = _channel_sums(x) / n
    centred = np.subtract(x, _per_channel(mu, x.ndim))
    return np.stack([mu, _channel_dots(centred, centred) / n])


@primitive(**compiled_as_call(torch=_torch_train))
def _batch_norm_train(x, stats, affine, eps: float):
    """``x`` normalised with its own moments ``stats`` (from ``_batch_moments``), scaled and shifted per channel by
    ``affine`` ((2, C): weight and bias, or None): ``x * scale + shift`` with ``scale = weight * invstd``,
    ``shift = bias - mean * scale`` (torch's CPU form)."""
    scale = _invstd(stats, eps) if affine is None else _invstd(stats, eps) * affine[0]
    shift = -stats[0] * scale if affine is None else affine[1] - stats[0] * scale
    if fused.applies(x, scale, shift):
        return fused.scale_shift(x, scale, shift)
    y = np.multiply(x, _per_channel(scale, x.ndim))
    return np.add(y, _per_channel(shift, x.ndim), out=y)


@primitive(**compiled_as_call(torch=_torch_sums))
def _batch_norm_sums(g, x, stats, eps: float):
    """(2, C): per channel ``sum(g * xhat)`` and ``sum(g)``, the gradients of the weight and the bias (``affine``), as
    BLAS products per (sample, channel) row: two passes over ``g`` and one over the centred ``x`` (one fused pass
    over both where ``batch_norm_kernels`` applies)."""
    if fused.applies(g, x, stats):
        dots, totals = fused.centred_dots_and_sums(g, x, stats[0])
        return np.stack([dots * _invstd(stats, eps), totals]).astype(x.dtype)
    centred = np.subtract(x, _per_channel(stats[0], x.ndim))
    return np.stack([_channel_dots(g, centred) * _invstd(stats, eps), _channel_sums(g)])


@primitive(**compiled_as_call(torch=_torch_input_grad))
def _batch_norm_input_grad(g, x, stats, sums, affine, eps: float):
    """The input's gradient ``invstd * weight * (g - mean(g) - xhat * mean(g * xhat))``, in five in-place passes (one
    fused pass where ``batch_norm_kernels`` applies)."""
    n, invstd, ndim = _count(x.shape), _invstd(stats, eps), x.ndim
    xhat_coef, shift = sums[0] * invstd / n, sums[1] / n
    scale = invstd if affine is None else invstd * affine[0]
    if fused.applies(g, x, stats, xhat_coef, shift, scale):
        return fused.input_grad(g, x, stats[0], xhat_coef, shift, scale)
    dx = np.subtract(x, _per_channel(stats[0], ndim))
    dx *= _per_channel(xhat_coef, ndim)
    np.subtract(g, dx, out=dx)
    dx -= _per_channel(shift, ndim)
    dx *= _per_channel(scale, ndim)
    return dx


# -- derivative rules ---------------------------------------------------------------------------------------------------
def _moments_composite(x):
    axes = channel_axes(len(_shape_of(x)))
    centred = x - mean(x, axis=axes, keepdims=True)
    return stack([mean(x, axis=axes), mean(centred * centred, axis=axes)])


def _sums_composite(g, x, stats, eps: float):
    axes = channel_axes(len(_shape_of(x)))
    return stack([sum(g * normalize(x, axes, eps)[0], axis=axes), sum(g, axis=axes)])


def _input_grad_composite(g, x, stats, sums, affine, eps: float):
    shape = _shape_of(x)
    axes = channel_axes(len(shape))
    xhat, _, var = normalize(x, axes, eps)
    dx = (g - mean(g, axis=axes, keepdims=True) - xhat * mean(g * xhat, axis=axes, keepdims=True)) * rsqrt(var + eps)
    return dx if affine is None else dx * reshape(getitem(affine, 0), (1, shape[1]) + (1,) * (len(shape) - 2))


def _replaced(args: tuple, i: int, value) -> tuple:
    return args[:i] + (value,) + args[i + 1 :]


def _differentiate(prim, composite: Callable, positions: tuple, n_args: int) -> None:
    """Give ``prim`` the rules of ``composite`` (the same function in funcad ops) in the argument ``positions``; the
    other arguments (caches, options) take no derivative."""

    def cotangent(i):
        return lambda ct, ans, *args, **kw: vjp(lambda a: composite(*_replaced(args, i, a), **kw), args[i])[1](ct)[0]

    def tangent(i):
        return lambda t, ans, *args, **kw: jvp(lambda a: composite(*_replaced(args, i, a), **kw), (args[i],), (t,))[1]

    prim.defvjp(*(cotangent(i) if i in positions else None for i in range(n_args)))
    prim.defjvp(*(tangent(i) if i in positions else None for i in range(n_args)))


_last_sums = threading.local()  # (g, ans, sums) of the latest input cotangent, for the affine one of the same node


def _input_cotangent(g, ans, x, stats, affine, eps: float):
    sums = _batch_norm_sums(g, x, stats, eps=eps)
    if affine is not None:
        _last_sums.entry = (g, ans, sums)
    return _batch_norm_input_grad(g, x, stats, sums, affine, eps=eps)


def _affine_cotangent(g, ans, x, stats, affine, eps: float):
    """The sums the input's cotangent needs too, computed once for both: the backward pass asks for the input's
    cotangent and then the affine one of the same node with the same ``g`` (and ``ans`` names the node), so the
    second takes the first's sums; under funcad.jit the traced graph holds one node either way."""
    entry = getattr(_last_sums, "entry", None)
    _last_sums.entry = None
    if entry is not None and entry[0] is g and entry[1] is ans:
        return entry[2]
    return _batch_norm_sums(g, x, stats, eps=eps)


def _input_tangent(t, ans, x, stats, affine, eps: float):
    """The Jacobian in x is symmetric (per channel ``invstd * weight / N * (N I - 1 1^T - xhat xhat^T)``)."""
    return _batch_norm_input_grad(t, x, stats, _batch_norm_sums(t, x, stats, eps=eps), affine, eps=eps)


def _affine_tangent(t, ans, x, stats, affine, eps: float):
    """``xhat * t_weight + t_bias``: the op is linear in ``affine``."""
    return _batch_norm_train(x, stats, t, eps=eps)


_batch_norm_train.defvjp(_input_cotangent, None, _affine_cotangent)
_batch_norm_train.defjvp(_input_tangent, None, _affine_tangent)
_differentiate(_batch_moments, _moments_composite, (0,), 1)
_differentiate(_batch_norm_sums, _sums_composite, (0, 1), 3)
_differentiate(_batch_norm_input_grad, _input_grad_composite, (0, 1, 4), 5)


# -- batching: every member's channels side by side, as channels of one call --------------------------------------------
def _channels_rule(prim, kinds: str, out_kind: str):
    """vmap rule for an op over (N, C, *) arrays ("x") and stacked (2, C) statistics or weight and bias ("s"): the
    members' channels become the channels of one call, since each channel is normalised on its own."""

    def into(a, dim, kind: str, size: int):
        if a is None:
            return None
        if kind == "x":
            return into_channels(a, dim, size)
        return reshape(transpose(to_front(a, dim, size), (1, 0, 2)), (2, -1))

    def rule(args, dims, /, **kwargs):
        size = batch_size(args, dims)
        out = prim(*(into(a, d, k, size) for a, d, k in zip(args, dims, kinds)), **kwargs)
        return (from_channels(out, size), 1) if out_kind == "x" else (reshape(out, (2, size, -1)), 1)

    return rule


_batch_moments.declare(batch=_channels_rule(_batch_moments, "x", "s"))
_batch_norm_train.declare(batch=_channels_rule(_batch_norm_train, "xss", "x"))
_batch_norm_sums.declare(batch=_channels_rule(_batch_norm_sums, "xxs", "s"))
_batch_norm_input_grad.declare(batch=_channels_rule(_batch_norm_input_grad, "xxsss", "x"))


def batch_norm_training(x, weight, bias, eps: float):
    """``(y, stats)``: ``x`` normalised with its batch statistics, and those statistics ((2, C): mean and biased
    variance) as constants for the running statistics' update. Weight and bias travel stacked, so that their
    gradients are one array, the sums the input's gradient needs as well."""
    stats = stop_gradient(_batch_moments(x))
    affine = None
    if weight is not None or bias is not None:
        affine = stack([ones_like(bias) if weight is None else weight, zeros_like(weight) if bias is None else bias])
    return _batch_norm_train(x, stats, affine, eps=eps), stats
