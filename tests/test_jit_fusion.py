"""Epilogue fusion in funcad.jit: bias, inference BatchNorm, ReLU and residual adds folded into the convolution's output
pass (and ReLU's VJP and residual gradients into the input gradient's), bit for bit what eager mode and the unfused
program compute, and checked against torch in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import funcad
from funcad import nn, ops
from funcad.jit.passes import PASSES
from funcad.ops import conv

RNG = np.random.default_rng(18)
UNFUSED = tuple(p for p in PASSES if p != "fuse")


class _Residual(nn.Cell):
    """conv (+ bias) -> BatchNorm -> + x -> ReLU, the block the fusion is for."""

    def __init__(self, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, stride=stride, pad_mode="pad", padding=1, has_bias=True)
        self.bn = nn.BatchNorm2d(4)
        self.bn.moving_mean.set_data(RNG.standard_normal(4).astype(np.float32))
        self.bn.moving_variance.set_data(RNG.uniform(0.5, 2.0, 4).astype(np.float32))
        self.stride = stride

    def construct(self, x):
        y = self.bn(self.conv(x))
        return ops.relu(y + (x if self.stride == 1 else x[:, :, ::2, ::2]))


def _fused_lines(program, *args) -> list[str]:
    return [line.strip() for line in program.lower(*args).as_text().splitlines() if "_fused(" in line]


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of one or two samples, so a residual operand is cut block by block."""
    monkeypatch.setattr(conv, "BLOCK_BYTES", 1 << 12)


@pytest.mark.parametrize("algorithm", [None, "winograd", "fft"])
def test_inference_block_is_one_fused_node_with_eagers_bits(algorithm, small_blocks):
    net = _Residual()
    net.set_train(False)
    x = RNG.standard_normal((5, 4, 8, 8)).astype(np.float32)
    fused = funcad.jit(lambda x: net(x), conv_algorithm=algorithm)
    unfused = funcad.jit(lambda x: net(x), passes=UNFUSED, conv_algorithm=algorithm)
    lines = _fused_lines(fused, x)
    assert len(lines) == 1 and "steps=(add(y, _), subtract(y, _), multiply(y, _), multiply(y, _), add(y, _), add(y, _), relu)" in lines[0]
    assert not _fused_lines(unfused, x)
    with funcad.conv_algorithm(algorithm):
        eager = np.asarray(net(x))
    np.testing.assert_array_equal(np.asarray(fused(x)), eager)
    np.testing.assert_array_equal(np.asarray(unfused(x)), eager)


def test_fused_inference_block_matches_torch_in_float64(small_blocks):
    net = _Residual(stride=2)
    net.set_train(False)
    x = RNG.standard_normal((3, 4, 8, 8))
    w, b = (np.asarray(p.asnumpy(), np.float64) for p in (net.conv.weight, net.conv.bias))
    mean, var = (np.asarray(p.asnumpy(), np.float64) for p in (net.bn.moving_mean, net.bn.moving_variance))
    gamma, beta = (np.asarray(p.asnumpy(), np.float64) for p in (net.bn.gamma, net.bn.beta))
    t = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=2, padding=1)
    t = F.batch_norm(t, torch.from_numpy(mean), torch.from_numpy(var), torch.from_numpy(gamma), torch.from_numpy(beta), False, 0.0, 1e-5)
    expected = torch.relu(t + torch.from_numpy(x)[:, :, ::2, ::2]).numpy()
    fused = funcad.jit(lambda x: net(x))
    assert len(_fused_lines(fused, x)) == 1
    np.testing.assert_allclose(np.asarray(fused(x)), expected, rtol=1e-5, atol=1e-5)  # float32 parameters, float64 input


@pytest.mark.parametrize("algorithm, stride", [(None, 1), ("winograd", 1), ("fft", 1), (None, 2)])
def test_training_gradients_of_every_kernel_path_keep_eagers_bits(algorithm, stride, small_blocks):
    """Blocked (gemm, stride 1) and whole-output (Winograd, FFT, strided col2im) input gradients take the steps alike."""
    net = _Residual(stride)
    net.set_train(True)
    x = RNG.standard_normal((3, 4, 8, 8)).astype(np.float32)
    grads = funcad.grad(lambda x: ops.sum(net(x) ** 2) + ops.sum(net(x * 0.5)))
    fused = funcad.jit(grads, conv_algorithm=algorithm)
    assert any("conv_input_grad_fused(" in line for line in _fused_lines(fused, x))
    with funcad.conv_algorithm(algorithm):
        eager = np.asarray(grads(x))
    np.testing.assert_array_equal(np.asarray(fused(x)), eager)
    np.testing.assert_array_equal(np.asarray(funcad.jit(grads, passes=UNFUSED, conv_algorithm=algorithm)(x)), eager)


def test_training_gradients_fuse_relu_vjp_and_residual_into_input_gradients(small_blocks):
    net = _Residual()
    net.set_train(True)  # batch statistics: nothing of BatchNorm folds into the forward convolution
    x = RNG.standard_normal((5, 4, 8, 8)).astype(np.float32)

    def loss(x):
        return ops.sum(net(net(x)) ** 2)

    grads = funcad.grad(loss)
    fused, unfused = funcad.jit(grads), funcad.jit(grads, passes=UNFUSED)
    lines = _fused_lines(fused, x)
    assert any(line.split("=")[1].strip().startswith("conv_input_grad_fused") and "relu_grad(y, _)" in line for line in lines)
    eager = np.asarray(grads(x))
    np.testing.assert_array_equal(np.asarray(fused(x)), eager)
    np.testing.assert_array_equal(np.asarray(unfused(x)), eager)
    xt = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    w, b = (torch.from_numpy(np.asarray(p.asnumpy(), np.float64)) for p in (net.conv.weight, net.conv.bias))
    gamma, beta = (torch.from_numpy(np.asarray(p.asnumpy(), np.float64)) for p in (net.bn.gamma, net.bn.beta))

    def block(z):
        y = F.batch_norm(F.conv2d(z, w, b, padding=1), None, None, gamma, beta, True, 0.0, 1e-5)
        return torch.relu(y + z)

    (block(block(xt)) ** 2).sum().backward()
    np.testing.assert_allclose(np.asarray(fused(x)), xt.grad.numpy(), rtol=2e-4, atol=2e-4)


def test_a_value_used_elsewhere_ends_the_chain():
    x = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)

    def both(x):
        y = ops.conv2d(x, w, padding=1)
        return ops.relu(y), y * 2.0  # y has two uses: neither is folded in

    def chained(x):
        y = ops.relu(ops.conv2d(x, w, padding=1))
        return ops.sum(y, axis=(2, 3)) + 0.5, y  # relu's output leaves the program; the sum is no elementwise step

    assert not _fused_lines(funcad.jit(both), x)
    lines = _fused_lines(funcad.jit(chained), x)
    assert len(lines) == 1 and "steps=(relu,)" in lines[0]
    for fn in (both, chained):
        for got, want in zip(funcad.jit(fn)(x), fn(x)):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_a_step_that_broadcasts_or_casts_the_value_is_not_folded():
    x = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w, w2 = (RNG.standard_normal((4, 3, 1, 1)).astype(np.float32) for _ in range(2))
    wider = RNG.standard_normal((3, 2, 4, 6, 6)).astype(np.float32)

    def fn(x):
        y = ops.conv2d(x, w)
        return (y + wider) * 2.0, ops.cast(ops.conv2d(x, w2) * 3.0, funcad.float64)

    program = funcad.jit(fn)
    lines = _fused_lines(program, x)
    assert len(lines) == 1 and "steps=(multiply(y, _),)" in lines[0]  # the float32 product before the cast
    for got, want in zip(program(x), fn(x)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
