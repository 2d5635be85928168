"""The settings a single comparison (``RunOptions``) and a sweep's grid (``Grid``) share.

One field list with one set of defaults, so a sweep point runs as ``funcad-compare run`` with the same flags would.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, kw_only=True)
class SharedSettings:
    steps: int = 20
    mode: str = "free"  # or 'lockstep' (see harness.runner)
    rtol: float | None = None
    atol: float | None = None
    torch_optimizer: str | None = None
    data_dir: str | None = None

    def shared_settings(self) -> dict:
        """These fields and their values, to hand on to another ``SharedSettings``."""
        return {f.name: getattr(self, f.name) for f in fields(SharedSettings)}
