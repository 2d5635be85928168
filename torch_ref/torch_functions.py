"""torch functions and ``Tensor`` methods whose arguments differ from their funcad op's: each an adapter called with
torch's arguments (already funcad values; ``dim``/``keepdim`` keywords renamed ``axis``/``keepdims`` by
``torch_ref.from_torch``) that calls funcad ops.

They cover what models write in ``forward`` besides layers: convolutions and pools by function, losses, the
activations of ``torch.nn.functional``, creation (``torch.zeros(n, m)``), reductions returning (values, indices),
``split`` by chunk size, ``expand`` and the dtype conversions. A torch option funcad has no counterpart for is a
``NotImplementedError`` naming it.
"""

from __future__ import annotations

import builtins
import collections
import numbers

import numpy as np
import torch
import torch.nn.functional as F
import torch.nn.utils.rnn as torch_rnn

from funcad import nn, ops
from funcad.core.dtypes import DType
from funcad.core.tensor import Tensor
from funcad.nn.layer.conv import same_padding
from funcad.ops.decompositions import solve
from torch_ref import dropout as aligned
from torch_ref import layers_3d, layers_more, losses_norms, order_and_grids, packed
from torch_ref.arrays import any_numpy_dtype as _dtype
from torch_ref.arrays import sizes as _sizes

MinMax = collections.namedtuple("MinMax", ["values", "indices"])


def _refuse(function: str, option: str, value) -> None:
    raise NotImplementedError(f"{function}: {option}={value!r} has no funcad translation")


def _conv_padding(padding, input, weight, dilation, spatial: int):
    """torch's ``padding`` (an int, per-axis ints, 'valid' or 'same') as funcad's (before, after) pairs, flattened.
    torch's 'same' (stride 1 only) splits as MindSpore's does: ``funcad.nn.layer.conv.same_padding``."""
    if padding == "valid":
        return (0,) * (2 * spatial)
    if padding == "same":
        dilations = (dilation,) * spatial if isinstance(dilation, int) else tuple(dilation)
        return same_padding(tuple(input.shape[2:]), tuple(weight.shape[2:]), (1,) * spatial, dilations)
    pads = (padding,) * spatial if isinstance(padding, int) else tuple(padding)
    return tuple(p for pad in pads for p in (pad, pad))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002 - torch's names
    return ops.conv2d(input, weight, bias, stride, _conv_padding(padding, input, weight, dilation, 2), dilation, groups)


def _pair(value) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, numbers.Integral) else tuple(int(v) for v in value)


def _single(value) -> int:
    return int(value[0] if isinstance(value, (tuple, list)) else value)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    dilation = _single(dilation)
    return ops.conv1d(input, weight, bias, _single(stride), _conv_padding(padding, input, weight, dilation, 1), dilation, groups)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):  # noqa: A002
    return ops.max_pool2d(input, kernel_size, stride or kernel_size, padding, dilation, return_indices=return_indices, ceil_mode=ceil_mode)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):  # noqa: A002
    if divisor_override is not None:
        _refuse("torch.nn.functional.avg_pool2d", "divisor_override", divisor_override)
    if ceil_mode:
        return nn.AvgPool2d(kernel_size, stride or kernel_size, "pad", padding, ceil_mode=True, count_include_pad=count_include_pad)(input)
    return ops.avg_pool2d(input, kernel_size, stride or kernel_size, padding, count_include_pad=count_include_pad)


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    sizes = (output_size, output_size) if isinstance(output_size, int) or output_size is None else tuple(output_size)
    return ops.adaptive_avg_pool2d(input, tuple(input.shape[2 + i] if s is None else int(s) for i, s in enumerate(sizes)))


def _on_rows(pool2d, input, *args):  # noqa: A002
    """A 2-D pool run on (N, C, 1, L) planes: torch's 1-D pools by function (and their indices)."""
    result = pool2d(ops.expand_dims(input, 2), *args)
    return tuple(ops.squeeze(r, 2) for r in result) if isinstance(result, tuple) else ops.squeeze(result, 2)


def _row_window(value) -> tuple:
    """A 1-D pool's size (an int or a 1-tuple) as the window (1, size) over planes of height 1."""
    return (1, _single(value))


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):  # noqa: A002
    return _on_rows(max_pool2d, input, _row_window(kernel_size), _row_window(stride or kernel_size), (0, _single(padding)),
                    _row_window(dilation), ceil_mode, return_indices)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):  # noqa: A002
    return _on_rows(avg_pool2d, input, _row_window(kernel_size), _row_window(stride or kernel_size), (0, _single(padding)),
                    ceil_mode, count_include_pad)


def adaptive_avg_pool1d(input, output_size):  # noqa: A002
    return _on_rows(ops.adaptive_avg_pool2d, input, _row_window(output_size))


def adaptive_max_pool2d(input, output_size, return_indices=False):  # noqa: A002
    if return_indices:
        _refuse("torch.nn.functional.adaptive_max_pool2d", "return_indices", return_indices)
    return ops.adaptive_max_pool2d(input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices=False):  # noqa: A002
    if return_indices:
        _refuse("torch.nn.functional.adaptive_max_pool1d", "return_indices", return_indices)
    return _on_rows(ops.adaptive_max_pool2d, input, _row_window(output_size))


# torch's definition of a transposed convolution: the adjoint of the convolution whose input has its output size
conv_transpose2d = layers_3d.transposed_convolution(ops.conv2d, 2, "conv_transpose2d")


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):  # noqa: A002
    y = conv_transpose2d(ops.expand_dims(input, 2), ops.expand_dims(weight, 2), bias, (1, _single(stride)), (0, _single(padding)),
                         (0, _single(output_padding)), groups, (1, _single(dilation)))
    return ops.squeeze(y, 2)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True, momentum=0.1,  # noqa: A002
                  eps=1e-5):
    """Each sample's channels normalised over their positions: group normalisation with one channel per group."""
    if running_mean is not None or running_var is not None or not use_input_stats:
        _refuse("torch.nn.functional.instance_norm", "running statistics", (running_mean is not None, use_input_stats))
    return ops.group_norm(input, input.shape[1], weight, bias, eps)


def dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002
    return ops.dropout(input, p, training) if training and p > 0 else input


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,  # noqa: A002
                antialias=False):
    if antialias:
        _refuse("torch.nn.functional.interpolate", "antialias", antialias)
    return ops.interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor)


def normalize(input, p=2.0, axis=1, eps=1e-12, out=None):  # noqa: A002 - torch's 'dim' arrives renamed
    """x / max(||x||_p along axis, eps)."""
    return input / ops.maximum(ops.norm(input, p, axis, keepdims=True), eps)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """softmax(q k^T * scale + mask) v over the last two axes; a boolean mask keeps the True places, a float mask adds.
    ``dropout_p`` drops the weights (torch applies it whatever the mode: a forward passes 0 outside training)."""
    if enable_gqa:
        _refuse("torch.nn.functional.scaled_dot_product_attention", "enable_gqa", enable_gqa)
    length, source = query.shape[-2], key.shape[-2]
    scores = ops.matmul(query, ops.swapaxes(key, -1, -2)) * (1.0 / float(np.sqrt(query.shape[-1])) if scale is None else scale)
    if is_causal:
        scores = ops.masked_fill(scores, ~np.tril(np.ones((length, source), bool)), -np.inf)
    if attn_mask is not None:
        scores = ops.masked_fill(scores, ops.logical_not(attn_mask), -np.inf) if np.dtype(attn_mask.dtype) == np.bool_ else scores + attn_mask
    weights = ops.softmax(scores, -1)
    return ops.matmul(ops.dropout(weights, dropout_p) if dropout_p else weights, value)


def _loss(op, *, weights: bool = False):
    """A torch loss taking the deprecated size_average/reduce before ``reduction`` (refused unless None)."""
    def translated(input, target, *args, size_average=None, reduce=None, reduction="mean", **kwargs):  # noqa: A002
        if size_average is not None or reduce is not None:
            _refuse(f"torch.nn.functional.{op.__name__}", "size_average/reduce", (size_average, reduce))
        if weights and args:
            kwargs["weight"], args = args[0], args[1:]
        if args:
            raise TypeError(f"torch.nn.functional.{op.__name__}: pass the options after target by keyword")
        return op(input, target, reduction=reduction, **{k: v for k, v in kwargs.items() if v is not None})
    return translated


def _legacy_free(op):
    """A torch loss called with its deprecated size_average/reduce (None, or refused), the rest as funcad's op takes it."""
    def translated(*args, size_average=None, reduce=None, **kwargs):
        if size_average is not None or reduce is not None:
            _refuse(f"torch.nn.functional.{op.__name__}", "size_average/reduce", (size_average, reduce))
        return op(*args, **kwargs)
    return translated


def _normalised(op, name: str):
    """torch's softmax / log_softmax, whose ``dtype`` casts the input first (attention code asks for float32 this way)."""
    def translated(input, axis=None, _stacklevel=3, dtype=None):  # noqa: A002
        if axis is None:
            raise NotImplementedError(f"torch.nn.functional.{name}: pass dim (the implicit choice is deprecated in torch)")
        return op(input if dtype is None else ops.cast(input, _dtype(dtype)), axis)
    return translated


def one_hot(tensor, num_classes=-1):
    return ops.one_hot(tensor, num_classes, dtype=np.int64)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):  # noqa: A002
    if max_norm is not None or scale_grad_by_freq or sparse:
        _refuse("torch.nn.functional.embedding", "max_norm/scale_grad_by_freq/sparse", (max_norm, scale_grad_by_freq, sparse))
    return ops.embedding(input, weight, padding_idx)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, mode="mean",  # noqa: A002
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """torch's bags of embeddings (``nn.EmbeddingBag``, the text classification tutorial's ``embedding(text, offsets)``):
    each bag's rows summed, averaged or maximised, written with funcad ops so gradients reach ``weight`` and
    ``per_sample_weights``. A bag is a row of a 2-D ``input``, or a run of a 1-D one from its offset to the next; a
    bag with no rows (padding only, or empty) is zeros, as torch's."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        _refuse("torch.nn.functional.embedding_bag", "max_norm/scale_grad_by_freq/sparse", (max_norm, scale_grad_by_freq, sparse))
    if mode not in ("sum", "mean", "max"):
        _refuse("torch.nn.functional.embedding_bag", "mode", mode)
    shape = tuple(input.shape)
    if len(shape) == 2:
        if offsets is not None:
            raise ValueError("torch.nn.functional.embedding_bag: offsets must be None for a 2-D input (each row is a bag)")
        starts, ends = ops.arange(0, shape[0] * shape[1], shape[1]), ops.arange(shape[1], shape[0] * shape[1] + 1, shape[1])
        input = ops.reshape(input, (-1,))  # noqa: A001
        per_sample_weights = None if per_sample_weights is None else ops.reshape(per_sample_weights, (-1,))
    else:
        if offsets is None:
            raise ValueError("torch.nn.functional.embedding_bag: a 1-D input needs offsets")
        total = ops.full((1,), shape[0], dtype=np.int64)
        bounds = ops.cast(offsets, np.int64) if include_last_offset else ops.concat((ops.cast(offsets, np.int64), total))
        starts, ends = bounds[:-1], bounds[1:]
    positions = ops.arange(0, tuple(input.shape)[0])[None, :]
    member = ops.logical_and(positions >= starts[:, None], positions < ends[:, None])  # (bags, rows)
    if padding_idx is not None:
        member = ops.logical_and(member, (input != padding_idx)[None, :])
    rows = ops.embedding(input, weight, padding_idx)
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError(f"torch.nn.functional.embedding_bag: per_sample_weights needs mode='sum', got {mode!r}")
        rows = rows * per_sample_weights[:, None]
    share = ops.cast(member, rows.dtype)
    counts = ops.sum(share, 1, keepdims=True)
    if mode == "max":
        blocked = ops.full((), float("-inf"), dtype=rows.dtype)
        best = ops.amax(ops.where(member[:, :, None], rows[None], blocked), 1)
        return ops.where(counts > 0, best, ops.zeros_like(best))
    summed = ops.matmul(share, rows)
    return summed if mode == "sum" else summed / ops.maximum(counts, ops.ones_like(counts))


def creation(op):
    """torch.zeros/ones(*size, dtype=None, ...): device, layout and requires_grad do not change the values."""
    def translated(*size, dtype=None, out=None, layout=None, device=None, requires_grad=False, pin_memory=False):
        return op(_sizes(size), dtype=_dtype(dtype) or np.float32)
    return translated


def full(size, fill_value, dtype=None, layout=None, device=None, requires_grad=False, out=None, pin_memory=False):
    return ops.full(_sizes((size,)), fill_value, dtype=_dtype(dtype))


def arange(start, end=None, step=1, dtype=None, layout=None, device=None, requires_grad=False, out=None, pin_memory=False):
    if dtype is None and all(isinstance(v, numbers.Integral) for v in (start, end or 0, step)):
        dtype = np.int64  # torch's integer ranges are int64
    return ops.arange(start, end, step, dtype=_dtype(dtype))


def like(op):
    """torch.zeros_like/ones_like(input, dtype=None, ...)."""
    def translated(input, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
        return op(input, dtype=_dtype(dtype))
    return translated


def full_like(input, fill_value, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
    return ops.full_like(input, fill_value, dtype=_dtype(dtype))


def extremum(reduce, pairwise, indices):
    """torch.max/min: of everything, (values, indices) along ``dim``, or elementwise against another tensor."""
    def translated(input, axis=None, keepdims=False, other=None):  # noqa: A002
        if axis is not None and not isinstance(axis, int):
            return pairwise(input, axis)
        if axis is None:
            return reduce(input) if other is None else pairwise(input, other)
        index = indices(input, axis=axis)
        if keepdims:
            index = ops.expand_dims(index, axis)
        return MinMax(reduce(input, axis=axis, keepdims=keepdims), ops.cast(index, np.int64))
    return translated


def spread(op):
    """torch.var/std(input, dim=None, unbiased=True, keepdim=False, *, correction=None): Bessel-corrected by default."""
    def translated(input, axis=None, unbiased=None, keepdims=False, *, correction=None):  # noqa: A002
        if isinstance(axis, bool):  # var(x, False): the second positional argument is unbiased
            axis, unbiased = None, axis
        ddof = correction if correction is not None else 0 if unbiased is False else 1
        return op(input, axis=None if axis is None else axis if isinstance(axis, int) else tuple(axis), ddof=int(ddof), keepdims=keepdims)
    return translated


def split(tensor, split_size_or_sections, axis=0):
    """torch's split: pieces of ``split_size`` along ``axis`` (the last smaller), or of the listed sizes."""
    return ops.split(tensor, split_size_or_sections if isinstance(split_size_or_sections, int) else [int(c) for c in split_size_or_sections], axis)


def expand(tensor, *sizes):
    """Broadcast to ``sizes``; -1 keeps an axis."""
    sizes = _sizes(sizes)
    lead = len(sizes) - len(tensor.shape)
    return ops.broadcast_to(tensor, tuple(tensor.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes)))


def to(tensor, *args, **kwargs):
    """``x.to(dtype)``, ``x.to(other)``, ``x.to(y.dtype)`` (in the twin a funcad dtype); a device or copy option changes
    nothing here."""
    target = kwargs.get("dtype", next((a for a in args if isinstance(a, (torch.dtype, Tensor, np.dtype, DType))), None))
    if target is None:
        return tensor
    return ops.cast(tensor, target.dtype if isinstance(target, Tensor) else _dtype(target))


def cast_to(dtype):
    return lambda tensor, *args, **kwargs: ops.cast(tensor, dtype)


def squeeze(input, axis=None):  # noqa: A002
    """torch's squeeze: an axis of another size than 1 stays (funcad's, as numpy's, refuses it)."""
    if axis is not None and input.shape[axis] != 1:
        return input
    return ops.squeeze(input, axis)


def einsum(equation, *operands):
    return ops.einsum(equation, *(operands[0] if len(operands) == 1 and isinstance(operands[0], (list, tuple)) else operands))


def topk(input, k, axis=-1, largest=True, sorted=True):  # noqa: A002
    values, indices = ops.topk(input, k, axis, largest, sorted)
    return MinMax(values, ops.cast(indices, np.int64))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):  # noqa: A002
    """F.batch_norm; while training, the running statistics given (Parameters of the traced Cell) are updated in place."""
    updates = training and running_mean is not None and running_var is not None
    if updates and momentum is None:
        _refuse("torch.nn.functional.batch_norm", "momentum", None)
    return ops.batch_norm(input, running_mean, running_var, weight, bias, training, momentum or 0.0, eps)


def sort(input, axis=-1, descending=False, stable=False):  # noqa: A002
    values, indices = ops.sort(input, axis, descending)
    return MinMax(values, ops.cast(indices, np.int64))


def argsort(input, axis=-1, descending=False, stable=False):  # noqa: A002
    return ops.cast(ops.argsort(input, axis, descending), np.int64)


def flip(input, *axes):  # noqa: A002
    """torch.flip(x, dims) and x.flip(*dims): dims renamed axes."""
    return ops.flip(input, _sizes(axes))


def new_tensor(op):
    """Tensor.new_zeros/new_ones(size, dtype=None, ...): the tensor's own dtype unless one is given."""
    def translated(tensor, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
        return op(_sizes(size), dtype=_dtype(dtype) or tensor.dtype)
    return translated


def new_full(tensor, size, fill_value, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    return ops.full(_sizes((size,)), fill_value, dtype=_dtype(dtype) or tensor.dtype)


def scatter(input, axis, index, src=None, value=None, reduce=None):  # noqa: A002
    """torch.scatter(input, dim, index, src | value): a value fills the indexed positions."""
    if reduce is not None:
        _refuse("torch.scatter", "reduce", reduce)
    if src is None or isinstance(src, numbers.Number):  # x.scatter(dim, index, 1.0): a number is the value
        src = ops.full(tuple(index.shape), value if src is None else src, dtype=input.dtype)
    return ops.tensor_scatter_elements(input, index, src, axis)


def scatter_add(input, axis, index, src):  # noqa: A002
    return ops.tensor_scatter_elements(input, index, src, axis, "add")


def scatter_reduce(input, axis, index, src, reduce, *, include_self=True, out=None):  # noqa: A002
    """torch.scatter_reduce with reduce 'sum' or 'mean' (a graph's mean aggregation): the sources summed into their
    positions, a position reached by none keeping its value; 'mean' divides by the count of values summed there (the
    position's own included with ``include_self``)."""
    if reduce not in ("sum", "mean"):
        _refuse("torch.scatter_reduce", "reduce", reduce)
    src = src[tuple(slice(0, n) for n in index.shape)]
    counts = ops.tensor_scatter_elements(ops.zeros_like(input), index, ops.ones_like(src), axis, "add")
    reached = counts > 0
    base = input if include_self else ops.where(reached, ops.zeros_like(input), input)
    total = ops.tensor_scatter_elements(base, index, src, axis, "add")
    if reduce == "sum":
        return total
    return total / (counts + 1.0) if include_self else ops.where(reached, total / ops.maximum(counts, 1.0), input)


def index_add(input, axis, index, source, alpha=1):  # noqa: A002
    """torch's ``index_add(dim, index, source, alpha=1)`` (message passing's ``zeros.index_add_(0, dst, messages)``):
    MindSpore's argument order, ``source`` scaled by ``alpha``."""
    return ops.index_add(input, index, source if alpha == 1 else source * alpha, axis)


def eye(n, m=None, *, dtype=None, out=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """torch.eye(n, m=None, dtype=...): made in the graph when its dtype comes from the input (``dtype=x.dtype``)."""
    return ops.eye(int(n), None if m is None else int(m), _dtype(dtype) or np.float32)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """``nn.utils.rnn.pad_sequence``: the tensors padded along their first axis to the longest, stacked on the batch
    axis (first with ``batch_first``, else second); ``padding_side='left'`` pads before."""
    if padding_side not in ("left", "right"):
        _refuse("torch.nn.utils.rnn.pad_sequence", "padding_side", padding_side)
    sequences = list(sequences)
    longest = max(int(s.shape[0]) for s in sequences)
    padded = []
    for seq in sequences:
        extra = longest - int(seq.shape[0])
        pads = (0, 0) * (len(seq.shape) - 1) + ((extra, 0) if padding_side == "left" else (0, extra))
        padded.append(ops.pad(seq, pads, value=padding_value) if extra else seq)
    return ops.stack(padded, 0 if batch_first else 1)


def affine_grid(theta, size, align_corners=None):
    """F.affine_grid for 2-D images (a spatial transformer's sampling grid): funcad's ``ops.affine_grid``."""
    if len(tuple(size)) != 4:
        _refuse("torch.nn.functional.affine_grid", "size", tuple(size))  # 3-D (volumetric) grids
    return ops.affine_grid(theta, size, bool(align_corners))


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):  # noqa: A002
    """F.grid_sample on 2-D images (funcad's ``ops.grid_sample``): bilinear or nearest; zeros, border or reflection
    padding; gradients reach both the input and the grid, as torch's."""
    if mode not in ("bilinear", "nearest"):
        _refuse("torch.nn.functional.grid_sample", "mode", mode)
    if len(input.shape) != 4:
        _refuse("torch.nn.functional.grid_sample", "input of rank", len(input.shape))
    return ops.grid_sample(input, grid, mode, padding_mode, bool(align_corners))


def channel_dropout(spatial: int):
    """F.dropout1d/2d/3d: whole channels zeroed while training, one mask value per (sample, channel) drawn as funcad's
    ``Dropout1d/2d/3d`` draw it (the masks ``torch_ref.dropout`` aligns); the input itself in evaluation."""
    def translated(input, p=0.5, training=True, inplace=False):  # noqa: A002
        if not training or p == 0.0:
            return input
        keep = ops.dropout(ops.ones(tuple(input.shape[:-spatial]) + (1,) * spatial, input.dtype), p=p, training=True)
        return input * keep
    return translated


def alpha_dropout(name: str):
    """F.alpha_dropout / feature_alpha_dropout: the input in evaluation; torch's own draw while training has no aligned
    counterpart."""
    def translated(input, p=0.5, training=False, inplace=False):  # noqa: A002
        if training and p > 0.0:
            _refuse(f"torch.nn.functional.{name}", "training", training)
        return input
    return translated


def summed(input, axis=None, keepdims=False, *, dtype=None):  # noqa: A002
    """torch.sum / Tensor.sum(dim, keepdim, dtype=...): ``dtype`` casts the input first, as torch does."""
    return ops.sum(input if dtype is None else ops.cast(input, _dtype(dtype)), axis, keepdims)


def divide(input, other, *, rounding_mode=None, out=None):  # noqa: A002
    """torch.div(a, b, rounding_mode=None | 'trunc' | 'floor')."""
    quotient = ops.div(input, other)
    if rounding_mode is None:
        return quotient
    if rounding_mode not in ("trunc", "floor"):
        _refuse("torch.div", "rounding_mode", rounding_mode)
    return ops.floor(quotient) if rounding_mode == "floor" else ops.trunc(quotient)


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    """F.softplus: log(1 + exp(beta x)) / beta, x itself where beta x exceeds ``threshold`` (as torch's)."""
    scaled = input * beta
    smooth = ops.softplus(scaled) if beta == 1 else ops.softplus(scaled) / beta
    return ops.where(scaled > threshold, input, smooth)


def linspace(start, end, steps, *, dtype=None, out=None, layout=None, device=None, requires_grad=False):
    return ops.linspace(start, end, int(steps), dtype=_dtype(dtype) or np.float32)


def index_fill(input, axis, index, value):  # noqa: A002
    return ops.index_fill(input, axis, index, value)


SignLogAbsDet = collections.namedtuple("SignLogAbsDet", ["sign", "logabsdet"])


def slogdet(A, out=None):  # noqa: N803 - torch's name
    return SignLogAbsDet(*ops.slogdet(A))


def norm(input, p="fro", axis=None, keepdims=False, out=None, dtype=None):  # noqa: A002
    """torch.norm / Tensor.norm: without ``dim`` a p-norm of all the elements (a vector norm, unlike numpy's for 2-D)."""
    order = None if p == "fro" else p
    if axis is None and order != "nuc":
        return ops.norm(ops.reshape(input, (-1,)), ord=order, keepdims=False)
    return ops.norm(input, ord=order, axis=axis, keepdims=keepdims)


TENSOR_PLACEMENT = {"device": "cpu", "is_cuda": False, "layout": torch.strided}  # where funcad's arrays live, as torch says


TENSOR_VIEWS = {"mT": lambda t: ops.swapaxes(t, -1, -2), "mH": lambda t: ops.conj(ops.swapaxes(t, -1, -2)),
                "H": lambda t: ops.conj(ops.transpose(t))}  # torch's transposing attributes funcad's Tensor lacks


def attribute(obj, name: str, *default):
    """getattr on a traced value: torch's placement attributes of a tensor (``x.device``) say where funcad computes;
    ``x.mT`` (batched matrices transposed) and the conjugate transposes ``mH`` and ``H`` are computed."""
    if isinstance(obj, Tensor) and name in TENSOR_PLACEMENT and not hasattr(obj, name):
        return TENSOR_PLACEMENT[name]
    if isinstance(obj, Tensor) and name in TENSOR_VIEWS and not hasattr(obj, name):
        return TENSOR_VIEWS[name](obj)
    return getattr(obj, name, *default)


def constant(data, dtype=None, device=None, requires_grad=False, pin_memory=False, default_float=None):
    """``torch.tensor(data, dtype=x.dtype)`` (recorded when an argument comes from the input): a copy of ``data`` without
    gradient; no dtype gives torch's inference, floats in the default dtype (``default_float``)."""
    value = data if isinstance(data, Tensor) else Tensor(np.asarray(data))
    if dtype is None:
        kind = np.dtype(value.dtype).kind
        dtype = np.bool_ if kind == "b" else np.int64 if kind in "iu" else default_float or np.float32
    return ops.stop_gradient(ops.cast(value, _dtype(dtype)))


constant.default_float = True


def pad(input, pad, mode="constant", value=None):  # noqa: A002
    """F.pad (funcad's ``ops.pad``: MindSpore's flat padding, last axis first); a negative width crops that side, as
    torch's constant padding does (a UNet's skip trimmed to the upsampled size)."""
    widths = tuple(int(p) for p in pad)
    fill = 0.0 if value is None else value
    if mode != "constant" or min(widths, default=0) >= 0:
        return ops.pad(input, widths, mode, fill)
    padded = ops.pad(input, tuple(max(w, 0) for w in widths), mode, fill)
    rank = len(padded.shape)
    index = [slice(None)] * rank
    for i in range(len(widths) // 2):
        axis = rank - 1 - i
        index[axis] = slice(-min(widths[2 * i], 0), padded.shape[axis] + min(widths[2 * i + 1], 0))
    return padded[tuple(index)]


def vector_norm(x, ord=2, axis=None, keepdims=False, *, dtype=None, out=None):  # noqa: A002 - torch's names
    """torch.linalg.vector_norm: the p-norm of the elements over ``dim`` (all of them by default), several axes taken
    as one vector (numpy's norm of an axis pair would be a matrix norm)."""
    x = x if dtype is None else ops.cast(x, _dtype(dtype))
    shape = tuple(x.shape)
    axes = tuple(range(len(shape))) if axis is None else tuple(a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis))
    rows = ops.moveaxis(x, axes, tuple(range(len(shape) - len(axes), len(shape))))
    value = ops.norm(ops.reshape(rows, tuple(rows.shape)[: len(shape) - len(axes)] + (-1,)), ord, -1)
    return ops.reshape(value, tuple(1 if i in axes else n for i, n in enumerate(shape))) if keepdims else value


def where(condition, input=None, other=None, *, out=None):  # noqa: A002
    """torch.where(c, x, y), or torch.where(c) alone: the indices of the True elements, one vector per axis."""
    if input is None and other is None:
        return ops.nonzero(condition, as_tuple=True)
    return ops.where(condition, input, other)


def new_constant(tensor, data, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """``x.new_tensor(data)``: a copy of ``data`` in x's dtype (or ``dtype``), carrying no gradient, as torch's."""
    return ops.stop_gradient(ops.cast(data if isinstance(data, Tensor) else Tensor(np.asarray(data)), _dtype(dtype) or tensor.dtype))


def identity(tensor, *args, **kwargs):
    return tensor


def weight_norm(v, g, dim: int = 0):
    """``torch._weight_norm`` (``nn.utils.parametrizations.weight_norm``): v rescaled to the norms g, the norm taken over
    every axis but ``dim`` (the whole tensor for dim=-1)."""
    axes = None if dim == -1 else tuple(a for a in range(len(v.shape)) if a != dim % len(v.shape))
    squares = v * v if axes == () else ops.sum(v * v, axes, keepdims=axes is not None)  # 1-D v: each element its own norm
    return v * (g / ops.sqrt(squares))


def select(tensor, dim: int, index: int):
    """``x.select(dim, i)``: x[..., i, ...] at axis dim (MindSpore's ``ops.select`` is ``where``)."""
    return ops.getitem(tensor, (slice(None),) * (dim % len(tensor.shape)) + (index,))


FUNCTIONS = {
    F.conv2d: conv2d, F.conv1d: conv1d, F.max_pool2d: max_pool2d, F.avg_pool2d: avg_pool2d, torch.select: select,
    torch._weight_norm: weight_norm, F.max_pool2d_with_indices: max_pool2d, F.max_pool1d_with_indices: max_pool1d,
    F.adaptive_avg_pool2d: adaptive_avg_pool2d, F.max_pool1d: max_pool1d, F.avg_pool1d: avg_pool1d, F.adaptive_avg_pool1d: adaptive_avg_pool1d,
    F.adaptive_max_pool2d: adaptive_max_pool2d, F.adaptive_max_pool1d: adaptive_max_pool1d, F.conv_transpose2d: conv_transpose2d,
    F.conv_transpose1d: conv_transpose1d, F.group_norm: ops.group_norm, F.instance_norm: instance_norm,
    F.huber_loss: _loss(ops.huber_loss), F.dropout: dropout, F.interpolate: interpolate, F.normalize: normalize,
    F.layer_norm: ops.layer_norm, F.batch_norm: batch_norm, F.pad: pad, F.embedding: embedding, F.one_hot: one_hot,
    F.cross_entropy: _loss(ops.cross_entropy, weights=True), F.nll_loss: _loss(ops.nll_loss, weights=True),
    F.mse_loss: _loss(ops.mse_loss), F.l1_loss: _loss(ops.l1_loss), F.smooth_l1_loss: _loss(ops.smooth_l1_loss),
    F.binary_cross_entropy: _loss(ops.binary_cross_entropy, weights=True),
    F.binary_cross_entropy_with_logits: _loss(ops.binary_cross_entropy_with_logits, weights=True), F.kl_div: _loss(ops.kl_div),
    F.softmax: _normalised(ops.softmax, "softmax"), F.log_softmax: _normalised(ops.log_softmax, "log_softmax"),
    torch.softmax: _normalised(ops.softmax, "softmax"), torch.log_softmax: _normalised(ops.log_softmax, "log_softmax"),
    **{getattr(F, name): _legacy_free(getattr(ops, name)) for name in ("margin_ranking_loss", "soft_margin_loss", "hinge_embedding_loss",
                                                         "cosine_embedding_loss", "triplet_margin_loss", "multilabel_soft_margin_loss",
                                                         "poisson_nll_loss", "gaussian_nll_loss")},
    F.relu6: ops.relu6, F.hardtanh: ops.hardtanh, F.hardswish: ops.hardswish, F.hardsigmoid: ops.hardsigmoid, F.mish: ops.mish,
    F.selu: ops.selu, F.celu: ops.celu, F.logsigmoid: ops.logsigmoid, F.softsign: ops.softsign, F.softshrink: ops.softshrink,
    F.hardshrink: ops.hardshrink, F.tanhshrink: ops.tanhshrink, F.softmin: ops.softmin, F.glu: ops.glu, F.threshold: ops.threshold,
    F.prelu: ops.prelu, F.pixel_shuffle: ops.pixel_shuffle, F.pixel_unshuffle: ops.pixel_unshuffle,
    F.leaky_relu: lambda input, negative_slope=0.01: ops.leaky_relu(input, negative_slope),  # torch's default slope (MindSpore's is 0.2)
    F.scaled_dot_product_attention: scaled_dot_product_attention, F.embedding_bag: embedding_bag, F.unfold: ops.unfold, F.fold: ops.fold,
    F.cosine_similarity: lambda x1, x2, axis=1, eps=1e-8: ops.cosine_similarity(x1, x2, axis, eps),
    F.pairwise_distance: lambda x1, x2, p=2.0, eps=1e-6, keepdims=False: ops.pairwise_distance(x1, x2, p, eps, keepdims),
    torch.zeros: creation(ops.zeros), torch.ones: creation(ops.ones), torch.empty: creation(ops.zeros), torch.full: full, torch.arange: arange,
    torch.zeros_like: like(ops.zeros_like), torch.ones_like: like(ops.ones_like),
    torch.empty_like: like(ops.zeros_like), torch.full_like: full_like,
    torch.stack: ops.stack, torch.chunk: ops.chunk, torch.split: split, torch.tril: ops.tril, torch.triu: ops.triu,
    torch.unsqueeze: ops.unsqueeze, torch.squeeze: squeeze, torch.einsum: einsum, torch.bmm: ops.bmm, torch.mm: ops.mm,
    torch.outer: ops.outer, torch.gather: ops.gather_elements, torch.masked_fill: ops.masked_fill, torch.logsumexp: ops.logsumexp,
    torch.topk: topk, torch.amax: ops.amax, torch.amin: ops.amin, torch.clone: identity, torch.sign: ops.sign,
    torch.max: extremum(ops.amax, ops.maximum, ops.argmax), torch.min: extremum(ops.amin, ops.minimum, ops.argmin),
    torch.var: spread(ops.var), torch.std: spread(ops.std), builtins.getattr: attribute,
    torch_rnn.pack_padded_sequence: packed.pack_padded_sequence, torch_rnn.pad_packed_sequence: packed.pad_packed_sequence,
    torch.sort: sort, torch.argsort: argsort, torch.flip: flip, torch.std_mean: spread(ops.std_mean), torch.var_mean: spread(ops.var_mean),
    torch.special.expit: ops.sigmoid, torch.linalg.norm: ops.norm, torch.norm: norm,
    torch.clamp_min: lambda input, min: ops.clamp(input, min=min), torch.clamp_max: lambda input, max: ops.clamp(input, max=max),
    torch.roll: lambda input, shifts, axes=None: ops.roll(input, shifts, axes),
    torch.inverse: ops.inverse, torch.linalg.inv: ops.inverse, torch.det: ops.det, torch.linalg.det: ops.det, torch.slogdet: slogdet,
    torch.linalg.slogdet: slogdet, torch.linalg.cholesky: lambda A, upper=False, out=None: ops.cholesky(A, upper),
    torch.linalg.qr: lambda A, mode="reduced", out=None: ops.qr(A, mode), torch.linalg.solve: lambda A, B, left=True, out=None: solve(A, B),
    torch.cumprod: lambda input, axis, dtype=None: ops.cumprod(input, axis), torch.scatter: scatter, torch.scatter_add: scatter_add,
    torch.scatter_reduce: scatter_reduce,
    torch.logcumsumexp: lambda input, axis: ops.logcumsumexp(input, axis),
    F.dropout1d: channel_dropout(1), F.dropout2d: channel_dropout(2), F.dropout3d: channel_dropout(3),
    F.alpha_dropout: alpha_dropout("alpha_dropout"), F.feature_alpha_dropout: alpha_dropout("feature_alpha_dropout"),
    torch.sum: summed, torch.div: divide, torch.divide: divide, F.softplus: softplus, torch.linspace: linspace, torch.dot: ops.dot,
    torch.kron: ops.kron, torch.rot90: lambda input, k=1, axes=(0, 1): ops.rot90(input, k, tuple(axes)), torch.index_fill: index_fill,
    torch.tensordot: lambda a, b, axes=2, out=None: ops.tensordot(a, b, axes if isinstance(axes, int) else tuple(map(tuple, axes))),
    torch.cdist: lambda x1, x2, p=2.0, compute_mode=None: ops.cdist(x1, x2, p),
    torch.cross: lambda input, other, axis=None, out=None: ops.cross(input, other, axis),
    torch.linalg.cross: lambda input, other, axis=-1, out=None: ops.cross(input, other, axis),
    torch.index_add: index_add, torch.eye: eye, torch.tensor: constant, torch.linalg.vector_norm: vector_norm, torch.where: where,
    torch.linalg.matrix_norm: lambda A, ord="fro", axis=(-2, -1), keepdims=False, *, dtype=None, out=None: ops.norm(  # noqa: E731
        A if dtype is None else ops.cast(A, _dtype(dtype)), ord, tuple(axis), keepdims), F.affine_grid: affine_grid, F.grid_sample: grid_sample,
    torch_rnn.pad_sequence: pad_sequence, torch._C._nn.pad_sequence: pad_sequence,
    torch.cummax: lambda input, axis: MinMax(*ops.cummax(input, axis)), torch.cummin: lambda input, axis: MinMax(*ops.cummin(input, axis)),
}
FUNCTIONS.update(losses_norms.FUNCTIONS)  # CTC and multi-class margin losses, RMS and local response norms, channel shuffle
FUNCTIONS.update(layers_3d.FUNCTIONS)  # 3-D convolutions and pools
FUNCTIONS.update(order_and_grids.FUNCTIONS)  # median, kthvalue, mode, meshgrid, searchsorted, block_diag, ...
FUNCTIONS.update(aligned.FUNCTIONS)  # random draws, aligned with torch's by torch_ref.dropout
FUNCTIONS.update(layers_more.FUNCTIONS)  # LP pools, max unpooling, rrelu

def windows(tensor, dimension: int, size: int, step: int):
    """``Tensor.unfold(dimension, size, step)``: every window of ``size`` along ``dimension``, ``step`` apart, as a new
    axis in its place, the window's elements along a new last axis (patches of an image: x.unfold(2, p, p))."""
    shape = tuple(tensor.shape)
    axis = dimension % len(shape)
    count = (shape[axis] - size) // step + 1
    if size < 1 or step < 1 or count < 1:
        raise ValueError(f"Tensor.unfold: windows of size {size} and step {step} do not fit dimension {dimension} of shape {shape}")
    starts = np.arange(count)[:, None] * step + np.arange(size)
    picked = ops.getitem(tensor, (slice(None),) * axis + (starts,))
    return ops.moveaxis(picked, axis + 1, -1)


def filled(tensor, value):
    """``x.fill_(v)`` / ``x.copy_(src)``: ``value`` (a number or a tensor broadcast to x's shape) in x's dtype, rebound as x."""
    return ops.broadcast_to(ops.cast(value if isinstance(value, Tensor) else np.asarray(value), tensor.dtype), tuple(tensor.shape))


METHODS = {
    "__setitem__": ops._updated_at,  # x[index] = value: the functional update, rebound as an in-place method's result
    "zero_": lambda tensor: ops.zeros_like(tensor), "fill_": filled, "copy_": filled,  # in-place only (``in_place``)
    "select": select,
    "unfold": windows,
    "contiguous": identity, "clone": identity, "cpu": identity, "chunk": ops.chunk, "split": split, "unsqueeze": ops.unsqueeze, "squeeze": squeeze,
    "expand": expand, "expand_as": lambda tensor, other: ops.broadcast_to(tensor, tuple(other.shape)), "masked_fill": ops.masked_fill,
    "to": to, "type_as": lambda tensor, other: ops.cast(tensor, other.dtype), "float": cast_to(np.float32), "double": cast_to(np.float64),
    "half": cast_to(np.float16), "long": cast_to(np.int64), "int": cast_to(np.int32), "bool": cast_to(np.bool_),
    "max": FUNCTIONS[torch.max], "min": FUNCTIONS[torch.min], "amax": ops.amax, "amin": ops.amin, "var": FUNCTIONS[torch.var],
    "std": FUNCTIONS[torch.std], "repeat": lambda tensor, *sizes: ops.tile(tensor, _sizes(sizes)), "t": lambda tensor: ops.transpose(tensor),
    "tril": ops.tril, "triu": ops.triu, "gather": ops.gather_elements, "topk": topk, "index_select": ops.index_select,
    "unbind": lambda tensor, axis=0: ops.unstack(tensor, axis), "dim": lambda tensor: len(tensor.shape),
    "numel": lambda tensor: int(np.prod(tensor.shape)), "logsumexp": ops.logsumexp, "bmm": ops.bmm, "norm": norm,
    "sort": sort, "argsort": argsort, "flip": flip, "roll": FUNCTIONS[torch.roll], "cumprod": FUNCTIONS[torch.cumprod],
    "softmax": FUNCTIONS[F.softmax], "log_softmax": FUNCTIONS[F.log_softmax],
    "logcumsumexp": FUNCTIONS[torch.logcumsumexp], "cummax": FUNCTIONS[torch.cummax], "cummin": FUNCTIONS[torch.cummin],
    "type": lambda tensor, dtype: ops.cast(tensor, _dtype(dtype)), "view_as": lambda tensor, other: ops.reshape(tensor, tuple(other.shape)),
    "new_zeros": new_tensor(ops.zeros), "new_ones": new_tensor(ops.ones), "new_empty": new_tensor(ops.zeros), "new_full": new_full,
    "new_tensor": new_constant,
    "scatter": scatter, "scatter_add": scatter_add, "scatter_reduce": scatter_reduce, "polygamma": lambda tensor, n: ops.polygamma(n, tensor),
    "clamp_min": FUNCTIONS[torch.clamp_min], "clamp_max": FUNCTIONS[torch.clamp_max], "index_add": index_add,
    "sum": summed, "div": divide, "divide": divide, "prod": ops.prod, "clip": FUNCTIONS[torch.clamp] if torch.clamp in FUNCTIONS else ops.clamp,
    "sign": ops.sign, "dot": ops.dot, "cross": FUNCTIONS[torch.cross], "index_fill": index_fill, "rot90": FUNCTIONS[torch.rot90],
}
METHODS.update(order_and_grids.METHODS)
METHODS.update(aligned.METHODS)
