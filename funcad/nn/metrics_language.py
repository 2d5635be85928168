"""Language-model metrics: perplexity of predicted token probabilities, and the BLEU score of translations against
reference translations."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from funcad.nn.metrics_base import Metric, _array, _check_bool, _is_int, rearrange_inputs

__all__ = ["Perplexity", "BleuScore"]


class Perplexity(Metric):
    """exp of the mean negative log probability given to the true labels: how surprised the model is per token.

    ``update(preds, labels)``: preds (..., C) probabilities, labels with one class index per row of preds (its size
    is preds.size / C). Labels equal to ``ignore_label`` are left out of the mean. Probabilities are floored at 1e-10."""

    def __init__(self, ignore_label: int | None = None):
        if ignore_label is not None and not _is_int(ignore_label):
            raise TypeError(f"Perplexity: ignore_label must be an int or None, got {ignore_label!r}")
        self.ignore_label = ignore_label
        super().__init__()

    def clear(self) -> None:
        self._sum_metric = 0.0
        self._num_inst = 0

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(2, inputs)
        preds, labels = _array(inputs[0], "Perplexity").astype(np.float64), _array(inputs[1], "Perplexity")
        if preds.ndim < 1 or preds.shape[-1] == 0 or labels.size * preds.shape[-1] != preds.size:
            raise RuntimeError(f"Perplexity: labels {labels.shape} must hold one class index per row of preds {preds.shape}")
        rows, labels = preds.reshape(-1, preds.shape[-1]), labels.reshape(-1)
        kept = np.ones(labels.shape, bool) if self.ignore_label is None else labels != self.ignore_label
        picked = labels[kept]
        if picked.size and (np.any(picked != np.round(picked)) or picked.min() < 0 or picked.max() >= rows.shape[1]):
            raise ValueError(f"Perplexity: labels must be class indices in [0, {rows.shape[1]}), got values in [{picked.min()}, {picked.max()}]")
        probabilities = rows[kept, picked.astype(np.int64)]
        self._sum_metric -= float(np.sum(np.log(np.maximum(1e-10, probabilities))))
        self._num_inst += int(probabilities.size)

    def eval(self) -> float:
        if self._num_inst == 0:
            raise RuntimeError("Perplexity.eval: no (unignored) label was given to update since clear()")
        return math.exp(self._sum_metric / self._num_inst)


def _ngrams(tokens: Sequence, most: int) -> Counter:
    """How often each n-gram (as a tuple), for n from 1 to ``most``, occurs in the tokens."""
    return Counter(tuple(tokens[i:i + n]) for n in range(1, most + 1) for i in range(len(tokens) - n + 1))


class BleuScore(Metric):
    """BLEU: the geometric mean of the clipped n-gram precisions for n = 1..n_gram, times the brevity penalty
    exp(1 - r / c) when the candidates' length c does not exceed the closest references' length r. Counts add up over
    the corpus and over batches.

    ``update(candidate_corpus, reference_corpus)``: a list of token lists, and per candidate a list of reference token
    lists. ``smooth=True`` adds one to every precision's numerator and denominator. Any order with no match scores 0."""

    def __init__(self, n_gram: int = 4, smooth: bool = False):
        if not _is_int(n_gram):
            raise TypeError(f"BleuScore: n_gram must be an int, got {n_gram!r}")
        if not 1 <= n_gram <= 4:
            raise ValueError(f"BleuScore: n_gram must be in [1, 4], got {n_gram}")
        self.n_gram = int(n_gram)
        self.smooth = _check_bool("BleuScore", "smooth", smooth)
        super().__init__()

    def clear(self) -> None:
        self._numerator = np.zeros(self.n_gram)
        self._denominator = np.zeros(self.n_gram)
        self._c = 0.0
        self._r = 0.0
        self._is_update = False

    @rearrange_inputs
    def update(self, *inputs) -> None:
        self._need(2, inputs)
        candidates, references = inputs
        if len(candidates) != len(references):
            raise ValueError(f"BleuScore: candidate_corpus and reference_corpus must have the same length, "
                             f"got {len(candidates)} and {len(references)}")
        for index, (candidate, refs) in enumerate(zip(candidates, references)):
            if isinstance(candidate, str) or not len(refs) or any(isinstance(ref, str) for ref in refs):
                raise ValueError(f"BleuScore: candidate {index} must be a token list with a non-empty list of token lists as references")
            length = len(candidate)
            self._c += length
            self._r += min((len(ref) for ref in refs), key=lambda n: abs(length - n))  # the closest, the first such on ties
            counts = _ngrams(candidate, self.n_gram)
            best = Counter()
            for ref in refs:
                best |= _ngrams(ref, self.n_gram)
            for gram, count in (counts & best).items():
                self._numerator[len(gram) - 1] += count
            for gram, count in counts.items():
                self._denominator[len(gram) - 1] += count
        self._is_update = True

    def eval(self) -> float:
        self._nonempty(self._is_update)
        if self._numerator.min() == 0.0:
            return 0.0
        if self.smooth:
            precisions = (self._numerator + 1.0) / (self._denominator + 1.0)
        else:
            precisions = self._numerator / self._denominator
        penalty = 1.0 if self._c > self._r else math.exp(1.0 - self._r / self._c)
        return float(penalty * math.exp(np.mean(np.log(precisions))))
