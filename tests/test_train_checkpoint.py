"""funcad.train.ModelCheckpoint / CheckpointConfig: file names and cadence, keep_checkpoint_max, prefixes that never
overwrite, atomic files, and a resumed run that ends exactly where an uninterrupted one does."""

from __future__ import annotations

import os

import numpy as np
import pytest

import funcad
from funcad import nn
from funcad.train import CheckpointConfig, Model, ModelCheckpoint

RNG = np.random.default_rng(5)
BATCHES = [(RNG.standard_normal((6, 4)).astype(np.float32), RNG.integers(0, 3, 6).astype(np.int32)) for _ in range(3)]


def _model(seed: int):
    funcad.set_seed(seed)
    net = nn.SequentialCell(nn.Dense(4, 5), nn.ReLU(), nn.Dense(5, 3))
    optimizer = nn.Momentum(net.trainable_params(), 0.1, 0.9)
    return net, optimizer, Model(net, nn.CrossEntropyLoss(), optimizer)


def _ckpts(directory) -> list[str]:
    return sorted(os.listdir(directory))


def test_saves_every_n_steps_names_files_as_mindspore_and_keeps_the_newest(tmp_path):
    net, optimizer, model = _model(0)
    config = CheckpointConfig(save_checkpoint_steps=2, keep_checkpoint_max=3, append_info=["epoch_num", "step_num"])
    ckpt = ModelCheckpoint(prefix="net", directory=tmp_path, config=config)
    model.train(3, BATCHES, callbacks=[ckpt])
    # steps 2, 4, 6, 8 are due (epoch_step: 1_2, 2_1, 2_3, 3_2), step 9 is the end; the newest three stay
    assert _ckpts(tmp_path) == ["net-2_3.ckpt", "net-3_2.ckpt", "net-3_3.ckpt"]
    assert ckpt.latest_ckpt_file_name == str(tmp_path / "net-3_3.ckpt")
    saved = funcad.load_checkpoint(ckpt.latest_ckpt_file_name)
    for name, p in net.parameters_and_names():
        np.testing.assert_array_equal(saved[name].asnumpy(), p.asnumpy())
    for name, p in optimizer.parameters_and_names():
        np.testing.assert_array_equal(saved[name].asnumpy(), p.asnumpy())
    assert saved["global_step"].item() == 9 and saved["epoch_num"].item() == 3 and saved["step_num"].item() == 9
    assert sorted(saved) == sorted([n for n, _ in net.parameters_and_names()] + [n for n, _ in optimizer.parameters_and_names()]
                                   + ["epoch_num", "step_num"])


def test_a_second_run_gets_a_new_prefix_and_leaves_the_first_runs_files(tmp_path):
    for seed in (0, 1):
        _, _, model = _model(seed)
        model.train(1, BATCHES, callbacks=[ModelCheckpoint(directory=tmp_path, config=CheckpointConfig(keep_checkpoint_max=1))])
    assert _ckpts(tmp_path) == ["CKP-1_3.ckpt", "CKP_1-1_3.ckpt"]
    first, second = (funcad.load_checkpoint(tmp_path / f) for f in _ckpts(tmp_path))
    assert not np.array_equal(first["0.weight"].asnumpy(), second["0.weight"].asnumpy())


def test_resumed_training_ends_where_uninterrupted_training_does(tmp_path):
    net, _, model = _model(0)
    model.train(4, BATCHES)

    _, _, first = _model(0)
    first.train(2, BATCHES, callbacks=[ModelCheckpoint("run", tmp_path, CheckpointConfig(save_checkpoint_steps=3))])
    net2, optimizer2, second = _model(7)  # different initial weights, fresh optimizer state: all replaced by the file
    state = funcad.load_checkpoint(tmp_path / "run-2_3.ckpt")
    optimizer_state = [n for n in state if n.startswith(("moments.", "global_step", "learning_rate"))]
    assert funcad.load_param_into_net(net2, state) == ([], optimizer_state)  # as MindSpore
    funcad.load_param_into_net(optimizer2, state)
    second.train(4, BATCHES, initial_epoch=2)
    for (name, p), (_, q) in zip(net.parameters_and_names(), net2.parameters_and_names()):
        np.testing.assert_array_equal(q.asnumpy(), p.asnumpy(), err_msg=name)


def test_seconds_cadence_and_saved_network(tmp_path):
    net, _, model = _model(0)
    head = net[2]
    config = CheckpointConfig(save_checkpoint_steps=None, save_checkpoint_seconds=3600, saved_network=head)
    model.train(2, BATCHES, callbacks=[ModelCheckpoint("head", tmp_path, config)])
    assert _ckpts(tmp_path) == ["head-2_3.ckpt"]  # the hour never passed: only the end of training saved
    saved = funcad.load_checkpoint(tmp_path / "head-2_3.ckpt")
    # keyed by Parameter names, as funcad.save_checkpoint(head) and MindSpore's ModelCheckpoint key them
    np.testing.assert_array_equal(saved["2.weight"].asnumpy(), head.weight.asnumpy())
    assert "0.weight" not in saved and "global_step" in saved
    np.testing.assert_array_equal(saved["2.bias"].asnumpy(), head.bias.asnumpy())


def test_a_failed_save_leaves_no_file_behind(tmp_path, monkeypatch):
    _, _, model = _model(0)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        model.train(1, BATCHES, callbacks=[ModelCheckpoint("x", tmp_path)])
    assert _ckpts(tmp_path) == []


@pytest.mark.parametrize("kwargs, match", [
    ({"save_checkpoint_steps": 0, "save_checkpoint_seconds": 0}, "give save_checkpoint_steps or save_checkpoint_seconds"),
    ({"keep_checkpoint_max": 0}, "keep_checkpoint_max must be positive"),
    ({"save_checkpoint_steps": -1}, "save_checkpoint_steps must be an int >= 0"),
    ({"enc_key": b"k" * 16}, "enc_key=.* is not supported"),
    ({"append_info": ["epoch"]}, "append_info items are"),
    ({"append_info": [{"note": "text"}]}, "append_info value 'note' must be a number"),
])
def test_checkpoint_config_errors_name_the_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        CheckpointConfig(**kwargs)


def test_model_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="prefix must be"):
        ModelCheckpoint(prefix="a/b", directory=tmp_path)
    with pytest.raises(TypeError, match="config must be a CheckpointConfig"):
        ModelCheckpoint(directory=tmp_path, config={"save_checkpoint_steps": 1})
    with pytest.raises(TypeError, match="Cell or an optimizer"):
        funcad.load_param_into_net(object(), {})
