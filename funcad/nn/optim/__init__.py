"""Optimizers called as ``optimizer(grads)`` with MindSpore's names and update formulas."""

from funcad.nn.optim.adam import Adam, AdaMax, AdamWeightDecay, LazyAdam
from funcad.nn.optim.adaptive import FTRL, Adadelta, Adagrad, ProximalAdagrad, RMSProp
from funcad.nn.optim.lamb import LARS, Lamb
from funcad.nn.optim.optimizer import Optimizer
from funcad.nn.optim.rprop import Rprop
from funcad.nn.optim.sgd import ASGD, SGD, Momentum

__all__ = ["Optimizer", "SGD", "Momentum", "Adam", "AdamWeightDecay", "RMSProp", "Adagrad", "AdaMax", "Adadelta", "Rprop", "ASGD", "Lamb",
           "LARS", "FTRL", "ProximalAdagrad", "LazyAdam"]
