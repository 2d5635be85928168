"""Dropout and random draws with the same numbers in both engines: the torch side draws funcad's from a copy of funcad's key.

funcad's ``ops.dropout`` derives each mask from its random key ``[seed, counter]`` and advances the counter. Inside
``aligned_masks()``, torch's ``F.dropout`` and ``F.dropout1d/2d/3d`` derive theirs the same way from
``TORCH_KEY``, so after ``set_mask_key(seed, counter)`` the k-th dropout call on either side draws the same mask.
torch's dropout layers (``nn.Dropout``, ``nn.Dropout1d/2d/3d`` and subclasses) call these functions, as
does a user's forward calling them by ``F.<name>``, so both are aligned without touching the model. The harness
sets the key before each forward, gradient and training step of each engine and runs the torch engine's calls
inside ``aligned_masks()`` (``harness.engines``), so the masks of step n are the same for funcad and torch, in
float32 and in float64. Dropout torch draws inside its own kernels (the attention weights of
``F.scaled_dot_product_attention`` and so of ``torch.nn.MultiheadAttention`` called with ``need_weights=False``, between
the layers of ``torch.nn.LSTM``) is aligned by running those kernels as their parts (``torch_ref.kernel_dropout``).

A forward's own draws are aligned alike (``DRAWS``): ``torch.rand``/``randn``/``rand_like``/``randn_like``,
``torch.bernoulli`` and the in-place ``Tensor.bernoulli_``/``uniform_``/``normal_`` (a VAE's ``eps =
torch.randn_like(std)``, a stochastic-depth ``x.new_empty(shape).bernoulli_(keep)``). The twin (``to_funcad``)
draws them with funcad's ``ops.rand``/``ops.randn`` from funcad's key, the torch side, inside ``aligned_masks()``,
the same numbers from ``TORCH_KEY``: uniform numbers are numpy's ``random``, normal ones ``standard_normal``, in
the tensor's dtype, and a Bernoulli draw is a uniform number below its probability.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from funcad import ops
from funcad.core.seed import random_key
from funcad.ops.random import _scaled_keep_mask
from torch_ref.arrays import any_numpy_dtype, from_numpy, numpy_dtype, sizes
from torch_ref.kernel_dropout import KERNEL_DRAWS, scaled_dot_product_attention

TORCH_KEY = np.zeros(2, np.uint64)


def set_mask_key(seed: int, counter: int, engine: str) -> None:
    """Point ``engine``'s ('funcad' or 'torch') next dropout mask at ``[seed, counter]``."""
    key = np.array([seed, counter], np.uint64)
    if engine == "funcad":
        random_key.set_data(key)
    else:
        TORCH_KEY[:] = key


def _masked(x: torch.Tensor, p: float, training: bool, inplace: bool, spatial: int) -> torch.Tensor:
    """``x`` times funcad's next mask: one value per element, or per channel over the last ``spatial`` axes (as
    funcad's ``Dropout1d/2d/3d``)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    shape = tuple(x.shape[: x.dim() - spatial]) + (1,) * spatial
    dtype = numpy_dtype(x.dtype)
    if p == 1.0:
        mask = np.zeros(shape, dtype)
    else:
        rng = np.random.default_rng([int(k) for k in TORCH_KEY])
        TORCH_KEY[1] += 1
        mask = _scaled_keep_mask(rng, shape, float(p), dtype)
    mask_t = from_numpy(mask).to(x.device)
    return x.mul_(mask_t) if inplace else x * mask_t


def _dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002 (torch's signature)
    return _masked(input, p, training, inplace, 0)


def _dropout1d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    return _masked(input, p, training, inplace, 1)


def _dropout2d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    return _masked(input, p, training, inplace, 2)


def _dropout3d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    return _masked(input, p, training, inplace, 3)


ALIGNED = {"dropout": _dropout, "dropout1d": _dropout1d, "dropout2d": _dropout2d, "dropout3d": _dropout3d,
           "scaled_dot_product_attention": scaled_dot_product_attention}


def _numbers(kind: str, shape: tuple, dtype: torch.dtype) -> torch.Tensor:
    """The next draw from ``TORCH_KEY``: as funcad's ``ops.rand`` (kind 'uniform') or ``ops.randn`` ('normal') draw
    from funcad's key."""
    rng = np.random.default_rng([int(k) for k in TORCH_KEY])
    TORCH_KEY[1] += 1
    draw = rng.random(shape) if kind == "uniform" else rng.standard_normal(shape)
    return from_numpy(draw.astype(numpy_dtype(dtype)))


def _created(kind: str):
    """torch.rand / torch.randn(*size, dtype=None, ...): torch's default dtype unless one is given."""
    def draw(*size, dtype=None, generator=None, out=None, layout=None, device=None, requires_grad=False, pin_memory=False):
        return _numbers(kind, sizes(size), dtype or torch.get_default_dtype()).requires_grad_(requires_grad)
    return draw


def _created_like(kind: str):
    """torch.rand_like / torch.randn_like(input, dtype=None, ...)."""
    def draw(input, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
        return _numbers(kind, tuple(input.shape), dtype or input.dtype).requires_grad_(requires_grad)
    return draw


def _bernoulli(input, p=None, generator=None, out=None):  # noqa: A002
    """torch.bernoulli(probs) / Tensor.bernoulli(): ones where a uniform draw is below the probability."""
    probs = input if p is None else p
    return (_numbers("uniform", tuple(input.shape), input.dtype) < probs).to(input.dtype)


def _filled(tensor: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return tensor.copy_(values)


def _bernoulli_(tensor, p=0.5, generator=None):
    return _filled(tensor, _bernoulli(tensor, p))


def _uniform_(tensor, a=0.0, b=1.0, generator=None):  # torch's from/to, passed by position
    return _filled(tensor, a + (b - a) * _numbers("uniform", tuple(tensor.shape), tensor.dtype))


def _normal_(tensor, mean=0.0, std=1.0, generator=None):
    return _filled(tensor, mean + std * _numbers("normal", tuple(tensor.shape), tensor.dtype))


DRAWS = {"rand": _created("uniform"), "randn": _created("normal"), "rand_like": _created_like("uniform"),
         "randn_like": _created_like("normal"), "bernoulli": _bernoulli}
TENSOR_DRAWS = {"bernoulli": _bernoulli, "bernoulli_": _bernoulli_, "uniform_": _uniform_, "normal_": _normal_}


@contextlib.contextmanager
def aligned_masks() -> Iterator[None]:
    """While inside, torch's dropout functions (and so its dropout layers, its attention and its recurrent kernels) draw
    funcad's masks from ``TORCH_KEY``, and the random draws of ``DRAWS`` and ``TENSOR_DRAWS`` funcad's numbers."""
    patched = [(F, ALIGNED), (torch, DRAWS), (torch.Tensor, TENSOR_DRAWS), (torch._VF, KERNEL_DRAWS)]
    saved = [(owner, {name: getattr(owner, name) for name in table}) for owner, table in patched]
    for owner, table in patched:
        for name, fn in table.items():
            setattr(owner, name, fn)
    try:
        yield
    finally:
        for owner, table in saved:
            for name, fn in table.items():
                setattr(owner, name, fn)


# The twin's side (``to_funcad``): the same draws with funcad's ops, from funcad's key. A creation given no dtype is
# made in the twin's default float (``default_float``, which ``torch_ref.to_funcad`` passes), as torch's default.

def _funcad_created(op):
    def draw(*size, dtype=None, generator=None, out=None, layout=None, device=None, requires_grad=False, pin_memory=False,
             default_float=None):
        _no_generator(op.__name__, generator)
        return op(*sizes(size), dtype=any_numpy_dtype(dtype) or default_float)
    draw.default_float = True
    return draw


def _funcad_created_like(op):
    def draw(input, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
        return op(*input.shape, dtype=any_numpy_dtype(dtype) or input.dtype)
    return draw


def _funcad_bernoulli(input, p=None, generator=None, out=None):  # noqa: A002
    _no_generator("bernoulli", generator)
    draw = ops.rand(*input.shape, dtype=input.dtype)
    return ops.cast(draw < (input if p is None else p), input.dtype)


def _funcad_bernoulli_(tensor, p=0.5, generator=None):
    return _funcad_bernoulli(tensor, p, generator)


def _funcad_uniform_(tensor, a=0.0, b=1.0, generator=None):
    _no_generator("Tensor.uniform_", generator)
    return a + (b - a) * ops.rand(*tensor.shape, dtype=tensor.dtype)


def _funcad_normal_(tensor, mean=0.0, std=1.0, generator=None):
    _no_generator("Tensor.normal_", generator)
    return mean + std * ops.randn(*tensor.shape, dtype=tensor.dtype)


def _no_generator(name: str, generator) -> None:
    if generator is not None:
        raise NotImplementedError(f"torch.{name}: generator=... has no funcad translation (the twin draws from funcad's key, "
                                  "aligned with torch's draws by torch_ref.dropout.aligned_masks)")


FUNCTIONS = {torch.rand: _funcad_created(ops.rand), torch.randn: _funcad_created(ops.randn),
             torch.rand_like: _funcad_created_like(ops.rand), torch.randn_like: _funcad_created_like(ops.randn),
             torch.bernoulli: _funcad_bernoulli}
METHODS = {"bernoulli": _funcad_bernoulli, "bernoulli_": _funcad_bernoulli_, "uniform_": _funcad_uniform_, "normal_": _funcad_normal_}
