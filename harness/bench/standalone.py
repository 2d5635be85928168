"""Standalone timing: each engine alone in a fresh process per case and thread setting, with its libraries' defaults.

The interleaved process is a compromise no single-engine user lives with (PASSIVE wait for torch, retained malloc, two
libraries sharing the cores), so the ratios are also given at each engine's standalone best.

The parent calls ``time_alone``; each child is ``python -m harness.bench.standalone CASE ENGINE BUDGET DATA [--batch N]``,
which times the engine on the batch saved in the ``.npz`` file DATA and prints the timing as JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from harness.bench.engines import CORE_ENGINES, PEERS, train_steps
from harness.bench.fresh import fresh_python
from harness.bench.tables import ms
from harness.cases import get_case
from harness.timing import interleaved

# JAX, when installed, is the peer whose users run it alone (HIPS autograd and the BLAS floor are timed in process only)
STANDALONE_ENGINES = CORE_ENGINES + (("JAX jit",) if find_spec("jax") else ())


def time_alone(cases: list[tuple[str, str, int | None]], settings: list[int], budget_s: float) -> dict:
    """{(case label, threads): {engine: timing}}: each of ``STANDALONE_ENGINES`` timed alone in a fresh process (a peer
    only on the cases it has a port of).

    The batch is made here once per case and handed over in a file: making it (image data) costs a child about a second.
    """
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as folder:
        for label, case_name, batch in cases:
            data = str(Path(folder) / f"{label}.npz")
            x, y = get_case(case_name).batches(1, seed=0, batch_size=batch)[0]
            np.savez(data, x=x, y=y)
            batch_args = [] if batch is None else ["--batch", str(batch)]
            for threads in settings:
                results[(label, threads)] = {
                    e: json.loads(fresh_python(["-m", "harness.bench.standalone", case_name, e, repr(budget_s), data, *batch_args], threads,
                                               library_defaults=True, what=f"standalone {e} on {label}"))
                    for e in STANDALONE_ENGINES if e not in PEERS or PEERS[e].loss_function(case_name) is not None}
                print(f"  standalone {label} @ {threads} thread{'s' * (threads > 1)}: "
                      + ", ".join(f"{e} {ms(t['median_s'])} ms" for e, t in results[(label, threads)].items()), flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.bench.standalone", description="time one engine's train step alone")
    parser.add_argument("case")
    parser.add_argument("engine", choices=STANDALONE_ENGINES)
    parser.add_argument("budget", type=float, help="seconds of timing")
    parser.add_argument("data", help=".npz file holding the batch as x and y")
    parser.add_argument("--batch", type=int, default=None, help="the case's batch size (default: the case's own)")
    args = parser.parse_args(argv)
    saved = np.load(args.data)
    steps = train_steps(args.case, args.batch, [args.engine], (saved["x"], saved["y"]))
    print(json.dumps(interleaved(steps, budget_s=args.budget, warmup=3, max_rounds=200)[args.engine]))


if __name__ == "__main__":
    main()
