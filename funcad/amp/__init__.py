"""``funcad.amp``: automatic mixed precision as MindSpore's ``mindspore.amp`` has it.

``auto_mixed_precision(net, level)`` sets Cells to compute in float16 through ``Cell.to_float`` as MindSpore's levels
do (float32 master Parameters stay float32: gradients and updates happen in float32); ``build_train_network`` makes
the training step MindSpore's level configuration asks for. Loss scalers multiply the loss before differentiation and
divide the gradients after; ``all_finite`` tells whether a step's gradients overflowed.
"""

from funcad.amp.loss_scale import (
    DynamicLossScaleManager,
    DynamicLossScaler,
    FixedLossScaleManager,
    LossScaleManager,
    LossScaler,
    StaticLossScaler,
    all_finite,
)
from funcad.amp.precision import (
    AMP_BLACK_LIST,
    AMP_WHITE_LIST,
    auto_mixed_precision,
    build_train_network,
    custom_mixed_precision,
    get_black_list,
    get_white_list,
)

__all__ = ["auto_mixed_precision", "custom_mixed_precision", "get_white_list", "get_black_list",
           "build_train_network", "AMP_WHITE_LIST", "AMP_BLACK_LIST", "LossScaler",
           "StaticLossScaler", "DynamicLossScaler", "all_finite", "LossScaleManager", "FixedLossScaleManager",
           "DynamicLossScaleManager"]
