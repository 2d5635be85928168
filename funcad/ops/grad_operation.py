"""``ops.GradOperation``: MindSpore's pre-2.0 gradient interface, still common in MindSpore code.

``GradOperation(get_all=False, get_by_list=False, sens_param=False)(fn, weights=None)`` returns a function of
``fn``'s inputs (followed by the sensitivity, the output's cotangent, when ``sens_param``) giving: the first input's
gradient; with ``get_all`` a tuple of every input's; with ``get_by_list`` a tuple of the ``weights``' gradients
(a ParameterTuple or a list of Parameters); with both, ``(input gradients, weight gradients)``. Without
``sens_param`` every output is seeded with ones, as ``grad`` does. Only the inputs whose gradients are returned
are differentiated, so the others (labels) may be integers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from funcad.core import pytree
from funcad.core.tensor import Parameter, Tensor
from funcad.core.transforms import vjp


class GradOperation:
    def __init__(self, get_all: bool = False, get_by_list: bool = False, sens_param: bool = False):
        self.get_all, self.get_by_list, self.sens_param = bool(get_all), bool(get_by_list), bool(sens_param)

    def __call__(self, fn: Callable, weights=None) -> Callable:
        if self.get_by_list:
            if weights is None:
                raise ValueError("funcad.ops.GradOperation: get_by_list=True needs the weights (a ParameterTuple or a list of Parameters)")
            weights = [weights] if isinstance(weights, Parameter) else list(weights)

        def gradient(*args):
            if self.sens_param:
                if not args:
                    raise TypeError("funcad.ops.GradOperation: sens_param=True needs the sensitivity as the last argument")
                args, sens = args[:-1], args[-1]
            # only the inputs whose gradients are returned are differentiated (labels may be integers)
            positions = range(len(args)) if self.get_all else () if self.get_by_list else range(min(1, len(args)))

            def of_chosen(*chosen):
                full = list(args)
                for k, value in zip(positions, chosen):
                    full[k] = value
                return fn(*full)

            out, pullback = vjp(of_chosen, *(args[k] for k in positions), weights=weights if self.get_by_list else None)
            if not self.sens_param:
                sens = pytree.tree_map(lambda o: Tensor._wrap(np.ones(o.shape, dtype=o.dtype)), out)
            grads = pullback(sens)
            input_grads, weight_grads = grads if self.get_by_list else (grads, ())
            if self.get_by_list and not self.get_all:
                return tuple(weight_grads)
            chosen = tuple(input_grads) if self.get_all else input_grads[0]
            return (chosen, tuple(weight_grads)) if self.get_by_list else chosen

        gradient.__name__ = f"GradOperation({getattr(fn, '__name__', 'fn')})"
        return gradient
