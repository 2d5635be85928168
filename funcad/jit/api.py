"""``funcad.jit``: trace once per input signature, optimise, generate numpy code, cache it.

Behaviour a user must know:

- The signature is the pytree structure of the arguments, the shape and dtype of every array
  leaf (Tensors, numpy arrays), and the value of every other leaf (Python numbers, strings,
  flags: these are static, so a new value traces again). Parameters passed as arguments are
  keyed by identity. A new signature traces again; a repeated one runs the cached program.
- Parameters read inside are inputs of the program; ``set_data`` inside (optimizer updates,
  BatchNorm running statistics) is a state write applied after every call, so the Parameters
  hold exactly what eager execution would leave in them.
- Python code runs only while tracing. Side effects outside Parameters (appending to a list,
  setting a global, printing, reading ``cell.training``) happen once, at trace time, and are
  not repeated by later calls; the values traced then are baked into the program.
- Python control flow on a traced one-element Tensor (``if is_finite:``, ``while err > tol:``) is guarded, as
  MindSpore's graph mode compiles it: while tracing, the condition is computed from this call's arguments and
  Parameters, the branch taken is traced, and the program records the outcome. Each later call runs the most
  recently used program whose guards hold (a failing guard stops a program before anything is written, having
  computed only what precedes it) and traces the other branch the first time it is taken. So each path through the
  conditions is one cached program (the 16th for one signature warns), and Python side effects happen again when a
  new path is traced. Other uses of a traced value in Python (``float(x)``, ``x.item()``, ``x.asnumpy()``) raise a
  ConcretizationError naming the function and the line; for those, branch with ``funcad.ops.where``.
- ``ops.dropout`` (and ``nn.Dropout``) without a seed reads and advances funcad's random key as Parameter
  state, so every call draws a fresh mask, the same sequence as eager execution. Other random draws
  made in Python while tracing (initialisers, numpy random calls) are constants of the program: every
  call reuses the numbers drawn at trace time (drawing from funcad's global generator warns).
- Called inside another transform (``grad`` of a jitted function) or with traced arguments,
  the function runs eagerly, so the outer transform sees every op.
- A compiled program keeps preallocated arrays for its intermediates: it is not re-entrant (do
  not call one jitted function from several threads at once) and each cached signature holds
  its own arrays; ``clear_cache()`` releases them.
"""

from __future__ import annotations

import contextlib
import types
import warnings
from collections.abc import Callable

import numpy as np

from funcad.core import conv_pin, pytree
from funcad.core.ownership import sole_owner
from funcad.core.tensor import Parameter, Tensor
from funcad.core.trace import Tracer, current_depth
from funcad.jit.codegen import compile_graph
from funcad.jit.ir import Const, Graph, Var
from funcad.jit.passes import PASSES, optimize
from funcad.jit.tracing import trace_function
from funcad.jit.tuning import tune


def _leaf_kind(leaf):
    """(signature entry, is_array) for one argument leaf."""
    if leaf.__class__ is Tensor:  # the common case: numpy's dtype in the key (equal to and hashed as the DType)
        return ("tensor", leaf._data.shape, leaf._data.dtype), True
    if isinstance(leaf, Parameter):
        return ("param", id(leaf)), False
    if isinstance(leaf, (Tensor, np.ndarray, np.generic)):
        if isinstance(leaf, Tensor):
            return ("tensor", leaf.shape, leaf.dtype), True
        return ("ndarray", np.shape(leaf), leaf.dtype), True
    try:
        hash(leaf)
    except TypeError:
        raise TypeError(
            f"funcad.jit: argument leaf of type {type(leaf).__name__} is neither an array nor hashable; "
            "pass arrays as Tensors/ndarrays and other values as hashable (static) Python values"
        ) from None
    return ("static", type(leaf), leaf), False


MISS = object()  # what a Program returns when a guarded condition differs from its traced value
MANY_PATHS = 16  # programs for one signature past which a warning says so (a loop whose trip count varies?)


class Program:
    """One compiled signature: the optimised graph, its generated source, and the callable."""

    def __init__(self, graph: Graph, buffers: bool = True):
        self.graph = graph
        self.run_arrays, self.source, spares = compile_graph(graph, buffers)
        self.spare_writes = [k for k, _ in spares]
        self.spares: list = [None] * len(spares)
        # Spares that may be the Parameter's current array itself (then its new value overwrites the old in place)
        self.overwritable = [(slot, graph.writes[k][0]) for slot, (k, ok) in enumerate(spares) if ok]
        self.params = tuple(p for p, _ in graph.params)
        self.param_types = tuple((v.shape, v.dtype) for _, v in graph.params)
        self.written = tuple(p for p, _ in graph.writes)
        self.n_out = sum(isinstance(o, Var) for o in graph.outputs)

    def params_match(self) -> bool:
        """Parameters keep their shapes and dtypes unless set eagerly to new ones; then trace again."""
        for p, (shape, dtype) in zip(self.params, self.param_types):
            data = p._data
            if data.shape != shape or data.dtype != dtype:
                return False
        return True

    def __call__(self, arrays: list):
        spares = self.spares
        for slot, p in self.overwritable:
            if sole_owner(p._data, 1):  # the Parameter's slot alone; a Tensor, view or user variable adds more
                spares[slot] = p._data
        results = self.run_arrays(*arrays, *[p._data for p in self.params], *spares)
        if results is None:  # a guard failed: nothing was written; another program (or a new trace) takes the call
            for slot, _ in self.overwritable:
                spares[slot] = None
            return MISS
        n = self.n_out
        replaced = [p._data for p in self.written]
        for p, value in zip(self.written, results[n:]):
            p._data = value
        # A replaced array that nothing else references (no Tensor, view or user variable: this name alone holds it)
        # becomes the spare the Parameter's next value is computed into.
        for slot, k in enumerate(self.spare_writes):
            old = replaced[k]
            replaced[k] = None
            spares[slot] = old if sole_owner(old, 1) else None  # held by this name alone
        outs = iter(results[:n])
        leaves = []
        for o in self.graph.outputs:
            if isinstance(o, Var):
                leaves.append(Tensor._wrap(next(outs)))
            elif isinstance(o, Const):
                leaves.append(Tensor._wrap(o.value))
            else:
                leaves.append(o)
        return pytree.unflatten(self.graph.out_tree, leaves)


class Lowered:
    """What ``jitted.lower(*args)`` returns: the optimised IR and the generated Python source."""

    def __init__(self, program: Program):
        self.graph = program.graph
        self.source = program.source

    def as_text(self) -> str:
        return self.graph.as_text()


class Jitted:
    """A function compiled per input signature; see the module docstring for the rules."""

    def __init__(self, fn: Callable, passes: tuple[str, ...] = tuple(PASSES), buffers: bool = True, conv_algorithm: str | None = None):
        self.fn = fn
        self.passes, self.buffers = tuple(passes), buffers
        conv_pin.validate(conv_algorithm)
        self.conv_algorithm = conv_algorithm
        self.trace_count = 0
        self._cache: dict = {}
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    def _programs(self, leaves: list, tree) -> tuple[list, list, list]:
        """(the programs cached for this signature, most recently used first; the array arguments; each leaf's
        is-array flag)."""
        kinds = [_leaf_kind(leaf) for leaf in leaves]
        key = (tree, tuple(k for k, _ in kinds), conv_pin.pinned())
        arrays = [leaf._data if isinstance(leaf, Tensor) else leaf for leaf, (_, arr) in zip(leaves, kinds) if arr]
        return self._cache.setdefault(key, []), arrays, [arr for _, arr in kinds]

    def _trace(self, programs: list, leaves: list, tree, is_array: list) -> Program:
        pin = contextlib.nullcontext() if self.conv_algorithm is None else conv_pin.conv_algorithm(self.conv_algorithm)
        with pin:
            graph = trace_function(self.fn, self.__name__, leaves, is_array, lambda traced: pytree.unflatten(tree, traced))
        self.trace_count += 1
        program = Program(tune(optimize(graph, self.passes)), self.buffers)
        programs.insert(0, program)
        if len(programs) == MANY_PATHS and graph.guards:
            warnings.warn(f"funcad.jit: {self.__name__!r} has compiled {MANY_PATHS} paths through its if/while conditions for "
                          "one input signature (a loop whose trip count depends on the data?); each call may try several "
                          "before the one that applies: choose with funcad.ops.where, or call it without jit",
                          RuntimeWarning, stacklevel=3)
        return program

    def __call__(self, *args, **kwargs):
        leaves, tree = pytree.flatten((args, kwargs))
        if current_depth() or any(isinstance(leaf, Tracer) for leaf in leaves):
            return self.fn(*args, **kwargs)
        programs, arrays, is_array = self._programs(leaves, tree)
        for i, program in enumerate(programs):
            if program.params_match():
                out = program(arrays)
                if out is not MISS:
                    if i:
                        programs.insert(0, programs.pop(i))
                    return out
        out = self._trace(programs, leaves, tree, is_array)(arrays)
        if out is MISS:
            raise RuntimeError(f"funcad.jit: {self.__name__!r} branched differently when run than when traced on the same "
                               "arguments; its conditions depend on something other than its inputs and Parameters")
        return out

    def __get__(self, instance, owner=None):
        """``@jit`` on a method (a Cell's ``construct`` included): each instance gets its own compiled method, bound
        to ``self``, kept in the instance so its programs are reused."""
        if instance is None:
            return self
        key = f"__funcad_jit_{id(self)}"
        slots = getattr(instance, "__dict__", None)
        bound = slots.get(key) if slots is not None else None
        if bound is None:
            bound = Jitted(types.MethodType(self.fn, instance), self.passes, self.buffers, self.conv_algorithm)
            if slots is not None:
                slots[key] = bound
        return bound

    def lower(self, *args, **kwargs) -> Lowered:
        """The compiled form for these arguments (traced now unless already cached); nothing runs."""
        leaves, tree = pytree.flatten((args, kwargs))
        programs, _, is_array = self._programs(leaves, tree)
        program = next((p for p in programs if p.params_match()), None) or self._trace(programs, leaves, tree, is_array)
        return Lowered(program)

    def clear_cache(self) -> None:
        """Forget every compiled program (e.g. after ``cell.set_train(False)``, which tracing baked in)."""
        self._cache.clear()


_MINDSPORE_OPTIONS = {"mode": ("PSJit", "PIJit"), "jit_level": ("O0", "O1", "O2"), "capture_mode": ("ast", "bytecode", "trace")}


def jit(fn: Callable | None = None, *, passes: tuple[str, ...] = tuple(PASSES), buffers: bool = True,
        conv_algorithm: str | None = None, **mindspore_options) -> Jitted | Callable[[Callable], Jitted]:
    """Compile ``fn`` (forward, gradients and Parameter updates inside it) into one program per signature.

    Usable as ``jit(fn)``, ``@jit`` and ``@jit(...)``, on functions and on methods (``self`` is kept). ``passes``
    (a subset of ``funcad.jit.passes.PASSES``: 'fold', 'simplify', 'cse', 'transpose_products', 'dce', 'fuse',
    'defer_aside_readers') and ``buffers`` (reuse preallocated arrays
    through ``out=``) exist to measure and debug the compiler; the defaults run everything. ``conv_algorithm`` pins
    the algorithm of every convolution traced ("gemm", "winograd", "fft", "direct"), or with "benchmark" times the
    applicable ones per convolution signature at compile time and keeps the fastest (cached for the process); None
    compiles eager mode's default choices, so the program computes what eager execution computes. See
    ``funcad.ops.conv_algorithms``, and ``funcad.jit.api`` for the rules on signatures, state and side effects.

    MindSpore's options are accepted and checked, and change nothing here: ``mode`` ('PSJit', 'PIJit'),
    ``jit_level`` ('O0', 'O1', 'O2'), ``capture_mode`` ('ast', 'bytecode', 'trace'), and ``input_signature``,
    ``hash_args``, ``jit_config``, ``compile_once``, ``dynamic``, ``fullgraph``, ``backend`` (funcad always traces
    per signature and compiles the whole function to NumPy).
    """
    for key, value in mindspore_options.items():
        allowed = _MINDSPORE_OPTIONS.get(key)
        if allowed is None and key not in ("input_signature", "hash_args", "jit_config", "compile_once", "dynamic", "fullgraph", "backend"):
            raise TypeError(f"funcad.jit: unknown option {key!r}")
        if allowed is not None and value not in allowed:
            raise ValueError(f"funcad.jit: {key} must be one of {', '.join(allowed)}, got {value!r}")
    if fn is None:
        return lambda f: Jitted(f, passes, buffers, conv_algorithm)
    return Jitted(fn, passes, buffers, conv_algorithm)


def jit_class(cls: type) -> type:
    """MindSpore's mark on a class whose instances are used inside jit-compiled code: funcad traces through any Python
    object, so the class comes back unchanged."""
    return cls


def mutable(input_data, dynamic_len: bool = False):
    """MindSpore's mark on a jit input to be compiled as a variable rather than a constant; unchanged here: funcad
    compiles Tensors as variables and specialises on Python values (one program per value)."""
    return input_data
