"""Loss Cells with MindSpore's names, argument order and defaults; each wraps one ``funcad.ops`` loss."""

from __future__ import annotations

from funcad import ops
from funcad.core.tensor import Parameter
from funcad.nn.cell import Cell
from funcad.nn.layer.activation import get_activation

_REDUCTIONS = ("mean", "sum", "none")


class LossBase(Cell):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")
        self.reduction = reduction

    def get_axis(self, x) -> tuple:
        """Every axis of ``x``: what ``get_loss`` reduces over."""
        return tuple(range(len(x.shape)))

    def get_loss(self, x, weights=1.0):
        """``weights * x`` reduced by the Cell's reduction (mean or sum over every axis, or none): how a custom loss
        written as MindSpore's tutorial writes one ends its ``construct``."""
        x = x * weights
        if self.reduction == "none":
            return x
        return ops.mean(x, self.get_axis(x)) if self.reduction == "mean" else ops.sum(x, self.get_axis(x))

    def extend_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(LossBase):
    """Cross-entropy of logits (N, C, ...) against class indices or class probabilities."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def construct(self, logits, labels):
        return ops.cross_entropy(logits, labels, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(LossBase):
    """Negative log-likelihood of class indices given log-probabilities (N, C, ...)."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight, self.ignore_index = weight, ignore_index

    def construct(self, logits, labels):
        return ops.nll_loss(logits, labels, self.weight, self.ignore_index, self.reduction)


class BCEWithLogitsLoss(LossBase):
    """Binary cross-entropy on logits; note MindSpore's argument order (reduction first)."""

    def __init__(self, reduction: str = "mean", weight=None, pos_weight=None):
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def construct(self, logits, labels):
        return ops.binary_cross_entropy_with_logits(logits, labels, self.weight, self.pos_weight, self.reduction)


class BCELoss(LossBase):
    """Binary cross-entropy on probabilities (logs clamped at -100 as torch)."""

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight = weight

    def construct(self, logits, labels):
        return ops.binary_cross_entropy(logits, labels, self.weight, self.reduction)


class MSELoss(LossBase):
    def construct(self, logits, labels):
        return ops.mse_loss(logits, labels, self.reduction)


class L1Loss(LossBase):
    def construct(self, logits, labels):
        return ops.l1_loss(logits, labels, self.reduction)


class SmoothL1Loss(LossBase):
    """Huber-like loss with threshold ``beta``. MindSpore's default reduction is 'none' (torch's is 'mean')."""

    def __init__(self, beta: float = 1.0, reduction: str = "none"):
        super().__init__(reduction)
        self.beta = float(beta)

    def construct(self, logits, labels):
        return ops.smooth_l1_loss(logits, labels, beta=self.beta, reduction=self.reduction)


class SoftmaxCrossEntropyWithLogits(LossBase):
    """Cross-entropy of logits (N, C) against one-hot or probability labels (N, C), or class indices (N,) when
    ``sparse``. MindSpore's defaults: ``sparse=False``, ``reduction='none'`` (one loss per sample)."""

    def __init__(self, sparse: bool = False, reduction: str = "none"):
        super().__init__(reduction)
        self.sparse = bool(sparse)

    def construct(self, logits, labels):
        shape = tuple(logits.shape)
        if len(shape) != 2:
            raise ValueError(f"SoftmaxCrossEntropyWithLogits: logits must be (N, C), got shape {shape}")
        label_shape = tuple(labels.shape)
        expected = shape[:1] if self.sparse else shape
        if label_shape != expected:
            kind = "class indices" if self.sparse else "one-hot or probability labels"
            raise ValueError(f"SoftmaxCrossEntropyWithLogits(sparse={self.sparse}): {kind} must have shape {expected} "
                             f"for logits {shape}, got {label_shape}")
        if not self.sparse:
            labels = ops.cast(labels, logits.dtype)
        return ops.cross_entropy(logits, labels, reduction=self.reduction)


class HuberLoss(LossBase):
    """0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta), with d = logits - labels (``delta`` * smooth L1 with
    beta = delta)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.delta = float(delta)

    def construct(self, logits, labels):
        return ops.smooth_l1_loss(logits, labels, beta=self.delta, reduction=self.reduction) * self.delta


class KLDivLoss(Cell):
    """``ops.kl_div`` of log-probabilities ``logits`` against probabilities ``labels``; ``reduction`` 'mean' (over
    the elements, MindSpore's default), 'batchmean', 'sum' or 'none'."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "batchmean", "sum", "none"):
            raise ValueError(f"KLDivLoss: reduction must be one of mean, batchmean, sum, none, got {reduction!r}")
        self.reduction = reduction

    def construct(self, logits, labels):
        return ops.kl_div(logits, labels, self.reduction)


class MarginRankingLoss(LossBase):
    """``ops.margin_ranking_loss``: max(0, -target * (input1 - input2) + margin)."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = float(margin)

    def construct(self, input1, input2, target):
        return ops.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class SoftMarginLoss(LossBase):
    """``ops.soft_margin_loss``: log(1 + exp(-target * input))."""

    def construct(self, logits, labels):
        return ops.soft_margin_loss(logits, labels, self.reduction)


class HingeEmbeddingLoss(LossBase):
    """``ops.hinge_embedding_loss``: the input where the target is 1, max(0, margin - input) where it is -1."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = float(margin)

    def construct(self, logits, labels):
        return ops.hinge_embedding_loss(logits, labels, self.margin, self.reduction)


class CosineEmbeddingLoss(LossBase):
    """``ops.cosine_embedding_loss``: 1 - cos for target 1, max(0, cos - margin) for target -1."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = float(margin)

    def construct(self, logits_x1, logits_x2, labels):
        return ops.cosine_embedding_loss(logits_x1, logits_x2, labels, self.margin, self.reduction)


class TripletMarginLoss(LossBase):
    """``ops.triplet_margin_loss``; MindSpore passes the margin at the call (default 1.0), as here."""

    def __init__(self, p: float = 2, swap: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        self.p, self.swap, self.eps = p, bool(swap), float(eps)

    def construct(self, x, positive, negative, margin: float = 1.0):
        return ops.triplet_margin_loss(x, positive, negative, margin, self.p, self.eps, self.swap, self.reduction)


class MultiLabelSoftMarginLoss(LossBase):
    """``ops.multilabel_soft_margin_loss``: per sample, the mean binary cross-entropy over its labels."""

    def __init__(self, weight=None, reduction: str = "mean"):
        super().__init__(reduction)
        self.weight = weight

    def construct(self, x, target):
        return ops.multilabel_soft_margin_loss(x, target, self.weight, self.reduction)


class PoissonNLLLoss(LossBase):
    """``ops.poisson_nll_loss``: the Poisson negative log-likelihood (rate exp(input) when ``log_input``)."""

    def __init__(self, log_input: bool = True, full: bool = False, eps: float = 1e-8, reduction: str = "mean"):
        super().__init__(reduction)
        self.log_input, self.full, self.eps = bool(log_input), bool(full), float(eps)

    def construct(self, input, target):  # noqa: A002
        return ops.poisson_nll_loss(input, target, self.log_input, self.full, self.eps, self.reduction)


class GaussianNLLLoss(LossBase):
    """``ops.gaussian_nll_loss``: 0.5 * (log(var) + (logits - labels)**2 / var), var held at least ``eps``."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        self.full, self.eps = bool(full), float(eps)

    def construct(self, logits, labels, var):
        return ops.gaussian_nll_loss(logits, labels, var, self.full, self.eps, self.reduction)


class CTCLoss(LossBase):
    """``ops.ctc_loss``'s loss (without the log-alphas): log_probs (T, N, C) or (T, C), targets (N, S) or concatenated,
    one input and one target length per sample; 'mean' divides each loss by its target length first."""

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction)
        self.blank, self.zero_infinity = int(blank), bool(zero_infinity)

    def construct(self, log_probs, targets, input_lengths, target_lengths):
        return ops.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction, self.zero_infinity)[0]

    def extend_repr(self) -> str:
        return f"blank={self.blank}, reduction={self.reduction!r}, zero_infinity={self.zero_infinity}"


class MultiMarginLoss(LossBase):
    """``ops.multi_margin_loss``: the multi-class hinge loss of (N, C) scores against class indices (N,)."""

    def __init__(self, p: int = 1, margin: float = 1.0, reduction: str = "mean", weight=None):
        super().__init__(reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2, got {p!r}")
        self.p, self.margin = int(p), float(margin)
        # held as a constant Parameter, as torch holds it as a buffer: the twins' states match by name
        self.weight = None if weight is None else Parameter(weight, requires_grad=False)

    def construct(self, x, target):
        return ops.multi_margin_loss(x, target, self.p, self.margin, self.weight, self.reduction)


class MultilabelMarginLoss(LossBase):
    """``ops.multilabel_margin_loss``: each sample's target classes (before its first -1) against its other classes."""

    def construct(self, x, target):
        return ops.multilabel_margin_loss(x, target, self.reduction)


class RMSELoss(LossBase):
    """MindSpore's root mean squared error: sqrt(mean((logits - label)**2))."""

    def __init__(self):
        super().__init__("mean")

    def construct(self, logits, label):
        return ops.sqrt(ops.mse_loss(logits, label, "mean"))


class MAELoss(LossBase):
    """MindSpore's mean absolute error, |logits - label| reduced by ``reduction``."""

    def construct(self, logits, label):
        return ops.l1_loss(logits, label, self.reduction)


class FocalLoss(LossBase):
    """-(1 - p_t)^gamma log p_t (Lin et al., 2017) on logits (N, C) or (N, C, *spatial), as MindSpore computes it.

    ``labels`` are class indices with a channel axis of 1 ((N, 1) or (N, 1, *spatial)), or per-class targets of the
    logits' shape. Each sample's loss is the mean over its pixels (indices) or over its pixels per class (targets),
    then ``reduction`` applies; ``weight`` (C,) scales each class's log-probability."""

    def __init__(self, weight=None, gamma: float = 2.0, reduction: str = "mean"):
        super().__init__(reduction)
        if not isinstance(gamma, float):
            raise TypeError(f"FocalLoss: gamma must be a float, got {type(gamma).__name__}")
        if weight is not None and len(weight.shape) != 1:
            raise ValueError(f"FocalLoss: weight must be 1-D (one per class), got shape {tuple(weight.shape)}")
        self.weight, self.gamma = weight, gamma

    def construct(self, logits, labels):
        if len(labels.shape) != len(logits.shape) or labels.shape[1] not in (1, logits.shape[1]) or labels.shape[2:] != logits.shape[2:]:
            raise ValueError(f"FocalLoss: labels must be class indices of shape (N, 1, *spatial) or targets of the logits' "
                             f"shape, got logits {tuple(logits.shape)} and labels {tuple(labels.shape)}")
        n, classes = logits.shape[:2]
        logits = ops.reshape(logits, (n, classes, -1))
        labels = ops.reshape(labels, (n, labels.shape[1], -1))
        log_p = ops.log_softmax(logits, 1)
        indices = labels.shape[1] == 1
        if indices:
            labels = ops.cast(labels, "int32")
            log_p = ops.squeeze(ops.gather_elements(log_p, 1, labels), 1)
        modulation = (1 - ops.exp(log_p)) ** self.gamma
        if self.weight is not None:
            weight = ops.broadcast_to(ops.reshape(ops.cast(self.weight, log_p.dtype), (1, classes, 1)), (n, classes, labels.shape[2]))
            log_p = log_p * (ops.squeeze(ops.gather_elements(weight, 1, labels), 1) if indices else weight)
        loss = -modulation * log_p if indices else -modulation * labels * log_p
        return self.get_loss(ops.mean(loss, -1))


class DiceLoss(LossBase):
    """1 - 2 |pred . true| / (|pred|^2 + |true|^2 + smooth) over every element of the batch: MindSpore's binary Dice loss."""

    def __init__(self, smooth: float = 1e-5):
        super().__init__()
        if not (isinstance(smooth, float) and smooth > 0):
            raise ValueError(f"DiceLoss: smooth must be a positive float, got {smooth!r}")
        self.smooth = smooth

    def construct(self, logits, labels):
        if len(logits.shape) != len(labels.shape):
            raise ValueError(f"DiceLoss: logits {tuple(logits.shape)} and labels {tuple(labels.shape)} differ in rank")
        pred, true = ops.reshape(logits, (-1,)), ops.reshape(labels, (-1,))
        intersection = ops.sum(pred * true)
        union = ops.sum(pred * pred) + ops.sum(true * true)
        return 1 - 2 * intersection / (union + self.smooth)


class MultiClassDiceLoss(LossBase):
    """Mean over the classes (axis 1) of each class's ``DiceLoss`` after ``activation`` (a name makes MindSpore's layer:
    "softmax" is over the last axis); ``weights`` scales each class's loss, ``ignore_indiex`` (MindSpore's spelling)
    leaves one class out of the sum (the mean still counts it)."""

    def __init__(self, weights=None, ignore_indiex: int | None = None, activation="softmax"):
        super().__init__()
        names = ("softmax", "logsoftmax", "relu", "relu6", "tanh", "sigmoid")
        if isinstance(activation, str) and activation not in names:
            raise ValueError(f"MultiClassDiceLoss: activation must be one of {', '.join(names)} or a Cell, got {activation!r}")
        if weights is not None and len(weights.shape) != 2:
            raise ValueError(f"MultiClassDiceLoss: weights must be 2-D, got shape {tuple(weights.shape)}")
        self.weights, self.ignore_indiex = weights, ignore_indiex
        self.activation = get_activation(activation) if isinstance(activation, str) else activation
        self.binary = DiceLoss(smooth=1e-5)

    def construct(self, logits, labels):
        if logits.shape != labels.shape or len(labels.shape) < 2:
            raise ValueError(f"MultiClassDiceLoss: logits {tuple(logits.shape)} and labels {tuple(labels.shape)} must have "
                             "the same shape (N, C, ...)")
        if self.activation is not None:
            logits = self.activation(logits)
        total = 0
        for i in range(labels.shape[1]):
            if i != self.ignore_indiex:
                loss = self.binary(logits[:, i], labels[:, i])
                total = total + (loss * self.weights[i] if self.weights is not None else loss)
        return total / labels.shape[1]
