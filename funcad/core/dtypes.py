"""Dtype names in MindSpore's spelling and dtype checks shared by transforms.

``funcad.float32`` and ``Tensor.dtype`` are ``DType`` objects: they print as MindSpore's do (``Float32``,
``Int32``) and stand for a numpy dtype everywhere numpy takes one (``np.dtype(funcad.float32)``,
``np.zeros(2, funcad.int32)``, ``t.dtype == np.float32``), because numpy reads their ``__numpy_dtype__`` attribute.
"""

from __future__ import annotations

import numpy as np

# numpy name -> MindSpore's printed name
_MINDSPORE_NAMES = {
    "bool": "Bool", "int8": "Int8", "int16": "Int16", "int32": "Int32", "int64": "Int64",
    "uint8": "UInt8", "uint16": "UInt16", "uint32": "UInt32", "uint64": "UInt64",
    "float16": "Float16", "float32": "Float32", "float64": "Float64",
    "complex64": "Complex64", "complex128": "Complex128",
}


class DType:
    """A numpy dtype that prints with MindSpore's name; equal to (and hashed as) the numpy dtype it wraps."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        object.__setattr__(self, "dtype", np.dtype(dtype))

    def __setattr__(self, name, value):
        raise AttributeError("DType is immutable")

    def __eq__(self, other) -> bool:
        if isinstance(other, DType):
            return self.dtype == other.dtype
        try:
            return self.dtype == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __hash__(self) -> int:
        return hash(self.dtype)

    @property
    def __numpy_dtype__(self) -> np.dtype:
        # numpy asks for this before anything else when given a DType; answering it directly (not via __getattr__'s
        # AttributeError) makes np.empty(shape, dtype) as cheap as with a numpy dtype
        return self.dtype

    def __getattr__(self, name):
        # kind, itemsize, name, char, type, ...: whatever numpy's dtype answers
        return getattr(self.dtype, name)

    def __str__(self) -> str:
        return _MINDSPORE_NAMES.get(self.dtype.name, self.dtype.name)

    __repr__ = __str__

    def __reduce__(self):
        return as_dtype, (self.dtype.str,)


DTYPES_BY_NUMPY: dict = {}


def as_dtype(dtype) -> DType:
    """The DType for anything numpy reads as a dtype (one shared object per dtype)."""
    if isinstance(dtype, DType):
        return dtype
    np_dtype = np.dtype(dtype)
    found = DTYPES_BY_NUMPY.get(np_dtype)
    if found is None:
        found = DTYPES_BY_NUMPY[np_dtype] = DType(np_dtype)
    return found


try:  # bfloat16 is the numpy dtype of the ml_dtypes package (the one JAX uses); funcad runs without it
    import ml_dtypes
    _BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
    _MINDSPORE_NAMES["bfloat16"] = "BFloat16"
except ImportError:
    _BFLOAT16 = None
#: the 16-bit floating-point dtypes: float16, and bfloat16 when ml_dtypes is installed
LOW_PRECISION = tuple(d for d in (np.dtype(np.float16), _BFLOAT16) if d is not None)

float16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool_, complex64, complex128 = map(
    as_dtype, ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "bool", "complex64", "complex128"))
bfloat16 = as_dtype(_BFLOAT16) if _BFLOAT16 is not None else None
# MindSpore's aliases
half, single, double = float16, float32, float64
short, intc, int_ = int16, int32, int64
ushort, uintc, uint = uint16, uint32, uint64

DTYPE_NAMES = (
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "bool_", "complex64", "complex128", "half", "single", "double", "short", "intc", "int_", "ushort", "uintc", "uint",
)


def is_float_dtype(dtype) -> bool:
    """Floating or complex (numpy's 'inexact' kinds, and bfloat16)."""
    d = np.dtype(dtype)
    return d.kind in "fc" or d == _BFLOAT16


def is_floating(dtype) -> bool:
    """Real floating point: numpy's own types and ml_dtypes' bfloat16, whose numpy kind is 'V' (so
    ``np.issubdtype(bfloat16, np.floating)`` is False)."""
    d = np.dtype(dtype)
    return d.kind == "f" or d == _BFLOAT16


def accumulated(x: np.ndarray, axis=None, keepdims: bool = False) -> np.ndarray:
    """``np.sum``; 16-bit floats are summed in float32 and rounded back once, as torch's CPU reductions do (summed in
    their own precision, a batch mean of a few hundred terms already loses most of bfloat16's 8 bits)."""
    if getattr(x, "dtype", None) in LOW_PRECISION:  # a Python number has no dtype
        return np.add.reduce(x, axis=axis, keepdims=keepdims, dtype=np.float32).astype(x.dtype)
    return np.sum(x, axis=axis, keepdims=keepdims)


def widened(kernel, a: np.ndarray, b: np.ndarray, *rest):
    """``kernel(a, b, *rest)`` for a product (matmul, convolution); 16-bit floats (float16, bfloat16) are accumulated in
    float32 and rounded back once, as torch's CPU kernels do (numpy has no BLAS for them, and ml_dtypes' bfloat16 matmul
    returns float32)."""
    dtype = np.result_type(a, b)
    if dtype not in LOW_PRECISION:
        return kernel(a, b, *rest)
    return kernel(a.astype(np.float32), b.astype(np.float32), *rest).astype(dtype)


def default_array(data, dtype=None) -> np.ndarray:
    """Convert user data to an array: Python floats default to float32, as in MindSpore."""
    if dtype is not None:
        return np.asarray(data, dtype=np.dtype(dtype))
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    arr = np.asarray(data)
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    return arr
