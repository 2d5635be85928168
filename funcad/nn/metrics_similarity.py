"""Representation similarity: the matrix of cosine (or dot-product) similarities between every pair of samples."""

from __future__ import annotations

import numpy as np

from funcad.nn.metrics_base import Metric, _array, _check_bool, _check_choice, rearrange_inputs

__all__ = ["CosineSimilarity"]


class CosineSimilarity(Metric):
    """The (N, N) similarity matrix of the rows of ``update(inputs)`` ((N, D) features; rows of several updates are
    stacked, where MindSpore keeps only the last batch). ``similarity``: 'cosine' (rows scaled to unit length; a zero
    row gives NaN) or 'dot'. ``zero_diagonal`` zeroes each row's similarity with itself; ``reduction`` 'sum' or
    'mean' reduces the last axis to one value per sample."""

    def __init__(self, similarity: str = "cosine", reduction: str = "none", zero_diagonal: bool = True):
        self.similarity = _check_choice("CosineSimilarity", "similarity", similarity, ("dot", "cosine"))
        self.reduction = _check_choice("CosineSimilarity", "reduction", reduction, ("none", "sum", "mean"))
        self.zero_diagonal = _check_bool("CosineSimilarity", "zero_diagonal", zero_diagonal)
        super().__init__()

    def clear(self) -> None:
        self._rows = []

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(1, inputs)
        rows = _array(inputs[0], "CosineSimilarity").astype(np.float64)
        if rows.ndim != 2:
            raise ValueError(f"CosineSimilarity: inputs must be a matrix (N, D), got shape {rows.shape}")
        if self._rows and rows.shape[1] != self._rows[0].shape[1]:
            raise ValueError(f"CosineSimilarity: every batch must have {self._rows[0].shape[1]} features, got shape {rows.shape}")
        self._rows.append(rows)

    def eval(self) -> np.ndarray:
        self._nonempty(self._rows)
        rows = np.concatenate(self._rows)
        if self.similarity == "cosine":
            with np.errstate(divide="ignore", invalid="ignore"):
                rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        matrix = rows @ rows.T
        if self.zero_diagonal:
            np.fill_diagonal(matrix, 0.0)
        if self.reduction == "sum":
            return matrix.sum(axis=-1)
        if self.reduction == "mean":
            return matrix.mean(axis=-1)
        return matrix
