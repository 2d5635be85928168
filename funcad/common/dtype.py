"""``funcad.common.dtype`` (also ``funcad.dtype``): the dtypes with MindSpore's names, e.g. ``from funcad import dtype as
mstype; mstype.float32`` (prints as ``Float32``)."""

from funcad.core.dtypes import (  # noqa: F401 - this module is the namespace
    DType,
    bfloat16,
    bool_,
    complex64,
    complex128,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    int_,
    intc,
    short,
    single,
    uint,
    uint8,
    uint16,
    uint32,
    uint64,
    uintc,
    ushort,
)
from funcad.core.dtypes import as_dtype as dtype_to_type  # noqa: F401


def pytype_to_dtype(obj) -> DType:
    """The DType of a Python type or numpy type: ``bool`` -> Bool, ``int`` -> Int64, ``float`` -> Float64."""
    return dtype_to_type(obj)


def dtype_to_nptype(type_) -> type:
    """The numpy scalar type of a DType (``float32`` -> ``numpy.float32``)."""
    return dtype_to_type(type_).type

