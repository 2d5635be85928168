"""The layer translation table: every funcad layer class with its torch counterpart (``torch_ref.layer_rule``).

A new layer is one ``LayerRule`` in ``layers_basic``, ``layers_sequence``, ``losses_norms``, ``layers_3d``, ``spectral_norm``
or ``layers_more``;
``mirror`` and ``to_funcad`` look rules up here by exact class, so a user's subclass of a layer (with its own ``construct``) is
never taken for the layer.
"""

from __future__ import annotations

from torch_ref.layer_rule import LayerRule, TranslationError, Untranslatable, where
from torch_ref.layers_3d import RULES_3D
from torch_ref.layers_basic import BASIC_RULES
from torch_ref.layers_more import RULES_MORE
from torch_ref.layers_sequence import SEQUENCE_RULES
from torch_ref.losses_norms import NORM_RULES
from torch_ref.spectral_norm import RULES as SPECTRAL_NORM_RULES

RULES: list[LayerRule] = BASIC_RULES + SEQUENCE_RULES + NORM_RULES + RULES_3D + SPECTRAL_NORM_RULES + RULES_MORE
BY_FUNCAD_TYPE: dict[type, LayerRule] = {rule.funcad_type: rule for rule in RULES}
BY_TORCH_TYPE: dict[type, LayerRule] = {t: rule for rule in RULES for t in (rule.torch_type, *rule.torch_aliases)}

__all__ = ["LayerRule", "TranslationError", "Untranslatable", "where", "RULES", "BY_FUNCAD_TYPE", "BY_TORCH_TYPE"]
