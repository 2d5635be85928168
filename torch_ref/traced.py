"""A user Cell's ``construct`` as torch: traced by funcad.jit's tracer into funcad's IR, emitted as a ``torch.fx``
``GraphModule`` that runs each primitive by its declared torch translation (``Primitive.torch``).

``torch_ref.mirror`` translates the Cell's layers and containers to torch modules first. While ``construct`` is traced,
a call of any of them is recorded as one node, emitted as a ``call_module`` of its twin, so layers stay torch modules
with torch's parameter names; what ``construct`` computes around them comes from its primitives. Python control flow
runs while tracing: loops unroll, and branches on configuration or on ``self.training`` (which follows the torch
module's ``train()``/``eval()``) take their side. A trace holds for one signature (input shapes and dtypes, other
arguments, training mode), so the module traces once per signature and keeps the graph. A primitive without a torch
translation, a traced value needed in Python (data-dependent control flow) or a Parameter written in ``construct``
is a ``TranslationError`` naming the Cell's path and class and the source line.
"""

from __future__ import annotations

import inspect
import linecache
import os
import sys
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np
import torch
from torch import fx

import funcad
from funcad.core import pytree
from funcad.core.seed import random_key
from funcad.core.tensor import Parameter, Tensor
from funcad.jit.ir import Const, Node, Var
from funcad.jit.tracing import ConcretizationError, JitTrace, JitTracer, trace_function
from funcad.nn.cell import Cell
from torch_ref import spectral_norm
from torch_ref.arrays import from_numpy, numpy_dtype
from torch_ref.layer_rule import TranslationError, where
from torch_ref.torch_translation import torch_callable, torch_value

_SKIPPED_DIRS = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in (funcad, sys.modules[__package__]))


class _ModuleCall:
    """The op of a recorded call of a mirrored layer or container (a node's ``prim``; never run)."""

    name = "call_module"


MODULE_CALL = _ModuleCall()


def user_line() -> str:
    """``file:line: source`` of the innermost frame outside funcad and torch_ref: the line of ``construct`` running."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_SKIPPED_DIRS):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    source = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno}: {source}"


class _Untranslatable(Exception):
    """Raised while tracing; ``TracedConstruct`` adds the Cell's path and class."""


class _MirrorTrace(JitTrace):
    """funcad.jit's trace, refusing at once (at the user's line) a primitive torch has no translation for and control
    flow on a traced value."""

    __slots__ = ()

    def process(self, prim, args, kwargs):
        if torch_callable(prim) is None:
            raise _Untranslatable(f"primitive {prim.name!r} has no torch translation (its 'torch' declaration), at {user_line()}")
        return super().process(prim, args, kwargs)

    def guard(self, var: Var) -> bool:
        """No path is taken on a traced value: funcad.jit guards one program per path, a torch graph has one path."""
        raise ConcretizationError("a torch twin runs one graph for every input value")


def attach(module: torch.nn.Module, children: Mapping[str, torch.nn.Module], params: Mapping[str, Parameter | None]) -> None:
    """Register a Cell's own Parameters (trainable ones as parameters, the rest as buffers) and its mirrored children."""
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


class TracedConstruct(torch.nn.Module):
    """The torch twin of a user Cell: its mirrored children and Parameters, and ``construct`` traced per signature.

    ``torch_names``: the Cell's parameter names (relative to it) -> torch names; ``module_paths``: the paths of its
    descendants mirrored as modules. ``graph_module(*args)`` is the ``torch.fx.GraphModule`` for those arguments.
    """

    def __init__(self, cell: Cell, path: str, children: Mapping[str, torch.nn.Module], torch_names: Mapping[str, str | None],
                 module_paths: list[str]):
        super().__init__()
        attach(self, children, cell._params)
        self._funcad_cell, self._path = cell, path
        self._torch_names, self._module_paths = dict(torch_names), list(module_paths)
        self._graphs: dict = {}

    def extra_repr(self) -> str:
        return f"construct of {type(self._funcad_cell).__name__}, traced per input signature"

    def __getstate__(self) -> dict:
        """Copies and pickles leave the traced graphs behind (they hold the original's modules); a copy traces afresh."""
        return {**self.__dict__, "_graphs": {}}

    def _apply(self, fn, *args, **kwargs):
        self._graphs.clear()  # traced constants follow a dtype or device change on the next trace
        return super()._apply(fn, *args, **kwargs)

    def forward(self, *args, **kwargs):
        return self.graph_module(*args, **kwargs)(*(a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)))

    def graph_module(self, *args, **kwargs) -> fx.GraphModule:
        """The traced ``construct`` for arguments like these: tensors (positional or keyword) are the graph's inputs, in that
        order; other values are fixed in it."""
        key = (self.training, tuple(_signature(a) for a in args), tuple((k, _signature(v)) for k, v in kwargs.items()))
        graph = self._graphs.get(key)
        if graph is None:
            graph = self._graphs[key] = self._trace(args, kwargs)
        return graph

    def _outermost_paths(self) -> list[str]:
        """The mirrored descendants construct may call: all but those inside a layer or another traced Cell, which run whole."""
        transparent = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.Module)
        whole = [p + "." for p in self._module_paths if type(self.get_submodule(p)) not in transparent]
        return [p for p in self._module_paths if not p.startswith(tuple(whole))]

    def _trace(self, args: tuple, kwargs: dict) -> fx.GraphModule:
        cell = self._funcad_cell
        cells = dict(cell.cells_and_names())
        recorder = _Recorder(self)
        paths = [p for p in self._outermost_paths() if p in cells]
        own = {path: cells[path].__dict__.get("construct") for path in paths}  # a construct set on the instance (a layer capture)
        for path in paths:
            object.__setattr__(cells[path], "construct", recorder.intercept(path))
        values = [*args, *kwargs.values()]
        is_array = [isinstance(a, torch.Tensor) for a in values]
        leaves = [np.zeros(tuple(a.shape), numpy_dtype(a.dtype)) if arr else a for a, arr in zip(values, is_array)]
        rebuild = lambda traced: (tuple(traced[:len(args)]), dict(zip(kwargs, traced[len(args):])))  # noqa: E731
        try:
            construct = type(cell).construct.__get__(cell)  # the class's: the Cell itself may be intercepted by a tracing parent
            with cell.training_mode(self.training), spectral_norm.funcad_hooks_paused([cells[path] for path in paths]):
                program = trace_function(construct, type(cell).__name__, leaves, is_array, rebuild, recorder.trace)
        except _Untranslatable as exc:
            raise TranslationError(f"{where(self._path, cell)}: construct cannot be mirrored: {exc}") from None
        except ConcretizationError:
            raise TranslationError(f"{where(self._path, cell)}: construct cannot be mirrored: a traced value is needed in Python "
                                   f"(control flow on tensor values) at {user_line_of_error()}") from None
        finally:
            for path, construct in own.items():
                if construct is None:
                    del cells[path].__dict__["construct"]
                else:
                    object.__setattr__(cells[path], "construct", construct)
        written = [p for p, _ in program.writes if p is not random_key]  # funcad's dropout key: torch's generator moves by itself
        if written:
            names = ", ".join(p.name for p in written)
            raise TranslationError(f"{where(self._path, cell)}: construct cannot be mirrored: it writes Parameters ({names}), which the "
                                   "torch twin cannot follow")
        names = [n for n, arr in zip([*_argument_names(cell, len(args)), *kwargs], is_array) if arr]
        return _Emitter(self, cell, names).module(program)


def user_line_of_error() -> str:
    """The user's line in the traceback of the exception being handled (its innermost frame outside funcad and torch_ref)."""
    tb, found = sys.exc_info()[2], None
    while tb is not None:
        if not os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_SKIPPED_DIRS):
            found = tb
        tb = tb.tb_next
    if found is None:
        return "<unknown>"
    file, line = found.tb_frame.f_code.co_filename, found.tb_lineno
    return f"{file}:{line}: {linecache.getline(file, line).strip()}"


def _signature(value) -> object:
    return (tuple(value.shape), value.dtype) if isinstance(value, torch.Tensor) else repr(value)


def _argument_names(cell: Cell, count: int) -> list[str]:
    names = [p.name for p in list(inspect.signature(type(cell).construct).parameters.values())[1:]
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return (names + [f"arg{i}" for i in range(len(names), count)])[:count]


class _Recorder:
    """Records calls of mirrored layers and containers into the trace, shaped by running their twins on zeros."""

    def __init__(self, owner: TracedConstruct):
        self.owner = owner
        self.trace = _MirrorTrace(type(owner._funcad_cell).__name__)
        self.calls = 0

    def intercept(self, path: str):
        return lambda *args, **kwargs: self.call(path, args, kwargs)

    def call(self, path: str, args: tuple, kwargs: dict):
        leaves, tree = pytree.flatten((args, kwargs))
        positions = [i for i, leaf in enumerate(leaves) if isinstance(leaf, Tensor)]
        atoms = tuple(self.trace.atom(leaves[i]) for i in positions)
        statics = [None if i in positions else leaf for i, leaf in enumerate(leaves)]
        out = self._shape_probe(path, tree, statics, positions, atoms)
        out_leaves, out_tree = pytree.flatten(out)
        call, self.calls = self.calls, self.calls + 1
        results = []
        for k, value in enumerate(out_leaves):
            if not isinstance(value, torch.Tensor):
                results.append(value)
                continue
            var = self.trace.graph.new_var(tuple(value.shape), numpy_dtype(value.dtype))
            kw = {"path": path, "tree": tree, "statics": statics, "positions": positions, "call": call, "leaf": k,
                  "whole": out_tree == pytree.LEAF}
            self.trace.graph.nodes.append(Node(MODULE_CALL, atoms, kw, var, False))
            results.append(JitTracer(self.trace, var))
        return pytree.unflatten(out_tree, results)

    def _shape_probe(self, path: str, tree, statics: list, positions: list, atoms: tuple):
        """The twin's output on zeros, its layers in eval mode (nothing moves, any batch size passes), for the shapes and dtypes."""
        leaves = list(statics)
        for i, atom in zip(positions, atoms):
            leaves[i] = (from_numpy(np.zeros(atom.shape, atom.dtype)) if isinstance(atom, Var) else
                         from_numpy(atom.value) if isinstance(atom.value, np.ndarray) else torch.as_tensor(atom.value))
        targs, tkwargs = pytree.unflatten(tree, leaves)
        module = self.owner.get_submodule(path)
        saved = [(m, m.training, m._forward_pre_hooks, m._forward_hooks) for m in module.modules()]
        for m, *_ in saved:  # the probe is no call of the model's: hooks (the harness's layer capture) must not see it, but
            kept = spectral_norm.torch_hooks(m, keyed=True)  # nn.utils.spectral_norm's make the weight (eval mode: nothing moves)
            m._forward_pre_hooks, m._forward_hooks = OrderedDict(kept), OrderedDict()
            m.training = m.training and isinstance(m, TracedConstruct)  # a traced Cell keeps its mode: its trace is then reused
        try:
            with torch.no_grad():
                return module(*targs, **tkwargs)
        finally:
            for m, mode, pre_hooks, hooks in saved:
                m.training, m._forward_pre_hooks, m._forward_hooks = mode, pre_hooks, hooks


def output_leaf(out, k: int):
    """Output ``k`` of a layer returning several (in funcad's pytree order)."""
    return pytree.flatten(out)[0][k]


class _Emitter:
    """One traced program as a ``torch.fx.GraphModule`` over the owner's modules and parameters."""

    def __init__(self, owner: TracedConstruct, cell: Cell, input_names: list[str]):
        self.owner, self.cell, self.input_names = owner, cell, input_names
        self.graph = fx.Graph()
        self.root = torch.nn.Module()
        for name, child in owner._modules.items():
            self.root.add_module(name, child)
        for name, p in owner._parameters.items():
            self.root.register_parameter(name, p)
        for name, b in owner._buffers.items():
            self.root.register_buffer(name, b)
        self.env: dict[int, fx.Node] = {}
        self.calls: dict[int, fx.Node] = {}
        self.constants: list[str] = []

    def constant(self, value: torch.Tensor) -> fx.Node:
        name = f"_constant{len(self.constants)}"
        self.constants.append(name)
        setattr(self.root, name, value)
        return self.graph.get_attr(name)

    def value(self, atom):
        if isinstance(atom, Var):
            return self.env[atom.id]
        return torch_value(atom.value if isinstance(atom, Const) else atom, self.constant)

    def module(self, program) -> fx.GraphModule:
        for var, name in zip(program.inputs, self.input_names):
            self.env[var.id] = self.graph.placeholder(name)
        names = {id(p): self.owner._torch_names.get(n) for n, p in self.cell.parameters_and_names()}
        for p, var in program.params:
            if p is random_key:  # read only by the dropout masks' translations, which draw from torch's generator
                self.env[var.id] = self.graph.call_function(torch.zeros, (tuple(var.shape),), {"dtype": torch.int64})
                continue
            if names.get(id(p)) is None:
                raise TranslationError(f"{where(self.owner._path, self.cell)}: construct cannot be mirrored: it reads Parameter "
                                       f"{p.name!r}, which is not one of the Cell's with a torch counterpart")
            self.env[var.id] = self.graph.get_attr(names[id(p)])
        for node in program.nodes:
            self.env[node.out.id] = self.call_module(node) if node.prim is MODULE_CALL else self.call_function(node)
        self.graph.output(pytree.unflatten(program.out_tree, [self.value(o) for o in program.outputs]))
        module = fx.GraphModule(self.root, self.graph, class_name=type(self.cell).__name__)
        module.graph.lint()
        # The graph reads the owner's modules, parameters and buffers live, so a layer swapped in later (the harness's
        # aligned dropout) or a parameter replaced is what it runs, as in the owner itself.
        module._modules, module._parameters, module._buffers = self.owner._modules, self.owner._parameters, self.owner._buffers
        for name in self.constants:  # fx made them buffers: plain attributes again, outside the owner's state
            object.__setattr__(module, name, getattr(self.root, name))
        return module

    def call_function(self, node: Node) -> fx.Node:
        """The primitive's torch translation. A floating input of another precision than the output is cast to it first:
        numpy promotes a 0-d array and mixed-precision products where torch does not. A primitive declared
        non-differentiable has its output detached, a constant for torch's autograd too."""
        out = self.graph.call_function(torch_callable(node.prim), tuple(self.operand(a, node.out.dtype) for a in node.args),
                                       {k: self.value(v) for k, v in node.kwargs.items()})
        return out if node.prim.differentiable else self.graph.call_method("detach", (out,))

    def operand(self, atom, dtype: np.dtype):
        value = self.value(atom)
        own = atom.dtype if isinstance(atom, Var) or (isinstance(atom, Const) and isinstance(atom.value, np.ndarray)) else None
        if own is not None and own.kind == "f" and dtype.kind == "f" and own != dtype:
            return self.graph.call_method("to", (value, torch_value(dtype, self.constant)))
        return value

    def call_module(self, node: Node) -> fx.Node:
        kw = node.kwargs
        call = self.calls.get(kw["call"])
        if call is None:
            leaves = [self.value(v) for v in kw["statics"]]
            for i, atom in zip(kw["positions"], node.args):
                leaves[i] = self.value(atom)
            args, kwargs = pytree.unflatten(kw["tree"], leaves)
            call = self.calls[kw["call"]] = self.graph.call_module(kw["path"], tuple(args), dict(kwargs))
        return call if kw["whole"] else self.graph.call_function(output_leaf, (call, kw["leaf"]))
