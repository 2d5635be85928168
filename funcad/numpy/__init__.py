"""``funcad.numpy``: numpy's names for funcad's differentiable ops, as ``mindspore.numpy`` and ``autograd.numpy``
offer them (``import funcad.numpy as np``). Every function accepts Tensors, arrays and scalars and works under
grad, jvp and jit, except those documented as eager only (``where`` with one argument)."""

import numpy as _np
from numpy import random  # as autograd.numpy.random: draws are constants, plain arrays serve

from funcad import ops as _ops
from funcad.core.tensor import Tensor as _Tensor
from funcad.numpy import fft, linalg
from funcad.numpy.elementwise import *  # noqa: F403 - the module lists its names in __all__
from funcad.numpy.joining import *  # noqa: F403
from funcad.numpy.reductions import *  # noqa: F403
from funcad.numpy.signatures import *  # noqa: F403
from funcad.ops.ms_keywords import numpy_facing as _numpy_facing
from funcad.ops.shape import split_numpy as _split_numpy

_FROM_OPS = """abs add amax amin arange argmax argmin argsort broadcast_to ceil clip concatenate
cos cumsum divide dot einsum equal exp expand_dims expm1 eye flip floor
floor_divide full full_like greater greater_equal isclose isfinite isinf isnan less less_equal linspace
log log1p logical_and logical_not logical_or logical_xor matmul maximum mean minimum
multiply negative not_equal ones ones_like outer pad power prod rand randn remainder repeat reshape
roll round sin sqrt square squeeze stack std subtract sum
swapaxes take_along_axis tan tanh tensordot tile trace transpose tril triu var zeros
zeros_like""".split()
globals().update({name: _numpy_facing(getattr(_ops, name)) for name in _FROM_OPS})  # numpy's names and meanings (axis=(): no axis)
max, min = _numpy_facing(_ops.amax), _numpy_facing(_ops.amin)  # numpy's max/min give the values alone (ops.max/min are MindSpore's (values, indices))
split = _split_numpy  # numpy's sections or cut indices (ops.split takes MindSpore's piece sizes)
absolute = _ops.abs
true_divide = _ops.divide
mod = _ops.remainder
around = _ops.round
concat = _ops.concatenate
float16, float32, float64, int32, int64, bool_ = _np.float16, _np.float32, _np.float64, _np.int32, _np.int64, _np.bool_
pi, e, inf, nan, newaxis = _np.pi, _np.e, _np.inf, _np.nan, None
identity = _ops.eye  # identity(n, dtype)


def array(object, dtype=None) -> _Tensor:  # noqa: A002 - numpy's name
    """A Tensor holding a copy of ``object``; Python floats become float32, MindSpore's default, as in Tensor()."""
    data = object._data if isinstance(object, _Tensor) else object
    if dtype is None and not isinstance(data, _np.ndarray):
        return _Tensor(data)
    return _Tensor(_np.array(data, dtype=dtype))


def ndim(a) -> int:
    return len(_np.shape(a)) if not isinstance(a, _Tensor) else a.ndim


def shape(a) -> tuple:
    return tuple(a.shape) if isinstance(a, _Tensor) else _np.shape(a)


def size(a) -> int:
    return int(_np.prod(shape(a), dtype=_np.int64))


def asarray(a, dtype=None) -> _Tensor:
    """``a`` itself when it is a Tensor of the dtype asked for, else a Tensor of it."""
    if isinstance(a, _Tensor) and (dtype is None or a.dtype == _np.dtype(dtype)):
        return a
    return _Tensor(a, dtype)


def randint(minval: int, maxval: int | None = None, shape=None, dtype=int32) -> _Tensor:
    """Integers uniform in [minval, maxval), or in [0, minval) given one bound: ``mindspore.numpy.randint``."""
    if maxval is None:
        minval, maxval = 0, minval
    size = () if shape is None else tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    return _ops.randint(minval, maxval, size, dtype=dtype)
