"""funcad.communication and the auto-parallel context: MindSpore's distributed entry points on one process, one
device (rank 0 of 1), with MindSpore's names and errors."""

from __future__ import annotations

import numpy as np
import pytest

import funcad
import funcad as mindspore
from funcad import nn
from funcad.communication import GlobalComm, create_group, get_group_size, get_rank, init, release
from funcad.communication import management as mgmt


@pytest.fixture(autouse=True)
def fresh_state():
    release()
    funcad.reset_auto_parallel_context()
    funcad.context.reset_context()
    yield
    release()
    funcad.reset_auto_parallel_context()
    funcad.context.reset_context()


def test_data_parallel_preamble_runs_as_one_device():
    """The usual preamble of a data-parallel script, verbatim after the import change."""
    mindspore.set_context(mode=mindspore.PYNATIVE_MODE, device_target="GPU")
    init("nccl")
    mindspore.set_auto_parallel_context(parallel_mode=mindspore.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                        device_num=get_group_size())
    rank_id, rank_size = get_rank(), get_group_size()
    assert (rank_id, rank_size) == (0, 1)
    assert GlobalComm.BACKEND == "nccl" and GlobalComm.WORLD_COMM_GROUP == "nccl_world_group" and GlobalComm.INITED
    assert mgmt.get_local_rank() == 0 and mgmt.get_local_rank_size() == 1
    assert mindspore.get_auto_parallel_context("parallel_mode") == "data_parallel"
    assert mindspore.get_auto_parallel_context("gradients_mean") is True
    data = mindspore.dataset.NumpySlicesDataset(np.arange(8), num_shards=rank_size, shard_id=rank_id, shuffle=False)
    assert [int(v[0]) for v in data.create_tuple_iterator(output_numpy=True)] == list(range(8))


def test_default_backend_follows_device_target_and_groups():
    init()
    assert GlobalComm.BACKEND == "mccl" and get_rank(GlobalComm.WORLD_COMM_GROUP) == 0
    assert get_rank("hccl_world_group") == 0  # MindSpore's default argument means the world group
    create_group("pair", [0])
    assert get_group_size("pair") == 1 and mgmt.get_group_rank_from_world_rank(0, "pair") == 0
    assert mgmt.get_world_rank_from_group_rank("pair", 0) == 0
    mgmt.destroy_group("pair")
    with pytest.raises(ValueError, match="group 'pair' does not exist"):
        get_group_size("pair")
    with pytest.raises(ValueError, match=r"create_group: rank_ids \[0, 1\] .* only rank 0"):
        create_group("two", [0, 1])
    release()
    funcad.set_context(device_target="Ascend")
    init()
    assert GlobalComm.WORLD_COMM_GROUP == "hccl_world_group"


def test_errors_before_init_and_bad_arguments():
    with pytest.raises(RuntimeError, match="get_rank: distributed communication has not been inited"):
        get_rank()
    with pytest.raises(RuntimeError, match="init: backend_name 'mpi' is not supported"):
        init("mpi")
    with pytest.raises(ValueError, match="set_auto_parallel_context: parallel_mode must be one of .* got 'data'"):
        funcad.set_auto_parallel_context(parallel_mode="data")
    with pytest.raises(ValueError, match="unknown key\\(s\\) 'device_nums'"):
        funcad.set_auto_parallel_context(device_nums=8)
    with pytest.raises(ValueError, match=r"device_num must be an int in \[1, 4096\], got 0"):
        funcad.set_auto_parallel_context(device_num=0)
    with pytest.raises(ValueError, match="get_auto_parallel_context: unknown key 'mode'"):
        funcad.get_auto_parallel_context("mode")


def test_auto_parallel_context_records_and_resets():
    assert funcad.get_auto_parallel_context("device_num") == 1
    funcad.set_auto_parallel_context(device_num=8, global_rank=3, full_batch=True)
    assert [funcad.get_auto_parallel_context(k) for k in ("device_num", "global_rank", "full_batch")] == [8, 3, True]
    funcad.reset_auto_parallel_context()
    assert funcad.get_auto_parallel_context("parallel_mode") == funcad.ParallelMode.STAND_ALONE
    assert funcad.context.ParallelMode.MODES[0] == "stand_alone"


def test_distributed_grad_reducer_is_the_identity_on_one_device():
    from funcad.nn.wrap.grad_reducer import DistributedGradReducer

    assert nn.DistributedGradReducer is DistributedGradReducer
    init()
    net = nn.Dense(3, 2)
    reducer = DistributedGradReducer(net.trainable_params(), mean=True, degree=1)
    grads = tuple(funcad.Tensor(np.full(p.shape, 2.0, np.float32)) for p in net.trainable_params())
    out = reducer(grads)
    assert len(out) == 2 and all(np.array_equal(a.asnumpy(), b.asnumpy()) for a, b in zip(out, grads))
    with pytest.raises(ValueError, match="DistributedGradReducer: degree 8"):
        DistributedGradReducer(net.trainable_params(), degree=8)
