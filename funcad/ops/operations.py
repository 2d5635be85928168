"""``mindspore.ops.operations``, which MindSpore code imports as ``P``: the primitive classes (``P.ReLU()``,
``P.ReduceMean(keep_dims=True)``, ``P.Conv2D(...)``...), the same classes ``funcad.ops`` offers."""

import functools as _functools

from funcad import ops as _ops

globals().update({name: value for name, value in vars(_ops).items() if name[:1].isupper() and isinstance(value, type)})


class Partial:
    """``P.Partial()(fn, *args)``: ``fn`` with its first arguments bound."""

    def __call__(self, fn, *args):
        return _functools.partial(fn, *args)
