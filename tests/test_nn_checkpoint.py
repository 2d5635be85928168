"""Checkpoints: .npz round trip, exact file name, and errors listing every bad name."""

import numpy as np
import pytest

import funcad
from funcad import nn


class Net(nn.Cell):
    def __init__(self, hidden=4):
        super().__init__()
        self.fc1 = nn.Dense(3, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Dense(hidden, 2)


def test_round_trip_restores_every_parameter(tmp_path):
    funcad.set_seed(1)
    src = Net()
    src.bn.moving_mean.set_data(np.arange(4, dtype=np.float32))
    path = tmp_path / "net.ckpt"
    funcad.save_checkpoint(src, path)
    assert path.exists() and not list(tmp_path.glob("*.npz")) and not list(tmp_path.glob(".ckpt-*"))
    loaded = funcad.load_checkpoint(path)
    assert sorted(loaded) == sorted(n for n, _ in src.parameters_and_names())
    funcad.set_seed(2)
    dst = Net()
    assert funcad.load_param_into_net(dst, loaded) == ([], [])
    for (name, a), (_, b) in zip(src.parameters_and_names(), dst.parameters_and_names()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)
        assert a.dtype == b.dtype


def test_errors_list_missing_unexpected_and_mismatched_and_load_nothing(tmp_path):
    funcad.set_seed(1)
    path = tmp_path / "net.ckpt"
    funcad.save_checkpoint(Net(hidden=5), path)
    params = funcad.load_checkpoint(path)
    params.pop("fc2.bias")
    params["extra.weight"] = np.zeros(1)
    dst = Net()
    before = np.asarray(dst.fc1.weight).copy()
    with pytest.raises(ValueError) as err:
        funcad.load_param_into_net(dst, params, strict_load=True)
    message = str(err.value)
    assert "fc1.weight: net (4, 3), checkpoint (5, 3)" in message
    assert "missing from checkpoint: fc2.bias" in message and "unexpected in checkpoint: extra.weight" in message
    np.testing.assert_array_equal(np.asarray(dst.fc1.weight), before)


def test_by_default_as_mindspore_the_matching_names_load_and_the_net_s_missing_ones_are_named_in_a_warning():
    dst = Net()
    with pytest.warns(UserWarning, match=r"Net's parameters fc1.weight, fc1.bias, .* are not in the checkpoint"):
        not_loaded, unused = funcad.load_param_into_net(dst, {"fc2.bias": np.ones(2), "other": np.ones(1)})
    np.testing.assert_array_equal(np.asarray(dst.fc2.bias), np.ones(2))
    assert "fc1.weight" in not_loaded and "fc2.bias" not in not_loaded and unused == ["other"]
    with pytest.raises(ValueError, match="shape mismatch: fc2.bias: net \\(2,\\), checkpoint \\(3,\\)"):
        funcad.load_param_into_net(dst, {"fc2.bias": np.ones(3)})  # shapes are checked in every mode


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        funcad.load_checkpoint(tmp_path / "absent.ckpt")
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="is not a funcad .npz checkpoint"):
        funcad.load_checkpoint(junk)
    with pytest.raises(TypeError, match="save_obj must be a Cell"):
        funcad.save_checkpoint([1, 2], tmp_path / "x.ckpt")


def test_a_training_wrapper_s_checkpoint_holds_the_network_s_names_and_the_optimizer_state(tmp_path):
    funcad.set_seed(0)
    net = nn.Dense(2, 3)
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.Adam(net.trainable_params(), 0.1))
    train(funcad.Tensor(np.ones((4, 2), np.float32)), funcad.Tensor(np.zeros((4, 3), np.float32)))
    funcad.save_checkpoint(train, tmp_path / "train.ckpt")
    saved = funcad.load_checkpoint(tmp_path / "train.ckpt")
    assert sorted(saved) == ["bias", "global_step", "moment1.bias", "moment1.weight", "moment2.bias", "moment2.weight", "weight"]
    bare = nn.Dense(2, 3)
    assert funcad.load_param_into_net(bare, saved) == ([], ["global_step", "moment1.weight", "moment1.bias", "moment2.weight", "moment2.bias"])
    np.testing.assert_array_equal(np.asarray(bare.weight), np.asarray(net.weight))
    other = nn.Dense(2, 3)
    resumed = nn.TrainOneStepCell(nn.WithLossCell(other, nn.MSELoss()), nn.Adam(other.trainable_params(), 0.1))
    assert funcad.load_param_into_net(resumed, saved) == ([], [])
    np.testing.assert_array_equal(np.asarray(resumed.optimizer.moment1[0]), np.asarray(train.optimizer.moment1[0]))
    assert int(resumed.optimizer.global_step) == 1


def test_checkpoint_keywords_choose_entries_and_add_some(tmp_path):
    net = nn.SequentialCell([nn.Dense(2, 3), nn.Dense(3, 1)])
    funcad.save_checkpoint(net, tmp_path / "net.ckpt", append_dict={"epoch_num": 7, "lr": 0.01})
    assert int(funcad.load_checkpoint(tmp_path / "net.ckpt")["epoch_num"]) == 7
    assert sorted(funcad.load_checkpoint(tmp_path / "net.ckpt", specify_prefix="0.")) == ["0.bias", "0.weight"]
    assert sorted(funcad.load_checkpoint(tmp_path / "net.ckpt", filter_prefix=["0.", "epoch"])) == ["1.bias", "1.weight", "lr"]
    assert sorted(funcad.load_checkpoint(tmp_path / "net.ckpt", choice_func=lambda name: name.endswith("bias"))) == ["0.bias", "1.bias"]
    other = nn.SequentialCell([nn.Dense(2, 3), nn.Dense(3, 1)])
    funcad.load_checkpoint(tmp_path / "net.ckpt", net=other, filter_prefix=["epoch", "lr"])
    np.testing.assert_array_equal(np.asarray(other[1].weight), np.asarray(net[1].weight))
    funcad.save_checkpoint([{"name": "w", "data": funcad.Tensor(np.ones(2))}], tmp_path / "list.ckpt")
    assert np.array_equal(np.asarray(funcad.load_checkpoint(tmp_path / "list.ckpt")["w"]), [1.0, 1.0])
    with pytest.raises(NotImplementedError, match="load_checkpoint: dec_key not supported"):
        funcad.load_checkpoint(tmp_path / "net.ckpt", dec_key=b"k")
    with pytest.raises(NotImplementedError, match="save_checkpoint: enc_key, enc_mode not supported"):
        funcad.save_checkpoint(net, tmp_path / "enc.ckpt", enc_key=b"k", enc_mode="AES-GCM")
    assert not (tmp_path / "enc.ckpt").exists()
