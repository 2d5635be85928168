"""funcad.nn: Cells, layers, losses, initialisers and optimizers with MindSpore 2.x's names."""

from funcad.nn.cell import Cell, CellList, SequentialCell
from funcad.nn.checkpoint import load_checkpoint, load_param_into_net, save_checkpoint
from funcad.nn.initializer import initializer
from funcad.nn.layer.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh, get_activation
from funcad.nn.layer.basic import Dense, Dropout, Flatten, Identity
from funcad.nn.layer.conv import Conv2d
from funcad.nn.layer.embedding import Embedding
from funcad.nn.layer.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from funcad.nn.layer.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from funcad.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, LossBase, MSELoss, NLLLoss, SmoothL1Loss
from funcad.nn.optim import SGD, Adam, AdamWeightDecay, Momentum, Optimizer
from funcad.nn.per_sample import per_sample_grads

__all__ = [
    "Cell", "CellList", "SequentialCell",
    "save_checkpoint", "load_checkpoint", "load_param_into_net", "initializer",
    "Dense", "Dropout", "Flatten", "Identity", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Embedding",
    "ReLU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "LeakyReLU", "ELU", "get_activation",
    "LossBase", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss", "MSELoss", "L1Loss", "SmoothL1Loss",
    "Optimizer", "SGD", "Momentum", "Adam", "AdamWeightDecay", "per_sample_grads",
]
