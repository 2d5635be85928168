"""``mindspore.ops.functional``, which MindSpore code imports as ``F``: every function of ``funcad.ops``, and
``partial`` (what MindSpore's ``F.partial`` binds is what ``functools.partial`` binds)."""

import inspect as _inspect
from functools import partial  # noqa: F401 - MindSpore's F.partial

from funcad import ops as _ops

globals().update({name: value for name, value in vars(_ops).items()
                  if not name.startswith("_") and name[:1].islower() and callable(value) and not _inspect.ismodule(value)})
