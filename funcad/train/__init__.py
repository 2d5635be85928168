"""``funcad.train``: MindSpore's high-level training API (``Model`` with callbacks and metrics)."""

from funcad.nn.metrics import (
    F1,
    MAE,
    MSE,
    Accuracy,
    Fbeta,
    Loss,
    Metric,
    Precision,
    Recall,
    Top1CategoricalAccuracy,
    Top5CategoricalAccuracy,
    TopKCategoricalAccuracy,
)
from funcad.train.callback import Callback, LossMonitor, RunContext, TimeMonitor
from funcad.train.checkpoint import CheckpointConfig, ModelCheckpoint
from funcad.train.model import Model

__all__ = ["Model", "Callback", "RunContext", "LossMonitor", "TimeMonitor", "ModelCheckpoint", "CheckpointConfig", "Metric",
           "Accuracy", "Loss", "MAE", "MSE", "Precision", "Recall", "Fbeta", "F1", "TopKCategoricalAccuracy",
           "Top1CategoricalAccuracy", "Top5CategoricalAccuracy"]
