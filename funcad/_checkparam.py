"""``mindspore._checkparam``: the argument checks MindSpore's model zoo calls in its constructors, imported as
``from mindspore import _checkparam as Validator`` (functions) or ``from mindspore._checkparam import Validator``
(older code: the same checks as static methods). Each returns the checked value, as MindSpore's do, and raises
MindSpore's error types: TypeError for a wrong type (a bool is not an int), ValueError for a wrong value."""

from __future__ import annotations

import numbers


def _where(arg_name: str | None, prim_name: str | None) -> str:
    name = f"'{arg_name}'" if arg_name else "the argument"
    return f"For '{prim_name}', {name}" if prim_name else name[:1].upper() + name[1:]


def _integer(arg_value, arg_name: str | None, prim_name: str | None) -> int:
    if isinstance(arg_value, bool) or not isinstance(arg_value, numbers.Integral):
        raise TypeError(f"{_where(arg_name, prim_name)} must be an int, got {type(arg_value).__name__} {arg_value!r}")
    return int(arg_value)


def check_positive_int(arg_value, arg_name: str | None = None, prim_name: str | None = None) -> int:
    """``arg_value`` if it is an int > 0."""
    value = _integer(arg_value, arg_name, prim_name)
    if value <= 0:
        raise ValueError(f"{_where(arg_name, prim_name)} must be a positive int, got {value}")
    return value


def check_non_negative_int(arg_value, arg_name: str | None = None, prim_name: str | None = None) -> int:
    """``arg_value`` if it is an int >= 0."""
    value = _integer(arg_value, arg_name, prim_name)
    if value < 0:
        raise ValueError(f"{_where(arg_name, prim_name)} must be a non-negative int, got {value}")
    return value


def check_bool(arg_value, arg_name: str | None = None, prim_name: str | None = None) -> bool:
    """``arg_value`` if it is a bool (1 and 0 are not)."""
    if not isinstance(arg_value, bool):
        raise TypeError(f"{_where(arg_name, prim_name)} must be a bool, got {type(arg_value).__name__} {arg_value!r}")
    return arg_value


def check_value_type(arg_name: str, arg_value, valid_types, prim_name: str | None = None):
    """``arg_value`` if it is an instance of ``valid_types`` (a type or a tuple of them; a bool passes only for bool)."""
    types = tuple(valid_types) if isinstance(valid_types, (tuple, list)) else (valid_types,)
    if isinstance(arg_value, bool) and bool not in types or not isinstance(arg_value, types):
        names = ", ".join(t.__name__ for t in types)
        raise TypeError(f"{_where(arg_name, prim_name)} must be of type [{names}], got {type(arg_value).__name__} {arg_value!r}")
    return arg_value


class Validator:
    """The checks as static methods, for ``from mindspore._checkparam import Validator``."""

    check_positive_int = staticmethod(check_positive_int)
    check_non_negative_int = staticmethod(check_non_negative_int)
    check_bool = staticmethod(check_bool)
    check_value_type = staticmethod(check_value_type)
