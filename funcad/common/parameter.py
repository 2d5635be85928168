"""ParameterTuple: MindSpore's tuple of Parameters, the form optimizers and ``grad(weights=...)`` take."""

from __future__ import annotations

from collections.abc import Iterable

from funcad.core.tensor import Parameter


def distinct_parameters(owner: str, items: Iterable) -> tuple[Parameter, ...]:
    """``items`` as a tuple, checked to hold only Parameters, each once; errors name ``owner`` and the position."""
    params = tuple(items)
    seen = set()
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(f"{owner}: params[{i}] is a {type(p).__name__}, not a Parameter")
        if id(p) in seen:
            raise ValueError(f"{owner}: params[{i}] ({p.name}) appears more than once")
        seen.add(id(p))
    return params


class ParameterTuple(tuple):
    """A tuple whose items are all Parameters, each at most once."""

    def __new__(cls, iterable: Iterable[Parameter]):
        return super().__new__(cls, distinct_parameters("ParameterTuple", iterable))

    def clone(self, prefix: str, init="same") -> ParameterTuple:
        """New Parameters named ``prefix.<name>``: copies of the values (``init='same'``) or filled by ``init``
        (an initializer name, Initializer or number), as an optimizer's moment buffers are made."""
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"ParameterTuple.clone: prefix must be a non-empty string, got {prefix!r}")
        clones = [p.clone(init) for p in self]
        for clone, p in zip(clones, self):
            clone.name = f"{prefix}.{p.name}"
        return ParameterTuple(clones)
