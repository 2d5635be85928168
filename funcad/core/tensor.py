"""Tensor (an immutable array value) and Parameter (a named, rebindable Tensor a Cell owns).

Operators on Tensor delegate to ``funcad.ops``; that module registers itself here at
import (``bind_ops``) so this file needs no import cycle.
"""

from __future__ import annotations

import threading
from operator import attrgetter
from typing import Any

import numpy as np

from funcad.core import tensor_methods
from funcad.core.dtypes import DTYPES_BY_NUMPY, DType, as_dtype, default_array

_ops: Any = None


class _ParameterHooks(threading.local):
    """Hooks a compiler installs while it traces, in its own thread: reading an unbound Parameter and writing one."""

    read = None
    write = None


parameter_hooks = _ParameterHooks()


def bind_ops(module) -> None:
    global _ops
    _ops = module
    tensor_methods.bind_ops(module)
    _set_operators(module)


def array_attribute(holder: str, name: str) -> property:
    """A read-only property answering the array attribute ``name`` (shape, ndim, ...) of the array held in ``holder``."""
    return property(attrgetter(f"{holder}.{name}"), doc=f"The ``{name}`` of the value.")


def _copy_slots(source, target):
    """``target`` holding ``source``'s fields (a Tensor's array, a tracer's value and node): the same value."""
    for cls in type(source).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if not isinstance(getattr(type(source), slot, None), property):
                object.__setattr__(target, slot, getattr(source, slot))
    return target


class Tensor(tensor_methods.TensorMethods):
    """An immutable numpy-backed array value; every op accepts and returns Tensors."""

    __slots__ = ("_data",)
    __array_ufunc__ = None  # make ``ndarray <op> Tensor`` defer to Tensor's reflected operators
    __array_priority__ = 1000
    __hash__ = object.__hash__

    def __new__(cls, input_data: Any = None, dtype: Any = None, shape: Any = None, init: Any = None, **kwargs):
        if init is not None and cls is Tensor:
            from funcad.core.lazy_tensor import LazyTensor  # a subclass of Tensor: importing it here breaks the cycle

            return object.__new__(LazyTensor)
        return object.__new__(cls)

    def __init__(self, input_data: Any = None, dtype: Any = None, shape: Any = None, init: Any = None):
        """MindSpore's constructor: from data (a Tensor, number, bool, list, tuple or ndarray; an ndarray is copied,
        as MindSpore does: see ``from_numpy`` to share it), or from ``shape``, ``dtype`` and an initializer ``init``
        (drawn when the value is first needed)."""
        if init is not None:
            raise TypeError("Tensor: init is a constructor argument of Tensor itself, not of a subclass")
        if input_data is None:
            if shape is None:
                raise ValueError("Tensor: give input_data, or shape (and dtype) with init")
            raise ValueError(f"Tensor: shape {shape} given without init; pass init=One(), Normal(), ... to fill it")
        if shape is not None:
            raise ValueError("Tensor: shape is only taken together with init, not with input_data")
        if isinstance(input_data, Tensor):
            input_data = np.asarray(input_data)
        elif isinstance(input_data, np.ndarray):
            input_data = input_data.copy()
        self._data = default_array(input_data, dtype)

    @staticmethod
    def from_numpy(array: np.ndarray) -> Tensor:
        """A Tensor sharing ``array``'s memory (MindSpore's ``from_numpy``): changing the array in place changes the
        Tensor. A non-contiguous array is copied into a contiguous one first."""
        if not isinstance(array, np.ndarray):
            raise TypeError(f"Tensor.from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
        return Tensor._wrap(np.ascontiguousarray(array))

    @classmethod
    def _wrap(cls, array) -> Tensor:
        t = object.__new__(Tensor)
        t._data = array if type(array) is np.ndarray else np.asarray(array)
        return t

    # -- array protocol -------------------------------------------------------------
    shape, ndim, size = (array_attribute("_data", name) for name in ("shape", "ndim", "size"))

    @property
    def dtype(self) -> DType:
        dtype = self._data.dtype
        return DTYPES_BY_NUMPY.get(dtype) or as_dtype(dtype)

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return np.dtype(self.dtype).itemsize

    @property
    def nbytes(self) -> int:
        return self.itemsize * self.size

    @property
    def strides(self) -> tuple:
        """Bytes to step along each axis of the value laid out contiguously (row-major), as MindSpore reports them."""
        strides, step = [], self.itemsize
        for n in reversed(self.shape):
            strides.append(step)
            step *= n
        return tuple(reversed(strides))

    @property
    def has_init(self) -> bool:
        """Whether the value is still to be drawn from an initializer (see ``init_data``)."""
        return False

    def init_data(self) -> Tensor:
        """Draw a value given by an initializer now (MindSpore's name); a Tensor with data returns itself."""
        return self

    def numel(self) -> int:
        return self.size

    nelement = numel

    def dim(self) -> int:
        return self.ndim

    def _concrete(self) -> np.ndarray:
        return self._data

    def __array__(self, dtype=None, copy=None):
        arr = self._concrete()
        if dtype is not None and arr.dtype != dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def asnumpy(self) -> np.ndarray:
        """A copy of the value as a numpy array (MindSpore's name)."""
        return np.array(self._concrete())

    numpy = asnumpy

    def item(self, index=None):
        """The value as a Python number; with ``index`` (an int or a tuple), the element there."""
        arr = self._concrete()
        return arr.item() if index is None else arr.item(index)

    def tolist(self):
        return self._concrete().tolist()

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d Tensor")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self._concrete())

    def __float__(self) -> float:
        return float(self._one_element("float"))

    def __int__(self) -> int:
        return int(self._one_element("int"))

    def _one_element(self, what: str):
        """The single element of a Tensor of any rank (MindSpore converts shape (1,) and (1, 1) too)."""
        arr = self._concrete()
        if arr.size != 1:
            raise TypeError(f"{what}() needs a Tensor of one element, got shape {arr.shape}")
        return arr.reshape(())

    def __index__(self) -> int:
        arr = self._concrete()
        if arr.ndim != 0 or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"only integer scalar Tensors can be used as an index, got {arr.dtype}{arr.shape}")
        return int(arr)

    def __format__(self, spec: str) -> str:
        """A 0-d Tensor formats as its number (``f"{loss:.4f}"``), in its own precision: ``f"{lr}"`` of a float32 0.0974
        shows 0.097400375 as MindSpore prints it, not the float64 digits; others as their ``str`` (with an empty spec)."""
        if not spec:
            return str(self)
        arr = self._concrete()
        return format(arr.item() if arr.ndim == 0 else str(self), spec)

    def __str__(self) -> str:
        """The value printed as numpy prints it, as ``print(tensor)`` does in MindSpore."""
        return str(self._concrete())

    def __repr__(self) -> str:
        arr = self._concrete()
        body = np.array2string(arr, separator=", ")
        head = f"Tensor(shape={list(arr.shape)}, dtype={self.dtype}, value="
        return f"{head}{' ' if arr.ndim == 0 else chr(10)}{body})"

    def register_hook(self, hook_fn):
        """Call ``hook_fn(grad)`` with this value's gradient when a backward pass reaches it; a returned Tensor
        replaces the gradient (MindSpore's ``Tensor.register_hook``). Returns a handle with ``remove()``."""
        from funcad.core.hooks import register_tensor_hook  # hooks imports primitives, which import this module

        return register_tensor_hook(self, hook_fn)

    def __deepcopy__(self, memo):
        return Tensor._wrap(self._data.copy())

    # -- operators (the arithmetic, comparison and logical ones are set from _OPERATORS below) ---------------------
    def __pos__(self):
        return self

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value):
        """MindSpore's ``x[index] = value``: ``x`` becomes the functional update ``updated_at`` (in ``funcad/ops/shape.py``) of itself, so
        gradients and ``funcad.jit`` follow it. Its array is replaced, never written into: Tensors that shared the
        old one keep their values."""
        if isinstance(self, Parameter):
            self.set_data(_ops._updated_at(self, index, value))
            return
        before = _copy_slots(self, object.__new__(type(self)))  # what a traced update's node refers to: not x itself
        updated = _ops._updated_at(before, index, value)
        if type(updated) is not type(self) or getattr(updated, "_trace", None) is not getattr(self, "_trace", None):
            raise TypeError(f"funcad: x[{index!r}] = value makes x depend on a value traced by a transform x is not part of; "
                            "build x from that value instead (ops.where, ops.tensor_scatter_update, ops.concat)")
        _copy_slots(updated, self)

    # -- methods ------------------------------------------------------------------------
    @property
    def T(self):
        return _ops.transpose(self)

    def astype(self, dtype, copy: bool = True):
        """This Tensor cast to ``dtype`` (``copy`` is MindSpore's and numpy's; a Tensor is never shared)."""
        return _ops.cast(self, dtype)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    view = reshape

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes or None)

    def swapaxes(self, axis0, axis1):
        return _ops.swapaxes(self, axis0, axis1)

    def squeeze(self, axis=None):
        return _ops.squeeze(self, axis)

    def expand_dims(self, axis):
        return _ops.expand_dims(self, axis)

    def unsqueeze(self, dim):
        """A new axis of length 1 at ``dim`` (MindSpore's and torch's name for ``expand_dims``)."""
        return _ops.expand_dims(self, dim)

    def flatten(self, order: str | int = "C", *dims: int, start_dim: int | None = None, end_dim: int | None = None):
        """Axes start_dim..end_dim merged into one, all of them by default: MindSpore's (order='C', *, start_dim=0,
        end_dim=-1) or its later (start_dim=0, end_dim=-1) by position; ``ops.flatten`` otherwise."""
        if isinstance(order, str) and start_dim is None:
            start_dim = 0
        return _ops.flatten(self, order, *dims, start_dim=start_dim, end_dim=end_dim)

    def pow(self, exponent):
        return _ops.power(self, exponent)

    def matmul(self, tensor2):
        return _ops.matmul(self, tensor2)

    def norm(self, ord=None, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims: bool | None = None):  # noqa: A002
        """``ops.norm`` of this Tensor (cast to ``dtype`` first when given): MindSpore 2.x's names, numpy's
        ``axis``/``keepdims`` too."""
        x = self if dtype is None else _ops.cast(self, dtype)
        return _ops.norm(x, ord, dim if axis is None else axis, keepdim if keepdims is None else keepdims)

    def clip(self, min=None, max=None):
        return _ops.clip(self, min, max)

    def copy(self):
        return Tensor._wrap(np.array(self._concrete()))


# Python's operators, each the funcad.ops op of the same meaning, set on Tensor when funcad.ops binds itself (each
# method then calls its op directly): {operator: (op, whether it has a reflected form)}, and the unary ones.
_OPERATORS = {
    "add": ("add", True), "sub": ("sub", True), "mul": ("multiply", True), "truediv": ("divide", True),
    "floordiv": ("floor_divide", True), "mod": ("remainder", True), "pow": ("power", True), "matmul": ("matmul", True),
    "lt": ("less", False), "le": ("less_equal", False), "gt": ("greater", False), "ge": ("greater_equal", False),
    "eq": ("equal", False), "ne": ("not_equal", False),
    # MindSpore's &, | and ^ are bitwise (logical for booleans); its ~ is logical_not
    "and": ("bitwise_and", True), "or": ("bitwise_or", True), "xor": ("bitwise_xor", True),
}
_UNARY_OPERATORS = {"neg": "negative", "abs": "abs", "invert": "logical_not"}


def _operator(op, reflected: bool):
    if reflected:
        return lambda self, other: op(other, self)
    return lambda self, other: op(self, other)


def _unary_operator(op):
    return lambda self: op(self)


def _set_operators(module) -> None:
    for name, (op_name, reflected) in _OPERATORS.items():
        op = getattr(module, op_name)
        setattr(Tensor, f"__{name}__", _operator(op, False))
        if reflected:
            setattr(Tensor, f"__r{name}__", _operator(op, True))
    for name, op_name in _UNARY_OPERATORS.items():
        setattr(Tensor, f"__{name}__", _unary_operator(getattr(module, op_name)))


class Parameter(Tensor):
    """A named Tensor owned by a Cell; transforms may rebind it to a traced value for a while."""

    __slots__ = ("name", "requires_grad", "_bound", "_given_name")

    def __new__(cls, *args, **kwargs):  # Tensor's __new__ reads Tensor's arguments; a Parameter takes MindSpore's own
        return object.__new__(cls)

    def __init__(self, default_input: Any, name: str | None = None, requires_grad: bool = True,
                 layerwise_parallel: bool = False, parallel_optimizer: bool = True):
        """MindSpore's signature; ``layerwise_parallel`` and ``parallel_optimizer`` concern several devices and
        are accepted without effect (funcad runs on one)."""
        super().__init__(default_input)
        self.name = name
        self._given_name = name  # a name given here replaces the attribute's in the Cell's names, as in MindSpore
        self.requires_grad = requires_grad
        self._bound = None

    def _current(self):
        """The value ops see: a transform's traced stand-in if one is bound, else itself."""
        bound = self._bound
        if bound is not None:
            return bound
        read = parameter_hooks.read
        if read is not None:
            return read(self)
        return self

    def set_data(self, data) -> Parameter:
        """Replace the value (MindSpore's ``set_data``); under a compiler trace, record the write."""
        write = parameter_hooks.write
        if write is not None:
            write(self, data)
            return self
        if isinstance(data, Tensor):
            # Tensors are immutable, so the Parameter may share the array instead of copying it.
            self._data = np.asarray(data._concrete(), dtype=self._data.dtype)
        else:
            self._data = np.array(data, dtype=self._data.dtype)
        return self

    def assign_value(self, data) -> Parameter:
        return self.set_data(data)

    def value(self) -> Tensor:
        """The current value as a plain Tensor (MindSpore's ``Parameter.value()``)."""
        current = self._current()
        return Tensor._wrap(current._data) if current is self else current

    def clone(self, init="same") -> Parameter:
        """A new Parameter of this one's name, shape, dtype and ``requires_grad``: a copy of the value (``init='same'``)
        or filled by ``init`` (an initializer name, Initializer or number), as MindSpore's ``Parameter.clone``."""
        from funcad.nn.initializer import initializer  # the initializers build Tensors: imported when first needed

        data = np.array(self._data) if isinstance(init, str) and init == "same" else initializer(init, self.shape, self.dtype)
        return self._same_naming(Parameter(data, name=self.name, requires_grad=self.requires_grad))

    def _same_naming(self, other: Parameter) -> Parameter:
        """``other`` named by a Cell as this one is: by the name it was made with, or else by its attribute."""
        other._given_name = getattr(self, "_given_name", None)
        return other

    def set_dtype(self, dtype) -> Parameter:
        """Convert the stored value to ``dtype`` in place (MindSpore's name); ``set_data`` keeps the dtype instead."""
        if parameter_hooks.write is not None:
            raise RuntimeError(f"Parameter {self.name!r}: set_dtype cannot run inside funcad.jit; convert before compiling")
        self._data = self._data.astype(np.dtype(dtype), copy=False)
        return self

    @property
    def data(self) -> Parameter:
        return self

    def __repr__(self) -> str:
        return f"Parameter (name={self.name}, shape={self.shape}, dtype={self.dtype}, requires_grad={self.requires_grad})"

    __str__ = __repr__  # print(parameter) names it, as MindSpore's does; print(parameter[:2]) shows values

    def __deepcopy__(self, memo):
        return self._same_naming(Parameter(self._data.copy(), name=self.name, requires_grad=self.requires_grad))
