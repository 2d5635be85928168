"""``DatasetHelper``: MindSpore's loop helper over a dataset for hand-written training loops (gradient accumulation,
custom steps), as ``Model`` uses it; funcad never sinks data, so it reads the dataset step by step."""

from __future__ import annotations

import numbers

from funcad.core.tensor import Tensor


class DatasetHelper:
    """Iterate a dataset's batches as lists of Tensors, one pass per ``for`` loop, ``epoch_num`` passes in all
    (MindSpore's ``DatasetHelper(dataset, dataset_sink_mode=False, sink_size=-1, epoch_num=1)``). Sinking
    (``dataset_sink_mode=True``) is accepted and reads step by step, as ``Model.train`` does here."""

    def __init__(self, dataset, dataset_sink_mode: bool = False, sink_size: int = -1, epoch_num: int = 1):
        if not hasattr(dataset, "create_tuple_iterator"):
            raise TypeError(f"DatasetHelper: dataset must be a funcad.dataset dataset, got {type(dataset).__name__}")
        if isinstance(epoch_num, bool) or not isinstance(epoch_num, numbers.Integral) or epoch_num < 1:
            raise ValueError(f"DatasetHelper: epoch_num must be a positive int, got {epoch_num!r}")
        self.dataset, self.dataset_sink_mode, self._sink_size = dataset, bool(dataset_sink_mode), sink_size
        self._iterator = dataset.create_tuple_iterator(num_epochs=int(epoch_num))

    def __iter__(self):
        for row in self._iterator:
            yield [value if isinstance(value, Tensor) else Tensor(value) for value in row]

    def __len__(self) -> int:
        return self.sink_size()

    def sink_size(self) -> int:
        """Steps per pass: ``sink_size`` when given, else the dataset's size."""
        return self.dataset.get_dataset_size() if self._sink_size in (-1, None) else int(self._sink_size)

    def types_shapes(self) -> tuple[list, list]:
        """The dtypes and shapes of one batch's columns."""
        first = next(iter(self.dataset.create_tuple_iterator(output_numpy=True)))
        return [value.dtype for value in first], [value.shape for value in first]
