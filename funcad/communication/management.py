"""MindSpore's ``mindspore.communication.management`` for one process on one device.

funcad computes in a single process, so the collective world has one member: after ``init()`` this process is
rank 0 of a world of size 1, local rank 0 of 1 on its node. The functions keep MindSpore's names, arguments and
errors (a query before ``init`` is an error, as in MindSpore), so a data-parallel script runs as its one-device
case; a group may be created from rank 0 alone.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from funcad.context import get_context

HCCL_WORLD_COMM_GROUP = "hccl_world_group"
NCCL_WORLD_COMM_GROUP = "nccl_world_group"
MCCL_WORLD_COMM_GROUP = "mccl_world_group"
_BACKENDS = {"hccl": HCCL_WORLD_COMM_GROUP, "nccl": NCCL_WORLD_COMM_GROUP, "mccl": MCCL_WORLD_COMM_GROUP}
_DEFAULT_BACKEND = {"Ascend": "hccl", "GPU": "nccl", "CPU": "mccl"}


class GlobalComm:
    """The communication state: the backend, the world group's name and whether ``init`` has run."""

    BACKEND = "hccl"
    WORLD_COMM_GROUP = HCCL_WORLD_COMM_GROUP
    INITED = False
    CHECK_ENVS = True


_groups: dict[str, list[int]] = {}


def init(backend_name: str | None = None) -> None:
    """Start the (one-process) collective world: ``backend_name`` 'hccl', 'nccl' or 'mccl' (None: the one for the
    context's ``device_target``) only names the world group."""
    if backend_name is None:
        backend_name = _DEFAULT_BACKEND.get(get_context("device_target") or "CPU", "mccl")
    if not isinstance(backend_name, str):
        raise TypeError(f"init: backend_name must be a str, got {type(backend_name).__name__}")
    if backend_name not in _BACKENDS:
        raise RuntimeError(f"init: backend_name {backend_name!r} is not supported; use one of {sorted(_BACKENDS)}")
    GlobalComm.BACKEND, GlobalComm.WORLD_COMM_GROUP, GlobalComm.INITED = backend_name, _BACKENDS[backend_name], True
    _groups.clear()
    _groups[GlobalComm.WORLD_COMM_GROUP] = [0]


def release() -> None:
    """End the collective world (``init`` may be called again)."""
    GlobalComm.INITED = False
    _groups.clear()


def _members(owner: str, group: str) -> list[int]:
    if not isinstance(group, str):
        raise TypeError(f"{owner}: group must be a str, got {type(group).__name__}")
    if not GlobalComm.INITED:
        raise RuntimeError(f"{owner}: distributed communication has not been inited; call init() first")
    if group not in _groups:
        raise ValueError(f"{owner}: group {group!r} does not exist; the groups are {sorted(_groups)}")
    return _groups[group]


def get_rank(group: str = GlobalComm.WORLD_COMM_GROUP) -> int:
    """This process's rank in ``group``: 0, the only one."""
    _members("get_rank", _world(group))
    return 0


def get_local_rank(group: str = GlobalComm.WORLD_COMM_GROUP) -> int:
    """This process's rank on its node: 0."""
    _members("get_local_rank", _world(group))
    return 0


def get_group_size(group: str = GlobalComm.WORLD_COMM_GROUP) -> int:
    """The number of ranks in ``group``: 1."""
    return len(_members("get_group_size", _world(group)))


def get_local_rank_size(group: str = GlobalComm.WORLD_COMM_GROUP) -> int:
    """The number of ranks on this node in ``group``: 1."""
    return len(_members("get_local_rank_size", _world(group)))


def get_world_rank_from_group_rank(group: str, group_rank_id: int) -> int:
    """The world rank of rank ``group_rank_id`` of ``group``."""
    members = _members("get_world_rank_from_group_rank", _world(group))
    if isinstance(group_rank_id, bool) or not isinstance(group_rank_id, numbers.Integral) or not 0 <= group_rank_id < len(members):
        raise ValueError(f"get_world_rank_from_group_rank: group_rank_id {group_rank_id!r} is not a rank of {group!r} (size {len(members)})")
    return members[int(group_rank_id)]


def get_group_rank_from_world_rank(world_rank_id: int, group: str) -> int:
    """The rank in ``group`` of world rank ``world_rank_id``."""
    members = _members("get_group_rank_from_world_rank", _world(group))
    if world_rank_id not in members:
        raise ValueError(f"get_group_rank_from_world_rank: world rank {world_rank_id!r} is not in group {group!r} (ranks {members})")
    return members.index(world_rank_id)


def create_group(group: str, rank_ids: Sequence[int]) -> None:
    """A named group of world ranks; with one process the only rank is 0."""
    owner = "create_group"
    if not isinstance(group, str) or not group:
        raise TypeError(f"{owner}: group must be a non-empty str, got {group!r}")
    if not GlobalComm.INITED:
        raise RuntimeError(f"{owner}: distributed communication has not been inited; call init() first")
    if group in _BACKENDS.values():
        raise ValueError(f"{owner}: group {group!r} is a world group's name and cannot be created")
    if group in _groups:
        raise ValueError(f"{owner}: group {group!r} already exists")
    ranks = list(rank_ids)
    if not ranks or len(set(ranks)) != len(ranks) or any(r != 0 for r in ranks):
        raise ValueError(f"{owner}: rank_ids {ranks} must be distinct ranks of the world, which has only rank 0 in one process")
    _groups[group] = [0]


def destroy_group(group: str) -> None:
    """Remove a group made by ``create_group``."""
    _members("destroy_group", group)
    if group == GlobalComm.WORLD_COMM_GROUP:
        raise ValueError(f"destroy_group: the world group {group!r} cannot be destroyed")
    del _groups[group]


def _world(group: str) -> str:
    """MindSpore's default argument is the world group named at import ('hccl_world_group'): it means the world
    group of whichever backend ``init`` chose."""
    return GlobalComm.WORLD_COMM_GROUP if group in _BACKENDS.values() else group


__all__ = ["GlobalComm", "HCCL_WORLD_COMM_GROUP", "NCCL_WORLD_COMM_GROUP", "MCCL_WORLD_COMM_GROUP", "init", "release", "get_rank",
           "get_local_rank", "get_group_size", "get_local_rank_size", "get_world_rank_from_group_rank", "get_group_rank_from_world_rank",
           "create_group", "destroy_group"]
