"""The ``funcad.ops`` namespace: every op accepts Tensors, numpy arrays and Python scalars."""

from funcad.core import tensor as _tensor_module
from funcad.core.complex_parts import angle, complex, conj, imag, real
from funcad.core.transforms import grad, jvp, value_and_grad, vjp  # MindSpore offers its transforms in ops too
from funcad.ops import conv_fusion as _conv_fusion  # noqa: F401 - declares the convolution's fused epilogue
from funcad.ops import layer_classes as _layer_classes
from funcad.ops import primitive_classes as _classes
from funcad.ops.activation import elu, gelu, leaky_relu, silu
from funcad.ops.activation_composites import (
    celu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    logsigmoid,
    mish,
    prelu,
    relu6,
    selu,
    softmin,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
)
from funcad.ops.aliases import (
    addcdiv,
    addcmul,
    addmm,
    all,
    any,
    baddbmm,
    bias_add,
    bmm,
    cat,
    cdist,
    cholesky,
    chunk,
    clamp,
    clip_by_global_norm,
    clip_by_value,
    cosine_similarity,
    count_nonzero,
    cumprod,
    diag,
    diff,
    dist,
    div,
    eq,
    fill,
    ge,
    gt,
    hstack,
    inner,
    inverse,
    isclose,
    le,
    lerp,
    lt,
    mm,
    moveaxis,
    movedim,
    mul,
    mv,
    nan_to_num,
    narrow,
    ne,
    neg,
    pairwise_distance,
    permute,
    pixel_shuffle,
    pixel_unshuffle,
    pow,
    qr,
    repeat_interleave,
    roll,
    rsub,
    select,
    std_mean,
    sub,
    tensor_dot,
    trace,
    tril,
    triu,
    true_divide,
    unflatten,
    unsqueeze,
    var_mean,
    vstack,
)
from funcad.ops.conv import conv1d, conv2d
from funcad.ops.creation import arange, eye, full, full_like, linspace, ones, ones_like, tensor, zeros, zeros_like
from funcad.ops.cross_entropy import cross_entropy
from funcad.ops.decompositions import det, slogdet
from funcad.ops.embedding import embedding
from funcad.ops.fourier import (
    fft,
    fft2,
    fftfreq,
    fftn,
    fftshift,
    hfft,
    ifft,
    ifft2,
    ifftn,
    ifftshift,
    ihfft,
    irfft,
    irfft2,
    irfftn,
    rfft,
    rfft2,
    rfftfreq,
    rfftn,
)
from funcad.ops.grad_operation import GradOperation
from funcad.ops.hook import HookBackward
from funcad.ops.indexing import argsort, gather, gather_elements, masked_fill, nonzero, sort, topk, unique
from funcad.ops.linalg import dense, dot, einsum, matmul, outer, tensordot
from funcad.ops.math import (
    abs,
    add,
    ceil,
    clip,
    cos,
    divide,
    equal,
    erf,
    exp,
    expm1,
    floor,
    floor_divide,
    greater,
    greater_equal,
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log,
    log1p,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    multiply,
    negative,
    not_equal,
    power,
    relu,
    remainder,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    softplus,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    where,
)
from funcad.ops.nn import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    kl_div,
    l1_loss,
    log_softmax,
    mse_loss,
    nll_loss,
    softmax,
)
from funcad.ops.norm import batch_norm, layer_norm
from funcad.ops.padding import pad
from funcad.ops.patches import fold, unfold
from funcad.ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from funcad.ops.primitive_classes import depend
from funcad.ops.random import dropout
from funcad.ops.recurrent import lstm_cell, lstm_sequence
from funcad.ops.reduce import amax, amin, argmax, argmin, cumsum, logsumexp, max, mean, min, norm, prod, std, sum, var
from funcad.ops.resize import interpolate
from funcad.ops.sampling import normal, rand, randint, randn, uniform
from funcad.ops.scatter_ops import (
    gather_nd,
    index_add,
    index_select,
    masked_select,
    scatter,
    scatter_nd,
    tensor_scatter_add,
    tensor_scatter_elements,
    tensor_scatter_sub,
    tensor_scatter_update,
    unsorted_segment_sum,
)
from funcad.ops.shape import (
    broadcast_to,
    cast,
    concat,
    concatenate,
    expand_dims,
    flatten,
    flip,
    getitem,
    one_hot,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    stop_gradient,
    sum_to,
    swapaxes,
    take_along_axis,
    tile,
    transpose,
    unbroadcast,
)
from funcad.ops.slicing import meshgrid, slice, strided_slice, unstack
from funcad.ops.smooth_l1 import smooth_l1_loss
from funcad.ops.state import apply_gradient_descent, assign, assign_add, assign_sub
from funcad.ops.transcendental import (
    acos,
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctanh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    cosh,
    deg2rad,
    exp2,
    fmod,
    hypot,
    log2,
    log10,
    logaddexp,
    logit,
    rad2deg,
    reciprocal,
    sinh,
    trunc,
)
from funcad.scipy.special import digamma, erfc
from funcad.scipy.special import gammaln as lgamma

globals().update({name: getattr(_classes, name) for name in _classes.CLASS_NAMES})  # ops.Sin, ops.MatMul, ...
globals().update({name: getattr(_layer_classes, name) for name in _layer_classes.LAYER_CLASS_NAMES})  # ops.Conv2D, ...
_tensor_module.bind_ops(__import__("sys").modules[__name__])
