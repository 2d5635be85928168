"""funcad.nn: Cells, layers, losses, initialisers and optimizers with MindSpore 2.x's names."""

from funcad.nn.cell import Cell, CellList, SequentialCell
from funcad.nn.layer.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh, get_activation
from funcad.nn.layer.basic import Dense, Dropout, Flatten, Identity
from funcad.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, LossBase, MSELoss, NLLLoss, SmoothL1Loss
from funcad.nn.optim import SGD, Adam, AdamWeightDecay, Momentum, Optimizer

__all__ = [
    "Cell", "CellList", "SequentialCell",
    "Dense", "Dropout", "Flatten", "Identity",
    "ReLU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "LeakyReLU", "ELU", "get_activation",
    "LossBase", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss", "MSELoss", "L1Loss", "SmoothL1Loss",
    "Optimizer", "SGD", "Momentum", "Adam", "AdamWeightDecay",
]
