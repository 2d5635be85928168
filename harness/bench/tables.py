"""The bench's tables: every engine at every thread setting, each engine at its best setting, and the standalone runs.

Timings come as ``{(case label, threads): {engine: timing}}`` with ``harness.timing``'s timing dicts; tables are
(header, rows) of strings for ``harness.markdown.markdown_table``.
"""

from __future__ import annotations

from harness.bench.records import Record

RATIOS = {"jit/torch": ("funcad jit", "torch eager"), "eager/torch": ("funcad eager", "torch eager"),
          "jit/eager": ("funcad jit", "funcad eager"), "jit/floor": ("funcad jit", "BLAS floor"),
          "jit/conv floor": ("funcad jit", "conv floor"), "eager/autograd": ("funcad eager", "HIPS autograd"),
          "jit/JAX": ("funcad jit", "JAX jit")}
# A column only where both engines were measured in some case (the peer; the conv floor, where a case convolves); the
# others show "-" for what is missing.
OPTIONAL_RATIOS = ("jit/conv floor", "jit/JAX")


def _ratio_columns(names: list[str], engines: list[str]) -> list[str]:
    return [n for n in names if n not in OPTIONAL_RATIOS or all(e in engines for e in RATIOS[n])]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def _engines(results: dict) -> list[str]:
    """The engines in ``results``, in the order they first appear."""
    return list(dict.fromkeys(e for timings in results.values() for e in timings))


def build_table(results: dict, measurement: str = "interleaved") -> tuple[list[str], list[list[str]], list[Record]]:
    """Markdown header, rows and tidy CSV records from {(case label, threads): {engine: timing}}; ratios at equal threads."""
    engines = _engines(results)
    columns = _ratio_columns(list(RATIOS), engines)
    header = ["case", "threads"] + [f"{e} ms (IQR)" for e in engines] + columns
    rows, records = [], []
    for (case, threads), timings in results.items():
        med = {e: t["median_s"] for e, t in timings.items()}

        def ratio(a, b, med=med):
            return f"{med[a] / med[b]:.2f}" if a in med and b in med else "-"

        cells = [f"{ms(timings[e]['median_s'])} ({ms(timings[e]['iqr_s'])})" if e in timings else "-" for e in engines]
        rows.append([case, str(threads)] + cells + [ratio(*RATIOS[c]) for c in columns])
        records += [Record.of(measurement, case, threads, e, t, med.get("torch eager")) for e, t in timings.items()]
    return header, rows, records


def best_settings(results: dict) -> dict[str, dict[str, tuple[dict, int]]]:
    """{case label: {engine: (timing, threads)}}: each engine at the thread setting where its median was lowest."""
    best: dict[str, dict[str, tuple[dict, int]]] = {}
    for (case, threads), timings in results.items():
        for engine, t in timings.items():
            held = best.setdefault(case, {}).get(engine)
            if held is None or t["median_s"] < held[0]["median_s"]:
                best[case][engine] = (t, threads)
    return best


def best_ratio(held: dict, num: str, den: str) -> tuple[float | None, int | None, int | None]:
    """(ratio, numerator's threads, denominator's threads) between two engines' best settings; Nones when either is missing."""
    if num not in held or den not in held:
        return None, None, None
    return held[num][0]["median_s"] / held[den][0]["median_s"], held[num][1], held[den][1]


def best_table(results: dict) -> tuple[list[str], list[list[str]]]:
    """Each engine at its best thread setting, and the ratios between those bests (what the targets judge)."""
    best = best_settings(results)
    engines = list(dict.fromkeys(e for timings in best.values() for e in timings))
    columns = _ratio_columns([n for n in RATIOS if n != "jit/eager"], engines)  # a ratio of one engine at two settings says nothing
    header = ["case"] + [f"{e} ms (threads)" for e in engines] + columns
    rows = []
    for case, held in best.items():
        def ratio(a, b, held=held):
            value = best_ratio(held, a, b)[0]
            return f"{value:.2f}" if value is not None else "-"

        cells = [f"{ms(held[e][0]['median_s'])} ({held[e][1]})" if e in held else "-" for e in engines]
        rows.append([case] + cells + [ratio(*RATIOS[c]) for c in columns])
    return header, rows


def standalone_table(results: dict) -> tuple[list[str], list[list[str]]]:
    """Per case: each engine's standalone median (IQR) at every thread setting, its best in bold, and the ratios between bests."""
    settings = sorted({t for _, t in results})
    engines = _engines(results)
    best = best_settings(results)
    columns = _ratio_columns(["jit/torch", "eager/torch", "jit/JAX"], engines)
    header = ["case"] + [f"{e} ms (IQR), {t} thr" for e in engines for t in settings] + [f"{c} at bests (threads)" for c in columns]
    rows = []
    for case, held in best.items():
        cells = []
        for e in engines:
            for t in settings:
                timing = results.get((case, t), {}).get(e)
                cell = f"{ms(timing['median_s'])} ({ms(timing['iqr_s'])})" if timing else "-"
                cells.append(f"**{cell}**" if timing and held[e][1] == t else cell)
        ratios = [best_ratio(held, *RATIOS[c]) for c in columns]
        rows.append([case] + cells + [f"{r:.2f} ({n} vs {d})" if r else "-" for r, n, d in ratios])
    return header, rows


def thread_notes(results: dict, settings: list[int]) -> list[str]:
    """Why the thread setting matters for torch under OMP_WAIT_POLICY=PASSIVE, with this run's own torch figures."""
    notes = ["Threads: in each setting torch's intra-op threads and numpy's BLAS threads are both limited to that number. "
             "The process runs with OMP_WAIT_POLICY=PASSIVE, so idle OpenMP workers sleep instead of spinning on the cores "
             "numpy's BLAS needs; the price is that every multi-threaded torch op wakes its workers, so torch's small steps "
             "are slower at several threads than at one. numpy's OpenBLAS workers, in turn, keep spinning for a while after "
             "each product (OpenBLAS's default): while an engine runs single-threaded work (Python, elementwise numpy, torch "
             "at one thread) the other cores stay busy, which costs nothing on idle cores but can slow that work where a host "
             "runs two virtual cores on one physical core. Ratios in the first table compare engines at equal threads; the "
             "targets compare each engine at its best setting."]
    if len(settings) > 1:
        low, high = min(settings), max(settings)
        figures = [f"{case} {ms(results[(case, low)]['torch eager']['median_s'])} ms at {low} vs "
                   f"{ms(results[(case, high)]['torch eager']['median_s'])} ms at {high}"
                   for case in dict.fromkeys(c for c, _ in results)
                   if "torch eager" in results.get((case, low), {}) and "torch eager" in results.get((case, high), {})]
        notes.append("torch eager train step by thread count: " + "; ".join(figures) + ".")
    else:
        notes.append(f"Only {settings[0]} thread{'s' * (settings[0] > 1)} measured: an engine may be faster at another setting "
                     "(torch at 1 thread under PASSIVE wait, BLAS-bound steps at all cores); pass --threads both to compare each "
                     "engine at its best setting.")
    if "JAX jit" in _engines(results):
        notes.append("JAX jit runs on XLA's own CPU thread pool, sized to the cores the process may use: the thread setting "
                     "(torch, numpy's BLAS) does not reach it, so JAX uses every core at every setting.")
    return notes
