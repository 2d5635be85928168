"""Complex values taken apart and put together: real, imag, conj, angle and complex(real, imag).

They sit in core because the backward pass itself needs ``real``: a real argument of a complex op receives the real
part of its complex cotangent. Rules follow torch's convention (see ``Primitive``'s ``complex`` declaration): the
cotangent of z is dL/dRe(z) + i dL/dIm(z), so real(z) sends g back as g + 0i and imag(z) as 0 + gi.
"""

from __future__ import annotations

import builtins

import numpy as np

from funcad.core.primitive import compiled_as_call, primitive
from funcad.core.tensor import Tensor

_FLOAT32 = np.dtype(np.float32)


def is_complex(value) -> bool:
    """Whether a Tensor, tracer, array or Python number holds complex values (read from its dtype, never its data)."""
    if value.__class__ is Tensor:  # the common case, on every multiply's backward pass: numpy's dtype, no wrapping
        return value._data.dtype.kind == "c"
    if isinstance(value, builtins.complex):
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and dtype.kind == "c"


def conj_if_complex(value):
    """The conjugate of a complex value, a real value itself (no op recorded): what torch-convention VJPs multiply by.
    A float32 Tensor, the common case on every multiply's backward pass, answers at the first test."""
    if value.__class__ is Tensor and value._data.dtype is _FLOAT32:
        return value
    return conj(value) if is_complex(value) else value


def complex_dtype(dtype) -> np.dtype:
    """complex64 for float32 and narrower, complex128 for float64 (MindSpore's pairing)."""
    return np.dtype(np.complex128 if np.dtype(dtype) == np.float64 else np.complex64)


def _declared(torch) -> dict:
    return compiled_as_call(elementwise=True, complex=True, torch=torch)


@primitive(**_declared("real"))
def real(x):
    """The real part (x itself for real values)."""
    return np.real(x)


@primitive(**_declared(lambda torch, x: x.imag if x.is_complex() else torch.zeros_like(x)))
def imag(x):
    """The imaginary part (zeros for real values)."""
    return np.imag(x) if np.iscomplexobj(x) else np.zeros_like(x)


@primitive(**_declared(lambda torch, x: torch.conj(x).resolve_conj()))
def conj(x):
    """The complex conjugate (x itself for real values)."""
    return np.conj(x) if np.iscomplexobj(x) else x


@primitive(**_declared("angle"))
def angle(x):
    """The argument atan2(imag, real): 0 or pi for real values."""
    return np.angle(x)


@primitive(**{**_declared("complex"), "broadcasts": True})
def complex(real, imag):  # noqa: A001 - MindSpore's name
    """real + i imag from two real arrays of one floating dtype (float32 gives complex64, float64 complex128)."""
    real, imag = np.asarray(real), np.asarray(imag)
    if real.dtype.kind != "f" or imag.dtype.kind != "f" or real.dtype != imag.dtype:
        raise TypeError(f"funcad.ops.complex: real and imag must be floating arrays of one dtype, got {real.dtype} and {imag.dtype}")
    out = np.empty(np.broadcast_shapes(real.shape, imag.shape), complex_dtype(real.dtype))
    out.real, out.imag = real, imag
    return out


def _to_complex_like(g, x):
    """A real cotangent g of real(x), returned to x: g + 0i for a complex x, g itself for a real one."""
    return complex(g, g * 0.0) if is_complex(x) else g


def _squared_modulus(z):
    re, im = real(z), imag(z)
    return re * re + im * im


real.defvjp(lambda g, ans, x: _to_complex_like(g, x)).defjvp(lambda t, ans, x: real(t))
imag.defvjp(lambda g, ans, x: complex(g * 0.0, g) if is_complex(x) else g * 0.0).defjvp(lambda t, ans, x: imag(t))
conj.deflinear(lambda g, ans, x: conj(g))
# d angle = (Re z dIm z - Im z dRe z) / |z|^2; the cotangent is g (-Im z + i Re z) / |z|^2
angle.defvjp(lambda g, ans, x: complex(-g * imag(x) / _squared_modulus(x), g * real(x) / _squared_modulus(x)) if is_complex(x) else g * 0.0)
angle.defjvp(lambda t, ans, x: (real(x) * imag(t) - imag(x) * real(t)) / _squared_modulus(x) if is_complex(x) else t * 0.0)
complex.defvjp(lambda g, ans, re, im: real(g), lambda g, ans, re, im: imag(g))
complex.defjvp(lambda t, ans, re, im: complex(t, t * 0.0), lambda t, ans, re, im: complex(t * 0.0, t))
