"""A Tensor made from a shape, a dtype and an initializer, drawn when first read (MindSpore's ``Tensor(init=...)``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from funcad.core.dtypes import DType, as_dtype
from funcad.core.tensor import Tensor
from funcad.nn.initializer import Initializer, initializer


class LazyTensor(Tensor):
    """A Tensor made from ``shape``, ``dtype`` and an initializer: the values are drawn when first read."""

    __slots__ = ("_pending",)

    def __init__(self, input_data: Any = None, dtype: Any = None, shape: Any = None, init: Any = None):
        if input_data is not None:
            raise ValueError("Tensor: give either input_data or init, not both")
        if shape is None:
            raise ValueError("Tensor: init needs a shape")
        if isinstance(init, type) and issubclass(init, Initializer):
            init = init()
        shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
        self._pending = (initializer, init, shape, np.float32 if dtype is None else dtype)

    @property
    def _data(self) -> np.ndarray:
        pending = self._pending
        if pending is not None:
            make, init, shape, dtype = pending
            Tensor._data.__set__(self, make(init, shape, dtype)._data)
            self._pending = None
        return Tensor._data.__get__(self)

    @_data.setter
    def _data(self, value) -> None:
        Tensor._data.__set__(self, value)

    @property
    def shape(self) -> tuple:
        return self._data.shape if self._pending is None else self._pending[2]

    @property
    def dtype(self) -> DType:
        return as_dtype(self._data.dtype if self._pending is None else self._pending[3])

    @property
    def has_init(self) -> bool:
        return self._pending is not None

    def init_data(self) -> Tensor:
        self._data  # noqa: B018 - reading draws the values
        return self
