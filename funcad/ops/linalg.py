"""Linear algebra: matmul (1-D, 2-D, batched with broadcasting), dot, tensordot, einsum, outer."""

from __future__ import annotations

import numpy as np

from funcad.core.batching import batch_size, move_axis, ndim_of, with_rank
from funcad.core.dtypes import LOW_PRECISION, widened
from funcad.core.lowering import full_width, impl_with_out, ufunc_emitter, with_out
from funcad.core.primitive import compiled_as_call, primitive
from funcad.core.tensor import Tensor
from funcad.ops.batching import to_front
from funcad.ops.shape import _shape_of, broadcast_to, expand_dims, reshape, squeeze, swapaxes, transpose


def _folds(x, y) -> bool:
    """A C-contiguous stack of matrices times one matrix: one product over the folded leading axes (numpy's matmul loops
    over them, about twice as slow)."""
    return getattr(x, "ndim", 0) > 2 and getattr(y, "ndim", 0) == 2 and x.flags.c_contiguous


def _product(x, y, out=None):
    """np.matmul, a stack of matrices times one matrix folded into one product when it can be."""
    if _folds(x, y) and (out is None or out.flags.c_contiguous):
        folded = np.matmul(x.reshape(-1, x.shape[-1]), y, out=None if out is None else out.reshape(-1, y.shape[-1]))
        return folded.reshape(x.shape[:-1] + (y.shape[-1],)) if out is None else out
    return np.matmul(x, y, out=out)


_emit_ufunc_matmul = ufunc_emitter("matmul", 2)


def _emit_matmul(a, node, out, em):
    """np.matmul inline; a stack of matrices times one matrix calls ``matmul`` itself, which folds it when it can."""
    if len(node.args[0].shape) > 2 and len(node.args[1].shape) == 2:
        return impl_with_out(a, node, out, em)
    return _emit_ufunc_matmul(a, node, out, em)


@primitive(**compiled_as_call(emit=full_width(_emit_matmul), takes_out=True, broadcasts=True, role="matmul", torch="matmul"))
def matmul(x, y, out=None):
    if np.result_type(x, y) not in LOW_PRECISION:
        return _product(x, y, out)
    result = widened(_product, x, y)
    if out is None:
        return result
    out[...] = result
    return out


def _matmul_dx(g, ans, x, y):
    xs, ys = _shape_of(x), _shape_of(y)
    if len(ys) == 1:
        if len(xs) == 1:
            return g * y
        return expand_dims(g, -1) * y
    if len(xs) == 1:
        # g (..., m), y (..., k, m): dx_k = sum over batch and m of y[..., k, m] * g[..., m]
        return reshape(matmul(y, expand_dims(g, -1)), tuple(g.shape[:-1]) + (xs[0],))
    return matmul(g, swapaxes(y, -1, -2))


def _matmul_dy(g, ans, x, y):
    xs, ys = _shape_of(x), _shape_of(y)
    if len(xs) == 1:
        if len(ys) == 1:
            return g * x
        # g (..., m), x (k,): dy = outer(x, g) over the batch
        return expand_dims(x, -1) * expand_dims(g, -2)
    if len(ys) == 1:
        # g (..., n), x (..., n, k): dy_k = sum x[..., n, k] * g[..., n]
        return reshape(matmul(swapaxes(x, -1, -2), expand_dims(g, -1)), tuple(g.shape[:-1]) + (ys[0],))
    return matmul(swapaxes(x, -1, -2), g)


matmul.deflinear(_matmul_dx, _matmul_dy)


def _matmul_batch(args, dims, /, **kwargs):
    """Vectors become matrices (a row on the left, a column on the right), batched operands go batch-first with
    their members' ranks aligned (numpy broadcasts an unbatched operand), and the added axes come off the product."""
    x, y = args
    x_vector, y_vector = ndim_of(x) - (dims[0] is not None) == 1, ndim_of(y) - (dims[1] is not None) == 1
    if dims[1] is None and ndim_of(y) == 2:  # a shared matrix on the right: one 2-D product over all rows of the batch
        x = move_axis(x, dims[0], 0)
        return reshape(matmul(reshape(x, (-1, x.shape[-1])), y), tuple(x.shape[:-1]) + (y.shape[-1],)), 0
    x = x if dims[0] is None else move_axis(x, dims[0], 0)
    y = y if dims[1] is None else move_axis(y, dims[1], 0)
    x = expand_dims(x, -2) if x_vector else x
    y = expand_dims(y, -1) if y_vector else y
    rank = max(ndim_of(x) - (dims[0] is not None), ndim_of(y) - (dims[1] is not None))
    x = x if dims[0] is None else with_rank(x, rank)
    y = y if dims[1] is None else with_rank(y, rank)
    out = matmul(x, y)
    if y_vector:
        out = squeeze(out, -1)
    if x_vector:
        out = squeeze(out, -1 if y_vector else -2)
    return out, 0


matmul.declare(batch=_matmul_batch)


def _emit_dense(a, node, out, em):
    """x @ w.T, and with a bias of the output's dtype added into the product's own buffer; a batch of matrices calls
    ``_dense``, which makes it one product."""
    if len(node.args[0].shape) > 2:
        return None
    if len(a) == 2:
        return with_out(f"np.matmul({a[0]}, {a[1]}.T)", out)
    b = node.args[2]
    if len(a) == 3 and out is not None and b.dtype == node.out.dtype and tuple(b.shape) == tuple(node.out.shape[-1:]):
        return f"np.add(np.matmul({a[0]}, {a[1]}.T, out={out}), {a[2]}, out={out})"
    return None


def _both_matrices(node) -> bool:
    return len(node.args) == 2 and all(a.is_var and a.ndim == 2 for a in node.args)


@primitive(**compiled_as_call(emit=full_width(_emit_dense), takes_out=True, broadcasts=True, torch="nn.functional.linear"))
def _dense(x, w, b=None):
    """x @ w.T (+ b): the bias joins the product's fresh array in place when it keeps the shape and dtype (same values);
    in 16 bits it joins the float32 product before the one rounding, as torch's fused CPU kernel adds it; leading axes
    of x fold into one product as in ``matmul``."""
    if b is not None and np.result_type(x, w) in LOW_PRECISION:
        return widened(lambda a, c: np.add(_product(a, c.T), b, dtype=np.float32), x, w)
    y = matmul.impl(x, w.T)
    if b is None:
        return y
    if getattr(b, "dtype", None) == y.dtype and b.shape == y.shape[-1:]:
        y += b
        return y
    return y + b


def _emit_weight_grad(a, node, out, em):
    return with_out(f"np.matmul({a[0]}.T, {a[1]})", out) if _both_matrices(node) else None


@primitive(**compiled_as_call(emit=full_width(_emit_weight_grad),
                              takes_out=_both_matrices))
def _dense_weight_grad(g, x):
    """The weight's cotangent g.T @ x over all leading axes, computed by BLAS in the weight's own (out, in) layout: the
    transpose of x @ w.T's gradient would be a column-major view that makes every later elementwise op on it slow."""
    return widened(np.matmul, g.reshape(-1, g.shape[-1]).T, x.reshape(-1, x.shape[-1]))


# Affine, not linear, in x and w when a bias is given: the tangents leave the bias out; the bias's own passes through.
_dense.defvjp(lambda g, ans, x, w, b=None: matmul(g, w), lambda g, ans, x, w, b=None: _dense_weight_grad(g, x),
              lambda g, ans, x, w, b=None: g)
_dense.defjvp(lambda t, ans, x, w, b=None: _dense(t, w), lambda t, ans, x, w, b=None: _dense(x, t), lambda t, ans, x, w, b=None: t)
# ct (out, in) pulls back to g as x @ ct.T and to x as g @ ct, each in the leading shape of its own argument.
_dense_weight_grad.deflinear(lambda ct, ans, g, x: _dense(x, ct), lambda ct, ans, g, x: matmul(g, ct))


def _dense_batch(args, dims, /, **kwargs):
    x, w, *bias = args
    if all(d is None for d in dims[1:]):  # batched inputs, shared weights: one 2-D product over the batch's rows too
        x = move_axis(x, dims[0], 0)
        out = _dense(reshape(x, (-1, x.shape[-1])), w, *bias)
        return reshape(out, tuple(x.shape[:-1]) + (out.shape[-1],)), 0
    size = batch_size(args, dims)
    w = swapaxes(to_front(w, dims[1], size), -1, -2)  # (B, in, out)
    lead = tuple(x.shape[:-1]) if dims[0] is None else tuple(move_axis(x, dims[0], 0).shape[1:-1])
    out = reshape(matmul(_rows(x, dims[0]), w), (size,) + lead + (w.shape[-1],))
    if bias and bias[0] is not None:
        b = bias[0] if dims[2] is None else with_rank(move_axis(bias[0], dims[2], 0), len(lead) + 1)
        out = out + b
    return out, 0


def _rows(a, dim):
    """A batch-first (B, M, last) view of ``a``'s members as rows, or (M, last) for an unbatched ``a``."""
    if dim is None:
        return reshape(a, (-1, a.shape[-1]))
    a = move_axis(a, dim, 0)
    return reshape(a, (a.shape[0], -1, a.shape[-1]))


def _dense_weight_grad_batch(args, dims, /, **kwargs):
    """Per-member g.T @ x; one row per member (per-sample gradients) is an outer product, computed as a broadcast
    multiply (a batched matmul with an inner size of 1 runs far slower)."""
    (g, x), (dg, dx) = args, dims
    g_rows, x_rows = _rows(g, dg), _rows(x, dx)
    if g_rows.shape[-2] == 1 and x_rows.shape[-2] == 1:
        return swapaxes(g_rows, -1, -2) * x_rows, 0
    return matmul(swapaxes(g_rows, -1, -2), x_rows), 0


_dense.declare(batch=_dense_batch)
_dense_weight_grad.declare(batch=_dense_weight_grad_batch)


def dense(x, weight, bias=None):
    """``x @ weight.T + bias`` with ``weight`` laid out (out, in), as MindSpore's ops.dense and torch's linear."""
    xs, ws = _shape_of(x), _shape_of(weight)
    if len(ws) != 2 or not xs or xs[-1] != ws[1]:
        raise ValueError(f"funcad.ops.dense: input of shape {xs} does not fit a weight of shape {ws} (expected (*, {ws[-1] if ws else '?'}))")
    return _dense(x, weight) if bias is None else _dense(x, weight, bias)


def outer(a, b):
    """Outer product of the flattened inputs (numpy.outer)."""
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def _tensordot_axes(axes, nda: int, ndb: int) -> tuple[tuple, tuple]:
    if isinstance(axes, int):
        if axes < 0 or axes > min(nda, ndb):
            raise ValueError(f"funcad.ops.tensordot: axes={axes} is out of range for inputs with {nda} and {ndb} dimensions")
        return tuple(range(nda - axes, nda)), tuple(range(axes))
    a_axes, b_axes = axes
    a_axes = (a_axes,) if isinstance(a_axes, int) else tuple(a_axes)
    b_axes = (b_axes,) if isinstance(b_axes, int) else tuple(b_axes)
    if len(a_axes) != len(b_axes):
        raise ValueError(f"funcad.ops.tensordot: axes {a_axes} and {b_axes} differ in length")
    return tuple(ax % nda for ax in a_axes), tuple(ax % ndb for ax in b_axes)


def tensordot(a, b, axes=2):
    """Sum products over ``axes`` (numpy.tensordot), as transpose + reshape + matmul so every order differentiates."""
    sa, sb = _shape_of(a), _shape_of(b)
    a_axes, b_axes = _tensordot_axes(axes, len(sa), len(sb))
    for i, j in zip(a_axes, b_axes):
        if sa[i] != sb[j]:
            raise ValueError(f"funcad.ops.tensordot: shapes {sa} and {sb} do not match on axes {a_axes} and {b_axes}")
    a_free = tuple(i for i in range(len(sa)) if i not in a_axes)
    b_free = tuple(i for i in range(len(sb)) if i not in b_axes)
    contracted = int(np.prod([sa[i] for i in a_axes]))
    a2 = reshape(transpose(a, a_free + a_axes), (int(np.prod([sa[i] for i in a_free])), contracted))
    b2 = reshape(transpose(b, b_axes + b_free), (contracted, int(np.prod([sb[i] for i in b_free]))))
    return reshape(matmul(a2, b2), tuple(sa[i] for i in a_free) + tuple(sb[i] for i in b_free))


def dot(a, b):
    """numpy.dot: scalars multiply, 1-D and 2-D inputs matmul, N-D contracts a's last axis with b's second to last."""
    sa, sb = _shape_of(a), _shape_of(b)
    if not sa or not sb:
        return a * b
    if len(sa) <= 2 and len(sb) <= 2:
        if sa[-1] != sb[0]:
            raise ValueError(f"funcad.ops.dot: shapes {sa} and {sb} are not aligned")
        return matmul(a, b)
    return tensordot(a, b, ((len(sa) - 1,), (max(len(sb) - 2, 0),)))


# -- einsum --------------------------------------------------------------------------------------
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _explicit_spec(subscripts: str, shapes: list) -> tuple[list, str]:
    """Rewrite an einsum spec without ellipses or implicit output: (input subscripts, output subscripts)."""
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"funcad.ops.einsum: spec {subscripts!r} names {len(inputs)} operands, got {len(shapes)}")
    unused = [c for c in _LETTERS if c not in spec]
    ell_ndim = max((len(s) - len(sub.replace("...", "")) for sub, s in zip(inputs, shapes) if "..." in sub), default=0)
    ell = "".join(unused[:ell_ndim])
    explicit = []
    for sub, shape in zip(inputs, shapes):
        if "..." in sub:
            n = len(shape) - len(sub.replace("...", ""))
            sub = sub.replace("...", ell[ell_ndim - n :] if n else "")
        if len(sub) != len(shape):
            raise ValueError(f"funcad.ops.einsum: subscripts {sub!r} do not fit an operand of shape {tuple(shape)}")
        explicit.append(sub)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = {c: lhs.count(c) for c in set(lhs.replace("...", "").replace(",", ""))}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    return explicit, out


@primitive(**compiled_as_call(torch=lambda torch, *operands, spec: torch.einsum(spec, *operands)))
def _einsum(*operands, spec):
    return np.einsum(spec, *operands, optimize=len(operands) > 2)


def _einsum_operand_grad(i, g, ans, *operands, spec):
    """Operand i's cotangent: an einsum of the output's cotangent with the other operands."""
    lhs, out = spec.split("->")
    subs = lhs.split(",")
    target = list(subs[i])
    # A letter repeated in one operand (a diagonal) gets a fresh name per extra use, tied back by identity matrices.
    fresh = iter(c for c in _LETTERS if c not in spec)
    eyes, eye_subs, seen = [], [], set()
    for k, c in enumerate(target):
        if c in seen:
            target[k] = next(fresh)
            eyes.append(Tensor._wrap(np.eye(_shape_of(operands[i])[k], dtype=g.dtype)))
            eye_subs.append(c + target[k])
        seen.add(c)
    others = [s for j, s in enumerate(subs) if j != i]
    available = set(out + "".join(others) + "".join(eye_subs))
    kept = "".join(c for c in target if c in available)
    args = [g, *(o for j, o in enumerate(operands) if j != i), *eyes]
    gi = _einsum(*args, spec=",".join([out, *others, *eye_subs]) + "->" + kept)
    shape = _shape_of(operands[i])
    if len(kept) != len(target):  # letters summed only inside operand i: their gradient is broadcast
        gi = broadcast_to(reshape(gi, tuple(n if c in available else 1 for c, n in zip(target, shape))), shape)
    return gi


def _einsum_operand_tangent(i, t, ans, *operands, spec):
    return _einsum(*(t if j == i else o for j, o in enumerate(operands)), spec=spec)


_einsum.defvariadic(_einsum_operand_grad, _einsum_operand_tangent)


def _einsum_batch(args, dims, /, spec):
    """The batch gets a letter of its own, leading every batched operand and the output."""
    lhs, out = spec.split("->")
    letter = next(c for c in _LETTERS if c not in spec)
    operands = [x if d is None else move_axis(x, d, 0) for x, d in zip(args, dims)]
    spec = ",".join(sub if d is None else letter + sub for sub, d in zip(lhs.split(","), dims)) + "->" + letter + out
    return _einsum(*operands, spec=spec), 0


_einsum.declare(batch=_einsum_batch)


def einsum(subscripts: str, *operands):
    """numpy.einsum (ellipses, implicit output and broadcasting of size-1 axes included), differentiable to any order."""
    shapes = [_shape_of(o) for o in operands]
    subs, out = _explicit_spec(subscripts, shapes)
    sizes: dict = {}
    for sub, shape in zip(subs, shapes):
        for c, n in zip(sub, shape):
            if sizes.get(c, 1) != 1 and n not in (1, sizes[c]):
                raise ValueError(f"funcad.ops.einsum: index {c!r} has sizes {sizes[c]} and {n} (operand shapes {shapes})")
            sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
    # Broadcast size-1 axes up front, so the primitive (and every gradient einsum) sees matching sizes.
    operands = [o if all(sizes[c] == n for c, n in zip(sub, shape)) else broadcast_to(o, tuple(sizes[c] for c in sub))
                for o, sub, shape in zip(operands, subs, shapes)]
    return _einsum(*operands, spec=",".join(subs) + "->" + out)


def batch_dot(x1, x2, axes=None):
    """MindSpore's batch_dot: per batch member (axis 0 of both), x1 and x2 contracted over one axis each, ``axes`` an
    int (the same for both), a pair, or None (x1's last with x2's last when x2 is 2-D, else its second last). The
    result keeps x1's other axes, then x2's; two 2-D inputs give shape (batch, 1), as MindSpore's."""
    s1, s2 = _shape_of(x1), _shape_of(x2)
    if len(s1) < 2 or len(s2) < 2 or s1[0] != s2[0]:
        raise ValueError(f"funcad.ops.batch_dot: expected inputs of rank >= 2 with one batch size, got shapes {s1} and {s2}")
    if axes is None:
        axes = (len(s1) - 1, len(s2) - 1 if len(s2) == 2 else len(s2) - 2)
    a1, a2 = (axes, axes) if isinstance(axes, int) else tuple(axes)
    a1, a2 = a1 % len(s1), a2 % len(s2)
    if 0 in (a1, a2) or s1[a1] != s2[a2]:
        raise ValueError(f"funcad.ops.batch_dot: axes {axes} must name one non-batch axis of each input, of one size; shapes {s1} and {s2}")
    letters = "abcdefghijklmnopqrstuvwxyz"
    left = "A" + letters[: len(s1) - 1]
    right = "A" + letters[len(s1) - 1 : len(s1) + len(s2) - 2]
    right = right[:a2] + left[a1] + right[a2 + 1 :]
    kept = [c for c in left if c != left[a1]] + [c for c in right[1:] if c != left[a1]]
    out = einsum(f"{left},{right}->{''.join(kept)}", x1, x2)
    return reshape(out, (s1[0], 1)) if len(s1) == len(s2) == 2 else out
