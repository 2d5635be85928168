"""A user's primitive that declares no torch translation and a Cell whose construct calls it: what mirroring must
refuse, naming the primitive and the source line (torch_ref.mirror, and the harness's ``--model`` flag)."""

from __future__ import annotations

from funcad import nn
from funcad.core.primitive import compiled_as_call, primitive


@primitive(**compiled_as_call())
def halve(x):
    """A user's primitive that declares no torch translation."""
    return x / 2


class UsesHalve(nn.Cell):
    def __init__(self, in_features: int = 3, out_features: int = 3):
        super().__init__()
        self.fc = nn.Dense(in_features, out_features)

    def construct(self, x):
        h = self.fc(x)
        return halve(h)
