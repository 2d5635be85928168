"""funcad.jit: compile a whole function (forward, gradients, optimizer updates) into straight-line numpy code."""

from funcad.jit.api import Jitted, Lowered, jit
from funcad.jit.tracing import ConcretizationError

__all__ = ["jit", "Jitted", "Lowered", "ConcretizationError"]
