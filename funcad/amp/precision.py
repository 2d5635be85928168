"""auto_mixed_precision: the O0-O3 levels of MindSpore's ``amp.auto_mixed_precision`` at Cell granularity."""

from __future__ import annotations

import numpy as np

from funcad.amp.loss_scale import DynamicLossScaleManager
from funcad.nn.cell import Cell
from funcad.nn.layer.basic import Dense
from funcad.nn.layer.conv import Conv2d
from funcad.nn.layer.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from funcad.nn.loss import LossBase
from funcad.nn.wrap import TrainOneStepCell, TrainOneStepWithLossScaleCell, WithLossCell

# O1 computes these in low precision (products and convolutions, where float16 pays); everything else stays float32.
AMP_WHITE_LIST = (Dense, Conv2d)
# O2 computes everything in low precision except these (statistics and losses need float32's range).
AMP_BLACK_LIST = (BatchNorm1d, BatchNorm2d, LayerNorm, LossBase)

_LEVELS = ("O0", "O1", "O2", "O3")
_LOW = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def auto_mixed_precision(network: Cell, amp_level: str = "O0", dtype=np.float16) -> Cell:
    """Set ``network`` (in place; returned) to mixed precision:

    - 'O0': unchanged, float32 throughout.
    - 'O1': the Cells of ``AMP_WHITE_LIST`` (Dense, Conv2d) compute in ``dtype``; the rest in float32.
    - 'O2': everything computes in ``dtype`` except the Cells of ``AMP_BLACK_LIST`` (normalisation and losses).
    - 'O3': everything computes in ``dtype``.

    At O1-O3 the network's floating-point outputs come back as float32, and Parameters stay float32 throughout.
    MindSpore's O1 lists ops (MatMul, Conv2D, ...) rather than Cells; funcad's whitelist is the Cells built on them.
    """
    if not isinstance(network, Cell):
        raise TypeError(f"auto_mixed_precision: network must be a Cell, got {type(network).__name__}")
    if amp_level not in _LEVELS:
        raise ValueError(f"auto_mixed_precision: amp_level must be one of {', '.join(_LEVELS)}, got {amp_level!r}")
    if amp_level == "O0":
        _low_dtype("auto_mixed_precision", dtype)
        return network
    white, black = {"O1": (AMP_WHITE_LIST, None), "O2": (None, AMP_BLACK_LIST), "O3": (None, ())}[amp_level]
    return _set_precision(network, _low_dtype("auto_mixed_precision", dtype), white, black)


def get_white_list() -> list[type]:
    """The Cells O1 computes in low precision (MindSpore's list names the primitives they are built on)."""
    return list(AMP_WHITE_LIST)


def get_black_list() -> list[type]:
    """The Cells O2 keeps in float32 (MindSpore's list names primitives)."""
    return list(AMP_BLACK_LIST)


def custom_mixed_precision(network: Cell, *, white_list: list | None = None, black_list: list | None = None, dtype=np.float16) -> Cell:
    """MindSpore's ``amp.custom_mixed_precision``: with ``white_list`` only those Cell types compute in ``dtype``; with
    ``black_list`` everything does except those (exactly one of the two). In place; returned; outputs come back as
    float32, as ``auto_mixed_precision``'s."""
    if not isinstance(network, Cell):
        raise TypeError(f"custom_mixed_precision: network must be a Cell, got {type(network).__name__}")
    if (white_list is None) == (black_list is None):
        raise ValueError("custom_mixed_precision: give exactly one of white_list and black_list")
    for name, listed in (("white_list", white_list), ("black_list", black_list)):
        if listed is not None and not all(isinstance(t, type) and issubclass(t, Cell) for t in listed):
            raise TypeError(f"custom_mixed_precision: {name} must list Cell classes (funcad sets precision per Cell), got {listed!r}")
    return _set_precision(network, _low_dtype("custom_mixed_precision", dtype), None if white_list is None else tuple(white_list),
                          None if black_list is None else tuple(black_list))


def _low_dtype(owner: str, dtype) -> np.dtype:
    low = np.dtype(dtype)
    if low not in _LOW:
        raise ValueError(f"{owner}: dtype must be float16, float32 or float64, got {low.name}")
    return low


def _set_precision(network: Cell, low: np.dtype, white: tuple | None, black: tuple | None) -> Cell:
    """The Cells of ``white`` in ``low`` (when given), else every Cell in ``low`` but those of ``black``; float32 outputs."""
    cells = [cell for _, cell in network.cells_and_names()]
    if white is not None:
        for cell in cells:
            if isinstance(cell, white):
                cell.to_float(low)
    else:
        network.to_float(low)
        for cell in cells:
            if isinstance(cell, black):
                cell.to_float(np.float32)
    object.__setattr__(network, "_output_dtype", np.dtype(np.float32))
    return network


def build_train_network(network: Cell, optimizer, loss_fn=None, level: str = "O0", boost_level: str = "O0",
                        loss_scale_manager=None, **kwargs) -> Cell:
    """A training-step Cell as MindSpore's ``amp.build_train_network`` builds it: ``network`` set to ``level`` by
    ``auto_mixed_precision``, wrapped with ``loss_fn`` (``nn.WithLossCell``) when given, and stepped by
    ``nn.TrainOneStepWithLossScaleCell`` under ``loss_scale_manager`` (level O2 defaults to a
    ``DynamicLossScaleManager``, as in MindSpore) or ``nn.TrainOneStepCell`` without one."""
    unknown = set(kwargs) - {"keep_batchnorm_fp32", "cast_model_type"}
    if unknown:
        raise TypeError(f"build_train_network: unknown argument(s) {', '.join(sorted(unknown))}")
    net = auto_mixed_precision(network, level)
    if loss_fn is not None:
        net = WithLossCell(net, loss_fn)
    if loss_scale_manager is None and level == "O2":
        loss_scale_manager = DynamicLossScaleManager()
    if loss_scale_manager is None:
        return TrainOneStepCell(net, optimizer)
    return loss_scaled_step(net, optimizer, loss_scale_manager)


def loss_scaled_step(network: Cell, optimizer, loss_scale_manager) -> Cell:
    """The training step a loss scale manager (Fixed- or DynamicLossScaleManager) asks for, as MindSpore's
    ``build_train_network`` makes it: ``nn.TrainOneStepWithLossScaleCell`` over the manager's update cell, or, for a
    manager without one (``FixedLossScaleManager(drop_overflow_update=False)``), ``nn.TrainOneStepCell`` with the
    scale as its sensitivity, the optimizer's own ``loss_scale`` dividing it out."""
    if not hasattr(loss_scale_manager, "get_update_cell"):
        raise TypeError(f"loss_scale_manager must be a FixedLossScaleManager or DynamicLossScaleManager, "
                        f"got {type(loss_scale_manager).__name__}")
    update_cell = loss_scale_manager.get_update_cell()
    if update_cell is None:
        return TrainOneStepCell(network, optimizer, sens=loss_scale_manager.get_loss_scale())
    return TrainOneStepWithLossScaleCell(network, optimizer, update_cell)
