"""Every convolution algorithm against torch in float64 (values, both gradients, second order), against finite differences,
against each other, and in float32 against torch's own float32 error; selection, pinning and their errors."""

from __future__ import annotations

import contextlib
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import nn, ops
from funcad.core.primitive import compiled_as_call, primitive
from funcad.ops import conv, conv_algorithms
from funcad.testing import assert_close, check_grads

RNG = np.random.default_rng(7)

# (x shape, w shape, stride, padding (top, bottom, left, right), dilation, groups)
GEOMETRIES = [
    ((2, 3, 7, 8), (4, 3, 3, 3), 1, (1, 1, 1, 1), 1, 1),
    ((2, 4, 6, 9), (6, 2, 3, 3), 1, (0, 2, 1, 0), 1, 2),
    ((3, 2, 5, 5), (2, 2, 3, 3), 1, (2, 2, 2, 2), 1, 1),
    ((2, 3, 9, 8), (5, 3, 5, 4), 1, (2, 1, 0, 3), 1, 1),
    ((2, 2, 9, 9), (3, 2, 3, 3), 1, (3, 3, 1, 1), 2, 1),
    ((2, 3, 8, 7), (4, 3, 3, 2), 2, (1, 0, 1, 1), 1, 1),
    ((2, 4, 7, 6), (6, 4, 1, 1), 1, (0, 0, 0, 0), 1, 1),
    ((2, 4, 7, 6), (6, 2, 1, 1), (2, 3), (0, 0, 0, 0), 1, 2),
]
CASES = [(name, *g) for g in GEOMETRIES for name in conv_algorithms.applicable(conv.Geometry(g[1][2:], conv.pair(g[2], "", ""), g[3],
                                                                                              conv.pair(g[4], "", "")))]


def _ids(case):
    name, xs, ws, stride, padding, dilation, groups = case
    return f"{name}-x{'x'.join(map(str, xs))}-w{'x'.join(map(str, ws))}-s{stride}-p{''.join(map(str, padding))}-d{dilation}-g{groups}"


def _torch_conv(x, w, stride, padding, dilation, groups):
    top, bottom, left, right = padding
    return F.conv2d(F.pad(x, (left, right, top, bottom)), w, stride=stride, dilation=dilation, groups=groups)


def _funcad_conv(name, stride, padding, dilation, groups):
    return lambda x, w: ops.conv2d(x, w, stride=stride, padding=padding, dilation=dilation, groups=groups, algorithm=name)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_algorithm_matches_torch_in_float64_with_second_order(case):
    name, xs, ws, stride, padding, dilation, groups = case
    x, w = RNG.standard_normal(xs), RNG.standard_normal(ws)
    f = _funcad_conv(name, stride, padding, dilation, groups)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yt = _torch_conv(xt, wt, stride, padding, dilation, groups)
    cot = RNG.standard_normal(tuple(yt.shape))
    gxt, gwt = torch.autograd.grad((yt * torch.tensor(cot)).sum(), (xt, wt), create_graph=True)
    second_t = torch.autograd.grad((gxt**2).sum() + (gwt**3).sum(), (xt, wt))

    def first(x, w):
        return funcad.grad(lambda x, w: ops.sum(f(x, w) * cot), (0, 1))(x, w)

    def second_loss(x, w):
        gx, gw = first(x, w)
        return ops.sum(gx**2) + ops.sum(gw**3)

    assert_close(f(x, w), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    for got, want in zip(first(x, w), (gxt, gwt)):
        assert_close(got, want.detach().numpy(), rtol=1e-10, atol=1e-10)
    for got, want in zip(funcad.grad(second_loss, (0, 1))(x, w), second_t):
        assert_close(got, want.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("tap_channels", [0, 64])  # im2col, then tap by tap, at every stride-1 geometry
@pytest.mark.parametrize("geometry", [g for g in GEOMETRIES if g[2] == 1], ids=str)
def test_gemm_weight_gradient_by_im2col_and_by_taps_matches_torch(monkeypatch, geometry, tap_channels):
    xs, ws, stride, padding, dilation, groups = geometry
    x, w = RNG.standard_normal(xs), RNG.standard_normal(ws)
    wt = torch.tensor(w, requires_grad=True)
    yt = _torch_conv(torch.tensor(x), wt, stride, padding, dilation, groups)
    cot = RNG.standard_normal(tuple(yt.shape))
    (want,) = torch.autograd.grad((yt * torch.tensor(cot)).sum(), (wt,))
    monkeypatch.setattr(conv, "TAP_CHANNELS", tap_channels)
    monkeypatch.setattr(conv, "TAP_MIN_RUN", 0)
    got = funcad.grad(lambda w: ops.sum(_funcad_conv("gemm", stride, padding, dilation, groups)(x, w) * cot))(w)
    assert_close(got, want.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["winograd", "fft", "direct"])
def test_algorithm_second_order_against_finite_differences_both_modes(name):
    if name == "direct":
        args, kwargs = (RNG.standard_normal((2, 2, 5, 4)), RNG.standard_normal((3, 2, 1, 1))), {"stride": 2}
    else:
        args, kwargs = (RNG.standard_normal((2, 2, 5, 6)), RNG.standard_normal((3, 2, 3, 3))), {"padding": (1, 0, 2, 1)}
    check_grads(lambda x, w: ops.conv2d(x, w, algorithm=name, **kwargs), args, order=2, modes=("rev", "fwd"))


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: f"x{g[0]}-w{g[1]}-s{g[2]}")
def test_algorithms_agree_with_each_other_and_each_is_deterministic(geometry):
    xs, ws, stride, padding, dilation, groups = geometry
    geo = conv.Geometry(ws[2:], conv.pair(stride, "", ""), padding, conv.pair(dilation, "", ""))
    x, w = RNG.standard_normal(xs).astype(np.float32), RNG.standard_normal(ws).astype(np.float32)
    g = RNG.standard_normal((xs[0], ws[0], *geo.output_size(*xs[2:]))).astype(np.float32)
    results = {}
    for name in conv_algorithms.applicable(geo):
        runs = [[conv._conv.impl(x, w, geo=geo, groups=groups, algorithm=name),
                 conv._conv_input_grad.impl(g, w, geo=geo, groups=groups, x_shape=xs, algorithm=name),
                 conv._conv_weight_grad.impl(x, g, geo=geo, groups=groups, w_shape=ws, algorithm=name)] for _ in range(2)]
        for a, b in zip(*runs):
            assert a.dtype == np.float32 and a.tobytes() == b.tobytes(), f"{name} is not deterministic"
        results[name] = runs[0]
    reference = results.pop("gemm")
    for name, values in results.items():
        for got, want in zip(values, reference):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("name, kernel, kwargs", [("gemm", 3, {"padding": 1}), ("winograd", 3, {"padding": 1}), ("fft", 3, {"padding": 1}),
                                                   ("direct", 1, {"stride": 2})])
def test_every_algorithm_takes_an_empty_batch_as_torch_does(name, kernel, kwargs):
    x, w = np.zeros((0, 4, 8, 8), np.float32), RNG.standard_normal((6, 2, kernel, kernel)).astype(np.float32)
    y, (gx, gw) = funcad.value_and_grad(lambda x, w: ops.sum(ops.conv2d(x, w, groups=2, algorithm=name, **kwargs)), (0, 1))(x, w)
    wt = torch.tensor(w, requires_grad=True)
    out = F.conv2d(torch.tensor(x), wt, groups=2, **kwargs)
    (gwt,) = torch.autograd.grad(out.sum(), wt)
    assert ops.conv2d(x, w, groups=2, algorithm=name, **kwargs).shape == tuple(out.shape) and float(y) == 0.0
    assert gx.shape == x.shape and gw.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(gw), gwt.numpy())


# The shapes, at a smaller batch: LeNet's two convolutions, 3x3 at 32/64 channels, 16x16 and 32x32, stride 1 and 2, a 1x1.
NUMERIC_SHAPES = [((4, 1, 28, 28), (6, 1, 5, 5), 1, 2), ((4, 6, 14, 14), (16, 6, 5, 5), 1, 0),
                  *[((2, c, h, h), (c, c, 3, 3), s, 1) for c in (32, 64) for h in (16, 32) for s in (1, 2)],
                  ((2, 32, 16, 16), (64, 32, 1, 1), 2, 0)]
NUMERIC_CASES = [(name, *shape) for shape in NUMERIC_SHAPES
                 for name in conv_algorithms.applicable(conv.Geometry(shape[1][2:], (shape[2],) * 2, (shape[3],) * 4, (1, 1)))]


def _errors(a, b) -> tuple[float, float]:
    """(root mean square, largest) absolute difference."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return float(np.sqrt(np.mean(diff**2))), float(np.max(np.abs(diff)))


@pytest.mark.parametrize("name, xs, ws, stride, padding", NUMERIC_CASES, ids=lambda v: str(v))
def test_float32_error_within_twice_torchs_own(name, xs, ws, stride, padding):
    """Forward, both gradients and a second-order gradient: funcad's float32 error against the float64 result is at most
    2x torch's float32 error against the same reference, as a root mean square; the largest single difference (the
    harness's noise floor, which one element decides and which moves by +-50% between draws) within 3x."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))
    cot = rng.standard_normal((xs[0], ws[0], *conv.Geometry(ws[2:], (stride,) * 2, (padding,) * 4, (1, 1)).output_size(*xs[2:])))

    def funcad_all(dtype):
        f = lambda x, w: ops.sum(ops.conv2d(x, w, stride=stride, padding=padding, algorithm=name) * cot.astype(dtype))  # noqa: E731
        first = funcad.grad(f, (0, 1))
        second = funcad.grad(lambda x, w: ops.sum(first(x, w)[0] ** 2), 1)
        args = (x.astype(dtype), w.astype(dtype))
        return [ops.conv2d(*args, stride=stride, padding=padding, algorithm=name), *first(*args), second(*args)]

    def torch_all(dtype):
        xt, wt = (torch.tensor(a, dtype=dtype, requires_grad=True) for a in (x, w))
        y = F.conv2d(xt, wt, stride=stride, padding=padding)
        gx, gw = torch.autograd.grad((y * torch.tensor(cot, dtype=dtype)).sum(), (xt, wt), create_graph=True)
        (second,) = torch.autograd.grad((gx**2).sum(), wt)
        return [y, gx, gw, second]

    reference = [t.detach().numpy() for t in torch_all(torch.float64)]
    torch32 = [t.detach().numpy() for t in torch_all(torch.float32)]
    for what, ours, theirs, ref in zip(("forward", "input grad", "weight grad", "second order"), funcad_all(np.float32), torch32, reference):
        assert np.asarray(ours).dtype == np.float32
        (ours_rms, ours_max), (torch_rms, torch_max) = _errors(ours, ref), _errors(theirs, ref)
        assert ours_rms <= 2 * torch_rms, f"{name} {what}: float32 rms error {ours_rms:.3g} vs torch's {torch_rms:.3g}"
        assert ours_max <= 3 * torch_max, f"{name} {what}: float32 largest error {ours_max:.3g} vs torch's {torch_max:.3g}"


# -- selection --------------------------------------------------------------------------------------------------------------
def test_eager_default_table():
    geo = lambda k, s, p: conv.Geometry((k, k), (s, s), (p,) * 4, (1, 1))  # noqa: E731
    assert conv_algorithms.default_algorithm(geo(1, 2, 0)) == "direct"
    assert conv_algorithms.default_algorithm(geo(1, 1, 1)) == "gemm"
    assert conv_algorithms.default_algorithm(geo(3, 1, 1)) == "gemm"
    assert conv_algorithms.default_algorithm(geo(5, 2, 2)) == "gemm"
    assert conv_algorithms.default_algorithm(geo(7, 1, 3)) == "gemm"
    assert conv_algorithms.default_algorithm(geo(9, 1, 4)) == "fft"
    assert conv_algorithms.default_algorithm(geo(9, 2, 4)) == "gemm"
    assert conv_algorithms.applicable(geo(3, 1, 1)) == ["gemm", "winograd", "fft"]
    assert conv_algorithms.applicable(geo(3, 2, 1)) == ["gemm"]


def test_a_pin_that_does_not_apply_names_the_algorithm_shapes_and_reason():
    x, w = np.zeros((2, 3, 8, 8), np.float32), np.zeros((4, 3, 3, 3), np.float32)
    with pytest.raises(ValueError, match=r"conv2d: algorithm 'winograd' does not apply to input \(2, 3, 8, 8\) and weight \(4, 3, 3, 3\) "
                                         r"with stride \(2, 2\).*3x3 kernel, stride 1"):
        ops.conv2d(x, w, stride=2, padding=1, algorithm="winograd")
    with pytest.raises(ValueError, match="algorithm 'direct' does not apply.*1x1 kernel"), funcad.conv_algorithm("direct"):
        ops.conv2d(x, w)
    with pytest.raises(ValueError, match="unknown algorithm 'im2col'; known: gemm, winograd, fft, direct"):
        ops.conv2d(x, w, algorithm="im2col")
    with pytest.raises(ValueError, match="unknown algorithm"):
        funcad.jit(lambda x: x, conv_algorithm="fast")


class _Down(nn.Cell):
    def __init__(self):
        super().__init__()
        self.same = nn.Conv2d(3, 4, 3, pad_mode="pad", padding=1)
        self.down = nn.Conv2d(4, 4, 3, stride=2, pad_mode="pad", padding=1)

    def construct(self, x):
        return self.down(self.same(x))


def test_a_pinned_jit_names_the_layer_it_does_not_apply_to():
    net = _Down()
    step = funcad.jit(lambda x: ops.sum(net(x)), conv_algorithm="fft")
    with pytest.raises(ValueError, match=r"Conv2d 'down': funcad.ops.conv2d: algorithm 'fft' does not apply to input \(2, 4, 8, 8\)"):
        step(np.ones((2, 3, 8, 8), np.float32))


class _Strided1dAndTranspose(nn.Cell):
    def __init__(self):
        super().__init__()
        self.seq = nn.Conv1d(3, 4, 3, stride=2, pad_mode="pad", padding=1)
        self.up = nn.Conv2dTranspose(4, 2, 3, stride=2)

    def construct(self, x):
        return self.up(ops.expand_dims(self.seq(x), 2))


@pytest.mark.parametrize("pin", ["eager", "jit"])
def test_a_pin_that_does_not_apply_names_conv1d_and_conv2dtranspose_layers(pin):
    net = _Strided1dAndTranspose()
    x = np.ones((2, 3, 8), np.float32)
    loss = lambda x: ops.sum(net(x))  # noqa: E731
    run = funcad.jit(loss, conv_algorithm="winograd") if pin == "jit" else loss
    context = funcad.conv_algorithm("winograd") if pin == "eager" else contextlib.nullcontext()
    with pytest.raises(ValueError, match=r"Conv1d 'seq': funcad.ops.conv2d: algorithm 'winograd' does not apply to input \(2, 3, 1, 8\)"), context:
        run(x)
    with pytest.raises(ValueError, match=r"Conv2dTranspose 'up': funcad.ops.conv2d: algorithm 'direct' does not apply to input "
                                         r"\(2, 2, 2, 8\) and weight \(4, 2, 3, 3\) with stride \(2, 2\)"):
        with funcad.conv_algorithm("direct"):
            net.up(np.ones((2, 4, 1, 4), np.float32))
    default = np.asarray(net(x))
    with funcad.conv_algorithm("gemm"):  # a pin that applies passes through (gemm is these layers' default: the same bits)
        np.testing.assert_array_equal(np.asarray(net(x)), default)


def _grad_program(net, **options):
    return funcad.jit(lambda x: funcad.grad(lambda x: ops.sum(net(x) ** 2))(x), **options)


def _algorithms_in(text: str) -> list[str]:
    return [line.split("algorithm=")[1].rstrip(")").strip("'") for line in text.splitlines() if "algorithm=" in line]


def test_jit_writes_each_choice_into_the_program_and_pins_override_the_defaults():
    net = _Down()
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    eager = funcad.grad(lambda x: ops.sum(net(x) ** 2))(x)
    default = _grad_program(net)
    assert _algorithms_in(default.lower(x).as_text()) == ["gemm"] * 4  # two forwards, two input gradients
    np.testing.assert_array_equal(np.asarray(default(x)), np.asarray(eager))  # eager's defaults: the same bits
    with funcad.conv_algorithm("winograd"):
        with pytest.raises(ValueError, match="Conv2d 'down'.*'winograd' does not apply"):
            default(x)  # a pin is part of the signature: traced again, and the strided layer cannot take it
    pinned = funcad.jit(lambda x: ops.sum(net.same(x) ** 2), conv_algorithm="winograd")
    assert _algorithms_in(pinned.lower(x).as_text()) == ["winograd"]
    assert_close(pinned(x), ops.sum(net.same(x) ** 2), rtol=1e-5, atol=1e-4)


def test_benchmark_mode_times_once_per_signature_and_keeps_the_choice():
    net = _Down()
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    tuned = _grad_program(net, conv_algorithm="benchmark")
    text = tuned.lower(x).as_text()
    chosen = _algorithms_in(text)
    assert len(chosen) == 4 and chosen[0] in ("gemm", "winograd", "fft") and chosen[1] == "gemm"  # the strided layer has one candidate
    signatures = conv_algorithms.timed_choices()
    assert {("forward", ((2, 3, 8, 8), np.dtype(np.float32)))} <= {k[:2] for k in signatures}
    again = _grad_program(net, conv_algorithm="benchmark")
    assert again.lower(x).as_text() == text  # the cached choices, not a new measurement
    assert conv_algorithms.timed_choices() == signatures
    first = np.asarray(tuned(x))
    np.testing.assert_array_equal(np.asarray(tuned(x)), first)
    assert_close(first, funcad.grad(lambda x: ops.sum(net(x) ** 2))(x), rtol=1e-4, atol=1e-4)


def test_benchmark_mode_eagerly_runs_the_cached_choice():
    x, w = RNG.standard_normal((2, 5, 9, 9)).astype(np.float32), RNG.standard_normal((4, 5, 3, 3)).astype(np.float32)
    with funcad.conv_algorithm("benchmark"):
        y = ops.conv2d(x, w, padding=1)
        signatures = conv_algorithms.timed_choices()
        chosen = [a for k, a in signatures.items() if k[:3] == ("forward", (x.shape, x.dtype), (w.shape, w.dtype))]
        assert len(chosen) == 1
        np.testing.assert_array_equal(np.asarray(ops.conv2d(x, w, padding=1)), np.asarray(y))
        assert conv_algorithms.timed_choices() == signatures
    np.testing.assert_array_equal(np.asarray(y), np.asarray(ops.conv2d(x, w, padding=1, algorithm=chosen[0])))


def test_a_pin_holds_in_its_own_thread_only():
    x, w = RNG.standard_normal((2, 3, 8, 8)), RNG.standard_normal((4, 3, 3, 3))
    seen = {}

    def pinned_elsewhere():
        with funcad.conv_algorithm("winograd"):
            seen["winograd"] = np.asarray(ops.conv2d(x, w, padding=1))

    with funcad.conv_algorithm("fft"):
        worker = threading.Thread(target=pinned_elsewhere)
        worker.start()
        worker.join()
        fft = np.asarray(ops.conv2d(x, w, padding=1))
    np.testing.assert_array_equal(seen["winograd"], np.asarray(ops.conv2d(x, w, padding=1, algorithm="winograd")))
    np.testing.assert_array_equal(fft, np.asarray(ops.conv2d(x, w, padding=1, algorithm="fft")))
    assert_close(fft, _torch_conv(torch.from_numpy(x), torch.from_numpy(w), 1, (1, 1, 1, 1), 1, 1).numpy())


class _Stepper(nn.Cell):
    def __init__(self):
        super().__init__()
        self.same = nn.Conv2d(3, 4, 3, pad_mode="pad", padding=1)

    @funcad.jit(conv_algorithm="winograd", jit_level="O1")
    def loss(self, x):
        return ops.sum(self.same(x) ** 2)


def test_a_jitted_method_keeps_its_pin_beside_mindspore_options():
    stepper = _Stepper()
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    assert _algorithms_in(stepper.loss.lower(x).as_text()) == ["winograd"]
    assert_close(stepper.loss(x), ops.sum(stepper.same(x) ** 2), rtol=1e-5, atol=1e-4)


def test_a_user_primitive_s_tune_fixes_keyword_arguments_per_signature():
    """``tune(node)`` reads the traced shapes; its choice is an ordinary keyword argument of the program."""

    @primitive(**compiled_as_call(tune=lambda node: {"factor": float(node.args[0].shape[0])}))
    def _scaled(x, factor=1.0):
        return x * factor

    _scaled.deflinear(lambda g, ans, x, factor=1.0: _scaled(g, factor=factor))
    step = funcad.jit(lambda x: funcad.grad(lambda x: ops.sum(_scaled(x) ** 2))(x))
    x = np.arange(3.0)
    assert step.lower(x).as_text().count("factor=3.0") == 2  # the forward and its VJP
    np.testing.assert_array_equal(np.asarray(step(x)), 2 * 9.0 * x)  # d/dx sum((3x)^2) = 18x
    np.testing.assert_array_equal(np.asarray(step(np.arange(4.0))), 2 * 16.0 * np.arange(4.0))
