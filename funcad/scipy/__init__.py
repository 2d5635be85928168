"""``funcad.scipy``: differentiable counterparts of the scipy functions models use (``funcad.scipy.special``)."""

from funcad.scipy import special

__all__ = ["special"]
