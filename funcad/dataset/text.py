"""``mindspore.dataset.text``'s vocabulary and lookup: the tokens of a text column to ids, as the sentiment-analysis
and sequence-labelling tutorials map them before padding with ``transforms.PadEnd``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np


class Vocab:
    """Token <-> id tables. Build one with ``Vocab.from_list`` or ``Vocab.from_dict`` (or ``from_dataset``)."""

    def __init__(self, table: dict[str, int]):
        self._ids = dict(table)
        self._tokens = {i: t for t, i in self._ids.items()}

    @classmethod
    def from_list(cls, word_list: Sequence[str], special_tokens: Sequence[str] | None = None, special_first: bool = True) -> Vocab:
        """Ids in list order; ``special_tokens`` ('<pad>', '<unk>') before the words or, with ``special_first=False``,
        after them. A repeated word is an error, as in MindSpore."""
        words, specials = [str(w) for w in word_list], [str(t) for t in (special_tokens or [])]
        order = specials + words if special_first else words + specials
        repeated = [t for t, n in Counter(order).items() if n > 1]
        if repeated:
            raise ValueError(f"Vocab.from_list: word_list and special_tokens repeat {repeated[:5]}")
        return cls({t: i for i, t in enumerate(order)})

    @classmethod
    def from_dict(cls, word_dict: dict[str, int]) -> Vocab:
        """The given ``{token: id}`` table (ids must be distinct non-negative ints)."""
        ids = list(word_dict.values())
        if len(set(ids)) != len(ids) or any(int(i) < 0 for i in ids):
            raise ValueError("Vocab.from_dict: ids must be distinct non-negative integers")
        return cls({str(t): int(i) for t, i in word_dict.items()})

    @classmethod
    def from_dataset(cls, dataset, columns: str | Sequence[str] | None = None, freq_range: tuple | None = None,
                     top_k: int | None = None, special_tokens: Sequence[str] | None = None, special_first: bool = True) -> Vocab:
        """The words of a dataset's text columns, most frequent first (ties in order of first appearance), those
        within ``freq_range`` (min, max counts), at most ``top_k``."""
        names = dataset.get_col_names()
        chosen = names if columns is None else [columns] if isinstance(columns, str) else list(columns)
        counts: Counter = Counter()
        for row in dataset.create_tuple_iterator(num_epochs=1, output_numpy=True):
            for name, value in zip(names, row):
                if name in chosen:
                    counts.update(str(t) for t in np.asarray(value).reshape(-1))
        low, high = freq_range if freq_range is not None else (None, None)
        words = [w for w, n in sorted(counts.items(), key=lambda item: -item[1])
                 if (low is None or n >= low) and (high is None or n <= high)]
        return cls.from_list(words[:top_k] if top_k is not None else words, special_tokens, special_first)

    def vocab(self) -> dict[str, int]:
        """The ``{token: id}`` table."""
        return dict(self._ids)

    def tokens_to_ids(self, tokens: str | Iterable[str]) -> int | list[int]:
        """A token's id (-1 when unknown), or a list of them for a list of tokens."""
        if isinstance(tokens, str):
            return self._ids.get(tokens, -1)
        return [self._ids.get(str(t), -1) for t in tokens]

    def ids_to_tokens(self, ids: int | Iterable[int]) -> str | list[str]:
        """An id's token ('' when unknown), or a list of them for a list of ids."""
        if isinstance(ids, (int, np.integer)):
            return self._tokens.get(int(ids), "")
        return [self._tokens.get(int(i), "") for i in ids]


class Lookup:
    """Each token of a string column to its id in ``vocab``; tokens it lacks to ``unknown_token``'s id (with no
    ``unknown_token``, an unknown token is an error, as in MindSpore)."""

    def __init__(self, vocab: Vocab, unknown_token: str | None = None, data_type=np.int32):
        if not isinstance(vocab, Vocab):
            raise TypeError(f"Lookup: vocab must be a funcad.dataset.text.Vocab, got {type(vocab).__name__}")
        self.vocab, self.data_type = vocab, np.dtype(data_type)
        self.unknown_id = None
        if unknown_token is not None:
            self.unknown_id = vocab.tokens_to_ids(unknown_token)
            if self.unknown_id == -1:
                raise ValueError(f"Lookup: unknown_token {unknown_token!r} is not in the vocabulary")

    def __call__(self, text) -> np.ndarray:
        tokens = np.asarray(text)
        table = self.vocab.vocab()
        out = np.empty(tokens.shape, np.int64)
        for index, token in np.ndenumerate(tokens):
            token = token.decode() if isinstance(token, bytes) else str(token)
            found = table.get(token, self.unknown_id)
            if found is None:
                raise RuntimeError(f"Lookup: {token!r} is not in the vocabulary and no unknown_token was given")
            out[index] = found
        return out.astype(self.data_type)


__all__ = ["Vocab", "Lookup"]
