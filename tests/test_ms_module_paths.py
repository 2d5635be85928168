"""MindSpore code written against its older module paths (``ops.operations as P``, ``ops.functional as F``,
``ops.composite as C``, ``train.serialization``, ``nn.dynamic_lr`` ...) runs with ``mindspore`` replaced by ``funcad``."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import funcad
from funcad import nn
from funcad.module_paths import ALIASES
from funcad.ops import composite as C
from funcad.ops import functional as F
from funcad.ops import operations as P

RNG = np.random.default_rng(5)

_apply_decay = C.MultitypeFuncGraph("apply_decay")


@_apply_decay.register("Number", "Bool", "Tensor", "Tensor")
def _tensor_apply_decay(weight_decay, if_apply, weight, gradient):
    """As MindSpore's model zoo writes weight decay: only for the weights flagged."""
    if if_apply:
        return gradient + weight * weight_decay
    return gradient


class _Regression(nn.Cell):
    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(3, 2, weight_init="normal", bias_init="zeros", dtype=funcad.float64)
        self.mean = P.ReduceMean(keep_dims=False)
        self.square = P.Square()

    def construct(self, x, y):
        return self.mean(self.square(self.dense(x) - y))


def test_a_model_zoo_style_gradient_step_equals_the_closed_form():
    net = _Regression()
    weights = funcad.ParameterTuple(net.trainable_params())
    x, y = RNG.standard_normal((8, 3)), RNG.standard_normal((8, 2))
    grad_fn = C.GradOperation(get_by_list=True)(net, weights)
    hyper_map = C.HyperMap()
    grads = hyper_map(F.partial(_apply_decay, 0.1), (True, False), tuple(weights), grad_fn(x, y))

    w, b = (np.asarray(p) for p in weights)
    residual = x @ w.T + b - y
    expected_w = 2.0 / residual.size * residual.T @ x + 0.1 * w
    expected_b = 2.0 / residual.size * residual.sum(axis=0)
    np.testing.assert_allclose(np.asarray(grads[0]), expected_w, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grads[1]), expected_b, rtol=1e-12, atol=1e-15)


def test_operations_and_functional_hold_funcad_ops_classes_and_functions():
    x = RNG.standard_normal((2, 3))
    assert P.ReLU is funcad.ops.ReLU and P.Conv2D is funcad.ops.Conv2D and P.GradOperation is funcad.ops.GradOperation
    np.testing.assert_array_equal(np.asarray(P.Reshape()(x, (3, 2))), x.reshape(3, 2))
    np.testing.assert_array_equal(np.asarray(P.Partial()(F.add, x)(1.0)), x + 1.0)
    assert F.reshape is funcad.ops.reshape and F.cast is funcad.ops.cast and F.stop_gradient is funcad.ops.stop_gradient
    assert not any(name[:1].isupper() for name in vars(F) if not name.startswith("_"))


def test_map_and_hyper_map_go_through_sequences_in_step():
    pairs = ((1.0, (2.0, 3.0)), (10.0, (20.0, 30.0)))
    assert C.HyperMap(F.add)(*pairs) == (11.0, (22.0, 33.0))
    assert C.Map()(lambda a, b: (a, b), (1, 2), ("x", "y")) == ((1, "x"), (2, "y"))
    with pytest.raises(ValueError, match=r"HyperMap: arguments must all be sequences of one length, got \[2, 3\]"):
        C.HyperMap()(F.add, (1.0, 2.0), (1.0, 2.0, 3.0))


def test_multitype_func_graph_dispatches_on_kinds_and_names_what_it_lacks():
    scale = C.MultitypeFuncGraph("scale")
    scale.register("Number", "Tensor")(lambda s, t: t * s)
    scale.register("Tensor", "Tensor")(lambda s, t: t + s)
    np.testing.assert_array_equal(np.asarray(scale(2.0, funcad.Tensor([1.0, 2.0]))), [2.0, 4.0])
    np.testing.assert_array_equal(np.asarray(scale(np.ones(2), funcad.Tensor([1.0, 2.0]))), [2.0, 3.0])
    with pytest.raises(TypeError, match=r"MultitypeFuncGraph 'scale': no implementation for arguments of kinds \(String, Tensor\)"):
        scale("a", funcad.Tensor([1.0]))


@pytest.mark.parametrize("alias, target", ALIASES.items())
def test_every_older_module_path_imports_the_module_holding_its_names(alias, target):
    assert importlib.import_module(alias) is importlib.import_module(target)
    parent, _, child = alias.rpartition(".")
    assert getattr(importlib.import_module(parent), child) is importlib.import_module(target)


def test_checkpoint_round_trip_through_the_serialization_path(tmp_path):
    from funcad.train.serialization import load_checkpoint, load_param_into_net, save_checkpoint

    net, other = _Regression(), _Regression()
    save_checkpoint(net, str(tmp_path / "net.ckpt"))
    load_param_into_net(other, load_checkpoint(str(tmp_path / "net.ckpt")))
    for a, b in zip(net.trainable_params(), other.trainable_params()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_jit_markers_leave_programs_unchanged():
    @funcad.jit_class
    class Scale:
        def __init__(self, factor):
            self.factor = factor

    scale = Scale(3.0)
    step = funcad.ms_function(lambda x, offset: x * scale.factor + offset)
    x = RNG.standard_normal(4)
    np.testing.assert_array_equal(np.asarray(step(x, funcad.mutable(funcad.Tensor(1.0, funcad.float64)))), x * 3.0 + 1.0)
    assert funcad.numpy.sum is importlib.import_module("funcad.numpy").sum


def test_the_checkpoint_callback_imports_from_the_older_callback_module():
    from funcad.train import checkpoint
    from funcad.train.callback import CheckpointConfig, LossMonitor, ModelCheckpoint

    assert ModelCheckpoint is checkpoint.ModelCheckpoint and CheckpointConfig is checkpoint.CheckpointConfig
    assert LossMonitor.__module__ == "funcad.train.callback"
    with pytest.raises(ImportError, match="cannot import name 'NoSuchCallback'"):
        from funcad.train.callback import NoSuchCallback  # noqa: F401
