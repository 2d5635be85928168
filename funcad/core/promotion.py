"""MindSpore's type promotion where it differs from numpy's: integers and bools meeting floats become floats.

numpy makes ``int32 * 1.5`` and ``int32 + float32`` float64 and ``int64 + float16`` float64; MindSpore gives the
float operand's dtype (a Python float counts as float32), and its true division and transcendental functions turn
integers into float32. An op declaring ``promote`` casts its integer and bool arguments first, as explicit ``cast``
ops, so every interpreter (eager, grad, jit, vmap) sees the same dtypes and numpy computes in the float dtype.
"""

from __future__ import annotations

import numpy as np

from funcad.core.base_ops import cast
from funcad.core.tensor import Tensor
from funcad.core.trace import numpy_dtype

_FLOAT32 = np.dtype(np.float32)


def _float_target(args, float_result: bool):
    """The float dtype integer arguments go to, or None when nothing changes."""
    dtypes = [numpy_dtype(a) for a in args]
    floats = [d for d in dtypes if d is not None and d.kind == "f"]
    if floats:
        return np.result_type(*floats)
    if float_result or any(type(a) is float for a in args):
        return _FLOAT32
    return None


def _cast_integral(args, target):
    return tuple(cast(a, target) if d is not None and d.kind in "iub" else a for a, d in zip(args, map(numpy_dtype, args)))


def _promotion(float_result: bool):
    """A ``promote`` declaration. Every call of the op runs it, so the common case (no integer or bool array among the
    arguments) is answered by its first loop: no further call for a plain Tensor or a Python number, and one dtype
    identity test for a float32 Tensor."""

    def promote(args):
        for a in args:
            cls = a.__class__
            if cls is Tensor:
                dtype = a._data.dtype
                if dtype is not _FLOAT32 and dtype.kind in "iub":
                    break
            elif cls is not float and cls is not int and (dtype := numpy_dtype(a)) is not None and dtype.kind in "iub":
                break
        else:
            return args
        target = _float_target(args, float_result)
        return args if target is None else _cast_integral(args, target)

    return promote


promote_mixed = _promotion(False)
promote_mixed.__doc__ = "Integer/bool arrays meeting a float array or a Python float become that float dtype (float32 for a Python float)."
promote_to_float = _promotion(True)
promote_to_float.__doc__ = "As ``promote_mixed``, and integer/bool arrays alone become float32 (true division, exp, sqrt, sin, ...)."


def promote_choices(args):
    """``where(condition, x, y)``: the condition stays as it is; x and y promote as ``promote_mixed``."""
    return (args[0], *promote_mixed(args[1:]))
