"""One case per public op of funcad.ops, shared by the test files that check every op (jit equality, gradients).

``CASES``: op name -> (function of float arrays, its float arguments); integer arguments are closure constants.
``NOT_DIFFERENTIABLE``: the cases whose output comes from a primitive declared non-differentiable.
"""

from __future__ import annotations

import numpy as np

from funcad import ops
from funcad.jit import jit
from funcad.ops.primitive_classes import CLASS_NAMES

RNG = np.random.default_rng(7)
X = RNG.uniform(0.5, 2.0, (3, 4)).astype(np.float32)  # positive: log, sqrt, power are defined
Y = RNG.uniform(-1.5, 1.5, (3, 4)).astype(np.float32)
P = RNG.uniform(0.05, 0.95, (3, 4)).astype(np.float32)  # probabilities
IMG = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
KERNEL = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
LABELS = np.array([0, 3, 1])
IDX = np.array([[0, 2, 1, 3], [1, 1, 0, 2], [3, 0, 2, 1]])
CHANNEL = RNG.uniform(0.5, 1.5, 3).astype(np.float32)
COLUMNS = RNG.standard_normal((2, 12, 8)).astype(np.float32)  # 3 channels of 2x2 windows, 4x2 of them
SPD = (lambda a: (a @ a.T + 3.0 * np.eye(3)).astype(np.float32))(RNG.standard_normal((3, 3)))  # symmetric positive definite
SCALED = ops.MultitypeFuncGraph("scaled")
SCALED.register("Number", "Tensor")(lambda k, x: ops.multiply(x, k))
NANS = np.array([np.nan, 0.0, 0.0, np.nan], np.float32)  # added to an array: NaN in two columns
SPECIALS = np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)  # added to an array: nan, inf, -inf and its values

CASES = {
    "sinh": (ops.sinh, (Y,)), "cosh": (ops.cosh, (Y,)), "asinh": (ops.asinh, (Y,)), "arcsinh": (ops.arcsinh, (Y,)),
    "acosh": (lambda x: ops.acosh(x + 1.0), (X,)), "arccosh": (lambda x: ops.arccosh(x + 1.0), (X,)),
    "atanh": (lambda p: ops.atanh(p - 0.5), (P,)), "arctanh": (lambda p: ops.arctanh(p - 0.5), (P,)),
    "asin": (lambda p: ops.asin(p - 0.5), (P,)), "arcsin": (lambda p: ops.arcsin(p - 0.5), (P,)),
    "acos": (lambda p: ops.acos(p - 0.5), (P,)), "arccos": (lambda p: ops.arccos(p - 0.5), (P,)),
    "atan": (ops.atan, (Y,)), "arctan": (ops.arctan, (Y,)), "log2": (ops.log2, (X,)), "log10": (ops.log10, (X,)), "exp2": (ops.exp2, (Y,)),
    "reciprocal": (ops.reciprocal, (X,)), "trunc": (lambda y: ops.trunc(y * 3.0), (Y,)), "deg2rad": (ops.deg2rad, (Y,)),
    "rad2deg": (ops.rad2deg, (Y,)), "atan2": (ops.atan2, (Y, X)), "hypot": (ops.hypot, (X, Y)), "logaddexp": (ops.logaddexp, (X, Y)),
    "fmod": (ops.fmod, (Y, X)), "logit": (lambda p: ops.logit(p, eps=0.1), (P,)), "erfc": (ops.erfc, (Y,)), "lgamma": (ops.lgamma, (X,)),
    "digamma": (ops.digamma, (X,)), "any": (lambda y: ops.any(y > 0.5, axis=1), (Y,)), "all": (lambda y: ops.all(y > -1.0, 0, True), (Y,)),
    "count_nonzero": (lambda y: ops.count_nonzero(y > 0.0, axis=0), (Y,)), "addcmul": (lambda a, b: ops.addcmul(a, b, a, value=0.5), (X, Y)),
    "addcdiv": (lambda a, b: ops.addcdiv(b, b, a, value=2.0), (X, Y)), "true_divide": (ops.true_divide, (Y, X)),
    "rsub": (lambda a, b: ops.rsub(a, b, alpha=2.0), (X, Y)), "diff": (lambda y: ops.diff(y, 2, axis=1, prepend=y), (Y,)),
    "nan_to_num": (lambda x: ops.nan_to_num(x + SPECIALS, nan=0.5, neginf=-7.0), (X,)),
    "movedim": (lambda x: ops.movedim(ops.reshape(x, (3, 2, 2)), 0, 2), (X,)),
    "moveaxis": (lambda x: ops.moveaxis(ops.reshape(x, (3, 2, 2)), (0, 1), (2, 0)), (X,)),
    "unflatten": (lambda x: ops.unflatten(x, 1, (2, 2)), (X,)), "vstack": (lambda a, b: ops.vstack([a, b[0]]), (X, Y)),
    "hstack": (lambda a, b: ops.hstack([a, b]), (X, Y)), "std_mean": (lambda x: ops.add(*ops.std_mean(x, 1, ddof=1)), (X,)),
    "var_mean": (lambda x: ops.multiply(*ops.var_mean(x, 0, keepdims=True)), (X,)),
    "scatter": (lambda x, s: ops.scatter(x, 1, np.array([[0, 3], [1, 2], [2, 0]]), s), (X, Y[:, :2])),
    "inverse": (ops.inverse, (SPD,)), "det": (ops.det, (SPD,)), "slogdet": (lambda a: ops.multiply(*ops.slogdet(a)), (SPD,)),
    "cholesky": (lambda a: ops.cholesky((a + ops.transpose(a)) * 0.5, upper=True), (SPD,)),  # symmetric, as the rule assumes
    "qr": (lambda x: ops.concat(ops.qr(ops.reshape(x, (4, 3))), 0), (X,)),
    "jacfwd": (lambda x: ops.jacfwd(lambda v: ops.sin(v) * v)(x[0]), (Y,)), "jacrev": (lambda x: ops.jacrev(lambda v: ops.exp(v) * 2.0)(x[0]), (Y,)),
    "polygamma": (lambda x: ops.polygamma(2, x), (X,)), "xlogy": (ops.xlogy, (Y, X)), "absolute": (ops.absolute, (Y,)), "sgn": (ops.sgn, (Y,)),
    "t": (ops.t, (X,)), "adjoint": (ops.adjoint, (X,)), "ravel": (ops.ravel, (X,)), "numel": (lambda x: x * ops.numel(x), (X,)),
    "rank": (lambda x: x * ops.rank(x), (X,)), "unbind": (lambda x: ops.unbind(x, 1)[2], (X,)), "swapdims": (lambda x: ops.swapdims(x, 0, 1), (X,)),
    "ger": (lambda a, b: ops.ger(a[0], b[1]), (X, Y)), "gcd": (lambda x: x * ops.gcd(IDX, IDX + 4), (X,)),
    "lcm": (lambda x: x * ops.lcm(IDX + 1, 6), (X,)),
    "bitwise_and": (lambda x: x * ops.bitwise_and(IDX, 3), (X,)), "bitwise_or": (lambda x: x * ops.bitwise_or(IDX, 4), (X,)),
    "bitwise_xor": (lambda x: x * ops.bitwise_xor(IDX, 5), (X,)), "signbit": (ops.signbit, (Y,)), "fliplr": (ops.fliplr, (X,)),
    "flipud": (ops.flipud, (X,)),
    "rot90": (lambda x: ops.rot90(x, 3), (X,)), "atleast_1d": (lambda x: ops.atleast_1d(ops.sum(x)), (X,)),
    "atleast_2d": (lambda x: ops.atleast_2d(x[0]), (X,)), "atleast_3d": (lambda x: ops.atleast_3d(x), (X,)),
    "dstack": (lambda a, b: ops.dstack([a, b]), (X, Y)), "column_stack": (lambda a, b: ops.column_stack([a[:, 0], b]), (X, Y)),
    "hsplit": (lambda x: ops.hsplit(x, 2)[1], (X,)), "vsplit": (lambda x: ops.vsplit(x, [1])[1], (X,)),
    "dsplit": (lambda x: ops.dsplit(ops.reshape(x, (1, 3, 4)), 2)[0], (X,)), "diagonal": (lambda x: ops.diagonal(x, -1), (X,)),
    "diag_embed": (lambda x: ops.diag_embed(x, 1), (X,)), "matrix_band_part": (lambda x: ops.matrix_band_part(x, 1, 0), (X,)),
    "sequence_mask": (lambda x: x * ops.sequence_mask(np.array([1, 3, 0]), 4), (X,)), "kron": (lambda a, b: ops.kron(a, b[:2, :2]), (X, Y)),
    "cross": (lambda a, b: ops.cross(a, b[:, :3], 1), (X[:, :3], Y)),
    "addmv": (lambda a, b: ops.addmv(a[0, :3], b[:, :3], a[1, :3], 0.5, 2.0), (X, Y)),
    "addr": (lambda a, b: ops.addr(a, b[0, :3], a[0], alpha=3.0), (X, Y)), "vecdot": (lambda a, b: ops.vecdot(a, b, axis=0), (X, Y)),
    "frac": (lambda y: ops.frac(y * 3.0), (Y,)), "fmax": (lambda a, b: ops.fmax(a + NANS, b), (X, Y)),
    "fmin": (lambda a, b: ops.fmin(a, b + NANS), (X, Y)), "float_power": (lambda x: ops.float_power(x, 1.5), (X,)),
    "ldexp": (lambda x: ops.ldexp(x, IDX), (X,)), "logaddexp2": (ops.logaddexp2, (X, Y)), "heaviside": (lambda y: ops.heaviside(y, 0.5), (Y,)),
    "isposinf": (lambda x: ops.isposinf(x + SPECIALS), (X,)), "isneginf": (lambda x: ops.isneginf(x + SPECIALS), (X,)),
    "is_floating_point": (lambda x: x * float(ops.is_floating_point(x)), (X,)), "is_complex": (lambda x: x * float(1 + ops.is_complex(x)), (X,)),
    "nansum": (lambda x: ops.nansum(x + NANS, 1), (X,)), "nanmean": (lambda x: ops.nanmean(x + NANS, 1), (X,)),
    "aminmax": (lambda x: ops.add(*ops.aminmax(x, axis=1)), (X,)), "trapz": (lambda y, x: ops.trapz(y, ops.cumsum(x, 1), dim=1), (Y, X)),
    "logdet": (ops.logdet, (SPD,)), "repeat_elements": (lambda x: ops.repeat_elements(x, 2, 1), (X,)),
    "range": (lambda x: x[0] * ops.range(1, 9, 2), (X,)), "rand_like": (lambda x: ops.rand_like(x, seed=3), (X,)),
    "randn_like": (lambda x: ops.randn_like(x, seed=4), (X,)), "bernoulli": (lambda x: ops.bernoulli(x, 0.3, seed=5), (X,)),
    "index_fill": (lambda x: ops.index_fill(x, 1, np.array([0, 2]), -1.0), (X,)),
    "HyperMap": (lambda x, y: ops.HyperMap()(ops.multiply, (x, y), (y, y))[1], (X, Y)),
    "Map": (lambda x, y: ops.Map(ops.add)((x,), (y,))[0], (X, Y)), "MultitypeFuncGraph": (lambda x: SCALED(1.5, x), (X,)),
    "margin_ranking_loss": (lambda a, b: ops.margin_ranking_loss(a[0], b[0], np.sign(Y[1]), 0.2), (X, Y)),
    "soft_margin_loss": (lambda y: ops.soft_margin_loss(y, np.sign(Y + 0.3)), (Y,)),
    "hinge_embedding_loss": (lambda y: ops.hinge_embedding_loss(y, np.sign(Y * X - 1.0), 1.5), (Y,)),
    "cosine_embedding_loss": (lambda a, b: ops.cosine_embedding_loss(a, b, np.array([1.0, -1.0, 1.0]), -0.9), (X, Y)),
    "triplet_margin_loss": (lambda a, b: ops.triplet_margin_loss(a, b, a * 2.0 + 1.0, margin=3.0, swap=True), (X, Y)),
    "multilabel_soft_margin_loss": (lambda y: ops.multilabel_soft_margin_loss(y, (Y > 0).astype(np.float32), CHANNEL[:1]), (Y,)),
    "poisson_nll_loss": (lambda y: ops.poisson_nll_loss(y, (IDX * 1.0).astype(np.float32), full=True), (Y,)),
    "gaussian_nll_loss": (lambda a, b: ops.gaussian_nll_loss(a, b, a * 0.5, full=True), (X, Y)),
    "ctc_loss": (lambda a, b: ops.ctc_loss(ops.log_softmax(ops.stack([a, b], 1), -1), np.array([[1, 2], [3, 0]]), np.array([3, 2]),
                                           np.array([2, 1]))[0], (X, Y)),
    "multi_margin_loss": (lambda y: ops.multi_margin_loss(y, LABELS, 2, 0.8, np.array([0.5, 1.0, 1.5, 2.0], np.float32)), (Y,)),
    "multilabel_margin_loss": (lambda y: ops.multilabel_margin_loss(y, np.array([[1, -1, 0, 0], [3, 2, 1, 0], [0, 1, -1, 2]])), (Y,)),
    "rms_norm": (lambda y, x: ops.add(*ops.rms_norm(y, x[0], 1e-3)), (Y, X)), "lrn": (lambda x: ops.lrn(x, 1, 1.5, 0.3, 0.75), (IMG,)),
    "channel_shuffle": (lambda x: ops.channel_shuffle(x, 3), (IMG,)),
    "bidense": (lambda a, b: ops.bidense(a, b, ops.stack([ops.outer(b[0], a[1]), ops.outer(a[2], b[0])]), a[0, :2]), (X, Y)),
    "tensor_scatter_elements": (lambda x, s: ops.tensor_scatter_elements(x, IDX % 3, s, 0, "add"), (X, Y)),
    "cosine_similarity": (lambda a, b: ops.cosine_similarity(a, b, dim=1), (X, Y)), "pairwise_distance": (ops.pairwise_distance, (X, Y)),
    "unfold": (lambda x: ops.unfold(x, (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)), (IMG,)),
    "fold": (lambda c: ops.fold(c, (6, 5), 2, padding=(1, 0), stride=2), (COLUMNS,)),
    "abs": (ops.abs, (Y,)), "add": (ops.add, (X, Y)), "subtract": (ops.subtract, (X, Y)), "multiply": (ops.multiply, (X, Y)),
    "divide": (ops.divide, (Y, X)), "negative": (ops.negative, (Y,)), "power": (ops.power, (X, Y)),
    "floor_divide": (ops.floor_divide, (Y, X)), "remainder": (ops.remainder, (Y, X)), "maximum": (ops.maximum, (X, Y)),
    "minimum": (ops.minimum, (X, Y)), "exp": (ops.exp, (Y,)), "expm1": (ops.expm1, (Y,)), "log": (ops.log, (X,)),
    "log1p": (ops.log1p, (X,)), "sqrt": (ops.sqrt, (X,)), "rsqrt": (ops.rsqrt, (X,)), "square": (ops.square, (Y,)),
    "sign": (ops.sign, (Y,)), "sin": (ops.sin, (Y,)), "cos": (ops.cos, (Y,)), "tan": (ops.tan, (Y,)), "tanh": (ops.tanh, (Y,)),
    "sigmoid": (ops.sigmoid, (Y,)), "relu": (ops.relu, (Y,)), "softplus": (ops.softplus, (Y,)), "erf": (ops.erf, (Y,)),
    "fast_gelu": (ops.fast_gelu, (Y,)),
    "gelu": (ops.gelu, (Y,)), "silu": (ops.silu, (Y,)), "elu": (ops.elu, (Y,)), "leaky_relu": (ops.leaky_relu, (Y,)),
    "relu6": (lambda x: ops.relu6(x * 5.0), (Y,)), "hardtanh": (lambda x: ops.hardtanh(x, -0.5, 1.0), (Y,)),
    "hardsigmoid": (lambda x: ops.hardsigmoid(x * 3.0), (Y,)), "hardswish": (lambda x: ops.hardswish(x * 3.0), (Y,)),
    "mish": (ops.mish, (Y,)), "selu": (ops.selu, (Y,)), "celu": (lambda x: ops.celu(x, 0.7), (Y,)), "logsigmoid": (ops.logsigmoid, (Y,)),
    "softsign": (ops.softsign, (Y,)), "softshrink": (ops.softshrink, (Y,)), "hardshrink": (ops.hardshrink, (Y,)),
    "tanhshrink": (ops.tanhshrink, (Y,)), "softmin": (lambda x: ops.softmin(x, axis=0), (Y,)), "glu": (ops.glu, (Y,)),
    "threshold": (lambda x: ops.threshold(x, 0.2, -1.0), (Y,)), "prelu": (lambda x, w: ops.prelu(x.reshape(4, 3), w), (Y, CHANNEL)),
    "floor": (ops.floor, (Y,)), "ceil": (ops.ceil, (Y,)), "round": (ops.round, (Y,)),
    "clip": (lambda x: ops.clip(x, -0.5, 0.5), (Y,)), "where": (lambda x, y: ops.where(x > 1.0, x, y), (X, Y)),
    "equal": (ops.equal, (X, X)), "not_equal": (ops.not_equal, (X, Y)), "less": (ops.less, (X, Y)),
    "less_equal": (ops.less_equal, (X, Y)), "greater": (ops.greater, (X, Y)), "greater_equal": (ops.greater_equal, (X, Y)),
    "logical_and": (lambda x, y: ops.logical_and(x > 1, y > 0), (X, Y)), "logical_or": (lambda x, y: ops.logical_or(x > 1, y > 0), (X, Y)),
    "logical_xor": (lambda x, y: ops.logical_xor(x > 1, y > 0), (X, Y)), "logical_not": (lambda x: ops.logical_not(x > 1), (X,)),
    "isnan": (lambda x: ops.isnan(ops.log(x - 1.0)), (X,)), "isinf": (lambda x: ops.isinf(1.0 / (x - x)), (X,)),
    "isfinite": (lambda x: ops.isfinite(ops.log(x - 1.0)), (X,)),
    "sum": (lambda x: ops.sum(x, axis=1), (Y,)), "mean": (lambda x: ops.mean(x, axis=0, keepdims=True), (Y,)),
    "prod": (lambda x: ops.prod(x, axis=1), (X,)), "max": (lambda x: ops.max(x, axis=1)[0], (Y,)), "min": (lambda x: ops.min(x)[0], (Y,)),
    "amax": (lambda x: ops.amax(x, axis=0), (Y,)), "amin": (lambda x: ops.amin(x, axis=0), (Y,)),
    "var": (lambda x: ops.var(x, axis=1, ddof=1), (Y,)), "std": (lambda x: ops.std(x, axis=0), (Y,)),
    "logsumexp": (lambda x: ops.logsumexp(x, axis=1), (Y,)), "norm": (lambda x: ops.norm(x, axis=1), (Y,)),
    "cumsum": (lambda x: ops.cumsum(x, axis=1), (Y,)), "logcumsumexp": (lambda x: ops.logcumsumexp(x * 30.0, -1), (Y,)),
    "cummax": (lambda x: ops.cummax(x, 1)[0], (Y,)), "cummin": (lambda x: ops.cummin(x, 0)[0] * ops.cummin(x, 0)[1], (Y,)),
    "argmax": (lambda x: ops.argmax(x, axis=1), (Y,)),
    "argmin": (lambda x: ops.argmin(x, axis=0), (Y,)),
    "matmul": (lambda x, y: ops.matmul(x, y.T), (X, Y)), "dense": (lambda x, y: ops.dense(x, y, x[:, 0]), (X, Y)),
    "dot": (lambda x, y: ops.dot(x[0], y[1]), (X, Y)),
    "outer": (lambda x, y: ops.outer(x[0], y[1]), (X, Y)), "tensordot": (lambda x, y: ops.tensordot(x, y, axes=2), (X, Y)),
    "einsum": (lambda x, y: ops.einsum("ij,kj->ik", x, y), (X, Y)),
    "reshape": (lambda x: ops.reshape(x, (4, 3)), (Y,)), "transpose": (ops.transpose, (Y,)), "swapaxes": (lambda x: ops.swapaxes(x, 0, 1), (Y,)),
    "expand_dims": (lambda x: ops.expand_dims(x, 1), (Y,)), "squeeze": (lambda x: ops.squeeze(ops.expand_dims(x, 0)), (Y,)),
    "flatten": (lambda x: ops.flatten(x, 0), (Y,)), "broadcast_to": (lambda x: ops.broadcast_to(x, (2, 3, 4)), (Y,)),
    "sum_to": (lambda x: ops.sum_to(x, (1, 4)), (Y,)), "unbroadcast": (lambda x: ops.unbroadcast(x, (4,)), (Y,)),
    "cast": (lambda x: ops.cast(x, np.float64), (Y,)), "stop_gradient": (lambda x: ops.stop_gradient(x) * x, (Y,)),
    "depend": (lambda x, y: ops.depend(x * y, ops.sin(y)), (X, Y)),
    "partial": (lambda x, y: ops.partial(ops.mul, ops.sin(x))(y), (X, Y)),
    "getitem": (lambda x: ops.getitem(x, (slice(1, None), [0, 2])), (Y,)), "concat": (lambda x, y: ops.concat([x, y], 1), (X, Y)),
    "concatenate": (lambda x, y: ops.concatenate([x, y]), (X, Y)), "stack": (lambda x, y: ops.stack([x, y], 1), (X, Y)),
    "split": (lambda x: ops.split(x, 3, axis=1)[1], (Y,)), "tensor_split": (lambda x: ops.tensor_split(x, 3, axis=1)[0], (Y,)),
    "flip": (lambda x: ops.flip(x, 1), (Y,)),
    "pad": (lambda x: ops.pad(x, ((1, 0), (0, 2))), (Y,)), "repeat": (lambda x: ops.repeat(x, 2, axis=0), (Y,)),
    "tile": (lambda x: ops.tile(x, (2, 1)), (Y,)), "take_along_axis": (lambda x: ops.take_along_axis(x, IDX, axis=1), (Y,)),
    "softmax": (lambda x: ops.softmax(x, axis=1), (Y,)), "log_softmax": (ops.log_softmax, (Y,)),
    "cross_entropy": (lambda x: ops.cross_entropy(x, LABELS), (Y,)), "nll_loss": (lambda x: ops.nll_loss(ops.log_softmax(x, 1), LABELS), (Y,)),
    "binary_cross_entropy": (ops.binary_cross_entropy, (P, P[::-1])),
    "binary_cross_entropy_with_logits": (lambda x, p: ops.binary_cross_entropy_with_logits(x, p), (Y, P)),
    "mse_loss": (ops.mse_loss, (X, Y)), "l1_loss": (ops.l1_loss, (X, Y)), "smooth_l1_loss": (ops.smooth_l1_loss, (X, Y)),
    "huber_loss": (lambda x, y: ops.huber_loss(x, y, delta=0.8), (X, Y)),
    "conv2d": (lambda x, w: ops.conv2d(x, w, padding=1, stride=2), (IMG, KERNEL)),
    "max_pool2d": (lambda x: ops.concat([ops.reshape(ops.max_pool2d(x, 2), (-1,)),
                                         ops.reshape(ops.max_pool2d(x, 3, 2, 1, return_indices=True, ceil_mode=True)[0], (-1,))]),
                   (IMG,)), "avg_pool2d": (lambda x: ops.avg_pool2d(x, 3, 2, 1), (IMG,)),
    "adaptive_avg_pool2d": (lambda x: ops.adaptive_avg_pool2d(x, 2), (IMG,)),
    "adaptive_max_pool2d": (lambda x: ops.adaptive_max_pool2d(x, (4, None)), (IMG,)),
    "group_norm": (lambda x, w: ops.group_norm(x, 3, w, w * 0.5), (IMG, CHANNEL)),
    "batch_norm": (lambda x, c: ops.batch_norm(x, None, None, c, c, training=True), (IMG, CHANNEL)),
    "layer_norm": (lambda x: ops.layer_norm(x, 4), (Y,)),
    "lstm_cell": (ops.lstm_cell, (Y, X[:, :1].copy())),
    "lstm_sequence": (lambda p, h: ops.lstm_sequence(p[None], h[:, :1], h[:, 1:2], p[0][:, None] * 0.5, reverse=True)[0], (Y, X)),
    "embedding": (lambda w: ops.embedding(IDX % 3, w), (Y,)), "one_hot": (lambda x: x[0, 0] * ops.one_hot(LABELS, 4), (Y,)),
    "dropout": (lambda x: ops.dropout(x, 0.5, seed=3), (Y,)),
    "tensor": (lambda x: x * ops.tensor([1.0, 2.0, 3.0, 4.0]), (Y,)), "ones": (lambda x: x + ops.ones((3, 4)), (Y,)),
    "zeros": (lambda x: x * ops.zeros((4,)), (Y,)), "full": (lambda x: x - ops.full((4,), 2.0), (Y,)),
    "ones_like": (lambda x: x / ops.ones_like(x), (Y,)), "zeros_like": (lambda x: x + ops.zeros_like(x), (Y,)),
    "full_like": (lambda x: x * ops.full_like(x, 3.0), (Y,)), "arange": (lambda x: x * ops.arange(4), (Y,)),
    "eye": (lambda x: ops.matmul(x, ops.eye(4)), (Y,)), "linspace": (lambda x: x + ops.linspace(0.0, 1.0, 4), (Y,)),
    "GradOperation": (lambda x: ops.GradOperation()(lambda a: ops.sum(ops.tanh(a) * a))(x), (Y,)),
    # gradient hooks refuse jit by design (tests/test_nn_hooks.py checks them): here only its forward is traced
    "HookBackward": (lambda x: x * x + ops.HookBackward(lambda grads: None)(ops.full_like(x, 2.0)), (Y,)),
}


B3 = (3, 2, 2)  # X and Y as stacks of three 2x2 matrices
CASES.update({  # MindSpore's functional names (funcad.ops.aliases, indexing, sampling)
    "cat": (lambda x, y: ops.cat((x, y), 1), (X, Y)), "unsqueeze": (lambda x: ops.unsqueeze(x, 1), (Y,)),
    "permute": (lambda x: ops.permute(x, (1, 0)), (Y,)), "pow": (ops.pow, (X, Y)),
    "clamp": (lambda x: ops.clamp(x, -0.5, 0.5), (Y,)), "clip_by_value": (lambda x: ops.clip_by_value(x, -0.5), (Y,)),
    "clip_by_global_norm": (lambda x, y: ops.clip_by_global_norm((x, y), 1.0)[1], (X, Y)),
    "shape": (lambda x: x * len(ops.shape(x)), (X,)), "size": (lambda x: x * ops.size(x), (X,)),
    "dtype": (lambda x: x * ops.cast(ops.ones((3, 4)), ops.dtype(x)), (X,)),
    "addn": (lambda x, y: ops.addn([x, y, x]), (X, Y)),
    "clip_by_norm": (lambda x, y: ops.clip_by_norm((x, y), 1.5)[1] + ops.clip_by_norm(x, 0.8, norm_type=float("inf")), (X, Y)),
    "mul": (ops.mul, (X, Y)), "sub": (ops.sub, (X, Y)), "div": (ops.div, (Y, X)), "neg": (ops.neg, (Y,)), "inv": (ops.inv, (X,)),
    "ge": (ops.ge, (X, Y)), "gt": (ops.gt, (X, Y)), "le": (ops.le, (X, Y)), "lt": (ops.lt, (X, Y)), "eq": (ops.eq, (X, X)),
    "ne": (ops.ne, (X, Y)), "isclose": (lambda x, y: ops.isclose(x, y * 1e-9 + x), (X, Y)),
    "chunk": (lambda x: ops.chunk(x, 3, 1)[1], (Y,)), "narrow": (lambda x: ops.narrow(x, 1, 1, 2), (Y,)),
    "roll": (lambda x: ops.roll(x, (1, -1), (0, 1)), (Y,)),
    "bmm": (lambda x, y: ops.bmm(ops.reshape(x, B3), ops.reshape(y, B3)), (X, Y)),
    "baddbmm": (lambda x, y: ops.baddbmm(ops.reshape(y, B3), ops.reshape(x, B3), ops.reshape(y, B3), beta=0.5, alpha=2.0), (X, Y)),
    "addmm": (lambda x, y: ops.addmm(y[:, :3], x, y.T[:, :3], beta=2.0, alpha=0.5), (X, Y)),
    "mm": (lambda x, y: ops.mm(x, y.T), (X, Y)), "mv": (lambda x, y: ops.mv(x, y[0]), (X, Y)),
    "bias_add": (lambda x, y: ops.bias_add(x, y[0]), (X, Y)), "tensor_dot": (lambda x, y: ops.tensor_dot(x, y, ((1,), (1,))), (X, Y)),
    "tril": (lambda x: ops.tril(x, 1), (Y,)), "triu": (lambda x: ops.triu(x, -1), (Y,)), "diag": (lambda x: ops.diag(x[0]), (Y,)),
    "trace": (lambda x: ops.trace(x[:, :3]), (Y,)), "cumprod": (lambda x: ops.cumprod(x, 1), (Y,)),
    "gather": (lambda x: ops.gather(x, IDX[0], 1), (Y,)), "gather_elements": (lambda x: ops.gather_elements(x, 1, IDX), (Y,)),
    "masked_fill": (lambda x: ops.masked_fill(x, IDX > 1, 0.25), (Y,)), "topk": (lambda x: ops.topk(x, 2, 1)[0], (Y,)),
    "sort": (lambda x: ops.sort(x, 0, True)[0], (Y,)), "argsort": (lambda x: ops.argsort(x, 1), (Y,)),
    "nonzero": (lambda x: ops.getitem(x, ops.nonzero(ops.tensor(IDX) > 1, as_tuple=True)), (Y,)),
    "unique": (lambda x: ops.getitem(x, (slice(None), ops.unique(ops.tensor(IDX[0] % 3))[1])), (Y,)),
    "masked_select": (lambda x: ops.masked_select(x, ops.tensor(IDX) > 1), (Y,)),
    "gather_nd": (lambda x: ops.gather_nd(x, np.array([[0, 1], [2, 3], [0, 1]])), (Y,)),
    "scatter_nd": (lambda x: ops.scatter_nd(np.array([[1], [0], [1]]), x, (2, 4)), (Y,)),
    "tensor_scatter_add": (lambda x, y: ops.tensor_scatter_add(x, np.array([[2, 0], [2, 0]]), y[0, :2]), (X, Y)),
    "tensor_scatter_sub": (lambda x, y: ops.tensor_scatter_sub(x, np.array([[1], [0]]), y[:2]), (X, Y)),
    "tensor_scatter_update": (lambda x, y: ops.tensor_scatter_update(x, np.array([[1, 1], [0, 3]]), y[0, :2]), (X, Y)),
    "index_select": (lambda x: ops.index_select(x, 1, IDX[0]), (Y,)),
    "index_add": (lambda x, y: ops.index_add(x, np.array([3, 0, 3]), y[:, :3], 1), (X, Y)),
    "repeat_interleave": (lambda x: ops.repeat_interleave(x, 2, 0), (Y,)), "select": (lambda x, y: ops.select(x > 1.0, x, y), (X, Y)),
    "fill": (lambda x: x + ops.fill(np.float32, (3, 4), 0.5), (X,)), "inner": (ops.inner, (X, Y)),
    "dist": (lambda x, y: ops.dist(x, y, 3), (X, Y)), "cdist": (ops.cdist, (X, Y)),
    "pixel_shuffle": (lambda x: ops.pixel_shuffle(ops.reshape(x, (1, 4, 1, 3)), 2), (Y,)),
    "pixel_unshuffle": (lambda x: ops.pixel_unshuffle(ops.reshape(x, (1, 1, 2, 6)), 2), (Y,)),
    "kl_div": (lambda x, p: ops.kl_div(ops.log_softmax(x, 1), p / ops.sum(p, 1, keepdims=True), "batchmean"), (Y, P)),
    "conv1d": (lambda x, w: ops.conv1d(x, w, padding=(1, 2), stride=2), (Y.reshape(1, 3, 4), KERNEL[:2, :, 0])),
    "randn": (lambda x: x * ops.randn(3, 4, seed=1), (Y,)),
    "standard_normal": (lambda x: x * ops.standard_normal((3, 4), seed=2), (Y,)), "rand": (lambda x: x * ops.rand((3, 4), seed=1), (Y,)),
    "randint": (lambda x: x * ops.randint(0, 3, (3, 4), seed=2, dtype=np.float32), (Y,)),
    "uniform": (lambda x, y: ops.uniform((3, 4), x, x + y * y, seed=4), (X, Y)),
    "multinomial": (lambda x: x * ops.cast(ops.multinomial(x, 4, seed=3), np.float32), (X,)),
    "normal": (lambda x, y: ops.normal((3, 4), x, y, seed=5), (X, Y)),
    "interpolate": (lambda x: ops.interpolate(x, size=(4, 9), mode="bilinear"), (IMG,)),
    # MindSpore's transforms under ops: a gradient is an op's value like any other
    "grad": (lambda x: ops.grad(lambda v: ops.sum(ops.sin(v) * v))(x), (Y,)),
    "vmap": (lambda x, y: ops.vmap(lambda a, i: ops.gather(a, i, 0))(x, IDX[:, :2] % 4) * y[:, :2], (X, Y)),
    "invert": (lambda x: x * ops.invert(IDX), (X,)),
    "value_and_grad": (lambda x: ops.value_and_grad(lambda v: ops.sum(ops.exp(v)))(x)[1], (Y,)),
    "vjp": (lambda x, y: ops.vjp(ops.tanh, x)[1](y)[0], (Y, X)),
    "jvp": (lambda x, y: ops.jvp(ops.sin, (x,), (y,))[1], (Y, X)),
    "GradOperation(sens_param)": (lambda x, y: ops.GradOperation(get_all=True, sens_param=True)(lambda a, b: ops.sin(a) * b)(x, y, x)[0], (Y, X)),
})


def _class_case(name: str):
    """A case for MindSpore's primitive class ``ops.<name>`` (funcad.ops.primitive_classes)."""
    c = getattr(ops, name)
    special = {
        "LogicalAnd": (lambda x, y: c()(x > 1, y > 0), (X, Y)), "LogicalOr": (lambda x, y: c()(x > 1, y > 0), (X, Y)),
        "LogicalNot": (lambda x: c()(x > 1), (X,)), "Select": (lambda x, y: c()(x > 1, x, y), (X, Y)),
        "Div": (lambda y, x: c()(y, x), (Y, X)), "RealDiv": (lambda y, x: c()(y, x), (Y, X)),
        "FloorDiv": (lambda y, x: c()(y, x), (Y, X)), "FloorMod": (lambda y, x: c()(y, x), (Y, X)),
        "Reshape": (lambda x: c()(x, (4, 3)), (Y,)), "Transpose": (lambda x: c()(x, (1, 0)), (Y,)),
        "Cast": (lambda x: c()(x, np.float64), (Y,)), "ExpandDims": (lambda x: c()(x, 0), (Y,)), "Tile": (lambda x: c()(x, (2, 1)), (Y,)),
        "GatherD": (lambda x: c()(x, 1, IDX), (Y,)), "BiasAdd": (lambda x, y: c()(x, y[0]), (X, Y)),
        "Shape": (lambda x: x * len(c()(x)), (Y,)), "Size": (lambda x: x * c()(x), (Y,)), "Rank": (lambda x: x * c()(x), (Y,)),
        "Depend": (lambda x, y: c()(x * y, y), (X, Y)), "AddN": (lambda x, y: c()((x, y, x)), (X, Y)),
        "Fill": (lambda x: x + c()(np.float32, (3, 4), 2.0), (Y,)), "Ones": (lambda x: x + c()((3, 4), np.float32), (Y,)),
        "Zeros": (lambda x: x + c()((3, 4), np.float32), (Y,)), "OnesLike": (lambda x: x * c()(x), (Y,)),
        "ZerosLike": (lambda x: x + c()(x), (Y,)), "StopGradient": (lambda x: c()(ops.floor(x)) * x, (Y,)),  # floor: finite differences agree
        "Softmax": (lambda x: c(axis=0)(x), (Y,)), "LogSoftmax": (lambda x: c()(x), (Y,)),
        "Concat": (lambda x, y: c(1)((x, y)), (X, Y)), "Stack": (lambda x, y: c(1)((x, y)), (X, Y)),
        "Split": (lambda x: c(1, 2)(x)[1], (Y,)), "Squeeze": (lambda x: c()(ops.expand_dims(x, 0)), (Y,)),
        "MatMul": (lambda x, y: c(transpose_b=True)(x, y), (X, Y)),
        "BatchMatMul": (lambda x, y: c(transpose_a=True)(ops.reshape(x, B3), ops.reshape(y, B3)), (X, Y)),
        "Argmax": (lambda x: c()(x), (Y,)), "Argmin": (lambda x: c(axis=0)(x), (Y,)),
        "Gather": (lambda x: c()(x, IDX[0], 1), (Y,)), "TopK": (lambda x: c()(x, 2)[0], (Y,)),
        "Sort": (lambda x: c(axis=0)(x)[0], (Y,)), "DType": (lambda x: ops.cast(x, c()(x)), (Y,)),
        "Eye": (lambda x: ops.matmul(x, c()(4, 4, np.float32)), (Y,)),
        "ArgMaxWithValue": (lambda x: c(axis=1)(x)[1], (Y,)), "ArgMinWithValue": (lambda x: c(keep_dims=True)(x)[1], (Y,)),
        "OneHot": (lambda x: x[0, 0] * c()(LABELS, 4, 1.0, 0.0), (Y,)),
        "GatherNd": (lambda x: c()(x, np.array([[2, 1], [0, 3]])), (Y,)), "ScatterNd": (lambda x: c()(np.array([[1], [0], [1]]), x, (2, 4)), (Y,)),
        "TensorScatterUpdate": (lambda x, y: c()(x, np.array([[1, 2]]), y[0, :1]), (X, Y)),
        "TensorScatterAdd": (lambda x, y: c()(x, np.array([[1], [1]]), y[:2]), (X, Y)),
        "TensorScatterSub": (lambda x, y: c()(x, np.array([[0, 3]]), y[0, :1]), (X, Y)),
        "UnsortedSegmentSum": (lambda x: c()(x, np.array([1, 0, 1]), 3), (Y,)), "MaskedFill": (lambda x: c()(x, IDX > 1, 0.5), (Y,)),
        "MaskedSelect": (lambda x: c()(x, IDX > 1), (Y,)), "Lerp": (lambda x, y: c()(x, y, 0.3), (X, Y)),
        "Slice": (lambda x: c()(x, (1, 0), (2, 3)), (Y,)), "Unstack": (lambda x: c(1)(x)[2], (Y,)),
        "BroadcastTo": (lambda x: c((2, 3, 4))(x), (Y,)), "Einsum": (lambda x, y: c("ij,kj->ik")((x, y)), (X, Y)),
        "Tril": (lambda x: c(1)(x), (Y,)), "Triu": (lambda x: c(-1)(x), (Y,)),
        "StridedSlice": (lambda x: c(end_mask=2, shrink_axis_mask=1)(x, (1, 3), (2, 0), (1, -2)), (Y,)),
        "Meshgrid": (lambda x: c()((x[0], x[1, :3]))[1], (Y,)),
        "StandardNormal": (lambda x: x * c(seed=5)((3, 4)), (Y,)), "UniformReal": (lambda x: x * c(seed=6)((3, 4)), (Y,)),
        "UniformInt": (lambda x: x * ops.cast(c(seed=7)((3, 4), 0, 4), np.float32), (Y,)),
        "CumSum": (lambda x: c(exclusive=True, reverse=True)(x, 1), (Y,)), "Range": (lambda x: x * c()(0, 4, 1), (Y,)),
        "Print": (lambda x: c()(x, "the first input is returned") * 2.0, (Y,)),
        "Atan2": (lambda y, x: c()(y, x), (Y, X)), "Mod": (lambda y, x: c()(y, x), (Y, X)), "TruncateMod": (lambda y, x: c()(y, x), (Y, X)),
        "Addcdiv": (lambda x, y: c()(x, y, x, 0.5), (X, Y)), "Addcmul": (lambda x, y: c()(y, x, y, 2.0), (X, Y)),
        "SquaredDifference": (lambda x, y: c()(x, y), (X, Y)), "DivNoNan": (lambda x, y: c()(x, y * (IDX > 0)), (X, Y)),
        "Ger": (lambda x, y: c()(x[0], y[1]), (X, Y)), "MatrixInverse": (lambda a: c()(a), (SPD,)), "Acosh": (lambda x: c()(x + 1.0), (X,)),
        "CumProd": (lambda x: c(exclusive=True, reverse=True)(x, 1), (X,)), "Complex": (lambda x, y: ops.abs(c()(x, y)), (X, Y)),
        "PReLU": (lambda x, y: c()(y, x[0]), (X, Y)), "LinSpace": (lambda y: c()(y[0, 0], y[0, 1], 4), (Y,)),
        "Xdivy": (lambda x, y: c()(y * (IDX > 0), x), (X, Y)), "SquareSumAll": (lambda x, y: ops.add(*c()(x, y)), (X, Y)),
        "Invert": (lambda x: x * c()(IDX), (X,)), "BitwiseAnd": (lambda x: x * c()(IDX, 3), (X,)),
        "BitwiseOr": (lambda x: x * c()(IDX, 4), (X,)), "BitwiseXor": (lambda x: x * c()(IDX, 5), (X,)),
        "KLDivLoss": (lambda y, p: c("batchmean")(y, p), (Y, P)), "BinaryCrossEntropy": (lambda p, x: c("sum")(p, p * 0.5, x), (P, X)),
        "BCEWithLogitsLoss": (lambda y, p, x: c("sum")(y, p, x[0], x[1]), (Y, P, X)),
        "NLLLoss": (lambda y, x: c()(ops.log_softmax(y, 1), LABELS, x[0])[0], (Y, X)),
        "SoftShrink": (lambda y: c(0.3)(y), (Y,)), "HShrink": (lambda y: c(0.3)(y), (Y,)), "CeLU": (lambda y: c(0.7)(y), (Y,)),
        "LpNorm": (lambda y: c((0, 1), 3, True)(y), (Y,)), "Median": (lambda y: c(axis=1)(y)[0], (Y,)),
        "Unique": (lambda x: ops.getitem(x, (slice(None), c()(ops.tensor(IDX[0] % 3))[1])), (Y,)),
        "SpaceToDepth": (lambda x: c(2)(x), (IMG,)), "DepthToSpace": (lambda x: c(2)(ops.reshape(x, (2, 12, 3, 3))), (IMG,)),
        "TensorScatterMul": (lambda x, y: c()(x, np.array([[1], [1]]), y[:2]), (X, Y)),
        "TensorScatterDiv": (lambda x, y: c()(y, np.array([[0, 2]]), x[0, :1]), (X, Y)),
        "TensorScatterMax": (lambda x, y: c()(y, np.array([[2], [0]]), x[:2] - 1.0), (X, Y)),
        "TensorScatterMin": (lambda x, y: c()(y, np.array([[2], [0], [2]]), x - 1.0), (X, Y)),
        "UnsortedSegmentMax": (lambda y: c()(y, np.array([1, 0, 1]), 2), (Y,)),
        "UnsortedSegmentMin": (lambda y: c()(y, np.array([1, 0, 1]), 3), (Y,)),
        "UnsortedSegmentProd": (lambda x: c()(x, np.array([0, 0, 1]), 2), (X,)),
    }
    if name in special:
        return special[name]
    if name.startswith("Reduce"):
        return (lambda x: c(keep_dims=True)(x, 1), (Y,)) if name != "ReduceMean" else (lambda x: c()(x), (Y,))
    binary = {"Add", "Sub", "Mul", "Pow", "Maximum", "Minimum", "Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual"}
    return (c(), (X, Y)) if name in binary else (c(), (P,))  # unary: P lies where log, sqrt, tan are smooth


def _parts(z):
    """A real function of a complex result that sees both its parts."""
    return ops.real(z) - 0.5 * ops.imag(z)


CASES.update({  # complex values (funcad.core.complex_parts) and the Fourier transforms (funcad.ops.fourier)
    "real": (lambda x, y: ops.real(ops.complex(x, y) * ops.complex(y, x)), (X, Y)),
    "imag": (lambda x, y: ops.imag(ops.complex(x, y) / ops.complex(y, x)), (X, Y)),
    "complex": (lambda x, y: ops.abs(ops.complex(x, y) - ops.complex(y, x)), (X, Y)),
    "conj": (lambda x, y: ops.imag(ops.conj(ops.complex(x, y)) * ops.complex(y, x)), (X, Y)),
    "angle": (lambda x, y: ops.angle(ops.complex(x, y)), (X, Y)),
    "fft": (lambda x: _parts(ops.fft(x, n=5)), (Y,)), "ifft": (lambda x: _parts(ops.ifft(x, dim=0, norm="ortho")), (Y,)),
    "rfft": (lambda x: _parts(ops.rfft(x, n=6)), (Y,)), "irfft": (lambda x, y: ops.irfft(ops.complex(x, y)), (X, Y)),
    "fft2": (lambda x: _parts(ops.fft2(x, s=(4, 4))), (Y,)), "ifft2": (lambda x, y: _parts(ops.ifft2(ops.complex(x, y))), (X, Y)),
    "fftn": (lambda x: _parts(ops.fftn(x)), (Y,)), "ifftn": (lambda x: _parts(ops.ifftn(x, norm="forward")), (Y,)),
    "rfft2": (lambda x: _parts(ops.rfft2(x)), (Y,)), "irfft2": (lambda x, y: ops.irfft2(ops.complex(x, y), s=(3, 5)), (X, Y)),
    "rfftn": (lambda x: _parts(ops.rfftn(x, dim=(0,))), (Y,)), "irfftn": (lambda x, y: ops.irfftn(ops.complex(x, y), dim=(0, 1)), (X, Y)),
    "hfft": (lambda x, y: ops.hfft(ops.complex(x, y), n=5), (X, Y)), "ihfft": (lambda x: _parts(ops.ihfft(x)), (Y,)),
    "fftshift": (lambda x, y: _parts(ops.fftshift(ops.complex(x, y), dim=1)), (X, Y)), "ifftshift": (lambda x: ops.ifftshift(x), (Y,)),
    "fftfreq": (lambda x: x * ops.fftfreq(4, 0.5), (Y,)), "rfftfreq": (lambda x: x[:, :3] * ops.rfftfreq(4), (Y,)),
})
# Ops that update Parameters rather than return values: their jit equality cases live in test_ops_state.py.
PARAMETER_UPDATES = {"assign", "assign_add", "assign_sub", "apply_gradient_descent", "Assign", "AssignAdd", "AssignSub",
                     "ScatterNdUpdate", "ApplyMomentum",  # ApplyMomentum's: tests/test_ms_user_programs_round3.py
                     "ScatterUpdate", "ScatterAdd", "ScatterSub", "ScatterMul", "ScatterDiv", "ScatterMax",
                     "ScatterMin"}  # theirs: tests/test_mindspore_op_suite.py
CASES.update({name: _class_case(name) for name in CLASS_NAMES if name not in PARAMETER_UPDATES})
CASES.update({  # funcad.ops.layer_classes
    "Conv2D": (lambda x, w: ops.Conv2D(4, 3, pad_mode="same", stride=2)(x, w), (IMG, KERNEL)),
    "MaxPool": (lambda x: ops.MaxPool(2, 2)(x), (IMG,)), "AvgPool": (lambda x: ops.AvgPool(3, 2, "same")(x), (IMG,)),
    "L2Loss": (lambda x: ops.L2Loss()(x), (Y,)), "Elu": (lambda x: ops.Elu(0.5)(x), (Y,)),
    "Dropout": (lambda x: ops.Dropout(0.7, Seed0=3)(x)[0], (Y,)),
    "Dropout2D": (lambda x: ops.Dropout2D(1.0)(x)[0], (IMG,)),  # keep_prob 1: every channel kept, so eager and jit agree
    "Dropout3D": (lambda x: ops.Dropout3D(1.0)(ops.expand_dims(x, 2))[0], (IMG,)),
    "SigmoidCrossEntropyWithLogits": (lambda x, p: ops.SigmoidCrossEntropyWithLogits()(x, p), (Y, P)),
    "SoftmaxCrossEntropyWithLogits": (lambda x, p: ops.SoftmaxCrossEntropyWithLogits()(x, p)[0], (Y, P)),
    "SparseSoftmaxCrossEntropyWithLogits": (lambda x: ops.SparseSoftmaxCrossEntropyWithLogits()(x, LABELS), (Y,)),
    "CTCLoss": (lambda x: ops.CTCLoss()(ops.reshape(x, (3, 1, 4)), np.array([[0, 0], [0, 1]]), np.array([1, 2], np.int32),
                                        np.array([3], np.int32))[0], (Y,)),
    "LayerNorm": (lambda x, y: ops.LayerNorm(-1, -1, 1e-5)(x, y[0], y[1])[0], (X, Y)),
    "L2Normalize": (lambda x: ops.L2Normalize(axis=1)(x), (Y,)), "Pad": (lambda x: ops.Pad(((1, 0), (0, 2)))(x), (Y,)),
    "ResizeBilinearV2": (lambda x: ops.ResizeBilinearV2()(x, (4, 9)) + ops.ResizeBilinearV2(half_pixel_centers=True)(x, (4, 9)), (IMG,)),
    "Dense": (lambda x, y: ops.Dense()(x, y, y[0, :3]) + ops.Dense()(y, x[0]), (X, Y)),
    "slice": (lambda x: ops.slice(x, (0, 1), (-1, 2)), (Y,)), "unstack": (lambda x: ops.unstack(x)[1], (Y,)),
    "strided_slice": (lambda x: ops.strided_slice(x, (0, 0), (3, 4), (2, 3), begin_mask=1), (Y,)),
    "meshgrid": (lambda x: ops.meshgrid(x[0], x[1, :2], indexing="ij")[0], (Y,)), "lerp": (lambda x, y: ops.lerp(x, y, x), (X, Y)),
    "unsorted_segment_sum": (lambda x: ops.unsorted_segment_sum(x, np.array([[0, 1, 0, 1]] * 3), 2), (Y,)),
})
VOLUME = RNG.standard_normal((2, 3, 4, 5, 5)).astype(np.float32)  # (N, C, D, H, W)
KERNEL3D = RNG.standard_normal((4, 3, 2, 3, 3)).astype(np.float32)
CASES.update({  # funcad.ops.volume: 3-D ops composed from the 2-D kernels
    "conv3d": (lambda x, w: ops.conv3d(x, w, stride=(1, 2, 1), padding=(1, 0, 1), dilation=(2, 1, 1)), (VOLUME, KERNEL3D)),
    "max_pool3d": (lambda x: ops.max_pool3d(x, 2, (1, 2, 2), padding=1, ceil_mode=True), (VOLUME,)),
    "avg_pool3d": (lambda x: ops.avg_pool3d(x, 3, 2, padding=1, count_include_pad=False), (VOLUME,)),
    "MaxPool3D": (lambda x: ops.MaxPool3D((2, 2, 3), 1, "same")(x), (VOLUME,)),
    "AvgPool3D": (lambda x: ops.AvgPool3D(2, (1, 2, 2), "pad", (1, 0, 1, 1, 0, 1), count_include_pad=False)(x), (VOLUME,)),
    "Conv3D": (lambda x, w: ops.Conv3D(4, (2, 3, 3), pad_mode="same", stride=(1, 2, 2))(x, w), (VOLUME, KERNEL3D)),
    "adaptive_avg_pool3d": (lambda x: ops.adaptive_avg_pool3d(x, (3, 2, None)), (VOLUME,)),
    "adaptive_max_pool3d": (lambda x: ops.adaptive_max_pool3d(x, (3, 2, 4)), (VOLUME,)),
})


CASES.update({  # funcad.ops.order_statistics: values gathered at torch's index, so gradients reach the element picked
    "median": (lambda x: ops.median(x, 1)[0], (X,)), "nanmedian": (lambda x: ops.nanmedian(x + NANS, 1, True)[0], (X,)),
    "kthvalue": (lambda y: ops.kthvalue(y, 3, 1)[0], (Y,)), "mode": (lambda y: ops.mode(y, 0)[0], (Y,)),
})

CASES.update({  # funcad.ops.graph_helpers: what the model zoo's training cells use
    "FloatStatus": (lambda x: x * (ops.FloatStatus()(x + NANS) + ops.FloatStatus()(x)), (X,)),  # 1 with NaNs, 0 without
    "Partial": (lambda x, y: ops.HyperMap()(ops.Partial()(SCALED, 2.0), (x, y))[1], (X, Y)),
    "tuple_to_array": (lambda x: x * ops.tuple_to_array((0.5, 2.0, 1.0, 3.0)), (X,)),
})


POOLED, POOL_INDEX = (lambda x: (np.asarray(x[0]), np.asarray(x[1])))(ops.max_pool2d(IMG, 2, 2, return_indices=True))
GRID = RNG.uniform(-1.2, 1.2, (2, 4, 5, 2)).astype(np.float32)
THETA = RNG.standard_normal((2, 2, 3)).astype(np.float32)
CASES.update({  # funcad.ops.pool_functions, grids and random_nn: MindSpore's functional pools, unpooling, sampling grids
    "avg_pool1d": (lambda x: ops.avg_pool1d(x[:, :, 0, :], 3, 2, 1, ceil_mode=True, count_include_pad=False), (IMG,)),
    "adaptive_max_pool1d": (lambda x: ops.adaptive_max_pool1d(x[:, :, 1, :], 4), (IMG,)),
    "lp_pool1d": (lambda x: ops.lp_pool1d(x[:, :, 0, :] * x[:, :, 0, :] + 0.1, 3, 2, ceil_mode=True), (IMG,)),
    "lp_pool2d": (lambda x: ops.lp_pool2d(x * x + 0.1, 2.0, (2, 3), 2), (IMG,)),
    "max_unpool1d": (lambda x: ops.max_unpool1d(x[:, :, 0, :], POOL_INDEX[:, :, 0, :] % 6, 2, 2), (POOLED,)),
    "max_unpool2d": (lambda x: ops.max_unpool2d(x, POOL_INDEX, 2, 2, output_size=(7, 7)), (POOLED,)),
    "max_unpool3d": (lambda x: ops.max_unpool3d(ops.expand_dims(x, 2), np.expand_dims(POOL_INDEX, 2), (1, 2, 2), (1, 2, 2)), (POOLED,)),
    "dropout2d": (lambda x: ops.dropout2d(x, p=1.0) + x, (IMG,)),  # p=1 draws no mask: every channel zeroed
    "dropout3d": (lambda x: ops.dropout3d(x, p=1.0) + x, (VOLUME,)),
    "rrelu": (lambda y: ops.rrelu(y, 0.25, 0.25), (Y,)),  # equal bounds: the drawn slopes are all 0.25
    "affine_grid": (lambda t: ops.affine_grid(t, (2, 3, 4, 5), align_corners=True), (THETA,)),
    "grid_sample": (lambda x, g: ops.grid_sample(x, g, "bilinear", "reflection"), (IMG, GRID)),
})

_LINALG = np.random.default_rng(11)
CHOLESKY_FACTOR = np.linalg.cholesky(SPD.astype(np.float64)).astype(np.float32)
LU_DATA = np.array([[7.0, 5.0, 6.0], [0.25, 3.5, 6.25], [0.75, 0.125, -1.0]], np.float32)  # a compact LU matrix
LU_PIVOTS = np.array([3, 3, 3], np.int32)  # LAPACK's 1-based row swaps
TRIANGULAR = np.triu(_LINALG.standard_normal((4, 4))).astype(np.float32) + np.diag([1.0, 2.0, 3.0, 4.0]).astype(np.float32)
HISTOGRAM_DATA = _LINALG.uniform(-0.5, 3.5, 40).astype(np.float32)
RUNS = np.array([1, 1, 2, 2, 3, 1, 1, 2])
CASES.update({  # funcad.ops.linalg_functions and funcad.ops.statistics
    "svd": (lambda y: (lambda s, u, v: ops.concat([u * s, v], 0))(*ops.svd(y)), (Y,)), "pinv": (ops.pinv, (Y,)),
    "lstsq": (lambda x, y: ops.lstsq(ops.transpose(x), ops.transpose(y)), (X, Y)),
    "matrix_power": (lambda a: ops.matrix_power(a, 3) + ops.matrix_power(a, -1), (SPD,)),
    "matrix_exp": (lambda y: ops.matrix_exp(y[:, :3]), (Y,)),
    "cholesky_solve": (lambda x, c: ops.cholesky_solve(x, c) + ops.cholesky_solve(x, ops.transpose(c), upper=True), (X, CHOLESKY_FACTOR)),
    "lu_solve": (lambda x, lu: ops.lu_solve(x, lu, LU_PIVOTS), (X, LU_DATA)),
    "eig": (lambda x: x * ops.real(ops.eig(TRIANGULAR)[0]), (X,)),  # a constant: the eigenvalues are not differentiated
    "eigvals": (lambda x: x * ops.imag(ops.eigvals(TRIANGULAR * 1j)), (X,)),
    "orgqr": (lambda y, x: ops.orgqr(ops.transpose(y), x[0, :2]), (Y, X)), "vander": (lambda y: ops.vander(y[0], 5), (Y,)),
    "block_diag": (lambda x, y: ops.block_diag(x, y[0], y[1, 0]), (X, Y)),
    "quantile": (lambda y: ops.quantile(y, np.array([0.2, 0.9]), 1, True), (Y,)),
    "nanquantile": (lambda x: ops.nanquantile(x + NANS, 0.4, 1), (X,)),
    "histc": (lambda x: x * ops.histc(HISTOGRAM_DATA, 4, 0.0, 3.0), (X,)),
    "bincount": (lambda y: ops.bincount(IDX[0], y[0]) + ops.bincount(IDX[1], minlength=4), (Y,)),
    "searchsorted": (lambda x: x * ops.cast(ops.searchsorted(np.array([0.5, 1.0, 1.0, 2.5]), IDX * 0.5, right=True), np.float32), (X,)),
    "bucketize": (lambda x: x * ops.cast(ops.bucketize(IDX, [0.5, 1.0, 2.5]), np.float32), (X,)),
    "argwhere": (lambda y: ops.gather_nd(y, ops.argwhere(IDX > 1)), (Y,)),
    "unique_consecutive": (lambda y: y[:, :1] * ops.cast(ops.add(*ops.unique_consecutive(RUNS, False, True)), np.float32), (Y,)),
    "msort": (ops.msort, (Y,)), "cartesian_prod": (lambda x, y: ops.cartesian_prod(x[0], y[1, :2]), (X, Y)),
    "combinations": (lambda y: ops.combinations(y[0], 3, True), (Y,)), "renorm": (lambda y: ops.renorm(y, 1.5, 0, 1.5), (Y,)),
    "pdist": (lambda y: ops.pdist(y, 3.0), (Y,)),
    "tensor_scatter_mul": (lambda x, y: ops.tensor_scatter_mul(x, np.array([[2, 0], [1, 3], [2, 0]]), y[0, :3]), (X, Y)),
    "tensor_scatter_div": (lambda x, y: ops.tensor_scatter_div(y, np.array([[1], [0], [1]]), x), (X, Y)),
    "tensor_scatter_max": (lambda x, y: ops.tensor_scatter_max(y, np.array([[2, 1], [0, 3], [2, 1]]), y[1, :3] * 2.0), (X, Y)),
    "tensor_scatter_min": (lambda x, y: ops.tensor_scatter_min(y, np.array([[1], [1]]), x[:2] - 1.0), (X, Y)),
    "unsorted_segment_max": (lambda y: ops.unsorted_segment_max(y, np.array([2, 0, 2]), 4), (Y,)),
    "unsorted_segment_min": (lambda y: ops.unsorted_segment_min(y, np.array([[0, 1, 0, 1]] * 3), 3), (Y,)),
    "unsorted_segment_prod": (lambda x: ops.unsorted_segment_prod(x, np.array([1, 1, 0]), 2), (X,)),
    "batch_dot": (lambda x, y: ops.batch_dot(ops.reshape(x, (3, 2, 2)), ops.reshape(y, (3, 2, 2)), (1, 2)), (X, Y)),
    "scatter_add": (lambda x, y: ops.scatter_add(x, np.array([2, 0, 2]), y), (X, Y)),
})


CASES.update({  # MindSpore 2.x functional names found by its tests/st/ops/test_func_*.py
    "diagflat": (lambda y: ops.diagflat(y[:2, :2], -1), (Y,)), "row_stack": (lambda a, b: ops.row_stack([a, b[0]]), (X, Y)),
    "positive": (lambda y: ops.positive(y) * 2.0, (Y,)), "arctan2": (ops.arctan2, (Y, X)),
    "vector_norm": (lambda y: ops.vector_norm(y, 3.0, 1) + ops.vector_norm(y, -1.5, 0)[:3], (Y,)),
})


def _output_is_constant_by_declaration(name: str) -> bool:
    fn, args = CASES[name]
    nodes = jit(fn).lower(*args).graph.nodes
    return bool(nodes) and nodes[-1].prim.differentiable is False


NOT_DIFFERENTIABLE = frozenset(name for name in CASES if _output_is_constant_by_declaration(name))
