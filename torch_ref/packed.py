"""torch's packed sequences on the funcad side: ``pack_padded_sequence`` -> recurrent layer -> ``pad_packed_sequence``.

A torch forward packs a padded batch so that its RNN, GRU or LSTM runs each sequence over its own length; funcad's
recurrent layers do the same from a padded batch and ``seq_length`` (MindSpore's form). The tracers record the two
torch functions whole (``RECORDED``, ``trace``); replayed, ``pack_padded_sequence`` keeps the padded batch
and its lengths (``Packed``), a recurrent layer called with one runs with ``seq_length`` (``call_layer``), and
``pad_packed_sequence`` gives the padded outputs back, cut to the longest sequence as torch's are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch.nn.utils.rnn as torch_rnn
from torch import fx

from funcad import ops

RECORDED = (torch_rnn.pack_padded_sequence, torch_rnn.pad_packed_sequence)  # calls the tracers keep as one node each


class Packed(NamedTuple):
    """A padded batch with each sequence's length: what ``pack_padded_sequence`` stands for on the funcad side."""

    data: object  # (batch, time, ...) when batch_first, else (time, batch, ...)
    lengths: object
    batch_first: bool


def pack_padded_sequence(input, lengths, batch_first: bool = False, enforce_sorted: bool = True) -> Packed:  # noqa: A002 - torch's names
    return Packed(input, ops.cast(lengths, np.int32), bool(batch_first))


def pad_packed_sequence(sequence: Packed, batch_first: bool = False, padding_value: float = 0.0, total_length: int | None = None):
    """(padded outputs, lengths) as torch returns them: time cut to the longest sequence (or ``total_length``), steps
    past each sequence's length holding ``padding_value``."""
    data = sequence.data if sequence.batch_first else ops.swapaxes(sequence.data, 0, 1)  # (batch, time, ...)
    lengths = np.asarray(sequence.lengths)
    steps = int(lengths.max()) if total_length is None else int(total_length)
    if steps < data.shape[1]:
        data = data[:, :steps]
    elif steps > data.shape[1]:
        data = ops.pad(data, ((0, 0), (0, steps - data.shape[1])) + ((0, 0),) * (len(data.shape) - 2))
    if padding_value != 0.0:  # the recurrent layers leave zeros past each length
        past = np.arange(data.shape[1])[None, :] >= lengths[:, None]
        data = ops.masked_fill(data, past.reshape(past.shape + (1,) * (len(data.shape) - 2)), float(padding_value))
    return (data if batch_first else ops.swapaxes(data, 0, 1)), ops.cast(sequence.lengths, np.int64)


def call_layer(layer, args: tuple, kwargs: dict):
    """``layer(*args, **kwargs)``; a recurrent layer given a ``Packed`` batch runs it with ``seq_length`` in its own
    layout and returns its output packed, as torch's does."""
    if not args or not isinstance(args[0], Packed):
        return layer(*args, **kwargs)
    packed = args[0]
    data = packed.data if packed.batch_first == layer.batch_first else ops.swapaxes(packed.data, 0, 1)
    output, state = layer(data, *args[1:], seq_length=packed.lengths, **kwargs)
    return Packed(output, packed.lengths, layer.batch_first), state


def _record(fn: Callable) -> Callable:
    """``fn`` that, given a traced value, becomes one node of the trace instead of being traced into."""

    @functools.wraps(fn)
    def recording(*args, **kwargs):
        proxy = next((a for a in (*args, *kwargs.values()) if isinstance(a, fx.Proxy)), None)
        return fn(*args, **kwargs) if proxy is None else proxy.tracer.create_proxy("call_function", fn, args, kwargs)

    return recording


def trace(tracer: fx.Tracer, module, concrete_args: dict | None = None) -> fx.Graph:
    """``tracer.trace(module, concrete_args)`` with ``RECORDED`` kept whole: called as ``torch.nn.utils.rnn.<fn>`` (patched
    while tracing) or by a name imported from there (the tracer's ``autowrap_functions``)."""
    saved = {fn.__name__: fn for fn in RECORDED}
    for name, fn in saved.items():
        setattr(torch_rnn, name, _record(fn))
    try:
        graph = tracer.trace(module, concrete_args)
    finally:
        for name, fn in saved.items():
            setattr(torch_rnn, name, fn)
    for node in graph.nodes:  # torch.fx marks autowrapped nodes; code generated from a marked node registers the function's
        node.meta.pop("is_wrapped", None)  # dotted name for wrapping in every later trace, which then fails looking it up
    return graph
