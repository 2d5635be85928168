"""A convolution with elementwise steps folded into its output pass: what ``funcad.jit``'s fusion pass compiles
``relu(conv(x, w) * scale + shift)`` (a bias, an inference BatchNorm, a ReLU, a residual add) into, and likewise
an input gradient followed by ReLU's VJP or the residual branch's gradient added in.

The im2col GEMM writes the output block by block (``conv._gemm_forward``); each step then runs on the block while
it is still in cache, instead of as a pass of its own over the whole output afterwards. Every step calls its
primitive's own forward on the block, elementwise, so each output element is computed by the same numpy loop from
the same values as unfused: the result is bitwise that of the unfused program (and of eager mode). The input
gradient runs through the same blocked pass where it is a convolution itself (stride 1); col2im and the other
algorithms have no output blocks: they compute the output, then run the steps over it whole.

Only the compiler makes these nodes, after differentiation, so the primitive has no derivative rules.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from funcad.core.primitive import Primitive, compiled_as_call
from funcad.ops import conv


def _finisher(steps: tuple, operands: tuple, batch: int) -> Callable:
    """``finish(samples, block)``: run ``steps`` on ``block`` (the output of those samples) in place.

    An operand with the output's rank and a batch axis of its own (a residual) is cut to the same samples; a
    broadcast one (a per-channel scale, a bias) is taken whole.
    """

    def finish(samples, block):
        taken = iter(operands)
        for prim, position, takes_operand, kwargs in steps:
            args = [block]
            if takes_operand:
                other = next(taken)
                if isinstance(other, np.ndarray) and other.ndim == block.ndim and other.shape[0] == batch != 1:
                    other = other[samples]
                args.insert(1 - position, other)
            np.copyto(block, prim.impl(*args, **dict(kwargs)))

    return finish


def _fused(op: str) -> Primitive:
    """The epilogue primitive of the conv kernel ``op`` ("forward" or "input_grad"), called as the kernel's primitive
    with the steps' operands after its two arrays and ``steps`` among its keyword arguments."""

    @conv.with_scratch
    def fused(a, b, *operands, steps: tuple, geo: conv.Geometry, groups: int, algorithm: str | None = None, **shape):
        shapes = tuple(shape.values())  # the input gradient's x_shape
        chosen = conv._resolve(op, algorithm, (a.shape, a.dtype), (b.shape, b.dtype), geo, groups, shapes)
        finish = _finisher(steps, operands, a.shape[0])
        kernel = getattr(conv.KERNELS[chosen], op)
        if chosen == "gemm":
            return kernel(a, b, geo, groups, *shapes, finish=finish)
        y = kernel(a, b, geo, groups, *shapes)
        finish(slice(None), y)
        return y

    prim = Primitive(f"{conv.KERNEL_PRIMITIVES[op].name}_fused", fused, **compiled_as_call(tune=conv._tuner(op)))
    prim.nondifferentiable()
    prim.declare(epilogue=prim)  # a fused node takes further steps on
    conv.KERNEL_PRIMITIVES[op].declare(epilogue=prim)
    return prim


conv_fused = _fused("forward")
conv_input_grad_fused = _fused("input_grad")
