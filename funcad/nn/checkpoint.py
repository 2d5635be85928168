"""Checkpoints as .npz files (no pickle): save_checkpoint, load_checkpoint, load_param_into_net."""

from __future__ import annotations

import os
import tempfile
import warnings
import zipfile
from collections.abc import Mapping

import numpy as np

from funcad.core.tensor import Parameter, Tensor
from funcad.nn.cell import Cell
from funcad.nn.optim.optimizer import Optimizer


def _named_state(obj: Cell | Optimizer) -> dict[str, Parameter]:
    """A Cell's parameters by their names (``Parameter.name``: a training wrapper's ``auto_prefix=False`` leaves the
    network's names as they are, so a checkpoint of the wrapper loads into the bare network, as in MindSpore), with
    the state of any optimizer a Cell holds; by path where names repeat. An optimizer's state by its names."""
    pairs = list(obj.parameters_and_names())
    if isinstance(obj, Cell):
        for _, cell in obj.cells_and_names():
            for value in vars(cell).values():
                if isinstance(value, Optimizer):
                    pairs += [(name, p) for name, p in value.parameters_and_names()]
    return checkpoint_names(pairs)


def checkpoint_names(pairs: list[tuple[str, Parameter]]) -> dict[str, Parameter]:
    """``(path, parameter)`` pairs keyed as checkpoints key them: by ``Parameter.name`` (a name given to a Parameter
    is kept), by path where names repeat; every writer and reader of checkpoints keys the same way."""
    names = [p.name or path for path, p in pairs]
    return dict(zip(names, (p for _, p in pairs))) if len(set(names)) == len(names) else dict(pairs)


def save_checkpoint(save_obj: Cell | Optimizer | Mapping | list, ckpt_file_name: str | os.PathLike, integrated_save: bool = True,
                    async_save: bool = False, append_dict: Mapping | None = None, **kwargs) -> None:
    """Write every parameter of a Cell (by name, with the state of an optimizer it holds), of an optimizer (the
    parameters it trains and its own state, as MindSpore's optimizer Cell saves), a name -> array mapping, or
    MindSpore's list of ``{'name': ..., 'data': ...}`` to ``ckpt_file_name`` exactly (no suffix is added), with the
    entries of ``append_dict`` (numbers or arrays: an epoch, a learning rate) beside them. The file is written whole or
    not at all (temporary file, then rename); it is written before the call returns (``async_save`` changes nothing)."""
    if kwargs:
        raise NotImplementedError(f"save_checkpoint: {', '.join(sorted(kwargs))} not supported (funcad checkpoints are plain .npz files)")
    if isinstance(save_obj, Cell):
        arrays = {name: np.asarray(p) for name, p in _named_state(save_obj).items()}
    elif isinstance(save_obj, Optimizer):  # a Cell in MindSpore: its parameters, then its own state
        pairs = [(p.name, p) for p in save_obj.parameters] + list(save_obj.parameters_and_names())
        arrays = {name: np.asarray(p) for name, p in checkpoint_names(pairs).items()}
    elif isinstance(save_obj, Mapping):
        arrays = {str(name): np.asarray(value) for name, value in save_obj.items()}
    elif isinstance(save_obj, list) and all(isinstance(item, Mapping) and {"name", "data"} <= set(item) for item in save_obj):
        arrays = {str(item["name"]): np.asarray(item["data"]) for item in save_obj}
    else:
        raise TypeError("save_checkpoint: save_obj must be a Cell, a mapping of name -> array or a list of {'name', 'data'} dicts, "
                        f"got {type(save_obj).__name__}")
    arrays |= {str(name): np.asarray(value) for name, value in (append_dict or {}).items()}
    path = os.fspath(ckpt_file_name)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".ckpt-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_checkpoint(ckpt_file_name: str | os.PathLike, net: Cell | None = None, strict_load: bool = False, filter_prefix=None,
                    specify_prefix=None, choice_func=None, **kwargs) -> dict[str, Parameter]:
    """Read a checkpoint into ``{name: Parameter}`` (MindSpore returns Parameters too), keeping the names that start
    with one of ``specify_prefix`` (when given), none of ``filter_prefix``, and pass ``choice_func(name)`` (when
    given); with ``net``, load them into it as well (``load_param_into_net``)."""
    if kwargs:
        raise NotImplementedError(f"load_checkpoint: {', '.join(sorted(kwargs))} not supported (funcad checkpoints are plain .npz files)")
    path = os.fspath(ckpt_file_name)
    try:
        with np.load(path, allow_pickle=False) as data:
            loaded = {name: Parameter(data[name], name=name) for name in data.files if _chosen(name, specify_prefix, filter_prefix, choice_func)}
    except FileNotFoundError:
        raise FileNotFoundError(f"load_checkpoint: no such file {path!r}") from None
    except (zipfile.BadZipFile, ValueError, OSError) as err:
        raise ValueError(f"load_checkpoint: {path!r} is not a funcad .npz checkpoint ({err})") from None
    if net is not None:
        load_param_into_net(net, loaded, strict_load)
    return loaded


def _chosen(name: str, specify_prefix, filter_prefix, choice_func) -> bool:
    def prefixes(given):
        return (given,) if isinstance(given, str) else tuple(given)

    return ((specify_prefix is None or name.startswith(prefixes(specify_prefix)))
            and (filter_prefix is None or not name.startswith(prefixes(filter_prefix)))
            and (choice_func is None or bool(choice_func(name))))


def _prefix_matches(parameter_dict: Mapping, missing: list[str]) -> dict[str, str]:
    """MindSpore's second chance for the net's names a checkpoint lacks: a checkpoint name ending with one of them
    gives a prefix (``'network.'`` of a wrapper's checkpoint, ``'backbone.'`` ...), and every missing name found under
    that prefix loads from it; repeated while a new prefix loads something. Returns net name -> checkpoint name."""
    found: dict[str, str] = {}
    tried: set[str] = set()
    while True:
        left = [name for name in missing if name not in found]
        prefix = next((key[:-len(name)] for name in left for key in parameter_dict
                       if key != name and key.endswith(name) and key[:-len(name)] not in tried), None)
        if prefix is None:
            return found
        tried.add(prefix)
        found |= {name: prefix + name for name in left if prefix + name in parameter_dict}


def _dtype_problem(name: str, param: Parameter, value, strict_load: bool) -> str | None:
    """Why ``value`` cannot load into ``param`` for its dtype, or None: as MindSpore's, floats convert to the
    parameter's float dtype unless ``strict_load``, and a float never loads into an integer parameter nor the reverse
    (funcad also converts between integer widths, since numpy writes Python ints as int64)."""
    have, want = np.dtype(getattr(value, "dtype", np.asarray(value).dtype)), np.dtype(param.dtype)
    if have == want:
        return None
    if have.kind in "iu" and want.kind in "iu" or not strict_load and have.kind == want.kind == "f":
        return None
    why = "strict_load does not convert" if strict_load and have.kind == want.kind else "not convertible"
    return f"{name}: net {want}, checkpoint {have} ({why})"


def load_param_into_net(net: Cell, parameter_dict: Mapping, strict_load: bool = False) -> tuple[list[str], list[str]]:
    """Copy values from ``parameter_dict`` into ``net``'s parameters by name; nothing is written unless all checks pass.
    ``net`` may also be an optimizer, whose state (``global_step``, moments, ...) is restored the same way.

    As MindSpore's: shape mismatches raise; a warning names the net's parameters the dict lacks, and entries the net
    does not hold (a checkpoint's optimizer state) are left alone. Without ``strict_load`` (the default) float values
    convert to the parameter's dtype and names the dict lacks are looked for under a prefix (a checkpoint saved from a
    wrapper as ``network.fc.weight`` loads into the bare network); with it names must match exactly and dtypes too.
    Returns ``(params_not_loaded, ckpt_not_loaded)`` as MindSpore does.
    """
    if not isinstance(net, (Cell, Optimizer)):
        raise TypeError(f"load_param_into_net: net must be a Cell or an optimizer, got {type(net).__name__}")
    params = _named_state(net)
    source = {name: name for name in params if name in parameter_dict}
    missing = [name for name in params if name not in source]
    if missing and not strict_load:
        renamed = _prefix_matches(parameter_dict, missing)
        if renamed:
            warnings.warn(f"load_param_into_net: {', '.join(sorted(renamed))} loaded from "
                          f"{', '.join(sorted(renamed.values()))} (names under a prefix)", stacklevel=2)
        source |= renamed
        missing = [name for name in missing if name not in renamed]
    problems = []
    for name, key in source.items():
        p, value = params[name], parameter_dict[key]
        shape = tuple(np.shape(value))
        if shape != tuple(p.shape):
            problems.append(f"shape mismatch: {name}: net {tuple(p.shape)}, checkpoint {shape}")
        elif (why := _dtype_problem(name, p, value, strict_load)) is not None:
            problems.append(f"dtype mismatch: {why}")
    if problems:
        raise ValueError(f"load_param_into_net: nothing loaded into {type(net).__name__}; " + " | ".join(problems))
    if missing:
        warnings.warn(f"load_param_into_net: {type(net).__name__}'s parameters {', '.join(missing)} are not in the checkpoint and keep "
                      "their values", stacklevel=2)
    for name, key in source.items():
        value = parameter_dict[key]
        params[name].set_data(value if isinstance(value, Tensor) else np.asarray(value))
    used = set(source.values())
    return missing, [name for name in parameter_dict if name not in used]
