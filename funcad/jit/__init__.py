"""funcad.jit: compile a whole function (forward, gradients, optimizer updates) into straight-line numpy code."""

from funcad.jit.api import Jitted, Lowered, jit, jit_class, mutable
from funcad.jit.tracing import ConcretizationError

__all__ = ["jit", "jit_class", "mutable", "Jitted", "Lowered", "ConcretizationError"]
