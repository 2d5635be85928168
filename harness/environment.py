"""What timings depend on, described once for the run report and the bench: machine, versions, threads, malloc, load."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_info

import funcad
from torch_ref.pipeline import default_device

PEERS = ("autograd", "jax")  # other autodiff engines the bench times when they are installed


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _installed_version(package: str) -> str:
    """The package's version, read from its metadata (importing jax alone costs a second)."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment(device: str | None = None, threads: int | None = None) -> dict[str, str]:
    """Machine, versions, torch ``device`` (default: torch_ref's), thread pools (and the ``threads`` asked for), OpenMP wait
    policy, malloc settings and load."""
    versions = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__, "funcad": funcad.__version__}
    versions |= {peer: _installed_version(peer) for peer in PEERS}
    pools = [f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads)" for p in threadpool_info()]
    requested = f"; requested {threads}" if threads is not None else ""
    return {
        "machine": f"{platform.machine()} {cpu_model()}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}",
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "torch device": str(device or default_device()),
        "threads": f"torch {torch.get_num_threads()} intra-op threads; native pools: {'; '.join(pools)}{requested}",
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "malloc": ", ".join(f"{k}={v}" for k, v in os.environ.items() if k.startswith("MALLOC_")) or "glibc defaults",
        "load average": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
    }
