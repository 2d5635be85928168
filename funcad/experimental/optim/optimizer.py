"""The base of MindSpore's torch-style optimizers (``mindspore.experimental.optim``): ``param_groups`` of dicts, each
group's learning rate held in a 0-d Parameter so that a scheduler's change reaches steps already compiled.

It is a ``funcad.nn.optim.Optimizer`` underneath (gradient checks, all-or-nothing writes, state naming for checkpoints):
every parameter reads its group's rate through ``group_rates``, and every subclass writes one update rule,
``_update``, for one parameter.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator

import numpy as np

from funcad import ops
from funcad.core.tensor import Parameter, Tensor
from funcad.nn.optim.optimizer import Optimizer as _CellOptimizer
from funcad.nn.optim.optimizer import scalar_as


def _rate_value(owner: str, lr) -> float:
    """A group's learning rate as a non-negative float (a number or a 0-d Tensor), as MindSpore's ``_build_single_lr``."""
    if isinstance(lr, Tensor) and lr.ndim == 0:
        lr = float(lr)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
        raise TypeError(f"{owner}: lr must be an int, a float or a 0-d Tensor, got {type(lr).__name__}")
    if not lr >= 0.0:
        raise ValueError(f"{owner}: lr must be >= 0, got {lr!r}")
    return float(lr)


def check_non_negative(owner: str, **values) -> None:
    """Each named hyperparameter is a number >= 0 (MindSpore's ``check_not_less_than``)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0.0:
            raise ValueError(f"{owner}: {name} must be a number >= 0, got {value!r}")


def check_betas(owner: str, betas) -> None:
    """Both betas in [0, 1)."""
    if len(betas) != 2 or not all(isinstance(b, numbers.Real) and 0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"{owner}: betas must be two numbers in [0, 1), got {betas!r}")


class Optimizer(_CellOptimizer):
    """Base of ``Adam``, ``SGD``, ... called as ``optimizer(grads)``, with torch's ``param_groups``.

    ``params`` is a list of Parameters or of dicts (``{'params': [...], 'lr': 0.1, 'weight_decay': 0.01, ...}``); a
    group's missing keys come from ``defaults``. Each group's ``'lr'`` becomes a float64 0-d Parameter (MindSpore's is
    float32; float64 keeps the rate as written) that schedulers assign into: a step compiled with ``funcad.jit``
    reads it on every call. Assigning a number to ``group['lr']`` works eagerly (it is written into that Parameter on
    the next update); in a compiled step use a scheduler or ``ops.assign(group['lr'], value)``. The other
    hyperparameters are read from the group when a step is traced or run eagerly.

    State is kept per parameter, as torch's: a step count ``step.<name>`` and the slots a subclass names in
    ``_slots`` (``exp_avg.<name>`` ...); a group added later with ``add_param_group`` starts from step 0.
    """

    _slots: tuple[tuple[str, float | str], ...] = ()  # (state name, initial value or the ``defaults`` key holding it)
    _scalar_slots: tuple[tuple[str, float], ...] = ()  # per-parameter float64 0-d state (torch's scalar state)

    def __init__(self, params: Iterable, defaults: dict):
        owner = type(self).__name__
        if isinstance(params, (Parameter, Tensor, dict)) or not isinstance(params, Iterable):
            raise TypeError(f"{owner}: params must be a list of Parameters or of parameter-group dicts, got {type(params).__name__}")
        items = list(params)
        if not items:
            raise ValueError(f"{owner}: params is empty")
        if not isinstance(items[0], dict):
            items = [{"params": items}]
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.group_start_id: list[int] = [0]  # MindSpore's: group i holds parameters[group_start_id[i]:group_start_id[i + 1]]
        self._group_of: list[int] = []
        flat: list[Parameter] = []
        for item in items:
            flat.extend(self._new_group(item, flat))
        super().__init__(self.param_groups[0]["lr"], flat)  # checks the parameters; the rate it keeps is group 0's
        self.steps: tuple[Parameter, ...] = ()
        for name, _ in self._slots + self._scalar_slots:
            setattr(self, name, ())
        self._add_state(0)

    def _new_group(self, item, taken: list[Parameter]) -> list[Parameter]:
        """Check a group, fill in the defaults, hold its rate in a Parameter; return its parameters."""
        owner = type(self).__name__
        if not isinstance(item, dict):
            raise TypeError(f"{owner}: a parameter group must be a dict, got {type(item).__name__}")
        if "params" not in item:
            raise ValueError(f"{owner}: a parameter group needs 'params', got keys {sorted(item)}")
        group = dict(item)
        params = group["params"]
        if isinstance(params, set):
            raise TypeError(f"{owner}: a group's params must be an ordered collection (list or tuple), not a set")
        params = [params] if isinstance(params, Parameter) else list(params)
        seen = {id(p) for p in taken}
        shared = [getattr(p, "name", repr(p)) for p in params if id(p) in seen]
        if shared:
            raise ValueError(f"{owner}: parameters {shared} appear in more than one parameter group")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        index = len(self.param_groups)
        group["lr"] = Parameter(np.array(_rate_value(owner, group["lr"]), dtype=np.float64), name=f"learning_rate_group_{index}",
                                requires_grad=False)
        check_non_negative(owner, weight_decay=group.get("weight_decay", 0.0))
        self.param_groups.append(group)
        self.group_start_id.append(self.group_start_id[-1] + len(params))
        self._group_of.extend([index] * len(params))
        return params

    def add_param_group(self, group_id_or_group: int | dict, param_group: dict | None = None) -> None:
        """Add a group after construction: torch's ``add_param_group(group)`` or MindSpore's
        ``add_param_group(group_id, group)`` (the id is the group's position; it must be the next one). Its state starts
        empty. Add groups before ``value_and_grad(..., optimizer.parameters)`` is built: it takes the parameters as
        they are then."""
        owner = type(self).__name__
        if param_group is None:
            param_group = group_id_or_group
        elif group_id_or_group != len(self.param_groups):
            raise ValueError(f"{owner}.add_param_group: group_id must be {len(self.param_groups)} (the next group), got {group_id_or_group!r}")
        start = len(self.parameters)
        added = self._new_group(param_group, list(self.parameters))
        self.parameters = type(self.parameters)(self.parameters + tuple(added))
        self._add_state(start)

    def _add_state(self, start: int) -> None:
        """Step counts, slots and rates for the parameters from index ``start`` on."""
        new = self.parameters[start:]
        self.steps = self.steps + tuple(Parameter(np.array(0.0), name=f"step.{p.name}", requires_grad=False) for p in new)
        for name, fill in self._slots:
            value = self.defaults[fill] if isinstance(fill, str) else fill
            made = tuple(Parameter(np.full(p.shape, value, dtype=p.dtype), name=f"{name}.{p.name}", requires_grad=False) for p in new)
            setattr(self, name, getattr(self, name) + made)
        for name, fill in self._scalar_slots:
            made = tuple(Parameter(np.array(float(fill)), name=f"{name}.{p.name}", requires_grad=False) for p in new)
            setattr(self, name, getattr(self, name) + made)
        self._lr_held = [group["lr"] for group in self.param_groups]
        self.group_rates = tuple(self._lr_held[i] for i in self._group_of)
        self.weight_decays = tuple(self.param_groups[i].get("weight_decay", 0.0) for i in self._group_of)  # as nn's bookkeeping lists them
        self.grad_centralization_flags = (False,) * len(self.parameters)

    @property
    def lrs(self) -> list[Parameter]:
        """Each group's rate Parameter, in group order (what MindSpore's own ``construct`` methods read)."""
        return list(self._lr_held)

    def group_lr(self, index: int) -> float:
        """Group ``index``'s current learning rate as a float (what schedulers chain on)."""
        lr = self.param_groups[index]["lr"]
        return float(lr.asnumpy()) if isinstance(lr, Parameter) else _rate_value(type(self).__name__, lr)

    def set_group_lr(self, index: int, value: float) -> None:
        """Write group ``index``'s learning rate into its Parameter (compiled steps read it on their next call)."""
        held = self._lr_held[index]
        ops.assign(held, Tensor(np.array(_rate_value(type(self).__name__, value), dtype=np.float64)))
        self.param_groups[index]["lr"] = held

    def _lr_now(self):
        """Each group's rate Parameter; a number assigned to ``group['lr']`` is first written into it."""
        for i, (group, held) in enumerate(zip(self.param_groups, self._lr_held)):
            if group["lr"] is not held:
                self.set_group_lr(i, group["lr"])
        return super()._lr_now()

    def _updates(self, grads: tuple, lr) -> Iterator:
        for i, (p, g) in enumerate(zip(self.parameters, grads)):
            group = self.param_groups[self._group_of[i]]
            if group.get("maximize", False):
                g = -g
            step = self.steps[i]
            t = step + 1.0
            state = {name: getattr(self, name)[i] for name, _ in self._slots + self._scalar_slots}
            alpha, delta, writes = self._update(p, g, scalar_as(lr, p), t, group, state)
            yield p, alpha, delta, [(step, t), *writes]

    def _update(self, p: Parameter, g, lr, t: Tensor, group: dict, state: dict) -> tuple:
        """One parameter's update: (alpha, delta, [(state Parameter, new value), ...]) for p <- p - alpha * delta, or
        alpha None and p's new value. ``g`` is already negated for ``maximize``; ``t`` is the 1-based step (float64)."""
        raise NotImplementedError(f"{type(self).__name__}: an optimizer defines _update")


def as_dtype_of(x, p: Parameter):
    """A float64 scalar Tensor computed from the step, cast to p's dtype (a Python float stays as it is)."""
    return ops.cast(x, p.dtype) if isinstance(x, Tensor) else x
