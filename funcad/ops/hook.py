"""``ops.HookBackward``: MindSpore's identity op whose gradient goes through a hook (see funcad.core.hooks)."""

from __future__ import annotations

from collections.abc import Callable

from funcad.core.hooks import check_hook, hook_identity, refuse_under_jit, replaced


class HookBackward:
    """``HookBackward(hook_fn)(x, ...)`` returns its inputs unchanged; in the backward pass ``hook_fn((grad,))`` sees
    each input's gradient and may return a replacement (a tuple, or a Tensor). Eager mode only (jit raises)."""

    def __init__(self, hook_fn: Callable, cell_id: str = ""):
        check_hook("ops.HookBackward", hook_fn)
        self.hook_fn, self.cell_id = hook_fn, cell_id

    def _rule(self, g):
        refuse_under_jit("ops.HookBackward", g)
        new = self.hook_fn((g,))
        if isinstance(new, (tuple, list)):
            new = new[0] if new else None
        return replaced("ops.HookBackward", self.hook_fn, g, new)

    def __call__(self, *inputs):
        outs = tuple(hook_identity(x, self._rule) for x in inputs)
        return outs[0] if len(outs) == 1 else outs
