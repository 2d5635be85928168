"""The Optimizer base: parameter bookkeeping, learning rate, weight decay, and all-or-nothing updates.

Every piece of state (moments, the step counter) is a Parameter with ``requires_grad=False``. An update first checks
everything that could fail (gradient count and shapes, the learning rate), then goes parameter by parameter: compute
its step size, direction and new state, write the state through ``Parameter.set_data`` and the parameter as
``ops.apply_gradient_descent(p, alpha, delta)``, which works in place when nothing else holds the parameter's array.
One parameter's temporaries are freed before the next one's are made, so they stay in cache. A compiler tracing
``optimizer(grads)`` records every write.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from funcad import ops
from funcad.common.parameter import ParameterTuple, distinct_parameters
from funcad.core.dtypes import is_floating
from funcad.core.tensor import Parameter, Tensor
from funcad.core.trace import current_depth
from funcad.nn.lr import StepTable

_ONE_STEP = Tensor(np.array(1, dtype=np.int32))  # what global_step grows by: a Tensor of its dtype takes the direct path


def _non_negative(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0.0:
        raise ValueError(f"{owner}: {name} must be a non-negative number, got {value!r}")
    return float(value)


def _in_range(owner: str, name: str, value, low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float after checking it lies in the interval [low, high] (either end open as asked)."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{owner}: {name} must be in {interval}, got {value!r}")
    return float(value)


def _learning_rate(owner: str, learning_rate):
    """A learning rate as ``get_lr`` reads it: a float, a 0-d Parameter (the user's own, shared), a ``StepTable`` of
    per-step rates, or a callable of the step."""
    if isinstance(learning_rate, Parameter) and learning_rate.ndim == 0 and is_floating(learning_rate.dtype):
        return learning_rate
    if isinstance(learning_rate, Tensor) and learning_rate.ndim == 0:
        learning_rate = float(learning_rate)
    elif isinstance(learning_rate, (list, tuple)) or (isinstance(learning_rate, Tensor) and learning_rate.ndim == 1):
        learning_rate = StepTable(np.asarray(learning_rate))
    return learning_rate if callable(learning_rate) else _non_negative(owner, "learning_rate", learning_rate)


def _held_in_parameter(rate):
    """A fixed rate as MindSpore holds it: a 0-d Parameter named ``learning_rate``, so code that changes it
    (``ops.assign(optimizer.learning_rate, lr)``, a callback) reaches compiled steps too. float64 (MindSpore's is
    float32) keeps the rate as written: each update casts it to its parameter's dtype, as it would a Python float.
    Schedules and per-step lists stay as they are."""
    if isinstance(rate, float):
        return Parameter(np.array(rate, dtype=np.float64), name="learning_rate", requires_grad=False)
    return rate


def _default_decay(p: Parameter, weight_decay: float) -> float:
    """``weight_decay`` under MindSpore's default filter: none for a normalisation layer's shift or scale."""
    return 0.0 if "beta" in (p.name or "") or "gamma" in (p.name or "") else weight_decay


_GROUP_KEYS = frozenset({"params", "lr", "weight_decay", "grad_centralization"})


def _grouped(owner: str, items: list, learning_rate, weight_decay: float) -> tuple[list, tuple, tuple]:
    """(parameters, learning rate of each, weight decay of each) from MindSpore's parameter groups."""
    ordered, rate_of, decay_of = None, {}, {}
    grouped = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise TypeError(f"{owner}: params[{i}] is a {type(item).__name__} among parameter groups; give every group as a dict")
        if "order_params" in item:
            ordered = list(item["order_params"])
            continue
        unknown = set(item) - _GROUP_KEYS
        if unknown or "params" not in item:
            raise ValueError(f"{owner}: parameter group {i} needs 'params' and may hold {sorted(_GROUP_KEYS - {'params'})}, got {sorted(item)}")
        rate = _learning_rate(owner, item["lr"]) if "lr" in item else learning_rate
        decay = _weight_decay(owner, item["weight_decay"]) if "weight_decay" in item else None
        for p in item["params"]:
            grouped.append(p)
            rate_of[id(p)] = rate
            decay_of[id(p)] = weight_decay if decay is None else decay  # in a group, MindSpore's name filter is off
    params = grouped if ordered is None else ordered
    if ordered is not None:
        missing = [p.name for p in grouped if id(p) not in {id(q) for q in ordered}]
        if missing:
            raise ValueError(f"{owner}: order_params leaves out grouped parameters {missing}")
        strays = [getattr(p, "name", repr(p)) for p in ordered if id(p) not in rate_of]
        if strays:  # MindSpore's rule: order_params only orders what the groups hold
            raise ValueError(f"{owner}: order_params holds parameters in no group {strays}; put them in a group")
    rates = tuple(rate_of[id(p)] for p in params)
    decays = tuple(decay_of[id(p)] for p in params)
    return params, rates, decays


def _centralized(items: list, params: list) -> tuple[bool, ...]:
    """Per parameter, whether its group asked for ``grad_centralization``."""
    chosen = {id(p) for item in items if item.get("grad_centralization") for p in item.get("params", ())}
    return tuple(id(p) in chosen for p in params)


def _centralize(g):
    """MindSpore's gradient centralization: g minus its mean over every axis but the first, for gradients of at least
    2 dimensions whose second dimension is a multiple of 16 (the others are left as they are)."""
    shape = tuple(g.shape)
    if len(shape) < 2 or shape[1] % 16:
        return g
    return g - ops.mean(g, tuple(range(1, len(shape))), keepdims=True)


def _weight_decay(owner: str, weight_decay):
    """A weight decay: a non-negative number, or a Cell or callable of the step (MindSpore's dynamic weight decay)."""
    return weight_decay if callable(weight_decay) else _non_negative(owner, "weight_decay", weight_decay)


def add_decay(x, p: Parameter, wd):
    """``x + wd * p`` for a decaying parameter (a number > 0, or a scheduled decay's Tensor in p's dtype); else ``x``."""
    if isinstance(wd, Tensor):
        return x + scalar_as(wd, p) * p
    return x + wd * p if wd > 0.0 else x


def _decayed_and_centralized(p: Parameter, g, wd, centralize: bool):
    g = add_decay(g, p, wd)
    return _centralize(g) if centralize else g


class Optimizer:
    """Base of the optimizers called as ``optimizer(grads)``.

    ``learning_rate`` is a non-negative number (or 0-d Tensor), a list (or 1-D Tensor) of one rate per step (the last
    one is kept after the list ends), or a callable of the step such as a ``LearningRateSchedule`` Cell: it is called on every update with
    ``global_step`` (an int32 Tensor counting previous updates, 0 on the first) and may return a number or a
    0-d Tensor; write it with funcad ops/operators so a compiled step stays correct.
    ``weight_decay`` is applied, as in MindSpore, only to parameters whose name contains neither 'beta' nor
    'gamma' (normalisation layers' shift and scale).

    ``params`` may also be MindSpore's parameter groups: dicts with ``params`` and optionally ``lr`` and
    ``weight_decay`` (a group's decay, its own or else the optimizer's, applies to every parameter in it, 'beta' and
    'gamma' included, as MindSpore's), and one ``{'order_params': [...]}``
    giving the order of the parameters (and so of the gradients); it may list only parameters of the groups.
    """

    centralizes_gradients = True  # False where the updates do not read ``_decayed_grads`` (grad_centralization is refused)

    def __init__(self, learning_rate, parameters: Iterable[Parameter], weight_decay: float = 0.0, loss_scale: float = 1.0):
        owner = type(self).__name__
        if not loss_scale > 0.0:
            raise ValueError(f"{owner}: loss_scale must be > 0, got {loss_scale}")
        self.loss_scale = float(loss_scale)  # the gradients arrive multiplied by it (MindSpore's optimizers divide it back)
        if isinstance(parameters, (Parameter, Tensor)) or not isinstance(parameters, Iterable):
            raise TypeError(f"{owner}: params must be a list or tuple of Parameters, got {type(parameters).__name__}")
        parameters = list(parameters)
        self._learning_rate: Parameter | Callable = _held_in_parameter(_learning_rate(owner, learning_rate))
        self.weight_decay = _weight_decay(owner, weight_decay)
        groups = any(isinstance(item, dict) for item in parameters)
        params, rates, decays = _grouped(owner, parameters, self.learning_rate, self.weight_decay) if groups else (parameters, None, None)
        params = distinct_parameters(owner, params)
        if not params:
            raise ValueError(f"{owner}: params is empty")
        self.parameters: ParameterTuple = ParameterTuple(params)  # a ParameterTuple, as MindSpore's (its clone makes buffers)
        self.group_rates: tuple | None = rates  # one learning rate per parameter, where params came in groups
        # each parameter's L2 decay: the group's, else the default under MindSpore's filter
        self.weight_decays: tuple[float, ...] = tuple(decays) if decays is not None else tuple(_default_decay(p, self.weight_decay) for p in params)
        # MindSpore's grad_centralization, per parameter (parameter groups only), applied after the weight decay
        self.grad_centralization_flags: tuple[bool, ...] = _centralized(parameters, params) if groups else (False,) * len(params)
        if any(self.grad_centralization_flags) and not self.centralizes_gradients:
            raise NotImplementedError(f"{owner}: grad_centralization in parameter groups is not supported by this optimizer")
        self.global_step = Parameter(np.array(0, dtype=np.int32), name="global_step", requires_grad=False)

    @property
    def learning_rate(self) -> Parameter | Callable:
        """The rate: a 0-d Parameter when fixed (MindSpore's), else the schedule or ``StepTable`` given."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        """A number (or 0-d Tensor) set on a fixed rate is written into its Parameter, so steps already compiled use
        it; anything else replaces the rate."""
        held = self.__dict__.get("_learning_rate")
        if isinstance(held, Parameter) and not isinstance(value, Parameter) and (
                isinstance(value, numbers.Real) or (isinstance(value, Tensor) and value.ndim == 0)):
            ops.assign(held, Tensor(np.array(_non_negative(type(self).__name__, "learning_rate", float(value)), dtype=held.asnumpy().dtype)))
        else:
            self._learning_rate = value

    def _state(self, prefix: str, fill: float = 0.0) -> tuple[Parameter, ...]:
        """One state Parameter per parameter, filled with ``fill``, named ``prefix.<parameter name>``."""
        return tuple(Parameter(np.full(p.shape, fill, dtype=p.dtype), name=f"{prefix}.{p.name}", requires_grad=False)
                     for p in self.parameters)

    def _scalar_state(self, prefix: str, fill: float) -> tuple[Parameter, ...]:
        """One 0-d state Parameter per parameter (a per-parameter step size or weight), named ``<prefix><parameter name>``."""
        return tuple(Parameter(np.array(fill, dtype=p.dtype), name=f"{prefix}{p.name}", requires_grad=False) for p in self.parameters)

    def _step_number(self) -> Tensor:
        """t, the 1-based number of the coming update, as a float64 0-d Tensor (bias corrections and decays use it)."""
        return ops.cast(self.global_step + 1, np.float64)

    def parameters_and_names(self) -> Iterator[tuple[str, Parameter]]:
        """The optimizer's own state by name (``global_step``, its slots such as ``moments.<parameter>``), as
        MindSpore's optimizer Cell lists it: what a checkpoint saves and ``load_param_into_net`` restores."""
        trained = {id(p) for p in self.parameters}
        for value in vars(self).values():
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(item, Parameter) and id(item) not in trained:
                    yield item.name, item

    def update_parameters_name(self, prefix: str) -> None:
        """Prefix the names of the optimizer's own state (``global_step``, its moments): two optimizers of one program
        (a GAN's) then save distinct names in a checkpoint. The trained parameters keep theirs."""
        if not isinstance(prefix, str):
            raise TypeError(f"{type(self).__name__}.update_parameters_name: prefix must be a str, got {type(prefix).__name__}")
        for _, state in list(self.parameters_and_names()):
            state.name = prefix + state.name

    def get_lr(self):
        """The learning rate for the coming update as a 0-d float32 Tensor (MindSpore keeps it in a Parameter, so a
        ``construct`` copied from MindSpore's optimizers dispatches on it as a Tensor); with parameter groups, as
        MindSpore's, a tuple of each parameter's in the optimizer's order (a ``GroupRates``)."""
        rates = self._lr_now()
        if isinstance(rates, GroupRates):
            return GroupRates(self.parameters, [_rate_tensor(rate) for rate in rates])
        return _rate_tensor(rates)

    def _lr_now(self):
        """The learning rate for the coming update as the updates read it: a number or a 0-d Tensor, or a
        ``GroupRates`` of them."""
        if self.group_rates is None:
            return self._rate_now(self.learning_rate)
        now = {id(rate): self._rate_now(rate) for rate in self.group_rates}
        return GroupRates(self.parameters, [now[id(rate)] for rate in self.group_rates])

    def get_lr_parameter(self, param: Parameter | list[Parameter]):
        """MindSpore's lookup of what sets a parameter's learning rate (one per parameter when given a list): its
        group's rate, a fixed number as a float32 0-d Tensor, a schedule as the Cell or callable, a per-step list
        as a 1-D Tensor of its rates. Parameters the optimizer does not train are a ValueError."""
        owner = type(self).__name__
        params = param if isinstance(param, list) else [param]
        index = {id(p): i for i, p in enumerate(self.parameters)}
        found = []
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"{owner}.get_lr_parameter: expected a Parameter or a list of them, got {type(p).__name__}")
            if id(p) not in index:
                raise ValueError(f"{owner}.get_lr_parameter: parameter {p.name!r} is not among the optimizer's parameters")
            rate = self.learning_rate if self.group_rates is None else self.group_rates[index[id(p)]]
            if isinstance(rate, StepTable):
                rate = rate.values
            elif not callable(rate) and not isinstance(rate, Parameter):
                rate = Tensor(np.array(rate, dtype=np.float32))
            found.append(rate)
        return found if isinstance(param, list) else found[0]

    # -- what optimizers written as MindSpore's (a construct copied from its Momentum) call ---------------------
    @property
    def is_group(self) -> bool:
        """Whether the parameters came in groups."""
        return self.group_rates is not None

    @property
    def is_group_lr(self) -> bool:
        """Whether a group set its own learning rate (``get_lr()`` is then a tuple, one rate per parameter)."""
        return self.group_rates is not None and any(rate is not self.learning_rate for rate in self.group_rates)

    @property
    def dynamic_lr(self) -> bool:
        """Whether a learning rate changes with the step (a list or a schedule)."""
        return any(callable(rate) for rate in (self.group_rates or (self.learning_rate,)))

    def scale_grad(self, gradients: tuple) -> tuple:
        """The gradients divided by ``loss_scale`` (they arrive multiplied by it); unchanged when it is 1."""
        if self.loss_scale == 1.0:
            return gradients
        return tuple(g * (1.0 / self.loss_scale) for g in gradients)

    def gradients_centralization(self, gradients: tuple) -> tuple:
        """The gradients of the groups made with ``grad_centralization=True`` centralised (minus their mean over every
        axis but the first, where the second axis is a multiple of 16), as MindSpore's."""
        return tuple(_centralize(g) if flag else g for g, flag in zip(gradients, self.grad_centralization_flags))

    def _decays_now(self) -> tuple:
        """Each parameter's weight decay for the coming update, a scheduled one (a Cell or callable of the step)
        evaluated once per step, on the step count before the update as MindSpore's ``get_weight_decay``."""
        if not any(callable(wd) for wd in self.weight_decays):
            return self.weight_decays
        now = {id(wd): self._rate_now(wd, "weight_decay") for wd in self.weight_decays if callable(wd)}
        return tuple(now[id(wd)] if callable(wd) else wd for wd in self.weight_decays)

    def _rate_now(self, lr, what: str = "learning_rate"):
        if isinstance(lr, Parameter) and not current_depth():
            return float(lr.asnumpy())  # eagerly a Python float: no cast per parameter; traced, the Parameter is read
        if not callable(lr):
            return lr
        value = lr(self.global_step)
        if isinstance(value, Tensor) and value.shape == (1,):
            value = ops.reshape(value, ())  # a schedule built from (1,)-shaped Tensors, as BERT's in MindSpore's model zoo
        if not (isinstance(value, numbers.Real) or (isinstance(value, Tensor) and value.ndim == 0)):
            shape = f" of shape {tuple(value.shape)}" if isinstance(value, Tensor) else ""
            raise ValueError(f"{type(self).__name__}: the {what} callable must return a number or a 0-d (or one-element) "
                             f"Tensor, got {type(value).__name__}{shape}; nothing was updated")
        return value

    def _check_grads(self, grads) -> tuple:
        owner = type(self).__name__
        if isinstance(grads, Tensor) or not isinstance(grads, (tuple, list)):
            raise TypeError(f"{owner}: grads must be a tuple of gradients, one per parameter, got {type(grads).__name__}")
        if len(grads) != len(self.parameters):
            raise ValueError(f"{owner}: got {len(grads)} gradients for {len(self.parameters)} parameters; nothing was updated")
        bad, checked = [], []
        for i, (p, g) in enumerate(zip(self.parameters, grads)):
            expected = p._data.shape
            if isinstance(g, Tensor):
                shape = g.shape
            else:
                shape = None if g is None else np.shape(g)
                g = None if shape != expected else Tensor(np.asarray(g, dtype=p.dtype))
            if shape != expected:
                bad.append(f"#{i} {p.name}: parameter {expected}, gradient {shape}")
            checked.append(g)
        if bad:
            raise ValueError(f"{owner}: gradient shapes do not match parameters ({'; '.join(bad)}); nothing was updated")
        return tuple(checked)

    def decay_weight(self, gradients: tuple) -> tuple:
        """MindSpore's L2 weight decay folded into the gradients: g + weight_decay * loss_scale * p for the parameters
        that decay, as a tuple (what a ``construct`` written as MindSpore's maps over, before ``scale_grad``): MindSpore
        keeps the decay multiplied by loss_scale, so once the scale is divided out the decay is weight_decay's."""
        return tuple(self._decayed_grads(gradients, self.loss_scale))

    def _decayed_grads(self, grads: tuple, scale: float = 1.0) -> Iterable:
        """``decay_weight``'s gradients, then ``gradients_centralization``'s (MindSpore's order), computed lazily,
        each made when its parameter's update is; ``scale``: what the gradients are still multiplied by (the updates
        pass them with loss_scale divided out)."""
        if not any(self.weight_decays) and not any(self.grad_centralization_flags):
            return grads
        return (_decayed_and_centralized(p, g, wd * scale if scale != 1.0 else wd, flag)
                for p, g, wd, flag in zip(self.parameters, grads, self._decays_now(), self.grad_centralization_flags))

    def __call__(self, grads):
        if hasattr(type(self), "construct"):
            # a user's optimizer written as MindSpore's tutorial writes one: its construct updates the parameters
            grads = self._check_grads(grads)
            result = self.construct(grads)
            ops.assign_add(self.global_step, _ONE_STEP)
            return result
        grads = self.scale_grad(self._check_grads(grads))
        for p, alpha, delta, state_writes in self._updates(grads, self._lr_now()):
            for target, value in state_writes:
                target.set_data(value)
            if alpha is None:
                p.set_data(delta)
            else:
                ops.apply_gradient_descent(p, alpha, delta)
        ops.assign_add(self.global_step, _ONE_STEP)

    def _updates(self, grads: tuple, lr) -> Iterator[tuple[Parameter, float | Tensor | None, Tensor, list[tuple[Parameter, Tensor]]]]:
        """Per parameter, in order: the parameter p, the step size alpha (a float or 0-d Tensor in p's dtype) and the
        direction delta of its update p <- p - alpha * delta, and (state Parameter, new value) pairs. Proximal updates,
        which set p outright (FTRL, ProximalAdagrad), give alpha None and p's new value as delta.

        Yielded lazily: the caller writes each before the next is computed, so nothing here may read a state or
        parameter that an earlier item writes. A user's optimizer may define MindSpore's ``construct(gradients)``
        instead, which ``__call__`` then runs (the step counter still advances after it).
        """
        raise NotImplementedError(f"{type(self).__name__}: an optimizer defines _updates or MindSpore's construct(gradients)")


class GroupRates(tuple):
    """The learning rate of each parameter, in the optimizer's order, when the parameters came in groups (MindSpore's
    ``get_lr`` returns this tuple); ``scalar_as`` finds a parameter's own rate in it."""

    def __new__(cls, params: Iterable[Parameter], rates: Iterable):
        self = super().__new__(cls, rates)
        self._index = {id(p): i for i, p in enumerate(params)}
        return self

    def of(self, param: Parameter):
        """``param``'s rate."""
        return self[self._index[id(param)]]


def _rate_tensor(rate) -> Tensor:
    """A rate as ``get_lr`` gives it: float32 as MindSpore's Parameter holds it, a schedule's Tensor as it came."""
    if isinstance(rate, Parameter):
        return ops.cast(rate, np.float32)
    return rate if isinstance(rate, Tensor) else Tensor(np.array(rate, dtype=np.float32))


def scalar_as(value, like):
    """A learning-rate-like scalar in ``like``'s dtype: Python numbers stay Python floats (no upcasting); from
    ``GroupRates``, ``like``'s own rate."""
    if isinstance(value, GroupRates):
        value = value.of(like)
    if value.__class__ is float:
        return value
    if isinstance(value, Tensor):
        return value if value.dtype == like.dtype else ops.cast(value, like.dtype)
    return float(value)

