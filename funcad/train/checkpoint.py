"""MindSpore's ``CheckpointConfig`` and ``ModelCheckpoint``: checkpoints written during ``Model.train``.

Each checkpoint is one file ``<prefix>-<epoch>_<step in epoch>.ckpt`` in funcad's checkpoint format (an ``.npz``
archive, no pickle, written to a temporary file and renamed, so it is there whole or not at all). It holds the
network's Parameters by name and the optimizer's state (``global_step``, ``moments.<parameter>``, ...), as
MindSpore's holds the training network's; ``append_info`` adds ``epoch_num``/``step_num`` and values of your own.
Resuming: ``load_param_into_net(net, ckpt)``, the same into the optimizer, then
``Model.train(epoch, data, initial_epoch=...)``.
"""

from __future__ import annotations

import numbers
import os
import time
from collections.abc import Mapping

import numpy as np

from funcad.nn.cell import Cell
from funcad.nn.checkpoint import checkpoint_names, save_checkpoint
from funcad.train.callback import Callback

_SUFFIX = ".ckpt"


def _count(owner: str, name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{owner}: {name} must be an int >= 0 or None, got {value!r}")
    return int(value)


class CheckpointConfig:
    """When to save and how many files to keep: every ``save_checkpoint_steps`` steps (counted over the whole run)
    and/or every ``save_checkpoint_seconds`` seconds, keeping the newest ``keep_checkpoint_max`` files of this run.
    ``saved_network`` saves that Cell instead of the trained one; ``append_info`` is a list of ``"epoch_num"``,
    ``"step_num"`` and at most one dict of extra ``{name: number or array}`` to store. ``async_save`` and
    ``integrated_save`` are accepted and change nothing (saving is synchronous, on one process); encryption,
    ``exception_save`` and ``keep_checkpoint_per_n_minutes`` are refused by name."""

    def __init__(self, save_checkpoint_steps: int | None = 1, save_checkpoint_seconds: int | None = 0,
                 keep_checkpoint_max: int | None = 5, keep_checkpoint_per_n_minutes: int | None = 0,
                 integrated_save: bool = True, async_save: bool = False, saved_network: Cell | None = None,
                 append_info: list | None = None, enc_key=None, enc_mode: str = "AES-GCM", exception_save: bool = False,
                 **kwargs):
        owner = "CheckpointConfig"
        if kwargs:
            raise TypeError(f"{owner}: unsupported argument(s) {', '.join(sorted(kwargs))}")
        self.save_checkpoint_steps = _count(owner, "save_checkpoint_steps", save_checkpoint_steps) or None
        self.save_checkpoint_seconds = _count(owner, "save_checkpoint_seconds", save_checkpoint_seconds) or None
        if self.save_checkpoint_steps is None and self.save_checkpoint_seconds is None:
            raise ValueError(f"{owner}: give save_checkpoint_steps or save_checkpoint_seconds (both are 0 or None)")
        keep = _count(owner, "keep_checkpoint_max", keep_checkpoint_max)
        if keep == 0:
            raise ValueError(f"{owner}: keep_checkpoint_max must be positive (or None to keep every file), got 0")
        self.keep_checkpoint_max = keep
        for name, value, default in (("keep_checkpoint_per_n_minutes", keep_checkpoint_per_n_minutes, (0, None)),
                                     ("enc_key", enc_key, (None,)), ("exception_save", exception_save, (False,))):
            if value not in default:
                raise ValueError(f"{owner}: {name}={value!r} is not supported by funcad (checkpoints are plain .npz files)")
        if saved_network is not None and not isinstance(saved_network, Cell):
            raise TypeError(f"{owner}: saved_network must be a Cell, got {type(saved_network).__name__}")
        self.saved_network = saved_network
        self.integrated_save, self.async_save, self.enc_mode = bool(integrated_save), bool(async_save), enc_mode
        self.append_info = self._append_info(append_info)

    @staticmethod
    def _append_info(append_info) -> dict:
        """``{name: value}`` to store; ``epoch_num`` and ``step_num`` are filled in at each save."""
        if append_info is None:
            return {}
        if not isinstance(append_info, (list, tuple)):
            raise TypeError(f"CheckpointConfig: append_info must be a list, got {type(append_info).__name__}")
        out: dict = {}
        for item in append_info:
            if item in ("epoch_num", "step_num"):
                out[item] = 0
            elif isinstance(item, Mapping):
                for name, value in item.items():
                    arr = np.asarray(value.asnumpy() if hasattr(value, "asnumpy") else value)
                    if arr.dtype.kind not in "biuf":
                        raise TypeError(f"CheckpointConfig: append_info value {name!r} must be a number or array, got {value!r}")
                    out[str(name)] = arr
            else:
                raise ValueError(f"CheckpointConfig: append_info items are 'epoch_num', 'step_num' or a dict, got {item!r}")
        return out


class ModelCheckpoint(Callback):
    """Saves checkpoints while ``Model.train`` runs, as ``config`` says, into ``directory`` (the current directory by
    default, created if needed), and once more at the end of training if the last step was not saved. When files of
    this ``prefix`` are there already, the prefix becomes ``<prefix>_1`` (``_2``, ...), as MindSpore's does, so an
    earlier run's files are never overwritten or deleted. ``latest_ckpt_file_name`` is the newest file's path."""

    def __init__(self, prefix: str = "CKP", directory: str | os.PathLike | None = None, config: CheckpointConfig | None = None):
        if not isinstance(prefix, str) or not prefix or any(c in prefix for c in "/\\"):
            raise ValueError(f"ModelCheckpoint: prefix must be a non-empty file name part, got {prefix!r}")
        if config is not None and not isinstance(config, CheckpointConfig):
            raise TypeError(f"ModelCheckpoint: config must be a CheckpointConfig, got {type(config).__name__}")
        self._config = config or CheckpointConfig()
        self._directory = os.path.abspath(os.fspath(directory) if directory is not None else os.getcwd())
        os.makedirs(self._directory, exist_ok=True)
        self._prefix = self._free_prefix(prefix)
        self._saved: list[str] = []
        self._last_step = None
        self._last_time = time.monotonic()
        self.latest_ckpt_file_name: str | None = None

    def _free_prefix(self, prefix: str) -> str:
        taken = {name.split("-", 1)[0] for name in os.listdir(self._directory) if name.endswith(_SUFFIX) and "-" in name}
        if prefix not in taken:
            return prefix
        n = 1
        while f"{prefix}_{n}" in taken:
            n += 1
        return f"{prefix}_{n}"

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def directory(self) -> str:
        return self._directory

    def begin(self, run_context):
        self._last_time = time.monotonic()

    def step_end(self, run_context):
        cb = run_context.original_args()
        config = self._config
        due = config.save_checkpoint_steps is not None and cb.cur_step_num % config.save_checkpoint_steps == 0
        if config.save_checkpoint_seconds is not None and time.monotonic() - self._last_time >= config.save_checkpoint_seconds:
            due = True
        if due:
            self._save(cb)

    def end(self, run_context):
        cb = run_context.original_args()
        if cb.cur_step_num != self._last_step:
            self._save(cb)

    def _save(self, cb) -> None:
        config = self._config
        network = config.saved_network or cb.network
        arrays = {name: np.asarray(p) for name, p in checkpoint_names(list(network.parameters_and_names())).items()}
        state = getattr(cb.optimizer, "parameters_and_names", None)
        sources = [("the optimizer", state())] if state is not None else []
        info = dict(config.append_info)
        if "epoch_num" in info:
            info["epoch_num"] = np.asarray(cb.cur_epoch_num, np.int64)
        if "step_num" in info:
            info["step_num"] = np.asarray(cb.cur_step_num, np.int64)
        sources.append(("append_info", info.items()))
        for owner, items in sources:
            for name, value in items:
                if name in arrays:
                    raise ValueError(f"ModelCheckpoint: {owner}'s {name!r} has the name of a network Parameter; "
                                     "the checkpoint would hold one of them only")
                arrays[name] = np.asarray(value)
        step_in_epoch = (cb.cur_step_num - 1) % cb.batch_num + 1
        path = os.path.join(self._directory, f"{self._prefix}-{cb.cur_epoch_num}_{step_in_epoch}{_SUFFIX}")
        save_checkpoint(arrays, path)
        if path in self._saved:
            self._saved.remove(path)
        self._saved.append(path)
        keep = config.keep_checkpoint_max
        while keep is not None and len(self._saved) > keep:
            os.remove(self._saved.pop(0))
        self.latest_ckpt_file_name = path
        self._last_step = cb.cur_step_num
        self._last_time = time.monotonic()
