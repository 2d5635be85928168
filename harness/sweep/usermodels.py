"""User models in a sweep: ``[[model]]`` tables of a grid file, each a value of the grid's case axis.

A table takes the keys of ``funcad-compare run``'s user-model flags (``factory`` for ``--model``, ``from`` for
``--from``, ``input_shape`` for ``--input-shape``, ...) and a ``name`` for the case axis::

    [[model]]
    name = "gated"
    factory = "my_package.models:make_net"
    input_shape = [16, 6]        # or "16,6"; a model taking several inputs: [[16, 6], [16, 6]], one per input
    input_dtype = "float32"      # or one per input: ["int64", "bool"]
    optimizer = "adam"
    lr = 1e-3                    # the grid's lr axis, when given, overrides it

A point of such a case runs exactly as ``funcad-compare run --model`` with the same flags, the point's seed and
the grid's steps: the Case is built by ``harness.usermodel.case_from_args`` from the flags this entry stands for.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass

#: TOML key -> the ``run`` flag it stands for (the flag named in ``harness.usermodel``'s errors).
FLAG_OF_KEY = {"factory": "--model", "from": "--from", "input_shape": "--input-shape", "input_dtype": "--input-dtype",
               "classes": "--classes", "targets": "--targets", "data": "--data", "loss": "--loss", "optimizer": "--optimizer", "lr": "--lr"}
KEYS = ("name", *FLAG_OF_KEY)


class ModelEntryError(ValueError):
    """A ``[[model]]`` table that cannot run; the message names the entry and the key at fault."""


@dataclass(frozen=True)
class UserModel:
    """One ``[[model]]`` entry, with ``run --model``'s defaults for the keys it leaves out."""

    name: str
    factory: str
    source: str = "funcad"
    input_shape: str | tuple[str, ...] | None = None  # a tuple: one shape per input of a model taking several
    input_dtype: str | tuple[str, ...] | None = None  # None: float32 for drawn inputs (refused beside data)
    classes: int | None = None
    targets: str | None = None
    data: str | None = None
    loss: str = "cross_entropy"
    optimizer: str = "sgd"
    lr: float = 1e-2

    @classmethod
    def from_table(cls, table: Mapping, where: str) -> UserModel:
        """An entry from its TOML table; a ModelEntryError naming the key for unknown, missing or mistyped keys."""
        if not isinstance(table, Mapping):
            raise ModelEntryError(f"{where}: model entries are [[model]] tables, got {table!r}")
        label = f"{where}: [[model]] {table.get('name', '(unnamed)')}"
        unknown = sorted(set(table) - set(KEYS))
        if unknown:
            raise ModelEntryError(f"{label}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; known keys: {', '.join(KEYS)}")
        for key in ("name", "factory"):
            if not isinstance(table.get(key), str) or not table[key]:
                raise ModelEntryError(f"{label}: key {key} must be a non-empty string, got {table.get(key)!r}")
        values = {("source" if k == "from" else k): _shape_text(v) if k in ("input_shape", "targets") else v for k, v in table.items()}
        if isinstance(values.get("input_dtype"), list):
            values["input_dtype"] = tuple(values["input_dtype"])
        for key, kinds in (("classes", int), ("lr", (int, float))):
            value = values.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
                raise ModelEntryError(f"{label}: key {key} holds {value!r}, which is not a number of the right kind")
        for key, choices in _choices().items():
            value = values.get("source" if key == "from" else key)
            for one in value if isinstance(value, tuple) else (value,):
                if one is not None and one not in choices:
                    raise ModelEntryError(f"{label}: key {key} is {one!r}, not one of {', '.join(map(str, choices))}")
        for key in ("input_shape", "targets", "data"):
            value = values.get(key)
            several = key == "input_shape" and isinstance(value, tuple) and all(isinstance(v, str) for v in value)
            if value is not None and not isinstance(value, str) and not several:
                raise ModelEntryError(f"{label}: key {key} must be a string or a list of sizes, got {value!r}")
        return cls(**values)

    def to_table(self) -> dict:
        """The TOML/JSON table read back by ``from_table`` (keys left at None are omitted)."""
        return {("from" if k == "source" else k): v for k, v in asdict(self).items() if v is not None}

    def run_flags(self, seed: int, steps: int, lr: float | None) -> argparse.Namespace:
        """The parsed flags of the ``run --model`` this entry stands for, at one seed, step count and learning rate."""
        return argparse.Namespace(cases=[], model=self.factory, model_from=self.source, input_shape=self.input_shape,
                                  input_dtype=self.input_dtype, classes=self.classes, targets=self.targets, data=self.data,
                                  loss=self.loss, optimizer=self.optimizer, lr=self.lr if lr is None else float(lr), seed=seed, steps=steps)

    def case(self, seed: int, steps: int, lr: float | None):
        """The Case ``run --model`` compares; errors name this entry and the key (not the flag) at fault."""
        from harness.usermodel import UserModelError, case_from_args

        try:
            case = case_from_args(self.run_flags(seed, steps, lr))
        except UserModelError as exc:
            message = str(exc)
            for key, flag in sorted(FLAG_OF_KEY.items(), key=lambda item: -len(item[1])):
                message = message.replace(flag, key)
            raise ModelEntryError(f"[[model]] {self.name}: {message}") from None
        return dataclasses.replace(case, name=self.name)  # the case axis value names the sweep's keys and reports

    def check(self, steps: int) -> None:
        """Build the entry's case once (seed 0), so a bad factory, shape or choice stops the sweep before it starts."""
        self.case(0, steps, None)


def _choices() -> dict[str, tuple[str, ...]]:
    """The values ``run``'s flags accept for the keys that are choices."""
    from harness.cases import LOSSES
    from harness.usermodel import INPUT_DTYPES, OPTIMIZERS

    return {"from": ("funcad", "torch"), "input_dtype": INPUT_DTYPES, "loss": tuple(LOSSES), "optimizer": OPTIMIZERS}


def _shape_text(value):
    """A shape given as a TOML list ``[16, 6]`` in ``run``'s flag form ``"16,6"``, a list of shapes (one per input) as a
    tuple of such texts; anything else as given."""
    if isinstance(value, list) and value and all(isinstance(v, (list, str)) for v in value):
        return tuple(_shape_text(v) for v in value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return value
