"""Linear algebra: matmul (1-D, 2-D, batched with broadcasting), dot, tensordot, einsum, outer."""

from __future__ import annotations

from funcad.core.backend import xp
from funcad.core.primitive import primitive
from funcad.ops.shape import _shape_of, expand_dims, reshape, swapaxes, unbroadcast


@primitive
def matmul(x, y):
    return xp.matmul(x, y)


def _matmul_dx(g, ans, x, y):
    xs, ys = _shape_of(x), _shape_of(y)
    if len(ys) == 1:
        if len(xs) == 1:
            return g * y
        return unbroadcast(expand_dims(g, -1) * y, xs)
    if len(xs) == 1:
        # g (..., m), y (..., k, m): dx_k = sum over batch and m of y[..., k, m] * g[..., m]
        return unbroadcast(reshape(matmul(y, expand_dims(g, -1)), tuple(g.shape[:-1]) + (xs[0],)), xs)
    return unbroadcast(matmul(g, swapaxes(y, -1, -2)), xs)


def _matmul_dy(g, ans, x, y):
    xs, ys = _shape_of(x), _shape_of(y)
    if len(xs) == 1:
        if len(ys) == 1:
            return g * x
        # g (..., m), x (k,): dy = outer(x, g) over the batch
        return unbroadcast(expand_dims(x, -1) * expand_dims(g, -2), ys)
    if len(ys) == 1:
        # g (..., n), x (..., n, k): dy_k = sum x[..., n, k] * g[..., n]
        return unbroadcast(reshape(matmul(swapaxes(x, -1, -2), expand_dims(g, -1)), tuple(g.shape[:-1]) + (ys[0],)), ys)
    return unbroadcast(matmul(swapaxes(x, -1, -2), g), ys)


matmul.defvjp(_matmul_dx, _matmul_dy)
matmul.defjvp(lambda t, ans, x, y: matmul(t, y), lambda t, ans, x, y: matmul(x, t))
