"""A sweep's grid: the axes (cases, dtypes, seeds, batch sizes, learning rates) and the settings every point shares.

Each grid point is one run of today's comparison (``harness.runner``) for one case, dtype, seed, batch size and
learning rate. The grid comes from the command line or a TOML file with the same keys::

    cases = ["mlp", "lenet"]
    dtypes = ["float32", "float64"]
    seeds = "0-31"            # or [0, 1, 5], or ["0-3", 9]
    batch_sizes = [16, 64]
    lr = [1e-3, 1e-2]
    steps = 5

``[[model]]`` tables add user models to the case axis (``harness.sweep.usermodels``); with them and no ``cases``
key the sweep runs the user models alone.

A float32 point runs with a float64 run of both engines as ground truth (as ``funcad-compare run`` does), so its
float32 differences are judged against the noise floor; a float64 point runs float64 alone.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from itertools import product
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

from harness.settings import SharedSettings
from harness.sweep.usermodels import ModelEntryError, UserModel

SWEEP_DTYPES = ("float32", "float64")
AXES = ("cases", "dtypes", "seeds", "batch_sizes", "lr")


class GridError(ValueError):
    """A grid that cannot be run: an unknown key, case or dtype, or a value out of range."""


@dataclass(frozen=True)
class Point:
    """One grid point; ``key`` names its folder in the sweep and is stable across sessions."""

    case: str
    dtype: str
    seed: int
    batch_size: int | None
    lr: float | None

    @property
    def key(self) -> str:
        batch = "default" if self.batch_size is None else str(self.batch_size)
        lr = "default" if self.lr is None else f"{self.lr:g}"
        return f"{self.case}-{self.dtype}-bs{batch}-lr{lr}-seed{self.seed}"


@dataclass(frozen=True)
class Grid(SharedSettings):
    """The axes to sweep and the settings shared by every point (the ``run`` flags of the same names)."""

    cases: tuple[str, ...]
    dtypes: tuple[str, ...] = ("float32",)
    seeds: tuple[int, ...] = (0,)
    batch_sizes: tuple[int | None, ...] = (None,)
    lr: tuple[float | None, ...] = (None,)
    timing: bool = False
    models: tuple[UserModel, ...] = ()

    def __post_init__(self):
        from harness.cases import CASES

        for axis in AXES:
            values = self.case_names if axis == "cases" else getattr(self, axis)
            if not values:
                raise GridError(f"sweep grid: {axis} is empty")
            duplicates = sorted({str(v) for v in values if list(values).count(v) > 1})
            if duplicates:
                raise GridError(f"sweep grid: {axis} lists {', '.join(duplicates)} more than once")
        unknown = [c for c in self.cases if c not in CASES]
        if unknown:
            raise GridError(f"sweep grid: unknown case{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; known cases: {', '.join(CASES)}")
        self._check_models(CASES)
        bad_dtypes = [d for d in self.dtypes if d not in SWEEP_DTYPES]
        if bad_dtypes:
            raise GridError(f"sweep grid: dtype {', '.join(bad_dtypes)} is not one of {', '.join(SWEEP_DTYPES)}")
        _check_types("seeds", self.seeds, int)
        _check_types("batch_sizes", self.batch_sizes, int, none=True)
        _check_types("lr", self.lr, (int, float), none=True)
        if any(s < 0 for s in self.seeds):
            raise GridError(f"sweep grid: seeds must be >= 0, got {min(self.seeds)}")
        for lr in self.lr:
            if lr is not None and not 0 < lr < math.inf:
                raise GridError(f"sweep grid: a learning rate must be a finite number > 0, got {lr}")
        for batch_size in self.batch_sizes:  # RunOptions checks the shared settings and the batch sizes
            try:
                self.run_options(Point(self.case_names[0], "float64", 0, batch_size, None))
            except (TypeError, ValueError) as exc:
                raise GridError(f"sweep grid: {exc}") from None

    def _check_models(self, built_in) -> None:
        """User models: names apart from the built-in cases, no batch-size axis (input_shape sets it), each one buildable."""
        clashes = [m.name for m in self.models if m.name in built_in]
        if clashes:
            raise GridError(f"sweep grid: [[model]] name {', '.join(clashes)} is a built-in case's; choose another name")
        if self.models and self.batch_sizes != (None,):
            raise GridError(f"sweep grid: batch_sizes {', '.join(map(str, self.batch_sizes))} cannot apply to the [[model]] entries "
                            "(their batch is input_shape's first size, or data's); sweep user models without batch_sizes")
        for model in self.models:
            try:
                model.check(self.steps)
            except ModelEntryError as exc:
                raise GridError(f"sweep grid: {exc}") from None

    @property
    def case_names(self) -> tuple[str, ...]:
        """The case axis: the built-in cases, then the user models by name."""
        return self.cases + tuple(m.name for m in self.models)

    def user_model(self, case: str) -> UserModel | None:
        return next((m for m in self.models if m.name == case), None)

    def points(self) -> list[Point]:
        """Every point, in the order of the axes (cases outermost, seeds innermost)."""
        return [Point(c, d, s, b, lr) for c, d, b, lr, s in product(self.case_names, self.dtypes, self.batch_sizes, self.lr, self.seeds)]

    def run_options(self, point: Point):
        """The ``RunOptions`` of one point: float32 with its float64 ground truth, or float64 alone."""
        from harness.runner import RunOptions

        return RunOptions(**self.shared_settings(), dtype="both" if point.dtype == "float32" else "float64", seed=point.seed,
                          batch_size=point.batch_size, timing=self.timing)

    def to_dict(self) -> dict:
        """JSON-able form, read back by ``Grid.from_dict`` (the sweep folder's ``sweep.json``)."""
        fields_ = asdict(self)
        values = {k: list(fields_[k]) if isinstance(fields_[k], tuple) else fields_[k] for k in self._scalar_keys()}
        return values | ({"model": [m.to_table() for m in self.models]} if self.models else {})

    @classmethod
    def _scalar_keys(cls) -> list[str]:
        """The fields a grid file sets by name (all but ``models``, which its ``[[model]]`` tables give), axes first."""
        return [*AXES, *(f.name for f in fields(cls) if f.name not in AXES and f.name != "models")]

    @classmethod
    def from_dict(cls, values: Mapping, where: str = "sweep grid") -> Grid:
        """A grid from a mapping with the keys of ``Grid`` (seeds may be ranges such as ``"0-31"``)."""
        known = [*cls._scalar_keys(), "model"]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise GridError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; known keys: {', '.join(known)}")
        if "cases" not in values:
            from harness.cases import CASES

            values = {**values, "cases": [] if values.get("model") else list(CASES)}
        parsed = {}
        for name, value in values.items():
            if name == "model":
                tables = value if isinstance(value, list) else [value]
                try:
                    parsed["models"] = tuple(UserModel.from_table(t, where) for t in tables)
                except ModelEntryError as exc:
                    raise GridError(str(exc)) from None
            elif name in AXES:
                items = value if isinstance(value, list) else [value]
                parsed[name] = tuple(parse_seeds(items) if name == "seeds" else items)
            else:
                parsed[name] = value
        try:
            return cls(**parsed)
        except TypeError as exc:
            raise GridError(f"{where}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | Path) -> Grid:
        try:
            with open(path, "rb") as file:
                values = tomllib.load(file)
        except OSError as exc:
            raise GridError(f"--grid {path}: cannot read it: {exc.strerror or exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise GridError(f"--grid {path}: not valid TOML: {exc}") from None
        return cls.from_dict(values, f"--grid {path}")

    def overridden(self, **values) -> Grid:
        """This grid with the given keys replaced (command-line flags over a grid file); None leaves a key as it is."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def _check_types(axis: str, values: tuple, kinds, none: bool = False) -> None:
    for value in values:
        if not (isinstance(value, kinds) and not isinstance(value, bool) or none and value is None):
            raise GridError(f"sweep grid: {axis} holds {value!r}, which is not a number of the right kind")


def parse_seeds(items: Iterable) -> list[int]:
    """Seeds from ints and inclusive ranges ``"A-B"`` (``["0-3", 9]`` -> ``[0, 1, 2, 3, 9]``)."""
    seeds: list[int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise GridError(f"sweep grid: a seed must be an integer or a range A-B, got {item!r}")
        text = str(item).strip()
        try:
            first, last = (int(part) for part in text.split("-", 1)) if "-" in text.lstrip("-") else (int(text), int(text))
        except ValueError:
            raise GridError(f"sweep grid: a seed must be an integer or a range A-B, got {item!r}") from None
        if last < first:
            raise GridError(f"sweep grid: seed range {text} is empty (its end is below its start)")
        seeds += range(first, last + 1)
    return seeds
