"""Direct convolution of 1x1 kernels without padding (projection shortcuts, pointwise layers): the GEMMs read the input in place.

A 1x1 kernel's im2col columns are the input itself (every ``stride``-th pixel), so there is nothing to
unfold: forward is ``W @ x`` per sample, the input gradient ``W^T @ g`` written back at the strided
pixels (a plain strided store, each pixel receives at most one term), the weight gradient
``sum over samples of g @ x^T``.
"""

from __future__ import annotations

import numpy as np


def _pixels(x, stride: tuple[int, int], groups: int):
    """(N, groups, C/groups, OH * OW): the inputs a 1x1 kernel reads."""
    picked = x if stride == (1, 1) else x[:, :, :: stride[0], :: stride[1]]
    n, c = x.shape[:2]
    oh, ow = picked.shape[2:]
    return np.ascontiguousarray(picked).reshape(n, groups, c // groups, oh * ow), (oh, ow)


def forward(x, w, stride: tuple[int, int], groups: int):
    cols, (oh, ow) = _pixels(x, stride, groups)
    o = w.shape[0]
    kernels = w.reshape(groups, o // groups, w.shape[1])
    return np.matmul(kernels, cols).reshape(x.shape[0], o, oh, ow)


def input_grad(g, w, stride: tuple[int, int], groups: int, x_shape: tuple):
    n, o, oh, ow = g.shape
    kernels_t = w.reshape(groups, o // groups, w.shape[1]).transpose(0, 2, 1)
    picked = np.matmul(kernels_t, g.reshape(n, groups, o // groups, oh * ow)).reshape(n, x_shape[1], oh, ow)
    if stride == (1, 1):
        return picked
    dx = np.zeros(x_shape, dtype=picked.dtype)
    dx[:, :, :: stride[0], :: stride[1]] = picked
    return dx


def weight_grad(x, g, stride: tuple[int, int], groups: int, w_shape: tuple):
    cols, (oh, ow) = _pixels(x, stride, groups)
    n, o = g.shape[:2]
    per_sample = np.matmul(g.reshape(n, groups, o // groups, oh * ow), cols.transpose(0, 1, 3, 2))  # (N, groups, O/groups, C/groups)
    return np.add.reduce(per_sample, axis=0).reshape(w_shape)
