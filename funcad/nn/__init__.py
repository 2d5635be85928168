"""funcad.nn: Cells, layers, losses, initialisers and optimizers with MindSpore 2.x's names."""

from funcad.amp.loss_scale import DynamicLossScaleUpdateCell, FixedLossScaleUpdateCell
from funcad.nn.cell import Cell, CellList, SequentialCell
from funcad.nn.checkpoint import load_checkpoint, load_param_into_net, save_checkpoint
from funcad.nn.graph_cell import GraphCell
from funcad.nn.initializer import initializer
from funcad.nn.layer.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Tanh, get_activation
from funcad.nn.layer.basic import Dense, Dropout, Flatten, Identity
from funcad.nn.layer.conv import Conv2d
from funcad.nn.layer.embedding import Embedding
from funcad.nn.layer.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from funcad.nn.layer.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from funcad.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    LossBase,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
    SoftmaxCrossEntropyWithLogits,
)
from funcad.nn.lr import (
    CosineDecayLR,
    ExponentialDecayLR,
    InverseDecayLR,
    LearningRateSchedule,
    NaturalExpDecayLR,
    PolynomialDecayLR,
    WarmUpLR,
    cosine_decay_lr,
    exponential_decay_lr,
    inverse_decay_lr,
    natural_exp_decay_lr,
    piecewise_constant_lr,
    polynomial_decay_lr,
    warmup_lr,
)
from funcad.nn.metrics import MAE, MSE, Accuracy, Loss, Metric, get_metric_fn
from funcad.nn.optim import SGD, Adam, AdamWeightDecay, Momentum, Optimizer
from funcad.nn.wrap import TrainOneStepCell, TrainOneStepWithLossScaleCell, WithEvalCell, WithLossCell

__all__ = [
    "Cell", "CellList", "SequentialCell",
    "save_checkpoint", "load_checkpoint", "load_param_into_net", "initializer",
    "Dense", "Dropout", "Flatten", "Identity", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Embedding",
    "ReLU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "LeakyReLU", "ELU", "get_activation",
    "LossBase", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss", "MSELoss", "L1Loss", "SmoothL1Loss",
    "Optimizer", "SGD", "Momentum", "Adam", "AdamWeightDecay",
    "SoftmaxCrossEntropyWithLogits", "GraphCell", "WithLossCell", "WithEvalCell", "TrainOneStepCell",
    "TrainOneStepWithLossScaleCell", "DynamicLossScaleUpdateCell", "FixedLossScaleUpdateCell",
    "Metric", "Accuracy", "Loss", "MAE", "MSE", "get_metric_fn",
    "LearningRateSchedule", "ExponentialDecayLR", "NaturalExpDecayLR", "InverseDecayLR", "CosineDecayLR",
    "PolynomialDecayLR", "WarmUpLR", "piecewise_constant_lr", "exponential_decay_lr", "natural_exp_decay_lr",
    "inverse_decay_lr", "cosine_decay_lr", "polynomial_decay_lr", "warmup_lr",
]
