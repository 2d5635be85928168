"""``ops.GradOperation``: MindSpore's older gradient class, still common in model code and tutorials, on funcad.grad.

``GradOperation(get_all=False, get_by_list=False, sens_param=False)(fn[, weights])`` returns a function of fn's
inputs (plus, with ``sens_param``, a last argument: the output's sensitivity, that is the cotangent):
the gradient of the first input, of all inputs as a tuple (``get_all``), of ``weights`` as a tuple (``get_by_list``),
or both as ``(inputs' gradients, weights' gradients)``.
"""

from __future__ import annotations

from collections.abc import Callable

from funcad.core.transforms import grad
from funcad.ops.math import multiply
from funcad.ops.primitive_classes import PrimitiveClass
from funcad.ops.reduce import sum as _sum


def _as_tuple(g) -> tuple:
    return g if isinstance(g, tuple) else (g,)


class GradOperation(PrimitiveClass):
    """``ops.GradOperation(get_all=False, get_by_list=False, sens_param=False)``."""

    def __init__(self, get_all: bool = False, get_by_list: bool = False, sens_param: bool = False):
        self.get_all, self.get_by_list, self.sens_param = get_all, get_by_list, sens_param

    def __call__(self, fn: Callable, weights=None) -> Callable:
        if self.get_by_list and weights is None:
            raise ValueError("funcad.ops.GradOperation: get_by_list=True needs the weights (a ParameterTuple or list of Parameters)")
        weights = tuple(weights) if self.get_by_list else None

        def gradient(*args):
            inputs, sens = (args[:-1], args[-1]) if self.sens_param else (args, None)
            if self.sens_param and not inputs:
                raise ValueError("funcad.ops.GradOperation: sens_param=True needs the inputs and then the sensitivity")
            target = fn if sens is None else (lambda *xs: _sum(multiply(fn(*xs), sens)))
            positions = tuple(range(len(inputs))) if self.get_all else (0 if not self.get_by_list else None)
            grads = grad(target, positions, weights)(*inputs)
            if self.get_all and self.get_by_list:
                return _as_tuple(grads[0]), _as_tuple(grads[1])
            if self.get_all or self.get_by_list:
                return _as_tuple(grads)
            return grads

        return gradient
