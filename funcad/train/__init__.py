"""``funcad.train``: MindSpore's high-level training API (``Model`` with callbacks and metrics)."""

from funcad.nn.metrics import *  # noqa: F403 - every metric, listed in funcad.nn.metrics.__all__
from funcad.nn.metrics import __all__ as _metric_names
from funcad.train.callback import Callback, LossMonitor, RunContext, TimeMonitor
from funcad.train.checkpoint import CheckpointConfig, ModelCheckpoint
from funcad.train.model import Model

__all__ = ["Model", "Callback", "RunContext", "LossMonitor", "TimeMonitor", "ModelCheckpoint", "CheckpointConfig", *_metric_names]
