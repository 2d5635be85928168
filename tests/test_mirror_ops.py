"""Every op case of tests/op_cases.py called in a user Cell's construct and mirrored: the torch twin, built from the
primitives' declared torch translations, computes the same values and gradients in float64, or the mirror names the
primitive that has no translation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
from funcad import nn
from tests.op_cases import CASES
from tests.twin_check import assert_same_model
from torch_ref.layer_table import TranslationError
from torch_ref.mirror import mirror_twin

# op case -> the primitive it reaches that declares no torch translation (the fused LSTM kernels: their layer, nn.LSTM,
# mirrors whole)
UNTRANSLATED = {"lstm_cell": "lstm_cell", "lstm_sequence": "lstm_sequence"}
# op case -> the relative tolerance of its input gradient: torch's trigamma (digamma's derivative) is up to 5e-10 off
# scipy's polygamma(1, x), which funcad's is
TORCH_GRADIENT_RTOL = {"digamma": 1e-8}


class OpCell(nn.Cell):
    """A construct that calls one op on its inputs."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def construct(self, *xs):
        return self.fn(*xs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_op_in_construct_mirrors_to_the_same_values_and_gradients_or_names_its_primitive(name):
    fn, args = CASES[name]
    args = tuple(np.asarray(a, np.float64) if np.issubdtype(np.asarray(a).dtype, np.floating) else a for a in args)
    cell = OpCell(fn).set_dtype(funcad.float64)
    twin = mirror_twin(cell)
    if name not in UNTRANSLATED:
        assert_same_model(cell, twin.module, twin.parameter_names, args, train=True, grad_rtol=TORCH_GRADIENT_RTOL.get(name))
        return
    with pytest.raises(TranslationError, match=rf"OpCell at the root: construct cannot be mirrored: primitive '{UNTRANSLATED[name]}' has no "
                                               r"torch translation .* at .*(op_cases|test_mirror_ops).py:\d+"):
        twin.module(*[torch.from_numpy(np.asarray(a)) for a in args])
