"""funcad.nn: Cells, layers, losses, initialisers and optimizers with MindSpore 2.x's names."""

from funcad.nn.cell import Cell, CellList, SequentialCell
from funcad.nn.checkpoint import load_checkpoint, load_param_into_net, save_checkpoint
from funcad.nn.initializer import initializer
from funcad.nn.layer import *  # noqa: F403 - every layer, listed in funcad.nn.layer.__all__
from funcad.nn.layer import __all__ as _layer_names
from funcad.nn.layer.activation import get_activation
from funcad.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, LossBase, MSELoss, NLLLoss, SmoothL1Loss
from funcad.nn.optim import SGD, Adam, AdamWeightDecay, Momentum, Optimizer

__all__ = [
    "Cell", "CellList", "SequentialCell",
    "save_checkpoint", "load_checkpoint", "load_param_into_net", "initializer", "get_activation",
    *_layer_names,
    "LossBase", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss", "MSELoss", "L1Loss", "SmoothL1Loss",
    "Optimizer", "SGD", "Momentum", "Adam", "AdamWeightDecay",
]
