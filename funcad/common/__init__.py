"""``funcad.common``: MindSpore's ``mindspore.common`` layout (Tensor, Parameter, dtype, initializer, seeds)."""

from funcad.common import dtype, initializer
from funcad.common.parameter import ParameterTuple
from funcad.core.seed import get_seed, set_seed
from funcad.core.tensor import Parameter, Tensor

__all__ = ["dtype", "initializer", "Tensor", "Parameter", "ParameterTuple", "set_seed", "get_seed"]
