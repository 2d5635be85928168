"""MindSpore's primitive classes (``ops.Sin()``, ``ops.MatMul(transpose_a=True)``, ``ops.ReduceSum(keep_dims=True)``...).

An instance holds the attributes given to its constructor and, called, applies the functional op with them;
its gradients, jit lowering and dtype rules are the functional op's. The plain ones (no attributes) are made
from a table; those with attributes are small classes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from funcad.core.base_ops import shape_of as _shape_of
from funcad.core.complex_parts import complex as _complex
from funcad.ops import (
    activation,
    activation_composites,
    aliases,
    array_utils,
    creation,
    indexing,
    linalg,
    math,
    nn,
    order_statistics,
    reduce,
    sampling,
    scatter_ops,
    shape,
    slicing,
    state,
    transcendental,
)
from funcad.scipy.special import erfc as _erfc


class PrimitiveClass:
    """Base of the classes: ``repr`` shows the name and the attributes, as MindSpore prints a primitive."""

    def __repr__(self) -> str:
        attrs = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"Prim[{type(self).__name__}]" + (f"<{attrs}>" if attrs else "")


def _plain(name: str, fn) -> type:
    """A class without attributes whose instances call ``fn``."""
    return type(name, (PrimitiveClass,), {"__call__": lambda self, *args: fn(*args),
                                          "__doc__": f"``ops.{name}()(...)``: the functional op {getattr(fn, 'name', None) or fn.__name__}."})


def _reciprocal(x):
    return math.divide(1.0, x)


def _inv(x):
    """MindSpore's Inv: 1 / x in x's dtype, so an integer x gives the truncated quotient (1, -1 or 0)."""
    if np.dtype(getattr(x, "dtype", np.float32)).kind in "iu":
        return shape.cast(transcendental.trunc(math.divide(1.0, x)), x.dtype)
    return transcendental.reciprocal(x)


def _identity(x):
    return x




def _rank(x) -> int:
    return len(_shape_of(x))


def depend(value, expr):
    """MindSpore's ``ops.depend(value, expr)``: ``value``, once ``expr`` has run (``loss = ops.depend(loss,
    self.optimizer(grads))``). MindSpore orders side effects with it; eager and traced code here run in program
    order already, so ``expr`` has run when this is called."""
    return value


def _squared_difference(x, y):
    return math.square(math.subtract(x, y))


def _divide_except(zero, x, y):
    """x / y, and 0 where ``zero`` holds (y replaced there, so neither value nor gradient sees 0/0)."""
    return math.where(zero, 0.0, math.divide(x, math.where(zero, 1.0, y)))


def _div_no_nan(x, y):
    """x / y, and 0 where y is 0."""
    return _divide_except(math.equal(y, 0), x, y)


def _xdivy(x, y):
    """MindSpore's Xdivy: x / y, and 0 where x is 0 (whatever y is)."""
    return _divide_except(math.equal(x, 0), x, y)


def _lin_space(start, stop, num: int):
    """MindSpore's LinSpace: ``num`` evenly spaced values from start to stop, both included, computed with ops of
    ``start`` and ``stop`` so that a compiled Cell may take them as inputs."""
    fractions = np.arange(int(num), dtype=np.float32) / np.float32(max(int(num) - 1, 1))
    return math.add(start, math.multiply(math.subtract(stop, start), fractions))


def _square_sum_all(x, y):
    """MindSpore's SquareSumAll: (the sum of x's squares, the sum of y's squares) of two Tensors of one shape and dtype."""
    if _shape_of(x) != _shape_of(y):
        raise ValueError(f"funcad.ops.SquareSumAll: x and y must have one shape, got {_shape_of(x)} and {_shape_of(y)}")
    if np.dtype(x.dtype) != np.dtype(y.dtype):
        raise TypeError(f"funcad.ops.SquareSumAll: x and y must have one dtype, got {x.dtype} and {y.dtype}")
    return reduce.sum(math.square(x)), reduce.sum(math.square(y))


def _fast_gelu(x):
    """MindSpore's FastGeLU: x * sigmoid(1.702 x)."""
    return math.multiply(x, math.sigmoid(math.multiply(x, 1.702)))


def _gelu_tanh(x):
    """MindSpore's GeLU primitive: the tanh approximation."""
    return activation.gelu(x, approximate="tanh")


def _eye(n: int, m: int, t):
    return creation.eye(n, m, dtype=t)


def _ones(dims, dtype=np.float32):
    return aliases.fill(dtype, (dims,) if isinstance(dims, int) else dims, 1)


def _zeros(dims, dtype=np.float32):
    return aliases.fill(dtype, (dims,) if isinstance(dims, int) else dims, 0)


_PLAIN = {
    "Sin": math.sin, "Cos": math.cos, "Tan": math.tan, "Exp": math.exp, "Log": math.log, "Log1p": math.log1p,
    "Expm1": math.expm1, "Sqrt": math.sqrt, "Rsqrt": math.rsqrt, "Square": math.square, "Abs": math.abs,
    "Neg": math.negative, "Sign": math.sign, "Tanh": math.tanh, "Sigmoid": math.sigmoid, "ReLU": math.relu,
    "Softplus": math.softplus, "Erf": math.erf, "Floor": math.floor, "Ceil": math.ceil, "Round": math.round,
    "Reciprocal": _reciprocal, "Add": math.add, "Sub": math.subtract, "Mul": math.multiply, "Div": aliases.div,
    "RealDiv": math.divide, "FloorDiv": math.floor_divide, "FloorMod": math.remainder, "Pow": math.power,
    "Maximum": math.maximum, "Minimum": math.minimum, "Equal": math.equal, "NotEqual": math.not_equal,
    "Less": math.less, "LessEqual": math.less_equal, "Greater": math.greater, "GreaterEqual": math.greater_equal,
    "LogicalAnd": math.logical_and, "LogicalOr": math.logical_or, "LogicalNot": math.logical_not,
    "IsNan": math.isnan, "IsInf": math.isinf, "IsFinite": math.isfinite, "Select": math.where,
    "Reshape": shape.reshape, "Transpose": shape.transpose, "Cast": shape.cast, "ExpandDims": shape.expand_dims,
    "Tile": shape.tile, "Flatten": shape.flatten, "GatherD": indexing.gather_elements, "BiasAdd": aliases.bias_add,
    "OnesLike": creation.ones_like, "ZerosLike": creation.zeros_like,
    "Identity": _identity, "Shape": array_utils.shape, "Size": array_utils.size, "Rank": _rank, "Depend": depend, "AddN": array_utils.addn,
    "Fill": aliases.fill, "Ones": _ones, "Zeros": _zeros, "StopGradient": shape.stop_gradient, "DType": array_utils.dtype, "Eye": _eye,
    "GatherNd": scatter_ops.gather_nd, "ScatterNd": scatter_ops.scatter_nd, "TensorScatterUpdate": scatter_ops.tensor_scatter_update,
    "TensorScatterAdd": scatter_ops.tensor_scatter_add, "TensorScatterSub": scatter_ops.tensor_scatter_sub,
    "TensorScatterMul": scatter_ops.tensor_scatter_mul, "TensorScatterDiv": scatter_ops.tensor_scatter_div,
    "TensorScatterMax": scatter_ops.tensor_scatter_max, "TensorScatterMin": scatter_ops.tensor_scatter_min,
    "UnsortedSegmentMax": scatter_ops.unsorted_segment_max, "UnsortedSegmentMin": scatter_ops.unsorted_segment_min,
    "UnsortedSegmentProd": scatter_ops.unsorted_segment_prod,
    "UnsortedSegmentSum": scatter_ops.unsorted_segment_sum, "MaskedFill": indexing.masked_fill, "MaskedSelect": scatter_ops.masked_select,
    "ReLU6": activation_composites.relu6, "HSwish": activation_composites.hardswish, "HSigmoid": activation_composites.hardsigmoid,
    "Mish": activation_composites.mish, "SeLU": activation_composites.selu, "GeLU": _gelu_tanh, "Lerp": aliases.lerp,
    "Slice": slicing.slice, "Assign": state.assign, "AssignAdd": state.assign_add, "AssignSub": state.assign_sub,
    "ACos": transcendental.acos, "Acosh": transcendental.acosh, "Asin": transcendental.asin, "Asinh": transcendental.asinh,
    "Atan": transcendental.atan, "Atan2": transcendental.atan2, "Atanh": transcendental.atanh, "Cosh": transcendental.cosh,
    "Sinh": transcendental.sinh, "Trunc": transcendental.trunc, "Inv": _inv, "Mod": transcendental.fmod,
    "TruncateMod": transcendental.fmod, "Rint": math.round, "Addcdiv": aliases.addcdiv, "Addcmul": aliases.addcmul,
    "SquaredDifference": _squared_difference, "DivNoNan": _div_no_nan, "Ger": linalg.outer, "MatrixInverse": aliases.inverse,
    "FastGeLU": _fast_gelu, "Softsign": activation_composites.softsign, "Erfc": _erfc, "Complex": _complex,
    "PReLU": activation_composites.prelu, "LinSpace": _lin_space, "Xdivy": _xdivy, "SquareSumAll": _square_sum_all,
    "Invert": array_utils.invert, "BitwiseAnd": array_utils.bitwise_and, "BitwiseOr": array_utils.bitwise_or,
    "BitwiseXor": array_utils.bitwise_xor,
}


class _Axis(PrimitiveClass):
    def __init__(self, axis: int = -1):
        self.axis = axis


class Softmax(_Axis):
    """``ops.Softmax(axis=-1)(x)``."""

    def __call__(self, x):
        return nn.softmax(x, axis=self.axis)


class LogSoftmax(_Axis):
    """``ops.LogSoftmax(axis=-1)(x)``."""

    def __call__(self, x):
        return nn.log_softmax(x, axis=self.axis)


class Concat(PrimitiveClass):
    """``ops.Concat(axis=0)((x, y, ...))``."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def __call__(self, input_x):
        return shape.concat(input_x, self.axis)


class Stack(Concat):
    """``ops.Stack(axis=0)((x, y, ...))``."""

    def __call__(self, input_x):
        return shape.stack(input_x, self.axis)


class Split(PrimitiveClass):
    """``ops.Split(axis=0, output_num=1)(x)``: equal pieces, as a tuple."""

    def __init__(self, axis: int = 0, output_num: int = 1):
        self.axis, self.output_num = axis, output_num

    def __call__(self, input_x):
        return tuple(shape.split_numpy(input_x, self.output_num, self.axis, op="ops.Split"))


class Squeeze(PrimitiveClass):
    """``ops.Squeeze(axis=())(x)``: every axis of size 1 when ``axis`` is empty."""

    def __init__(self, axis=()):
        self.axis = axis

    def __call__(self, x):
        return shape.squeeze(x, None if self.axis in ((), []) else self.axis)


class MatMul(PrimitiveClass):
    """``ops.MatMul(transpose_a=False, transpose_b=False)(a, b)`` of two matrices."""

    def __init__(self, transpose_a: bool = False, transpose_b: bool = False):
        self.transpose_a, self.transpose_b = transpose_a, transpose_b

    def __call__(self, x, y):
        x = shape.swapaxes(x, -1, -2) if self.transpose_a else x
        y = shape.swapaxes(y, -1, -2) if self.transpose_b else y
        return linalg.matmul(x, y)


class BatchMatMul(MatMul):
    """``ops.BatchMatMul(transpose_a=False, transpose_b=False)(a, b)`` of stacks of matrices."""


class _Reduce(PrimitiveClass):
    op = staticmethod(reduce.sum)

    def __init__(self, keep_dims: bool = False):
        self.keep_dims = keep_dims

    def __call__(self, x, axis=()):
        axis = None if axis in ((), []) else axis
        return self.op(x, axis=axis, keepdims=self.keep_dims)


class ReduceSum(_Reduce):
    """``ops.ReduceSum(keep_dims=False)(x, axis=())``: every axis when ``axis`` is empty."""


class ReduceMean(_Reduce):
    """``ops.ReduceMean(keep_dims=False)(x, axis=())``."""

    op = staticmethod(reduce.mean)


class ReduceMax(_Reduce):
    """``ops.ReduceMax(keep_dims=False)(x, axis=())``."""

    op = staticmethod(reduce.amax)


class ReduceMin(_Reduce):
    """``ops.ReduceMin(keep_dims=False)(x, axis=())``."""

    op = staticmethod(reduce.amin)


class ReduceProd(_Reduce):
    """``ops.ReduceProd(keep_dims=False)(x, axis=())``."""

    op = staticmethod(reduce.prod)


class ReduceAll(_Reduce):
    """``ops.ReduceAll(keep_dims=False)(x, axis=())``: whether every element is true."""

    op = staticmethod(aliases.all)


class ReduceAny(_Reduce):
    """``ops.ReduceAny(keep_dims=False)(x, axis=())``: whether any element is true."""

    op = staticmethod(aliases.any)


class Argmax(PrimitiveClass):
    """``ops.Argmax(axis=-1, output_type=int32)(x)``."""

    def __init__(self, axis: int = -1, output_type=np.int32):
        self.axis, self.output_type = axis, output_type

    def __call__(self, x):
        return shape.cast(reduce.argmax(x, self.axis), self.output_type)


class Argmin(Argmax):
    """``ops.Argmin(axis=-1, output_type=int32)(x)``."""

    def __call__(self, x):
        return shape.cast(reduce.argmin(x, self.axis), self.output_type)


class ArgMaxWithValue(PrimitiveClass):
    """``ops.ArgMaxWithValue(axis=0, keep_dims=False)(x)``: (int32 indices, the values there)."""

    pick = staticmethod(reduce.argmax)

    def __init__(self, axis: int = 0, keep_dims: bool = False):
        self.axis, self.keep_dims = axis, keep_dims

    def __call__(self, input_x):
        index = self.pick(input_x, self.axis, keepdims=True)
        values = shape.take_along_axis(input_x, index, self.axis)
        if not self.keep_dims:
            index, values = shape.squeeze(index, self.axis), shape.squeeze(values, self.axis)
        return shape.cast(index, np.int32), values


class ArgMinWithValue(ArgMaxWithValue):
    """``ops.ArgMinWithValue(axis=0, keep_dims=False)(x)``: (int32 indices, the values there)."""

    pick = staticmethod(reduce.argmin)


class Gather(PrimitiveClass):
    """``ops.Gather(batch_dims=0)(input_params, input_indices, axis)``."""

    def __init__(self, batch_dims: int = 0):
        self.batch_dims = batch_dims

    def __call__(self, input_params, input_indices, axis):
        return indexing.gather(input_params, input_indices, axis, self.batch_dims)


class TopK(PrimitiveClass):
    """``ops.TopK(sorted=True)(x, k)`` along the last axis: (values, indices)."""

    def __init__(self, sorted: bool = True):  # noqa: A002 - MindSpore's name
        self.sorted = sorted

    def __call__(self, input_x, k: int):
        return indexing.topk(input_x, k, -1, True, self.sorted)


class Sort(PrimitiveClass):
    """``ops.Sort(axis=-1, descending=False)(x)``: (values, indices)."""

    def __init__(self, axis: int = -1, descending: bool = False):
        self.axis, self.descending = axis, descending

    def __call__(self, x):
        return indexing.sort(x, self.axis, self.descending)


class Unstack(_Axis):
    """``ops.Unstack(axis=0)(x)``: the slices along ``axis``, as a tuple."""

    def __init__(self, axis: int = 0):
        super().__init__(axis)

    def __call__(self, input_x):
        return slicing.unstack(input_x, self.axis)


class BroadcastTo(PrimitiveClass):
    """``ops.BroadcastTo(shape)(x)``."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def __call__(self, input_x):
        return shape.broadcast_to(input_x, self.shape)


class Einsum(PrimitiveClass):
    """``ops.Einsum(equation)((x, y, ...))``."""

    def __init__(self, equation: str):
        self.equation = equation

    def __call__(self, operands):
        return linalg.einsum(self.equation, *operands)


class _Triangle(PrimitiveClass):
    """A triangle of the last two axes from the ``diagonal`` on (``op``, set by each subclass)."""

    op: Callable

    def __init__(self, diagonal: int = 0):
        self.diagonal = diagonal

    def __call__(self, x):
        return type(self).op(x, self.diagonal)


class Tril(_Triangle):
    """``ops.Tril(diagonal=0)(x)``: the lower triangle."""

    op = staticmethod(aliases.tril)


class Triu(_Triangle):
    """``ops.Triu(diagonal=0)(x)``: the upper triangle."""

    op = staticmethod(aliases.triu)


class _Seeded(PrimitiveClass):
    """A random draw with MindSpore's ``seed``/``seed2``: 0 and 0 draw from funcad's key (fresh numbers on every call,
    compiled programs included); other seeds start this instance's own stream, which moves on with each eager call
    (under ``funcad.jit`` the draw made while tracing is the program's)."""

    def __init__(self, seed: int = 0, seed2: int = 0):
        self.seed, self.seed2 = int(seed), int(seed2)
        self._stream = None if self.seed == self.seed2 == 0 else np.random.default_rng((self.seed, self.seed2))

    def _next_seed(self) -> int | None:
        return None if self._stream is None else int(self._stream.integers(2**63))


class StandardNormal(_Seeded):
    """``ops.StandardNormal(seed=0, seed2=0)(shape)``: float32 standard normal numbers."""

    def __call__(self, shape):
        return sampling.normal_draw(tuple(shape), np.float32, self._next_seed())


class UniformReal(_Seeded):
    """``ops.UniformReal(seed=0, seed2=0)(shape)``: float32 numbers uniform in [0, 1)."""

    def __call__(self, shape):
        return sampling.rand(tuple(shape), seed=self._next_seed())


class UniformInt(_Seeded):
    """``ops.UniformInt(seed=0, seed2=0)(shape, minval, maxval)``: int32 numbers uniform in [minval, maxval)."""

    def __call__(self, shape, minval, maxval):
        return sampling.randint(int(minval), int(maxval), tuple(shape), seed=self._next_seed(), dtype=np.int32)


class CumSum(PrimitiveClass):
    """``ops.CumSum(exclusive=False, reverse=False)(x, axis)``: running sums along ``axis``, from the end with
    ``reverse``, each leaving out its own element with ``exclusive``; in x's dtype (int8 stays int8, as MindSpore)."""

    running = staticmethod(reduce.cumsum)
    identity = 0

    def __init__(self, exclusive: bool = False, reverse: bool = False):
        self.exclusive, self.reverse = bool(exclusive), bool(reverse)

    def __call__(self, x, axis: int):
        x = x if hasattr(x, "dtype") else np.asarray(x)
        dtype, rank = x.dtype, len(_shape_of(x))
        axis = axis % max(rank, 1)
        x = shape.flip(x, axis) if self.reverse else x
        if self.exclusive:  # shifted by one, the identity in front: exact, where running(x) - x would round
            head = creation.full(_shape_of(x)[:axis] + (1,) + _shape_of(x)[axis + 1:], self.identity, dtype=dtype)
            x = shape.concat([head, shape.getitem(x, (slice(None),) * axis + (slice(0, -1),))], axis)
        out = shape.cast(self.running(x, axis), dtype)
        return shape.flip(out, axis) if self.reverse else out


class CumProd(CumSum):
    """``ops.CumProd(exclusive=False, reverse=False)(x, axis)``: running products, with CumSum's options."""

    running = staticmethod(aliases.cumprod)
    identity = 1


class _Reduction(PrimitiveClass):
    """A loss primitive reduced by ``reduction``: 'none', 'mean' or 'sum' (the functional op checks it)."""

    def __init__(self, reduction: str = "mean"):
        self.reduction = reduction


class KLDivLoss(_Reduction):
    """``ops.KLDivLoss(reduction='mean')(logits, labels)``: ``ops.kl_div`` ('batchmean' too)."""

    def __call__(self, logits, labels):
        return nn.kl_div(logits, labels, self.reduction)


class BinaryCrossEntropy(_Reduction):
    """``ops.BinaryCrossEntropy(reduction='mean')(logits, labels, weight=None)`` of probabilities."""

    def __call__(self, logits, labels, weight=None):
        return nn.binary_cross_entropy(logits, labels, weight, self.reduction)


class BCEWithLogitsLoss(_Reduction):
    """``ops.BCEWithLogitsLoss(reduction='mean')(logits, label, weight, pos_weight)``."""

    def __call__(self, logits, label, weight=None, pos_weight=None):
        return nn.binary_cross_entropy_with_logits(logits, label, weight, pos_weight, self.reduction)


class NLLLoss(_Reduction):
    """``ops.NLLLoss(reduction='mean', ignore_index=-100)(logits, labels, weight)``: (the loss, the total weight of
    the labels not ignored, which 'mean' divides by)."""

    def __init__(self, reduction: str = "mean", ignore_index: int = -100):
        super().__init__(reduction)
        self.ignore_index = int(ignore_index)

    def __call__(self, logits, labels, weight):
        loss = nn.nll_loss(logits, labels, weight, self.ignore_index, self.reduction)
        kept = math.not_equal(labels, self.ignore_index)
        picked = indexing.gather(weight, math.where(kept, labels, 0), 0)
        return loss, reduce.sum(math.where(kept, picked, 0.0))


class _Shrink(PrimitiveClass):
    op: Callable

    def __init__(self, lambd: float = 0.5):
        self.lambd = float(lambd)

    def __call__(self, input_x):
        return type(self).op(input_x, self.lambd)


class SoftShrink(_Shrink):
    """``ops.SoftShrink(lambd=0.5)(x)``: x - lambd above lambd, x + lambd below -lambd, 0 between."""

    op = staticmethod(activation_composites.softshrink)


class HShrink(_Shrink):
    """``ops.HShrink(lambd=0.5)(x)``: x where |x| > lambd, 0 elsewhere."""

    op = staticmethod(activation_composites.hardshrink)


class CeLU(PrimitiveClass):
    """``ops.CeLU(alpha=1.0)(x)``."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = float(alpha)

    def __call__(self, input_x):
        return activation_composites.celu(input_x, self.alpha)


class Range(PrimitiveClass):
    """``ops.Range(maxlen=1000000)(start, limit, delta)``: [start, limit) in steps of ``delta``."""

    def __init__(self, maxlen: int = 1000000):
        self.maxlen = int(maxlen)

    def __call__(self, start, limit, delta):
        return creation.arange(*(float(v) if isinstance(v, float) else v for v in (start, limit, delta)))


class StridedSlice(PrimitiveClass):
    """``ops.StridedSlice(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0)(x, begin, end,
    strides)``: ``funcad.ops.strided_slice``."""

    def __init__(self, begin_mask: int = 0, end_mask: int = 0, ellipsis_mask: int = 0, new_axis_mask: int = 0, shrink_axis_mask: int = 0):
        self.begin_mask, self.end_mask, self.ellipsis_mask = begin_mask, end_mask, ellipsis_mask
        self.new_axis_mask, self.shrink_axis_mask = new_axis_mask, shrink_axis_mask

    def __call__(self, input_x, begin, end, strides):
        return slicing.strided_slice(input_x, begin, end, strides, **vars(self))


class Meshgrid(PrimitiveClass):
    """``ops.Meshgrid(indexing='xy')((x, y, ...))``."""

    def __init__(self, indexing: str = "xy"):
        self.indexing = indexing

    def __call__(self, inputs):
        return slicing.meshgrid(*inputs, indexing=self.indexing)


class OneHot(PrimitiveClass):
    """``ops.OneHot(axis=-1)(indices, depth, on_value, off_value)``: ``ops.one_hot`` with the new axis at ``axis``."""

    def __init__(self, axis: int = -1):
        self.axis = axis

    def __call__(self, indices, depth: int, on_value, off_value):
        return shape.one_hot(indices, depth, on_value, off_value, self.axis)


class _ParameterScatter(PrimitiveClass):
    """The Parameter ``input_x`` with ``updates`` scattered into it by ``op`` (a tensor_scatter op), in place; returns
    the Parameter. For state kept across steps (caches, queues, embedding tables); ``use_locking`` is kept for
    MindSpore's signature (one process writes here). With ``rows`` the indices name rows (positions on axis 0), else
    they are (..., k) positions on the first k axes."""

    op: Callable
    rows = False

    def __init__(self, use_locking: bool = False):
        self.use_locking = bool(use_locking)

    def __call__(self, input_x, indices, updates):
        from funcad.core.tensor import Parameter

        if not isinstance(input_x, Parameter):
            raise TypeError(f"{type(self).__name__}: input_x must be a Parameter, got {type(input_x).__name__}")
        indices = shape.expand_dims(indices, -1) if self.rows else indices
        return state.assign(input_x, type(self).op(input_x, indices, updates))


class ScatterNdUpdate(_ParameterScatter):
    """``ops.ScatterNdUpdate(use_locking=True)(input_x, indices, updates)``: the entries ``indices`` (..., k) names
    (its first k axes) set to ``updates``."""

    op = staticmethod(scatter_ops.tensor_scatter_update)

    def __init__(self, use_locking: bool = True):
        super().__init__(use_locking)


class ScatterUpdate(ScatterNdUpdate):
    """``ops.ScatterUpdate(use_locking=True)(input_x, indices, updates)``: the rows ``indices`` names set to ``updates``
    (shape indices.shape + input_x.shape[1:])."""

    rows = True


class ScatterAdd(_ParameterScatter):
    """``ops.ScatterAdd(use_locking=False)(input_x, indices, updates)``: ``updates`` added to the rows ``indices``
    names (repeated rows accumulate)."""

    op = staticmethod(scatter_ops.tensor_scatter_add)
    rows = True


class ScatterSub(ScatterAdd):
    """``ops.ScatterSub(use_locking=False)(input_x, indices, updates)``: ``updates`` subtracted from the rows
    ``indices`` names (repeated rows accumulate)."""

    op = staticmethod(scatter_ops.tensor_scatter_sub)


class ScatterMul(ScatterAdd):
    """``ops.ScatterMul(use_locking=False)(input_x, indices, updates)``: the rows ``indices`` names multiplied by
    ``updates`` (repeated rows multiply in turn)."""

    op = staticmethod(scatter_ops.tensor_scatter_mul)


class ScatterDiv(ScatterAdd):
    """``ops.ScatterDiv(use_locking=False)(input_x, indices, updates)``: the rows ``indices`` names divided by ``updates``."""

    op = staticmethod(scatter_ops.tensor_scatter_div)


class ScatterMax(ScatterAdd):
    """``ops.ScatterMax(use_locking=False)(input_x, indices, updates)``: the rows ``indices`` names replaced by their
    maximum with ``updates``."""

    op = staticmethod(scatter_ops.tensor_scatter_max)


class ScatterMin(ScatterAdd):
    """``ops.ScatterMin(use_locking=False)(input_x, indices, updates)``: the rows ``indices`` names replaced by their
    minimum with ``updates``."""

    op = staticmethod(scatter_ops.tensor_scatter_min)


class LpNorm(PrimitiveClass):
    """``ops.LpNorm(axis, p=2, keep_dims=False, epsilon=1e-12)(x)``: the vector p-norm of x over the axes ``axis``
    names (taken together, never as a matrix norm), at least ``epsilon``, as MindSpore's kernel clamps it. p = 0
    gives the number of elements reduced (MindSpore counts x ** 0 = 1 for zeros too)."""

    def __init__(self, axis, p: int = 2, keep_dims: bool = False, epsilon: float = 1e-12):
        self.axis = (axis,) if isinstance(axis, int) else tuple(axis)
        self.p, self.keep_dims, self.epsilon = p, bool(keep_dims), epsilon

    def __call__(self, input_x):
        ndim = _rank(input_x)
        axes = sorted({a % ndim for a in self.axis})
        kept = [a for a in range(ndim) if a not in axes]
        xs = _shape_of(input_x)
        moved = shape.reshape(shape.transpose(input_x, tuple(kept + axes)), tuple(xs[a] for a in kept) + (-1,))
        if self.p == 0:
            out = creation.full(_shape_of(moved)[:-1], float(_shape_of(moved)[-1]), np.dtype(input_x.dtype))
        else:
            out = math.maximum(reduce.norm(moved, ord=self.p, axis=-1), self.epsilon)
        if self.keep_dims:
            out = shape.reshape(out, tuple(1 if a in axes else xs[a] for a in range(ndim)))
        return out


class Median(PrimitiveClass):
    """``ops.Median(global_median=False, axis=0, keep_dims=False, ignore_nan=False)(x)``: (lower median, its int64
    index) along ``axis``, or of all of x with ``global_median`` (the index then into the flattened x). A NaN makes
    the median NaN unless ``ignore_nan``."""

    def __init__(self, global_median: bool = False, axis: int = 0, keep_dims: bool = False, ignore_nan: bool = False):
        self.global_median, self.axis, self.keep_dims, self.ignore_nan = bool(global_median), axis, bool(keep_dims), bool(ignore_nan)

    def __call__(self, x):
        pick = order_statistics.nanmedian if self.ignore_nan else order_statistics.median
        if self.global_median:
            if not int(np.prod(_shape_of(x))):  # MindSpore's CPU kernel: NaN (0 for integers) at index 0
                empty = np.nan if np.dtype(x.dtype).kind == "f" else 0
                return creation.full((), empty, np.dtype(x.dtype)), creation.zeros((), np.int64)
            return pick(shape.reshape(x, (-1,)), 0)
        return pick(x, self.axis, self.keep_dims)


class Unique(PrimitiveClass):
    """``ops.Unique()(x)``: ``ops.unique`` (the distinct values ascending, each element's index among them); eager only."""

    def __call__(self, input_x):
        return indexing.unique(input_x)


def _check_blocks(owner: str, x, block_size: int, channels_divide: bool) -> tuple:
    xs = _shape_of(x)
    if len(xs) != 4 or block_size < 2:
        raise ValueError(f"funcad.ops.{owner}: expected a 4-D (N, C, H, W) input and block_size >= 2, got shape {xs} and {block_size}")
    n, c, h, w = xs
    if (c % (block_size * block_size) if channels_divide else h % block_size or w % block_size):
        what = f"channels {c} by block_size ** 2" if channels_divide else f"height {h} and width {w} by block_size"
        raise ValueError(f"funcad.ops.{owner}: input of shape {xs} does not divide ({what} = {block_size})")
    return n, c, h, w


class SpaceToDepth(PrimitiveClass):
    """``ops.SpaceToDepth(block_size)(x)`` on (N, C, H, W): each block_size x block_size patch moves into channels,
    ordered (row in block, column in block, channel) as MindSpore's (and TensorFlow's); torch's pixel_unshuffle
    orders (channel, row, column)."""

    def __init__(self, block_size: int):
        self.block_size = int(block_size)

    def __call__(self, x):
        b = self.block_size
        n, c, h, w = _check_blocks("SpaceToDepth", x, b, False)
        blocks = shape.reshape(x, (n, c, h // b, b, w // b, b))
        return shape.reshape(shape.transpose(blocks, (0, 3, 5, 1, 2, 4)), (n, c * b * b, h // b, w // b))


class DepthToSpace(SpaceToDepth):
    """``ops.DepthToSpace(block_size)(x)`` on (N, C, H, W): SpaceToDepth's inverse, channels (row in block, column in
    block, channel) spread into block_size x block_size patches."""

    def __call__(self, x):
        b = self.block_size
        n, c, h, w = _check_blocks("DepthToSpace", x, b, True)
        blocks = shape.reshape(x, (n, b, b, c // (b * b), h, w))
        return shape.reshape(shape.transpose(blocks, (0, 3, 4, 1, 5, 2)), (n, c // (b * b), h * b, w * b))


class Print(PrimitiveClass):
    """``ops.Print()(*inputs)``: prints its inputs (strings as they are, Tensors with their values) for debugging and
    returns the first one unchanged, so it can sit in a computation. Inside ``funcad.jit`` or a transform it prints
    once, when traced, the traced values' shapes and dtypes."""

    def __call__(self, *inputs):
        if not inputs:
            raise ValueError("Print: expected at least one input")
        for value in inputs:
            if not isinstance(value, (str, bool, int, float, tuple, list)) and not hasattr(value, "shape"):
                raise TypeError(f"Print: inputs must be Tensors, numbers, strings, tuples or lists, got {type(value).__name__}")
        print(*(_printable(value) for value in inputs), sep="\n")
        return inputs[0]


def _printable(value):
    from funcad.core.trace import Tracer

    if isinstance(value, Tracer):
        return f"Tensor(shape={list(value.shape)}, dtype={value.dtype}) (traced)"
    return value


globals().update({name: _plain(name, fn) for name, fn in _PLAIN.items()})
CLASS_NAMES = tuple(sorted([*_PLAIN, "Softmax", "LogSoftmax", "Concat", "Stack", "Split", "Squeeze", "MatMul", "BatchMatMul",
                            "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceAll", "ReduceAny", "Argmax", "Argmin", "Gather",
                            "ArgMaxWithValue", "ArgMinWithValue",
                            "TopK", "Sort", "OneHot", "Unstack", "BroadcastTo", "Einsum", "Tril", "Triu", "StridedSlice", "Meshgrid",
                            "StandardNormal", "UniformReal", "UniformInt", "CumSum", "CumProd", "Range", "ScatterNdUpdate",
                            "ScatterUpdate", "ScatterAdd", "ScatterSub", "ScatterMul", "ScatterDiv", "ScatterMax", "ScatterMin",
                            "KLDivLoss", "BinaryCrossEntropy", "BCEWithLogitsLoss", "NLLLoss", "SoftShrink", "HShrink", "CeLU",
                            "Print", "LpNorm", "Median", "Unique", "SpaceToDepth", "DepthToSpace"]))
