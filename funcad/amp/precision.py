"""auto_mixed_precision, custom_mixed_precision and build_train_network with MindSpore's semantics, at Cell granularity.

What each does to a network, as MindSpore 2.x does it (mindspore/train/amp.py):

- O1 and ``custom_mixed_precision(white_list=)``: each listed Cell (its exact type) computes in the low type and casts
  its floating-point outputs back to float32; Cells whose precision ``to_float`` already set are left alone.
- O2 and ``custom_mixed_precision(black_list=)``: the whole network computes in the low type, except the listed Cells
  below the root (any subclass), which compute in float32 and cast their outputs back to the low type; the network's
  outputs come back as float32.
- O3: the whole network in the low type, outputs float32.
- ``build_train_network`` at O2/O3 casts the network itself (``to_float``, BatchNorm and LayerNorm kept in float32 at
  O2) without casting its outputs back; the loss it adds takes them, and the label, as float32.
"""

from __future__ import annotations

import numpy as np

from funcad.amp.loss_scale import DynamicLossScaleManager, LossScaleManager
from funcad.core.dtypes import LOW_PRECISION
from funcad.nn.cell import Cell, _cast_float, _cast_outputs
from funcad.nn.layer.activation import PReLU, ReLU
from funcad.nn.layer.basic import Dense
from funcad.nn.layer.conv import Conv1d, Conv1dTranspose, Conv2d, Conv2dTranspose, Conv3d, Conv3dTranspose
from funcad.nn.layer.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm
from funcad.nn.layer.rnn_cells import GRUCell, LSTMCell, RNNCell
from funcad.nn.wrap import TrainOneStepCell, TrainOneStepWithLossScaleCell, WithLossCell

# MindSpore's white list (its Cells; the primitives it also lists are below), computed in low precision at O1
AMP_WHITE_LIST = (Conv1d, Conv2d, Conv3d, Conv1dTranspose, Conv2dTranspose, Conv3dTranspose, Dense, LSTMCell, RNNCell, GRUCell)
# the Cells built on the primitives of MindSpore's white list (ReLU, PReLU); O1 casts those primitives, so these too
_PRIMITIVE_CELLS = (ReLU, PReLU)
# MindSpore's black list: kept in float32 at O2 (and by build_train_network's keep_batchnorm_fp32)
AMP_BLACK_LIST = (BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm)

_LEVELS = ("O0", "O1", "O2", "O3")
_LOW = (*LOW_PRECISION, np.dtype(np.float32), np.dtype(np.float64))
_FLOAT32 = np.dtype(np.float32)


def auto_mixed_precision(network: Cell, amp_level: str = "O0", dtype=np.float16) -> Cell:
    """Set ``network`` (in place; returned) to MindSpore's mixed-precision level (see the module's docstring):

    - 'O0': unchanged.
    - 'O1': the Cells of ``AMP_WHITE_LIST`` and ReLU/PReLU (built on white-listed primitives) compute in ``dtype`` and
      return float32.
    - 'O2': everything in ``dtype`` except the Cells of ``AMP_BLACK_LIST`` (normalisation), whose outputs come back in
      ``dtype``; the network's outputs in float32.
    - 'O3': everything in ``dtype``; the network's outputs in float32.

    Parameters stay float32 throughout. MindSpore's O2/O3 return a wrapper that casts the outputs and leave the Cell
    it wraps returning ``dtype``; funcad casts the Cell's own outputs and returns it.
    """
    _check_network("auto_mixed_precision", network)
    if amp_level == "auto":
        raise NotImplementedError("auto_mixed_precision: amp_level 'auto' (MindSpore's per-operator lists) is not supported; "
                                  "use 'O1', 'O2' or 'O3'")
    if amp_level not in _LEVELS:
        raise ValueError(f"auto_mixed_precision: amp_level must be one of {', '.join(_LEVELS)}, got {amp_level!r}")
    low = _low_dtype("auto_mixed_precision", dtype)
    if amp_level == "O0":
        return network
    if amp_level == "O1":
        _white_list(network, low, AMP_WHITE_LIST + _PRIMITIVE_CELLS)
    else:
        _black_list(network, low, AMP_BLACK_LIST if amp_level == "O2" else ())
    object.__setattr__(network, "_amp_level", amp_level)
    return network


def get_white_list() -> list[type]:
    """The Cells O1 computes in low precision (MindSpore's list also names the primitives they are built on)."""
    return list(AMP_WHITE_LIST)


def get_black_list() -> list[type]:
    """The Cells O2 keeps in float32."""
    return list(AMP_BLACK_LIST)


def custom_mixed_precision(network: Cell, *, white_list: list | None = None, black_list: list | None = None, dtype=np.float16) -> Cell:
    """MindSpore's ``amp.custom_mixed_precision``: with ``white_list`` only Cells of exactly those types compute in ``dtype``
    (returning float32), as O1 does with its list; with ``black_list`` everything does except those Cells (and their
    subclasses), as O2 does with its list. Exactly one of the two, a list of Cell classes. In place; returned."""
    _check_network("custom_mixed_precision", network)
    if (white_list is None) == (black_list is None):
        raise ValueError("custom_mixed_precision: give exactly one of white_list and black_list")
    for name, listed in (("white_list", white_list), ("black_list", black_list)):
        if listed is not None and not (isinstance(listed, list) and all(isinstance(t, type) and issubclass(t, Cell) for t in listed)):
            raise TypeError(f"custom_mixed_precision: {name} must be a list of Cell classes (funcad sets precision per Cell), got {listed!r}")
    low = _low_dtype("custom_mixed_precision", dtype)
    if white_list is not None:
        _white_list(network, low, tuple(white_list))
    else:
        _black_list(network, low, tuple(black_list))
    return network


def _check_network(owner: str, network) -> None:
    if not isinstance(network, Cell):
        raise TypeError(f"{owner}: network must be a Cell, got {type(network).__name__}")


def _low_dtype(owner: str, dtype) -> np.dtype:
    low = np.dtype(dtype)
    if low not in _LOW:
        raise ValueError(f"{owner}: dtype must be one of {', '.join(t.name for t in _LOW)}, got {low.name}")
    return low


def _white_list(cell: Cell, low: np.dtype, white: tuple) -> None:
    """The Cells below ``cell`` of exactly a type in ``white`` compute in ``low`` and return float32; a Cell whose
    precision ``to_float`` set is left as it is, with everything below it (MindSpore's rewrite skips it)."""
    for child in cell._cells.values():
        if child is None or child._compute_dtype is not None:
            continue
        if type(child) in white:
            child.to_float(low)
            object.__setattr__(child, "_output_dtype", _FLOAT32)
        else:
            _white_list(child, low, white)


def _black_list(network: Cell, low: np.dtype, black: tuple) -> None:
    """``network`` in ``low`` with float32 outputs, but for the Cells of ``black`` below it, in float32 with outputs in
    ``low`` (MindSpore's wrapper ``_OutputTo16``)."""
    network.to_float(low)
    _keep_float32(network, black, low)
    object.__setattr__(network, "_output_dtype", _FLOAT32)


def _keep_float32(cell: Cell, black: tuple, low: np.dtype) -> None:
    """The Cells of ``black`` strictly below ``cell`` compute in float32 and return ``low``; the search stops at them."""
    for child in cell._cells.values():
        if child is None:
            continue
        if isinstance(child, black):
            child.to_float(np.float32)
            object.__setattr__(child, "_output_dtype", low)
        else:
            _keep_float32(child, black, low)


class _Float32LossCell(WithLossCell):
    """The loss ``build_train_network`` adds to a float16 network (MindSpore's amp ``WithLossCell``): the network's
    floating-point outputs and the label are cast to float32 before the loss."""

    def construct(self, data, label):
        out = _cast_outputs(self._backbone(data), _FLOAT32)
        return self._loss_fn(out, _cast_float(label, _FLOAT32))


# MindSpore's _config_level: what each level sets unless build_train_network's keyword arguments say otherwise
_CONFIG_LEVEL = {
    "O0": {"keep_batchnorm_fp32": False, "cast_model_type": _FLOAT32, "loss_scale_manager": None},
    "O1": {"keep_batchnorm_fp32": False, "cast_model_type": _FLOAT32, "loss_scale_manager": None},
    "O2": {"keep_batchnorm_fp32": True, "cast_model_type": np.dtype(np.float16), "loss_scale_manager": DynamicLossScaleManager},
    "O3": {"keep_batchnorm_fp32": False, "cast_model_type": np.dtype(np.float16), "loss_scale_manager": None},
}


def check_level(owner: str, level, boost_level) -> None:
    """``level`` and ``boost_level`` as MindSpore's ``build_train_network`` and ``Model`` take them."""
    if level == "auto":
        raise NotImplementedError(f"{owner}: level 'auto' (MindSpore's per-operator lists) is not supported; use 'O0' to 'O3'")
    if level not in _LEVELS:
        raise ValueError(f"{owner}: level must be one of {', '.join(_LEVELS)}, got {level!r}")
    if boost_level in ("O1", "O2"):
        raise NotImplementedError(f"{owner}: boost_level {boost_level!r} (mindspore.boost's training changes) is not supported; use 'O0'")
    if boost_level != "O0":
        raise ValueError(f"{owner}: boost_level must be 'O0', 'O1' or 'O2', got {boost_level!r}")


def _config(level: str, kwargs: dict) -> dict:
    unknown = set(kwargs) - {"keep_batchnorm_fp32", "cast_model_type", "loss_scale_manager"}
    if unknown:
        raise ValueError(f"build_train_network: unsupported argument(s) {', '.join(sorted(unknown))}")
    config = dict(_CONFIG_LEVEL[level])
    if config["loss_scale_manager"] is not None:
        config["loss_scale_manager"] = config["loss_scale_manager"]()
    config.update(kwargs)
    cast_type = np.dtype(config["cast_model_type"])
    if cast_type not in (np.dtype(np.float16), _FLOAT32):
        raise ValueError(f"build_train_network: cast_model_type must be float16 or float32, got {cast_type.name}")
    config["cast_model_type"] = cast_type
    if not isinstance(config["keep_batchnorm_fp32"], bool):
        raise TypeError(f"build_train_network: keep_batchnorm_fp32 must be a bool, got {config['keep_batchnorm_fp32']!r}")
    return config


def build_train_network(network: Cell, optimizer, loss_fn=None, level: str = "O0", boost_level: str = "O0", **kwargs) -> Cell:
    """A training-step Cell as MindSpore's ``amp.build_train_network`` builds it, ``network`` changed in place.

    ``level`` sets ``cast_model_type``, ``keep_batchnorm_fp32`` and ``loss_scale_manager`` (keyword arguments override
    each): O0 and O1 are float32 with no manager (O1 then applies ``auto_mixed_precision``'s O1); O2 is float16 with
    BatchNorm/LayerNorm kept in float32 and a ``DynamicLossScaleManager()`` (2**24, factor 2, window 2000); O3 is
    float16 throughout with no manager. A float16 network is cast with ``to_float`` and its outputs stay float16 (as
    ``Model.predict`` then returns them); ``loss_fn`` gets them, and the label, as float32. A manager with an update
    cell makes the step ``nn.TrainOneStepWithLossScaleCell``; ``FixedLossScaleManager(drop_overflow_update=False)``
    makes it ``nn.TrainOneStepCell`` with the scale as sensitivity; no manager, ``nn.TrainOneStepCell``.

    MindSpore's CPU backend refuses a manager with an update cell (O2's default included) with a ValueError; funcad
    runs it as MindSpore's GPU and Ascend backends do.
    """
    _check_network("build_train_network", network)
    check_level("build_train_network", level, boost_level)
    config = _config(level, kwargs)
    float16 = config["cast_model_type"] == np.dtype(np.float16)
    if float16:
        network.to_float(np.float16)
        if config["keep_batchnorm_fp32"]:
            _keep_float32(network, AMP_BLACK_LIST, np.dtype(np.float16))
    elif not config["keep_batchnorm_fp32"] and level == "O2":
        network.to_float(np.float16)
    elif level not in ("O2", "O3"):
        network = auto_mixed_precision(network, level)
    if loss_fn is not None:
        cast_loss = float16 or getattr(network, "_amp_level", None) in ("O2", "O3")
        network = (_Float32LossCell if cast_loss else WithLossCell)(network, loss_fn)
    step = loss_scaled_step(network, optimizer, config["loss_scale_manager"])
    return step.set_train()


def loss_scaled_step(network: Cell, optimizer, loss_scale_manager) -> Cell:
    """The training step a loss scale manager asks for, as MindSpore's ``build_train_network`` makes it:
    ``nn.TrainOneStepWithLossScaleCell`` over the manager's update cell, or, for a manager without one
    (``FixedLossScaleManager(drop_overflow_update=False)``), ``nn.TrainOneStepCell`` with the scale as its sensitivity,
    the optimizer's own ``loss_scale`` dividing it out; ``nn.TrainOneStepCell`` without a manager."""
    if loss_scale_manager is None:
        return TrainOneStepCell(network, optimizer)
    if not isinstance(loss_scale_manager, LossScaleManager):
        raise TypeError(f"loss_scale_manager must be a LossScaleManager (FixedLossScaleManager, DynamicLossScaleManager), "
                        f"got {type(loss_scale_manager).__name__}")
    loss_scale = loss_scale_manager.get_loss_scale()
    update_cell = loss_scale_manager.get_update_cell()
    if update_cell is None:
        return TrainOneStepCell(network, optimizer, sens=loss_scale)
    return TrainOneStepWithLossScaleCell(network, optimizer, update_cell)
