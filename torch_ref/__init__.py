"""The built-in models and their training loop written the imperative PyTorch way, plus the parameter bridge to funcad."""

from torch_ref.bridge import BridgeError, copy_funcad_to_torch, copy_torch_to_funcad, default_name_map, funcad_state, torch_state
from torch_ref.optim import MindSporeAdam, make_torch_optimizer
from torch_ref.pipeline import TorchTrainer, default_device, train

__all__ = [
    "BridgeError", "copy_funcad_to_torch", "default_name_map", "copy_torch_to_funcad", "funcad_state", "torch_state",
    "MindSporeAdam", "make_torch_optimizer", "TorchTrainer", "default_device", "train",
]
