"""Cell: the MindSpore-style module. Parameters and sub-Cells assigned as attributes are registered
in assignment order and named by attribute path, exactly like torch's ``state_dict`` keys."""

from __future__ import annotations

import copy
import functools
from collections import OrderedDict
from collections.abc import Iterable, Iterator

import numpy as np

from funcad.core.tensor import Parameter, Tensor
from funcad.nn import hooks, recompute
from funcad.nn.bprop import with_bprop
from funcad.ops.shape import cast


class Cell:
    """Base class of every layer and network; subclasses define ``construct``.

    A fresh Cell is in evaluation mode (``training`` is False), as in MindSpore; call
    ``set_train()`` before training layers whose behaviour depends on it (Dropout, BatchNorm).
    """

    def __init__(self):
        object.__setattr__(self, "_params", OrderedDict())
        object.__setattr__(self, "_cells", OrderedDict())
        object.__setattr__(self, "_owner", None)
        object.__setattr__(self, "training", False)

    # -- registration ------------------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        try:
            params, cells = self.__dict__["_params"], self.__dict__["_cells"]
        except KeyError:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes") from None
        params.pop(name, None)
        cells.pop(name, None)
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Cell):
            cells[name] = value
            value._adopt(self, name)
        object.__setattr__(self, name, value)
        if isinstance(value, (Parameter, Cell)):
            self._name_parameters()

    def __delattr__(self, name: str) -> None:
        self._params.pop(name, None)
        self._cells.pop(name, None)
        object.__delattr__(self, name)

    def insert_child_to_cell(self, child_name: str, child_cell: Cell) -> None:
        """Register ``child_cell`` under ``child_name`` (names need not be identifiers, e.g. ``"0"``)."""
        if not isinstance(child_cell, Cell):
            raise TypeError(f"{self._where()}: child {child_name!r} must be a Cell, got {type(child_cell).__name__}")
        self._cells[child_name] = child_cell
        child_cell._adopt(self, child_name)
        self._name_parameters()

    def insert_param_to_cell(self, param_name: str, param: Parameter) -> None:
        if not isinstance(param, Parameter):
            raise TypeError(f"{self._where()}: {param_name!r} must be a Parameter, got {type(param).__name__}")
        self._params[param_name] = param
        self._name_parameters()

    def _adopt(self, owner: Cell, name: str) -> None:
        """Remember the first Cell this one was registered in: its path in error messages."""
        if self._owner is None:
            object.__setattr__(self, "_owner", (owner, name))

    def _name_parameters(self) -> None:
        """Give every Parameter its path name from the outermost owning Cell (``fc1.weight``)."""
        root = self
        while root._owner is not None:
            root = root._owner[0]
        for name, p in root.parameters_and_names():
            p.name = name

    def __deepcopy__(self, memo) -> Cell:
        """Copy this Cell and everything below it; a copied sub-Cell becomes a root (its owner is not copied)."""
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            if key == "_owner":
                value = (memo[id(value[0])], value[1]) if value is not None and id(value[0]) in memo else None
            else:
                value = copy.deepcopy(value, memo)
            object.__setattr__(clone, key, value)
        if clone._owner is None:
            clone._name_parameters()
        return clone

    # -- where am I ------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """Dotted attribute path from the outermost owning Cell ('' for the root)."""
        parts = []
        cell = self
        while cell._owner is not None:
            cell, name = cell._owner
            parts.append(name)
        return ".".join(reversed(parts))

    def _where(self) -> str:
        path = self.path
        return f"{type(self).__name__} '{path}'" if path else f"{type(self).__name__} (root)"

    # -- calling ------------------------------------------------------------------------------------
    def construct(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define construct()")

    _input_dtype = None  # set by to_float: floating-point inputs are cast to it on the way in

    def __call__(self, *args, **kwargs):
        if self._input_dtype is not None:
            args = tuple(_cast_float(a, self._input_dtype) for a in args)
        run = with_bprop(self) if getattr(type(self), "bprop", None) is not None and not kwargs else self.construct
        if self.__dict__.get("_recompute") and not kwargs:
            run = functools.partial(recompute.call, self)
        if self.__dict__.get("_cell_hooks"):
            return hooks.call(self, args, kwargs, run)
        return run(*args, **kwargs)

    def recompute(self, mode: bool = True, **kwargs) -> Cell:
        """Recompute this Cell's activations in the backward pass instead of keeping them (funcad.nn.recompute)."""
        object.__setattr__(self, "_recompute", bool(mode))
        return self

    # MindSpore's hooks (funcad.nn.hooks says when each runs); each returns a handle with remove()
    def register_forward_pre_hook(self, hook_fn):
        return hooks.register(self, "forward_pre", hook_fn)

    def register_forward_hook(self, hook_fn):
        return hooks.register(self, "forward", hook_fn)

    def register_backward_pre_hook(self, hook_fn):
        return hooks.register(self, "backward_pre", hook_fn)

    def register_backward_hook(self, hook_fn):
        return hooks.register(self, "backward", hook_fn)

    def to_float(self, dst_type) -> Cell:
        """Run this Cell in ``dst_type`` (float16, float32 or float64): every floating-point Parameter below it
        (weights, biases, BatchNorm's moving statistics) is converted in place, keeping its identity and name,
        and floating-point array inputs of this Cell are cast to ``dst_type`` when it is called.

        MindSpore's ``to_float`` casts the inputs and parameters as the Cell runs and keeps the stored ones;
        funcad converts the stored parameters, so gradients and optimizer updates happen in ``dst_type`` too.
        Build the optimizer after converting: its moments take the parameters' dtype when it is created.
        """
        dtype = np.dtype(dst_type)
        if dtype not in _FLOAT_TYPES:
            raise ValueError(f"{self._where()}: to_float takes one of {', '.join(t.name for t in _FLOAT_TYPES)}, got {dtype.name}")
        for _, p in self.parameters_and_names():
            if np.issubdtype(p.dtype, np.floating):
                p.set_dtype(dtype)
        object.__setattr__(self, "_input_dtype", dtype)
        return self

    def set_train(self, mode: bool = True) -> Cell:
        for _, cell in self.cells_and_names():
            object.__setattr__(cell, "training", bool(mode))
        return self

    # -- traversal (iterative: deep nets must not hit the recursion limit) --------------------------
    def cells_and_names(self, name_prefix: str = "") -> Iterator[tuple[str, Cell]]:
        """``(path, cell)`` for this Cell and every Cell below it, depth-first, each Cell once."""
        seen = set()
        stack = [(name_prefix, self)]
        while stack:
            name, cell = stack.pop()
            if id(cell) in seen:
                continue
            seen.add(id(cell))
            yield name, cell
            children = [(f"{name}.{child_name}" if name else child_name, child) for child_name, child in cell._cells.items() if child is not None]
            stack.extend(reversed(children))

    def name_cells(self) -> OrderedDict:
        return OrderedDict(self._cells)

    def cells(self) -> Iterator[Cell]:
        return iter(self._cells.values())

    def _owned_parameters(self, name_prefix: str = "", expand: bool = True):
        """(path of owning cell, owning cell, attribute name, parameter), each shared Parameter once."""
        seen = set()
        cells = self.cells_and_names(name_prefix=name_prefix) if expand else [(name_prefix, self)]
        for prefix, cell in cells:
            for name, p in cell._params.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield prefix, cell, name, p

    def parameters_and_names(self, name_prefix: str = "", expand: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(path, parameter)`` pairs in registration order, each shared Parameter once."""
        for prefix, _, name, p in self._owned_parameters(name_prefix, expand):
            yield (f"{prefix}.{name}" if prefix else name), p

    def torch_parameter_names(self) -> OrderedDict:
        """funcad parameter name -> torch state_dict key. They differ only for layers whose names follow
        MindSpore; such a Cell class declares ``torch_names`` (e.g. BatchNorm's gamma -> weight)."""
        out = OrderedDict()
        for prefix, cell, name, _ in self._owned_parameters():
            torch_name = getattr(cell, "torch_names", {}).get(name, name)
            out[f"{prefix}.{name}" if prefix else name] = f"{prefix}.{torch_name}" if prefix else torch_name
        return out

    def get_parameters(self, expand: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.parameters_and_names(expand=expand))

    def parameters_dict(self) -> OrderedDict:
        return OrderedDict(self.parameters_and_names())

    def trainable_params(self, recurse: bool = True) -> list[Parameter]:
        """The Parameters gradients are taken for (``requires_grad``), in registration order."""
        return [p for p in self.get_parameters(expand=recurse) if p.requires_grad]

    def untrainable_params(self, recurse: bool = True) -> list[Parameter]:
        return [p for p in self.get_parameters(expand=recurse) if not p.requires_grad]

    # -- display ----------------------------------------------------------------------------------------
    def extend_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extend_repr()}"]
        for name, child in self._cells.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + (")" if len(lines) == 1 else "\n)")


_FLOAT_TYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _cast_float(value, dtype: np.dtype):
    """``value`` in ``dtype`` when it is a floating-point array or Tensor of another precision; else unchanged."""
    if isinstance(value, (Tensor, np.ndarray)) and np.issubdtype(value.dtype, np.floating) and value.dtype != dtype:
        return cast(value, dtype)
    return value


class _CellContainer(Cell):
    """Indexing, length, iteration and append shared by SequentialCell and CellList; a slice keeps the type."""

    def __getitem__(self, index):
        cells = list(self._cells.values())
        if isinstance(index, slice):
            return type(self)(cells[index])
        return cells[index]

    def __len__(self) -> int:
        return len(self._cells)

    def __iter__(self):
        return iter(self._cells.values())

    def append(self, cell: Cell):
        self.insert_child_to_cell(str(len(self._cells)), cell)
        return self


class SequentialCell(_CellContainer):
    """Cells applied in order; children are named ``"0"``, ``"1"``, ... (or by an OrderedDict's keys)."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            items = list(args[0].items())
        else:
            cells = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
            items = [(str(i), c) for i, c in enumerate(cells)]
        for name, cell in items:
            self.insert_child_to_cell(name, cell)

    def construct(self, x):
        for cell in self._cells.values():
            x = cell(x)
        return x


class CellList(_CellContainer):
    """A list of Cells registered as ``"0"``, ``"1"``, ...; it has no construct of its own."""

    def __init__(self, cells: Iterable[Cell] | None = None):
        super().__init__()
        if cells is not None:
            self.extend(cells)

    def extend(self, cells: Iterable[Cell]) -> CellList:
        for cell in cells:
            self.append(cell)
        return self
