"""``vmap`` over an ``nn.CellList``: model ensembling, as MindSpore's ``vmap(CellList, in_axes, out_axes)`` does it.

The cells must have the same structure. Their Parameters (and the state of the optimizers they hold, such as a
``TrainOneStepCell``'s momentum) are stacked along a new leading axis, one row per cell, and the first cell's
``construct`` runs once, batched over that axis, with its Parameters bound to the stacked values. Inputs are mapped
by ``in_axes`` (``None``: the same input for every cell); the batch size is the number of cells. Parameters written
inside (an optimizer step) are written back row by row into each cell's own Parameters after the call, so an
ensemble trains exactly as the cells trained one by one would. Each optimizer's learning rate is a Parameter (as
MindSpore's), stacked with the rest, so the vmap tutorial's ensemble of Adams with four rates trains each with its
own; numbers that differ between the cells (a Cell's float attributes) are batched the same way; other plain
attributes (bools, strings) must agree.
"""

from __future__ import annotations

from collections.abc import Callable

from funcad import ops
from funcad.common import dtype as mstype
from funcad.core.batching import BatchTracer, vmap
from funcad.core.dtypes import DType
from funcad.core.tensor import Parameter, Tensor, parameter_hooks
from funcad.core.trace import Tracer
from funcad.nn.cell import Cell
from funcad.nn.optim.optimizer import Optimizer


def _owners(cell: Cell):
    """The cells below ``cell`` (itself included), the optimizers they hold and those optimizers' learning-rate
    schedule Cells, by path."""
    for path, sub in cell.cells_and_names():
        yield path, sub
        for attr, value in vars(sub).items():
            if isinstance(value, Optimizer):
                where = f"{path}.{attr}" if path else attr
                yield where, value
                if isinstance(value.learning_rate, Cell):
                    for inner, schedule in value.learning_rate.cells_and_names():
                        yield f"{where}.learning_rate" + (f".{inner}" if inner else ""), schedule


def _state(cell: Cell) -> list[tuple[str, Parameter]]:
    """A cell's Parameters, then the state of every optimizer a cell below it holds, by name."""
    items = list(cell.parameters_and_names())
    seen = {id(p) for _, p in items}
    for path, owner in _owners(cell):
        if isinstance(owner, Optimizer):
            for name, p in owner.parameters_and_names():
                if id(p) not in seen:
                    seen.add(id(p))
                    items.append((f"{path}.{name}", p))
    return items


def _plain(value) -> bool:
    return isinstance(value, (bool, int, float, str, type(None))) or (isinstance(value, tuple) and all(map(_plain, value)))


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers(cells: list[Cell]) -> list[tuple[object, str, list, DType]]:
    """(object in the first cell, attribute, that object in each cell, dtype) for each number that differs between
    the cells; a differing bool, string, None or tuple (a kernel size) is an error: it changes what the cells
    compute, not a value to batch."""
    varying = []
    listed = [list(_owners(c)) for c in cells]
    for i, owners in enumerate(listed):
        if [p for p, _ in owners] != [p for p, _ in listed[0]]:
            raise ValueError(f"vmap: CellList cell {i} holds {[p for p, _ in owners]}, cell 0 {[p for p, _ in listed[0]]}")
    for owners in zip(*listed):
        path, head = owners[0]
        rates = [owner.learning_rate for _, owner in owners if isinstance(owner, Optimizer)]
        if rates and not isinstance(rates[0], (int, float, Cell, Parameter)) and any(r is not rates[0] for r in rates):
            raise ValueError(f"vmap: CellList cells' {path!r} have different learning-rate lists or functions; "
                             "model ensembling batches numbers and schedule Cells of one structure only")
        for attr, value in vars(head).items():
            values = [vars(owner).get(attr) for _, owner in owners]
            if not _plain(value) or all(v == value for v in values):
                continue
            for i, other in enumerate(values):
                if other != value and not (_number(value) and _number(other)):
                    name = f"{path}.{attr}" if path else attr
                    raise ValueError(f"vmap: CellList cell {i}'s {name!r} is {other!r}, cell 0's {value!r}; "
                                     "model ensembling batches Parameters and numbers only")
            dtype = mstype.float32 if any(isinstance(v, float) for v in values) else mstype.int32
            varying.append((head, attr, [owner for _, owner in owners], dtype))
    return varying


def _columns(cells: list[Cell]) -> list[list[Parameter]]:
    """Per state entry, the Parameter of each cell; the cells must agree on type, names, shapes and dtypes."""
    states = [_state(c) for c in cells]
    first = states[0]
    if not first:
        raise ValueError("vmap: the CellList's cells have no Parameters to stack; vmap a function of the inputs instead")
    for i, (cell, state) in enumerate(zip(cells, states)):
        if type(cell) is not type(cells[0]):
            raise ValueError(f"vmap: CellList cell {i} is a {type(cell).__name__}, cell 0 a {type(cells[0]).__name__}; "
                             "model ensembling needs cells of one structure")
        if [n for n, _ in state] != [n for n, _ in first]:
            raise ValueError(f"vmap: CellList cell {i} has Parameters {[n for n, _ in state]}, cell 0 {[n for n, _ in first]}")
        for (name, p), (_, q) in zip(state, first):
            if p.shape != q.shape or p.dtype != q.dtype:
                raise ValueError(f"vmap: CellList cell {i}'s {name!r} is {p.dtype}{list(p.shape)}, cell 0's {q.dtype}{list(q.shape)}")
    return [[state[k][1] for state in states] for k in range(len(first))]


class _BoundWrites:
    """While the batched call runs: the first cell's Parameters read their stacked values, and writes to them
    rebind them to the new (batched) values instead of touching any array; other writes go where they would."""

    def __init__(self, targets: list[Parameter], stacked, trace):
        self.targets, self.stacked, self.trace = targets, stacked, trace
        self.index = {id(p): k for k, p in enumerate(targets)}
        self.written: dict = {}

    def __enter__(self):
        self.saved = [p._bound for p in self.targets]
        for p, value in zip(self.targets, self.stacked):
            p._bound = value
        self.previous = parameter_hooks.write
        parameter_hooks.write = self.write
        return self

    def __exit__(self, *exc):
        parameter_hooks.write = self.previous
        for p, bound in zip(self.targets, self.saved):
            p._bound = bound
        return False

    def write(self, param: Parameter, data) -> None:
        k = self.index.get(id(param))
        if k is None:
            parameter_hooks.write = self.previous
            try:
                param.set_data(data)
            finally:
                parameter_hooks.write = self.write
            return
        if isinstance(data, Parameter):
            data = data._current()
        while isinstance(data, Tracer) and data._trace.level > self.trace.level:
            data = data._value  # a transform running inside the ensemble call: keep the value, as set_data does
        if data.dtype != param.dtype:
            data = ops.cast(data, param.dtype)
        param._bound = data
        self.written[k] = data

    def batched(self, value, rows: int):
        """``value`` with the cells' axis: a value written unbatched (the same for every cell) is repeated."""
        if isinstance(value, BatchTracer) and value._trace is self.trace:
            return value
        shape = tuple(value.shape)
        return self.trace.wrap(ops.broadcast_to(ops.reshape(value, (1,) + shape), (rows,) + shape), 0)


def vmap_cells(cells, in_axes=0, out_axes=0) -> Callable:
    """The ensemble of ``cells`` (an ``nn.CellList``) as one function of the inputs (see the module doc)."""
    members = list(cells)
    if not members:
        raise ValueError("vmap: the CellList is empty")
    columns = _columns(members)
    head, targets = members[0], [column[0] for column in columns]
    numbers = _numbers(members)

    def ensemble(*args):
        axes = tuple(in_axes) if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
        if len(axes) != len(args):
            raise ValueError(f"vmap: in_axes has {len(axes)} entries for {len(args)} inputs of the CellList")
        written: list[int] = []

        def run(stacked, per_cell, *inputs):
            saved = [getattr(owner, attr) for owner, attr, _, _ in numbers]
            try:
                for (owner, attr, _, _), value in zip(numbers, per_cell):
                    setattr(owner, attr, value)
                with _BoundWrites(targets, stacked, stacked[0]._trace) as bound:
                    out = head(*inputs)
                    written.extend(sorted(bound.written))
                    finals = tuple(bound.batched(bound.written[k], len(members)) for k in written)
            finally:
                for (owner, attr, _, _), value in zip(numbers, saved):
                    setattr(owner, attr, value)
            return out, finals

        stacked = tuple(ops.stack(column) for column in columns)
        per_cell = tuple(Tensor([getattr(o, attr) for o in objects], dtype) for _, attr, objects, dtype in numbers)
        out, finals = vmap(run, in_axes=(0, 0, *axes), out_axes=(out_axes, 0))(stacked, per_cell, *args)
        for k, final in zip(written, finals):
            for row, p in enumerate(columns[k]):
                p.set_data(final[row])
        return out

    ensemble.__name__ = f"vmap({type(head).__name__} x {len(members)})"
    return ensemble
