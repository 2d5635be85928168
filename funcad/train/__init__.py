"""``funcad.train``: MindSpore's high-level training API (``Model`` with callbacks and metrics)."""

from funcad.nn.metrics import MAE, MSE, Accuracy, Loss, Metric
from funcad.train.callback import Callback, LossMonitor, RunContext, TimeMonitor
from funcad.train.checkpoint import CheckpointConfig, ModelCheckpoint
from funcad.train.model import Model

__all__ = ["Model", "Callback", "RunContext", "LossMonitor", "TimeMonitor", "ModelCheckpoint", "CheckpointConfig", "Metric",
           "Accuracy", "Loss", "MAE", "MSE"]
