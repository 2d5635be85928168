"""MindSpore's ``History``: each epoch's loss (and evaluation metrics under ``Model.fit``), kept for plotting."""

from __future__ import annotations

from funcad.train.callback import Callback
from funcad.train.monitored import first_output_mean


class History(Callback):
    """Records, at the end of every training epoch, ``cur_epoch_num`` in ``epoch["epoch"]`` and the network's output
    in ``history["net_output"]``: the last step's loss (the first output of a tuple, averaged, a numpy scalar in the
    loss's dtype). Under ``Model.fit`` each evaluated epoch also appends every metric's value to ``history[name]``,
    so those lists have one entry per evaluation. ``epoch`` restarts with each training run, ``history`` keeps
    growing, as MindSpore's does."""

    def __init__(self):
        self.history: dict[str, list] = {}
        self.epoch: dict[str, list] = {"epoch": []}

    def on_train_begin(self, run_context) -> None:
        self.epoch = {"epoch": []}

    def on_train_epoch_end(self, run_context) -> None:
        cb = run_context.original_args()
        self.epoch["epoch"].append(getattr(cb, "cur_epoch_num", 1))
        record = {"net_output": first_output_mean(getattr(cb, "net_outputs", None))}
        metrics = getattr(cb, "metrics", None)
        if metrics:
            record.update(metrics)
        for name, value in record.items():
            self.history.setdefault(name, []).append(value)
