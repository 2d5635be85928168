"""torch.fx tracing with the input shapes known: for forwards that compute with their tensors' sizes.

torch.fx traces symbolically: ``x.size()`` is a node, so a forward looping over a size (``for s in x.size()[1:]``,
``for t in range(x.size(1))``) or passing one to a Python function (``torch.zeros(x.size(0), 5)``) cannot be
traced. ``ShapeTracer`` runs every node on example tensors of the input shapes as it records it (zeros: only the
shapes matter), and answers ``size()``, ``shape``, ``dim()``, ``ndim``, ``numel()``, ``dtype``, ``device`` and
``len()`` of a traced tensor with the example's values, so loops over sizes unroll and sizes become constants. The
graph then holds for those input shapes only; the caller traces once per shape.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import fx
from torch.fx._symbolic_trace import _maybe_revert_all_patches

EXAMPLE = "example"  # the key of a node's example value in ``node.meta``


def folded(target: str) -> bool:
    """Whether a ``get_attr`` target is a tensor torch.fx folded while tracing (one the forward made, such as
    ``torch.zeros(x.size(0), n)`` here), not the module's own state."""
    return target.startswith("_tensor_constant")


def _example(value):
    """``value`` with every Node replaced by its example."""
    return fx.node.map_arg(value, lambda n: n.meta[EXAMPLE])


class WritableProxy(fx.Proxy):
    """A traced tensor that records item assignment (``h[:, 0] = v``), which ``fx.Proxy`` refuses, as a
    ``__setitem__`` call: the replay writes it as torch does."""

    def __setitem__(self, key, value) -> None:
        self.tracer.create_proxy("call_method", "__setitem__", (self, key, value), {})


class ShapedProxy(WritableProxy):
    """A traced tensor whose shape, dtype and device are those of its node's example."""

    def _value(self) -> torch.Tensor:
        return self.node.meta[EXAMPLE]

    def size(self, dim: int | None = None):
        return self._value().size() if dim is None else self._value().size(dim)

    def dim(self) -> int:
        return self._value().dim()

    def numel(self) -> int:
        return self._value().numel()

    def __len__(self) -> int:
        return len(self._value())

    def __iter__(self):
        """A traced value of known length iterates as torch's does, item by item (``for x_t in x.split(1, dim=1):``,
        ``for row in h:``): the loop unrolls."""
        return iter([self[i] for i in range(len(self._value()))])

    def __getattr__(self, name: str):
        if name in ("shape", "ndim", "dtype", "device", "is_cuda"):
            return getattr(self._value(), name)
        return super().__getattr__(name)


CREATIONS = ("zeros", "ones", "full", "empty")  # torch functions whose tensors are nodes of the graph, not folded constants
# Random draws of no tensor argument: torch.fx would run one at trace time and fold its numbers into the graph, a fixed
# noise for every call; recorded, each is translated (``torch_ref.dropout``'s aligned draws) or refused, naming it.
RANDOM_CREATIONS = ("rand", "randn", "randint", "randperm", "normal")


@contextlib.contextmanager
def recording(tracer: fx.Tracer, names: tuple, default_dtype: bool) -> Iterator[None]:
    """While inside, ``torch.<name>`` for each of ``names`` records a ``call_function`` node on ``tracer`` whatever its
    arguments (torch.fx records a call only when an argument is traced); ``default_dtype``: a floating creation given no
    dtype takes torch's default at trace time, which the twin then makes too. A tracer's ``running`` flag, when set,
    lets the calls run as plain torch (a node's example being computed)."""
    originals = {name: getattr(torch, name) for name in names}

    def recorder(fn):
        def record(*args, **kwargs):
            if getattr(tracer, "running", False):
                return fn(*args, **kwargs)
            floating = fn not in (torch.full, torch.randint, torch.randperm) or (
                fn is torch.full and isinstance(args[1] if len(args) > 1 else kwargs.get("fill_value"), float))
            if default_dtype and kwargs.get("dtype") is None and floating:
                kwargs = {**kwargs, "dtype": torch.get_default_dtype()}
            return tracer.create_proxy("call_function", fn, args, kwargs)
        return record

    try:
        for name, fn in originals.items():
            setattr(torch, name, recorder(fn))
        yield
    finally:
        for name, fn in originals.items():
            setattr(torch, name, fn)


class ShapeTracer(fx.Tracer):
    """An ``fx.Tracer`` whose proxies carry example values (see the module docstring); ``leaf`` says which modules
    stay whole, as ``is_leaf_module`` does."""

    def __init__(self, examples: list[torch.Tensor], leaf, autowrap_functions: tuple = ()):
        super().__init__(autowrap_functions=autowrap_functions)
        self.proxy_buffer_attributes = True  # (as torch_ref.to_funcad's tracer)
        self.record_stack_traces = True
        self.examples, self.leaf = list(examples), leaf
        self.copies: dict[str, torch.Tensor] = {}  # the example of each folded tensor, written by in-place examples
        self.running = False  # while a node's example runs: its creations are plain torch

    def trace(self, root, concrete_args=None) -> fx.Graph:
        """The graph, with ``torch.zeros(x.size(0), n)`` and the other ``CREATIONS`` recorded as nodes: torch would
        otherwise make them once, as constants, and a forward writing one in place (``out[:, t] = h``) and computing
        with it after would compute outside the trace. Random draws are recorded too (``RANDOM_CREATIONS``)."""
        with recording(self, CREATIONS + RANDOM_CREATIONS, default_dtype=True):
            return super().trace(root, concrete_args)

    def is_leaf_module(self, m: torch.nn.Module, module_qualified_name: str) -> bool:
        return self.leaf(m)

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return ShapedProxy(node, self)

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None) -> fx.Node:
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        with torch.no_grad(), _maybe_revert_all_patches():  # the examples run as plain torch, outside the tracer's patches
            self.running = True
            try:
                node.meta[EXAMPLE] = self._run(node)
            finally:
                self.running = False
        return node

    def _run(self, node: fx.Node):
        args, kwargs = _example(node.args), _example(node.kwargs)
        if node.op == "placeholder":  # forward's inputs in order; one not given takes its default
            return self.examples.pop(0) if self.examples else args[0]
        if node.op == "get_attr":  # a tensor the forward made is run on as a copy: in-place writes leave the folded one as made
            value = _attribute(self.root, node.target)
            return self.copies.setdefault(node.target, value.clone()) if folded(node.target) else value
        if node.op == "call_module":
            return self.root.get_submodule(node.target)(*args, **kwargs)
        if node.op == "call_method":
            return getattr(args[0], node.target)(*args[1:], **kwargs)
        if node.op == "call_function":
            return node.target(*args, **kwargs)
        return None  # the output node


def _attribute(root: torch.nn.Module, dotted: str):
    value = root
    for part in dotted.split("."):
        value = getattr(value, part)
    return value
