"""The built-in models and their training loop written the imperative PyTorch way, the parameter bridge to funcad, and
the twins: ``mirror`` (a funcad Cell's torch module) and ``to_funcad`` (a torch module's funcad Cell)."""

from torch_ref.bridge import BridgeError, copy_funcad_to_torch, copy_torch_to_funcad, default_name_map, funcad_state, torch_state
from torch_ref.layer_table import TranslationError
from torch_ref.mirror import mirror, mirror_twin
from torch_ref.optim import MindSporeAdam, make_torch_optimizer
from torch_ref.pipeline import TorchTrainer, default_device, train
from torch_ref.to_funcad import funcad_twin, to_funcad
from torch_ref.twin import Twin

__all__ = [
    "BridgeError", "copy_funcad_to_torch", "default_name_map", "copy_torch_to_funcad", "funcad_state", "torch_state",
    "MindSporeAdam", "make_torch_optimizer", "TorchTrainer", "default_device", "train",
    "mirror", "mirror_twin", "to_funcad", "funcad_twin", "Twin", "TranslationError",
]
