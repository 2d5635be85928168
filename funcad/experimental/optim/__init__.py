"""MindSpore's torch-style optimizers (``mindspore.experimental.optim``): ``param_groups``, ``optimizer(grads)``, and
the schedulers of ``lr_scheduler`` that change each group's rate between steps, compiled ones included."""

from funcad.experimental.optim import lr_scheduler
from funcad.experimental.optim.adam import Adam, Adamax, AdamW, NAdam, RAdam
from funcad.experimental.optim.adaptive import Adadelta, Adagrad, RMSprop
from funcad.experimental.optim.optimizer import Optimizer
from funcad.experimental.optim.sgd import ASGD, SGD, Rprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adadelta", "Adagrad", "Adamax", "ASGD", "NAdam", "RAdam", "Rprop", "RMSprop", "lr_scheduler"]
