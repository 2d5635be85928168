"""A pytest helper: put a funcad-vs-torch parity check in your own test suite.

    from harness.testing import assert_parity

    def test_my_model_matches_torch():
        assert_parity(MyCell(), MyModule(), [(x, y)], loss="cross_entropy", optimizer="sgd", steps=3)
"""

from __future__ import annotations

from harness.engines import unaligned_notes
from harness.library import Comparison, compare


def assert_parity(funcad_cell, torch_module, data, steps: int = 3, **kwargs) -> Comparison:
    """Run ``harness.compare`` (without timing) and raise AssertionError naming every failing parameter, element and step."""
    kwargs.setdefault("timing", False)
    result = compare(funcad_cell, torch_module, data, steps=steps, **kwargs)
    if not result.passed:
        failures = result.failures()
        lines = []
        for row in failures.to_dict(orient="records"):
            keys = ("dtype", "parameter", "step", "worst_index", "where", "side")
            present = [k for k in keys if k in row and row[k] is not None and row[k] == row[k]]
            where = ", ".join(f"{k} {int(row[k]) if k == 'step' else row[k]}" for k in present)
            values = ", ".join(f"{k} {row[k]:.6g}" for k in ("max_abs", "funcad_value", "torch_value", "funcad_loss", "torch_loss")
                               if k in row and isinstance(row[k], float) and row[k] == row[k])
            lines.append(f"  {row['table']}: {where}: {values or row.get('what', '')}")
        more = f"\n  ... and {len(lines) - 20} more" if len(lines) > 20 else ""
        notes = "".join(f"\nnote: {note}" for note in unaligned_notes(result.result.known_differences))
        raise AssertionError("funcad and torch disagree:\n" + "\n".join(lines[:20]) + more + notes)
    return result
