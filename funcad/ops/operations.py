"""``mindspore.ops.operations``, which MindSpore code imports as ``P``: the primitive classes (``P.ReLU()``,
``P.ReduceMean(keep_dims=True)``, ``P.Conv2D(...)``, ``P.Partial()``...), the same classes ``funcad.ops`` offers."""

from funcad import ops as _ops

globals().update({name: value for name, value in vars(_ops).items() if name[:1].isupper() and isinstance(value, type)})

