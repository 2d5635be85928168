"""``mindspore.train.serialization``: checkpoints (``funcad.nn.checkpoint``) and ``export``/``load`` of compiled graphs
(``funcad.export``), the names MindSpore keeps in this one module."""

from funcad.export import export, load
from funcad.nn.checkpoint import load_checkpoint, load_param_into_net, save_checkpoint

__all__ = ["export", "load", "load_checkpoint", "load_param_into_net", "save_checkpoint"]
