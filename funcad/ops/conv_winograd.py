"""Winograd F(2x2, 3x3): a 3x3 stride-1 convolution as 16 products of (O x C) @ (C x tiles), 2.25x fewer multiplications than im2col.

Each 2x2 block of outputs ("tile") reads a 4x4 patch of the padded input. With the transforms
``V = B^T d B`` of a patch, ``U = G w G^T`` of a kernel and ``Y = A^T (U . V) A`` of their product,
the 16 positions of a tile are independent, so the sum over input channels is one batched GEMM
``U[xi] @ V[xi]`` over all tiles of the batch. The transforms' coefficients are 0, +-1 and +-1/2 (the
kernel's is computed in float64 and rounded once); the channel sums are 9x shorter than im2col's, and the
float32 error stays below im2col's on the shapes tested against torch.

Layouts: tiles are ordered (sample, tile row, tile column) and the channel axis is in front, so each
transform step is a handful of whole-array adds over strided rows and every GEMM operand is contiguous.
The weight gradient is the adjoint in the same domain: ``dU[xi] = sum over tiles of (A g A^T)[xi] V[xi]^T``,
``dw = G^T dU G``. The input gradient of a stride-1 convolution is itself a stride-1 convolution (of the
output gradient with the flipped, transposed kernel), which the caller runs through ``forward``.
"""

from __future__ import annotations

import numpy as np

# Rows: which input rows of a patch (0..3) enter each transformed row, with their signs.
_INPUT_ROWS = (((0, 1), (2, -1)), ((1, 1), (2, 1)), ((2, 1), (1, -1)), ((1, 1), (3, -1)))  # B^T
_OUTPUT_ROWS = (((0, 1), (1, 1), (2, 1)), ((1, 1), (2, -1), (3, -1)))  # A^T: 4 -> 2
_SPREAD_ROWS = (((0, 1),), ((0, 1), (1, 1)), ((0, 1), (1, -1)), ((1, -1),))  # A, its transpose: 2 -> 4
_KERNEL = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])  # G


def _combine(terms, out):
    """out = sum of sign * array over ``terms`` (one or more (array, sign) pairs), computed in place."""
    (first, s0), *rest = terms
    if s0 > 0:
        np.copyto(out, first)
    else:
        np.negative(first, out=out)
    for a, s in rest:
        (np.add if s > 0 else np.subtract)(out, a, out=out)
    return out


def _apply(src, rows, out):
    """Along the first axis: out[k] = sum of sign * src[r] over (r, sign) in rows[k]."""
    for k, terms in enumerate(rows):
        _combine([(src[r], sign) for r, sign in terms], out[k])
    return out


def _transform_pairs(src, rows, axis: int, tiles: int, step: int, out):
    """Along ``axis`` of ``src``: out[k] = sum of sign * src[step * t + r] over (r, sign) in rows[k], for tiles t."""
    index = [slice(None)] * src.ndim
    for k, terms in enumerate(rows):
        picked = []
        for r, sign in terms:
            index[axis] = slice(r, r + step * (tiles - 1) + 1, step)
            picked.append((src[tuple(index)], sign))
        _combine(picked, out[k])
    return out


def _tile_grid(h: int, w: int, padding) -> tuple[int, int, int, int]:
    """(output rows, output columns, tile rows, tile columns) of a 3x3 stride-1 convolution."""
    pt, pb, pl, pr = padding
    oh, ow = h + pt + pb - 2, w + pl + pr - 2
    return oh, ow, (oh + 1) // 2, (ow + 1) // 2


def _input_transform(x, padding, groups: int):
    """V: (16, groups, C/groups, N * tiles) of an (N, C, H, W) input."""
    n, c, h, w = x.shape
    pt, _, pl, _ = padding
    _, _, th, tw = _tile_grid(h, w, padding)
    padded = np.zeros((c, n, 2 * th + 2, 2 * tw + 2), dtype=x.dtype)  # holds the padded input: 2 * tiles >= its size - 2
    padded[:, :, pt : pt + h, pl : pl + w] = x.transpose(1, 0, 2, 3)
    rows = _transform_pairs(padded, _INPUT_ROWS, 2, th, 2, np.empty((4, c, n, th, 2 * tw + 2), dtype=x.dtype))
    v = np.empty((4, 4, c, n, th, tw), dtype=x.dtype)
    for a in range(4):
        _transform_pairs(rows[a], _INPUT_ROWS, 3, tw, 2, v[a])
    return v.reshape(16, groups, c // groups, n * th * tw)


def _kernel_transform(w, groups: int):
    """U: (16, groups, O/groups, C/groups) of (O, C/groups, 3, 3) kernels, computed in float64 and rounded once."""
    o = w.shape[0]
    u = np.einsum("ip,ocpq,jq->ijoc", _KERNEL, w.astype(np.float64), _KERNEL)
    return u.reshape(16, groups, o // groups, w.shape[1]).astype(w.dtype)


def forward(x, w, padding, groups: int):
    """(N, O, OH, OW) = correlation of x with 3x3 kernels w, stride 1, padding (top, bottom, left, right)."""
    n, _, h, wd = x.shape
    o = w.shape[0]
    oh, ow, th, tw = _tile_grid(h, wd, padding)
    dtype = np.result_type(x.dtype, w.dtype)
    m = np.matmul(_kernel_transform(w, groups).astype(dtype, copy=False), _input_transform(x.astype(dtype, copy=False), padding, groups))
    m = m.reshape(4, 4, o, n, th, tw)
    rows = _apply(m, _OUTPUT_ROWS, np.empty((2, 4, o, n, th, tw), dtype=dtype))
    out = np.empty((2, 2, o, n, th, tw), dtype=dtype)  # [row in tile, column in tile, o, n, tile row, tile column]
    for r in range(2):
        _apply(rows[r], _OUTPUT_ROWS, out[r])
    y = np.empty((n, o, oh, ow), dtype=dtype)
    for r in range(2):
        for s in range(2):
            y[:, :, r::2, s::2] = out[r, s, :, :, : (oh - r + 1) // 2, : (ow - s + 1) // 2].transpose(1, 0, 2, 3)
    return y


def weight_grad(x, g, padding, groups: int, w_shape: tuple):
    """(O, C/groups, 3, 3): the adjoint of w -> forward(x, w), summed over the batch."""
    n, o, oh, ow = g.shape
    _, _, th, tw = _tile_grid(*x.shape[2:], padding)
    dtype = np.result_type(x.dtype, g.dtype)
    v = _input_transform(x.astype(dtype, copy=False), padding, groups)
    tiles = np.zeros((o, n, th, 2, tw, 2), dtype=dtype)  # the output gradient cut into 2x2 tiles, zero past the edge
    tiles.reshape(o, n, 2 * th, 2 * tw)[:, :, :oh, :ow] = g.transpose(1, 0, 2, 3)
    # (A g A^T)[a, b] = sum over r, s of A^T[r, a] g[r, s] A^T[s, b]: each tile entry spreads to the positions A^T marks.
    rows = _apply(tiles.transpose(3, 0, 1, 2, 4, 5), _SPREAD_ROWS, np.empty((4, o, n, th, tw, 2), dtype=dtype))
    m = np.empty((4, 4, o, n, th, tw), dtype=dtype)
    for a in range(4):
        _apply(rows[a].transpose(4, 0, 1, 2, 3), _SPREAD_ROWS, m[a])
    du = np.matmul(m.reshape(16, groups, o // groups, n * th * tw), v.transpose(0, 1, 3, 2))  # (16, groups, O/groups, C/groups)
    dw = np.einsum("ip,ijoc,jq->ocpq", _KERNEL, du.reshape(4, 4, o, -1).astype(np.float64), _KERNEL)
    return dw.astype(dtype).reshape(w_shape)

