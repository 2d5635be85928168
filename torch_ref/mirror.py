"""``mirror(cell)``: the torch twin of a funcad Cell, with torch's layer classes and names and the same weights.

Layers translate class by class through ``torch_ref.layer_table`` (Dense -> Linear, BatchNorm2d's momentum 0.9 ->
0.1, ...); ``SequentialCell`` becomes ``nn.Sequential`` and ``CellList`` ``nn.ModuleList`` under the same child
names. A user's Cell is mirrored by its children: its ``construct`` is read from source and each statement becomes
a node of a ``torch.fx.GraphModule`` holding the mirrored children under the same names. ``construct`` may assign
names, call children (``self.conv1(x)``), read its own Parameters (``self.w``), combine values with arithmetic
operators and comparisons, index them with constants (``h[:, 0]``), call the funcad ops of ``torch_ref.op_table``
(``ops.matmul``) and return; anything else (a branch, a loop, an op without a translation) is a ``TranslationError``
naming the Cell's path and class and the source line.
"""

from __future__ import annotations

import ast
import inspect
import operator
import textwrap
from collections import OrderedDict

import numpy as np
import torch
from torch import fx

from funcad.core.tensor import Parameter
from funcad.nn.cell import Cell, CellList, SequentialCell
from torch_ref import layer_table, op_table
from torch_ref.arrays import from_numpy, torch_dtype
from torch_ref.layer_table import TranslationError, where
from torch_ref.to_funcad import TracedCell
from torch_ref.twin import Translation, Twin, copy_weights, float_dtype, joined

_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
              ast.MatMult: operator.matmul, ast.Pow: operator.pow}
_COMPARISONS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
                ast.GtE: operator.ge}


def mirror(cell: Cell) -> torch.nn.Module:
    """The torch twin of ``cell``, holding a copy of its current weights (see ``mirror_twin`` for the name maps)."""
    return mirror_twin(cell).module


def mirror_twin(cell: Cell) -> Twin:
    """``cell``, its torch twin and the maps between their parameter names and layer paths."""
    if not isinstance(cell, Cell):
        raise TypeError(f"mirror: expected a funcad Cell, got {type(cell).__name__}")
    builder = _Mirror()
    module = builder.translate(cell, "")
    dtype = float_dtype(p for _, p in cell.parameters_and_names())
    if dtype is not None:
        module.to(torch_dtype(dtype))
    twin = Twin(cell, module, builder.parameter_names(cell), builder.module_paths)
    copy_weights(twin, to_torch=True)
    return twin


class _Mirror(Translation):
    """One translation, funcad -> torch."""

    def translate(self, cell: Cell, path: str) -> torch.nn.Module:
        rule = layer_table.BY_FUNCAD_TYPE.get(type(cell))
        if rule is not None:
            module = self.by_rule(rule.to_torch, cell, path)
            self.layer(path, rule.torch_names(cell))
            return module
        self.container(path, [name for name, p in cell._params.items() if p is not None])
        children = OrderedDict((name, self.translate(child, joined(path, name))) for name, child in cell._cells.items() if child is not None)
        if isinstance(cell, SequentialCell) and type(cell).construct is SequentialCell.construct:
            return torch.nn.Sequential(children)
        if isinstance(cell, CellList) and type(cell).construct is Cell.construct:
            return torch.nn.ModuleList(children.values())
        if type(cell).construct is Cell.construct or isinstance(cell, TracedCell):
            holder = torch.nn.Module()
            _attach(holder, children, cell._params)
            return holder if type(cell).construct is Cell.construct else fx.GraphModule(holder, cell.program.graph, cell.traced_name)
        return _ConstructTranslator(cell, path, children).graph_module()


def _attach(module: torch.nn.Module, children: OrderedDict, params) -> None:
    """Register the Cell's own Parameters (trainable ones as parameters, the rest as buffers) and its mirrored children."""
    for name, p in params.items():
        if p is None:
            continue
        value = from_numpy(np.zeros(p.shape, p.dtype))
        if p.requires_grad:
            module.register_parameter(name, torch.nn.Parameter(value))
        else:
            module.register_buffer(name, value)
    for name, child in children.items():
        module.add_module(name, child)


class _ConstructTranslator:
    """A user Cell's ``construct``, statement by statement, as a torch.fx graph over the mirrored children."""

    def __init__(self, cell: Cell, path: str, children: OrderedDict):
        self.cell, self.path, self.children = cell, path, children
        function = type(cell).construct
        self.globals = function.__globals__
        try:
            lines, self.first_line = inspect.getsourcelines(function)
        except (OSError, TypeError) as exc:
            raise TranslationError(f"{where(path, cell)}: the source of construct cannot be read ({exc}), so it cannot be mirrored") from None
        self.file = inspect.getsourcefile(function) or "<unknown>"
        self.tree = ast.parse(textwrap.dedent("".join(lines))).body[0]
        self.graph = fx.Graph()
        self.env: dict[str, object] = {}

    def fail(self, node: ast.AST, why: str) -> TranslationError:
        line = self.first_line + getattr(node, "lineno", 1) - 1
        return TranslationError(f"{where(self.path, self.cell)}: construct cannot be mirrored: {why}, at {self.file}:{line}: "
                                f"{ast.unparse(node).splitlines()[0]}")

    def graph_module(self) -> fx.GraphModule:
        args = self.tree.args
        if args.vararg or args.kwarg or args.kwonlyargs:
            raise self.fail(self.tree, "*args, **kwargs and keyword-only arguments are not supported")
        for arg in args.args[1:]:
            self.env[arg.arg] = self.graph.placeholder(arg.arg)
        for statement in self.tree.body:
            if self.statement(statement):
                break
        else:
            raise self.fail(self.tree, "construct has no return statement")
        root = torch.nn.Module()
        _attach(root, self.children, self.cell._params)
        module = fx.GraphModule(root, self.graph, class_name=type(self.cell).__name__)
        for name, child in self.children.items():  # unused children keep their weights; order as in the Cell
            module._modules[name] = module._modules.pop(name, child)
        return module

    def statement(self, node: ast.stmt) -> bool:
        """Translate one statement; True after ``return``."""
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return False
        if isinstance(node, ast.Return):
            self.graph.output(self.expression(node.value))
            return True
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            self.bind(node.targets[0], self.expression(node.value))
            return False
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and type(node.op) in _OPERATORS:
            self.env[node.target.id] = self.graph.call_function(_OPERATORS[type(node.op)], (self.name(node.target), self.expression(node.value)))
            return False
        kind = "Python control flow" if isinstance(node, (ast.If, ast.For, ast.While, ast.Try, ast.With)) else "a statement"
        raise self.fail(node, f"{kind} other than assignments, calls and return")

    def bind(self, target: ast.expr, value) -> None:
        if isinstance(target, ast.Name):
            self.env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            for i, t in enumerate(target.elts):
                self.bind(t, self.graph.call_function(operator.getitem, (value, i)))
        else:
            raise self.fail(target, "only names and (nested) tuples of names can be assigned")

    def name(self, node: ast.Name):
        if node.id not in self.env:
            raise self.fail(node, f"{node.id!r} is not an input or a value computed before")
        return self.env[node.id]

    def expression(self, node: ast.expr):
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, type(None))):
            return node.value
        if isinstance(node, (ast.Tuple, ast.List)):
            return tuple(self.expression(e) for e in node.elts)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return self.graph.call_function(_OPERATORS[type(node.op)], (self.expression(node.left), self.expression(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return self.graph.call_function(operator.neg, (self.expression(node.operand),))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            return self.own_attribute(node)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARISONS:
            return self.graph.call_function(_COMPARISONS[type(node.ops[0])], (self.expression(node.left), self.expression(node.comparators[0])))
        if isinstance(node, ast.Subscript):
            return self.graph.call_function(operator.getitem, (self.expression(node.value), self.index(node.slice)))
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(node, f"{type(node).__name__} expressions are not supported")

    def index(self, node: ast.expr):
        """An index of constants: ``-1``, ``:, 0``, ``1:3``."""
        if isinstance(node, ast.Slice):
            return slice(*(None if part is None else self.index(part) for part in (node.lower, node.upper, node.step)))
        if isinstance(node, ast.Tuple):
            return tuple(self.index(e) for e in node.elts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            return -node.operand.value
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        raise self.fail(node, "an index must be made of integer constants and slices")

    def own_attribute(self, node: ast.Attribute):
        """``self.w`` (a Parameter: a graph attribute) or ``self.scale`` (configuration: its current value)."""
        if node.attr == "training":
            raise self.fail(node, "self.training changes with set_train(), which a mirror built now cannot follow")
        value = getattr(self.cell, node.attr, None)
        if isinstance(value, Parameter):
            return self.graph.get_attr(node.attr)
        if isinstance(value, (int, float, bool, str, tuple)) or value is None:
            return value
        raise self.fail(node, f"self.{node.attr} ({type(value).__name__}) is neither a Parameter nor a constant")

    def call(self, node: ast.Call):
        args = tuple(self.expression(a) for a in node.args)
        kwargs = {k.arg: self.expression(k.value) for k in node.keywords if k.arg is not None}
        if len(kwargs) != len(node.keywords) or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, "*args and **kwargs in calls are not supported")
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
            if func.attr in self.children:
                return self.graph.call_module(func.attr, args, kwargs)
            raise self.fail(node, f"self.{func.attr} is not a child Cell")
        try:
            torch_fn, renames, defaults = op_table.torch_function(self.resolve(func))
        except op_table.NoTranslation as exc:
            raise self.fail(node, str(exc)) from None
        kwargs = {renames.get(k, k): v for k, v in kwargs.items()}
        if len(args) <= 1:
            kwargs = {**defaults, **kwargs}
        return self.graph.call_function(torch_fn, args, kwargs)

    def resolve(self, node: ast.expr):
        """The object a dotted name such as ``ops.matmul`` refers to in construct's module."""
        if isinstance(node, ast.Name) and node.id in self.globals:
            return self.globals[node.id]
        if isinstance(node, ast.Attribute):
            owner = self.resolve(node.value)
            if hasattr(owner, node.attr):
                return getattr(owner, node.attr)
        raise self.fail(node, "the called function cannot be resolved in construct's module")
