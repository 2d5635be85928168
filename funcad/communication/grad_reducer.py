"""MindSpore's ``nn.DistributedGradReducer`` for one device: the gradients averaged (or summed) over a world of one
rank are the gradients themselves."""

from __future__ import annotations

from funcad.communication.management import GlobalComm
from funcad.nn.cell import Cell


class DistributedGradReducer(Cell):
    """All-reduce of the gradients over ``group``: with one device, ``construct(grads)`` returns ``grads`` (``mean``
    divides by the degree, 1). The arguments are MindSpore's and are recorded."""

    def __init__(self, parameters, mean: bool | None = None, degree: int | None = None, fusion_type: int = 1,
                 group: str = GlobalComm.WORLD_COMM_GROUP):
        super().__init__(auto_prefix=False)
        if degree is not None and degree != 1:
            raise ValueError(f"DistributedGradReducer: degree {degree!r} needs that many devices; funcad runs on one (degree 1)")
        self.mean, self.degree, self.fusion_type, self.group = bool(mean), 1, fusion_type, group

    def construct(self, grads):
        return grads


__all__ = ["DistributedGradReducer"]
