"""Grad-mode switches inside a traced forward: ``with torch.no_grad():``, ``torch.set_grad_enabled(False)``,
``@torch.no_grad()`` helpers, which torch.fx does not record.

While a forward is traced, every switch the forward makes leaves a ``set_grad_enabled`` node in the graph (torch's
context managers all go through ``torch._C._set_grad_enabled``, which is wrapped for the trace), and the twin's replay
stops the gradient of every value computed while the recorded mode is off, as torch computes those without a graph.
Switches made by torch_ref itself while tracing (running example values) are not the forward's and leave no node.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import torch
from torch import fx

_TORCH_SWITCHES = tuple(os.path.join(os.path.dirname(torch.__file__), *part) for part in (("autograd", "grad_mode.py"), ("utils", "_contextlib.py")))
_OWN = os.path.dirname(os.path.abspath(__file__))


def set_grad_enabled(enabled: bool) -> None:
    """The graph node of a switch: the twin's replay reads its argument (``_Program.run``); a torch module running the
    graph (the mirror of the twin) makes the switch."""
    torch._C._set_grad_enabled(enabled)


def _made_by_forward() -> bool:
    """Whether the switch being made comes from the traced code, not from torch_ref's tracing machinery."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename in _TORCH_SWITCHES:
        frame = frame.f_back
    return frame is not None and not os.path.abspath(frame.f_code.co_filename).startswith(_OWN + os.sep)


@contextlib.contextmanager
def recorded(tracer: fx.Tracer) -> Iterator[None]:
    """While tracing with ``tracer``, the forward's grad-mode switches become ``set_grad_enabled`` nodes."""
    switch = torch._C._set_grad_enabled

    def recording(mode: bool) -> None:
        switch(mode)
        if getattr(tracer, "graph", None) is not None and _made_by_forward():
            tracer.create_proxy("call_function", set_grad_enabled, (bool(mode),), {})

    torch._C._set_grad_enabled = recording
    try:
        yield
    finally:
        torch._C._set_grad_enabled = switch
