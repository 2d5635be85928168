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

import functools
import inspect
from collections.abc import Callable

import numpy as np

from funcad.core.primitive import Primitive, compiled_as_call
from funcad.ops import conv
from funcad.ops.conv_scratch import with_scratch


@functools.cache
def _writes_into(prim: Primitive) -> bool:
    """Whether the step's forward takes ``out=`` (numpy's ufuncs and the impls that hand it on)."""
    try:
        return "out" in inspect.signature(prim.impl).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return isinstance(prim.impl, np.ufunc)


def _finisher(steps: tuple, operands: tuple, batch: int) -> Callable:
    """``finish(samples, block, source)``: the output ``block`` of those samples from the kernel's ``source`` values
    (the block itself, or the product before its crop) through ``steps``, each step written into ``block``.

    An operand with the output's rank and a batch axis of its own (a residual) is cut to the same samples; a
    broadcast one (a per-channel scale, a bias) is taken whole.
    """

    def finish(samples, block, source):
        taken = iter(operands)
        value = source
        for prim, position, takes_operand, kwargs in steps:
            args = [value]
            if takes_operand:
                other = next(taken)
                if isinstance(other, np.ndarray) and other.ndim == block.ndim and other.shape[0] == batch != 1:
                    other = other[samples]
                args.insert(1 - position, other)
            if _writes_into(prim):
                prim.impl(*args, out=block, **dict(kwargs))
            else:
                np.copyto(block, prim.impl(*args, **dict(kwargs)))
            value = block

    return finish


def _fused(op: str) -> Primitive:
    """The epilogue primitive of the conv kernel ``op`` ("forward" or "input_grad"), called as the kernel's primitive
    with the steps' operands after its two arrays and ``steps`` among its keyword arguments."""

    @with_scratch
    def fused(a, b, *operands, steps: tuple, geo: conv.Geometry, groups: int, algorithm: str | None = None, **shape):
        shapes = tuple(shape.values())  # the input gradient's x_shape
        chosen = conv._resolve(op, algorithm, (a.shape, a.dtype), (b.shape, b.dtype), geo, groups, shapes)
        finish = _finisher(steps, operands, a.shape[0])
        kernel = getattr(conv.KERNELS[chosen], op)
        if chosen == "gemm":
            return kernel(a, b, geo, groups, *shapes, finish=finish)
        y = kernel(a, b, geo, groups, *shapes)
        finish(slice(None), y, y)
        return y

    prim = Primitive(f"{conv.KERNEL_PRIMITIVES[op].name}_fused", fused, **compiled_as_call(tune=conv._tuner(op)))
    prim.nondifferentiable()
    prim.declare(epilogue=prim)  # a fused node takes further steps on
    conv.KERNEL_PRIMITIVES[op].declare(epilogue=prim)
    return prim


conv_fused = _fused("forward")
conv_input_grad_fused = _fused("input_grad")
