"""torch -> funcad, op by op: the funcad op a torch function, ``Tensor`` method or Python operator of a ``torch.fx``
graph runs as (``to_funcad`` replays such graphs).

Derived from the primitives' own declarations (``Primitive.torch``): a primitive declaring a torch function name is
that function, so ``torch.<name>``, ``torch.nn.functional.<name>`` and ``Tensor.<name>``, where torch has them, map
to the public op of the primitive's name, called as torch's function is called. A torch keyword funcad spells
otherwise is renamed (``dim`` -> ``axis``, ``keepdim`` -> ``keepdims``), ``input`` becomes the first argument, and a
method taking its sizes as varargs (``x.view(2, -1)``) has them packed into one tuple.

``REVERSE_ONLY`` holds what cannot be derived: torch functions that are funcad ops built from other primitives
(flatten, mean, transpose of two axes, gelu's two forms), and ``Tensor``'s own spellings (view, size);
``torch_ref.torch_functions`` the functions and methods whose arguments need adapting (losses, pools by function,
creation, reductions returning indices, ...), looked up first. Python's
operators (``operator.add``, ``operator.getitem``...) run as they are: funcad Tensors define them.
"""

from __future__ import annotations

import operator
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F

from funcad import ops
from funcad.core.primitive import Primitive
from torch_ref import torch_functions
from torch_ref.torch_translation import torch_function, torch_name

RENAMED = {"dim": "axis", "keepdim": "keepdims", "dims": "axes", "dim0": "axis1", "dim1": "axis2"}
IGNORED = ("inplace", "_stacklevel")  # torch keywords without effect on the value (as is dtype=None)
SIZE_VARARGS = frozenset({"view", "reshape", "permute", "tile", "broadcast_to"})  # Tensor methods also taking their sizes one by one
SELF_ELSEWHERE = frozenset({"where", "polygamma"})  # Tensor methods whose tensor is not the function's first argument (x.where(c, y))


def _size(x, dim: int | None = None):
    return tuple(x.shape) if dim is None else x.shape[dim]


def _flatten(input, start_dim: int = 0, end_dim: int = -1):  # noqa: A002 - torch's names
    """torch.flatten / Tensor.flatten: everything by default (funcad's, as MindSpore's, keeps the batch axis)."""
    return ops.flatten(input, start_dim, end_dim)


REVERSE_ONLY: dict[object, Callable] = {
    torch.flatten: _flatten, "flatten": _flatten,
    torch.mean: ops.mean, "mean": ops.mean,
    torch.transpose: ops.swapaxes, "transpose": ops.swapaxes, torch.swapaxes: ops.swapaxes, "swapaxes": ops.swapaxes,
    torch.swapdims: ops.swapaxes, "swapdims": ops.swapaxes,
    F.gelu: ops.gelu,
    "view": ops.reshape, "size": _size,
}

# funcad ops built from several primitives (MindSpore's names) that torch's function and Tensor method of the same name
# are, called alike (each checked against torch by tests/test_to_funcad_functions.py).
SAME_NAME = (
    "mm", "bmm", "baddbmm", "addcmul", "addcdiv", "lerp", "repeat_interleave", "any", "all", "count_nonzero", "diff", "nan_to_num",
    "addmm", "movedim", "moveaxis", "unflatten", "vstack", "hstack", "logit", "erfc", "lgamma", "digamma", "true_divide", "rsub", "tril", "triu",
    "outer", "trace", "isclose", "narrow", "deg2rad", "rad2deg", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh",
    "tensor_split",
)


def primitive_of(name: str, op: Callable) -> Primitive | None:
    """The primitive the public op ``ops.<name>`` is: the op itself, or the primitive of that name in its module."""
    if isinstance(op, Primitive):
        return op if op.name == name else None
    module = sys.modules.get(getattr(op, "__module__", None) or "")
    return next((v for v in vars(module).values() if isinstance(v, Primitive) and v.name == name), None) if module else None


def derived() -> tuple[dict[object, Callable], dict[str, Callable]]:
    """The torch functions and ``Tensor`` method names the primitives' declarations name, each with its public funcad op."""
    functions: dict[object, Callable] = {}
    methods: dict[str, Callable] = {}
    for name in sorted(n for n in dir(ops) if not n.startswith("_")):
        op = getattr(ops, name)
        prim = primitive_of(name, op) if callable(op) else None
        declared = torch_name(prim) if prim is not None else None
        if declared is None:
            continue
        leaf = declared.rpartition(".")[2]
        for fn in {torch_function(declared), getattr(torch, leaf, None), getattr(F, leaf, None)} - {None}:
            functions[fn] = op
        if callable(getattr(torch.Tensor, leaf, None)) and leaf not in SELF_ELSEWHERE:
            methods[leaf] = op
    return functions, methods


FUNCTIONS, METHODS = derived()
FUNCTIONS.update({getattr(torch, name): getattr(ops, name) for name in SAME_NAME if hasattr(torch, name)})
METHODS.update({name: getattr(ops, name) for name in SAME_NAME if callable(getattr(torch.Tensor, name, None))})


# Random draws torch_ref.dropout does not align (it translates rand, randn, their _like forms, bernoulli and the in-place
# bernoulli_, uniform_ and normal_), refused with the way out.
RANDOM = ("randint", "randint_like", "normal", "multinomial", "poisson", "randperm", "exponential_", "random_", "cauchy_", "log_normal_",
          "geometric_")


VALUE_READS = ("item", "tolist", "numpy", "__bool__", "__int__", "__float__", "__index__")


def _random_refusal(name: str) -> str:
    return (f"{name} draws random numbers, which the funcad twin cannot draw as torch does (dropout's masks, rand, randn, their "
            "_like forms, bernoulli, uniform_ and normal_ are aligned, torch_ref.dropout): pass the noise to forward as an input "
            "(forward(x, eps))")


class NoTranslation(LookupError):
    """A torch op funcad has no translation for; the caller names where it was met."""


def described(fn) -> str:
    """``torch.cumsum``, ``torch.nn.functional.pad``: the public name of a function where it has one."""
    name = getattr(fn, "__name__", str(fn))
    for prefix, namespace in (("torch", torch), ("torch.nn.functional", F), ("operator", operator)):
        if getattr(namespace, name, None) is fn:
            return f"{prefix}.{name}"
    return f"{getattr(fn, '__module__', None) or '?'}.{getattr(fn, '__qualname__', name)}"


def in_place(method: str) -> bool:
    """Whether ``method`` is a torch in-place Tensor method (``add_``, ``clamp_``, item assignment), whose result replaces
    its tensor."""
    return (method.endswith("_") and not method.startswith("_")) or method == "__setitem__"


def tensor_method_name(fn) -> str | None:
    """The name of the ``torch.Tensor`` method ``fn`` is (torch.fx records ``param.new_zeros(n, proxy)``, a method of a real
    tensor called with a traced argument, as a call of the function ``torch.Tensor.new_zeros``), or None."""
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) and getattr(fn, "__objclass__", None) is not None and getattr(torch.Tensor, name, None) is fn else None


def in_place_function(fn) -> Callable | None:
    """The out-of-place namesake of a torch in-place function (``torch.relu_``, ``F.elu_``, ``torch.Tensor.mul_``), or None."""
    name = getattr(fn, "__name__", "")
    if not name.endswith("_") or name.startswith("_"):
        return None
    return next((getattr(ns, name[:-1], None) for ns in (torch, F, torch.Tensor) if getattr(ns, name, None) is fn), None)


def funcad_op(kind: str, target) -> Callable:
    """The funcad op for an fx ``call_function`` target or ``call_method`` name; ``NoTranslation`` when there is none."""
    if kind == "call_method":
        op = torch_functions.METHODS.get(target) or METHODS.get(target) or REVERSE_ONLY.get(target)
        if op is None and target in RANDOM:  # (before the in-place form: exponential_ is a draw, not exponential's result)
            raise NoTranslation(_random_refusal(f"Tensor.{target}"))
        if op is None and in_place(target):  # x.mul_(2): the replay computes x * 2 and rebinds x (``_Program.run``)
            return funcad_op(kind, target[:-1])
        if op is None and target in VALUE_READS:
            raise NoTranslation(f"Tensor.{target} reads a tensor's values into Python, which the funcad twin cannot follow (it replays one "
                                "traced graph, whose Python numbers come from sizes and configuration): keep the value a tensor")
        if op is None:
            raise NoTranslation(f"Tensor.{target} has no funcad translation (no primitive declares torch.{target}; torch_ref.from_torch)")
        return op
    if getattr(target, "__module__", None) in ("_operator", "math"):  # math.sqrt(q.size(-1)): on the sizes, Python numbers
        return target
    if tensor_method_name(target) is not None:
        return funcad_op("call_method", tensor_method_name(target))
    op = torch_functions.FUNCTIONS.get(target) or FUNCTIONS.get(target) or REVERSE_ONLY.get(target)
    if op is None and in_place_function(target) is not None:  # torch.relu_(x): as the method, x's result is rebound
        return funcad_op(kind, in_place_function(target))
    if op is None and getattr(target, "__name__", None) in RANDOM and getattr(torch, target.__name__, None) is target:
        raise NoTranslation(_random_refusal(described(target)))
    if op is None:
        raise NoTranslation(f"{described(target)} has no funcad translation (no primitive declares it; torch_ref.from_torch)")
    return op


def funcad_call(op: Callable, method: str | None, args: tuple, kwargs: dict):
    """Run the funcad ``op`` on arguments written for its torch counterpart (``method``: the Tensor method's name)."""
    if method in SIZE_VARARGS and (len(args) > 2 or (len(args) == 2 and isinstance(args[1], int))):
        args = (args[0], tuple(args[1:]))
    if "input" in kwargs:
        args = (kwargs["input"], *args)
    kwargs = {RENAMED.get(k, k): v for k, v in kwargs.items() if k not in (*IGNORED, "input") and not (k == "dtype" and v is None)}
    return op(*args, **kwargs)
