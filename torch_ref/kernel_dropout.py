"""torch's kernels that draw dropout inside themselves, run as their parts so that the draw goes through ``F.dropout``.

``F.scaled_dot_product_attention`` (which ``nn.MultiheadAttention`` calls with ``need_weights=False``, as
``nn.TransformerEncoderLayer`` and ``nn.TransformerDecoderLayer`` do, and nanoGPT-style attention calls directly) and
the multi-layer recurrent kernels behind ``nn.LSTM``, ``nn.GRU`` and ``nn.RNN`` draw their dropout masks in C++, where
``torch_ref.dropout.aligned_masks`` cannot reach them. While aligned, these replacements compute the same thing
from parts that can be reached: attention as torch documents its reference (``softmax(q k^T * scale + mask)``, the
weights' dropout, then ``@ v``), a stack of recurrent layers as one kernel call per layer with ``F.dropout`` on
each layer's time-major output but the last's, as the kernel applies it. Without dropout, or outside training,
they call torch's own kernels unchanged. A packed sequence is dropped over its padded batch, as funcad drops it, when
the code that packed it says which (``padded_batch``: the mirror's layers taking MindSpore's ``seq_length`` do);
otherwise it keeps the kernel's own draw over the packed rows, and ``PACKED_UNALIGNED`` collects the kernels' names
(``RNNBase.mode`` in lower case) as they run.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F

_SDPA = F.scaled_dot_product_attention
_RECURRENT = ("lstm", "gru", "rnn_tanh", "rnn_relu")
_KERNELS = {name: getattr(torch._VF, name) for name in _RECURRENT}

#: The recurrent kernels that ran a packed sequence with dropout between layers while aligned (their masks were torch's).
PACKED_UNALIGNED: set[str] = set()
_PADDED_BATCH: list = [None]  # (sorted_indices, steps) of the padded batch being run packed, while ``padded_batch`` says so


@contextlib.contextmanager
def padded_batch(sorted_indices: torch.Tensor | None, steps: int) -> Iterator[None]:
    """While inside, a packed recurrent kernel drops between its layers over the padded (steps, batch, features) batch in
    the batch's own order (``sorted_indices`` as ``PackedSequence`` keeps it), drawing what funcad draws for it."""
    _PADDED_BATCH[0] = (sorted_indices, steps)
    try:
        yield
    finally:
        _PADDED_BATCH[0] = None


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
    """torch's attention; with dropout, its reference formula with the weights' dropout drawn by ``F.dropout``."""
    if dropout_p == 0.0:
        return _SDPA(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale, enable_gqa=enable_gqa)
    length, source = query.size(-2), key.size(-2)
    bias = torch.zeros(length, source, dtype=query.dtype, device=query.device)
    if is_causal:
        bias = bias.masked_fill(~torch.ones(length, source, dtype=torch.bool, device=query.device).tril(), float("-inf"))
    if attn_mask is not None:
        bias = bias.masked_fill(attn_mask.logical_not(), float("-inf")) if attn_mask.dtype == torch.bool else bias + attn_mask
    if enable_gqa:
        key = key.repeat_interleave(query.size(-3) // key.size(-3), -3)
        value = value.repeat_interleave(query.size(-3) // value.size(-3), -3)
    factor = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
    weights = torch._safe_softmax(query @ key.transpose(-2, -1) * factor + bias, -1)  # a row with every key masked: zeros
    return F.dropout(weights, dropout_p, training=True) @ value


def _drop_packed(data: torch.Tensor, batch_sizes: torch.Tensor, p: float) -> torch.Tensor:
    """The packed rows times the mask ``F.dropout`` draws for the padded time-major batch (``padded_batch``)."""
    order, steps = _PADDED_BATCH[0]
    batch = int(batch_sizes[0])
    keep = F.dropout(data.new_ones(steps, batch, data.shape[-1]), p, training=True).reshape(steps * batch, -1)
    order = torch.arange(batch) if order is None else order.cpu()
    rows = torch.cat([t * batch + order[:n] for t, n in enumerate(batch_sizes.tolist())])
    return data * keep[rows.to(data.device)]


def _layer_by_layer(name: str):
    """``torch._VF.<name>``: with dropout between layers in training, one call per layer with the dropout between."""
    kernel = _KERNELS[name]

    def run(*args):
        packed = isinstance(args[1], torch.Tensor) and args[1].dim() == 1 and not args[1].is_floating_point()
        x, batch_sizes = (args[0], args[1]) if packed else (args[0], None)
        hx, weights, has_biases, num_layers, dropout, train, bidirectional = args[2:9] if packed else args[1:8]
        if not (dropout > 0 and train and num_layers > 1):
            return kernel(*args)
        if packed and _PADDED_BATCH[0] is None:
            PACKED_UNALIGNED.add(name)
            return kernel(*args)
        batch_first = not packed and args[8]
        directions = 2 if bidirectional else 1
        per_layer = len(weights) // num_layers
        states = hx if name == "lstm" else (hx,)
        x = x.transpose(0, 1) if batch_first else x  # the kernel drops over the time-major output
        finals = []
        for layer in range(num_layers):
            rows = slice(layer * directions, (layer + 1) * directions)
            state = tuple(s[rows] for s in states)
            layer_args = (state if name == "lstm" else state[0], weights[layer * per_layer:(layer + 1) * per_layer], has_biases, 1, 0.0, train,
                          bidirectional)
            out = kernel(x, batch_sizes, *layer_args) if packed else kernel(x, *layer_args, False)
            x, finals = out[0], finals + [out[1:]]
            if layer < num_layers - 1:
                x = _drop_packed(x, batch_sizes, dropout) if packed else F.dropout(x, dropout, training=True)
        x = x.transpose(0, 1) if batch_first else x
        return (x, *(torch.cat(parts) for parts in zip(*finals)))

    return run


KERNEL_DRAWS = {name: _layer_by_layer(name) for name in _RECURRENT}
