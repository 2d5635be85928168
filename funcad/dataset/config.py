"""``mindspore.dataset.config``: the seed of the pipeline's random order.

funcad's datasets draw their order (shuffled sources, ``shuffle``, randomized ``split``) and the random vision
operations from funcad's one global generator, so ``set_seed`` here is ``funcad.set_seed``: it seeds everything
funcad draws.
"""

from funcad.core.seed import get_seed, set_seed

__all__ = ["set_seed", "get_seed"]
