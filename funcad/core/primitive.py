"""Primitives: the unit of the engine. One name, one array forward, its derivative rules and its declarations.

Rules are written in funcad ops, so differentiating a rule (gradients of gradients) needs nothing extra.
``Primitive.__call__`` is the single dispatch point every op goes through: it resolves bound Parameters, finds
the highest-level tracer among the inputs and hands the op to that tracer's trace, or runs the forward on arrays.

Everything an interpreter needs to know about a primitive is declared on it, next to its forward; no interpreter
keeps a table of its own. The fields (``Primitive.FIELDS``), each read by:

- ``vjps`` / ``jvps`` (reverse and forward mode): per-argument rules, set by ``defvjp``/``defjvp`` or by the helpers
  for common shapes (``defelementwise``, ``deflinear``, ``defvariadic``, ``defadjoint``). A None rule marks an
  argument that takes no derivative; an argument past the rules raises when differentiated.
- ``differentiable``: True once rules are given; False by ``nondifferentiable()`` (comparisons, argmax, floor...),
  the only way an op's output is a constant for every transform.
- ``emit`` (jit code generation): ``emit(args, node, out, emitter)`` returns the numpy expression computing the node
  (``out`` is a buffer name or None; return None to fall back), or None: the program calls ``impl``.
- ``elementwise``: output element i depends only on input elements i, so the output may overwrite a dying input.
- ``broadcasts``: its array arguments may be broadcast to the output's shape (numpy-style elementwise ops, matmul's
  batch axes, a bias added to a product): the backward pass sums their cotangents back to their shapes and the
  forward pass broadcasts their tangents, so the rules need not; for an elementwise op, an explicit broadcast_to
  feeding it can be dropped by the compiler.
- ``takes_out``: the emitted expression accepts ``out=`` (a bool, or ``takes_out(node)`` deciding per node).
- ``identities``: {argument position: value} such that the op returns its other argument unchanged when that
  argument is filled with value (``x * 1``, ``x + 0``); read by the simplification pass.
- ``simplify``: names of rewrite patterns (``funcad.jit.passes.PATTERNS``) that apply to this op's nodes.
- ``role``: what other ops' rewrite patterns may recognise this op as ("broadcast", "cast", "transpose",
  "matmul"), or None.

None unless an op needs them (``OPTIONAL_FIELDS``):
- ``tune`` (the jit pass ``funcad.jit.tuning``): ``tune(node) -> dict`` of keyword arguments to replace, chosen from
  the node's argument shapes and dtypes and its keyword arguments (the convolutions pick their ``algorithm``). The
  choice stays an ordinary keyword argument of the node, so the program calls the same ``impl`` eager mode runs.
- ``batch`` (vmap): a batching rule in JAX's shape, ``batch(args, dims, **kwargs) -> (out, out_dim)``, declared beside
  the op (``funcad.ops.batching`` has the common shapes and derives elementwise ops' rules; others loop).
- ``epilogue`` (the jit pass ``funcad.jit.fusion``): a primitive computing this op's output and then elementwise steps
  on it, block by block while the block is in cache, called as ``epilogue(*args, *operands, steps=..., **kwargs)``
  (``steps``: one ``(primitive, position of the value, takes an operand, kwargs items)`` per step).
- ``promote`` (every call, before dispatch): ``promote(args) -> args`` applying MindSpore's type promotion where it
  differs from numpy's (``funcad.core.promotion``: integers meeting floats are cast to them first).
- ``complex`` (every call): True when the op's forward and rules are right for complex values (add, multiply, the
  FFTs, real/imag/...); any other op whose result would be complex refuses it. A VJP rule follows torch's convention:
  the cotangent of a complex value z is dL/dRe(z) + i dL/dIm(z), so a holomorphic op's rule multiplies by the conjugate
  derivative, and a real argument's complex cotangent keeps its real part (done by the backward pass).
- ``aside`` (jit code generation): for an op worth running on another core while the program goes on, because its
  value is read much later (a convolution's weight gradient, read by the optimizer at the end of the step), the class
  that runs it: ``worth(node)`` says whether a node is large enough to pay for another thread, the program makes one
  instance per call, hands it each such node as ``submit(impl, *args, **kwargs)``
  (returning an object whose ``result()`` it calls where the value is first read: ``funcad.jit.codegen.aside_joins``)
  and calls ``close()`` however the call ends (``funcad.ops.batch_threads.Aside``). Its ``impl`` must be safe to run
  beside the program's other ops (no shared state but its arguments, which the program leaves alone meanwhile).
- ``torch`` (read by ``torch_ref.mirror``, which emits a traced Cell as torch code, and by ``torch_ref.to_funcad``,
  which maps torch's function of that name back to the op): how torch computes the op, as the name of a function in
  torch's namespace (``"matmul"``, ``"nn.functional.silu"``) called with the node's arguments as they are, a callable
  ``f(torch, *args, **kwargs)`` given the torch module (funcad never imports torch), or both, ``(name, recipe)``: the
  torch function that is the op (called as the public op of the same name is), run through the recipe where the
  node's arguments do not fit it as they are (a Python number first, a tuple of operands).
- ``keywords`` (every call given keyword arguments): {MindSpore 2.x's keyword name: argument position}, the names
  under which the op's array arguments may be passed by keyword (``ops.pow(x, exponent=2)``, ``ops.add(input=a,
  other=b)``); a call moves them into their places, since a primitive's keyword arguments are static. ``input`` names
  the first argument unless declared otherwise (``funcad.ops.ms_keywords`` declares the rest from one table).

``declare(**fields)`` sets fields (``primitive(..., **fields)`` at definition); a field never declared reads as
``UNDECLARED``, which interpreters treat as "lacks it" and the completeness test rejects.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import MappingProxyType

import numpy as np

from funcad.core.lowering import ufunc_emitter
from funcad.core.tensor import Parameter, Tensor
from funcad.core.trace import Tracer

_new_tensor = object.__new__
_ndarray = np.ndarray
_asarray = np.asarray
_FLOAT64 = np.dtype(np.float64)
_FLOAT32 = np.dtype(np.float32)
_array_types = (np.ndarray, np.generic)


class _Undeclared:
    """The value of a declaration nobody made (falsy, so interpreters read it as "lacks it")."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNDECLARED"


UNDECLARED = _Undeclared()
INPUT_FIRST = MappingProxyType({"input": 0})  # MindSpore 2.x names an op's first argument ``input``: ops.exp(input=x)


def keywords_to_positions(op: str, positions: Mapping[str, int], args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``args`` and ``kwargs`` with the keyword arguments named in ``positions`` moved to their positions; the others
    stay keywords. A position given twice, or left empty before a filled one, is a TypeError naming the op."""
    placed = dict(enumerate(args))
    rest = {}
    for key, value in kwargs.items():
        i = positions.get(key)
        if i is None:
            rest[key] = value
        elif i in placed:
            raise TypeError(f"funcad.ops.{op}: {key} given both by position and as {key}=" if i < len(args) else
                            f"funcad.ops.{op}: argument {i} given twice (as {key}= and under another name)")
        else:
            placed[i] = value
    if len(placed) <= max(placed):
        names: dict[int, str] = {}
        for key, i in positions.items():
            names.setdefault(i, key)  # the first name declared for a position: MindSpore's
        missing = [names.get(i, str(i)) for i in range(max(placed)) if i not in placed]
        raise TypeError(f"funcad.ops.{op}: missing argument(s) {', '.join(missing)} before the ones given by keyword")
    return tuple(placed[i] for i in range(len(placed))), rest

def _describe(value) -> str:
    if isinstance(value, (Tensor, np.ndarray)):
        return f"{value.dtype}{list(value.shape)}"
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (Tensor, np.ndarray)):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    return repr(value) if len(repr(value)) < 40 else type(value).__name__


class _AtPosition:
    """Per-argument rules of a variadic op: ``rules[i]`` is ``rule`` with the position i bound first."""

    __slots__ = ("rule", "bound")

    def __init__(self, rule: Callable):
        self.rule = rule
        self.bound: dict = {}

    def __len__(self) -> int:
        return 1 << 30  # any number of arguments

    def __getitem__(self, i: int) -> Callable:
        bound = self.bound.get(i)
        if bound is None:
            bound = self.bound[i] = functools.partial(self.rule, i)
        return bound


class Primitive:
    """An op with a numpy forward ``impl``, per-argument VJP/JVP rules and the declarations listed in the module doc.

    ``defvjp(r0, r1, ...)``: ``r_i(g, ans, *args, **kwargs)`` returns the cotangent of argument i (None marks an
    argument that takes no gradient); for an op declaring ``broadcasts``, the backward pass sums a cotangent back to
    its argument's shape. ``defjvp`` likewise maps the tangent of argument i to its contribution to the output's
    tangent (broadcast to the output's shape by the forward pass, for such an op).
    """

    FIELDS = ("emit", "elementwise", "broadcasts", "takes_out", "identities", "simplify", "role", "differentiable")
    OPTIONAL_FIELDS = ("tune", "batch", "epilogue", "promote", "torch", "complex", "aside", "keywords")

    def __init__(self, name: str, impl: Callable, **declarations):
        self.name = name
        self.impl = impl
        self.vjps: tuple = ()
        self.jvps: tuple = ()
        for field in self.FIELDS:
            setattr(self, field, UNDECLARED)
        self.batch = self.tune = self.epilogue = self.promote = self.torch = self.aside = None
        self.complex = False
        self.keywords = INPUT_FIRST
        self.__doc__ = impl.__doc__
        self.__wrapped__ = impl
        self.declare(**declarations)

    def declare(self, **fields) -> Primitive:
        unknown = set(fields) - set(self.FIELDS) - set(self.OPTIONAL_FIELDS)
        if unknown:
            raise TypeError(f"primitive {self.name}: unknown declarations {sorted(unknown)}; known: {self.FIELDS + self.OPTIONAL_FIELDS}")
        for field, value in fields.items():
            setattr(self, field, value)
        return self

    def undeclared(self) -> list[str]:
        """The fields nobody declared (the completeness test wants none)."""
        return [f for f in self.FIELDS if getattr(self, f) is UNDECLARED]

    # -- derivative rules ---------------------------------------------------------------------------------------
    def defvjp(self, *rules) -> Primitive:
        self.vjps = rules
        self.differentiable = True
        return self

    def defjvp(self, *rules) -> Primitive:
        self.jvps = rules
        self.differentiable = True
        return self

    def defelementwise(self, *rules) -> Primitive:
        """One rule per argument serving both modes: ``rule(v, ans, *args)`` applies the derivative to ``v``, a
        cotangent or a tangent alike. Right for elementwise ops, whose derivative is diagonal (its own adjoint);
        the passes fix the shapes a broadcast changed."""
        return self.defvjp(*rules).defjvp(*rules)

    def deflinear(self, *vjps) -> Primitive:
        """An op linear in each array argument separately (reshape, matmul, conv...): the tangent of argument i goes
        through the op itself in that argument's place; ``vjps`` give the transposes."""
        return self.defvjp(*vjps).defjvp(*(None if rule is None else functools.partial(_through_op, self, i) for i, rule in enumerate(vjps)))

    def defvariadic(self, vjp: Callable, jvp: Callable) -> Primitive:
        """Rules for any number of arguments: ``vjp(i, g, ans, *args)`` and ``jvp(i, t, ans, *args)`` get the position."""
        self.vjps, self.jvps = _AtPosition(vjp), _AtPosition(jvp)
        self.differentiable = True
        return self

    def nondifferentiable(self) -> Primitive:
        """Declare the output a constant for every transform (comparisons, rounding, argmax, random draws)."""
        self.vjps = self.jvps = ()
        self.differentiable = False
        return self

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    # -- dispatch -----------------------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        # The hot path of the whole engine. Plain Tensors and Python numbers alone go straight to the forward, for a
        # class check each (and, for an op declaring ``promote``, a float32 Tensor's dtype identity test); anything
        # else (a tracer, a Parameter, an integer array meeting a promoting op) takes the full dispatch below.
        if kwargs and not self.keywords.keys().isdisjoint(kwargs):
            args, kwargs = keywords_to_positions(self.name, self.keywords, args, kwargs)  # ops.exp(input=x), ops.pow(x, exponent=2)
        promote = self.promote
        raw = []
        for a in args:
            cls = a.__class__
            if cls is Tensor:
                data = a._data
                if promote is not None and (dtype := data.dtype) is not _FLOAT32 and dtype.kind in "iub":
                    break
                raw.append(data)
            elif isinstance(a, Tensor) or (promote is not None and cls is not float and cls is not int):
                break
            else:
                raw.append(a)
        else:
            return self.run_arrays(raw, kwargs)
        if promote is not None:
            args = promote(args)
        top = None
        for a in args:
            if isinstance(a, Tensor) and a.__class__ is not Tensor:
                if isinstance(a, Parameter):
                    return self._call_with_parameters(args, kwargs)
                if isinstance(a, Tracer) and (top is None or a._trace.level > top._trace.level):
                    top = a
        if top is not None:
            return top._trace.process(self, args, kwargs)
        return self.forward(args, kwargs)

    def _call_with_parameters(self, args, kwargs):
        """Parameters stand for their current value: a transform's tracer, a compiler's, or their own data."""
        resolved = []
        top = None
        for a in args:
            if isinstance(a, Parameter):
                a = a._current()
                if isinstance(a, Parameter):  # unbound and no compiler tracing: its own value
                    a = Tensor._wrap(a._data)
            if isinstance(a, Tracer) and (top is None or a._trace.level > top._trace.level):
                top = a
            resolved.append(a)
        if top is not None:
            return top._trace.process(self, resolved, kwargs)
        return self.forward(resolved, kwargs)

    def forward(self, args, kwargs) -> Tensor:
        """Run ``impl`` on inputs holding no tracers or Parameters (the caller has checked), with errors that name
        the op and its inputs. When only Python scalars go in, a float result is float32 (MindSpore's default),
        not numpy's float64. A complex result is refused unless the op declares ``complex`` (its rules are right for it).
        """
        return self.run_arrays([a._data if isinstance(a, Tensor) else a for a in args], kwargs)

    def run_arrays(self, raw: list, kwargs) -> Tensor:
        """``forward`` on its inputs' arrays (and Python values)."""
        try:
            out = self.impl(*raw, **kwargs)
        except (ValueError, IndexError, TypeError) as err:
            raise self._error(err, raw) from None
        if out.__class__ is not _ndarray:
            out = _asarray(out)
        dtype = out.dtype
        if dtype is _FLOAT64:
            if not any(isinstance(a, _array_types) for a in raw):
                out = out.astype(_FLOAT32)
        elif dtype is not _FLOAT32 and dtype.kind == "c" and not self.complex:
            raise TypeError(f"funcad.ops.{self.name}: complex values are not supported (inputs: {', '.join(_describe(a) for a in raw)})")
        t = _new_tensor(Tensor)
        t._data = out
        return t

    def run(self, args, kwargs) -> np.ndarray:
        """The forward on plain arrays, as an array (what a compiler calls while tracing and folding constants)."""
        return self.forward(args, kwargs)._data

    def _error(self, err: Exception, raw) -> Exception:
        if str(err).startswith("funcad.ops."):  # the implementation already named the op the user called
            return err
        shapes = ", ".join(_describe(a) for a in raw)
        message = f"funcad.ops.{self.name}: {err} (inputs: {shapes})"
        try:
            return type(err)(message)
        except TypeError:  # an exception class taking other arguments (numpy's ufunc loop errors): its plain base
            return next(base for base in (IndexError, ValueError, TypeError, ArithmeticError, Exception) if isinstance(err, base))(message)


def _through_op(prim: Primitive, position: int, t, ans, *args, **kwargs):
    """The tangent of a linear argument: the op applied with the tangent in that argument's place."""
    return prim(*args[:position], t, *args[position + 1 :], **kwargs)


def defadjoint(forward: Primitive, transpose: Primitive, forward_vjp: Callable, transpose_vjp: Callable) -> None:
    """Two ops linear in their first argument, each the other's transpose (gather and scatter, a window sum and its
    spreading back): ``forward_vjp(g, ans, *args)`` calls ``transpose``, ``transpose_vjp`` calls ``forward``."""
    forward.deflinear(forward_vjp)
    transpose.deflinear(transpose_vjp)


def primitive(impl: Callable | None = None, /, **declarations):
    """Decorator: turn an array function into a Primitive named after it (``_sum`` is reported as ``sum``); keywords
    are declarations (see the module doc). Usable bare (``@primitive``) or with declarations (``@primitive(...)``)."""
    if impl is None:
        return lambda f: Primitive(f.__name__.lstrip("_"), f, **declarations)
    return Primitive(impl.__name__.lstrip("_"), impl, **declarations)


# Declaration bundles for the common kinds of op.
def compiled_as_call(**overrides) -> dict:
    """An op the compiler calls as its own ``impl``: no inline numpy, not elementwise, no ``out=``, no identities."""
    return {"emit": None, "elementwise": False, "broadcasts": False, "takes_out": False, "identities": {}, "simplify": (),
            "role": None, **overrides}


def numpy_ufunc(name: str, arity: int, **overrides) -> dict:
    """An op that is the numpy ufunc ``np.<name>``: emitted inline with ``out=``, elementwise, broadcasting."""
    declared = {"emit": ufunc_emitter(name, arity), "elementwise": True, "broadcasts": arity > 1, "takes_out": True, **overrides}
    return compiled_as_call(**declared)
