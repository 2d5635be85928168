"""The torch -> funcad op table: torch functions, tensor methods and Python operators next to the funcad op each one is.

``to_funcad`` reads it to replay a ``torch.fx`` graph with funcad ops (``funcad_call``). Keyword arguments are renamed
(``dim`` -> ``axis``, ``keepdim`` -> ``keepdims``); a torch method taking its sizes as varargs (``x.view(2, -1)``) has
them packed into one tuple. A new op is one ``OpRule`` in ``RULES``. (The other direction, funcad -> torch, is declared
on each primitive: ``Primitive.torch``, read by ``torch_ref.traced``.)
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from funcad import ops

_DIM = {"dim": "axis", "keepdim": "keepdims", "input": "x"}


@dataclass(frozen=True)
class OpRule:
    """One funcad op and the torch callables and ``Tensor`` method names that compute the same thing."""

    funcad: Callable
    torch: tuple[Callable, ...] = ()
    methods: tuple[str, ...] = ()
    rename: Mapping[str, str] = field(default_factory=dict)  # torch keyword -> funcad keyword
    varargs: bool = False  # the method's arguments after self form one tuple (view, permute, reshape)
    ignored: tuple[str, ...] = ("inplace", "_stacklevel")  # torch keywords without effect on the value (and dtype=None)


def _size(x, dim: int | None = None):
    return tuple(x.shape) if dim is None else x.shape[dim]


RULES: list[OpRule] = [
    OpRule(ops.add, (torch.add, operator.add, operator.iadd), ("add",)),
    OpRule(ops.subtract, (torch.sub, operator.sub, operator.isub), ("sub",)),
    OpRule(ops.multiply, (torch.mul, operator.mul, operator.imul), ("mul",)),
    OpRule(ops.divide, (torch.div, operator.truediv), ("div",)),
    OpRule(ops.negative, (torch.neg, operator.neg), ("neg",)),
    OpRule(ops.matmul, (torch.matmul, operator.matmul), ("matmul",)),
    OpRule(ops.power, (torch.pow, operator.pow), ("pow",)),
    OpRule(ops.relu, (torch.relu, F.relu), ("relu",)),
    OpRule(ops.sigmoid, (torch.sigmoid, F.sigmoid), ("sigmoid",)),
    OpRule(ops.tanh, (torch.tanh, F.tanh), ("tanh",)),
    OpRule(ops.silu, (F.silu,)),
    OpRule(ops.gelu, (F.gelu,)),
    OpRule(ops.exp, (torch.exp,), ("exp",)),
    OpRule(ops.log, (torch.log,), ("log",)),
    OpRule(ops.sqrt, (torch.sqrt,), ("sqrt",)),
    OpRule(ops.softmax, (torch.softmax, F.softmax), ("softmax",), _DIM),
    OpRule(ops.log_softmax, (torch.log_softmax, F.log_softmax), ("log_softmax",), _DIM),
    OpRule(ops.sum, (torch.sum,), ("sum",), _DIM),
    OpRule(ops.mean, (torch.mean,), ("mean",), _DIM),
    OpRule(ops.flatten, (torch.flatten,), ("flatten",), {"input": "x"}),
    OpRule(ops.reshape, (torch.reshape,), ("reshape", "view"), {"input": "x"}, varargs=True),
    OpRule(ops.transpose, (torch.permute,), ("permute",), {"input": "x", "dims": "axes"}, varargs=True),
    OpRule(ops.swapaxes, (torch.transpose,), ("transpose",), {"input": "x", "dim0": "axis1", "dim1": "axis2"}),
    OpRule(ops.concat, (torch.cat,), (), {"dim": "axis"}),
    OpRule(ops.equal, (torch.eq, operator.eq), ("eq",)),
    OpRule(ops.not_equal, (torch.ne, operator.ne), ("ne",)),
    OpRule(ops.less, (torch.lt, operator.lt), ("lt",)),
    OpRule(ops.less_equal, (torch.le, operator.le), ("le",)),
    OpRule(ops.greater, (torch.gt, operator.gt), ("gt",)),
    OpRule(ops.greater_equal, (torch.ge, operator.ge), ("ge",)),
    OpRule(operator.getitem, (operator.getitem,)),
    OpRule(_size, (), ("size",)),
]

_BY_TORCH: dict[object, OpRule] = {fn: rule for rule in RULES for fn in rule.torch}
_BY_METHOD: dict[str, OpRule] = {name: rule for rule in RULES for name in rule.methods}


class NoTranslation(LookupError):
    """An op without an entry in the table; the caller names where it was met."""


def _described(fn) -> str:
    """``torch.cumsum``, ``torch.nn.functional.pad``, ``operator.floordiv``: the public name of a function where it has one."""
    name = getattr(fn, "__name__", str(fn))
    for prefix, namespace in (("torch", torch), ("torch.nn.functional", F), ("operator", operator), ("funcad.ops", ops)):
        if getattr(namespace, name, None) is fn:
            return f"{prefix}.{name}"
    return f"{getattr(fn, '__module__', None) or '?'}.{getattr(fn, '__qualname__', name)}"


def funcad_rule(kind: str, target) -> OpRule:
    """The rule for an fx ``call_function`` target or ``call_method`` name; ``NoTranslation`` when there is none."""
    rule = _BY_METHOD.get(target) if kind == "call_method" else _BY_TORCH.get(target)
    if rule is None:
        shown = f"Tensor.{target}" if kind == "call_method" else _described(target)
        raise NoTranslation(f"{shown} has no funcad translation (torch_ref.op_table)")
    return rule


def funcad_call(rule: OpRule, args: tuple, kwargs: dict):
    """Run ``rule``'s funcad op on arguments written for its torch counterpart."""
    if rule.varargs and (len(args) > 2 or (len(args) == 2 and isinstance(args[1], int))):
        args = (args[0], tuple(args[1:]))
    kwargs = {rule.rename.get(k, k): v for k, v in kwargs.items() if k not in rule.ignored and not (k == "dtype" and v is None)}
    return rule.funcad(*args, **kwargs)
