"""Cell: the MindSpore-style module. Parameters and sub-Cells assigned as attributes are registered
in assignment order and named by attribute path, exactly like torch's ``state_dict`` keys."""

from __future__ import annotations

import contextlib
import copy
import functools
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, MutableMapping

import numpy as np

from funcad.context import GRAPH_MODE, _context
from funcad.core.dtypes import LOW_PRECISION, is_floating
from funcad.core.tensor import Parameter, Tensor
from funcad.core.trace import Tracer, current_depth
from funcad.jit.api import Jitted, jit
from funcad.nn import hooks, recompute
from funcad.nn.bprop import with_bprop
from funcad.ops.shape import cast, stop_gradient
from funcad.ops.state import assign


class Cell:
    """Base class of every layer and network; subclasses define ``construct``.

    A fresh Cell is in evaluation mode (``training`` is False), as in MindSpore; call
    ``set_train()`` before training layers whose behaviour depends on it (Dropout, BatchNorm).
    """

    def __init__(self, auto_prefix: bool = True):
        object.__setattr__(self, "_params", OrderedDict())
        object.__setattr__(self, "_cells", OrderedDict())
        object.__setattr__(self, "_owner", None)
        object.__setattr__(self, "_auto_prefix", bool(auto_prefix))
        object.__setattr__(self, "training", False)
        object.__setattr__(self, "requires_grad", False)

    # -- registration ------------------------------------------------------------------------
    def __setattr__(self, name: str, value) -> None:
        try:
            params, cells = self.__dict__["_params"], self.__dict__["_cells"]
        except KeyError:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes") from None
        if name in params and isinstance(value, (Tensor, np.ndarray)) and not isinstance(value, Parameter):
            # MindSpore's rule: a Tensor assigned to a Parameter's attribute is its new value (``self.step += 1`` in
            # construct updates the Parameter, eagerly and compiled); the Parameter stays registered
            params[name].set_data(value)
            return
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

    def __getattr__(self, name: str):
        """Children and Parameters registered by name (``insert_child_to_cell``, an OrderedDict's keys) read as
        attributes, as MindSpore's Cell finds them; called only when ordinary lookup fails."""
        for table in ("_cells", "_params"):
            found = self.__dict__.get(table, {})
            if name in found:
                return found[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

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

    def update_parameters_name(self, prefix: str = "", recurse: bool = True) -> None:
        """Put ``prefix`` before the names of this Cell's Parameters (and, with ``recurse``, of the Cells below it),
        joined as MindSpore joins it (``'generator'`` gives ``generatormodel.0.weight``): two networks of one
        program (a GAN's) then save distinct names in checkpoints. The prefix stays when the Cell is placed in
        another, which adds its own path before it."""
        if not isinstance(prefix, str):
            raise TypeError(f"{self._where()}: update_parameters_name's prefix must be a str, got {type(prefix).__name__}")
        object.__setattr__(self, "_names_prefix", (prefix, bool(recurse)))
        self._name_parameters()

    def _name_parameters(self) -> None:
        """Give every Parameter its path name from the outermost owning Cell (``fc1.weight``); as in MindSpore, a
        Cell made with ``auto_prefix=False`` (a training wrapper) adds no prefix for its children."""
        root = self
        while root._owner is not None:
            root = root._owner[0]
        for *_, p, named in root._owned_parameters():
            p.name = named

    def __deepcopy__(self, memo) -> Cell:
        """Copy this Cell and everything below it; a copied sub-Cell becomes a root (its owner is not copied)."""
        clone = object.__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            if key == "_graph_programs" or _is_compiled(value):
                continue  # compiled programs belong to the original's Parameters; the copy compiles its own
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

    _compute_dtype = None  # set by to_float: inputs and trainable parameters are cast to it while construct runs
    _output_dtype = None  # set by funcad.amp: floating-point outputs are cast back to it

    def __call__(self, *args, **kwargs):
        if self.requires_grad:
            return self._call_once_per_step(args, kwargs)
        return self._call(args, kwargs)

    def _call(self, args, kwargs):
        if self._compute_dtype is None and self._output_dtype is None and _context["mode"] != GRAPH_MODE and not self._wrapped:
            return self.construct(*args, **kwargs)
        if _context["mode"] == GRAPH_MODE and not current_depth():
            return self._compiled_call(args, kwargs)
        return self._run(args, kwargs)

    def _call_once_per_step(self, args, kwargs):
        """A Cell marked by ``set_grad()`` (as training cells mark their network) that a gradient transform runs again
        on the very inputs it was just called with (the model zoo's ``loss = self.network(*inputs)`` followed by
        ``self.grad(self.network, weights)(*inputs, sens)``) keeps the state its first run wrote: BatchNorm's moving
        statistics move once per step, as MindSpore's PyNative mode reuses the forward ``set_grad`` recorded and its
        graph mode merges the two."""
        last = self.__dict__.get("_last_forward")
        depth = current_depth()
        object.__setattr__(self, "_last_forward", None)
        if (last is not None and depth > last[0] and not kwargs and len(args) == len(last[1])
                and all(_untraced(a) is _untraced(b) for a, b in zip(args, last[1]))):
            states = [p for p in self.get_parameters() if not p.requires_grad]
            kept = [_snapshot(p) for p in states]
            out = self._call(args, kwargs)
            for p, value in zip(states, kept):
                assign(p, value)
            return out
        out = self._call(args, kwargs)
        object.__setattr__(self, "_last_forward", (depth, args))
        return out

    def _run(self, args, kwargs):
        """construct under this Cell's precision settings (to_float and funcad.amp)."""
        dtype = self._compute_dtype
        if dtype is None:
            out = self._construct(args, kwargs)
        else:
            args = tuple(_cast_float(a, dtype) for a in args)
            swapped = []
            try:
                # every trainable Parameter below, as this Cell's construct reads it (a sub-Cell's own run recasts its
                # Parameters to its own type, as MindSpore's graph of each Cell casts what it loads)
                for _, cell in self.cells_and_names():
                    for name, p in cell._params.items():
                        current = cell.__dict__.get(name)
                        if (p is not None and p.requires_grad and is_floating(p.dtype) and current is not None
                                and current.dtype != dtype):
                            swapped.append((cell, name, current))
                            object.__setattr__(cell, name, p if p.dtype == dtype else cast(p, dtype))
                out = self._construct(args, kwargs)
            finally:
                for cell, name, previous in reversed(swapped):
                    object.__setattr__(cell, name, previous)
        if self._output_dtype is not None:
            out = _cast_outputs(out, self._output_dtype)
        return out

    def _compiled_call(self, args, kwargs):
        """GRAPH_MODE: construct compiled by funcad.jit, one compiled function per set of training flags below."""
        programs = self.__dict__.get("_graph_programs")
        if programs is None:
            programs = {}
            object.__setattr__(self, "_graph_programs", programs)
        flags = tuple(cell.training for _, cell in self.cells_and_names())
        compiled = programs.get(flags)
        if compiled is None:
            compiled = programs[flags] = jit(lambda *a, **k: self._run(a, k))
            compiled.__name__ = f"{type(self).__name__}.construct"
        return compiled(*args, **kwargs)

    bprop = None  # a subclass's bprop(self, *inputs, out, dout) replaces construct's backward (funcad.nn.bprop)
    _wrapped = False  # True once the Cell has a bprop, recompute or hooks: calls go through _construct

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.bprop is not None:
            cls._wrapped = True

    def _construct(self, args, kwargs):
        """construct, through the Cell's bprop, recomputation and hooks when it has them."""
        run = with_bprop(self) if self.bprop is not None and not kwargs else self.construct
        if self.__dict__.get("_recompute") and not kwargs:
            run = functools.partial(recompute.call, self)
        if self.__dict__.get("_cell_hooks"):
            return hooks.call(self, args, kwargs, run)
        return run(*args, **kwargs)

    def recompute(self, mode: bool = True, **kwargs) -> Cell:
        """Recompute this Cell's activations in the backward pass instead of keeping them (funcad.nn.recompute)."""
        object.__setattr__(self, "_recompute", bool(mode))
        object.__setattr__(self, "_wrapped", True)
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
        """Compute this Cell and every Cell below it in ``dst_type`` (float16, bfloat16, float32 or float64), as MindSpore's
        ``to_float`` does (it sets the flag recursively): while a Cell so marked runs, its floating-point inputs and the
        trainable floating-point Parameters its construct reads are cast to ``dst_type`` (MindSpore's graph mode; its
        PyNative mode casts the inputs of each operation instead, tensors made inside construct included). Each call
        overwrites the type of the Cells it reaches, so the last call wins: ``net.to_float(float16)`` then
        ``net.bn.to_float(float32)`` keeps ``bn`` in float32, the other order does not. The stored Parameters keep
        their dtype (float32 master weights): gradients come back in it and optimizer updates happen in it, so updates
        too small for float16 still accumulate. Use ``set_dtype`` to convert the stored parameters instead.
        """
        dtype = self._float_type("to_float", dst_type)
        for _, cell in self.cells_and_names():
            object.__setattr__(cell, "_compute_dtype", dtype)
        return self

    def set_dtype(self, dst_type) -> Cell:
        """Convert every floating-point Parameter below this Cell (weights, biases, BatchNorm's moving statistics) to
        ``dst_type`` in place, keeping identities and names. Build the optimizer afterwards: its moments take the
        parameters' dtype when it is created."""
        dtype = self._float_type("set_dtype", dst_type)
        for _, p in self.parameters_and_names():
            if is_floating(p.dtype):
                p.set_dtype(dtype)
        return self

    def _float_type(self, method: str, dst_type) -> np.dtype:
        dtype = np.dtype(dst_type)
        if dtype not in _FLOAT_TYPES:
            raise ValueError(f"{self._where()}: {method} takes one of {', '.join(t.name for t in _FLOAT_TYPES)}, got {dtype.name}")
        return dtype

    def set_train(self, mode: bool = True) -> Cell:
        for _, cell in self.cells_and_names():
            object.__setattr__(cell, "training", bool(mode))
            object.__setattr__(cell, "_phase", "train" if mode else "predict")
        return self

    @property
    def phase(self) -> str:
        """MindSpore's name of the Cell's compile phase: 'train' until ``set_train(False)`` makes it 'predict'."""
        return self.__dict__.get("_phase", "train")

    @phase.setter
    def phase(self, value: str) -> None:
        object.__setattr__(self, "_phase", value)

    def set_grad(self, requires_grad: bool = True) -> Cell:
        """MindSpore's flag that a Cell will be differentiated (its PyNative mode records the forward for it). funcad
        differentiates any Cell; the flag, kept as ``requires_grad``, makes a gradient of the Cell on the inputs it was
        just called with leave the state that call wrote as it was (see ``_call_once_per_step``)."""
        object.__setattr__(self, "requires_grad", bool(requires_grad))
        return self

    # -- MindSpore's compiler hints: recorded, without effect here ---------------------------------
    def add_flags(self, **flags) -> Cell:
        """Record compiler flags (``defer_inline=True``, ``fp16=True``, ...), which MindSpore's graph compiler reads;
        funcad compiles without them, so ``get_flags()`` only returns them."""
        self.__dict__.setdefault("_flags", {}).update(flags)
        return self

    def add_flags_recursive(self, **flags) -> Cell:
        """``add_flags`` on this Cell and every Cell below it."""
        for _, cell in self.cells_and_names():
            cell.add_flags(**flags)
        return self

    def get_flags(self) -> dict:
        return dict(self.__dict__.get("_flags", {}))

    def init_parameters_data(self, auto_parallel_mode: bool = False) -> dict:
        """MindSpore initialises delayed Parameters here (the model zoo calls it before setting weights by hand);
        funcad's hold their values from the start. Returns MindSpore's ``{original: initialised}`` mapping, each
        Parameter to itself."""
        return {p: p for p in self.get_parameters()}

    def set_inputs(self, *inputs) -> None:
        """MindSpore declares dynamic input shapes with this; funcad compiles one program per input signature, so
        the declaration is not needed and is ignored."""

    def set_comm_fusion(self, fusion_type: int, recurse: bool = True) -> None:
        """Gradient communication fusion of distributed training: one device here, nothing to fuse."""

    @property
    def cls_name(self) -> str:
        """The Cell's class name (MindSpore's custom Cells and optimizers name themselves with it in messages)."""
        return type(self).__name__

    @contextlib.contextmanager
    def training_mode(self, mode: bool) -> Iterator[Cell]:
        """``set_train(mode)`` inside a ``with`` block; each Cell's own flag comes back after it (for tracers)."""
        modes = [(cell, cell.training) for _, cell in self.cells_and_names()]
        self.set_train(mode)
        try:
            yield self
        finally:
            for cell, old in modes:
                object.__setattr__(cell, "training", old)

    # -- traversal (iterative: deep nets must not hit the recursion limit) --------------------------
    def _walk(self, name_prefix: str = "") -> Iterator[tuple[str, str, Cell]]:
        """``(path, parameter-name lead, cell)`` for this Cell and every Cell below it, depth-first, each Cell
        once; a lead is the text put before the names of the cell's own Parameters: it leaves out the children's
        names of Cells made with ``auto_prefix=False`` and holds the prefixes of ``update_parameters_name``."""
        seen = set()
        stack = [(name_prefix, f"{name_prefix}." if name_prefix else "", self)]
        while stack:
            name, lead, cell = stack.pop()
            if id(cell) in seen:
                continue
            seen.add(id(cell))
            prefix, recurse = getattr(cell, "_names_prefix", ("", True))
            yield name, lead + prefix, cell
            inner = cell._auto_prefix
            lead = lead + prefix if recurse else lead
            children = [(_dotted(name, child_name), f"{lead}{child_name}." if inner else lead, child)
                        for child_name, child in cell._cells.items() if child is not None]
            stack.extend(reversed(children))

    def cells_and_names(self, name_prefix: str = "") -> Iterator[tuple[str, Cell]]:
        """``(path, cell)`` for this Cell and every Cell below it, depth-first, each Cell once."""
        for name, _, cell in self._walk(name_prefix):
            yield name, cell

    def name_cells(self) -> OrderedDict:
        return OrderedDict(self._cells)

    def cells(self) -> Iterator[Cell]:
        return iter(self._cells.values())

    def apply(self, fn: Callable[[Cell], object]) -> Cell:
        """MindSpore's ``Cell.apply``: ``fn(cell)`` on every sub-Cell, children before their parent, then on this
        Cell (how its tutorials initialise weights); returns this Cell."""
        for cell in self.cells():
            cell.apply(fn)
        fn(self)
        return self

    def _owned_parameters(self, name_prefix: str = "", expand: bool = True):
        """(path of owning cell, owning cell, attribute name, parameter, its name under ``auto_prefix``: the name the
        Parameter was made with, else the attribute's), each shared Parameter once."""
        seen = set()
        cells = self._walk(name_prefix) if expand else [next(self._walk(name_prefix))]
        for prefix, lead, cell in cells:
            for name, p in cell._params.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield prefix, cell, name, p, lead + (getattr(p, "_given_name", None) or name)

    def parameters_and_names(self, name_prefix: str = "", expand: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(path, parameter)`` pairs in registration order, each shared Parameter once."""
        for prefix, _, name, p, _ in self._owned_parameters(name_prefix, expand):
            yield (f"{prefix}.{name}" if prefix else name), p

    def torch_parameter_names(self) -> OrderedDict:
        """funcad parameter name -> torch state_dict key. They differ only for layers whose names follow
        MindSpore; such a Cell class declares ``torch_names``, renaming its own parameters (BatchNorm's gamma ->
        weight) or its sub-Cells (TransformerEncoderLayer's dense1 -> linear1)."""
        torch_paths = {"": ""}
        for path, cell in self.cells_and_names():
            renames = getattr(cell, "torch_names", {})
            for child_name, child in cell._cells.items():
                child_path = f"{path}.{child_name}" if path else child_name
                if child is not None and child_path not in torch_paths:
                    torch_paths[child_path] = _dotted(torch_paths[path], renames.get(child_name, child_name))
        out = OrderedDict()
        for prefix, cell, name, *_ in self._owned_parameters():
            torch_name = getattr(cell, "torch_names", {}).get(name, name)
            out[f"{prefix}.{name}" if prefix else name] = _dotted(torch_paths[prefix], torch_name)
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


def _dotted(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


_FLOAT_TYPES = (*LOW_PRECISION, np.dtype(np.float32), np.dtype(np.float64))


def _cast_float(value, dtype: np.dtype):
    """``value`` in ``dtype`` when it is a floating-point array or Tensor of another precision; else unchanged."""
    if isinstance(value, (Tensor, np.ndarray)) and is_floating(value.dtype) and value.dtype != dtype:
        return cast(value, dtype)
    return value


def _cast_outputs(out, dtype: np.dtype):
    """Floating-point Tensors in a (possibly nested tuple or list) output cast to ``dtype``."""
    if isinstance(out, (tuple, list)):
        return type(out)(_cast_outputs(o, dtype) for o in out)
    return _cast_float(out, dtype)


def _is_compiled(value) -> bool:
    return isinstance(value, Jitted)


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


class CellDict(Cell, MutableMapping):
    """Cells by name, in insertion order (MindSpore's ``nn.CellDict``, torch's ``ModuleDict``), with a dict's methods;
    no construct of its own. Built from a mapping or from (name, cell) pairs."""

    def __init__(self, cells=None):
        super().__init__()
        if cells is not None:
            self.update(cells)

    def __getitem__(self, key: str) -> Cell:
        return self._cells[key]

    def __setitem__(self, key: str, cell: Cell) -> None:
        self.insert_child_to_cell(key, cell)

    def __delitem__(self, key: str) -> None:
        del self._cells[key]

    def __iter__(self):
        return iter(self._cells)

    def __len__(self) -> int:
        return len(self._cells)


class CellList(_CellContainer):
    """A list of Cells registered as ``"0"``, ``"1"``, ...; it has no construct of its own."""

    def __init__(self, cells: Iterable[Cell] | None = None):
        super().__init__()
        if cells is not None:
            self.extend(cells)

    def __vmap__(self, in_axes, out_axes):
        """``funcad.vmap(cell_list, in_axes, out_axes)``: the cells as one ensemble (``funcad.nn.ensemble``)."""
        from funcad.nn.ensemble import vmap_cells  # the ensemble needs the optimizers, which need this module

        return vmap_cells(self, in_axes, out_axes)

    def extend(self, cells: Iterable[Cell]) -> CellList:
        for cell in cells:
            self.append(cell)
        return self


def _untraced(value):
    """The value under every transform's tracer: a gradient taken with respect to the inputs (``get_all=True``)
    hands the Cell tracers of the very Tensors its forward was called with."""
    while isinstance(value, Tracer):
        value = value._value
    return value


def _snapshot(p: Parameter) -> Tensor:
    """A Parameter's current value, kept apart from later in-place writes (a copy eagerly; the traced value under a
    transform)."""
    value = stop_gradient(p)
    return value if isinstance(value, Tracer) else Tensor(np.array(p.asnumpy()))
