"""Cell.recompute(): the same values and gradients (inputs and Parameters) as without it, at first and second order,
under jit and vmap; and the recorded tape keeps a block's inputs, not its activations."""

from __future__ import annotations

import numpy as np

import funcad
from funcad import nn, ops
from funcad.testing import assert_close


def _mlp(depth: int, width: int, recompute: bool):
    funcad.set_seed(0)
    blocks = []
    for _ in range(depth):
        block = nn.SequentialCell(nn.Dense(width, width, dtype=funcad.float64), nn.Tanh())
        blocks.append(block.recompute() if recompute else block)
    return nn.SequentialCell(*blocks)


X = np.random.default_rng(0).standard_normal((8, 5))


def test_recompute_gives_the_same_gradients():
    plain, again = _mlp(4, 5, False), _mlp(4, 5, True)
    loss = lambda net: lambda x: ops.sum(net(x) ** 2)  # noqa: E731
    value, grads = funcad.value_and_grad(loss(plain), 0, plain.trainable_params())(X)
    value_r, grads_r = funcad.value_and_grad(loss(again), 0, again.trainable_params())(X)
    assert_close(value_r, value, rtol=1e-13, atol=1e-13)
    for g, gr in zip(grads[1], grads_r[1]):
        assert_close(gr, g, rtol=1e-12, atol=1e-13)
    assert_close(grads_r[0], grads[0], rtol=1e-12, atol=1e-13)
    jitted = funcad.jit(funcad.grad(loss(again), None, again.trainable_params()))(X)
    for g, gj in zip(grads[1], jitted):
        assert_close(gj, g, rtol=1e-12, atol=1e-13)


def test_recompute_at_second_order_and_under_vmap():
    plain, again = _mlp(2, 5, False), _mlp(2, 5, True)
    hess = lambda net: funcad.hessian(lambda x: ops.sum(net(x) ** 2))(X[0])  # noqa: E731
    assert_close(hess(again), hess(plain), rtol=1e-11, atol=1e-12)
    per_row = lambda net: funcad.vmap(funcad.grad(lambda x: ops.sum(net(x) ** 2)))(X)  # noqa: E731
    assert_close(per_row(again), per_row(plain), rtol=1e-12, atol=1e-13)


def test_recompute_records_one_node_per_block():
    from funcad.core.reverse import VJPTrace, VJPTracer
    from funcad.core.trace import scope

    for recompute, expected in ((False, 2 * 4), (True, 4)):
        net = _mlp(4, 5, recompute)
        trace = VJPTrace()
        with scope(trace):
            out = net(trace.new_input(funcad.Tensor(X)))
        nodes, stack, seen = 0, [out], set()
        while stack:
            node = stack.pop()
            if id(node) in seen or node._prim is None:
                continue
            seen.add(id(node))
            nodes += 1
            stack += [p for _, p in node._parents if isinstance(p, VJPTracer)]
        assert nodes == expected  # per block: dense and tanh, or one recompute node


def _bn_net(recompute: bool):
    funcad.set_seed(1)
    block = nn.SequentialCell(nn.Dense(5, 4, dtype=funcad.float64), nn.BatchNorm1d(4, dtype=funcad.float64), nn.Tanh())
    net = nn.SequentialCell(block.recompute() if recompute else block, nn.Dense(4, 2, dtype=funcad.float64))
    net.set_train()
    return net


def test_recompute_of_a_batchnorm_updates_its_moving_statistics_once():
    plain, again = _bn_net(False), _bn_net(True)
    loss = lambda net: lambda x: ops.sum(net(x) ** 2)  # noqa: E731
    _, grads = funcad.value_and_grad(loss(plain), None, plain.trainable_params())(X)
    _, grads_r = funcad.value_and_grad(loss(again), None, again.trainable_params())(X)
    for g, gr in zip(grads, grads_r):
        assert_close(gr, g, rtol=1e-12, atol=1e-13)
    dense, bn = again[0][0], again[0][1]
    hidden = X @ dense.weight.asnumpy().T + dense.bias.asnumpy()
    assert_close(bn.moving_mean, 0.1 * hidden.mean(0), rtol=1e-12, atol=1e-14)  # momentum 0.9 from zeros, once
    for name in ("moving_mean", "moving_variance"):
        assert_close(getattr(bn, name), getattr(plain[0][1], name), rtol=1e-12, atol=1e-14)
    # forward mode replays the Cell for its tangent: the statistics still move once per forward pass
    funcad.jvp(loss(again), (X,), (np.ones_like(X),))
    assert_close(bn.moving_mean, 0.1 * 0.9 * hidden.mean(0) + 0.1 * hidden.mean(0), rtol=1e-12, atol=1e-14)


def test_recompute_of_a_batchnorm_under_jit_updates_like_eager():
    plain, again = _bn_net(False), _bn_net(True)
    steps = [funcad.jit(funcad.value_and_grad(lambda x, n=net: ops.sum(n(x) ** 2), None, net.trainable_params()))
             for net in (plain, again)]
    for _ in range(2):
        (value, grads), (value_r, grads_r) = (step(X) for step in steps)
        assert_close(value_r, value, rtol=1e-12, atol=1e-13)
        for g, gr in zip(grads, grads_r):
            assert_close(gr, g, rtol=1e-12, atol=1e-13)
    for name in ("moving_mean", "moving_variance"):
        assert_close(getattr(again[0][1], name), getattr(plain[0][1], name), rtol=1e-12, atol=1e-14)
    dense = again[0][0]
    hidden = X @ dense.weight.asnumpy().T + dense.bias.asnumpy()
    assert_close(again[0][1].moving_mean, 0.19 * hidden.mean(0), rtol=1e-12, atol=1e-14)  # two updates from zeros
