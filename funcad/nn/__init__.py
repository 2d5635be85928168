"""funcad.nn: Cells, layers, losses, initialisers and optimizers with MindSpore 2.x's names."""

from funcad.amp.loss_scale import DynamicLossScaleUpdateCell, FixedLossScaleUpdateCell
from funcad.communication.grad_reducer import DistributedGradReducer
from funcad.nn.cell import Cell, CellDict, CellList, SequentialCell
from funcad.nn.checkpoint import load_checkpoint, load_param_into_net, save_checkpoint
from funcad.nn.graph_cell import GraphCell
from funcad.nn.initializer import initializer
from funcad.nn.layer import *  # noqa: F403 - every layer, listed in funcad.nn.layer.__all__
from funcad.nn.layer import __all__ as _layer_names
from funcad.nn.layer.activation import get_activation
from funcad.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    CTCLoss,
    DiceLoss,
    FocalLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    LossBase,
    MAELoss,
    MarginRankingLoss,
    MSELoss,
    MultiClassDiceLoss,
    MultilabelMarginLoss,
    MultiLabelSoftMarginLoss,
    MultiMarginLoss,
    NLLLoss,
    PoissonNLLLoss,
    RMSELoss,
    SmoothL1Loss,
    SoftMarginLoss,
    SoftmaxCrossEntropyWithLogits,
    TripletMarginLoss,
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
from funcad.nn.metrics import *  # noqa: F403 - every metric, listed in funcad.nn.metrics.__all__
from funcad.nn.metrics import __all__ as _metric_names
from funcad.nn.optim import (
    ASGD,
    FTRL,
    LARS,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    AdaMax,
    AdamWeightDecay,
    Lamb,
    LazyAdam,
    Momentum,
    Optimizer,
    ProximalAdagrad,
    RMSProp,
    Rprop,
)
from funcad.nn.per_sample import per_sample_grads
from funcad.nn.wrap import ForwardValueAndGrad, TrainOneStepCell, TrainOneStepWithLossScaleCell, WithEvalCell, WithGradCell, WithLossCell

__all__ = [
    "Cell", "CellList", "CellDict", "SequentialCell",
    "save_checkpoint", "load_checkpoint", "load_param_into_net", "initializer", "get_activation",
    *_layer_names,
    "LossBase", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "KLDivLoss",
    "CTCLoss", "MultiMarginLoss", "MultilabelMarginLoss",
    "CosineEmbeddingLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "MAELoss", "MarginRankingLoss", "MultiLabelSoftMarginLoss",
    "PoissonNLLLoss", "RMSELoss", "SoftMarginLoss", "TripletMarginLoss", "FocalLoss", "DiceLoss", "MultiClassDiceLoss",
    "Optimizer", "SGD", "Momentum", "Adam", "AdamWeightDecay", "RMSProp", "Adagrad", "per_sample_grads",
    "AdaMax", "Adadelta", "Rprop", "ASGD", "Lamb", "LARS", "FTRL", "ProximalAdagrad", "LazyAdam",
    "SoftmaxCrossEntropyWithLogits", "GraphCell", "DistributedGradReducer", "WithLossCell", "WithEvalCell",
    "WithGradCell", "ForwardValueAndGrad", "TrainOneStepCell",
    "TrainOneStepWithLossScaleCell", "DynamicLossScaleUpdateCell", "FixedLossScaleUpdateCell",
    *_metric_names,
    "LearningRateSchedule", "ExponentialDecayLR", "NaturalExpDecayLR", "InverseDecayLR", "CosineDecayLR",
    "PolynomialDecayLR", "WarmUpLR", "piecewise_constant_lr", "exponential_decay_lr", "natural_exp_decay_lr",
    "inverse_decay_lr", "cosine_decay_lr", "polynomial_decay_lr", "warmup_lr",
]
