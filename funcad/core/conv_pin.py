"""The convolution algorithm a caller pinned: read by ``ops.conv2d`` when it runs or is traced, and by ``funcad.jit``.

It lives in core, apart from the algorithms (``funcad.ops.conv_algorithms``), so the compiler can key its programs
on the pin and set it while tracing without importing the ops. The pin is a context variable: each thread (and
each asyncio task) has its own.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

NAMES = ("gemm", "winograd", "fft", "direct")
BENCHMARK = "benchmark"

_pinned: contextvars.ContextVar[str | None] = contextvars.ContextVar("funcad_conv_algorithm", default=None)


def validate(name: str | None) -> None:
    """A ValueError listing the choices unless ``name`` is an algorithm, "benchmark" or None."""
    if name is not None and name != BENCHMARK and name not in NAMES:
        raise ValueError(f"funcad.ops.conv2d: unknown algorithm {name!r}; known: {', '.join(NAMES)}, {BENCHMARK!r} or None")


@contextlib.contextmanager
def conv_algorithm(name: str | None) -> Iterator[None]:
    """Pin the algorithm of every convolution run or traced inside (None: the eager default; "benchmark": timed choice).

    A pin that does not apply to a convolution's geometry is an error naming it; the choice is read
    when a convolution is called (eagerly) or traced (``funcad.jit``).
    """
    validate(name)
    token = _pinned.set(name)
    try:
        yield
    finally:
        _pinned.reset(token)


def pinned() -> str | None:
    return _pinned.get()
