"""``funcad.train``: MindSpore's high-level training API (``Model`` with callbacks and metrics)."""

from funcad.amp.loss_scale import DynamicLossScaleManager, FixedLossScaleManager  # also mindspore.train's names
from funcad.nn.metrics import *  # noqa: F403 - every metric, listed in funcad.nn.metrics.__all__
from funcad.nn.metrics import __all__ as _metric_names
from funcad.train.callback import Callback, LossMonitor, RunContext, TimeMonitor
from funcad.train.checkpoint import CheckpointConfig, ModelCheckpoint
from funcad.train.dataset_helper import DatasetHelper
from funcad.train.early_stopping import EarlyStopping
from funcad.train.history import History
from funcad.train.lambda_callback import LambdaCallback
from funcad.train.lr_scheduler import LearningRateScheduler
from funcad.train.model import Model
from funcad.train.reduce_lr import ReduceLROnPlateau

__all__ = ["Model", "DatasetHelper", "FixedLossScaleManager", "DynamicLossScaleManager",
           "Callback", "RunContext", "LossMonitor", "TimeMonitor", "ModelCheckpoint", "CheckpointConfig", "EarlyStopping",
           "ReduceLROnPlateau", "LearningRateScheduler", "History", "LambdaCallback", *_metric_names]
