"""What a bench run measured: one ``Record`` per engine, case and thread setting (a row of bench.csv), and the whole run."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field, fields


@dataclass(frozen=True)
class Record:
    """One engine's train-step time in one case and thread setting, interleaved or standalone."""

    measurement: str
    case: str
    threads: int
    engine: str
    median_ms: float
    q1_ms: float
    q3_ms: float
    rounds: int
    calls_per_sample: int
    ratio_to_torch_eager: float

    @classmethod
    def of(cls, measurement: str, case: str, threads: int, engine: str, timing: dict, torch_median_s: float | None) -> Record:
        """From a ``harness.timing`` result; the ratio is NaN where torch eager was not measured."""
        return cls(measurement, case, threads, engine, timing["median_s"] * 1e3, timing["q1_s"] * 1e3, timing["q3_s"] * 1e3,
                   timing["rounds"], timing["number"],
                   timing["median_s"] / torch_median_s if torch_median_s is not None else float("nan"))


def records_csv(records: list[Record]) -> str:
    """The records as CSV text, a header of the field names first."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(Record)])
    writer.writeheader()
    writer.writerows(asdict(r) for r in records)
    return buffer.getvalue()


@dataclass
class BenchRun:
    """Everything one ``funcad-compare bench`` run measured and noted, as its report presents it.

    Timings are ``{(case label, threads): {engine: timing}}`` with ``harness.timing``'s timing dicts."""

    interleaved: dict
    settings: list[int]
    sample_ms: float
    environment: dict[str, str]
    compile_facts: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    standalone: dict | None = None
    standalone_budget_s: float = 0.0
    memory: dict[str, tuple[float, float]] | None = None
    seconds: float = 0.0
