"""``funcad.common.initializer``: MindSpore's initializer classes and ``initializer(init, shape, dtype)``."""

from funcad.nn.initializer import (  # noqa: F401 - this module is the namespace
    Constant,
    Dirac,
    HeNormal,
    HeUniform,
    Identity,
    Initializer,
    Normal,
    One,
    Orthogonal,
    Sparse,
    TruncatedNormal,
    Uniform,
    VarianceScaling,
    XavierNormal,
    XavierUniform,
    Zero,
    calculate_gain,
    initializer,
)
