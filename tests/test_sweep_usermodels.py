"""User models in sweeps: ``[[model]]`` entries of a grid file run as ``funcad-compare run --model`` runs them, and bad
entries stop the sweep with exit 2 naming the entry and the key."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from test_harness_usermodel import USER_MODULE  # the models of the run --model tests

from harness import cli
from harness.sweep.grid import Grid
from harness.sweep.store import SweepStore

GRID = textwrap.dedent('''
    dtypes = ["float32", "float64"]
    seeds = "0-1"
    steps = 2

    [[model]]
    name = "gated"
    factory = "user_models:make_net"
    input_shape = [8, 6]
    optimizer = "adam"
    lr = 1e-3

    [[model]]
    name = "torchnet"
    factory = "user_models:make_torch"
    from = "torch"
    input_shape = "8,6"
    loss = "mse"
    optimizer = "momentum"
''')
#: the ``run`` flags each entry above stands for
RUN_FLAGS = {"gated": ["--model", "user_models:make_net", "--input-shape", "8,6", "--optimizer", "adam", "--lr", "1e-3"],
             "torchnet": ["--model", "user_models:make_torch", "--from", "torch", "--input-shape", "8,6", "--loss", "mse", "--optimizer", "momentum"]}
COMPARED = ["worst_grad_tol_ratio", "worst_grad_max_abs", "forward_max_abs", "loss_max_rel_div", "final_param_max_abs"]


@pytest.fixture(autouse=True)
def _user_package(tmp_path, monkeypatch):
    (tmp_path / "user_models.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)


def _run_summary(folder: str, dtype: str) -> dict:
    """The summary of ``dtype`` in the metrics.csv ``funcad-compare run`` wrote (long form: one metric a row)."""
    table = pd.read_csv(Path(folder) / "metrics.csv")
    rows = table[(table["section"] == "summary") & (table["dtype"] == dtype)]
    return {row.metric: row.text if isinstance(row.text, str) else row.value for row in rows.itertuples()}


def _losses(folder: str):
    """Both engines' losses by step from the metrics.csv of a report folder."""
    rows = pd.read_csv(Path(folder) / "metrics.csv")
    return rows[(rows["section"] == "loss") & rows["metric"].isin(["funcad_loss", "torch_loss"])].sort_values(["step", "metric"])["value"].to_numpy()


def test_each_user_model_point_equals_a_direct_run_of_that_model(capsys):
    Path("grid.toml").write_text(GRID)
    assert cli.main(["sweep", "--grid", "grid.toml", "--executor", "serial", "--out", "s"]) == 0
    points = pd.read_csv("s/metrics.csv").set_index("key")
    assert len(points) == 8 and set(points["case"]) == {"gated", "torchnet"}
    for name, flags in RUN_FLAGS.items():
        for dtype in ("float32", "float64"):
            for seed in (0, 1):
                out = f"run-{name}-{dtype}-{seed}"
                run_dtype = "both" if dtype == "float32" else "float64"  # a float32 point carries its float64 truth, as run does
                assert cli.main(["run", *flags, "--seed", str(seed), "--steps", "2", "--dtype", run_dtype, "--no-timing", "--out", out]) == 0
                direct, point = _run_summary(out, dtype), points.loc[f"{name}-{dtype}-bsdefault-lrdefault-seed{seed}"]
                assert point["status"] == direct["verdict"] and point["worst_grad_param"] == direct["worst_grad_param"]
                for metric in COMPARED:
                    assert point[metric] == pytest.approx(float(direct[metric]), rel=1e-8, abs=1e-300), (name, dtype, seed, metric)
    saved = json.loads(Path("s/points/torchnet-float32-bsdefault-lrdefault-seed1/report/metrics.json").read_text())
    assert saved["summary"][0]["case"] == "torchnet" and saved["run"]["options"]["seed"] == 1


def test_the_lr_axis_overrides_an_entrys_learning_rate():
    """lr 1e-3 on the axis gives the losses of ``run --lr 1e-3`` exactly; lr 0.5 starts the same and then trains apart."""
    gated = GRID.split("[[model]]")[1].replace("lr = 1e-3\n", "")
    Path("grid.toml").write_text(f"lr = [1e-3, 0.5]\nsteps = 2\n[[model]]{gated}")
    assert cli.main(["sweep", "--grid", "grid.toml", "--executor", "serial", "--seeds", "0", "--dtypes", "float64", "--out", "s"]) == 0
    assert cli.main(["run", *RUN_FLAGS["gated"], "--steps", "2", "--dtype", "float64", "--no-timing", "--out", "direct"]) == 0
    direct = _losses("direct")
    assert (_losses("s/points/gated-float64-bsdefault-lr0.001-seed0/report") == direct).all()
    fast = _losses("s/points/gated-float64-bsdefault-lr0.5-seed0/report")
    assert (fast[:2] == direct[:2]).all() and not (fast[2:] == direct[2:]).any()  # same start (funcad, torch), then apart


def test_a_grid_with_user_models_survives_the_sweep_file_for_resume():
    Path("grid.toml").write_text(GRID)
    grid = Grid.from_toml("grid.toml")
    assert grid.case_names == ("gated", "torchnet") and grid.models[1].source == "torch" and grid.models[0].input_shape == "8,6"
    store = SweepStore.create(Path("s"), grid)
    assert SweepStore.open(store.directory).grid == grid


@pytest.mark.parametrize("entry, message", [
    ('name = "m"\nfactory = "user_models:make_net"\ninput_shape = "8,6"\nshape = 3',
     "[[model]] m: unknown key shape; known keys: name, factory, from, input_shape"),
    ('name = "m"\ninput_shape = "8,6"', "[[model]] m: key factory must be a non-empty string, got None"),
    ('factory = "user_models:make_net"', "[[model]] (unnamed): key name must be a non-empty string"),
    ('name = "m"\nfactory = "user_models:make_net"\ninput_shape = "8,6"\noptimizer = "lbfgs"',
     "[[model]] m: key optimizer is 'lbfgs', not one of sgd, momentum, adam"),
    ('name = "m"\nfactory = "user_models:make_net"\ninput_shape = "8,6"\nlr = "fast"', "[[model]] m: key lr holds 'fast'"),
    ('name = "m"\nfactory = "user_models:missing"\ninput_shape = "8,6"',
     "[[model]] m: factory user_models:missing: user_models has no attribute 'missing'"),
    ('name = "m"\nfactory = "user_models:make_torch"\ninput_shape = "8,6"',
     "[[model]] m: factory user_models:make_torch: the factory returned TorchNet, expected a funcad nn.Cell (a torch module: add from torch)"),
    ('name = "m"\nfactory = "user_models:make_net"\ninput_shape = [8, 5]', "[[model]] m: input_shape 8,5: the model rejects an input of shape"),
    ('name = "m"\nfactory = "user_models:make_net"', "[[model]] m: input_shape: required with factory unless data gives the batches"),
    ('name = "mlp"\nfactory = "user_models:make_net"\ninput_shape = "8,6"', "[[model]] name mlp is a built-in case's; choose another name"),
    ('name = "m"\nfactory = "user_models:make_net"\ninput_shape = "8,6"\n[[model]]\nname = "m"\nfactory = "user_models:make_net"\n'
     'input_shape = "8,6"', "cases lists m more than once"),
], ids=["unknown_key", "no_factory", "no_name", "optimizer", "lr_type", "attribute", "torch_without_from", "shape", "no_shape",
        "built_in_name", "twice"])
def test_bad_model_entries_exit_2_naming_the_entry_and_the_key(entry, message, capsys):
    Path("grid.toml").write_text(f"[[model]]\n{entry}\n")
    assert cli.main(["sweep", "--grid", "grid.toml", "--executor", "serial", "--out", "s"]) == 2
    assert message in capsys.readouterr().err
    assert not Path("s").exists()


def test_batch_sizes_do_not_apply_to_user_models(capsys):
    Path("grid.toml").write_text(GRID)
    assert cli.main(["sweep", "--grid", "grid.toml", "--batch-sizes", "4", "--executor", "serial", "--out", "s"]) == 2
    assert "batch_sizes 4 cannot apply to the [[model]] entries" in capsys.readouterr().err
