"""Per-sample gradients compared: funcad's ``nn.per_sample_grads`` (vmap of grad) against torch.func's
``vmap(grad(functional_call(...)))`` on a case's first batch, both engines starting from the same parameters.

    per_sample_differences("lenet", batch_size=8)   # {funcad parameter name: largest |funcad - torch| per sample}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch.func import functional_call, grad, vmap

from funcad import nn
from harness.cases import get_case


def per_sample_differences(case_name: str, batch_size: int = 8, dtype: str = "float64", seed: int = 0,
                           data_dir: str | Path | None = None) -> dict[str, float]:
    """The largest absolute difference, per parameter, between the two engines' per-sample gradients."""
    case = get_case(case_name)
    pair = case.build(dtype=dtype, seed=seed)
    x, y = case.batches(1, seed, batch_size, data_dir)[0]
    engine, trainer = pair.funcad, pair.torch.trainer
    weights = engine.optimizer.parameters
    ours = nn.per_sample_grads(engine.net, engine.loss_fn, *engine.prepare(x, y), weights=weights)

    model, loss_fn = trainer.model, trainer.loss_fn
    params = {name: p.detach() for name, p in model.named_parameters()}

    def sample_loss(p, xi, yi):
        return loss_fn(functional_call(model, p, (xi[None],)), yi[None])

    theirs = vmap(grad(sample_loss), in_dims=(None, 0, 0))(params, trainer.tensor(x), trainer.tensor(y))
    return {w.name: float(np.max(np.abs(np.asarray(g) - theirs[pair.torch.to_torch[w.name]].cpu().numpy())))
            for w, g in zip(weights, ours)}
