"""The one index range check: every op taking indices refuses out-of-range ones (numpy would wrap -1 around)."""

from __future__ import annotations

import numpy as np
import pytest

from funcad import ops
from funcad.ops.indices import check_index_range

LOGITS = np.zeros((3, 4))


def test_in_range_indices_pass_and_give_their_span():
    assert check_index_range("op", np.array([2, 0, 3]), 4) == (0, 3)
    assert check_index_range("op", np.array([], dtype=np.int64), 4) is None
    assert check_index_range("op", np.array([1, -100, 2]), 4, ignore_index=-100) == (-100, 2)


def test_out_of_range_indices_are_named_with_the_op_and_values():
    with pytest.raises(IndexError, match=r"funcad.ops.op: indices must lie in \[0, 4\), got values in \[-1, 2\]"):
        check_index_range("op", np.array([2, -1]), 4)
    with pytest.raises(IndexError, match=r"funcad.ops.op: target values must lie in \[0, 4\) or equal ignore_index=-100, got \[7\]"):
        check_index_range("op", np.array([1, -100, 7]), 4, "target values", ignore_index=-100)


@pytest.mark.parametrize("call, error, message", [
    (lambda bad: ops.one_hot(bad, 4), ValueError, r"funcad.ops.one_hot: indices must lie in \[0, 4\)"),
    (lambda bad: ops.embedding(bad, np.ones((4, 2))), IndexError, r"funcad.ops.embedding: indices must lie in \[0, 4\) for a table of 4 rows"),
    (lambda bad: ops.nll_loss(LOGITS, bad[:3]), IndexError, r"funcad.ops.nll_loss: target values must lie in \[0, 4\) or equal ignore_index"),
    (lambda bad: ops.cross_entropy(LOGITS, bad[:3]), IndexError, r"funcad.ops.cross_entropy: target values must lie in \[0, 4\) or equal ignore_"),
    (lambda bad: ops.cross_entropy(LOGITS, bad[:3], label_smoothing=0.1), IndexError, r"funcad.ops.cross_entropy: target values"),
])
@pytest.mark.parametrize("bad", [np.array([0, -1, 2]), np.array([0, 4, 2])])
def test_every_op_taking_indices_checks_them(call, error, message, bad):
    with pytest.raises(error, match=message):
        call(bad)
