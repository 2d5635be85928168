"""Which algorithm computes a convolution: the eager default per shape class, a timed choice cached per signature, or a pin.

Algorithms (forward, input gradient and weight gradient each; ``applicable`` says where):

- ``gemm``: im2col + GEMM, any geometry. The input gradient of a stride-1 convolution runs as a
  stride-1 convolution of the output gradient with the flipped kernel, through the same GEMM path; the
  weight gradient of a stride-1 convolution of up to 16 channels per group and output planes of at least
  256 padded-width pixels is one GEMM per kernel tap on the padded input, without the im2col copy.
- ``winograd``: F(2x2, 3x3), 3x3 kernels with stride 1, dilation 1 and padding at most 2 per side.
- ``fft``: scipy.fft, stride 1 and dilation 1, any kernel size.
- ``direct``: 1x1 kernels without padding: the GEMMs read the input in place (no im2col copy).

Eager mode (``algorithm=None``) uses a fixed table, ``default_algorithm``: ``direct`` for 1x1 kernels
without padding, ``fft`` for stride-1 undilated kernels of 9x9 and larger, ``gemm`` for everything else
(on the CPU measured, Winograd's and the FFT's transforms cost NumPy more than the multiplications they
save at the shapes of small CNNs; see ``benchmarks/bench_conv.py``). ``"benchmark"`` times every applicable algorithm once per signature (op,
shapes, dtype, geometry, groups) on random inputs of that signature and keeps the fastest for the rest
of the process, as cuDNN's benchmark mode does; ``timed_choices()`` reports what was chosen. The candidates
take turns for TIMING_ROUNDS rounds and each keeps its fastest run (the least disturbed one): with 3 rounds,
a machine loaded by other processes made Winograd and the FFT win nodes where they run 2x slower. Another
process may still choose differently; pin the algorithm where the choice must be reproducible (the pin,
``funcad.conv_algorithm``, lives in ``funcad.core.conv_pin``, where the compiler reads it too).

Numerics (float32; error against a float64 reference, relative to torch's own float32 error on the
same inputs, measured in tests/test_conv_algorithms.py): every algorithm stays within 2x of torch,
forward, both gradients and second order. Each algorithm is deterministic: the same inputs give the
same bits. Different algorithms differ within that tolerance, so the choice is part of a program.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from funcad.core.conv_pin import BENCHMARK, NAMES, validate

TIMING_ROUNDS = 5
FFT_AREA = 81  # 9x9: where the FFT overtook im2col on 16 channels of 32x32 planes (7x7 did not)

_timed: dict = {}  # signature -> chosen algorithm


class NotApplicable(ValueError):
    """A pinned algorithm that cannot compute a convolution of this geometry."""


def why_not(name: str, geo) -> str | None:
    """None when algorithm ``name`` computes convolutions of geometry ``geo``; otherwise the reason it does not."""
    validate(name)
    kernel, stride, padding, dilation = geo  # every algorithm handles groups
    if name == "winograd" and (kernel != (3, 3) or stride != (1, 1) or dilation != (1, 1) or max(padding) > 2):
        return "Winograd F(2x2,3x3) needs a 3x3 kernel, stride 1, dilation 1 and padding at most 2"
    if name == "fft" and (stride != (1, 1) or dilation != (1, 1)):
        return "the FFT algorithm needs stride 1 and dilation 1"
    if name == "direct" and (kernel != (1, 1) or any(padding)):
        return "the direct algorithm needs a 1x1 kernel without padding"
    return None


def applicable(geo) -> list[str]:
    """The algorithms that compute convolutions of this geometry, in ``NAMES`` order."""
    return [name for name in NAMES if why_not(name, geo) is None]


def default_algorithm(geo) -> str:
    """Eager mode's fixed choice: ``direct`` for 1x1 kernels without padding, ``fft`` for kernels of FFT_AREA taps or more
    that it applies to, else ``gemm``."""
    if why_not("direct", geo) is None:
        return "direct"
    if geo[0][0] * geo[0][1] >= FFT_AREA and why_not("fft", geo) is None:
        return "fft"
    return "gemm"


def check(name: str | None, x_shape: tuple, w_shape: tuple, geo) -> None:
    """Raise NotApplicable naming the algorithm, the shapes and the reason when ``name`` cannot run this convolution."""
    if name is None or name == BENCHMARK:
        return
    reason = why_not(name, geo)
    if reason is not None:
        raise NotApplicable(f"funcad.ops.conv2d: algorithm {name!r} does not apply to input {tuple(x_shape)} and weight "
                            f"{tuple(w_shape)} with stride {geo.stride}, padding {geo.padding}, dilation {geo.dilation}: {reason}")


def timed_choice(signature: tuple, make_candidates: Callable[[], dict[str, Callable[[], object]]]) -> str:
    """The fastest of the candidates (name -> a call on random inputs of ``signature``, built by ``make_candidates`` when
    the signature is new), timed once per signature and cached."""
    chosen = _timed.get(signature)
    if chosen is None:
        candidates = make_candidates()
        for run in candidates.values():
            run()  # warm: first-call allocations and page faults are not the algorithm's
        best = dict.fromkeys(candidates, float("inf"))
        for _ in range(TIMING_ROUNDS):  # candidates take turns, so a slow stretch of a loaded machine hits them all
            for name, run in candidates.items():
                start = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - start)
        chosen = _timed[signature] = min(best, key=best.get)
    return chosen


def timed_choices() -> dict:
    """{signature: algorithm} of every timed choice made so far in this process."""
    return dict(_timed)
