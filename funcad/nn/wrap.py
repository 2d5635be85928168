"""Wrapper Cells MindSpore's training code builds on: a network with its loss, and one training step.

A wrapper holds the network it wraps without becoming its owner, so the network's Parameters keep their names
(``fc1.weight``, not ``_backbone.fc1.weight``), as in MindSpore where wrapping never renames a Parameter.
"""

from __future__ import annotations

import numbers

import numpy as np

from funcad.amp.loss_scale import LossScaler, StaticLossScaler, all_finite
from funcad.core.tensor import Parameter, Tensor
from funcad.core.trace import Tracer
from funcad.core.transforms import value_and_grad
from funcad.nn.cell import Cell, _cast_float
from funcad.ops.composite import HyperMap
from funcad.ops.grad_operation import GradOperation
from funcad.ops.math import logical_not, where
from funcad.ops.shape import cast, stop_gradient
from funcad.ops.state import assign


def _hold(owner: Cell, name: str, cell) -> None:
    """Register ``cell`` under ``owner`` (its parameters are the owner's too) without renaming them."""
    if not isinstance(cell, Cell):
        raise TypeError(f"{type(owner).__name__}: {name.lstrip('_')} must be a Cell, got {type(cell).__name__}")
    owner._cells[name] = cell
    object.__setattr__(owner, name, cell)


class WithLossCell(Cell):
    """``loss_fn(backbone(data), label)``: a network and its loss as one Cell (MindSpore's ``nn.WithLossCell``)."""

    def __init__(self, backbone: Cell, loss_fn: Cell):
        super().__init__(auto_prefix=False)
        _hold(self, "_backbone", backbone)
        if not callable(loss_fn):
            raise TypeError(f"WithLossCell: loss_fn must be callable, got {type(loss_fn).__name__}")
        object.__setattr__(self, "_loss_fn", loss_fn)

    def construct(self, data, label):
        return self._loss_fn(self._backbone(data), label)

    @property
    def backbone_network(self) -> Cell:
        return self._backbone


class WithEvalCell(Cell):
    """``(loss, outputs, label)`` of a network on a batch, what ``funcad.train.Model.eval`` feeds its metrics."""

    def __init__(self, network: Cell, loss_fn, add_cast_fp32: bool = False):
        super().__init__(auto_prefix=False)
        _hold(self, "_network", network)
        object.__setattr__(self, "_loss_fn", loss_fn)
        self.add_cast_fp32 = add_cast_fp32

    def construct(self, data, label):
        outputs = self._network(data)
        if self.add_cast_fp32:  # MindSpore's Model sets it at O2/O3: the float16 network's outputs and label in float32
            outputs = cast(outputs, "float32")
            label = _cast_float(label, np.dtype(np.float32))
        loss = self._loss_fn(outputs, label) if self._loss_fn is not None else None
        return loss, outputs, label


class ForwardValueAndGrad(Cell):
    """``(outputs, gradients)`` of ``network`` on its inputs (MindSpore's ``nn.ForwardValueAndGrad``): the gradients as
    ``ops.GradOperation(get_all, get_by_list, sens_param)`` gives them (of the ``weights`` with ``get_by_list``; with
    ``sens_param`` the last input is the outputs' sensitivity). The network is marked by ``set_grad``, so the gradient's
    run of the forward leaves the state written by the first (BatchNorm's statistics move once)."""

    def __init__(self, network: Cell, weights=None, get_all: bool = False, get_by_list: bool = False, sens_param: bool = False):
        super().__init__(auto_prefix=False)
        _hold(self, "network", network)
        network.set_grad()
        if get_by_list and weights is None:
            raise TypeError("ForwardValueAndGrad: get_by_list=True needs the weights (a ParameterTuple or a list of Parameters)")
        self.weights = weights
        self.get_by_list, self.sens_param = bool(get_by_list), bool(sens_param)
        self.grad = GradOperation(get_all=get_all, get_by_list=get_by_list, sens_param=sens_param)

    def construct(self, *inputs):
        outputs = self.network(*(inputs[:-1] if self.sens_param else inputs))
        grad_fn = self.grad(self.network, self.weights) if self.get_by_list else self.grad(self.network)
        return outputs, grad_fn(*inputs)


class WithGradCell(Cell):
    """The gradients of ``network``'s trainable Parameters (MindSpore's ``nn.WithGradCell``): of
    ``loss_fn(network(data), label)`` when ``loss_fn`` is given, else of the network's output, with ``sens`` (a
    Tensor of the output's shape, or a number for a scalar output) as the output's sensitivity when given."""

    def __init__(self, network: Cell, loss_fn=None, sens=None):
        super().__init__(auto_prefix=False)
        _hold(self, "network", network)
        self.weights = network.trainable_params()
        self.sens = Tensor(np.float32(sens)) if isinstance(sens, numbers.Real) and not isinstance(sens, bool) else sens
        self.grad = GradOperation(get_by_list=True, sens_param=sens is not None)
        object.__setattr__(self, "network_with_loss", WithLossCell(network, loss_fn) if loss_fn is not None else network)

    def construct(self, *inputs):
        grad_fn = self.grad(self.network_with_loss, self.weights)
        return grad_fn(*inputs) if self.sens is None else grad_fn(*inputs, self.sens)


class TrainOneStepCell(Cell):
    """One training step of a network that returns its loss (usually a WithLossCell): gradients of the loss with
    respect to ``optimizer.parameters``, each multiplied by ``sens`` (MindSpore's sensitivity, 1.0 by default; a
    loss scale), handed to ``optimizer``; returns the loss. Called in GRAPH_MODE or under ``funcad.jit`` the whole
    step compiles into one program."""

    def __init__(self, network: Cell, optimizer, sens: float | None = None, return_grad: bool = False):
        super().__init__(auto_prefix=False)
        _hold(self, "network", network)
        network.set_grad()  # as MindSpore's: a subclass's construct may call the network, then its gradient
        object.__setattr__(self, "optimizer", optimizer)
        sens = 1.0 if sens is None else sens
        if isinstance(sens, bool) or not isinstance(sens, numbers.Real):
            raise TypeError(f"TrainOneStepCell: sens must be a number, got {type(sens).__name__}")
        self.sens = float(sens)
        self.return_grad = bool(return_grad)
        self.weights = optimizer.parameters
        # what MindSpore's subclasses of this Cell call in their own construct: grads = self.grad(self.network,
        # self.weights)(*inputs, sens), then self.grad_reducer(grads) (identity: one process, nothing to reduce)
        self.grad = GradOperation(get_by_list=True, sens_param=True)
        self.reducer_flag = False
        self.grad_reducer = _identity
        if self.sens == 1.0:
            self.grad_fn = value_and_grad(network, None, self.weights)
        else:
            self.grad_fn = value_and_grad(self._scaled_loss, None, self.weights, has_aux=True)

    def _scaled_loss(self, *inputs):
        loss = self.network(*inputs)
        return loss * self.sens, stop_gradient(loss)

    def construct(self, *inputs):
        loss, grads = self.grad_fn(*inputs)
        if self.sens != 1.0:
            loss = loss[1]
        self.optimizer(grads)
        return (loss, grads) if self.return_grad else loss


def _identity(grads):
    return grads


class _TensorScale(LossScaler):
    """A Tensor ``scale_sense``, kept as MindSpore keeps it: a Parameter of its shape (() or (1,)) and dtype, changed
    only by ``set_sense_scale``."""

    def __init__(self, value: Tensor):
        self.scale_value = Parameter(value.asnumpy().copy(), name="scale_sense", requires_grad=False)


def _state_parameters(optimizer) -> list:
    """Every Parameter an optimizer update writes: the parameters, then its state (moments, global step, ...)."""
    return [*optimizer.parameters, *(p for _, p in optimizer.parameters_and_names())]


class TrainOneStepWithLossScaleCell(TrainOneStepCell):
    """A training step with loss scaling: the loss is multiplied by the scale before differentiation, the gradients
    divided by it after; a step whose gradients are not all finite leaves the parameters and the optimizer's state
    as they were (with ``drop_overflow_update``, the default). ``scale_sense`` is a Tensor of shape () or (1,) (kept
    with its shape and dtype, changed by ``set_sense_scale``), a number (a fixed scale) or a loss scaler
    (``nn.DynamicLossScaleUpdateCell``, ``funcad.amp.DynamicLossScaler``, ...), whose ``adjust`` is called with the
    step's finiteness. Returns ``(loss, overflow, scale)`` as MindSpore does, ``scale`` as the update left it (a copy:
    MindSpore's PyNative mode returns the scale Parameter itself, which later steps go on changing).

    Eagerly an overflowing step skips the optimizer; under ``funcad.jit`` or in GRAPH_MODE the update is computed and
    each written Parameter then keeps its old value where the step overflowed (``ops.where``), with the same result.
    """

    def __init__(self, network: Cell, optimizer, scale_sense, drop_overflow_update: bool = True):
        if isinstance(scale_sense, Tensor):
            if scale_sense.shape not in ((), (1,)):
                raise ValueError(f"TrainOneStepWithLossScaleCell: a Tensor scale_sense must have shape () or (1,), got {scale_sense.shape}")
            scale_sense = _TensorScale(scale_sense)
        elif isinstance(scale_sense, numbers.Real) and not isinstance(scale_sense, bool):
            scale_sense = StaticLossScaler(scale_sense)
        if not isinstance(scale_sense, LossScaler):
            raise TypeError(f"TrainOneStepWithLossScaleCell: scale_sense must be a number or a loss scaler, got {type(scale_sense).__name__}")
        super().__init__(network, optimizer)
        object.__setattr__(self, "scaler", scale_sense)
        self.hyper_map = HyperMap()  # what subclasses written as MindSpore's scale and clip their gradients with
        self.drop_overflow_update = bool(drop_overflow_update)
        self.grad_fn = value_and_grad(self._loss_scaled, None, self.weights, has_aux=True)

    @property
    def scale_sense(self):
        return self.scaler.scale_value

    # MindSpore's steps of a loss-scaled update, for subclasses writing their own construct
    def start_overflow_check(self, pre_cond, compute_input):
        """Nothing to arm on the CPU: ``(status, compute_input)`` with a status ``get_overflow_status`` ignores."""
        return None, compute_input

    def get_overflow_status(self, status, compute_output):
        """Whether any value of ``compute_output`` (the gradients) is not finite: a bool Tensor."""
        return logical_not(all_finite(compute_output))

    def process_loss_scale(self, overflow):
        """Adjust the scale for a step that did (or did not) overflow; returns ``overflow``."""
        self.scaler.adjust(logical_not(overflow))
        return overflow

    def set_sense_scale(self, sens) -> None:
        """Set the loss scale's value."""
        self.scaler.scale_value.set_data(cast(sens, self.scaler.scale_value.dtype))

    def _loss_scaled(self, *inputs):
        loss = self.network(*inputs)
        return self.scaler.scale(loss), stop_gradient(loss)

    def construct(self, *inputs):
        (_, loss), grads = self.grad_fn(*inputs)
        grads = self.scaler.unscale(grads)
        finite = all_finite(grads)
        if not self.drop_overflow_update:
            self.optimizer(grads)
        elif not isinstance(finite, Tracer):
            if finite.item():
                self.optimizer(grads)
        else:
            written = _state_parameters(self.optimizer)
            before = [stop_gradient(p) for p in written]
            self.optimizer(grads)
            for p, old in zip(written, before):
                assign(p, where(finite, p, old))
        self.scaler.adjust(finite)
        # the scale after this step's update, as MindSpore returns its scale Parameter once the update cell has run
        return loss, logical_not(finite), stop_gradient(self.scaler.scale_value)
