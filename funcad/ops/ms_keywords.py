"""MindSpore 2.x's keyword names over funcad's ops, from one table.

funcad's ops take MindSpore's arguments in MindSpore's positional order, but some name them as numpy does (``x``,
``y``, ``axes``, ``reps``). ``MS_NAMES`` lists MindSpore's names, position by position, for each op whose names
differ; ``adapt_namespace`` makes ``funcad.ops`` accept them by keyword as well as funcad's own names:

- a primitive declares them (``Primitive.keywords``): a call moves such keyword arguments into their positions;
- a function is wrapped once, renaming each MindSpore keyword to funcad's parameter at the same position.

Every op whose first argument is its input takes it as ``input=`` too. The reductions in ``EMPTY_AXIS_REDUCES_ALL``
read ``axis=()`` (or ``dim=()``) as every axis, MindSpore's meaning, in ``funcad.ops`` and the Tensor methods built on
it; the functions themselves, which ``funcad.numpy`` and funcad's internals call, keep numpy's (no axis).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from funcad.core.primitive import Primitive

# MindSpore's parameter names, in order, of the ops whose funcad names differ; "a|b": either name for that position
MS_NAMES: dict[str, str] = {
    # elementwise binary ops: (input, other)
    **dict.fromkeys(("add", "sub", "subtract", "mul", "multiply", "divide", "maximum", "minimum", "remainder", "floor_divide",
                     "matmul", "eq", "equal", "ne", "not_equal", "ge", "gt", "le", "lt", "greater", "greater_equal", "less",
                     "less_equal", "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
                     "gcd", "lcm", "xlogy", "dot"), "input, other"),
    "pow": "input, exponent",
    "power": "input, exponent",
    "mm": "input, mat2",
    "mv": "mat|input, vec",
    "outer": "input, vec2",
    "ger": "input, vec2",
    "tensor_dot": "x1, x2, axes",
    "where": "condition, x|input, y|other",
    "select": "cond|condition, x|input, y|other",
    "polygamma": "n, input",
    "cast": "input|input_x, dtype",
    "reshape": "input|input_x, shape",
    "transpose": "input|input_x, input_perm",
    "tile": "input|input_x, multiples|dims",
    "expand_dims": "input_x|input, axis",
    "swapaxes": "input, axis0, axis1",
    "swapdims": "input, dim0, dim1",
    "stop_gradient": "value|input",
    "log_softmax": "logits|input, axis",
    "elu": "input_x|input, alpha",
    "gelu": "input_x|input, approximate",
    "det": "input",
    "slogdet": "input",
    "dense": "input, weight, bias",
    "full": "size|shape, fill_value, dtype",
    "zeros": "size|shape, dtype",
    "ones": "shape|size, dtype",
    "embedding": "input|indices, weight, padding_idx",
    "binary_cross_entropy": "logits|input, labels|target, weight, reduction",
    "binary_cross_entropy_with_logits": "logits|input, label|target, weight, pos_weight, reduction",
    "nll_loss": "inputs|input, target, weight, ignore_index, reduction, label_smoothing",
    "gaussian_nll_loss": "x|input, target, var, full, eps, reduction",
    "batch_norm": "input_x|input, running_mean, running_var, weight, bias, training, momentum, eps",
    "pad": "input_x|input",
    "count_nonzero": "x|input, axis, keep_dims, dtype",
    "norm": "A|input",
    "kthvalue": "input, k, dim, keepdim",
}

# MindSpore's reductions reading axis=() as every axis (their ReduceSum, ReduceMean, ... primitives do, and the docs of
# ops.var, std, var_mean and std_mean give axis=() a 0-D result over all elements)
EMPTY_AXIS_REDUCES_ALL = frozenset({"sum", "mean", "prod", "amax", "amin", "all", "any", "logsumexp", "var", "std", "var_mean", "std_mean"})


def _names(op: str) -> list[tuple[str, ...]]:
    """MS_NAMES[op] as one tuple of names per position."""
    return [tuple(n.strip() for n in part.split("|")) for part in MS_NAMES[op].split(",")]


def _parameters(fn: Callable) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_FIRST_NAMES = ("x", "input_x", "a")  # funcad's names for an input MindSpore calls ``input``


def _declared_names(op: str, params: list[inspect.Parameter]) -> list[tuple[str, ...]]:
    """MindSpore's names per position for ``op``: the table's, else ``input`` for a first argument named otherwise."""
    if op in MS_NAMES:
        names = _names(op)
        if len(names) > len(params) or any(p.kind not in _POSITIONAL for p in params[:len(names)]):
            raise TypeError(f"funcad.ops.{op}: MS_NAMES lists {len(names)} positions, more than its positional parameters")
        return names
    if params and params[0].kind in _POSITIONAL and params[0].name in _FIRST_NAMES and all(p.name != "input" for p in params):
        return [("input",)]
    return []


def _primitive_positions(op: str, prim: Primitive) -> dict[str, int]:
    """{name: position} for a primitive: MindSpore's names and its forward's own names of required arguments (a
    ufunc's positional-only ``x``, where's ``x``), which a call moves into place; options with a default (``axis=-1``)
    stay keywords as the forward takes them."""
    params = _parameters(prim.impl)
    positions = {}
    for i, names in enumerate(_declared_names(op, params) if params else [("input",)]):
        own = params[i] if i < len(params) else None
        for name in names + ((own.name,) if own is not None else ()):
            if own is None or name != own.name or own.default is inspect.Parameter.empty:
                positions[name] = i
    return positions


def _function_renames(op: str, fn: Callable) -> tuple[dict[str, str], dict[str, int]]:
    """({MindSpore's name: funcad's name at that position}, {funcad's parameter: position}) for a function. A name
    the function takes by keyword only is left to it; one it has at another position takes MindSpore's meaning
    (``ops.swapaxes(x, axis0=0, axis1=2)``)."""
    params = _parameters(fn)
    positions = {p.name: i for i, p in enumerate(params) if p.kind in _POSITIONAL}
    own = {p.name for p in params}
    renames = {name: params[i].name for i, names in enumerate(_declared_names(op, params)) for name in names
               if positions.get(name, i) != i or name not in own}
    return renames, positions


def _empty(axis) -> bool:
    return isinstance(axis, (tuple, list)) and len(axis) == 0


def _every_axis(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """MindSpore's reading of an empty axis tuple: every axis (None), by position (second) or as axis=/dim=."""
    if len(args) > 1 and _empty(args[1]):
        args = (args[0], None, *args[2:])
    for key in ("axis", "dim"):
        if _empty(kwargs.get(key)):
            kwargs = {**kwargs, key: None}
    return args, kwargs


def _renamed(op: str, renames: dict[str, str], positions: dict[str, int], args: tuple, kwargs: dict) -> dict:
    """``kwargs`` under funcad's names; a name given twice is a TypeError naming the op."""
    out = {}
    for key, value in kwargs.items():
        target = renames.get(key, key)
        if target in out or positions.get(target, len(args)) < len(args):
            raise TypeError(f"funcad.ops.{op}: {key} given both by position and as {key}=" if target not in out else
                            f"funcad.ops.{op}: {target} given twice (as {key}= and under another name)")
        out[target] = value
    return out


def with_ms_keywords(op: str, fn: Callable) -> Callable:
    """``fn`` taking MindSpore's keyword names too (and, for the reductions of ``EMPTY_AXIS_REDUCES_ALL``, reading
    ``axis=()`` as every axis); ``fn`` itself when it needs neither. ``numpy_facing`` gives ``fn`` back."""
    renames, positions = _function_renames(op, fn)
    reduces_all = op in EMPTY_AXIS_REDUCES_ALL
    if not renames and not reduces_all:
        return fn

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if kwargs and not renames.keys().isdisjoint(kwargs):
            kwargs = _renamed(op, renames, positions, args, kwargs)
        if reduces_all:
            args, kwargs = _every_axis(args, kwargs)
        return fn(*args, **kwargs)

    call._numpy_facing = fn
    return call


def numpy_facing(fn: Callable) -> Callable:
    """The function under ``with_ms_keywords``'s wrapper (numpy's names and meaning of ``axis=()``), else ``fn``."""
    return getattr(fn, "_numpy_facing", fn)


def adapt_namespace(namespace: dict) -> None:
    """Give every public op of ``namespace`` MindSpore's keyword names: declared on primitives, wrapped around
    functions. Names of ``MS_NAMES`` the namespace lacks are an error (the table is checked, not trusted)."""
    absent = sorted(set(MS_NAMES) - set(namespace))
    if absent:
        raise NameError(f"funcad.ops: MS_NAMES lists ops funcad.ops lacks: {absent}")
    primitives: dict[int, tuple[Primitive, dict]] = {}  # one primitive under several names takes all their names
    for name, op in list(namespace.items()):
        if name.startswith("_") or name[0].isupper():
            continue
        if isinstance(op, Primitive):
            primitives.setdefault(id(op), (op, {}))[1].update(_primitive_positions(name, op))
        elif inspect.isfunction(op):
            namespace[name] = with_ms_keywords(name, op)
    for op, positions in primitives.values():
        op.declare(keywords=positions)
