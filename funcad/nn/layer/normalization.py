"""BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm, GroupNorm and InstanceNorm2d with MindSpore's parameter names and conventions.

Parameter names follow MindSpore (``gamma``, ``beta``, ``moving_mean``, ``moving_variance``); each class's
``torch_names`` says which torch state_dict key each one corresponds to.
"""

from __future__ import annotations

import numpy as np

from funcad import ops
from funcad.core.dtypes import float32
from funcad.core.tensor import Parameter
from funcad.nn.cell import Cell
from funcad.nn.initializer import initializer
from funcad.nn.layer.basic import check_input, positive_int
from funcad.ops.local_norms import rms_normalized
from funcad.ops.norm import batch_norm_with_stats


class _BatchNorm(Cell):
    """Normalise over every axis but the channel axis 1.

    Training mode (``set_train()``) uses the batch statistics and updates the running ones; evaluation mode
    uses the running ones. MindSpore's momentum convention::

        moving_mean <- momentum * moving_mean + (1 - momentum) * batch_mean        (default momentum 0.9)

    i.e. torch's ``momentum`` is ``1 - momentum`` here (MindSpore 0.9 == torch 0.1). The running variance is
    updated with the unbiased batch variance, as torch does; the normalisation uses the biased one.
    Parameters map to torch's BatchNorm state_dict as gamma->weight, beta->bias, moving_mean->running_mean,
    moving_variance->running_var (torch's num_batches_tracked has no counterpart).
    ``use_batch_statistics``: None follows the training flag, True/False forces batch/running statistics.
    """

    torch_names = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
    _ranks: tuple = ()
    _expected = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.9, affine: bool = True, gamma_init="ones", beta_init="zeros",
                 moving_mean_init="zeros", moving_var_init="ones", use_batch_statistics=None, dtype=float32):
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1], got {momentum}")
        self.num_features = positive_int(num_features, type(self).__name__, "num_features")
        self.eps, self.momentum = float(eps), float(momentum)
        self.affine, self.use_batch_statistics = affine, use_batch_statistics
        shape = (self.num_features,)
        self.gamma = Parameter(initializer(gamma_init, shape, dtype), requires_grad=affine)
        self.beta = Parameter(initializer(beta_init, shape, dtype), requires_grad=affine)
        self.moving_mean = Parameter(initializer(moving_mean_init, shape, dtype), requires_grad=False)
        self.moving_variance = Parameter(initializer(moving_var_init, shape, dtype), requires_grad=False)

    def construct(self, x):
        check_input(self, x, self._ranks, {1: self.num_features}, self._expected.format(c=self.num_features))
        batch_stats = self.training if self.use_batch_statistics is None else self.use_batch_statistics
        if batch_stats and x.size == self.num_features:
            raise ValueError(f"{self._where()}: batch statistics need more than one value per channel, got input of shape {tuple(x.shape)}")
        y, mean, var = batch_norm_with_stats(x, self.moving_mean, self.moving_variance, self.gamma, self.beta, batch_stats,
                                      momentum=1.0 - self.momentum, eps=self.eps)
        if batch_stats:
            self.moving_mean.set_data(ops.stop_gradient(mean))
            self.moving_variance.set_data(ops.stop_gradient(var))
        return y

    def extend_repr(self) -> str:
        return f"num_features={self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class BatchNorm1d(_BatchNorm):
    __doc__ = "Batch normalisation of (N, C) or (N, C, L) inputs.\n\n    " + _BatchNorm.__doc__
    _ranks = (2, 3)
    _expected = "(N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNorm):
    __doc__ = "Batch normalisation of (N, C, H, W) inputs; ``data_format`` 'NCHW' only.\n\n    " + _BatchNorm.__doc__
    _ranks = (4,)
    _expected = "(N, {c}, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.9, affine: bool = True, gamma_init="ones", beta_init="zeros",
                 moving_mean_init="zeros", moving_var_init="ones", use_batch_statistics=None, data_format: str = "NCHW", dtype=float32):
        # MindSpore 2.x's order: data_format before dtype
        if data_format != "NCHW":
            raise ValueError(f"BatchNorm2d: data_format={data_format!r}: only 'NCHW' is supported")
        super().__init__(num_features, eps, momentum, affine, gamma_init, beta_init, moving_mean_init, moving_var_init, use_batch_statistics, dtype)


class SyncBatchNorm(_BatchNorm):
    __doc__ = ("Batch normalisation of (N, C, H, W) inputs whose statistics MindSpore gathers across the devices of "
               "``process_groups``; funcad runs in one process, so it is BatchNorm2d (groups naming any rank but 0 are "
               "refused).\n\n    " + _BatchNorm.__doc__)
    _ranks = (4,)
    _expected = "(N, {c}, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.9, affine: bool = True, gamma_init="ones", beta_init="zeros",
                 moving_mean_init="zeros", moving_var_init="ones", use_batch_statistics=None, process_groups=None, dtype=float32):
        if process_groups is not None:
            ranks = sorted({int(r) for group in process_groups for r in group})
            if ranks not in ([], [0]):
                raise ValueError(f"SyncBatchNorm: process_groups {process_groups!r} name ranks {ranks}; funcad runs one process (rank 0)")
        super().__init__(num_features, eps, momentum, affine, gamma_init, beta_init, moving_mean_init, moving_var_init, use_batch_statistics, dtype)
        self.process_groups = process_groups


class BatchNorm3d(_BatchNorm):
    __doc__ = "Batch normalisation of (N, C, D, H, W) inputs.\n\n    " + _BatchNorm.__doc__
    _ranks = (5,)
    _expected = "(N, {c}, D, H, W)"


class LayerNorm(Cell):
    """Normalise over the trailing axes given by ``normalized_shape`` (``begin_norm_axis`` must point at the
    first of them). MindSpore's default epsilon is 1e-7 (torch's is 1e-5). gamma->weight, beta->bias in torch."""

    torch_names = {"gamma": "weight", "beta": "bias"}

    def __init__(self, normalized_shape, begin_norm_axis: int = -1, begin_params_axis: int = -1, gamma_init="ones", beta_init="zeros",
                 epsilon: float = 1e-7, dtype=float32):
        super().__init__()
        if not isinstance(normalized_shape, (tuple, list)):
            raise TypeError(f"LayerNorm: normalized_shape must be a tuple or list, got {type(normalized_shape).__name__}")
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        if begin_norm_axis != begin_params_axis or (begin_norm_axis < 0 and -begin_norm_axis != len(self.normalized_shape)):
            raise ValueError(f"LayerNorm: begin_norm_axis={begin_norm_axis} and begin_params_axis={begin_params_axis} must both point at the "
                             f"first of the {len(self.normalized_shape)} normalised trailing axes {self.normalized_shape}")
        self.begin_norm_axis, self.epsilon = begin_norm_axis, float(epsilon)
        self.gamma = Parameter(initializer(gamma_init, self.normalized_shape, dtype))
        self.beta = Parameter(initializer(beta_init, self.normalized_shape, dtype))

    def construct(self, x):
        k = len(self.normalized_shape)
        shape = tuple(x.shape)
        axis_ok = self.begin_norm_axis < 0 or self.begin_norm_axis == len(shape) - k
        if len(shape) < k or shape[len(shape) - k:] != self.normalized_shape or not axis_ok:
            raise ValueError(f"{self._where()}: expected input of shape (*, {', '.join(map(str, self.normalized_shape))}), got {shape}")
        return ops.layer_norm(x, self.normalized_shape, self.gamma, self.beta, eps=self.epsilon)

    def extend_repr(self) -> str:
        return f"normalized_shape={self.normalized_shape}, epsilon={self.epsilon}"


class _PerSampleNorm(Cell):
    """Shared by GroupNorm and InstanceNorm2d: statistics of each sample alone, the same in training and evaluation."""

    torch_names = {"gamma": "weight", "beta": "bias"}

    def _affine(self, channels: int, affine: bool, gamma_init, beta_init, dtype) -> None:
        self.affine = bool(affine)
        self.gamma = Parameter(initializer(gamma_init, (channels,), dtype)) if affine else None
        self.beta = Parameter(initializer(beta_init, (channels,), dtype)) if affine else None


class GroupNorm(_PerSampleNorm):
    """Normalise (N, C, *) inputs over each group of C / num_groups channels (and all positions) per sample.

    gamma -> weight and beta -> bias in torch; without ``affine`` there are no parameters, as in torch."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, gamma_init="ones", beta_init="zeros",
                 dtype=float32):
        super().__init__()
        self.num_groups = positive_int(num_groups, "GroupNorm", "num_groups")
        self.num_channels = positive_int(num_channels, "GroupNorm", "num_channels")
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels {num_channels} must be divisible by num_groups {num_groups}")
        self.eps = float(eps)
        self._affine(self.num_channels, affine, gamma_init, beta_init, dtype)

    def construct(self, x):
        check_input(self, x, -2, {1: self.num_channels}, f"(N, {self.num_channels}, *)")
        return ops.group_norm(x, self.num_groups, self.gamma, self.beta, self.eps)

    def extend_repr(self) -> str:
        return f"num_groups={self.num_groups}, num_channels={self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(_PerSampleNorm):
    """Normalise each channel of each (N, C, *spatial) sample over its positions.

    MindSpore's default ``affine=True`` (torch's is False); gamma -> weight, beta -> bias. The output always uses
    the sample's own statistics, in training and evaluation, as MindSpore's does; running statistics are not kept
    (torch's default track_running_stats=False), so ``momentum`` is accepted for MindSpore's signature only.
    ``spatial`` and ``expected`` (the input's axes) are set by each subclass."""

    spatial: int
    expected: str

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True, gamma_init="ones",
                 beta_init="zeros", dtype=float32):
        super().__init__()
        self.num_features = positive_int(num_features, type(self).__name__, "num_features")
        self.eps, self.momentum = float(eps), float(momentum)
        self._affine(self.num_features, affine, gamma_init, beta_init, dtype)

    def construct(self, x):
        check_input(self, x, self.spatial + 2, {1: self.num_features}, self.expected.format(self.num_features))
        return ops.group_norm(x, self.num_features, self.gamma, self.beta, self.eps)

    def extend_repr(self) -> str:
        return f"num_features={self.num_features}, eps={self.eps}, affine={self.affine}"


class InstanceNorm1d(_InstanceNorm):
    spatial, expected = 1, "(N, {}, L)"


class InstanceNorm2d(_InstanceNorm):
    spatial, expected = 2, "(N, {}, H, W)"


class InstanceNorm3d(_InstanceNorm):
    spatial, expected = 3, "(N, {}, D, H, W)"


class RMSNorm(Cell):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` axes: x / sqrt(mean(x**2) + eps) * weight.

    MindSpore 2.x has ``ops.rms_norm`` but no layer; this one follows torch's ``nn.RMSNorm`` (names, defaults, the
    parameter ``weight``), so Llama-style torch models translate. ``eps=None`` is the machine epsilon of the input's
    dtype, as in torch."""

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True, dtype=float32):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape = tuple(positive_int(n, "RMSNorm", "normalized_shape") for n in shape)
        self.eps = None if eps is None else float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight = Parameter(initializer("ones", self.normalized_shape, dtype)) if elementwise_affine else None

    def construct(self, x):
        k = len(self.normalized_shape)
        shape = tuple(x.shape)
        if len(shape) < k or shape[len(shape) - k:] != self.normalized_shape:
            raise ValueError(f"{self._where()}: expected input of shape (*, {', '.join(map(str, self.normalized_shape))}), got {shape}")
        return rms_normalized(x, tuple(range(len(shape) - k, len(shape))), self.weight, self.eps)[0]

    def extend_repr(self) -> str:
        return f"normalized_shape={self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LRN(Cell):
    """Local response normalisation across channels of (N, C, H, W) input, MindSpore's ``nn.LRN``: x / (bias + alpha *
    sum of x**2 over the channels within ``depth_radius``) ** beta (alpha not divided by the window size, unlike torch's
    ``nn.LocalResponseNorm``)."""

    def __init__(self, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1.0, beta: float = 0.5, norm_region: str = "ACROSS_CHANNELS"):
        super().__init__()
        if isinstance(depth_radius, bool) or not isinstance(depth_radius, (int, np.integer)) or depth_radius < 0:
            raise ValueError(f"LRN: depth_radius must be a non-negative int, got {depth_radius!r}")
        if norm_region != "ACROSS_CHANNELS":
            raise ValueError(f"LRN: norm_region must be 'ACROSS_CHANNELS', got {norm_region!r}")
        self.depth_radius, self.bias, self.alpha, self.beta, self.norm_region = int(depth_radius), float(bias), float(alpha), float(beta), norm_region

    def construct(self, x):
        check_input(self, x, 4, expected="(N, C, H, W)")
        return ops.lrn(x, self.depth_radius, self.bias, self.alpha, self.beta, self.norm_region)

    def extend_repr(self) -> str:
        return f"depth_radius={self.depth_radius}, bias={self.bias}, alpha={self.alpha}, beta={self.beta}"
