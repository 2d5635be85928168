"""numpy <-> torch for every floating dtype the harness runs in, bfloat16 included.

torch has no numpy twin for ``torch.bfloat16`` (``torch.from_numpy`` and ``Tensor.numpy`` refuse it); numpy gets one from
the ml_dtypes package. Both store the same 16 bits, so values cross as an int16 view: exact, no rounding.
"""

from __future__ import annotations

import numpy as np
import torch

from funcad.core.dtypes import bfloat16

_BFLOAT16 = None if bfloat16 is None else np.dtype(bfloat16)


def torch_dtype(dtype) -> torch.dtype:
    """numpy dtype (or its name, 'bfloat16' included) -> torch dtype."""
    d = np.dtype(dtype)
    if d == _BFLOAT16:
        return torch.bfloat16
    return torch.from_numpy(np.zeros(0, dtype=d)).dtype


# Read once here: inside torch.func's transforms (vmap, grad) a new tensor has no storage numpy could read.
_NUMPY_DTYPES = {t: torch.empty((), dtype=t).numpy().dtype for t in (
    torch.float16, torch.float32, torch.float64, torch.complex64, torch.complex128, torch.bool,
    torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)}


def numpy_dtype(dtype: torch.dtype) -> np.dtype:
    """torch dtype -> numpy dtype (``torch.bfloat16`` -> ml_dtypes' bfloat16)."""
    if dtype == torch.bfloat16:
        if _BFLOAT16 is None:
            raise TypeError("torch.bfloat16 has no numpy dtype without the ml_dtypes package (pip install ml_dtypes)")
        return _BFLOAT16
    known = _NUMPY_DTYPES.get(dtype)
    return torch.empty((), dtype=dtype).numpy().dtype if known is None else known


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A detached CPU copy of ``tensor`` as a numpy array of the same dtype."""
    t = tensor.detach().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(numpy_dtype(torch.bfloat16)).copy()
    return t.numpy().copy()


def from_numpy(array) -> torch.Tensor:
    """A torch tensor of ``array``'s values and dtype (bfloat16 included), on the CPU, sharing memory where torch can."""
    a = np.asarray(array)
    if a.dtype == _BFLOAT16:
        return torch.from_numpy(np.ascontiguousarray(a).view(np.int16)).view(torch.bfloat16)
    return torch.as_tensor(a)


def sizes(size: tuple) -> tuple[int, ...]:
    """torch's sizes as its creation functions take them: varargs (``zeros(2, 3)``) or one sequence (``zeros((2, 3))``)."""
    return tuple(int(s) for s in (size[0] if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)) else size))


def any_numpy_dtype(dtype):
    """A torch dtype (or a funcad/numpy one) as numpy's; None stays None."""
    return numpy_dtype(dtype) if isinstance(dtype, torch.dtype) else None if dtype is None else np.dtype(dtype)
