"""The cases written the JAX way: pure losses (``losses.CaseLosses`` over ``jax.numpy``, plus LeNet's convolutions) and
one jitted function per train step computing the loss, its gradients and the optimizer's update.

jax is optional (the ``bench`` extra): it is imported when a port is asked for, and an ImportError says it is absent.
XLA's CPU runtime sizes its own thread pool to the cores the process may run on; neither torch's thread setting nor
threadpoolctl (nor XLA_FLAGS' intra_op_parallelism_threads, in jaxlib 0.10) changes it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from funcad import nn
from harness.bench.losses import CaseLosses

INSTALL = "pip install jax"
UNPORTED = "no JAX port of this case"


class JaxLosses(CaseLosses):
    """The numpy-like cases over ``jax.numpy``, and LeNet-5 with XLA's convolution and max-pool."""

    def __init__(self):
        import jax
        import jax.numpy as jnp

        super().__init__(jnp, jax.nn.logsumexp)
        self.lax = jax.lax

    def for_case(self, case_name: str) -> Callable | None:
        return self.lenet if case_name == "lenet" else super().for_case(case_name)

    def conv_relu_pool(self, h, w, padding: str):
        """Convolution (NCHW, OIHW weights, stride 1, no bias), ReLU, 2x2 max-pool of stride 2."""
        h = self.lax.conv_general_dilated(h, w, (1, 1), padding, dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return self.lax.reduce_window(self.xp.maximum(h, 0.0), -self.xp.inf, self.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def lenet(self, ps, x, y):
        """Two convolution blocks (the first padded to keep 28x28), three Dense layers, cross-entropy."""
        c1, c2, w1, b1, w2, b2, w3, b3 = ps
        h = self.conv_relu_pool(self.conv_relu_pool(x, c1, "SAME"), c2, "VALID")
        h = self.xp.reshape(h, (h.shape[0], -1))
        h = self.xp.maximum(self.dense(h, w1, b1), 0.0)
        h = self.xp.maximum(self.dense(h, w2, b2), 0.0)
        return self.cross_entropy(self.dense(h, w3, b3), y)


def loss_function(case_name: str) -> Callable | None:
    """``loss(params, x, y)`` of the case on a list of arrays in the Cell's order, or None where no port exists."""
    return JaxLosses().for_case(case_name)


def batch(x, y) -> tuple:
    """The batch as device arrays, placed once as a JAX user keeps a batch that every step reads."""
    import jax.numpy as jnp

    return jnp.asarray(np.asarray(x)), jnp.asarray(np.asarray(y))  # funcad dtypes are not numpy's dtype class


def optimizer_update(optimizer, params: list) -> tuple[Callable, tuple]:
    """``(update(params, grads, state) -> (params, state), initial state)``: the funcad optimizer's formula as a pure function
    (SGD without momentum, Momentum, Adam; weight decay where the optimizer applies it)."""
    import jax.numpy as jnp

    lr = optimizer.learning_rate
    if callable(lr) or getattr(optimizer, "use_nesterov", False) or getattr(optimizer, "nesterov", False):
        raise ValueError(f"JAX port: {type(optimizer).__name__} with a learning-rate schedule or Nesterov momentum is not ported")
    lr = float(lr)  # the rate's Parameter, read once: the port is compiled with it
    decays = list(optimizer.weight_decays)  # MindSpore skips beta and gamma

    def decayed(ps, gs):
        return [g + d * p if d else g for p, g, d in zip(ps, gs, decays)]

    if isinstance(optimizer, nn.Adam):
        b1, b2, eps = optimizer.beta1, optimizer.beta2, optimizer.eps

        def adam(ps, gs, state):
            m, v, t = state
            gs, t = decayed(ps, gs), t + 1
            m = [b1 * mi + (1.0 - b1) * g for mi, g in zip(m, gs)]
            v = [b2 * vi + (1.0 - b2) * (g * g) for vi, g in zip(v, gs)]
            step = lr * jnp.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
            return [p - step * mi / (jnp.sqrt(vi) + eps) for p, mi, vi in zip(ps, m, v)], (m, v, t)

        return adam, ([jnp.zeros_like(p) for p in params], [jnp.zeros_like(p) for p in params], jnp.zeros((), params[0].dtype))
    if isinstance(optimizer, nn.Momentum) or (isinstance(optimizer, nn.SGD) and optimizer.momentum and not optimizer.dampening):
        u = optimizer.momentum

        def momentum(ps, gs, velocity):
            velocity = [u * vi + g for vi, g in zip(velocity, decayed(ps, gs))]
            return [p - lr * vi for p, vi in zip(ps, velocity)], velocity

        return momentum, [jnp.zeros_like(p) for p in params]
    if isinstance(optimizer, nn.SGD) and optimizer.stateless:
        return (lambda ps, gs, state: ([p - lr * g for p, g in zip(ps, decayed(ps, gs))], state)), ()
    raise ValueError(f"JAX port: {type(optimizer).__name__} is not ported")


def train_step(case_name: str, params: list, optimizer) -> Callable | None:
    """``step(x, y) -> loss``: one jitted call computing the loss, its gradients and the optimizer's update of ``params``
    (replaced in place in the list, and donated to the next call), waiting for the result as the other engines do;
    None where no port exists."""
    import jax
    import jax.numpy as jnp

    loss = loss_function(case_name)
    if loss is None:
        return None
    params[:] = [jnp.asarray(p) for p in params]
    update, held = optimizer_update(optimizer, params)
    state = [held]

    @partial(jax.jit, donate_argnums=(0, 1))
    def jitted(ps, st, x, y):
        value, grads = jax.value_and_grad(loss)(ps, x, y)
        ps, st = update(ps, grads, st)
        return ps, st, value

    def step(x, y):
        params[:], state[0], value = jitted(list(params), state[0], x, y)
        return value.block_until_ready()

    return step
