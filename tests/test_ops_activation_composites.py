"""MindSpore's composite activations with options (softmin, glu, prelu, threshold) against torch in float64, their
float32 values bit for bit where torch computes them the same way, and their errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from funcad import ops

TF = torch.nn.functional
RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 4, 2))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmin_and_glu_along_each_axis(assert_op_matches_torch, axis):
    assert_op_matches_torch(lambda x: ops.softmin(x, axis), lambda x: TF.softmin(x, axis), [X])
    even = RNG.standard_normal((4, 2, 6))
    assert_op_matches_torch(lambda x: ops.glu(x, axis), lambda x: TF.glu(x, axis), [even])


@pytest.mark.parametrize("shape, slopes", [((3, 4, 2), 4), ((3, 4, 2), 1), ((5, 4), 4), ((5,), 1)])
def test_prelu_per_channel_and_shared(assert_op_matches_torch, shape, slopes):
    x = RNG.standard_normal(shape)
    w = RNG.uniform(-0.5, 0.5, slopes)
    assert_op_matches_torch(ops.prelu, TF.prelu, [x, w])


def test_threshold_takes_value_at_and_below_it(assert_op_close_to_torch):
    x = np.array([-1.0, 0.5, 0.5000001, 2.0])
    assert_op_close_to_torch(lambda v: ops.threshold(v, 0.5, 7.0), lambda v: TF.threshold(v, 0.5, 7.0), [x])


@pytest.mark.parametrize("name, torch_fn", [("hardswish", TF.hardswish), ("hardsigmoid", TF.hardsigmoid), ("relu6", TF.relu6),
                                            ("selu", TF.selu), ("softsign", TF.softsign), ("mish", TF.mish)])
def test_float32_values_follow_torch(name, torch_fn):
    x = (RNG.standard_normal(1000) * 5).astype(np.float32)
    out = np.asarray(getattr(ops, name)(x))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, torch_fn(torch.from_numpy(x)).numpy(), rtol=2e-6, atol=1e-6)


def test_bad_input_names_the_op_and_the_values():
    with pytest.raises(ValueError, match=r"glu: axis -1 of shape \(2, 3\) has odd size 3"):
        ops.glu(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"prelu: weight of shape \(3,\) does not fit input of shape \(2, 4\)"):
        ops.prelu(np.ones((2, 4)), np.ones(3))
    with pytest.raises(ValueError, match="hardtanh: min_val 2 is above max_val 1"):
        ops.hardtanh(np.ones(2), 2, 1)
    with pytest.raises(ValueError, match="softshrink: lambd must be >= 0"):
        ops.softshrink(np.ones(2), -0.1)
    with pytest.raises(ValueError, match="celu: alpha must not be 0"):
        ops.celu(np.ones(2), 0.0)
