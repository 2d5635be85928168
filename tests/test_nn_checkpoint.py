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
