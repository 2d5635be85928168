"""In-place updates of Parameters: MindSpore's ``ops.assign``, ``ops.assign_add``, ``ops.assign_sub`` and the
gradient-descent step of its ``ApplyGradientDescent``.

The value is first converted to the Parameter's dtype (a Parameter's dtype never changes), then combined with the
current value. Eagerly, the result is computed into the Parameter's own array when a reference count proves nothing
else can see that array (no Tensor, view or variable holds it), which spares a fresh array per update; otherwise it
goes into a fresh array, so values handed out earlier never change. Under ``funcad.jit`` or inside a transform the
update is an ordinary ``set_data`` of the combined value, which the compiler records.
"""

from __future__ import annotations

import numpy as np

from funcad.core.ownership import sole_owner
from funcad.core.tensor import Parameter, Tensor, parameter_hooks
from funcad.core.trace import Tracer
from funcad.ops.math import add, subtract
from funcad.ops.shape import _shape_of, broadcast_to, cast


def _traced_update(variable: Parameter, value, combine) -> Parameter:
    dtype = variable.dtype
    if not isinstance(value, Tensor):
        value = Tensor._wrap(np.asarray(value, dtype=dtype))
    elif value.dtype != dtype:
        value = cast(value, dtype)
    if combine is not None:
        return variable.set_data(combine(variable, value))
    return variable.set_data(value if tuple(value.shape) == tuple(variable.shape) else broadcast_to(value, variable.shape))


def _combine(variable: Parameter, raw: np.ndarray, ufunc) -> Parameter:
    """variable <- ufunc(variable, raw), into the Parameter's own array when nothing else can see it."""
    current = variable._data
    if sole_owner(current, 2):  # the Parameter's slot and this name
        ufunc(current, raw, out=current)
    else:
        variable._data = ufunc(current, raw)
    return variable


def _untraced(variable) -> bool:
    """A Parameter that no transform has bound and no compiler is tracing: its update can run on arrays."""
    return variable.__class__ is Parameter and variable._bound is None and parameter_hooks.write is None


# op -> (numpy ufunc for eager updates, funcad op for traced ones); assign has neither: it replaces the value
_COMBINE = {"assign": (None, None), "assign_add": (np.add, add), "assign_sub": (np.subtract, subtract)}


def _update(op: str, variable: Parameter, value) -> Parameter:
    ufunc, combine = _COMBINE[op]
    if (ufunc is not None and value.__class__ is Tensor and _untraced(variable) and value._data.shape == variable._data.shape
            and value._data.dtype == variable._data.dtype):
        return _combine(variable, value._data, ufunc)  # the optimizers' case, recognised cheaply
    if not isinstance(variable, Parameter):
        raise TypeError(f"funcad.ops.{op}: variable must be a Parameter, got {type(variable).__name__}")
    shape = tuple(_shape_of(value))
    if shape and shape != tuple(variable.shape):
        raise ValueError(f"funcad.ops.{op}: value of shape {shape} does not match Parameter {variable.name!r} of shape {tuple(variable.shape)}")
    if not _untraced(variable) or isinstance(value, Tracer):
        return _traced_update(variable, value, combine)
    raw = np.asarray(value._data if isinstance(value, Tensor) else value, dtype=variable.dtype)
    if ufunc is not None:
        return _combine(variable, raw, ufunc)
    shared = isinstance(value, Tensor) and raw.shape == tuple(variable.shape)  # an immutable Tensor's array can be shared
    variable._data = raw if shared else np.array(np.broadcast_to(raw, variable.shape))
    return variable


def assign(variable: Parameter, value) -> Parameter:
    """Set ``variable`` to ``value`` (its shape, or a scalar filling it); returns the Parameter."""
    return _update("assign", variable, value)


def assign_add(variable: Parameter, value) -> Parameter:
    """``variable <- variable + value`` in the Parameter's dtype; returns the Parameter."""
    return _update("assign_add", variable, value)


def assign_sub(variable: Parameter, value) -> Parameter:
    """``variable <- variable - value`` in the Parameter's dtype; returns the Parameter."""
    return _update("assign_sub", variable, value)


def apply_gradient_descent(variable: Parameter, alpha, delta) -> Parameter:
    """``variable <- variable - alpha * delta`` (MindSpore's ApplyGradientDescent), rounded as those two ops are; returns
    the Parameter. ``alpha`` is a Python float or a 0-d Tensor in the Parameter's dtype. Eagerly, with nothing traced,
    the product is made straight from the arrays and subtracted in place as ``assign_sub`` would."""
    if delta.__class__ is Tensor and _untraced(variable) and (alpha.__class__ is float or (alpha.__class__ is Tensor and alpha._data.ndim == 0)):
        d = delta._data
        if d.shape == variable._data.shape and d.dtype == variable._data.dtype:
            return _combine(variable, np.multiply(alpha if alpha.__class__ is float else alpha._data, d), np.subtract)
    return assign_sub(variable, alpha * delta)
