"""Checking gradients against finite differences, and comparing arrays with per-dtype tolerances.

``check_grads`` checks any order of reverse and forward mode by comparing directional
derivatives along random directions with central finite differences in float64; each
order differentiates the previous order's derivative function, so the k-th order needs only
one finite difference of an exactly computed (k-1)-th derivative.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from funcad.core import pytree
from funcad.core.tensor import Tensor
from funcad.core.transforms import jvp, vjp

# (rtol, atol) per dtype, as torch.testing.assert_close.
DEFAULT_TOLERANCES = {
    np.dtype("float16"): (1e-3, 1e-5),
    np.dtype("float32"): (1.3e-6, 1e-5),
    np.dtype("float64"): (1e-7, 1e-7),
    np.dtype("complex64"): (1.3e-6, 1e-5),
    np.dtype("complex128"): (1e-7, 1e-7),
}


def _tolerances(*dtypes) -> tuple[float, float]:
    """The loosest of the dtypes' defaults; exact (0, 0) for integer and bool arrays."""
    pairs = [DEFAULT_TOLERANCES.get(np.dtype(d), (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _leaf_array(value) -> np.ndarray:
    return np.asarray(value._concrete() if isinstance(value, Tensor) else value)


def assert_close(actual: Any, expected: Any, rtol: float | None = None, atol: float | None = None, equal_nan: bool = False, msg: str = "") -> None:
    """Assert |actual - expected| <= atol + rtol * |expected| elementwise (pytrees compared leaf by leaf).

    Tolerances default per dtype like torch.testing.assert_close (float32: rtol 1.3e-6, atol 1e-5;
    float64: 1e-7, 1e-7; float16: 1e-3, 1e-5). A failure names the worst element and its values.
    """
    a_leaves, a_def = pytree.flatten(actual)
    e_leaves, e_def = pytree.flatten(expected)
    if a_def != e_def:
        raise AssertionError(f"{msg}structures differ: actual {a_def}, expected {e_def}")
    for k, (a, e) in enumerate(zip(a_leaves, e_leaves)):
        where = f"{msg}leaf {k}: " if len(a_leaves) > 1 else msg
        _assert_leaf_close(_leaf_array(a), _leaf_array(e), rtol, atol, equal_nan, where)


def _assert_leaf_close(a: np.ndarray, e: np.ndarray, rtol, atol, equal_nan: bool, where: str) -> None:
    if a.shape != e.shape:
        raise AssertionError(f"{where}shapes differ: actual {a.shape}, expected {e.shape}")
    default_rtol, default_atol = _tolerances(a.dtype, e.dtype)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    wide = np.complex128 if np.iscomplexobj(a) or np.iscomplexobj(e) else np.float64  # complex: |difference| is a modulus
    a64, e64 = a.astype(wide), e.astype(wide)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a64 - e64)
        bad = ~(diff <= atol + rtol * np.abs(e64))
    same_inf = np.isinf(a64) & (a64 == e64)
    both_nan = np.isnan(a64) & np.isnan(e64) if equal_nan else np.zeros(a.shape, bool)
    bad &= ~(same_inf | both_nan)
    if not bad.any():
        return
    score = np.where(bad, np.nan_to_num(diff, nan=np.inf, posinf=np.inf), -1.0)
    worst = np.unravel_index(int(np.argmax(score)), a.shape) if a.shape else ()
    rel = diff[worst] / abs(e64[worst]) if e64[worst] != 0 else np.inf
    raise AssertionError(
        f"{where}{int(bad.sum())} of {a.size} elements differ beyond rtol={rtol:g}, atol={atol:g}; "
        f"worst at index {tuple(int(i) for i in worst)}: actual {a64[worst].item()!r}, expected {e64[worst].item()!r} "
        f"(abs diff {diff[worst]:.3g}, rel diff {rel:.3g})"
    )


# -- gradient checks ---------------------------------------------------------------------------
def _float64_tree(tree):
    return pytree.tree_map(lambda v: Tensor._wrap(np.asarray(_leaf_array(v), dtype=np.float64)), tree)


def _random_like(tree, rng: np.random.Generator):
    return pytree.tree_map(lambda v: Tensor._wrap(rng.standard_normal(np.shape(_leaf_array(v)))), tree)


def _inner(a, b) -> float:
    return float(sum(np.vdot(_leaf_array(x), _leaf_array(y)) for x, y in zip(pytree.flatten(a)[0], pytree.flatten(b)[0])))


def _shifted(args, direction, step: float):
    leaves, treedef = pytree.flatten(args)
    moved = [Tensor._wrap(_leaf_array(x) + step * _leaf_array(d)) for x, d in zip(leaves, pytree.flatten(direction)[0])]
    return pytree.unflatten(treedef, moved)


def _finite_difference(fn, args, direction, eps: float):
    """Central difference of fn's outputs along ``direction``: (f(x + eps d) - f(x - eps d)) / 2 eps."""
    plus = pytree.flatten(fn(*_shifted(args, direction, eps)))[0]
    minus = pytree.flatten(fn(*_shifted(args, direction, -eps)))[0]
    return [(_leaf_array(p).astype(np.float64) - _leaf_array(m)) / (2 * eps) for p, m in zip(plus, minus)]


def _check_close(analytic: float, numeric: float, rtol: float, atol: float, what: str) -> None:
    if not abs(analytic - numeric) <= atol + rtol * max(abs(analytic), abs(numeric)):
        raise AssertionError(f"{what}: autodiff gives {analytic!r}, finite differences give {numeric!r} (rtol={rtol:g}, atol={atol:g})")


def check_grads(fn: Callable, args: Sequence, order: int = 1, modes: Sequence[str] = ("rev",),
                eps: float | None = None, rtol: float | None = None, atol: float | None = None, seed: int = 0) -> None:
    """Check derivatives of ``fn`` at ``args`` up to ``order`` against central finite differences in float64.

    ``modes``: "rev" checks ``vjp`` (u . J v against u . finite difference along v), "fwd" checks ``jvp``.
    Order k > 1 checks the (k-1)-th derivative function the same way. Raises AssertionError on a mismatch.
    """
    if order < 1:
        raise ValueError(f"check_grads: order must be >= 1, got {order}")
    unknown = set(modes) - {"rev", "fwd"}
    if unknown or not modes:
        raise ValueError(f"check_grads: modes must be drawn from ('rev', 'fwd'), got {tuple(modes)}")
    eps = 1e-5 if eps is None else eps
    rtol = 1e-5 if rtol is None else rtol
    atol = 1e-6 if atol is None else atol
    args = _float64_tree(tuple(args) if isinstance(args, (tuple, list)) else (args,))
    rng = np.random.default_rng(seed)
    _check(fn, args, order, 1, tuple(modes), eps, rtol, atol, rng)


def _check(fn, args, remaining, level, modes, eps, rtol, atol, rng) -> None:
    direction = _random_like(args, rng)
    numeric = _finite_difference(fn, args, direction, eps)
    out = fn(*args)
    cotangent = _random_like(out, rng)
    expected = _inner(cotangent, pytree.unflatten(pytree.flatten(out)[1], numeric))
    for mode in modes:
        if mode == "rev":
            _, pullback = vjp(fn, *args)
            cot_in = pullback(cotangent)  # a tuple, one cotangent per argument
            _check_close(_inner(cot_in, direction), expected, rtol, atol, f"reverse mode, derivative order {level}")
            if remaining > 1:
                def rev_derivative(*xs, _u=cotangent):
                    return vjp(fn, *xs)[1](_u)

                _check(rev_derivative, args, remaining - 1, level + 1, ("rev",), eps, rtol, atol, rng)
        else:
            _, tangent = jvp(fn, tuple(args), tuple(direction))
            _check_close(_inner(cotangent, tangent), expected, rtol, atol, f"forward mode, derivative order {level}")
            if remaining > 1:
                def fwd_derivative(*xs, _v=direction):
                    return jvp(fn, tuple(xs), tuple(_v))[1]

                _check(fwd_derivative, args, remaining - 1, level + 1, ("fwd",), eps, rtol, atol, rng)
