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


def test_errors_list_every_mismatch_and_load_nothing(tmp_path):
    funcad.set_seed(1)
    path = tmp_path / "net.ckpt"
    funcad.save_checkpoint(Net(hidden=5), path)
    params = funcad.load_checkpoint(path)
    params.pop("fc2.bias")
    params["extra.weight"] = np.zeros(1)
    params["bn.gamma"] = np.ones(5, np.int32)
    dst = Net(hidden=5)
    dst.fc1.weight.set_data(np.zeros((5, 3), np.float32))
    params["fc1.weight"] = np.ones((4, 3), np.float32)
    for strict_load in (False, True):
        with pytest.raises(ValueError) as err:
            funcad.load_param_into_net(dst, params, strict_load=strict_load)
        message = str(err.value)
        assert "fc1.weight: net (5, 3), checkpoint (4, 3)" in message
        assert "dtype mismatch: bn.gamma: net float32, checkpoint int32 (not convertible)" in message
    assert not np.asarray(dst.fc1.weight).any()


def test_strict_load_as_mindspore_refuses_float_conversion_and_prefixes_but_not_missing_or_extra_names():
    """MindSpore's strict_load: names must match as they are and dtypes exactly; names the net lacks or the
    checkpoint lacks are reported, never refused (a checkpoint holds the optimizer state the net does not)."""
    src = {"fc1.weight": np.ones((4, 3), np.float16), "fc1.bias": np.ones(4), "moments.fc1.weight": np.ones((4, 3))}
    with pytest.raises(ValueError, match=r"fc1.weight: net float32, checkpoint float16 \(strict_load does not convert\)"):
        funcad.load_param_into_net(Net(), src, strict_load=True)
    dst = Net()
    with pytest.warns(UserWarning, match="are not in the checkpoint"):
        not_loaded, unused = funcad.load_param_into_net(dst, src)  # floats convert without strict_load
    assert dst.fc1.weight.dtype == np.float32 and np.asarray(dst.fc1.weight).sum() == 12.0
    assert "fc1.weight" not in not_loaded and "fc2.weight" in not_loaded and unused == ["moments.fc1.weight"]
    wrapped = {"network.fc2.weight": np.full((2, 4), 3.0, np.float32), "network.fc2.bias": np.ones(2, np.float32)}
    with pytest.warns(UserWarning) as record:
        not_loaded, unused = funcad.load_param_into_net(dst, wrapped)
    messages = [str(w.message) for w in record]
    assert "load_param_into_net: fc2.bias, fc2.weight loaded from network.fc2.bias, network.fc2.weight (names under a prefix)" in messages
    assert any("fc1.weight, fc1.bias, bn.gamma" in m and "not in the checkpoint" in m for m in messages)
    assert "fc2.weight" not in not_loaded and unused == [] and float(np.asarray(dst.fc2.weight)[0, 0]) == 3.0
    strict = Net()
    with pytest.warns(UserWarning, match="are not in the checkpoint"):
        not_loaded, unused = funcad.load_param_into_net(strict, wrapped, strict_load=True)
    assert "fc2.weight" in not_loaded and unused == ["network.fc2.weight", "network.fc2.bias"]


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
    assert sorted(saved) == ["bias", "global_step", "learning_rate", "moment1.bias", "moment1.weight", "moment2.bias", "moment2.weight", "weight"]
    bare = nn.Dense(2, 3)
    assert funcad.load_param_into_net(bare, saved) == ([], ["learning_rate", "global_step", "moment1.weight", "moment1.bias", "moment2.weight",
                                                           "moment2.bias"])
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
