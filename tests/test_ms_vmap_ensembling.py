"""MindSpore's vmap tutorial (Automatic Vectorization), its model-ensembling section: code cells 12-16 as published,
``mindspore`` replaced by ``funcad`` and nothing else; cell 11's LeNet5 is the project's (harness.models, the same
layers) with the tutorial's 'valid' first convolution. Each result is checked against an independent reference: the
same LeNet5s run and trained one by one (in funcad, and in torch with torch.optim.Adam), and the tutorial's printout
is compared in structure. Its printed numbers come from MindSpore's RNG and r1.11's initializers (outputs ~1e-5, so
step 1's losses are ln 10), which funcad does not reproduce: only the layout and finiteness of the values compare.
Then what ensembling takes beyond the tutorial: numbers that differ between the cells, MindSpore's custom
training-cell pattern (GradOperation, ops.depend), gradients through the ensemble, and the errors.
"""

import re
from functools import partial

import numpy as np
import pytest
import torch

import funcad as mindspore
import funcad.nn as nn
import funcad.numpy as mnp
import funcad.ops as ops
from funcad import Tensor, grad, vmap
from harness import models

# cell 11: LeNet5 with both convolutions 'valid', for the tutorial's 32x32 images
LeNet5 = partial(models.LeNet5, pad_mode="valid")


# The tutorial's printout of cell 15 (MindSpore r1.11); cells 13, 14 and 16 show Tensors of shapes [4, 3, 10],
# [4, 3, 10] and [3, 10].
PUBLISHED_LOSSES = """Step 1 - loss: [2.3025837 2.3025882 2.3025858 2.3025842]
Step 2 - loss: [2.260927  2.301028  2.2992857 2.2976868]
Step 3 - loss: [1.8539654 2.2993202 2.2951114 2.2899477]
Step 4 - loss: [0.77165794 2.2973287  2.288719   2.2726345 ]
Step 5 - loss: [0.9397469 2.2948549 2.2777178 2.2313874]
Step 6 - loss: [0.6747699 2.29158   2.2579656 2.1410708]
Step 7 - loss: [0.64673084 2.2870557  2.2232006  1.966973  ]
Step 8 - loss: [1.0506033 2.2806385 2.1645374 1.6848679]
Step 9 - loss: [0.612196  2.2714498 2.0706694 1.3499321]
Step 10 - loss: [0.8843982 2.258316  1.9299208 1.1472267]
"""
LOSS_LINE = re.compile(r"Step (\d+) - loss: \[([^\]]*)\]")
LRS = (1e-2, 1e-3, 2e-3, 3e-3)


def loss_lines(text):
    """(step, losses) of each 'Step i - loss: [...]' line."""
    return [(int(step), np.array(values.split(), np.float64)) for step, values in LOSS_LINE.findall(text)]


def weights(net):
    """The trainable Parameters' values by their names within ``net`` (a CellList prefixes the Parameters' own)."""
    return {name: p.asnumpy().copy() for name, p in net.parameters_and_names() if p.requires_grad}


def torch_lenet(w, x):
    """LeNet5's forward written with torch.nn.functional (Conv2d has no bias, as MindSpore's default)."""
    relu, pool = torch.relu, lambda t: torch.nn.functional.max_pool2d(t, 2, 2)
    x = pool(relu(torch.nn.functional.conv2d(x, w["conv1.weight"])))
    x = pool(relu(torch.nn.functional.conv2d(x, w["conv2.weight"]))).flatten(1)
    for i in (1, 2):
        x = relu(torch.nn.functional.linear(x, w[f"fc{i}.weight"], w[f"fc{i}.bias"]))
    return torch.nn.functional.linear(x, w["fc3.weight"], w["fc3.bias"])


def torch_train(initial, lr, images, labels, steps):
    """Adam with amsgrad in torch; MindSpore's eps sits inside the bias correction (eps_torch = eps / sqrt(1 - b2^t)),
    so each step sets torch's eps to match. Returns the losses and the final weights."""
    w = {k: torch.tensor(v, requires_grad=True) for k, v in initial.items()}
    optimizer = torch.optim.Adam(w.values(), lr=lr, amsgrad=True)
    losses = []
    for t in range(1, steps + 1):
        optimizer.param_groups[0]["eps"] = 1e-8 / np.sqrt(1 - 0.999 ** t)
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(torch_lenet(w, images), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses), {k: v.detach().numpy() for k, v in w.items()}


def torch_outputs(nets, x):
    with torch.no_grad():
        return np.stack([torch_lenet({k: torch.tensor(v) for k, v in weights(n).items()}, torch.tensor(x)).numpy()
                         for n in nets])


def test_model_ensembling_cells_verbatim(capsys):
    """Cells 12-16 in order, with checks between them; a cell's last expression, which the notebook displays, is
    bound to a name here."""
    mindspore.set_seed(11)
    # cell 12
    net1 = LeNet5()
    net2 = LeNet5()
    net3 = LeNet5()
    net4 = LeNet5()

    minibatch = Tensor(mnp.randn(3, 1, 32, 32), mindspore.float32)
    initial = [weights(n) for n in (net1, net2, net3, net4)]

    # cell 13: the four models on one minibatch equal each model alone
    nets = nn.CellList([net1, net2, net3, net4])
    ensembled = vmap(nets, in_axes=None)(minibatch)
    assert repr(ensembled).startswith("Tensor(shape=[4, 3, 10], dtype=Float32, value=\n")
    np.testing.assert_allclose(ensembled.asnumpy(), torch_outputs(nets, minibatch.asnumpy()), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ensembled.asnumpy(), np.stack([n(minibatch).asnumpy() for n in nets]))

    # cell 14: model i on minibatch i
    minibatchs = Tensor(mnp.randn(4, 3, 1, 32, 32), mindspore.float32)
    ensembled = vmap(nets, in_axes=0)(minibatchs)
    assert ensembled.shape == (4, 3, 10) and ensembled.dtype == mindspore.float32
    for i, net in enumerate(nets):
        np.testing.assert_allclose(ensembled.asnumpy()[i], net(minibatchs[i]).asnumpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(ensembled.asnumpy()[i], torch_outputs([net], minibatchs.asnumpy()[i])[0],
                                   rtol=1e-5, atol=1e-6)

    # cell 15
    from funcad.common.parameter import ParameterTuple

    class TrainOneStepNet(nn.Cell):
        def __init__(self, net, lr):
            super(TrainOneStepNet, self).__init__()  # noqa: UP008 - the tutorial's code
            self.loss_fn = nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean'))
            self.weight = ParameterTuple(net.trainable_params())
            self.adam_optim = nn.Adam(self.weight, learning_rate=lr, use_amsgrad=True)

        def construct(self, batch, targets):
            loss = self.loss_fn(batch, targets)
            grad_weights = grad(self.loss_fn, grad_position=None, weights=self.weight)(batch, targets)
            self.adam_optim(grad_weights)
            return loss

    train_net1 = TrainOneStepNet(net1, lr=1e-2)
    train_net2 = TrainOneStepNet(net2, lr=1e-3)
    train_net3 = TrainOneStepNet(net3, lr=2e-3)
    train_net4 = TrainOneStepNet(net4, lr=3e-3)

    train_nets = nn.CellList([train_net1, train_net2, train_net3, train_net4])
    model_ensembling_train_one_step = vmap(train_nets)

    images = Tensor(mnp.randn(4, 3, 1, 32, 32), mindspore.float32)
    labels = Tensor(mnp.randint(1, 10, (4, 3)), mindspore.int32)

    for i in range(1, 11):
        loss = model_ensembling_train_one_step(images, labels)
        print("Step {} - loss: {}".format(i, loss))  # noqa: UP032 - the tutorial's code

    trained = vmap(nets, in_axes=None)(minibatch)
    # cell 16
    alone = net1(minibatch)

    out = capsys.readouterr().out
    printed = loss_lines(out)
    published = loss_lines(PUBLISHED_LOSSES)
    assert [s for s, _ in printed] == [s for s, _ in published] == list(range(1, 11))
    # a Tensor prints its values as NumPy prints the array, as MindSpore's does
    assert out.splitlines() == [f"Step {s} - loss: {np.array(v, np.float32)}" for s, v in printed]
    assert all(v.shape == (4,) and np.isfinite(v).all() for _, v in printed + published)
    losses = np.stack([v for _, v in printed], axis=1)  # [net, step]

    # the same nets trained one by one, in funcad (TrainOneStepNet as above) and in torch
    for i, (start, lr) in enumerate(zip(initial, LRS)):
        net = LeNet5()
        for name, p in net.parameters_and_names():
            p.set_data(Tensor(start[name]))
        step = TrainOneStepNet(net, lr)
        one_by_one = [step(images[i], labels[i]).asnumpy() for _ in range(10)]
        np.testing.assert_allclose(losses[i], one_by_one, rtol=1e-5)
        for name, value in weights(net).items():
            np.testing.assert_allclose(weights(nets[i])[name], value, rtol=1e-5, atol=1e-7, err_msg=name)
        torch_losses, torch_weights = torch_train(start, lr, torch.tensor(images.asnumpy()[i]),
                                                  torch.tensor(labels.asnumpy()[i], dtype=torch.int64), 10)
        np.testing.assert_allclose(losses[i], torch_losses, rtol=2e-5)  # measured: 1e-6
        for name, value in torch_weights.items():  # Adam's steps: float32 rounding moves near-zero gradients' steps
            ours, theirs = weights(nets[i])[name] - start[name], value - start[name]
            assert np.linalg.norm(ours - theirs) <= 2e-4 * np.linalg.norm(theirs), name  # measured: 2.3e-5
        assert train_nets[i].adam_optim.global_step.item() == 10
    assert losses[0, -1] < losses[0, 0]  # lr 1e-2 on three images: the loss falls

    # after training, the ensemble and net1 alone (cell 16) agree with the trained weights
    np.testing.assert_allclose(trained.asnumpy(), torch_outputs(nets, minibatch.asnumpy()), rtol=1e-5, atol=1e-5)
    assert repr(alone).startswith("Tensor(shape=[3, 10], dtype=Float32, value=\n")
    np.testing.assert_allclose(alone.asnumpy(), trained.asnumpy()[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("in_axes", [None, 0])
def test_model_ensembling_gradient_flows_to_every_cell(in_axes):
    """grad through vmap over the CellList with respect to each cell's weights equals each cell's own gradient."""
    mindspore.set_seed(5)
    nets = nn.CellList([LeNet5() for _ in range(2)])
    x = Tensor(mnp.randn(*(() if in_axes is None else (2,)), 2, 1, 32, 32), mindspore.float32)
    params = [mindspore.ParameterTuple(n.trainable_params()) for n in nets]
    ensemble = grad(lambda x: vmap(nets, in_axes=in_axes)(x).sum(), grad_position=None,
                    weights=mindspore.ParameterTuple(params[0] + params[1]))(x)
    for i, net in enumerate(nets):
        xi = x if in_axes is None else x[i]
        own = grad(lambda x, net=net: net(x).sum(), grad_position=None, weights=params[i])(xi)
        for g, h in zip(ensemble[i * len(params[0]):(i + 1) * len(params[0])], own):
            np.testing.assert_allclose(g.asnumpy(), h.asnumpy(), rtol=1e-5, atol=1e-7)


def test_vmap_model_ensembling_data():
    """The ensembling snippets' data lines."""
    mindspore.set_seed(3)
    minibatchs = Tensor(mnp.randn(4, 3, 1, 32, 32), mindspore.float32)
    labels = Tensor(mnp.randint(1, 10, (4, 3)), mindspore.int32)
    assert (minibatchs.shape, minibatchs.dtype, labels.shape, labels.dtype) == \
        ((4, 3, 1, 32, 32), mindspore.float32, (4, 3), mindspore.int32)
    values = minibatchs.asnumpy().astype(np.float64)
    assert abs(values.mean()) < 6 / np.sqrt(values.size) and abs(values.std() - 1) < 0.05   # 12288 N(0, 1) draws
    assert set(np.unique(mnp.randint(1, 10, (1000,)).asnumpy())) == set(range(1, 10))  # [minval, maxval)
    assert set(np.unique(mnp.randint(3, shape=200).asnumpy())) == {0, 1, 2}              # one bound: [0, minval)
    uniform = mnp.rand(2, 500).asnumpy()
    assert uniform.dtype == np.float32 and 0 <= uniform.min() and uniform.max() < 1
    mindspore.set_seed(3)
    np.testing.assert_array_equal(mnp.randn(4, 3, 1, 32, 32).asnumpy(), minibatchs.asnumpy())


def _train_cell(seed):
    mindspore.set_seed(seed)
    net = LeNet5()
    criterion = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    return nn.TrainOneStepCell(nn.WithLossCell(net, criterion), optimizer)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "jit"])
def test_vmap_model_ensembling_trains_each_model_as_alone(compiled):
    """vmap over an nn.CellList of training cells: one batched step trains four LeNet5s (each on its own minibatch)
    exactly as four separate steps do, weights and momentum written back into each cell."""
    mindspore.set_seed(3)
    minibatchs = Tensor(mnp.randn(4, 3, 1, 32, 32), mindspore.float32)
    labels = Tensor(mnp.randint(1, 10, (4, 3)), mindspore.int32)
    ensemble = [_train_cell(seed) for seed in range(4)]
    alone = [_train_cell(seed) for seed in range(4)]
    model_list = nn.CellList(ensemble)
    vmap_model = vmap(model_list, in_axes=0, out_axes=0)
    if compiled:
        vmap_model = mindspore.jit(vmap_model)
    for _ in range(3):
        losses = vmap_model(minibatchs, labels)
        expected = [cell(minibatchs[i], labels[i]).asnumpy() for i, cell in enumerate(alone)]
        np.testing.assert_allclose(losses.asnumpy(), expected, rtol=1e-6)
    for a, b in zip(ensemble, alone):
        for (name, p), (_, q) in zip(a.parameters_and_names(), b.parameters_and_names()):
            np.testing.assert_allclose(p.asnumpy(), q.asnumpy(), rtol=1e-5, atol=1e-7, err_msg=name)
        for (name, p), (_, q) in zip(a.optimizer.parameters_and_names(), b.optimizer.parameters_and_names()):
            np.testing.assert_allclose(p.asnumpy(), q.asnumpy(), rtol=1e-5, atol=1e-7, err_msg=name)
    assert ensemble[0].optimizer.global_step.item() == 3


def test_vmap_model_ensembling_same_minibatch_and_errors():
    mindspore.set_seed(4)
    models = [LeNet5() for _ in range(3)]
    minibatch = Tensor(mnp.randn(2, 1, 32, 32), mindspore.float32)
    predictions = vmap(nn.CellList(models), in_axes=None, out_axes=1)(minibatch)
    assert predictions.shape == (2, 3, 10)
    for i, model in enumerate(models):
        np.testing.assert_allclose(predictions.asnumpy()[:, i], model(minibatch).asnumpy(), rtol=1e-6, atol=1e-7)
    ensemble_grad = grad(lambda x: vmap(nn.CellList(models), in_axes=None)(x).sum())(minibatch)
    alone_grads = sum(grad(lambda x, m=m: m(x).sum())(minibatch).asnumpy() for m in models)
    np.testing.assert_allclose(ensemble_grad.asnumpy(), alone_grads, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="disagree on the batch size"):
        vmap(nn.CellList(models), in_axes=0)(Tensor(mnp.randn(4, 2, 1, 32, 32), mindspore.float32))
    with pytest.raises(ValueError, match="cell 1 is a Dense, cell 0 a LeNet5"):
        vmap(nn.CellList([LeNet5(), nn.Dense(3, 4)]))
    with pytest.raises(ValueError, match=r"cell 1's 'weight' is Float32\[5, 3\]"):
        vmap(nn.CellList([nn.Dense(3, 4), nn.Dense(3, 5)]))
    with pytest.raises(ValueError, match="CellList is empty"):
        vmap(nn.CellList())


class Scaled(nn.Cell):
    """A Dense whose output is scaled and shifted by plain numbers, which differ from cell to cell."""

    def __init__(self, scale, shift):
        super().__init__()
        self.dense = nn.Dense(3, 2)
        self.scale, self.shift = scale, shift

    def construct(self, x):
        return self.dense(x) * self.scale + self.shift


def _dense_step(lr, momentum_seed):
    mindspore.set_seed(momentum_seed)
    net = nn.Dense(3, 2)
    return nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.Momentum(net.trainable_params(), lr, 0.9))


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "jit"])
def test_ensemble_batches_numbers_that_differ(compiled):
    """Numbers that differ between the cells (a Cell's floats and ints, each optimizer's learning rate, its schedule
    Cell's rates) are batched; the cells then compute and train as each does alone."""
    mindspore.set_seed(7)
    cells = [Scaled(2.0, 1), Scaled(0.5, -3), Scaled(1, 0)]
    x = Tensor(np.random.default_rng(0).normal(size=(4, 3)), mindspore.float32)
    transform = mindspore.jit if compiled else (lambda f: f)
    out = transform(vmap(nn.CellList(cells), in_axes=None))(x)
    for i, cell in enumerate(cells):
        expected = x.asnumpy() @ cell.dense.weight.asnumpy().T + cell.dense.bias.asnumpy()
        np.testing.assert_allclose(out.asnumpy()[i], expected * cell.scale + cell.shift, rtol=1e-6, atol=1e-6)
    assert [c.scale for c in cells] == [2.0, 0.5, 1] and cells[0].shift == 1  # restored after the call

    def schedules():
        return [nn.ExponentialDecayLR(0.1, 0.5, 2), nn.ExponentialDecayLR(0.05, 0.9, 2), 0.02]

    for rates in (schedules()[2:] + [0.1, 0.3], schedules()[:2]):
        ensemble = [_dense_step(lr, seed) for seed, lr in enumerate(rates)]
        alone = [_dense_step(lr, seed) for seed, lr in enumerate(rates)]
        inputs = Tensor(np.random.default_rng(1).normal(size=(len(rates), 5, 3)), mindspore.float32)
        targets = Tensor(np.random.default_rng(2).normal(size=(len(rates), 5, 2)), mindspore.float32)
        step = transform(vmap(nn.CellList(ensemble)))
        for _ in range(3):
            losses = step(inputs, targets).asnumpy()
            np.testing.assert_allclose(losses, [c(inputs[i], targets[i]).asnumpy() for i, c in enumerate(alone)],
                                       rtol=1e-6)
        for a, b in zip(ensemble, alone):
            np.testing.assert_allclose(a.network._backbone.weight.asnumpy(), b.network._backbone.weight.asnumpy(),
                                       rtol=1e-6, atol=1e-7)


def test_ensemble_refuses_attributes_it_cannot_batch():
    with pytest.raises(ValueError, match="cell 1's 'pad_mode' is 'same', cell 0's 'valid'"):
        vmap(nn.CellList([nn.Conv2d(1, 2, 3, pad_mode='valid'), nn.Conv2d(1, 2, 3, pad_mode='same')]))
    with pytest.raises(ValueError, match=r"cell 1's 'stride' is \(2, 2\), cell 0's \(1, 1\)"):
        vmap(nn.CellList([nn.Conv2d(1, 2, 3, stride=1), nn.Conv2d(1, 2, 3, stride=2)]))
    with pytest.raises(ValueError, match="cell 1's 'optimizer.use_nesterov' is True, cell 0's False"):
        nets = [nn.Dense(3, 2) for _ in range(2)]
        vmap(nn.CellList([nn.TrainOneStepCell(nn.WithLossCell(n, nn.MSELoss()), nn.Momentum(
            n.trainable_params(), 0.1, 0.9, use_nesterov=flag)) for n, flag in zip(nets, (False, True))]))
    with pytest.raises(ValueError, match="different learning-rate lists or functions"):
        vmap(nn.CellList([_dense_step([0.1, 0.2], 0), _dense_step([0.1, 0.3], 1)]))
    with pytest.raises(ValueError, match=r"cell 1 has Parameters \[.*'optimizer.learning_rate'"):  # a fixed rate's Parameter
        vmap(nn.CellList([_dense_step(nn.ExponentialDecayLR(0.1, 0.5, 2), 0), _dense_step(0.1, 1)]))


class CustomTrainOneStepCell(nn.Cell):
    """MindSpore's documented pattern for a training cell of one's own: GradOperation over the optimizer's
    Parameters, the update ordered after the loss with ops.depend."""

    def __init__(self, network, optimizer):
        super().__init__(auto_prefix=False)
        self.network = network
        self.network.set_grad()
        self.optimizer = optimizer
        self.weights = self.optimizer.parameters
        self.grad = ops.GradOperation(get_by_list=True)

    def construct(self, *inputs):
        loss = self.network(*inputs)
        grads = self.grad(self.network, self.weights)(*inputs)
        loss = ops.depend(loss, self.optimizer(grads))
        return loss


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "jit"])
def test_custom_training_cell_with_depend_ensembles_as_train_one_step_cell(compiled):
    """Ensembled with four learning rates, the custom cell trains each LeNet5 as nn.TrainOneStepCell does alone."""
    mindspore.set_seed(13)
    images = Tensor(mnp.randn(4, 3, 1, 32, 32), mindspore.float32)
    labels = Tensor(mnp.randint(1, 10, (4, 3)), mindspore.int32)
    starts = [LeNet5() for _ in LRS]
    cells, references = [], []
    for start, lr in zip(starts, LRS):
        twins = [LeNet5(), LeNet5()]
        for twin in twins:
            for (_, p), (_, q) in zip(twin.parameters_and_names(), start.parameters_and_names()):
                p.set_data(q.asnumpy())
        loss_nets = [nn.WithLossCell(t, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction='mean')) for t in twins]
        cells.append(CustomTrainOneStepCell(loss_nets[0], nn.Adam(twins[0].trainable_params(), lr, use_amsgrad=True)))
        references.append(nn.TrainOneStepCell(loss_nets[1], nn.Adam(twins[1].trainable_params(), lr, use_amsgrad=True)))
    step = vmap(nn.CellList(cells))
    step = mindspore.jit(step) if compiled else step
    for _ in range(3):
        losses = step(images, labels).asnumpy()
        np.testing.assert_allclose(losses, [r(images[i], labels[i]).asnumpy() for i, r in enumerate(references)],
                                   rtol=1e-5)
    for cell, reference in zip(cells, references):
        for (name, p), (_, q) in zip(cell.network.parameters_and_names(), reference.network.parameters_and_names()):
            np.testing.assert_allclose(p.asnumpy(), q.asnumpy(), rtol=1e-5, atol=1e-7, err_msg=name)
    np.testing.assert_array_equal(ops.depend(images, ops.sin(images)).asnumpy(), images.asnumpy())
