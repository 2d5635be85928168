"""MindSpore 2.x beginner tutorials (tensor, model, autograd, quick_start/train, save_load,
accelerate_with_static_graph, mixed_precision), their published code with ``mindspore`` replaced by ``funcad``
and MNIST replaced by arrays of the same shapes. Values are checked against numpy closed forms and torch; where the
tutorial prints a deterministic value, the printed text is compared with the tutorial's published output. Code
that the examples or other tests run too is written once: the quickstart's Network and training step come from
examples/quickstart.py, the autograd tutorial is examples/seed_tutorial.py, the mixed_precision training step is in
tutorial_code.py.
"""

import numpy as np
import pytest
import torch
from tutorial_code import load_example, mixed_precision_train_step

import funcad
import funcad as mindspore
import funcad as ms
from funcad import COOTensor, CSRTensor, Tensor, nn, ops


class ArrayDataset:
    """MNIST's place in the tutorials: batches of (N, 1, 28, 28) float32 images and int32 labels."""

    def __init__(self, batches=3, batch_size=16, seed=0):
        rng = np.random.default_rng(seed)
        self.batches = [(rng.random((batch_size, 1, 28, 28), np.float32), rng.integers(0, 10, batch_size).astype(np.int32))
                        for _ in range(batches)]

    def get_dataset_size(self):
        return len(self.batches)

    def create_tuple_iterator(self):
        return iter([(Tensor(x), Tensor(y)) for x, y in self.batches])

    def __iter__(self):
        return self.create_tuple_iterator()


quickstart = load_example("quickstart")
Network = quickstart.Network  # the quickstart tutorial's model, as examples/quickstart.py writes it


def numpy_network(model, x):
    w1, b1, w2, b2, w3, b3 = (p.asnumpy().astype(np.float64) for p in model.trainable_params())
    h = np.maximum(np.asarray(x, np.float64).reshape(len(x), -1) @ w1.T + b1, 0)
    h = np.maximum(h @ w2.T + b2, 0)
    return h @ w3.T + b3


def torch_network(model):
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
                                 torch.nn.ReLU(), torch.nn.Linear(512, 10))
    with torch.no_grad():
        for p, q in zip([m for m in module.parameters()], model.trainable_params()):
            p.copy_(torch.from_numpy(q.asnumpy()))
    return module


# -- tensor -------------------------------------------------------------------------------------------------------
def test_tensor_tutorial(capsys):
    data = [1, 0, 1, 0]
    x_data = Tensor(data)
    np_array = np.array(data)
    x_np = Tensor(np_array)
    from funcad.common.initializer import Normal, One

    tensor1 = mindspore.Tensor(shape=(2, 2), dtype=mindspore.float32, init=One())
    tensor2 = mindspore.Tensor(shape=(2, 2), dtype=mindspore.float32, init=Normal())
    print("tensor1:\n", tensor1)
    x_ones = ops.ones_like(x_data)
    print(f"Ones Tensor: \n {x_ones} \n")
    x_zeros = ops.zeros_like(x_data)
    print(f"Zeros Tensor: \n {x_zeros} \n")
    x = Tensor(np.array([[1, 2], [3, 4]]), mindspore.int32)
    print("x_shape:", x.shape)
    print("x_dtype:", x.dtype)
    print("x_itemsize:", x.itemsize)
    print("x_nbytes:", x.nbytes)
    print("x_ndim:", x.ndim)
    print("x_size:", x.size)
    print("x_strides:", x.strides)
    tensor = Tensor(np.array([[0, 1], [2, 3]]).astype(np.float32))
    print("First row: {}".format(tensor[0]))  # noqa: UP032 - the tutorial's code
    print("value of bottom right corner: {}".format(tensor[1, 1]))  # noqa: UP032 - the tutorial's code
    print("Last column: {}".format(tensor[:, -1]))  # noqa: UP032 - the tutorial's code
    print("First column: {}".format(tensor[..., 0]))  # noqa: UP032 - the tutorial's code
    x = Tensor(np.array([1, 2, 3]), mindspore.float32)
    y = Tensor(np.array([4, 5, 6]), mindspore.float32)
    print("add:", x + y)
    print("sub:", x - y)
    print("mul:", x * y)
    print("div:", y / x)
    print("mod:", y % x)
    print("floordiv:", y // x)
    data1 = Tensor(np.array([[0, 1], [2, 3]]).astype(np.float32))
    data2 = Tensor(np.array([[4, 5], [6, 7]]).astype(np.float32))
    output = ops.concat((data1, data2), axis=0)
    print(output)
    print("shape:\n", output.shape)
    output = ops.stack([data1, data2])
    print(output)
    print("shape:\n", output.shape)
    t = ops.ones(5, mindspore.float32)
    print(f"t: {t}")
    n = t.asnumpy()
    print(f"n: {n}")
    n = np.ones(5)
    t = Tensor.from_numpy(n)
    np.add(n, 1, out=n)
    print(f"t: {t}")
    print(f"n: {n}")
    indptr = Tensor([0, 1, 2])
    indices = Tensor([0, 1])
    values = Tensor([1, 2], dtype=mindspore.float32)
    shape = (2, 4)
    csr_tensor = CSRTensor(indptr, indices, values, shape)
    print(csr_tensor.astype(mindspore.float64).dtype)
    indices = Tensor([[0, 1], [1, 2]], dtype=mindspore.int32)
    values = Tensor([1, 2], dtype=mindspore.float32)
    shape = (3, 4)
    coo_tensor = COOTensor(indices, values, shape)
    print(coo_tensor.values)
    print(coo_tensor.indices)
    print(coo_tensor.shape)
    print(coo_tensor.astype(mindspore.float64).dtype)  # COOTensor to float64
    published = "tensor1:\n [[1. 1.]\n [1. 1.]]\nOnes Tensor: \n [1 1 1 1] \n\nZeros Tensor: \n [0 0 0 0] \n\n" + """x_shape: (2, 2)
x_dtype: Int32
x_itemsize: 4
x_nbytes: 16
x_ndim: 2
x_size: 4
x_strides: (8, 4)
First row: [0. 1.]
value of bottom right corner: 3.0
Last column: [1. 3.]
First column: [0. 2.]
add: [5. 7. 9.]
sub: [-3. -3. -3.]
mul: [ 4. 10. 18.]
div: [4.  2.5 2. ]
mod: [0. 1. 0.]
floordiv: [4. 2. 2.]
[[0. 1.]
 [2. 3.]
 [4. 5.]
 [6. 7.]]
shape:
 (4, 2)
[[[0. 1.]
  [2. 3.]]

 [[4. 5.]
  [6. 7.]]]
shape:
 (2, 2, 2)
t: [1. 1. 1. 1. 1.]
n: [1. 1. 1. 1. 1.]
t: [2. 2. 2. 2. 2.]
n: [2. 2. 2. 2. 2.]
Float64
[1. 2.]
[[0 1]
 [1 2]]
(3, 4)
Float64
"""
    assert capsys.readouterr().out == published
    np.testing.assert_array_equal(x_np.asnumpy(), data)
    assert tensor2.shape == (2, 2) and tensor2.dtype == np.float32 and np.all(np.abs(tensor2.asnumpy()) < 0.1)


# -- model --------------------------------------------------------------------------------------------------------
def test_model_tutorial(capsys):
    model = Network()
    print(model)
    X = ops.ones((1, 28, 28), mindspore.float32)
    logits = model(X)
    pred_probab = nn.Softmax(axis=1)(logits)
    y_pred = pred_probab.argmax(1)
    print(f"Predicted class: {y_pred}")
    expected = numpy_network(model, np.ones((1, 28, 28)))
    np.testing.assert_allclose(logits.asnumpy(), expected, rtol=1e-4, atol=1e-6)
    probs = np.exp(expected) / np.exp(expected).sum(1, keepdims=True)
    np.testing.assert_allclose(pred_probab.asnumpy(), probs, rtol=1e-4)
    input_image = ops.ones((3, 28, 28), mindspore.float32)
    flatten = nn.Flatten()
    flat_image = flatten(input_image)
    print(flat_image.shape)
    layer1 = nn.Dense(in_channels=28*28, out_channels=20)
    hidden1 = layer1(flat_image)
    print(hidden1.shape)
    print(f"Before ReLU: {hidden1}\n\n")
    hidden1 = nn.ReLU()(hidden1)
    print(f"After ReLU: {hidden1}")
    seq_modules = nn.SequentialCell(flatten, layer1, nn.ReLU(), nn.Dense(20, 10))
    logits = seq_modules(input_image)
    print(logits.shape)
    softmax = nn.Softmax(axis=1)
    pred_probab = softmax(logits)
    print(f"Model structure: {model}\n\n")
    for name, param in model.parameters_and_names():
        print(f"Layer: {name}\nSize: {param.shape}\nValues : {param[:2]} \n")
    out = capsys.readouterr().out
    assert f"Predicted class: [{probs.argmax()}]" in out
    assert "(3, 784)\n(3, 20)\n" in out and "(3, 10)\n" in out
    assert "Layer: dense_relu_sequential.0.weight\nSize: (512, 784)\n" in out
    assert "Layer: dense_relu_sequential.4.bias\nSize: (10,)\n" in out
    np.testing.assert_allclose(pred_probab.asnumpy().sum(1), np.ones(3), rtol=1e-6)


# -- autograd -----------------------------------------------------------------------------------------------------
def test_autograd_tutorial():
    """The autograd tutorial is examples/seed_tutorial.py: its gradients, losses and logits against torch's."""
    tutorial = load_example("seed_tutorial")
    w, b = tutorial.w, tutorial.b
    loss = tutorial.function(tutorial.x, tutorial.y, w, b)

    tw = torch.tensor(w.asnumpy(), requires_grad=True)
    tb = torch.tensor(b.asnumpy(), requires_grad=True)
    tz = torch.ones(5) @ tw + tb
    tloss = torch.nn.functional.binary_cross_entropy_with_logits(tz, torch.zeros(3))
    tloss.backward()
    for got in (tutorial.grads, tutorial.grads_aux, tutorial.grads_stopped, tutorial.cell_grads):
        np.testing.assert_allclose(got[0].asnumpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(got[1].asnumpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-7)
    for value in (loss, tutorial.loss):
        np.testing.assert_allclose(value.asnumpy(), tloss.item(), rtol=1e-6)
    np.testing.assert_allclose(tutorial.z_aux.asnumpy(), tz.detach().numpy(), rtol=1e-6)
    # both outputs differentiated: z's sum adds one to each of its gradients (x is ones)
    np.testing.assert_allclose(tutorial.grads_tuple[0].asnumpy(), tw.grad.numpy() + 1, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(tutorial.grads_tuple[1].asnumpy(), tb.grad.numpy() + 1, rtol=1e-5, atol=1e-7)


# -- quick_start and train -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("jit_step", [False, True])
def test_quick_start_and_train_tutorials(jit_step, capsys):
    train_dataset, test_dataset = ArrayDataset(3, 16, seed=1), ArrayDataset(2, 16, seed=2)
    funcad.set_seed(0)
    model = Network()
    module = torch_network(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = nn.SGD(model.trainable_params(), 1e-2)
    train_step = ms.jit(quickstart.make_train_step(model, loss_fn, optimizer))
    if jit_step:
        train_step = mindspore.jit(train_step)

    def train(model, dataset):
        size = dataset.get_dataset_size()
        model.set_train()
        for batch, (data, label) in enumerate(dataset.create_tuple_iterator()):
            loss = train_step(data, label)
            if batch % 100 == 0:
                loss, current = loss.asnumpy(), batch
                print(f"loss: {loss:>7f}  [{current:>3d}/{size:>3d}]")

    def test(model, dataset, loss_fn):
        num_batches = dataset.get_dataset_size()
        model.set_train(False)
        total, test_loss, correct = 0, 0, 0
        for data, label in dataset.create_tuple_iterator():
            pred = model(data)
            total += len(data)
            test_loss += loss_fn(pred, label).asnumpy()
            correct += (pred.argmax(1) == label).asnumpy().sum()
        test_loss /= num_batches
        correct /= total
        print(f"Test: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")

    epochs = 2
    for t in range(epochs):
        print(f"Epoch {t+1}\n-------------------------------")
        train(model, train_dataset)
        test(model, test_dataset, loss_fn)
    print("Done!")

    torch_opt = torch.optim.SGD(module.parameters(), lr=1e-2)
    expected = []
    for _ in range(epochs):
        for i, (x, y) in enumerate(train_dataset.batches):
            torch_opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(module(torch.from_numpy(x)), torch.from_numpy(y).long())
            loss.backward()
            torch_opt.step()
            if i == 0:
                expected.append(f"loss: {loss.item():>7f}  [  0/  3]")
        with torch.no_grad():
            logits = [module(torch.from_numpy(x)) for x, _ in test_dataset.batches]
            labels = [torch.from_numpy(y).long() for _, y in test_dataset.batches]
            avg = np.mean([torch.nn.functional.cross_entropy(lg, lb).item() for lg, lb in zip(logits, labels)])
            acc = np.mean([(lg.argmax(1) == lb).float().mean().item() for lg, lb in zip(logits, labels)])
        expected.append(f"Test: \n Accuracy: {(100*acc):>0.1f}%, Avg loss: {avg:>8f} \n")
    lines = capsys.readouterr().out
    got_losses = [line for line in lines.splitlines() if line.startswith("loss:")]
    assert len(got_losses) == 2 and all(line.endswith("[  0/  3]") for line in got_losses)
    expected_losses = [float(e.split()[1]) for e in expected if e.startswith("loss")]
    np.testing.assert_allclose([float(line.split()[1]) for line in got_losses], expected_losses, rtol=1e-5)
    assert lines.endswith("Done!\n") and lines.count("Accuracy: ") == 2
    for p, q in zip(model.trainable_params(), module.parameters()):
        np.testing.assert_allclose(p.asnumpy(), q.detach().numpy(), rtol=1e-4, atol=1e-6)


# -- save_load ----------------------------------------------------------------------------------------------------
def test_save_load_tutorial(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    def network():
        model = nn.SequentialCell(
            nn.Flatten(),
            nn.Dense(28*28, 512),
            nn.ReLU(),
            nn.Dense(512, 512),
            nn.ReLU(),
            nn.Dense(512, 10))
        return model

    model = network()
    mindspore.save_checkpoint(model, "model.ckpt")
    saved = model
    model = network()
    param_dict = mindspore.load_checkpoint("model.ckpt")
    param_not_load, _ = mindspore.load_param_into_net(model, param_dict)
    print(param_not_load)
    model = network()
    inputs = Tensor(np.ones([1, 1, 28, 28]).astype(np.float32))
    mindspore.export(model, inputs, file_name="model", file_format="MINDIR")
    mindspore.set_context(mode=mindspore.GRAPH_MODE)
    graph = mindspore.load("model.mindir")
    model_graph = nn.GraphCell(graph)
    outputs = model_graph(inputs)
    print(outputs.shape)
    assert capsys.readouterr().out == "[]\n(1, 10)\n"
    for (name, p), (loaded_name, q) in zip(saved.parameters_and_names(), param_dict.items()):
        assert name == loaded_name
        np.testing.assert_array_equal(p.asnumpy(), q.asnumpy())
    w1, b1, w2, b2, w3, b3 = (p.asnumpy().astype(np.float64) for p in model.trainable_params())
    h = np.maximum(np.maximum(np.ones((1, 784)) @ w1.T + b1, 0) @ w2.T + b2, 0) @ w3.T + b3
    np.testing.assert_allclose(outputs.asnumpy(), h, rtol=1e-4, atol=1e-6)


# -- accelerate_with_static_graph -----------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["pynative", "graph_mode", "jit_function", "jit_call", "jit_construct"])
def test_accelerate_with_static_graph_tutorial(variant, recwarn):
    input = Tensor(np.ones([64, 1, 28, 28]).astype(np.float32))  # noqa: A001 - the tutorial's name
    ms.set_seed(7)
    if variant in ("pynative", "graph_mode"):
        ms.set_context(mode=ms.PYNATIVE_MODE if variant == "pynative" else ms.GRAPH_MODE)
        model = Network()
        output = model(input)
        expected = numpy_network(model, input.asnumpy())
    elif variant == "jit_construct":
        class JitNetwork(Network):
            @ms.jit
            def construct(self, x):
                x = self.flatten(x)
                logits = self.dense_relu_sequential(x)
                return logits

        model = JitNetwork()
        output = model(input)
        expected = numpy_network(model, input.asnumpy())
    else:
        def run(x):
            model = Network()
            return model(x)

        run_with_jit = ms.jit(run)
        output = run_with_jit(input)
        ms.set_seed(7)
        expected = numpy_network(Network(), input.asnumpy())  # the same draws, made eagerly
    assert output.shape == (64, 10)
    np.testing.assert_allclose(output.asnumpy(), expected, rtol=1e-4, atol=1e-6)
    # identical input rows give identical output rows, up to a few float32 ulps: BLAS may run tail rows through
    # another kernel (seen with OpenBLAS on some CPUs)
    values = output.asnumpy()
    ulps = 4 * np.finfo(np.float32).eps * np.abs(values).max()
    np.testing.assert_allclose(values, np.broadcast_to(values[:1], (64, 10)), rtol=0, atol=ulps)


# -- mixed_precision ----------------------------------------------------------------------------------------------
def test_mixed_precision_tutorial_cell_and_custom_granularity():
    class NetworkFP16(nn.Cell):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.dense_relu_sequential = nn.SequentialCell(
                nn.Dense(28*28, 512).to_float(ms.float16),
                nn.ReLU(),
                nn.Dense(512, 512).to_float(ms.float16),
                nn.ReLU(),
                nn.Dense(512, 10).to_float(ms.float16)
            )

        def construct(self, x):
            x = self.flatten(x)
            logits = self.dense_relu_sequential(x)
            return logits

    class NetworkFP16Manual(Network):  # the tutorial repeats Network's __init__: only construct differs
        def construct(self, x):
            x = self.flatten(x)
            x = x.astype(ms.float16)
            logits = self.dense_relu_sequential(x)
            logits = logits.astype(ms.float32)
            return logits

    x = Tensor(ArrayDataset(1, 8).batches[0][0])
    from funcad.amp import auto_mixed_precision

    for make in (NetworkFP16, NetworkFP16Manual, lambda: auto_mixed_precision(Network(), "O2")):
        ms.set_seed(3)
        model = make()
        out = model(x)
        reference = numpy_network(model, x.asnumpy())
        assert all(p.dtype == np.float32 for p in model.trainable_params())
        np.testing.assert_allclose(out.asnumpy().astype(np.float64), reference, rtol=0, atol=3e-2)  # float16 rounding


def test_mixed_precision_tutorial_loss_scaling_loop(capsys):
    from funcad.amp import DynamicLossScaler, auto_mixed_precision

    train_dataset = ArrayDataset(3, 16, seed=4)
    ms.set_seed(5)
    model = Network()
    reference = Network()
    funcad.load_param_into_net(reference, dict(model.parameters_and_names()))
    model = auto_mixed_precision(model, 'O2')
    loss_fn = nn.CrossEntropyLoss()
    optimizer = nn.SGD(model.trainable_params(), 1e-2)
    loss_scaler = DynamicLossScaler(scale_value=2**16, scale_factor=2, scale_window=50)
    train_step = ms.jit(mixed_precision_train_step(model, loss_fn, optimizer, loss_scaler))

    size = train_dataset.get_dataset_size()
    model.set_train()
    losses = []
    for batch, (data, label) in enumerate(train_dataset.create_tuple_iterator()):
        loss = train_step(data, label)
        losses.append(float(loss.asnumpy()))
        if batch % 100 == 0:
            loss, current = loss.asnumpy(), batch
            print(f"loss: {loss:>7f}  [{current:>3d}/{size:>3d}]")
    assert capsys.readouterr().out.endswith("[  0/  3]\n")
    # the same steps in float32 without scaling give the same losses up to float16 rounding
    ref_opt = nn.SGD(reference.trainable_params(), 1e-2)
    ref_grad = ms.value_and_grad(lambda d, l: loss_fn(reference(d), l), None, ref_opt.parameters)
    ref_losses = []
    for data, label in train_dataset.create_tuple_iterator():
        loss, grads = ref_grad(data, label)
        ref_opt(grads)
        ref_losses.append(float(loss.asnumpy()))
    np.testing.assert_allclose(losses, ref_losses, rtol=2e-3)
    assert loss_scaler.scale_value.item() == 2**16  # every step was finite; the window was not reached
    assert train_step.trace_count == 1  # `if is_finite:` was guarded: one program, for the finite branch


def test_mixed_precision_tutorial_build_train_network_and_model():
    from funcad.amp import FixedLossScaleManager, build_train_network
    from funcad.train import LossMonitor, Model

    train_dataset = ArrayDataset(3, 16, seed=6)
    ms.set_seed(8)
    model = Network()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = nn.SGD(model.trainable_params(), 1e-2)
    loss_scale_manager = FixedLossScaleManager()
    model = build_train_network(model, optimizer, loss_fn, level="O2", loss_scale_manager=loss_scale_manager)
    loss, overflow, scale = model(*next(train_dataset.create_tuple_iterator()))
    assert overflow.item() is False and scale.item() == 128.0 and np.isfinite(loss.item())

    def trained(amp):
        ms.set_seed(9)
        model = Network()
        loss_fn = nn.CrossEntropyLoss()
        optimizer = nn.SGD(model.trainable_params(), 1e-2)
        if amp:
            loss_scale_manager = FixedLossScaleManager()
            trainer = Model(model, loss_fn=loss_fn, optimizer=optimizer, metrics={'accuracy'}, amp_level="O2",
                            loss_scale_manager=loss_scale_manager)
        else:
            trainer = Model(model, loss_fn=loss_fn, optimizer=optimizer, metrics={'accuracy'})
        loss_callback = LossMonitor(100)
        trainer.train(10, train_dataset, callbacks=[loss_callback])
        return model, trainer

    model, trainer = trained(True)
    reference, _ = trained(False)
    assert all(p.dtype == np.float32 for p in model.trainable_params())
    for p, q in zip(model.trainable_params(), reference.trainable_params()):
        np.testing.assert_allclose(p.asnumpy(), q.asnumpy(), rtol=0, atol=2e-3)  # float16 compute, float32 updates
    right = sum(int(np.sum(numpy_network(model, x).argmax(1) == y)) for x, y in train_dataset.batches)
    assert abs(trainer.eval(train_dataset)["accuracy"] - right / 48) <= 1 / 48  # float16 may flip a near tie
