"""MindSpore's functional autodiff tutorial, step by step, on funcad.

The sequence of the seed post: a plain gradient of a loss with respect to two of its inputs; what
happens when the function returns a tuple; blocking the extra output with stop_gradient; handing it
back with has_aux; and the same computation as a Cell whose weights value_and_grad differentiates.
Only the imports differ from the MindSpore version.

Run: python examples/seed_tutorial.py
"""

import numpy as np

import funcad as ms
from funcad import Parameter, Tensor, nn, ops

ms.set_seed(0)
rng = np.random.default_rng(0)

# -- 1. a function and its gradient -----------------------------------------------------------------
x = ops.ones(5, ms.float32)  # input
y = ops.zeros(3, ms.float32)  # expected output
w = Parameter(Tensor(rng.normal(size=(5, 3)), ms.float32), name="w")  # weight
b = Parameter(Tensor(rng.normal(size=(3,)), ms.float32), name="b")  # bias


def function(x, y, w, b):
    z = ops.matmul(x, w) + b
    loss = ops.binary_cross_entropy_with_logits(z, y, ops.ones_like(z), ops.ones_like(z))
    return loss


print("loss:", function(x, y, w, b))
grad_fn = ms.grad(function, (2, 3))  # gradients with respect to w and b (positions 2 and 3)
grads = grad_fn(x, y, w, b)
print("grad w:\n", grads[0])
print("grad b:", grads[1])

# Closed form: d loss / d z = (sigmoid(z) - y) / 3 (mean over 3 outputs); d z / d w = x, d z / d b = 1.
z = np.ones(5) @ np.asarray(w, np.float64) + np.asarray(b, np.float64)
dz = (1 / (1 + np.exp(-z)) - 0.0) / 3
print("matches closed form:", np.allclose(np.asarray(grads[0]), np.outer(np.ones(5), dz), rtol=1e-5)
      and np.allclose(np.asarray(grads[1]), dz, rtol=1e-5))


# -- 2. a function with two outputs: both are differentiated (their sum) ------------------------------
def function_with_logits(x, y, w, b):
    z = ops.matmul(x, w) + b
    loss = ops.binary_cross_entropy_with_logits(z, y, ops.ones_like(z), ops.ones_like(z))
    return loss, z


grads_tuple = ms.grad(function_with_logits, (2, 3))(x, y, w, b)
print("grad b with (loss, z) output:", grads_tuple[1], "(= grad of loss + 1 per z element)")
print("tuple output adds ones:", np.allclose(np.asarray(grads_tuple[1]), np.asarray(grads[1]) + 1.0, rtol=1e-5))


# -- 3. stop_gradient removes the extra output's contribution -----------------------------------------
def function_stop_gradient(x, y, w, b):
    z = ops.matmul(x, w) + b
    loss = ops.binary_cross_entropy_with_logits(z, y, ops.ones_like(z), ops.ones_like(z))
    return loss, ops.stop_gradient(z)


grads_stopped = ms.grad(function_stop_gradient, (2, 3))(x, y, w, b)
print("stop_gradient equals plain loss gradient:", all(np.allclose(np.asarray(g), np.asarray(h)) for g, h in zip(grads_stopped, grads)))

# -- 4. has_aux: only the first output is differentiated, the rest is handed back --------------------
grads_aux, (z_aux,) = ms.grad(function_with_logits, (2, 3), has_aux=True)(x, y, w, b)
print("has_aux equals stop_gradient:", all(np.allclose(np.asarray(g), np.asarray(h)) for g, h in zip(grads_aux, grads_stopped)))
print("aux output z:", z_aux)


# -- 5. the same with a Cell, value_and_grad over its trainable parameters ---------------------------
class Network(nn.Cell):
    def __init__(self):
        super().__init__()
        self.w = w
        self.b = b

    def construct(self, x):
        z = ops.matmul(x, self.w) + self.b
        return z


model = Network()
loss_fn = nn.BCEWithLogitsLoss()


def forward_fn(x, y):
    z = model(x)
    loss = loss_fn(z, y)
    return loss


grad_fn = ms.value_and_grad(forward_fn, None, weights=model.trainable_params())
loss, cell_grads = grad_fn(x, y)
print("Cell loss:", loss)
print("Cell parameters:", [p.name for p in model.trainable_params()])
print("Cell gradients equal function gradients:", all(np.allclose(np.asarray(g), np.asarray(h)) for g, h in zip(cell_grads, grads)))
