"""Optimizers called as ``optimizer(grads)`` with MindSpore's names and update formulas."""

from funcad.nn.optim.adam import Adam, AdamWeightDecay
from funcad.nn.optim.adaptive import Adagrad, RMSProp
from funcad.nn.optim.optimizer import Optimizer
from funcad.nn.optim.sgd import SGD, Momentum

__all__ = ["Optimizer", "SGD", "Momentum", "Adam", "AdamWeightDecay", "RMSProp", "Adagrad"]
