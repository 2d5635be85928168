"""The Fourier transforms and complex values against torch.fft and torch.autograd in float64/complex128: values,
gradients of real losses (for real and for complex inputs, torch's conjugate convention), finite differences to
second order in both modes on real inputs, jit against eager, dtypes and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import ops
from funcad.testing import assert_close, check_grads

RNG = np.random.default_rng(14)
REAL = RNG.standard_normal((4, 6))
CPLX = RNG.standard_normal((4, 6)) + 1j * RNG.standard_normal((4, 6))

# (name, keyword arguments as MindSpore and torch both spell them, takes a complex input)
TRANSFORMS = [
    ("fft", {}, False), ("fft", {"n": 8, "dim": 0, "norm": "ortho"}, True), ("fft", {"n": 3, "norm": "forward"}, True),
    ("ifft", {}, True), ("ifft", {"n": 9, "dim": -2, "norm": "forward"}, False),
    ("rfft", {}, False), ("rfft", {"n": 5, "dim": 0, "norm": "ortho"}, False), ("rfft", {"n": 9}, False),
    ("irfft", {}, True), ("irfft", {"n": 7, "norm": "ortho"}, True), ("irfft", {"n": 4, "dim": 0, "norm": "forward"}, True),
    ("fft2", {}, True), ("fft2", {"s": (3, 8), "norm": "ortho"}, False), ("ifft2", {"s": (5, 4)}, True),
    ("fftn", {}, False), ("fftn", {"s": (7,), "dim": (0,), "norm": "forward"}, True), ("ifftn", {"dim": (1, 0)}, True),
    ("rfft2", {}, False), ("rfft2", {"s": (5, 7), "norm": "forward"}, False), ("rfftn", {"dim": (1, 0)}, False),
    ("irfft2", {}, True), ("irfft2", {"s": (3, 9), "norm": "ortho"}, True), ("irfftn", {"s": (6, 5)}, True),
    ("irfftn", {"dim": (0,), "norm": "forward"}, True),
    ("hfft", {}, True), ("hfft", {"n": 8, "dim": 0, "norm": "ortho"}, True), ("ihfft", {}, False), ("ihfft", {"n": 7, "norm": "forward"}, False),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for name, kw, _ in TRANSFORMS]


def _real_loss(out, weights, lib):
    """A real function of every real and imaginary part of ``out``, with fixed weights."""
    if lib is torch:
        return (out.real * weights[0]).sum() + ((out.imag * weights[1]).sum() if out.is_complex() else 0.0)
    return ops.sum(ops.real(out) * weights[0]) + ops.sum(ops.imag(out) * weights[1])


def _weights(name, kw, x):
    shape = tuple(getattr(torch.fft, name)(torch.from_numpy(x), **kw).shape)
    return RNG.standard_normal(shape), RNG.standard_normal(shape)


@pytest.mark.parametrize("name, kw, complex_input", TRANSFORMS, ids=IDS)
def test_transform_values_and_gradients_match_torch(name, kw, complex_input):
    x = CPLX if complex_input else REAL
    weights = _weights(name, kw, x)
    ours = getattr(ops, name)(x, **kw)
    expected = getattr(torch.fft, name)(torch.from_numpy(x), **kw).resolve_conj()
    assert np.asarray(ours).dtype == expected.numpy().dtype
    assert_close(ours, expected.numpy(), rtol=1e-12, atol=1e-12)

    loss = lambda x: _real_loss(getattr(ops, name)(x, **kw), weights, ops)  # noqa: E731
    t = torch.from_numpy(x).requires_grad_(True)
    _real_loss(getattr(torch.fft, name)(t, **kw), [torch.from_numpy(w) for w in weights], torch).backward()
    grad = funcad.grad(loss)(x)
    assert np.asarray(grad).dtype == x.dtype  # a complex input's gradient is complex, a real one's real
    assert_close(grad, t.grad.resolve_conj().numpy(), rtol=1e-10, atol=1e-12)
    assert_close(funcad.jit(funcad.grad(loss))(x), grad, rtol=1e-12, atol=1e-12)
    assert_close(funcad.jit(lambda x: getattr(ops, name)(x, **kw))(x), ours, rtol=0, atol=0)


def _squared(out):
    return out * out  # nonlinear, so second derivatives are not all zero


@pytest.mark.parametrize("name, kw, complex_input", TRANSFORMS, ids=IDS)
def test_transforms_to_second_order_against_finite_differences(name, kw, complex_input):
    """On real inputs (a complex input as real and imaginary parts): reverse and forward mode, twice differentiated."""
    weights = _weights(name, kw, CPLX if complex_input else REAL)
    if complex_input:
        fn = lambda re, im: _real_loss(_squared(getattr(ops, name)(ops.complex(re, im), **kw)), weights, ops)  # noqa: E731
        args = (CPLX.real, CPLX.imag)
    else:
        fn = lambda x: _real_loss(_squared(getattr(ops, name)(x, **kw)), weights, ops)  # noqa: E731
        args = (REAL,)
    check_grads(fn, args, order=2, modes=("rev", "fwd"), rtol=1e-4, atol=1e-6)


def _assert_loss_matches_torch(ours, theirs, x=REAL):
    """A real loss: its value and its gradient (eager and under jit) equal torch's, dtype and shape included."""
    t = torch.from_numpy(x).requires_grad_(True)
    expected = theirs(t)
    expected.backward()
    value, grad = funcad.value_and_grad(ours)(x)
    assert_close(value, expected.item(), rtol=1e-12)
    assert np.asarray(grad).dtype == x.dtype and np.asarray(grad).shape == x.shape
    assert_close(grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert_close(funcad.jit(funcad.grad(ours))(x), grad, rtol=1e-12, atol=1e-12)


def test_the_issue_losses_match_torch():
    """sum(abs(rfft(x))**2) and a filter applied in the frequency domain, sum(real(ifft(fft(x) * h)))."""
    h = torch.from_numpy(CPLX)
    cases = [(lambda x: ops.sum(ops.abs(ops.rfft(x)) ** 2), lambda t: (torch.fft.rfft(t).abs() ** 2).sum()),
             (lambda x: ops.sum(ops.real(ops.ifft(ops.fft(x) * CPLX)) * REAL),
              lambda t: (torch.fft.ifft(torch.fft.fft(t) * h).real * torch.from_numpy(REAL)).sum())]
    for ours, theirs in cases:
        _assert_loss_matches_torch(ours, theirs)
        check_grads(ours, (REAL,), order=2, modes=("rev", "fwd"))


# -- complex values taken apart and put together --------------------------------------------------------------
def _mixed(lib, a, b, z):
    cplx = torch.complex if lib is torch else ops.complex
    conj = torch.conj if lib is torch else ops.conj
    parts = (lambda w: (w.real, w.imag, w.angle())) if lib is torch else (lambda w: (ops.real(w), ops.imag(w), ops.angle(w)))
    w = cplx(a, b) * z / (z + 2.0) - conj(z) * a + z * z - (z - 1.5) / cplx(b, a)
    re, im, arg = parts(w)
    return (re * im).sum() + abs(w).sum() + (arg * a).sum() if lib is torch else \
        ops.sum(re * im) + ops.sum(ops.abs(w)) + ops.sum(arg * a)


def test_complex_arithmetic_and_parts_match_torch_for_real_and_complex_inputs():
    a, b = RNG.standard_normal(5), RNG.standard_normal(5)
    z = RNG.standard_normal(5) + 1j * RNG.standard_normal(5)
    ta, tb, tz = (torch.from_numpy(v).requires_grad_(True) for v in (a, b, z))
    expected = _mixed(torch, ta, tb, tz)
    expected.backward()
    value, grads = funcad.value_and_grad(lambda *v: _mixed(ops, *v), (0, 1, 2))(a, b, z)
    assert_close(value, expected.item(), rtol=1e-12)
    for got, t in zip(grads, (ta, tb, tz)):
        assert np.asarray(got).dtype == t.grad.numpy().dtype
        assert_close(got, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert_close(funcad.jit(funcad.grad(lambda *v: _mixed(ops, *v), (0, 1, 2)))(a, b, z), grads, rtol=1e-12, atol=1e-12)
    # forward mode along a complex direction equals the finite difference (the loss is real)
    da, db, dz = RNG.standard_normal(5), RNG.standard_normal(5), RNG.standard_normal(5) + 1j * RNG.standard_normal(5)
    _, tangent = funcad.jvp(lambda *v: _mixed(ops, *v), (a, b, z), (da, db, dz))
    step = 1e-6
    ahead, behind = (float(_mixed(ops, a + k * da, b + k * db, z + k * dz)) for k in (step, -step))
    fd = (ahead - behind) / (2 * step)
    assert_close(tangent, fd, rtol=1e-6)
    check_grads(lambda a, b, zr, zi: _mixed(ops, a, b, ops.complex(zr, zi)), (a, b, z.real, z.imag), order=2, modes=("rev", "fwd"))


def test_vjp_of_a_complex_output_takes_a_complex_cotangent_as_torch_does():
    z = CPLX[0]
    cot = CPLX[1]
    out, pull = funcad.vjp(lambda z: ops.fft(z * z, n=8), z)
    t = torch.from_numpy(z).requires_grad_(True)
    expected = torch.autograd.grad(torch.fft.fft(t * t, n=8), t, torch.from_numpy(np.asarray(cot.tolist() + [0.5j, -1.0])))[0]
    (got,) = pull(np.asarray(cot.tolist() + [0.5j, -1.0]))
    assert_close(got, expected.numpy(), rtol=1e-12, atol=1e-12)


def test_tensor_methods_and_operators_on_complex_values():
    z = funcad.Tensor(CPLX)
    assert z.dtype == funcad.complex128 and str(funcad.Tensor(REAL, dtype=funcad.complex64).dtype) == "Complex64"
    for method, expected in (("real", CPLX.real), ("imag", CPLX.imag), ("conj", np.conj(CPLX)), ("angle", np.angle(CPLX)), ("abs", np.abs(CPLX))):
        assert_close(getattr(z, method)(), expected, rtol=0, atol=0)
    assert_close(-(z * 2.0 + z / z - z), -(CPLX * 2.0 + CPLX / CPLX - CPLX), rtol=1e-15, atol=0)


def test_a_real_input_broadcast_against_a_complex_one_gets_a_real_gradient():
    _assert_loss_matches_torch(lambda c: ops.sum(ops.abs(c * CPLX) * REAL),
                               lambda t: (torch.abs(t * torch.from_numpy(CPLX)) * torch.from_numpy(REAL)).sum(), REAL[:, :1].copy())


def test_shifts_and_selections_of_a_complex_spectrum_match_torch():
    """fftshift of a spectrum, then slicing, joining, reshaping and transposing complex values."""
    def ours(x):
        spec = ops.fftshift(ops.fft2(x), dim=(0, 1))
        moved = ops.transpose(ops.reshape(ops.concat([spec[1:3], ops.ifftshift(spec)[:1]], 0), (6, 3)), (1, 0))
        return ops.sum(ops.abs(moved) * REAL[:3])

    def theirs(t):
        spec = torch.fft.fftshift(torch.fft.fft2(t), dim=(0, 1))
        moved = torch.cat([spec[1:3], torch.fft.ifftshift(spec)[:1]], 0).reshape(6, 3).permute(1, 0)
        return (moved.abs() * torch.from_numpy(REAL[:3])).sum()

    _assert_loss_matches_torch(ours, theirs)


def test_casting_to_complex_differentiates_and_casting_back_is_refused():
    _assert_loss_matches_torch(lambda x: ops.sum(ops.abs(ops.fft(x.astype(funcad.complex128) * CPLX)) ** 2),
                               lambda t: (torch.fft.fft(t.to(torch.complex128) * torch.from_numpy(CPLX)).abs() ** 2).sum())
    with pytest.raises(TypeError, match="funcad.ops.cast: complex128 to float64 would drop the imaginary part; take ops.real"):
        ops.cast(CPLX, funcad.float64)


def test_sample_frequencies_are_float32_as_in_mindspore():
    assert_close(ops.fftfreq(7, 0.5), np.fft.fftfreq(7, 0.5).astype(np.float32), rtol=0, atol=0)
    assert np.asarray(ops.rfftfreq(8)).dtype == np.float32 and np.asarray(ops.fftfreq(4, dtype=funcad.float64)).dtype == np.float64


def test_dtypes_follow_mindspore():
    x32 = REAL.astype(np.float32)
    assert np.asarray(ops.fft(x32)).dtype == np.complex64 and np.asarray(ops.rfft(x32)).dtype == np.complex64
    assert np.asarray(ops.irfft(ops.rfft(x32))).dtype == np.float32
    assert np.asarray(ops.rfft(np.arange(6))).dtype == np.complex64  # integers transform as float32
    assert np.asarray(ops.complex(x32, x32)).dtype == np.complex64 and np.asarray(ops.complex(REAL, REAL)).dtype == np.complex128
    grad = funcad.grad(lambda z: ops.sum(ops.abs(ops.fft(z)) ** 2))(CPLX.astype(np.complex64))
    assert np.asarray(grad).dtype == np.complex64
    assert np.asarray(funcad.grad(lambda x: ops.sum(ops.irfft(ops.rfft(x) * 2.0)))(x32)).dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda: ops.fft(REAL, norm="unit"), "funcad.ops.fft: norm must be 'backward', 'forward', 'ortho' or None, got 'unit'"),
    (lambda: ops.fft(REAL, dim=2), r"funcad.ops.fft: dim \(2,\) must be distinct axes of an input of shape \(4, 6\)"),
    (lambda: ops.fft2(REAL, dim=(1, -1)), r"funcad.ops.fft2: dim \(1, -1\) must be distinct axes"),
    (lambda: ops.rfftn(REAL, s=(3, 4), dim=(0,)), r"funcad.ops.rfftn: sizes \(3, 4\) must be positive ints, one per axis in dim \(0,\)"),
    (lambda: ops.irfft(CPLX, n=0), r"funcad.ops.irfft: sizes \(0,\) must be positive ints"),
])
def test_bad_arguments_name_the_op_and_values(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_type_errors_name_the_op_and_dtypes():
    with pytest.raises(TypeError, match="funcad.ops.rfft: the input must be real, got complex128"):
        ops.rfft(CPLX)
    with pytest.raises(TypeError, match="funcad.ops.complex: real and imag must be floating arrays of one dtype, got float32 and float64"):
        ops.complex(REAL.astype(np.float32), REAL)
