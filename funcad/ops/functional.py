"""``mindspore.ops.functional``, which MindSpore code imports as ``F``: every function of ``funcad.ops``, and
``partial`` (what MindSpore's ``F.partial`` binds is what ``functools.partial`` binds), ``tuple_len`` and
``make_range`` (the tuple helpers losses written for MindSpore's graph mode call on shapes)."""

import builtins as _builtins
import inspect as _inspect
from functools import partial  # noqa: F401 - MindSpore's F.partial

from funcad import ops as _ops

globals().update({name: value for name, value in vars(_ops).items()
                  if not name.startswith("_") and name[:1].islower() and callable(value) and not _inspect.ismodule(value)})


def tuple_len(data: tuple) -> int:
    """``F.tuple_len(shape)``: the length of a tuple (a shape's rank)."""
    return len(data)


def make_range(*args: int) -> tuple:
    """``F.make_range(limit)``, ``(start, limit)`` or ``(start, limit, delta)``: ``tuple(range(...))``, as MindSpore's
    (its reduction axes ``make_range(0, rank)``); a zero delta or other than 1 to 3 int arguments is an error."""
    if not 1 <= len(args) <= 3 or not _builtins.all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        raise TypeError(f"funcad.ops.functional.make_range: expected 1 to 3 int arguments (start, limit, delta), got {args!r}")
    if len(args) == 3 and args[2] == 0:
        raise ValueError("funcad.ops.functional.make_range: delta must not be 0")
    return tuple(_builtins.range(*args))  # this module's ``range`` and ``all`` are funcad.ops'
