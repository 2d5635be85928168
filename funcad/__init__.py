"""funcad: a functional autodiff engine on NumPy with MindSpore 2.x's API."""

from funcad import amp, common, communication, context, dataset, nn, numpy, ops, testing, train
from funcad.common import dtype
from funcad.common.dtype import dtype_to_nptype, pytype_to_dtype
from funcad.common.parameter import ParameterTuple
from funcad.common.sparse import COOTensor, CSRTensor
from funcad.context import (
    COMPATIBLE,
    GRAPH_MODE,
    LAX,
    PYNATIVE_MODE,
    STRICT,
    ParallelMode,
    get_auto_parallel_context,
    get_context,
    reset_auto_parallel_context,
    set_auto_parallel_context,
    set_context,
)
from funcad.core.batching import vmap
from funcad.core.conv_pin import conv_algorithm
from funcad.core.custom import custom_jvp, custom_vjp
from funcad.core.dtypes import (
    bfloat16,
    bool_,
    complex64,
    complex128,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
)
from funcad.core.jacobians import hessian, hvp, jacfwd, jacrev
from funcad.core.primitive import Primitive, primitive
from funcad.core.seed import get_seed, set_seed
from funcad.core.tensor import Parameter, Tensor
from funcad.core.transforms import grad, jvp, value_and_grad, vjp
from funcad.export import export, load
from funcad.jit import jit, jit_class, mutable
from funcad.module_paths import install as _install_module_paths
from funcad.nn.checkpoint import load_checkpoint, load_param_into_net, save_checkpoint
from funcad.train import (
    Callback,
    CheckpointConfig,
    DatasetHelper,
    DynamicLossScaleManager,
    EarlyStopping,
    FixedLossScaleManager,
    History,
    LambdaCallback,
    LearningRateScheduler,
    LossMonitor,
    Model,
    ModelCheckpoint,
    ReduceLROnPlateau,
    RunContext,
    TimeMonitor,
)

ms_function = jit  # MindSpore 1.x's name for jit
ms_class = jit_class  # and for jit_class
_install_module_paths()

# funcad.numpy (MindSpore's mindspore.numpy) is reachable as an attribute but left out of __all__: a star import must
# not shadow the user's numpy.
__all__ = [
    "ops", "nn", "Tensor", "Parameter", "Primitive", "primitive", "grad", "value_and_grad", "vjp", "jvp", "jit",
    "vmap", "jacfwd", "jacrev", "hessian", "hvp", "custom_vjp", "custom_jvp", "conv_algorithm",
    "save_checkpoint", "load_checkpoint", "load_param_into_net", "export", "load",
    "Model", "DatasetHelper", "ModelCheckpoint", "CheckpointConfig", "LossMonitor", "TimeMonitor", "Callback", "RunContext",
    "FixedLossScaleManager", "DynamicLossScaleManager", "EarlyStopping", "ReduceLROnPlateau", "LearningRateScheduler", "History", "LambdaCallback",
    "jit_class", "mutable", "ms_function", "ms_class",
    "set_seed", "get_seed", "bool_", "bfloat16", "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
    "uint16", "uint32", "uint64", "complex64", "complex128", "dtype",
    "common", "context", "amp", "train", "dataset", "communication",
    "set_auto_parallel_context", "get_auto_parallel_context", "reset_auto_parallel_context", "ParallelMode",
    "ParameterTuple", "COOTensor", "CSRTensor", "set_context", "get_context", "GRAPH_MODE", "PYNATIVE_MODE",
    "STRICT", "COMPATIBLE", "LAX",
    "from_numpy", "tensor", "dtype_to_nptype", "pytype_to_dtype",
]
__version__ = "0.1.0"

from_numpy = Tensor.from_numpy  # MindSpore's ms.from_numpy(array): a Tensor sharing the array


def tensor(input_data=None, dtype=None) -> Tensor:
    """MindSpore's ``ms.tensor(data, dtype)``: ``Tensor(data, dtype)``."""
    return Tensor(input_data, dtype)
