"""Discrete Fourier transforms with MindSpore 2.x's names and arguments (``input, n/s, dim, norm``).

Four primitives carry them all: ``fftn`` (complex to complex, forward or inverse), ``rfftn`` (real to half spectrum),
``irfftn`` (half spectrum to real) and ``fit`` (zero-pad or cut axes to sizes). Each transform is linear, so its
tangent is the transform of the tangent; its VJP (torch's convention for complex cotangents) is its adjoint: the
opposite transform with the opposite normalisation ("backward" <-> "forward", "ortho" stays), fitted back to the
input's sizes. hfft and ihfft are irfft and rfft of a conjugate, as numpy defines them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from funcad.core.base_ops import cast, shape_of
from funcad.core.batching import move_axis
from funcad.core.complex_parts import conj, is_complex, real
from funcad.core.dtypes import default_array
from funcad.core.primitive import compiled_as_call, primitive
from funcad.core.tensor import Tensor
from funcad.ops.aliases import roll

__all__ = ["fft", "fft2", "fftfreq", "fftn", "fftshift", "hfft", "ifft", "ifft2", "ifftn", "ifftshift", "ihfft", "irfft", "irfft2", "irfftn",
           "rfft", "rfft2", "rfftfreq", "rfftn"]

_SWAPPED = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


def _batch_in_front(prim):
    """Axes are stored counted from the end, so a batch axis moved to the front leaves them valid."""
    return lambda args, dims, /, **kwargs: (prim(move_axis(args[0], dims[0], 0), *args[1:], **kwargs), 0)


def _declared(torch) -> dict:
    return compiled_as_call(complex=True, torch=torch)


def _torch_fit(torch, x, axes, sizes):
    for axis, size in zip(axes, sizes):
        have = x.shape[axis]
        if have > size:
            x = x.narrow(axis, 0, size)
        elif have < size:
            x = torch.cat([x, x.new_zeros(x.shape[:axis] + (size - have,) + x.shape[axis:][1:])], axis)
    return x


@primitive(**_declared(_torch_fit))
def fit(x, axes, sizes):
    """``x`` cut or zero-padded at the end of each axis in ``axes`` to the length in ``sizes``."""
    for axis, size in zip(axes, sizes):
        have = x.shape[axis]
        if have > size:
            x = np.take(x, np.arange(size), axis=axis)
        elif have < size:
            widths = [(0, 0)] * x.ndim
            widths[axis] = (0, size - have)
            x = np.pad(x, widths)
    return x


@primitive(**_declared(lambda torch, x, s, axes, norm, inverse: (torch.fft.ifftn if inverse else torch.fft.fftn)(x, s=s, dim=axes, norm=norm)))
def _fftn(x, s, axes, norm, inverse):
    return (np.fft.ifftn if inverse else np.fft.fftn)(x, s=s, axes=axes, norm=norm)


@primitive(**_declared(lambda torch, x, s, axes, norm: torch.fft.rfftn(x, s=s, dim=axes, norm=norm)))
def _rfftn(x, s, axes, norm):
    return np.fft.rfftn(x, s=s, axes=axes, norm=norm)


@primitive(**_declared(lambda torch, x, s, axes, norm: torch.fft.irfftn(x, s=s, dim=axes, norm=norm)))
def _irfftn(x, s, axes, norm):
    return np.fft.irfftn(x, s=s, axes=axes, norm=norm)


def _fitted_to(value, x, axes):
    sizes = tuple(shape_of(x)[a] for a in axes)
    return value if tuple(shape_of(value)[a] for a in axes) == sizes else fit(value, axes, sizes)


def _half_spectrum_weights(s, axes, like):
    """How many bins of the full spectrum each kept bin of a real signal's half spectrum stands for (1 or 2), in the
    real dtype of ``like`` (a weight must not widen a complex64 cotangent)."""
    n = s[-1]
    weights = np.full(n // 2 + 1, 2.0, dtype=np.float64 if like.dtype.itemsize == 8 else np.float32)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    return weights.reshape((n // 2 + 1,) + (1,) * (-axes[-1] - 1))


fit.deflinear(lambda g, ans, x, axes, sizes: _fitted_to(g, x, axes))
_fftn.deflinear(lambda g, ans, x, s, axes, norm, inverse: _fitted_to(_fftn(g, s, axes, _SWAPPED[norm], not inverse), x, axes))
_rfftn.deflinear(lambda g, ans, x, s, axes, norm: _fitted_to(real(_fftn(fit(g, axes[-1:], s[-1:]), s, axes, _SWAPPED[norm], True)), x, axes))
_irfftn.deflinear(lambda g, ans, x, s, axes, norm: _fitted_to(
    _rfftn(g, s, axes, _SWAPPED[norm]) * _half_spectrum_weights(s, axes, g), x, axes))
for _prim in (fit, _fftn, _rfftn, _irfftn):
    _prim.declare(batch=_batch_in_front(_prim))


# -- MindSpore's functions ----------------------------------------------------------------------------------------
def _plan(name: str, x, s, dim, half_input: bool = False):
    """(x as a float or complex Tensor, sizes, axes counted from the end) for a transform over ``dim`` with sizes ``s``."""
    if not hasattr(x, "dtype"):
        x = Tensor._wrap(default_array(x))  # Python numbers: float32, as in MindSpore
    if x.dtype.kind not in "fc":
        x = cast(x, np.float32)  # integers and bools transform as float32, as in MindSpore
    shape = shape_of(x)
    ndim = len(shape)
    if dim is None:
        dim = tuple(range(ndim)) if s is None else tuple(range(ndim - len(s), ndim))
    dim = (dim,) if isinstance(dim, int) else tuple(dim)
    if not dim or any(not -ndim <= d < ndim for d in dim) or len({d % ndim for d in dim}) != len(dim):
        raise ValueError(f"funcad.ops.{name}: dim {dim} must be distinct axes of an input of shape {tuple(shape)}")
    axes = tuple(d % ndim - ndim for d in dim)
    if s is None:
        s = [shape[a] for a in axes]
        if half_input:
            s[-1] = 2 * (s[-1] - 1)
    s = (s,) if isinstance(s, int) else tuple(s)
    if len(s) != len(axes) or any(not isinstance(n, (int, np.integer)) or n < 1 for n in s):
        raise ValueError(f"funcad.ops.{name}: sizes {s} must be positive ints, one per axis in dim {dim}")
    return x, tuple(int(n) for n in s), axes


def _norm(name: str, norm):
    if norm is None:
        return "backward"
    if norm not in _SWAPPED:
        raise ValueError(f"funcad.ops.{name}: norm must be 'backward', 'forward', 'ortho' or None, got {norm!r}")
    return norm


def _transform(name: str, kind: str, input, s, dim, norm):  # noqa: A002
    """The transform ``kind`` (fft, ifft, rfft or irfft over every axis in ``dim``) as MindSpore's op ``name``."""
    x, s, axes = _plan(name, input, s, dim, half_input=kind == "irfft")
    norm = _norm(name, norm)
    if kind == "rfft" and is_complex(x):
        raise TypeError(f"funcad.ops.{name}: the input must be real, got {x.dtype} (fft takes complex inputs)")
    if kind in ("fft", "ifft"):
        return _fftn(x, s, axes, norm, kind == "ifft")
    return (_rfftn if kind == "rfft" else _irfftn)(x, s, axes, norm)


def _one_axis(n, dim):
    return (None if n is None else (n,)), (dim,)


def fftn(input, s: Sequence[int] | None = None, dim: Sequence[int] | None = None, norm: str | None = None):  # noqa: A002
    """The n-dimensional discrete Fourier transform over ``dim`` (all axes by default), each axis cut or padded to ``s``."""
    return _transform("fftn", "fft", input, s, dim, norm)


def ifftn(input, s: Sequence[int] | None = None, dim: Sequence[int] | None = None, norm: str | None = None):  # noqa: A002
    """The inverse of fftn."""
    return _transform("ifftn", "ifft", input, s, dim, norm)


def rfftn(input, s: Sequence[int] | None = None, dim: Sequence[int] | None = None, norm: str | None = None):  # noqa: A002
    """fftn of a real input, keeping the non-negative frequencies of the last axis (the rest mirror them)."""
    return _transform("rfftn", "rfft", input, s, dim, norm)


def irfftn(input, s: Sequence[int] | None = None, dim: Sequence[int] | None = None, norm: str | None = None):  # noqa: A002
    """The real signal whose rfftn is ``input``; the last axis has 2 * (m - 1) points unless ``s`` says otherwise."""
    return _transform("irfftn", "irfft", input, s, dim, norm)


def fft(input, n: int | None = None, dim: int = -1, norm: str | None = None):  # noqa: A002
    """The one-dimensional discrete Fourier transform along ``dim``, cut or padded to ``n`` points."""
    return _transform("fft", "fft", input, *_one_axis(n, dim), norm)


def ifft(input, n: int | None = None, dim: int = -1, norm: str | None = None):  # noqa: A002
    """The inverse of fft."""
    return _transform("ifft", "ifft", input, *_one_axis(n, dim), norm)


def rfft(input, n: int | None = None, dim: int = -1, norm: str | None = None):  # noqa: A002
    """fft of a real input, keeping the n // 2 + 1 non-negative frequencies."""
    return _transform("rfft", "rfft", input, *_one_axis(n, dim), norm)


def irfft(input, n: int | None = None, dim: int = -1, norm: str | None = None):  # noqa: A002
    """The real signal of n points (2 * (m - 1) by default) whose rfft is ``input``."""
    return _transform("irfft", "irfft", input, *_one_axis(n, dim), norm)


def fft2(input, s: Sequence[int] | None = None, dim: Sequence[int] = (-2, -1), norm: str | None = None):  # noqa: A002
    """fftn over two axes, the last two by default."""
    return _transform("fft2", "fft", input, s, dim, norm)


def ifft2(input, s: Sequence[int] | None = None, dim: Sequence[int] = (-2, -1), norm: str | None = None):  # noqa: A002
    """ifftn over two axes, the last two by default."""
    return _transform("ifft2", "ifft", input, s, dim, norm)


def rfft2(input, s: Sequence[int] | None = None, dim: Sequence[int] = (-2, -1), norm: str | None = None):  # noqa: A002
    """rfftn over two axes, the last two by default."""
    return _transform("rfft2", "rfft", input, s, dim, norm)


def irfft2(input, s: Sequence[int] | None = None, dim: Sequence[int] = (-2, -1), norm: str | None = None):  # noqa: A002
    """irfftn over two axes, the last two by default."""
    return _transform("irfft2", "irfft", input, s, dim, norm)


def hfft(input, n: int | None = None, dim: int = -1, norm: str | None = None):  # noqa: A002
    """The real spectrum of a signal with Hermitian symmetry, given its first half: irfft of the conjugate."""
    return _transform("hfft", "irfft", conj(input), *_one_axis(n, dim), _SWAPPED[_norm("hfft", norm)])


def ihfft(input, n: int | None = None, dim: int = -1, norm: str | None = None):  # noqa: A002
    """The inverse of hfft: the conjugate of rfft."""
    return conj(_transform("ihfft", "rfft", input, *_one_axis(n, dim), _SWAPPED[_norm("ihfft", norm)]))


# -- frequencies and their order ------------------------------------------------------------------------------------
def _shift(input, dim, sign: int):  # noqa: A002
    shape = shape_of(input)
    dims = tuple(range(len(shape))) if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    return roll(input, tuple(sign * (shape[d] // 2) for d in dims), dims)


def fftshift(input, dim: int | Sequence[int] | None = None):  # noqa: A002
    """Move the zero-frequency term to the centre of each axis in ``dim`` (all when None)."""
    return _shift(input, dim, 1)


def ifftshift(input, dim: int | Sequence[int] | None = None):  # noqa: A002
    """The inverse of fftshift."""
    return _shift(input, dim, -1)


def fftfreq(n: int, d: float = 1.0, dtype=None) -> Tensor:
    """The sample frequencies of an n-point fft with spacing ``d`` (float32 unless ``dtype`` says otherwise)."""
    return Tensor(np.fft.fftfreq(n, d).astype(np.dtype(dtype or np.float32)))


def rfftfreq(n: int, d: float = 1.0, dtype=None) -> Tensor:
    """The sample frequencies of an n-point rfft."""
    return Tensor(np.fft.rfftfreq(n, d).astype(np.dtype(dtype or np.float32)))
