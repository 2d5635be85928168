"""Recurrent and attention layers against torch: forward + backward of a 2-layer bidirectional LSTM and of a 2-layer
Transformer encoder with a padding mask (float32), funcad eager, funcad jit and torch eager, interleaved round by
round in one process; each figure is the median over rounds, with thread counts fixed.

    python benchmarks/bench_layers.py [--threads 1] [--rounds 9]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # torch's spinning OpenMP threads would otherwise slow numpy's BLAS

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_conv import _interleaved_medians  # noqa: E402 - the same interleaving as the conv benchmark

import funcad  # noqa: E402
from funcad import nn, ops  # noqa: E402
from harness.timing import fixed_threads  # noqa: E402

STEPS, BATCH, FEATURES, HIDDEN = 20, 32, 32, 64


def _lstm():
    net = nn.LSTM(FEATURES, HIDDEN, num_layers=2, bidirectional=True)
    module = torch.nn.LSTM(FEATURES, HIDDEN, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).normal(size=(STEPS, BATCH, FEATURES)).astype(np.float32)
    lengths = np.random.default_rng(1).integers(1, STEPS + 1, BATCH)

    def loss(x):
        out, _ = net(x, seq_length=lengths)
        return ops.sum(out * out)

    tx = torch.tensor(x)

    def torch_step():
        module.zero_grad()
        packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths), enforce_sorted=False)
        out = torch.nn.utils.rnn.pad_packed_sequence(module(packed)[0], total_length=STEPS)[0]
        (out * out).sum().backward()

    return net, loss, x, torch_step


def _transformer():
    net = nn.TransformerEncoder(nn.TransformerEncoderLayer(FEATURES, 4, 2 * HIDDEN, dropout=0.1, batch_first=True), 2).set_train()
    layer = torch.nn.TransformerEncoderLayer(FEATURES, 4, 2 * HIDDEN, dropout=0.1, batch_first=True)
    module = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).train()
    x = np.random.default_rng(0).normal(size=(BATCH, STEPS, FEATURES)).astype(np.float32)
    padding = np.arange(STEPS)[None, :] >= np.random.default_rng(1).integers(1, STEPS + 1, BATCH)[:, None]

    def loss(x):
        return ops.sum(ops.square(net(x, src_key_padding_mask=padding)))

    tx, tpad = torch.tensor(x), torch.tensor(padding)

    def torch_step():
        module.zero_grad()
        torch.square(module(tx, src_key_padding_mask=tpad)).sum().backward()

    return net, loss, x, torch_step


def _medians(net, loss, x, torch_step, rounds: int) -> dict[str, float]:
    """Median milliseconds per forward + backward of each engine, the engines interleaved within each round."""
    step = funcad.value_and_grad(loss, None, net.trainable_params())
    compiled = funcad.jit(step)
    engines = {"funcad eager": lambda: step(x), "funcad jit": lambda: compiled(x), "torch eager": torch_step}
    for run in engines.values():  # the first call of each compiles or allocates
        run()
    return _interleaved_medians(engines, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    with fixed_threads(args.threads):
        for name, build in (("lstm", _lstm), ("transformer", _transformer)):
            medians = _medians(*build(), args.rounds)
            for k, v in medians.items():
                print(f"{name:12s} {k:13s} {v:8.2f} ms  {v / medians['torch eager']:5.2f} x torch")


if __name__ == "__main__":
    main()
