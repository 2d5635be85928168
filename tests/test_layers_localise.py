"""Per-layer comparison: faults planted in one layer of each kind are found in that layer alone, in isolated mode,
forward and backward; unplanted runs stay within tolerance; capture matches torch autograd on its own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.cases import CASES
from harness.faults import Fault
from harness.layers.compare import compare_layers

# case -> layers planted together in one run (one per layer kind); isolated mode keeps them from disturbing each other
PLANTS = {
    "lenet": ["conv1", "relu#2", "max_pool2d", "flatten", "fc2"],
    "mlp_bn": ["layers.0", "layers.1", "layers.2"],
    "lstm": ["embedding", "lstm", "fc"],  # lstm: element 2 also hits the final state h[2] the head reads (h[0] gets no gradient)
    "transformer": ["embedding", "encoder.layers.0.self_attn", "encoder.layers.0.norm1", "encoder.layers.1.dense1",
                    "encoder.layers.0.dropout2"],
}


def _faults(side: str, kind: str, layers: list[str]) -> tuple[Fault, ...]:
    # a call number (relu#2) is the layer's path; its fault hits each call, and only the named call is checked
    return tuple(Fault(side, kind, name.split("#")[0], (2 if name == "lstm" else 0,), 0, 0.5) for name in layers)


@pytest.mark.parametrize("case", PLANTS)
@pytest.mark.parametrize("side, kind", [("funcad", "output"), ("torch", "outgrad")])
def test_planted_layer_faults_are_localised_in_isolated_mode(case, side, kind):
    planted = PLANTS[case]
    comparison = compare_layers(CASES[case], CASES[case].batches(1, 0), faults=_faults(side, kind, planted))
    table = comparison.table.set_index("layer")
    column = "isolated_forward" if kind == "output" else ["isolated_output_grad", "isolated_param_grads"]
    flagged = (table[column] > 1) if kind == "output" else (table[column] > 1).any(axis=1)
    same_path = [name for name in table.index if name.split("#")[0] in {p.split("#")[0] for p in planted}]
    assert set(planted) <= set(flagged[flagged].index), table
    assert set(flagged[flagged].index) <= set(same_path), table  # no other layer is blamed
    if kind == "output":  # backward stays clean: each layer differentiates at torch's input with torch's output gradient
        assert not ((table[["isolated_output_grad", "isolated_param_grads"]] > 1).any(axis=1)).any(), table
    first, where = comparison.first_fault()
    assert where == ("forward" if kind == "output" else "backward")
    order = list(table.index)
    expected = min(same_path, key=order.index) if kind == "output" else max(same_path, key=order.index)
    assert first == expected


@pytest.mark.parametrize("case", ["lenet", "mlp_bn", "lstm", "transformer"])
def test_unplanted_layers_are_within_tolerance(case):
    comparison = compare_layers(CASES[case], CASES[case].batches(2, 0), step=1)
    isolated = comparison.table[["isolated_forward", "isolated_output_grad", "isolated_param_grads"]]
    assert (isolated.fillna(0) <= 1).all().all(), comparison.table
    assert comparison.first_fault() is None


def test_captured_output_gradients_equal_torch_autograd_in_float64():
    """The probe gradients of the funcad capture are the gradients of the loss with respect to each layer's output,
    here checked against torch's retain_grad on the twin in float64."""
    case = CASES["mlp_bn"]
    x, y = case.batches(1, 0)[0]
    from harness.layers.capture import FuncadLayers, without_dropout

    pair = case.build("float64", 0)
    net, module = without_dropout(pair.funcad.net, pair.torch.trainer.model)
    side = FuncadLayers(net, ["layers.0", "layers.1"])
    side.capture(lambda a, b: pair.funcad.loss_fn(net(a), b), *pair.funcad.prepare(x, y))
    h0 = module.layers[0](module.flatten(torch.from_numpy(x.astype(np.float64))))
    h0.retain_grad()
    h1 = module.layers[1](h0)
    h1.retain_grad()
    loss = torch.nn.functional.cross_entropy(module.layers[3](module.layers[2](h1)), torch.from_numpy(y).long())
    loss.backward()
    np.testing.assert_allclose(side.records[("layers.0", 1)].output_grads[0], h0.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(side.records[("layers.1", 1)].output_grads[0], h1.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_a_fault_in_no_layer_is_named():
    with pytest.raises(ValueError, match="no layer 'fc9'.*fc1"):
        compare_layers(CASES["lenet"], CASES["lenet"].batches(1, 0), faults=(Fault("funcad", "output", "fc9", (0,), 0, 1.0),))


def test_cli_layers_names_the_planted_layer_in_console_report_and_metrics(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "r"
    done = subprocess.run([sys.executable, "-m", "harness", "run", "mlp_bn", "--steps", "2", "--dtype", "float32", "--no-timing",
                           "--layers", "--at-step", "1", "--plant", "torch:outgrad:layers.0:0:1:2.0", "--out", str(out)],
                          capture_output=True, text=True, cwd=tmp_path, env=os.environ | {"PYTHONPATH": str(root)}, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "mlp_bn layers at step 1 (float32): first layer beyond tolerance in isolation: layers.0 (Dense), backward" in done.stdout
    md = (out / "report.md").read_text()
    assert "### Layers at step 1 (float32): first layer beyond tolerance in isolation: layers.0 (Dense), backward" in md
    rows = json.loads((out / "metrics.json").read_text())["metrics"]
    cols = rows["columns"]
    layer_rows = [dict(zip(cols, r)) for r in rows["rows"] if dict(zip(cols, r))["section"] == "layer"]
    assert {"item": "", "metric": "first_fault", "text": "layers.0 backward"}.items() <= next(
        r for r in layer_rows if r["metric"] == "first_fault").items()
    assert any(r["item"] == "layers.0" and r["metric"] == "isolated_param_grads" and r["value"] > 1 for r in layer_rows)
    assert "layer errors" in (out / "report.html").read_text()


def test_layers_by_depth_and_by_path():
    case = CASES["transformer"]
    batches = case.batches(1, 0)
    assert list(compare_layers(case, batches, select="depth=1").table["layer"]) == ["embedding", "encoder", "fc"]
    # encoder.layers is a CellList, never called itself: depth 3 holds the encoder layers
    assert list(compare_layers(case, batches, select="depth=3").table["layer"]) == ["embedding", "encoder.layers.0", "encoder.layers.1", "fc"]
    chosen = compare_layers(case, batches, select=["encoder.layers.1", "fc"])
    assert list(chosen.table["layer"]) == ["encoder.layers.1", "fc"]
    with pytest.raises(ValueError, match="no layer encoder.nope"):
        compare_layers(case, batches, select=["encoder.nope"])


def test_compare_a_user_cell_layer_by_layer():
    import harness
    from funcad import nn

    class Block(nn.Cell):
        def __init__(self):
            super().__init__()
            self.body = nn.SequentialCell(nn.Dense(6, 8), nn.Tanh())
            self.head = nn.Dense(8, 3)

        def construct(self, x):
            return self.head(self.body(x))

    rng = np.random.default_rng(0)
    data = [(rng.normal(size=(5, 6)).astype(np.float32), rng.integers(0, 3, 5)) for _ in range(2)]
    result = harness.compare(Block(), data=data, steps=2, dtype="float32", timing=False, layers=True, at_step=1)
    assert list(result.layers.table["layer"]) == ["body.0", "body.1", "head"]
    assert result.layers.first_fault() is None


def test_a_model_without_layers_says_so():
    comparison = compare_layers(CASES["tutorial"], CASES["tutorial"].batches(1, 0))
    assert comparison.table.empty and comparison.first_fault() is None
    assert comparison.verdict() == "no layer runs on both sides (the model computes in its own construct)"
