"""MindSpore's ``LambdaCallback``: a callback made of plain functions, one per hook."""

from __future__ import annotations

from collections.abc import Callable

from funcad.train.callback import Callback

HOOKS = ("on_train_epoch_begin", "on_train_epoch_end", "on_train_step_begin", "on_train_step_end", "on_train_begin",
         "on_train_end", "on_eval_epoch_begin", "on_eval_epoch_end", "on_eval_step_begin", "on_eval_step_end",
         "on_eval_begin", "on_eval_end")

_Hook = Callable[..., object] | None


def _nothing(run_context) -> None:
    """A hook left empty."""


class LambdaCallback(Callback):
    """Calls each given function, with the RunContext, at its hook; hooks left as None do nothing (they do not fall
    back on the older ``begin``/``epoch_end``/... names). As in MindSpore, ``Model.fit`` does not hand its own
    callbacks (this one included, TimeMonitor excepted) to the evaluation it runs, so the ``on_eval_*`` functions
    run in ``Model.eval``."""

    def __init__(self, on_train_epoch_begin: _Hook = None, on_train_epoch_end: _Hook = None, on_train_step_begin: _Hook = None,
                 on_train_step_end: _Hook = None, on_train_begin: _Hook = None, on_train_end: _Hook = None,
                 on_eval_epoch_begin: _Hook = None, on_eval_epoch_end: _Hook = None, on_eval_step_begin: _Hook = None,
                 on_eval_step_end: _Hook = None, on_eval_begin: _Hook = None, on_eval_end: _Hook = None):
        given = locals()
        for hook in HOOKS:
            fn = given[hook]
            if fn is not None and not callable(fn):
                raise TypeError(f"LambdaCallback: {hook} must be a function of the run context or None, got {fn!r}")
            setattr(self, hook, fn if fn is not None else _nothing)
