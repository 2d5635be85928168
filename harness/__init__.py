"""Run identical models in funcad and PyTorch, compare them, and report: ``funcad-compare`` and its library.

    import harness
    result = harness.compare(funcad_cell, torch_module, [(x, y)], loss="cross_entropy", optimizer="sgd", steps=5)
    result.passed, result.grads, result.losses, result.timings

Names are loaded on first use, so ``harness.cli`` can set torch's thread policy before torch is imported.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "compare": "harness.library", "Comparison": "harness.library", "assert_parity": "harness.testing",
    "CASES": "harness.cases", "Case": "harness.cases", "OptimizerSpec": "harness.cases", "get_case": "harness.cases",
    "RunOptions": "harness.runner", "Fault": "harness.runner", "run_case": "harness.runner", "run_cases": "harness.runner",
    "Tolerance": "harness.metrics",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name == "testing":  # the documented submodule, reachable after a plain ``import harness``
        return importlib.import_module("harness.testing")
    if name not in _EXPORTS:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
