"""torch_ref.from_torch: the torch -> funcad map derived from the primitives' ``torch`` declarations. Every torch function
and Tensor method in it is called in a torch module, brought to funcad by to_funcad and mirrored back to torch; the
three agree in float64 (torch's own values are the reference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import ops
from funcad.core.primitive import Primitive
from torch_ref import from_torch
from torch_ref.mirror import mirror
from torch_ref.to_funcad import to_funcad
from torch_ref.torch_translation import torch_function, torch_name


def _positive(f, x, y, w):
    return f(x.abs() + 0.1)


# How each op is called (by its torch leaf name) on x, y (2, 3) and w (3, 2); a one-input call when not listed.
SAMPLES = {
    **{name: (lambda f, x, y, w: f(x, y)) for name in ("add", "sub", "mul", "div", "maximum", "minimum", "floor_divide", "remainder",
                                                       "eq", "ne", "lt", "le", "gt", "ge", "linear", "complex")},
    **{name: _positive for name in ("log", "sqrt", "rsqrt", "log1p")},
    "pow": lambda f, x, y, w: f(x.abs() + 0.1, y),
    "matmul": lambda f, x, y, w: f(x, w),
    "where": lambda f, x, y, w: f(x > 0.2, x, y),
    "clamp": lambda f, x, y, w: f(x, -0.3, max=0.4),
    "logical_not": lambda f, x, y, w: f(x > 0.2),
    **{name: (lambda f, x, y, w: f(x > 0.2, y < 0.1)) for name in ("logical_and", "logical_or", "logical_xor")},
    "reshape": lambda f, x, y, w: f(x, (3, -1)),
    "permute": lambda f, x, y, w: f(x, (1, 0)),
    "tile": lambda f, x, y, w: f(x, (2, 1)),
    "broadcast_to": lambda f, x, y, w: f(x, (4, 2, 3)),
    "cat": lambda f, x, y, w: f([x, y], dim=1),
    "sum": lambda f, x, y, w: f(x, dim=1, keepdim=True),
    "cumsum": lambda f, x, y, w: f(x, 1), "logcumsumexp": lambda f, x, y, w: f(x, 1),
    "argmax": lambda f, x, y, w: f(x, 1),
    "argmin": lambda f, x, y, w: f(x, dim=0, keepdim=True),
    "softmax": lambda f, x, y, w: f(x, dim=1),
    "log_softmax": lambda f, x, y, w: f(x, 0),
    "round": lambda f, x, y, w: f(x * 10.0, decimals=1),
    **{name: (lambda f, x, y, w: f(x, y)) for name in ("atan2", "hypot", "logaddexp", "fmod", "isclose", "true_divide", "rsub")},
    "outer": lambda f, x, y, w: f(x[0], y[1]),
    "mm": lambda f, x, y, w: f(x, w),
    "bmm": lambda f, x, y, w: f(x[None], w[None]),
    "baddbmm": lambda f, x, y, w: f(x[None, :, :2], x[None], w[None], beta=0.5),
    "addmm": lambda f, x, y, w: f(x[:, :2], x, w, alpha=2.0),
    "addcmul": lambda f, x, y, w: f(x, y, x, value=0.5),
    "addcdiv": lambda f, x, y, w: f(x, y, x + 2.0),
    "lerp": lambda f, x, y, w: f(x, y, 0.3),
    "repeat_interleave": lambda f, x, y, w: f(x, 2, dim=1),
    "movedim": lambda f, x, y, w: f(x[None], 0, 2),
    "moveaxis": lambda f, x, y, w: f(x[None], (0, 1), (2, 0)),
    "unflatten": lambda f, x, y, w: f(x, 1, (3, 1)),
    "vstack": lambda f, x, y, w: f([x, y[0]]),
    "hstack": lambda f, x, y, w: f([x, y]),
    "narrow": lambda f, x, y, w: f(x, 1, 1, 2),
    "trace": lambda f, x, y, w: f(x @ w),
    **{name: _positive for name in ("lgamma", "digamma", "log2", "log10")},
    **{name: (lambda f, x, y, w: f(x.abs() + 1.0)) for name in ("acosh", "arccosh")},
    "logit": lambda f, x, y, w: f(x.abs() + 0.05, eps=0.1),
    **{name: (lambda f, x, y, w: f((x * 10).long(), (y * 10).long() + 3)) for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "gcd", "lcm")},
    "polygamma": lambda f, x, y, w: f(2, x.abs() + 0.5),
    **{name: (lambda f, x, y, w: f(x @ x.T + 0.5)) for name in ("linalg_inv", "linalg_det", "det", "linalg_cholesky", "cholesky")},
    "tensor_split": lambda f, x, y, w: f(x, [1, 2], dim=1)[2] + f(x, 2, 1)[0][:, :1],
    **{name: (lambda f, x, y, w: f(x @ w * 0.3)) for name in ("linalg_matrix_exp", "matrix_exp")},
    "bitwise_not": lambda f, x, y, w: f((x * 10).long()),
}
# Tensor methods taking sizes one by one as well as in a tuple.
METHOD_SAMPLES = {
    "reshape": lambda f, x, y, w: f(x, 3, 2),
    "permute": lambda f, x, y, w: f(x, 1, 0),
    "tile": lambda f, x, y, w: f(x, 2, 1),
}


def _name(fn) -> str:
    return from_torch.described(fn).rpartition(".")[2]


class _Calls(torch.nn.Module):
    def __init__(self, call):
        super().__init__()
        self.call = call

    def forward(self, x, y, w):
        return self.call(x, y, w)


def _assert_round_trip(call) -> None:
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(-0.9, 0.9, shape) for shape in ((2, 3), (2, 3), (3, 2))]
    module = _Calls(call)
    expected = module(*(torch.from_numpy(a) for a in arrays)).numpy()
    cell = to_funcad(module)
    ours = np.asarray(cell(*(funcad.Tensor(a) for a in arrays)))
    back = mirror(cell)(*(torch.from_numpy(a) for a in arrays)).numpy()
    assert ours.shape == expected.shape and back.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(back, expected, rtol=1e-13, atol=1e-15)
    if expected.dtype.kind == "f":
        assert ours.dtype == np.float64 and back.dtype == np.float64


@pytest.mark.parametrize("fn", sorted(from_torch.FUNCTIONS, key=from_torch.described), ids=from_torch.described)
def test_every_derived_torch_function_round_trips_its_values(fn):
    sample = SAMPLES.get(_name(fn), lambda f, x, y, w: f(x))
    _assert_round_trip(lambda x, y, w: sample(fn, x, y, w))


@pytest.mark.parametrize("name", sorted(from_torch.METHODS))
def test_every_derived_tensor_method_round_trips_its_values(name):
    for sample in (SAMPLES.get(name, lambda f, x, y, w: f(x)), METHOD_SAMPLES.get(name)):
        if sample is not None:
            _assert_round_trip(lambda x, y, w, sample=sample: sample(lambda t, *rest, **kw: getattr(t, name)(*rest, **kw), x, y, w))


def test_each_declared_torch_function_maps_back_to_the_public_op_of_its_primitive():
    declared = {name: op for name, op in vars(ops).items() if isinstance(from_torch.primitive_of(name, op), Primitive)
                and torch_name(from_torch.primitive_of(name, op))}
    assert len(declared) > 50
    for name, op in declared.items():
        assert from_torch.FUNCTIONS[torch_function(torch_name(from_torch.primitive_of(name, op)))] is op, name


@pytest.mark.parametrize("call", [
    lambda x, y, w: torch.flatten(x.view(3, 2).transpose(0, 1) @ w, 0) - x.transpose(0, 1).mean(dim=1).sum(),
    lambda x, y, w: torch.nn.functional.gelu(torch.transpose(x, 1, 0), approximate="tanh") * x.size(1),
], ids=["flatten-view-matmul-transpose-mean", "gelu-size"])
def test_the_reverse_only_entries_round_trip_too(call):
    _assert_round_trip(call)


def test_a_torch_function_nothing_declares_is_an_error_naming_it():
    with pytest.raises(from_torch.NoTranslation, match=r"torch.histc has no funcad translation"):
        from_torch.funcad_op("call_function", torch.histc)
    with pytest.raises(from_torch.NoTranslation, match=r"Tensor.histc has no funcad translation"):
        from_torch.funcad_op("call_method", "histc")
