"""Embedding: a lookup table of row vectors indexed by integer ids."""

from __future__ import annotations

import numpy as np

from funcad import ops
from funcad.core.dtypes import float32, int32
from funcad.core.tensor import Parameter
from funcad.nn.cell import Cell
from funcad.nn.initializer import initializer
from funcad.nn.layer.basic import positive_int


class Embedding(Cell):
    """Rows of ``embedding_table`` (vocab_size, embedding_size) picked by integer ids; output ids.shape + (embedding_size,).

    MindSpore's arguments and defaults: the table is drawn from 'normal' = N(0, 0.01^2) (torch's is N(0, 1)); the
    ``padding_idx`` row starts at zero and receives no gradient. ``use_one_hot`` (a one-hot product in MindSpore)
    gives the same numbers as the lookup; ``dtype`` is the ids' integer type. In torch the parameter is named ``weight``.
    """

    torch_names = {"embedding_table": "weight"}

    def __init__(self, vocab_size: int, embedding_size: int, use_one_hot: bool = False, embedding_table="normal", dtype=int32,
                 padding_idx: int | None = None, *, param_dtype=float32):
        super().__init__()
        if not np.issubdtype(np.dtype(dtype), np.integer):
            raise TypeError(f"Embedding: dtype is the ids' type and must be an integer type, got {dtype}")
        self.use_one_hot = bool(use_one_hot)
        self.vocab_size = positive_int(vocab_size, "Embedding", "vocab_size")
        self.embedding_size = positive_int(embedding_size, "Embedding", "embedding_size")
        if padding_idx is not None and not -self.vocab_size <= padding_idx < self.vocab_size:
            raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for vocab_size {vocab_size}")
        self.padding_idx = None if padding_idx is None else padding_idx % self.vocab_size
        table = np.array(initializer(embedding_table, (self.vocab_size, self.embedding_size), param_dtype))
        if self.padding_idx is not None:
            table[self.padding_idx] = 0
        self.embedding_table = Parameter(table)

    def construct(self, ids):
        dtype = ids.dtype if hasattr(ids, "dtype") else np.asarray(ids).dtype
        if not np.issubdtype(dtype, np.integer):
            raise TypeError(f"{self._where()}: ids must be integers, got {dtype}")
        return ops.embedding(ids, self.embedding_table, padding_idx=self.padding_idx)

    def extend_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, embedding_size={self.embedding_size}, padding_idx={self.padding_idx}"
