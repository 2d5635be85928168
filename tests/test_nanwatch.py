"""The first NaN is located to its op, layer and source line on both sides, forward and backward."""

from __future__ import annotations

import inspect

import numpy as np
import torch

import funcad
from funcad import Tensor, nn, ops
from harness.nanwatch import locate_funcad, locate_torch
from torch_ref.mirror import mirror_twin


class LogHead(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 2)
        self.out = nn.Dense(2, 2)

    def construct(self, x):
        h = self.fc(x)
        return self.out(ops.log(h))  # negative h: NaN


class SqrtAtZero(nn.Cell):
    """Finite forward (sqrt(0) = 0), infinite derivative at 0: the NaN/Inf appears in the backward."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 2)

    def construct(self, x):
        return ops.sqrt(self.fc(x) * 0.0)


def _line_of(cls, text: str) -> int:
    lines, start = inspect.getsourcelines(cls)
    return start + next(i for i, line in enumerate(lines) if text in line)


def _funcad(net, x, y):
    loss_fn = nn.CrossEntropyLoss()
    forward = lambda a, b: loss_fn(net(a), b)  # noqa: E731
    grad = funcad.value_and_grad(forward, None, net.trainable_params())
    return locate_funcad(net, forward, grad, Tensor(x), Tensor(y))


def test_a_planted_nan_is_located_to_its_primitive_layer_and_line_forward():
    funcad.set_seed(0)
    net = LogHead()
    x, y = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32), np.array([0, 1, 0, 1])
    found = _funcad(net, x, y)
    # the root Cell's own construct calls log
    assert found["phase"] == "forward" and found["op"] == "funcad.ops primitive log" and found["layer"] == "(root)"
    assert found["source"].endswith(f"test_nanwatch.py:{_line_of(LogHead, 'ops.log(h)')}: return self.out(ops.log(h))  # negative h: NaN")
    assert "float32[4, 2] [" in found["inputs"]
    twin = mirror_twin(net)
    seen = locate_torch(twin.module, torch.nn.CrossEntropyLoss(), torch.from_numpy(x), torch.from_numpy(y))
    assert seen["phase"] == "forward" and seen["op"] == "torch.log" and seen["inputs"].startswith("float32[4, 2] ["), seen


def test_a_backward_inf_is_located_in_the_backward():
    funcad.set_seed(0)
    net = SqrtAtZero()
    x, y = np.ones((4, 3), np.float32), np.array([0, 1, 0, 1])
    found = _funcad(net, x, y)
    assert found["phase"] == "backward" and found["op"] == "funcad.ops primitive divide", found  # sqrt's VJP: g / (2 sqrt(x))
    assert found["layer"] == "-" and found["inputs"] == "float32[4, 2] [-0.0625, 0.0625]; float32[4, 2] [0, 0]"
    twin = mirror_twin(net)
    seen = locate_torch(twin.module, torch.nn.CrossEntropyLoss(), torch.from_numpy(x), torch.from_numpy(y))
    # torch's anomaly mode checks for NaN only: the Inf from sqrt's backward turns NaN in the product's backward (inf * 0)
    assert seen["phase"] == "backward" and seen["op"] == "Function 'MulBackward0' returned nan values in its 0th output.", seen


def test_a_run_reports_where_its_first_nan_came_from(tmp_path):
    import harness

    funcad.set_seed(0)
    data = [(np.random.default_rng(i).normal(size=(4, 3)).astype(np.float32), np.array([0, 1, 0, 1])) for i in range(2)]
    result = harness.compare(LogHead(), data=data, steps=2, dtype="float32", timing=False)
    origin = result.result.nonfinite_origin.set_index("side")
    assert list(origin.index) == ["funcad", "torch"]
    assert (origin["step"] == 0).all() and (origin["phase"] == "forward").all()
    assert origin.loc["funcad", "op"] == "funcad.ops primitive log" and "ops.log(h)" in origin.loc["funcad", "source"]
    assert origin.loc["torch", "op"] == "torch.log"
    md = (result.write_report(tmp_path / "r") / "report.md").read_text()
    assert "Where the first one came from" in md and "funcad.ops primitive log" in md


def test_a_parameter_already_non_finite_is_named():
    import harness

    funcad.set_seed(0)
    net = nn.Dense(3, 2)
    net.weight.set_data(np.full((2, 3), np.inf, np.float32))
    data = [(np.ones((4, 3), np.float32), np.array([0, 1, 0, 1]))]
    origin = harness.compare(net, data=data, steps=1, dtype="float32", timing=False).result.nonfinite_origin
    assert set(origin["op"]) == {"weight was already non-finite"} and set(origin["side"]) == {"funcad", "torch"}


class LogInput(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(3, 2)

    def construct(self, x):
        return self.fc(ops.log(x))  # a negative input: NaN


def _training(net):
    loss_fn = nn.CrossEntropyLoss()
    optimizer = nn.Adam(net.trainable_params(), 1e-2)
    forward = lambda a, b: loss_fn(net(a), b)  # noqa: E731
    grad = funcad.value_and_grad(forward, None, optimizer.parameters)

    def train_step(a, b):
        loss, grads = grad(a, b)
        optimizer(grads)
        return loss

    return train_step, forward, grad


def test_a_compiled_step_is_checked_at_its_end_and_its_first_nan_located_by_an_eager_rerun():
    from harness.nanwatch import CompiledWatch

    rng = np.random.default_rng(0)
    batches = [(Tensor(np.abs(rng.normal(size=(4, 3))).astype(np.float32)), Tensor(np.array([0, 1, 0, 1]))) for _ in range(2)]
    batches.append((Tensor(-np.ones((4, 3), np.float32)), Tensor(np.array([0, 1, 0, 1]))))
    nets = []
    for _ in range(2):
        funcad.set_seed(0)
        nets.append(LogInput())
    step, forward, grad = _training(nets[0])
    watched = CompiledWatch(step, nets[0], forward, grad)
    plain = funcad.jit(_training(nets[1])[0])
    with np.errstate(all="ignore"):
        for x, y in batches:
            assert np.array_equal(np.asarray(watched(x, y)), np.asarray(plain(x, y)), equal_nan=True)
    origin = watched.origin
    assert origin["step"] == 2 and origin["phase"] == "forward" and origin["op"] == "funcad.ops primitive log", origin
    assert origin["source"].endswith(f"test_nanwatch.py:{_line_of(LogInput, 'ops.log(x)')}: return self.fc(ops.log(x))  # a negative input: NaN")
    assert origin["inputs"] == "float32[4, 3] [-1, -1]"
    # the state after the watched run is the one an unwatched compiled run leaves
    for (name, p), q in zip(nets[0].parameters_and_names(), nets[1].get_parameters()):
        assert np.array_equal(np.asarray(p), np.asarray(q), equal_nan=True), name
