"""A layer translation rule: one funcad layer class next to its torch counterpart, with a builder for either side.

``to_torch(cell, translate)`` builds the torch module from the Cell's configuration and ``to_funcad(module,
translate)`` the Cell from the module's; ``translate(child, name)`` turns a child (a Dense's activation, a
Transformer stack's layers) into the other engine. Weights are not built here: the caller copies them by name
afterwards, through the rule's parameter names (funcad name -> torch name relative to the layer, ``None`` where
torch has no counterpart, e.g. the gamma/beta of a BatchNorm without affine). A rule raises ``Untranslatable``
with the reason; the caller adds the layer's path and class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch

from funcad.nn.cell import Cell

Translate = Callable  # a child of one engine -> its twin in the other


class TranslationError(ValueError):
    """A layer or module that has no twin in the other engine; the message names its path and class."""


def where(path: str, kind: object) -> str:
    """``'ClassName' at 'path'`` (or 'at the root') for error messages."""
    name = kind if isinstance(kind, str) else type(kind).__name__
    return f"{name} at {path!r}" if path else f"{name} at the root"


@dataclass(frozen=True)
class LayerRule:
    """How one funcad layer class and one torch module class translate into each other."""

    funcad_type: type
    torch_type: type
    to_torch: Callable[[Cell, Translate], torch.nn.Module]
    to_funcad: Callable[[torch.nn.Module, Translate], Cell]
    params: Callable[[Cell], Mapping[str, str | None]] | None = field(default=None)
    torch_aliases: tuple[type, ...] = ()  # other torch classes translated by ``to_funcad`` (torch.nn.LSTM for torch_ref's LSTM)

    def torch_names(self, cell: Cell) -> Mapping[str, str | None]:
        """Every parameter below the layer, funcad name -> torch name, both relative to the layer (default: the Cell's
        ``torch_parameter_names``, which follows its ``torch_names`` and its sub-Cells')."""
        if self.params is not None:
            return self.params(cell)
        return cell.torch_parameter_names()


class Untranslatable(Exception):
    """Raised by a rule with the reason alone; the walker turns it into a ``TranslationError`` naming the path and class."""
