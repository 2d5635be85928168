"""``to_funcad(module)``: the funcad twin of a torch model, with MindSpore's layer classes and names and the same weights.

Layers translate class by class through ``torch_ref.layer_table``; ``nn.Sequential`` becomes ``SequentialCell``,
``nn.ModuleList`` ``CellList`` and ``nn.ModuleDict`` ``CellDict`` under the same child names. Any other module is traced with ``torch.fx`` (layers of
the table stay whole) and becomes a ``TracedCell`` whose ``construct`` replays the graph with funcad ops
(``torch_ref.from_torch``, derived from the primitives' declarations); its layers and parameters keep their torch
paths. Forward is traced in both training modes, and, where it computes with its inputs' sizes, per input shape at
the first call (``torch_ref.shape_trace``). A torch layer or function without a translation is a ``TranslationError``
naming the module path, the graph node and the line of forward that made it; so is control flow on a tensor's value.
The mode the module is converted in must translate; the other mode's refusal (a training-only random draw) is raised
when the twin first runs in that mode. A mirrored user Cell (``torch_ref.traced.TracedConstruct``) comes back as a copy of that Cell.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import operator
import os
import re
import traceback
from collections.abc import Iterator

import numpy as np
import torch
from torch import fx
from torch.nn.modules.lazy import LazyModuleMixin

from funcad import nn, ops
from funcad.core.tensor import Parameter, Tensor
from funcad.nn.cell import Cell, CellDict, CellList, SequentialCell
from funcad.ops.shape import _shape_of
from torch_ref import from_torch, grad_mode, layer_table, packed, spectral_norm
from torch_ref.aliases import Aliases
from torch_ref.arrays import to_numpy, torch_dtype
from torch_ref.bridge import torch_state
from torch_ref.layer_table import TranslationError, where
from torch_ref.shape_trace import RANDOM_CREATIONS, ShapeTracer, WritableProxy, folded, recording
from torch_ref.traced import TracedConstruct
from torch_ref.twin import Translation, Twin, copy_weights, float_dtype, joined


def to_funcad(module: torch.nn.Module) -> Cell:
    """The funcad twin of ``module``, holding a copy of its current weights (see ``funcad_twin`` for the name maps)."""
    return funcad_twin(module).cell


def funcad_twin(module: torch.nn.Module) -> Twin:
    """``module``, its funcad twin (in the same training mode) and the maps between their parameter names and layer paths."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"to_funcad: expected a torch.nn.Module, got {type(module).__name__}")
    builder = _ToFuncad()
    cell = builder.translate(module, "")
    dtype = float_dtype(torch_state(module).values())
    if dtype is not None:
        for _, p in cell.parameters_and_names():
            if np.issubdtype(p.dtype, np.floating):
                p.set_dtype(dtype)
    cell.set_train(module.training)
    _tie_shared(cell, module, builder.names)
    twin = Twin(cell, module, builder.parameter_names(cell), builder.module_paths)
    copy_weights(twin, to_torch=False)
    return twin


def _tie_shared(cell: Cell, module: torch.nn.Module, names: dict) -> None:
    """A parameter torch's layers share (an output layer tied to the embedding) is one funcad Parameter too: each
    later holder of the tensor takes the funcad Parameter of its first holder."""
    tensors = dict(module.named_parameters(remove_duplicate=False))
    first: dict = {}
    for tname, tensor in tensors.items():
        first.setdefault(id(tensor), tname)
    params = dict(cell.parameters_and_names())
    by_torch = {tname: fname for fname, tname in names.items() if tname is not None}
    for fname, tname in list(names.items()):
        tensor = tensors.get(tname)
        if tensor is None or first[id(tensor)] == tname or fname not in params:
            continue
        owner_path, _, leaf = fname.rpartition(".")
        owner = _holder(cell, owner_path) if owner_path else cell
        setattr(owner, leaf, params[by_torch[first[id(tensor)]]])


_CONTAINERS = {torch.nn.Sequential: SequentialCell, torch.nn.ModuleList: CellList, torch.nn.ModuleDict: CellDict}


def _is_layer(module: torch.nn.Module) -> bool:
    """Kept whole by the tracer: layers of the table, containers, and torch's own layers (to be named when untranslatable)."""
    return (type(module) in layer_table.BY_TORCH_TYPE or isinstance(module, tuple(_CONTAINERS))
            or type(module).__module__.startswith("torch.nn.modules"))


class _LayerTracer(fx.Tracer):
    def __init__(self):
        super().__init__(autowrap_functions=packed.RECORDED)
        self.record_stack_traces = True  # each node's line of forward, for the errors naming it
        self.proxy_buffer_attributes = True  # a buffer read is a node, so a write to one is seen (and refused), not run on it

    def is_leaf_module(self, m: torch.nn.Module, module_qualified_name: str) -> bool:
        return _is_layer(m)

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return WritableProxy(node, self)

    def trace(self, root, concrete_args=None) -> fx.Graph:
        """The graph, with random draws of constant sizes (``torch.randn(4, 8)``) recorded as nodes, not folded (a draw
        without dtype is made in the twin's default float, as the other creations: ``_Program._call_in_default_float``)."""
        with recording(self, RANDOM_CREATIONS, default_dtype=False):
            return super().trace(root, concrete_args)


_HOOKS = {"_forward_pre_hooks": "forward pre-hooks", "_forward_hooks": "forward hooks"}


class _ToFuncad(Translation):
    """One translation, torch -> funcad."""

    def translate(self, module: torch.nn.Module, path: str) -> Cell:
        if isinstance(module, LazyModuleMixin) and module.has_uninitialized_params():
            raise TranslationError(f"{where(path, module)}: a lazy layer whose parameters are not made yet (torch makes them at its first "
                                   "call): run the model on one batch before converting it")
        normalized = spectral_norm.torch_hooks(module)
        translated = {"_forward_pre_hooks": len(normalized), "_forward_hooks": 0}  # nn.utils.spectral_norm's hooks are translated
        hooks = [name for kind, name in _HOOKS.items() if len(getattr(module, kind, None) or ()) > translated[kind]]
        if hooks:
            raise TranslationError(f"{where(path, module)}: its {' and '.join(hooks)} (register_forward_hook, nn.utils.weight_norm, ...) "
                                   "have no funcad translation; apply them in a forward instead")
        rule = layer_table.BY_TORCH_TYPE.get(type(module))
        if normalized:
            return self.spectral_normalized(module, path, rule)
        if rule is not None:
            try:
                cell = self.by_rule(rule.to_funcad, module, path)
            except TranslationError as exc:
                return self.traced_layer(module, path, str(exc))  # a configuration the rule cannot express
            self.layer(path, rule.torch_names(cell))
            return cell
        if type(module) in _CONTAINERS:
            cell = _CONTAINERS[type(module)]()
            self.container(path, ())
            for name, child in module.named_children():
                cell.insert_child_to_cell(name, self.translate(child, joined(path, name)))
            return cell
        if isinstance(module, TracedConstruct):  # a mirrored user Cell: its construct is the Cell's own
            cell = copy.deepcopy(module._funcad_cell)
            self.layer(path, module._torch_names)
            return cell
        if type(module).__module__.startswith("torch.nn.modules"):
            return self.traced_layer(module, path, f"{where(path, module)}: torch.nn.{type(module).__name__} has no funcad translation "
                                                   "(torch_ref.layer_table)")
        return self.traced(module, path)

    def spectral_normalized(self, module: torch.nn.Module, path: str, rule) -> Cell:
        """A layer with ``nn.utils.spectral_norm`` hooks: its rule's Cell, spectral-normalised as torch's (its forward reads
        a weight the hook sets, which a trace would take for a constant: without a rule it is refused)."""
        if rule is None:
            raise TranslationError(f"{where(path, module)}: nn.utils.spectral_norm's hook is translated on the layers of torch_ref.layer_table "
                                   "only (this forward reads the weight the hook sets as a constant); use "
                                   "nn.utils.parametrizations.spectral_norm instead")
        cell = self.by_rule(rule.to_funcad, module, path)
        self.layer(path, spectral_norm.normalize_funcad_layer(cell, rule.torch_names(cell), spectral_norm.torch_hooks(module)))
        return cell

    def traced_layer(self, module: torch.nn.Module, path: str, reason: str) -> Cell:
        """A torch layer no rule expresses (``reason``), traced through its forward like a user's module, its parameters
        and buffers kept: its forward is torch functions (nn.Unfold, nn.CosineSimilarity, LayerNorm without affine,
        BatchNorm without running statistics). A recurrent layer's forward is one fused kernel: the reason stands alone."""
        if isinstance(module, torch.nn.RNNBase):
            raise TranslationError(reason)
        try:
            return self.traced(module, path, reason)
        except TranslationError as exc:
            raise TranslationError(f"{reason}; its forward does not translate either: {exc}") from None

    def traced(self, module: torch.nn.Module, path: str, reason: str | None = None) -> Cell:
        cell = TracedCell(type(module).__name__, _TracedForward(module, path, reason))
        skip = ()
        for name, sub in module.named_modules():
            if name and name.startswith(skip):
                continue
            full = joined(path, name) if name else path
            if name and _is_layer(sub):
                skip = skip + (name + ".",)
                parent, _, leaf = name.rpartition(".")
                (_holder(cell, parent) if parent else cell).insert_child_to_cell(leaf, self.translate(sub, full))
                continue
            owner = _holder(cell, name) if name else cell
            own = []
            for pname, value in list(sub.named_parameters(recurse=False)) + list(sub.named_buffers(recurse=False)):
                if _kept(value):
                    requires_grad = isinstance(value, torch.nn.Parameter) and value.requires_grad
                    owner.insert_param_to_cell(pname, Parameter(to_numpy(value), requires_grad=requires_grad))
                    own.append(pname)
            self.container(full, own)
        return cell


@contextlib.contextmanager
def _modules_in_mode(module: torch.nn.Module, training: bool) -> Iterator[None]:
    """``module`` and every module below it with ``training`` set as given while inside; each one's own flag after."""
    saved = [(m, m.training) for m in module.modules()]
    for m, _ in saved:
        m.training = training
    try:
        yield
    finally:
        for m, mode in saved:
            m.training = mode


@contextlib.contextmanager
def _tensors_kept(module: torch.nn.Module, where_: str) -> Iterator[None]:
    """A trace of ``module``'s forward that leaves its parameters and buffers as they were; one that assigns them
    (``self.u = F.normalize(...)``, state the twin would not keep) is refused, naming them, once they are restored."""
    saved = [(name, m, dict(m._parameters), dict(m._buffers)) for name, m in module.named_modules()]
    assigned = []
    try:
        yield
    finally:
        for name, m, parameters, buffers in saved:
            for slots, before in ((m._parameters, parameters), (m._buffers, buffers)):
                assigned += [joined(name, key) for key in before if slots.get(key) is not before[key]]
                slots.update(before)
    if assigned:
        raise TranslationError(f"{where_}: forward assigns the module's {', '.join(assigned)} (self.<name> = ...), state the funcad twin "
                               "cannot keep; compute it as a local value, or use a layer torch_ref.layer_table translates")


def _holder(cell: Cell, dotted: str) -> Cell:
    """The Cell at ``dotted`` below ``cell``, creating plain holder Cells (no construct) along the way."""
    for part in dotted.split("."):
        child = cell._cells.get(part)
        if child is None:
            child = Cell()
            cell.insert_child_to_cell(part, child)
        cell = child
    return cell


def _kept(value) -> bool:
    """Whether a torch module's parameter or buffer becomes a Parameter of its traced Cell: parameters and floating-point
    buffers (an integer buffer or a tensor torch.fx folded is a constant of the program instead)."""
    return isinstance(value, torch.nn.Parameter) or (value is not None and value.is_floating_point())


def _held_by_cell(module: torch.nn.Module, dotted: str) -> bool:
    """Whether the traced Cell holds the torch attribute at ``dotted`` (a kept parameter or buffer)."""
    owner_path, _, leaf = dotted.rpartition(".")
    owner = module.get_submodule(owner_path)
    return (leaf in owner._parameters or leaf in owner._buffers) and _kept(getattr(owner, leaf))


CALL_HINTS = ("is_causal", "src_is_causal", "tgt_is_causal", "memory_is_causal")  # torch's hints that a mask also given is causal
# (torch requires the mask with them): funcad's layers read the mask itself


def _layer_kwargs(layer: Cell, torch_params: tuple, kwargs: dict, where_: str) -> dict:
    """torch's keyword arguments to a layer under the names of the funcad layer's ``construct`` parameters at the same
    positions (torch's ``TransformerEncoder(src, mask=)`` is MindSpore's ``src_mask``), without torch's hints."""
    names = list(inspect.signature(layer.construct).parameters)
    renamed = {}
    for name, value in kwargs.items():
        if name in names:
            renamed[name] = value
        elif name in torch_params and torch_params.index(name) < len(names):
            renamed[names[torch_params.index(name)]] = value
        elif name not in CALL_HINTS:
            raise TranslationError(f"{where_}: torch's argument {name}={value!r} of {type(layer).__name__} has no funcad counterpart")
    return renamed


def _lookup(cell: Cell, dotted: str):
    """The funcad Cell or Parameter at torch's path ``dotted``: a layer's parameter may go by MindSpore's name there
    (an Embedding's ``weight`` is its ``embedding_table``)."""
    for part in dotted.split("."):
        if part in cell._cells:
            cell = cell._cells[part]
        elif part in cell._params:
            cell = cell._params[part]
        else:
            own = {tname: fname for fname, tname in cell.torch_parameter_names().items() if "." not in fname}
            cell = cell._params[own[part]]
    return cell


class _Program:
    """A traced forward: its input names, its nodes each with the funcad op it runs, and its output; checked when made."""

    def __init__(self, graph: fx.Graph, path: str, module: torch.nn.Module):
        self.graph, self.inputs, self.steps, self.output = graph, [], [], None
        self.defaults = {}
        self.where = where(path, module)
        self.constants = {}  # get_attr targets the Cell does not hold: tensors torch.fx folded while tracing, integer buffers
        self.layer_params = {}  # call_module node -> the parameter names of the torch layer's forward
        self.in_place_calls = set()  # in-place methods, layers and functions (inplace=True): their input is their result after
        folded_before, written = set(), None  # folded tensors met so far; the first in-place write to one
        for node in graph.nodes:
            if node.op == "get_attr" and folded(node.target):
                if written is not None and node.target not in folded_before:
                    raise TranslationError(f"{self.where}: node {written.name!r} ({written.format_node()}) writes in place a tensor the forward "
                                           f"made, and torch computed {node.target} outside the trace after it, from values the write did "
                                           "not reach: build the tensor out of place (torch.stack, torch.cat) instead")
                folded_before.add(node.target)
            if node.op == "call_module":
                self.layer_params[node.name] = tuple(inspect.signature(module.get_submodule(node.target).forward).parameters)
            in_place = (node.kwargs.get("inplace") is True or node.op == "call_method" and from_torch.in_place(node.target)
                        or node.op == "call_function" and from_torch.in_place_function(node.target) is not None
                        or node.op == "call_module" and getattr(module.get_submodule(node.target), "inplace", False) is True)
            if in_place and node.args and isinstance(node.args[0], fx.Node):
                self.in_place_calls.add(node.name)
            if node.op == "get_attr" and not _held_by_cell(module, node.target):
                owner, _, leaf = node.target.rpartition(".")
                self.constants[node.target] = Tensor(to_numpy(getattr(module.get_submodule(owner), leaf)))
            if node.op == "placeholder":
                self.inputs.append(node.name)
                if node.args:  # forward's default for it (``offsets=None``), for a call that leaves it out
                    self.defaults[node.name] = node.args[0]
            elif node.op == "output":
                self.output, self.output_node = node.args[0], node
            else:
                op = None
                writes_attribute = node.op == "call_method" and from_torch.in_place(node.target) and getattr(node.args[0], "op", None) == "get_attr"
                if writes_attribute and written is None and folded(node.args[0].target):
                    written = node
                if writes_attribute and not folded(node.args[0].target):
                    raise TranslationError(f"{self.where}: node {node.name!r} ({node.format_node()}) writes the module's {node.args[0].target} "
                                           "in place, which the funcad twin cannot follow")
                if isinstance(node.kwargs.get("out"), fx.Node):
                    raise TranslationError(f"{self.where}: node {node.name!r} ({node.format_node()}) writes its result into the tensor "
                                           f"out={node.kwargs['out'].name}, which the funcad twin cannot follow; use the returned value")
                if _specialization_check(node):
                    continue
                if node.op == "call_function" and node.target is grad_mode.set_grad_enabled:
                    pass  # read by ``run``
                elif node.op in ("call_function", "call_method"):
                    try:
                        op = from_torch.funcad_op(node.op, node.target)
                    except from_torch.NoTranslation as exc:
                        raise TranslationError(f"{self.where}: node {node.name!r} ({node.format_node()}){_node_line(node)}: {exc}") from None
                self.steps.append((node, op))

    def __deepcopy__(self, memo) -> _Program:
        return self  # never changed after tracing

    def run(self, cell: Cell, args: tuple):
        missing = [name for name in self.inputs[len(args):] if name not in self.defaults]
        if len(args) > len(self.inputs) or missing:
            raise TypeError(f"{self.where}: expected {len(self.inputs)} inputs ({', '.join(self.inputs)}), got {len(args)}")
        env = {**{name: self.defaults[name] for name in self.inputs[len(args):]}, **dict(zip(self.inputs, args))}
        written = {}  # a folded tensor's value after this call's in-place writes (every read of it sees them, as in torch)
        load = lambda value: fx.node.map_arg(value, lambda n: env[n.name])  # noqa: E731
        views = Aliases(self.where)
        default = _default_float(cell)
        grad_enabled = True  # torch's grad mode at this point of forward (``torch_ref.grad_mode``)
        for node, op in self.steps:
            views.check(node)
            node_args, node_kwargs = load(node.args), load(node.kwargs)
            if node.op == "call_function" and node.target is grad_mode.set_grad_enabled:
                grad_enabled, env[node.name] = node_args[0], None
                continue
            if node.op == "get_attr":
                value = self.constants[node.target] if node.target in self.constants else _lookup(cell, node.target)
                env[node.name] = written.get(node.target, value)
            elif node.op == "call_module":
                layer = _lookup(cell, node.target)
                kwargs = _layer_kwargs(layer, self.layer_params[node.name], node_kwargs, f"{self.where}: node {node.name!r}")
                env[node.name] = _torch_result(layer, packed.call_layer(layer, node_args, kwargs))
            else:
                env[node.name] = self._call_in_default_float(node, op, node_args, node_kwargs, default)
            if not grad_enabled:  # torch computes this without a graph: no gradient flows through it
                env[node.name] = _without_gradient(env[node.name])
            views.record(node, node_args, node_kwargs)
            if node.name in self.in_place_calls:  # later reads of the tensor, and of every tensor it is a view of, see the change
                for changed in views.write(node, node.args[0], env[node.name], env, load):
                    if changed.op == "get_attr":
                        written[changed.target] = env[changed.name]
                views.same_tensor(node, node.args[0])
        views.check(self.output_node)
        return load(self.output)


    def _call_in_default_float(self, node: fx.Node, op, args: tuple, kwargs: dict, default: np.dtype):
        """``_call``, with torch's default dtype where torch makes a floating-point result of no floating-point tensor and no
        dtype given (``torch.arange(n) * -0.5``, ``torch.zeros(n)``, an integer ratio), which funcad's rules make float32:
        its integer tensors are cast to ``default`` first (torch computes in that dtype), a creation's result after. An op
        marked ``default_float`` (a random draw, ``torch.tensor(0.1)``) is told ``default`` and makes its floats in it:
        cast after, its numbers would not be torch's."""
        if getattr(op, "default_float", False):
            kwargs = {**kwargs, "default_float": default}
        value = self._call(node, op, args, kwargs)
        if not isinstance(value, Tensor) or not np.issubdtype(value.dtype, np.floating) or np.dtype(value.dtype) == default:
            return value
        if node.kwargs.get("dtype") is not None or (node.op == "call_method" and node.target in EXPLICIT_DTYPE_METHODS):
            return value
        flat = []
        fx.node.map_aggregate((args, kwargs), flat.append)
        arrays = (Tensor, np.ndarray, np.generic)
        if any(isinstance(a, torch.dtype) or (isinstance(a, arrays) and np.issubdtype(a.dtype, np.floating)) for a in flat):
            return value
        if not any(isinstance(a, arrays) for a in flat):
            return ops.cast(value, default)
        widen = lambda a: ops.cast(a, default) if isinstance(a, arrays) and a.dtype != np.bool_ else a  # noqa: E731
        value = self._call(node, op, fx.node.map_aggregate(args, widen), fx.node.map_aggregate(kwargs, widen))
        return value if np.dtype(value.dtype) == default else ops.cast(value, default)

    def _call(self, node: fx.Node, op, args: tuple, kwargs: dict):
        """The funcad op of a function or method node on its arguments; an argument, option or value its translation does
        not take is a ``TranslationError`` naming the module and the node (an ``UntranslatedOption`` for an option refused)."""
        method = node.target if node.op == "call_method" else from_torch.tensor_method_name(node.target)
        try:
            return from_torch.funcad_call(op, method, args, kwargs)
        except TranslationError:
            raise
        except NotImplementedError as exc:
            raise UntranslatedOption(f"{self.where}: node {node.name!r} ({node.format_node()}){_node_line(node)}: {exc}") from None
        except (TypeError, AttributeError) as exc:
            name = f"Tensor.{method}" if method else from_torch.described(node.target)
            raise TranslationError(f"{self.where}: node {node.name!r} ({node.format_node()}){_node_line(node)}: the funcad translation of {name} "
                                   f"does not take these arguments ({type(exc).__name__}: {exc})") from None
        except ValueError as exc:  # a value the op refuses (a shape, an option's value): named where the forward makes the call
            raise TranslationError(f"{self.where}: node {node.name!r} ({node.format_node()}){_node_line(node)}: {exc}") from None


EXPLICIT_DTYPE_METHODS = frozenset({"float", "double", "half", "bfloat16", "to", "type", "type_as"})


def _default_float(cell: Cell) -> np.dtype:
    """The twin's counterpart of torch's default dtype: float64 when its floating-point weights are (a float64 run, where
    torch's default is float64 too), else float32 (torch's default in float32 and low-precision runs alike)."""
    while cell._owner is not None:
        cell = cell._owner[0]
    return np.dtype(np.float64 if float_dtype(p for _, p in cell.parameters_and_names()) == np.float64 else np.float32)


class UntranslatedOption(TranslationError, NotImplementedError):
    """A torch option the funcad translation has no counterpart for, named with the module and node that use it."""


def _without_gradient(value):
    """``value`` (an array, or a tuple or list of them and other things) with gradients stopped."""
    if isinstance(value, (Tensor, np.ndarray)):
        return ops.stop_gradient(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_without_gradient(v) for v in value)
    return value


def _torch_result(layer, result):
    """A layer's result as torch's forward returns it: funcad's MultiheadAttention without weights returns the 1-tuple
    ``(output,)``, as MindSpore's, where torch returns ``(output, None)`` (which models unpack as ``out, _ = ...``)."""
    if isinstance(layer, nn.MultiheadAttention) and isinstance(result, tuple) and len(result) == 1:
        return result[0], None
    return result


class _TracedForward:
    """A torch module's forward as ``_Program``s, one per training mode (forward may read ``self.training``: functional
    dropout, branches): traced symbolically where torch.fx can; else, for a forward computing with its inputs' sizes,
    per mode and input signature with the shapes known (``torch_ref.shape_trace``), on a copy of the module (its
    layers run on example inputs while tracing)."""

    def __init__(self, module: torch.nn.Module, path: str, reason: str | None = None):
        """``reason``: why a torch layer is traced instead of translated by a rule, for the errors of a later trace."""
        self.path, self.where, self.module, self.reason = path, where(path, module), None, reason
        self.programs: dict[tuple, _Program] = {}
        try:
            graphs = {}
            for training in (True, False):
                tracer = _LayerTracer()
                with _modules_in_mode(module, training), _tensors_kept(module, self.where), grad_mode.recorded(tracer):
                    graphs[training] = packed.trace(tracer, module)
        except TranslationError:
            raise
        except Exception as exc:  # fx reports data-dependent control flow and unsupported Python as various errors
            self.module, self.symbolic_failure, self.refused = copy.deepcopy(module), exc, {}
            return
        self.refused: dict[bool, TranslationError] = {}  # the other mode's refusal, raised when the twin runs in that mode
        for training, graph in graphs.items():
            try:
                self.programs[(training,)] = _Program(graph, path, module)
            except TranslationError as exc:
                if training == module.training:
                    raise
                self.refused[training] = TranslationError(f"in {_MODES[training]} mode (the module was converted in "
                                                          f"{_MODES[module.training]} mode, where it translates): {exc}")

    def __deepcopy__(self, memo) -> _TracedForward:
        return self  # its programs never change; the module copy only traces

    def program(self, training: bool, args: tuple) -> _Program:
        if training in self.refused:
            raise self.refused[training]
        if self.module is None:
            return self.programs[(training,)]
        shapes = tuple((_shape_of(a), np.dtype(a.dtype)) if hasattr(a, "dtype") else (_VALUE, (type(a), a)) if _plain(a) else None for a in args)
        key = (training, *shapes)
        if key not in self.programs:
            self.programs[key] = self._trace_shapes(training, shapes)
        return self.programs[key]

    def _trace_shapes(self, training: bool, shapes: tuple) -> _Program:
        try:
            graph = self._shape_graph(training, shapes)
            try:
                return _Program(graph, self.path, self.module)
            except TranslationError:
                raise
            except Exception as exc:  # reading the module's tensors computes with the tracer's proxies
                raise TranslationError(f"{self.where}: the graph traced with the input shapes known reads the module's tensors through code "
                                       f"torch.fx cannot follow ({type(exc).__name__}: {exc})") from None
        except TranslationError as exc:
            raise TranslationError(str(exc) if self.reason is None else f"{self.reason}; its forward does not translate either: {exc}") from None

    def _shape_graph(self, training: bool, shapes: tuple) -> fx.Graph:
        if None in shapes:
            raise TranslationError(f"{self.where}: torch.fx cannot trace forward ({self.symbolic_failure}), and tracing it with the "
                                   "input shapes known needs every input to be a tensor or a Python number, string, bool or None")
        examples = [second[1] if shape is _VALUE else torch.zeros(shape, dtype=torch_dtype(second)) for shape, second in shapes]
        floating = next((e.dtype for e in examples if isinstance(e, torch.Tensor) and e.is_floating_point()), torch.get_default_dtype())
        self.module.to(floating)  # the examples run through the copy's layers in the inputs' precision
        default = torch.get_default_dtype()
        with _modules_in_mode(self.module, training):
            try:
                torch.set_default_dtype(floating)  # tensors forward creates, too
                tracer = ShapeTracer(examples, _is_layer, packed.RECORDED)
                with _tensors_kept(self.module, self.where), grad_mode.recorded(tracer):
                    return packed.trace(tracer, self.module, _concrete_args(self.module, examples))
            except TranslationError:
                raise
            except Exception as exc:
                raise TranslationError(f"{self.where}: torch.fx cannot trace forward ({self.symbolic_failure}), nor with the input shapes "
                                       f"{[list(s) for s, _ in shapes if s is not _VALUE]} known ({type(exc).__name__}: {exc}){_user_line(exc)}: the "
                                       "twin replays one traced graph, so forward may branch, loop and compute Python numbers on sizes and "
                                       "configuration, not on a tensor's values") from None
            finally:
                torch.set_default_dtype(default)

    def single_graph(self) -> fx.Graph | None:
        """The traced graph when both modes trace the same one, shapes unknown (forward reads neither its mode nor its
        sizes), else None."""
        if self.module is not None or self.refused:
            return None
        train, evaluate = (self.programs[(mode,)].graph for mode in (True, False))
        return train if train.python_code("self").src == evaluate.python_code("self").src else None


_MODES = {True: "training", False: "evaluation"}
_VALUE = "value"  # in a call signature: (_VALUE, (type, value)) for a Python value (``has_mask=True``) the trace takes as it is
_PLAIN = (type(None), bool, int, float, str)


def _plain(value) -> bool:
    return isinstance(value, _PLAIN)


def _concrete_args(module: torch.nn.Module, examples: list) -> dict:
    """forward's Python-valued arguments, given (``model(src, False)``) or left to their defaults (``has_mask=True``,
    ``targets=None``), for torch.fx to trace as those values: the branches on them (``if has_mask:``, ``if targets is not
    None:``) take their side, and each set of values gets its own trace."""
    concrete = {}
    for position, (name, parameter) in enumerate(inspect.signature(module.forward).parameters.items()):
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            break
        if position < len(examples):
            if not isinstance(examples[position], torch.Tensor):
                concrete[name] = examples[position]
        elif parameter.default is not parameter.empty and _plain(parameter.default):
            concrete[name] = parameter.default
    return concrete


def _specialization_check(node: fx.Node) -> bool:
    """torch.fx's guard that a concrete argument has the value traced (``eq`` then ``_assert``, or ``_assert_is_none``):
    the twin keys its traces by those values, so the guard is never false in the trace it runs."""
    if node.op != "call_function":
        return False
    if node.target is fx._symbolic_trace._assert_is_none or node.target is torch._assert:
        first = node.args[0]
        return isinstance(first, fx.Node) and _specialization_check(first) if node.target is torch._assert else _is_input(first)
    return node.target is operator.eq and _is_input(node.args[0]) and all(user.target is torch._assert for user in node.users)


def _is_input(value) -> bool:
    return isinstance(value, fx.Node) and value.op == "placeholder"
_LIBRARIES = tuple(os.path.dirname(m.__file__) + os.sep for m in (torch, layer_table))


def _user_line(exc: BaseException) -> str:
    """`` at file:line: `source` ``: the innermost line of the user's own code where ``exc`` was raised, or nothing."""
    return _innermost(traceback.extract_tb(exc.__traceback__))


def _node_line(node: fx.Node) -> str:
    """`` at file:line: `source` ``: the user's line that made ``node`` (torch.fx's recorded stack), or nothing."""
    found = re.findall(r'File "([^"]+)", line (\d+), in \S+\n\s*(.*)', node.stack_trace or "")
    return _innermost([traceback.FrameSummary(name, int(line), "", line=code) for name, line, code in found])


def _innermost(frames: list[traceback.FrameSummary]) -> str:
    frames = [f for f in frames if not f.filename.startswith(_LIBRARIES)]
    if not frames:
        return ""
    frame = frames[-1]
    return f" at {frame.filename}:{frame.lineno}: `{(frame.line or '').strip()}`"


class TracedCell(Cell):
    """A torch module's forward, traced by torch.fx, replayed with funcad ops over the translated layers: the trace of
    the Cell's own training mode (and input shapes, where forward computes with them) runs."""

    def __init__(self, name: str, forward: _TracedForward):
        super().__init__()
        self.traced_name, self.traced_forward = name, forward

    def construct(self, *args):
        return self.traced_forward.program(self.training, args).run(self, args)

    def single_graph(self) -> fx.Graph | None:
        return self.traced_forward.single_graph()

    def extend_repr(self) -> str:
        return f"traced from {self.traced_name}"
