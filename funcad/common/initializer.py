"""``funcad.common.initializer``: MindSpore's initializer classes and ``initializer(init, shape, dtype)``."""

from funcad.nn.initializer import (  # noqa: F401 - this module is the namespace
    Constant,
    HeNormal,
    HeUniform,
    Initializer,
    Normal,
    One,
    TruncatedNormal,
    Uniform,
    XavierNormal,
    XavierUniform,
    Zero,
    calculate_gain,
    initializer,
)
