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


class EmbeddingLookup(Cell):
    """Rows of ``embedding_table`` (vocab_size, embedding_size) picked by integer ids, with the semantics of
    MindSpore's CPU target: an id outside [0, vocab_size) gives a row of zeros (and no gradient). ``max_norm``
    rescales each looked-up row whose L2 norm exceeds it to that norm. The table is drawn from ``param_init``
    ('normal' = N(0, 0.01^2)). The slicing and cache options of MindSpore's parameter server (``slice_mode``,
    ``manual_shapes``, ``sparse``, ``vocab_cache_size``) concern where the table lives across devices, not the
    values, and are accepted as given."""

    _TARGETS = ("CPU", "DEVICE")
    _SLICE_MODES = ("batch_slice", "field_slice", "table_row_slice", "table_column_slice")

    def __init__(self, vocab_size: int, embedding_size: int, param_init="normal", target: str = "CPU", slice_mode: str = "batch_slice",
                 manual_shapes=None, max_norm: float | None = None, sparse: bool = True, vocab_cache_size: int = 0, dtype=float32):
        super().__init__()
        if target not in self._TARGETS:
            raise ValueError(f"EmbeddingLookup: target must be one of {self._TARGETS}, got {target!r}")
        if slice_mode not in self._SLICE_MODES:
            raise ValueError(f"EmbeddingLookup: slice_mode must be one of {self._SLICE_MODES}, got {slice_mode!r}")
        if max_norm is not None and not max_norm > 0:
            raise ValueError(f"EmbeddingLookup: max_norm must be positive or None, got {max_norm!r}")
        self.vocab_size = positive_int(vocab_size, "EmbeddingLookup", "vocab_size")
        self.embedding_size = positive_int(embedding_size, "EmbeddingLookup", "embedding_size")
        self.target, self.slice_mode, self.manual_shapes, self.sparse = target, slice_mode, manual_shapes, sparse
        self.max_norm, self.vocab_cache_size = max_norm, vocab_cache_size
        self.embedding_table = Parameter(initializer(param_init, (self.vocab_size, self.embedding_size), dtype))

    def construct(self, indices):
        dtype = indices.dtype if hasattr(indices, "dtype") else np.asarray(indices).dtype
        if not np.issubdtype(dtype, np.integer):
            raise TypeError(f"{self._where()}: indices must be integers, got {dtype}")
        inside = ops.logical_and(indices >= 0, indices < self.vocab_size)
        rows = ops.embedding(ops.where(inside, indices, 0), self.embedding_table)
        out = rows * ops.expand_dims(ops.cast(inside, rows.dtype), -1)
        if self.max_norm is None:
            return out
        # rows within max_norm keep their values; the floor under the squared norm keeps zero rows' gradient finite
        norms = ops.sqrt(ops.maximum(ops.sum(out * out, -1, keepdims=True), float(self.max_norm) ** 2))
        return out * (self.max_norm / norms)

    def extend_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, embedding_size={self.embedding_size}, target={self.target!r}, max_norm={self.max_norm}"
