"""Per-sample gradients of a Cell: the gradient of each sample's own loss, for every sample at once.

The recipe is one line, ``vmap(grad(forward, None, weights))(inputs, targets)`` with ``forward`` computing one
sample's loss (the sample given a batch axis of one, as the Cell expects); ``per_sample_grads`` is that line for a
Cell and a loss. vmap batches every op of the forward and backward passes, so the cost is one batched pass, not a
loop over the samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from funcad.core.batching import vmap
from funcad.core.transforms import grad
from funcad.nn.cell import Cell
from funcad.ops.shape import expand_dims


def per_sample_grads(net: Cell, loss_fn: Callable, inputs, targets, weights: Sequence | None = None) -> tuple:
    """One gradient per sample and weight: a tuple, in the order of ``weights`` (default ``net.trainable_params()``),
    of arrays shaped (batch, *weight shape); sample i's entry is the gradient of ``loss_fn(net(x_i), y_i)``. ``inputs``
    is one Tensor, or a tuple of them for a Cell whose construct takes several (each batched along its first axis)."""
    weights = tuple(net.trainable_params() if weights is None else weights)

    def sample_loss(x, y):
        xs = x if isinstance(x, tuple) else (x,)
        return loss_fn(net(*(expand_dims(a, 0) for a in xs)), expand_dims(y, 0))

    return vmap(grad(sample_loss, None, weights))(inputs, targets)
