"""Spectral normalisation of a weight: ``weight / sigma``, sigma its largest singular value estimated by power iteration.

Two forms, as torch has them (MindSpore 2.x has neither): ``SpectralNorm``, a Cell mapping a weight to its normalised
value (torch's ``nn.utils.parametrizations.spectral_norm`` registers its ``_SpectralNorm``), and ``spectral_norm(cell)``,
which renames a layer's weight to ``weight_orig`` and computes ``weight`` from it before each call (torch's older
``nn.utils.spectral_norm`` hook). The weight is viewed as a matrix with axis ``dim`` first and the rest flattened. The
singular vector estimates u and v are Parameters that do not train (state, as BatchNorm's moving statistics): in
training mode each call runs ``n_power_iterations`` steps without gradient, updating them (under ``funcad.jit`` too);
in evaluation mode the stored vectors are used. sigma = u . (W v) with u and v constants, so the gradient reaches the
weight through W / sigma and through sigma, as torch's does.
"""

from __future__ import annotations

import numpy as np

from funcad import ops
from funcad.core.tensor import Parameter, Tensor
from funcad.nn.cell import Cell
from funcad.nn.initializer import initializer
from funcad.ops.shape import _shape_of

INIT_ITERATIONS = 15  # the power iterations torch runs on SpectralNorm's random vectors when it is made


def _matrix(weight, dim: int):
    """``weight`` with axis ``dim`` first and the others flattened: (shape[dim], rest)."""
    shape = _shape_of(weight)
    if dim:
        weight = ops.transpose(weight, (dim, *(d for d in range(len(shape)) if d != dim)))
    return ops.reshape(weight, (shape[dim], -1))


def _normalized(x, eps: float):
    """``x / max(||x||, eps)`` (torch's ``F.normalize`` of a vector)."""
    return x / ops.maximum(ops.norm(x), eps)


def _check(owner: str, weight_shape: tuple, dim: int, n_power_iterations: int) -> int:
    """``dim`` made non-negative, after checking it and the iteration count."""
    ndim = len(weight_shape)
    if not -ndim <= dim < ndim:
        raise IndexError(f"{owner}: dim={dim} is out of range for a weight of shape {weight_shape}")
    if int(n_power_iterations) != n_power_iterations or n_power_iterations <= 0:
        raise ValueError(f"{owner}: n_power_iterations must be a positive int, got {n_power_iterations!r}")
    return dim % ndim


def _random_unit(size: int, dtype) -> Parameter:
    """A normalised draw of N(0, 1) (the scale does not matter once normalised), as state that does not train."""
    return Parameter(_normalized(initializer("normal", (size,), dtype), 1e-12), requires_grad=False)


class _PowerIteration:
    """The power iteration both forms run; ``v_first``: torch's hook updates v before u, its parametrization u first."""

    v_first = False

    def _iterate(self, matrix, u, v, steps: int):
        """``steps`` power iteration steps on ``matrix`` from (u, v), without gradient; the new (u, v)."""
        matrix = ops.stop_gradient(matrix)
        transposed = ops.transpose(matrix, (1, 0))
        for _ in range(steps):
            if self.v_first:
                v = _normalized(ops.mv(transposed, u), self.eps)
                u = _normalized(ops.mv(matrix, v), self.eps)
            else:
                u = _normalized(ops.mv(matrix, v), self.eps)
                v = _normalized(ops.mv(transposed, u), self.eps)
        return ops.stop_gradient(u), ops.stop_gradient(v)

    def _divided(self, owner: str, weight, u: Parameter, v: Parameter, training: bool):
        """``weight / sigma``; in training mode u and v are first advanced by the power iteration and stored."""
        matrix = _matrix(weight, self.dim)
        expected = (u.shape[0], v.shape[0])
        if tuple(_shape_of(matrix)) != expected:
            raise ValueError(f"{owner}: a weight of shape {tuple(_shape_of(weight))} is a {tuple(_shape_of(matrix))} matrix along dim "
                             f"{self.dim}, but the singular vectors u and v make it {expected}")
        if training:
            new_u, new_v = self._iterate(matrix, u, v, self.n_power_iterations)
            u.set_data(new_u)
            v.set_data(new_v)
            u, v = new_u, new_v
        else:
            u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        return weight / ops.sum(u * ops.mv(matrix, v))


class SpectralNorm(_PowerIteration, Cell):
    """``weight -> weight / sigma`` (torch's ``nn.utils.parametrizations.spectral_norm``, its ``_SpectralNorm``), called as
    ``sn(weight)`` from a construct. Made from the weight it will normalise, as torch's: u and v start from normalised
    random draws advanced by 15 power iterations. State ``_u`` (rows) and ``_v`` (columns) as torch's buffers; a 1-D
    weight has none and is normalised to unit length (``F.normalize``)."""

    def __init__(self, weight, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        super().__init__()
        shape = tuple(_shape_of(weight))
        self.dim = _check("SpectralNorm", shape, dim, n_power_iterations)
        self.eps, self.n_power_iterations = float(eps), int(n_power_iterations)
        if len(shape) > 1:
            weight = weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight))
            matrix = _matrix(weight, self.dim)
            rows, columns = _shape_of(matrix)
            self._u, self._v = _random_unit(rows, weight.dtype), _random_unit(columns, weight.dtype)
            u, v = self._iterate(matrix, self._u, self._v, INIT_ITERATIONS)
            self._u.set_data(u)
            self._v.set_data(v)

    def construct(self, weight):
        if len(_shape_of(weight)) == 1:
            return _normalized(weight, self.eps)
        if "_u" not in self._params:
            raise ValueError(f"{self._where()}: made for a 1-D weight, got one of shape {tuple(_shape_of(weight))}")
        return self._divided(self._where(), weight, self._u, self._v, self.training)

    def extend_repr(self) -> str:
        return f"n_power_iterations={self.n_power_iterations}, dim={self.dim}, eps={self.eps}"


class SpectralNormHook(_PowerIteration):
    """The forward pre-hook ``spectral_norm`` registers: before each call it sets the layer's ``name`` attribute to
    ``name_orig`` divided by sigma (the power iteration advancing ``name_u``, ``name_v`` in training mode); the forward
    hook it also registers removes that attribute afterwards, so no value of a traced call outlives it."""

    v_first = True

    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float):
        self.name, self.n_power_iterations, self.dim, self.eps = name, int(n_power_iterations), dim, float(eps)

    def __call__(self, cell: Cell, inputs):
        name = self.name
        weight = self._divided(f"spectral_norm of {cell._where()}.{name}", getattr(cell, name + "_orig"), getattr(cell, name + "_u"),
                               getattr(cell, name + "_v"), cell.training)
        object.__setattr__(cell, name, weight)

    def after(self, cell: Cell, inputs, output) -> None:
        object.__delattr__(cell, self.name)


def spectral_norm(cell: Cell, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12, dim: int | None = None) -> Cell:
    """Spectral-normalise ``cell``'s Parameter ``name`` (torch's ``nn.utils.spectral_norm``): it becomes ``name_orig``, with
    state ``name_u`` and ``name_v`` (normalised random draws), and before each call ``cell.<name>`` is set to
    ``name_orig / sigma`` for construct to read. ``dim`` defaults to 1 for transposed convolutions (their weights are
    (in, out, ...)), else 0. Returns ``cell``."""
    from funcad.nn.layer.conv import Conv1dTranspose, Conv2dTranspose, Conv3dTranspose

    if any(hook.name == name for hook in spectral_norm_hooks(cell)):
        raise RuntimeError(f"spectral_norm: {cell._where()}.{name} is spectral-normalised already")
    weight = cell._params.get(name)
    if weight is None:
        raise ValueError(f"spectral_norm: {cell._where()} has no Parameter {name!r} (it has {', '.join(cell._params) or 'none'})")
    if dim is None:
        dim = 1 if isinstance(cell, (Conv1dTranspose, Conv2dTranspose, Conv3dTranspose)) else 0
    dim = _check(f"spectral_norm of {cell._where()}.{name}", tuple(weight.shape), dim, n_power_iterations)
    hook = SpectralNormHook(name, n_power_iterations, dim, eps)
    rows, columns = _shape_of(_matrix(weight, dim))
    delattr(cell, name)
    setattr(cell, name + "_orig", weight)
    setattr(cell, name + "_u", _random_unit(rows, weight.dtype))
    setattr(cell, name + "_v", _random_unit(columns, weight.dtype))
    cell.register_forward_pre_hook(hook)
    cell.register_forward_hook(hook.after)
    return cell


def spectral_norm_hooks(cell: Cell) -> list[SpectralNormHook]:
    """The ``SpectralNormHook``s ``spectral_norm`` registered on ``cell``, in registration order."""
    table = cell.__dict__.get("_cell_hooks")
    return [] if table is None else [hook for hook in table["forward_pre"].values() if isinstance(hook, SpectralNormHook)]
