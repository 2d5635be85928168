"""The ``funcad.ops`` namespace: every op accepts Tensors, numpy arrays and Python scalars."""

from functools import partial  # mindspore.ops.partial: functools.partial binds what MindSpore's binds

from funcad.core import tensor as _tensor_module
from funcad.core.batching import vmap
from funcad.core.complex_parts import angle, complex, conj, imag, real
from funcad.core.jacobians import jacfwd, jacrev
from funcad.core.transforms import grad, jvp, value_and_grad, vjp  # MindSpore offers its transforms in ops too
from funcad.ops import array_utils as _array_utils
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
    clip_by_norm,
    clip_by_value,
    cosine_similarity,
    count_nonzero,
    cumprod,
    diag,
    diagflat,
    diff,
    dist,
    div,
    eq,
    fill,
    ge,
    gt,
    hstack,
    inner,
    inv,
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
    positive,
    pow,
    qr,
    repeat_interleave,
    roll,
    row_stack,
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
from funcad.ops.array_utils import (
    absolute,
    addmv,
    addn,
    addr,
    adjoint,
    aminmax,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    bernoulli,
    bidense,
    bitwise_and,
    bitwise_or,
    bitwise_xor,
    column_stack,
    cross,
    diag_embed,
    diagonal,
    dsplit,
    dstack,
    dtype,
    fliplr,
    flipud,
    float_power,
    fmax,
    fmin,
    frac,
    gcd,
    ger,
    heaviside,
    hsplit,
    index_fill,
    invert,
    is_complex,
    is_floating_point,
    isneginf,
    isposinf,
    kron,
    lcm,
    ldexp,
    logaddexp2,
    logdet,
    matrix_band_part,
    nanmean,
    nansum,
    numel,
    rand_like,
    randn_like,
    range,
    rank,
    ravel,
    repeat_elements,
    rot90,
    sequence_mask,
    sgn,
    signbit,
    size,
    swapdims,
    t,
    tensor_split,
    trapz,
    unbind,
    vecdot,
    vsplit,
)
from funcad.ops.composite import HyperMap, Map, MultitypeFuncGraph
from funcad.ops.creation import arange, eye, full, full_like, linspace, ones, ones_like, tensor, zeros, zeros_like
from funcad.ops.cross_entropy import cross_entropy
from funcad.ops.ctc import ctc_loss
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
from funcad.ops.graph_helpers import ApplyMomentum, FloatStatus, Partial, tuple_to_array
from funcad.ops.grids import affine_grid, grid_sample
from funcad.ops.hook import HookBackward
from funcad.ops.indexing import argsort, cummax, cummin, gather, gather_elements, masked_fill, nonzero, sort, topk, unique
from funcad.ops.linalg import batch_dot, dense, dot, einsum, matmul, outer, tensordot
from funcad.ops.linalg_functions import (
    block_diag,
    cholesky_solve,
    eig,
    eigvals,
    lstsq,
    lu_solve,
    matrix_exp,
    matrix_power,
    orgqr,
    pinv,
    svd,
    vander,
)
from funcad.ops.local_norms import channel_shuffle, lrn, rms_norm
from funcad.ops.margin_losses import (
    cosine_embedding_loss,
    gaussian_nll_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
)
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
    tan,
    tanh,
    where,
)
from funcad.ops.ms_keywords import adapt_namespace as _adapt_namespace
from funcad.ops.ms_signatures import avg_pool2d, broadcast_to, conv1d, conv2d, conv3d, fast_gelu, flatten, softmax, subtract
from funcad.ops.nn import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    kl_div,
    l1_loss,
    log_softmax,
    mse_loss,
    nll_loss,
)
from funcad.ops.norm import batch_norm, group_norm, layer_norm
from funcad.ops.order_statistics import kthvalue, median, mode, nanmedian
from funcad.ops.padding import pad
from funcad.ops.patches import fold, unfold
from funcad.ops.pool import adaptive_avg_pool2d, adaptive_max_pool2d, max_pool2d
from funcad.ops.pool_functions import (
    adaptive_max_pool1d,
    avg_pool1d,
    lp_pool1d,
    lp_pool2d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
from funcad.ops.primitive_classes import depend
from funcad.ops.random import dropout
from funcad.ops.random_nn import dropout2d, dropout3d, rrelu
from funcad.ops.recurrent import lstm_cell, lstm_sequence
from funcad.ops.reduce import amax, amin, argmax, argmin, cumsum, logcumsumexp, logsumexp, max, mean, min, norm, prod, std, sum, var, vector_norm
from funcad.ops.resize import interpolate
from funcad.ops.sampling import multinomial, normal, rand, randint, randn, standard_normal, uniform
from funcad.ops.scatter_ops import (
    gather_nd,
    index_add,
    index_select,
    masked_select,
    scatter,
    scatter_add,
    scatter_nd,
    tensor_scatter_add,
    tensor_scatter_div,
    tensor_scatter_elements,
    tensor_scatter_max,
    tensor_scatter_min,
    tensor_scatter_mul,
    tensor_scatter_sub,
    tensor_scatter_update,
    unsorted_segment_max,
    unsorted_segment_min,
    unsorted_segment_prod,
    unsorted_segment_sum,
)
from funcad.ops.shape import (
    cast,
    concat,
    concatenate,
    expand_dims,
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
from funcad.ops.shape import updated_at as _updated_at  # Tensor.__setitem__
from funcad.ops.slicing import meshgrid, slice, strided_slice, unstack
from funcad.ops.smooth_l1 import huber_loss, smooth_l1_loss
from funcad.ops.state import apply_gradient_descent, assign, assign_add, assign_sub
from funcad.ops.statistics import (
    argwhere,
    bincount,
    bucketize,
    cartesian_prod,
    combinations,
    histc,
    msort,
    nanquantile,
    pdist,
    quantile,
    renorm,
    searchsorted,
    unique_consecutive,
)
from funcad.ops.transcendental import (
    acos,
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
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
from funcad.ops.volume import adaptive_avg_pool3d, adaptive_max_pool3d, avg_pool3d, max_pool3d
from funcad.scipy.special import digamma, erfc, polygamma, xlogy
from funcad.scipy.special import gammaln as lgamma

globals().update({name: getattr(_classes, name) for name in _classes.CLASS_NAMES})  # ops.Sin, ops.MatMul, ...
globals().update({name: getattr(_layer_classes, name) for name in _layer_classes.LAYER_CLASS_NAMES})  # ops.Conv2D, ...
_tensor_module.bind_ops(__import__("sys").modules[__name__])
shape = _array_utils.shape  # MindSpore's ops.shape(x), bound last: the submodule funcad.ops.shape is imported by its full path
_adapt_namespace(globals())  # MindSpore's keyword names (ops.pow(x, exponent=2)); after bind_ops, whose operators need none
