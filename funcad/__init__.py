"""funcad: a functional autodiff engine on NumPy with MindSpore 2.x's API."""

from funcad import nn, ops, testing
from funcad.core.dtypes import bool_, float16, float32, float64, int8, int16, int32, int64, uint8
from funcad.core.primitive import Primitive, primitive
from funcad.core.seed import get_seed, set_seed
from funcad.core.tensor import Parameter, Tensor
from funcad.core.transforms import grad, jvp, value_and_grad, vjp
from funcad.jit import jit
from funcad.nn.checkpoint import load_checkpoint, load_param_into_net, save_checkpoint

__all__ = [
    "ops", "nn", "Tensor", "Parameter", "Primitive", "primitive", "grad", "value_and_grad", "vjp", "jvp", "jit",
    "save_checkpoint", "load_checkpoint", "load_param_into_net",
    "set_seed", "get_seed", "bool_", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
]
__version__ = "0.1.0"
