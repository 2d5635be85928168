"""Training programs written the way MindSpore's model zoo writes them (official/cv/lenet, resnet, mobilenetv2,
nlp/bert, and custom training cells and optimizers of research/), with ``mindspore`` replaced by ``funcad`` and the
datasets by small synthetic arrays. Each runs a few steps and checks losses, weights and learning rates against the
same network trained in torch (float32, from the same initial weights and batches), numpy, or the formulas
MindSpore's documentation gives.
"""
# ruff: noqa: UP008, UP031 - the programs keep the model zoo's super(Class, self) and %-formatting as written


from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from funcad.nn.loss.loss import LossBase
from funcad.train.loss_scale_manager import FixedLossScaleManager

import funcad as ms
import funcad.dataset as ds
import funcad.dataset.transforms as C
import funcad.dataset.vision as CV
import funcad.ops.functional as F
import funcad.ops.operations as P
from funcad import Parameter, Tensor, context, nn, ops
from funcad.common import dtype as mstype
from funcad.common.initializer import Normal
from funcad.nn.metrics import Accuracy
from funcad.train import CheckpointConfig, LossMonitor, Model, ModelCheckpoint, TimeMonitor


def _copy_into_torch(net: nn.Cell, module: torch.nn.Module) -> None:
    """funcad's parameters (then BatchNorm moving statistics) into ``module``'s, in definition order."""
    params = list(module.parameters())
    assert len(params) == len(net.trainable_params())
    buffers = [b for name, b in module.named_buffers() if not name.endswith("num_batches_tracked")]
    stats = [p for p in net.get_parameters() if not p.requires_grad]
    with torch.no_grad():
        for dst, src in zip(params + buffers, list(net.trainable_params()) + stats):
            assert tuple(dst.shape) == src.shape, (dst.shape, src.name)
            dst.copy_(torch.from_numpy(src.asnumpy()))


def _torch_momentum_steps(module, loss_fn, batches, rates, momentum, weight_decay=None):
    """The losses of torch SGD with momentum over ``batches``, the rate of step i being ``rates[i]``; weight_decay
    maps a parameter index to its decay (MindSpore's parameter groups)."""
    decay = weight_decay or {}
    groups = [{"params": [p], "weight_decay": decay.get(i, 0.0)} for i, p in enumerate(module.parameters())]
    opt = torch.optim.SGD(groups, lr=rates[0], momentum=momentum)
    losses = []
    for step, (x, y) in enumerate(batches):
        for group in opt.param_groups:
            group["lr"] = float(rates[step])
        opt.zero_grad()
        loss = loss_fn(module(torch.from_numpy(np.asarray(x))), torch.from_numpy(np.asarray(y)).long())
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


# -- 1. official/cv/lenet: dataset pipeline, Model with Momentum, TimeMonitor, ModelCheckpoint, LossMonitor, eval --
class LeNet5(nn.Cell):
    """official/cv/lenet/src/lenet.py."""

    def __init__(self, num_class=10, num_channel=1, include_top=True):
        super(LeNet5, self).__init__()
        self.conv1 = nn.Conv2d(num_channel, 6, 5, pad_mode='valid')
        self.conv2 = nn.Conv2d(6, 16, 5, pad_mode='valid')
        self.relu = nn.ReLU()
        self.max_pool2d = nn.MaxPool2d(kernel_size=2, stride=2)
        self.include_top = include_top
        if self.include_top:
            self.flatten = nn.Flatten()
            self.fc1 = nn.Dense(16 * 5 * 5, 120, weight_init=Normal(0.02))
            self.fc2 = nn.Dense(120, 84, weight_init=Normal(0.02))
            self.fc3 = nn.Dense(84, num_class, weight_init=Normal(0.02))

    def construct(self, x):
        x = self.conv1(x)
        x = self.relu(x)
        x = self.max_pool2d(x)
        x = self.conv2(x)
        x = self.relu(x)
        x = self.max_pool2d(x)
        if not self.include_top:
            return x
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def torch_lenet():
    """LeNet5 in torch (MindSpore's Conv2d has no bias by default)."""
    return torch.nn.Sequential(torch.nn.Conv2d(1, 6, 5, bias=False), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(6, 16, 5, bias=False),
                               torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(400, 120), torch.nn.ReLU(),
                               torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))


def mnist_like(n, seed):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 256, (28, 28, 1)).astype(np.uint8), np.int64(rng.integers(0, 10))) for _ in range(n)]


def create_dataset(rows, batch_size=32, repeat_size=1, num_parallel_workers=1):
    """official/cv/lenet/src/dataset.py's create_dataset, over a list of (image, label) rows instead of MNIST files."""
    mnist_ds = ds.GeneratorDataset(rows, ["image", "label"], shuffle=False)
    resize_height, resize_width = 32, 32
    rescale = 1.0 / 255.0
    shift = 0.0
    rescale_nml = 1 / 0.3081
    shift_nml = -1 * 0.1307 / 0.3081

    resize_op = CV.Resize((resize_height, resize_width), interpolation=CV.Inter.LINEAR)
    rescale_nml_op = CV.Rescale(rescale_nml, shift_nml)
    rescale_op = CV.Rescale(rescale, shift)
    hwc2chw_op = CV.HWC2CHW()
    type_cast_op = C.TypeCast(mstype.int32)

    mnist_ds = mnist_ds.map(operations=type_cast_op, input_columns="label", num_parallel_workers=num_parallel_workers)
    mnist_ds = mnist_ds.map(operations=resize_op, input_columns="image", num_parallel_workers=num_parallel_workers)
    mnist_ds = mnist_ds.map(operations=rescale_op, input_columns="image", num_parallel_workers=num_parallel_workers)
    mnist_ds = mnist_ds.map(operations=rescale_nml_op, input_columns="image", num_parallel_workers=num_parallel_workers)
    mnist_ds = mnist_ds.map(operations=hwc2chw_op, input_columns="image", num_parallel_workers=num_parallel_workers)
    mnist_ds = mnist_ds.batch(batch_size, drop_remainder=True)
    mnist_ds = mnist_ds.repeat(repeat_size)
    return mnist_ds


def train_lenet(ckpt_save_dir, epoch_size=2):
    """official/cv/lenet/train.py."""
    context.set_context(mode=context.GRAPH_MODE, device_target="CPU")
    ds_train = create_dataset(mnist_like(10, 0), batch_size=4)
    network = LeNet5(10)
    initial = {name: p.asnumpy().copy() for name, p in network.parameters_and_names()}
    net_loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    net_opt = nn.Momentum(network.trainable_params(), 0.01, 0.9)
    time_cb = TimeMonitor(data_size=ds_train.get_dataset_size())
    config_ck = CheckpointConfig(save_checkpoint_steps=2, keep_checkpoint_max=10)
    ckpoint_cb = ModelCheckpoint(prefix="checkpoint_lenet", directory=ckpt_save_dir, config=config_ck)
    model = Model(network, net_loss, net_opt, metrics={"Accuracy": Accuracy()})
    model.train(epoch_size, ds_train, callbacks=[time_cb, ckpoint_cb, LossMonitor()], dataset_sink_mode=False)
    return network, initial, ds_train


def eval_lenet(ckpt_path, ds_eval):
    """official/cv/lenet/eval.py."""
    network = LeNet5(10)
    net_loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    model = Model(network, net_loss, metrics={"Accuracy": Accuracy()})
    param_dict = ms.load_checkpoint(ckpt_path)
    not_loaded = ms.load_param_into_net(network, param_dict, strict_load=True)
    acc = model.eval(ds_eval, dataset_sink_mode=False)
    return network, not_loaded, acc


def test_lenet_train_and_eval_as_the_model_zoo_writes_them(tmp_path, capsys):
    try:
        network, initial, ds_train = train_lenet(str(tmp_path))
        printed = capsys.readouterr().out
        ds_eval = create_dataset(mnist_like(8, 3), batch_size=4)
        restored, not_loaded, acc = eval_lenet(os.path.join(str(tmp_path), "checkpoint_lenet-2_2.ckpt"), ds_eval)
    finally:
        context.set_context(mode=context.PYNATIVE_MODE)
    assert ds_train.get_dataset_size() == 2  # 10 rows, batches of 4, the remainder dropped
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_lenet-1_2.ckpt", "checkpoint_lenet-2_2.ckpt"]
    # the pipeline's batches: resized, rescaled twice, CHW, int32 labels
    batches = [(b["image"], b["label"]) for b in ds_train.create_dict_iterator(output_numpy=True)]
    rows = mnist_like(10, 0)
    first = CV.Resize((32, 32))(rows[0][0]).astype(np.float32)
    np.testing.assert_allclose(batches[0][0][0, 0], (first[:, :, 0] / 255.0 - 0.1307) / 0.3081, rtol=1e-5, atol=1e-5)
    assert batches[0][0].shape == (4, 1, 32, 32) and batches[0][1].dtype == np.int32
    np.testing.assert_array_equal(batches[1][1], [r[1] for r in rows[4:8]])
    # torch, from the same weights, over the same batches twice
    module = torch_lenet()
    fresh = LeNet5(10)
    for name, p in fresh.parameters_and_names():
        p.set_data(initial[name])
    _copy_into_torch(fresh, module)
    want = _torch_momentum_steps(module, torch.nn.functional.cross_entropy, batches * 2, [0.01] * 4, 0.9)
    got = [float(line.rsplit(" ", 1)[1]) for line in printed.splitlines() if "loss is" in line]
    np.testing.assert_allclose(got, want, rtol=2e-5)
    assert printed.count("Train epoch time:") == 2 and "per step time:" in printed
    for p, q in zip(network.trainable_params(), module.parameters()):
        np.testing.assert_allclose(p.asnumpy(), q.detach().numpy(), rtol=1e-4, atol=1e-6)
    # eval.py: strict_load loads every name of the net; the file's optimizer state is reported, not refused
    assert not_loaded[0] == [] and set(not_loaded[1]) == {"global_step", "learning_rate"} | {f"moments.{p.name}" for p in network.trainable_params()}
    for p, q in zip(restored.trainable_params(), network.trainable_params()):
        np.testing.assert_array_equal(p.asnumpy(), q.asnumpy())
    images, labels = zip(*[(b["image"], b["label"]) for b in ds_eval.create_dict_iterator(output_numpy=True)])
    with torch.no_grad():
        predicted = module(torch.from_numpy(np.concatenate(images))).argmax(1).numpy()
    assert acc == {"Accuracy": pytest.approx(np.mean(predicted == np.concatenate(labels)))}


# -- 2. official/cv/resnet: lr generator, parameter groups, loss scale, label smoothing, custom loss callback -----
def _generate_cosine_lr(lr_init, lr_end, lr_max, total_steps, warmup_steps):
    """official/cv/resnet/src/lr_generator.py's 'cosine' mode."""
    decay_steps = total_steps - warmup_steps
    lr_each_step = []
    for i in range(total_steps):
        if i < warmup_steps:
            lr_inc = (float(lr_max) - float(lr_init)) / float(warmup_steps)
            lr = float(lr_init) + lr_inc * (i + 1)
        else:
            linear_decay = (total_steps - i) / decay_steps
            cosine_decay = 0.5 * (1 + math.cos(math.pi * 2 * 0.47 * i / decay_steps))
            decayed = linear_decay * cosine_decay + 0.00001
            lr = lr_max * decayed
        lr_each_step.append(lr)
    return np.array(lr_each_step).astype(np.float32)


class CrossEntropySmooth(LossBase):
    """official/cv/resnet/src/CrossEntropySmooth.py."""

    def __init__(self, sparse=True, reduction='mean', smooth_factor=0., num_classes=1000):
        super(CrossEntropySmooth, self).__init__()
        self.onehot = P.OneHot()
        self.sparse = sparse
        self.on_value = Tensor(1.0 - smooth_factor, mstype.float32)
        self.off_value = Tensor(1.0 * smooth_factor / (num_classes - 1), mstype.float32)
        self.ce = nn.SoftmaxCrossEntropyWithLogits(reduction=reduction)

    def construct(self, logit, label):
        if self.sparse:
            label = self.onehot(label, F.shape(logit)[1], self.on_value, self.off_value)
        loss = self.ce(logit, label)
        return loss


class ResidualBlock(nn.Cell):
    def __init__(self, channel):
        super().__init__()
        self.conv1 = nn.Conv2d(channel, channel, 3, stride=1, pad_mode='pad', padding=1, has_bias=False)
        self.bn1 = nn.BatchNorm2d(channel)
        self.conv2 = nn.Conv2d(channel, channel, 3, stride=1, pad_mode='same', has_bias=False)
        self.bn2 = nn.BatchNorm2d(channel)
        self.relu = nn.ReLU()
        self.add = P.Add()

    def construct(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(self.add(out, identity))


class TinyResNet(nn.Cell):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, stride=2, pad_mode='pad', padding=1, has_bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = P.ReLU()
        self.layer1 = nn.SequentialCell([ResidualBlock(8)])
        self.mean = P.ReduceMean(keep_dims=True)
        self.flatten = nn.Flatten()
        self.end_point = nn.Dense(8, num_classes, has_bias=True)

    def construct(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        out = self.mean(x, (2, 3))
        out = self.flatten(out)
        return self.end_point(out)


class TorchResNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = torch.nn.Conv2d(3, 8, 3, 2, 1, bias=False), torch.nn.BatchNorm2d(8)
        self.c1, self.b1 = torch.nn.Conv2d(8, 8, 3, 1, 1, bias=False), torch.nn.BatchNorm2d(8)
        self.c2, self.b2 = torch.nn.Conv2d(8, 8, 3, 1, 1, bias=False), torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.b2(self.c2(torch.relu(self.b1(self.c1(x))))) + x)
        return self.fc(x.mean((2, 3)))


class LossCallBack(LossMonitor):
    """official/cv/resnet/train.py's callback: a LossMonitor whose step_end is replaced."""

    def __init__(self, has_trained_epoch=0):
        super(LossCallBack, self).__init__()
        self.has_trained_epoch = has_trained_epoch
        self.losses = []

    def step_end(self, run_context):
        cb_params = run_context.original_args()
        loss = cb_params.net_outputs
        if isinstance(loss, (tuple, list)):
            if isinstance(loss[0], Tensor) and isinstance(loss[0].asnumpy(), np.ndarray):
                loss = loss[0]
        if isinstance(loss, Tensor) and isinstance(loss.asnumpy(), np.ndarray):
            loss = np.mean(loss.asnumpy())
        cur_step_in_epoch = (cb_params.cur_step_num - 1) % cb_params.batch_num + 1
        self.losses.append(float(loss))
        print("epoch: %s step: %s, loss is %s" % (cb_params.cur_epoch_num + int(self.has_trained_epoch), cur_step_in_epoch, loss),
              flush=True)


def train_resnet(dataset, epoch_size=2, loss_scale_value=1024.0):
    """official/cv/resnet/train.py, cut to what a small net needs."""
    net = TinyResNet(10)
    initial = {name: p.asnumpy().copy() for name, p in net.parameters_and_names()}
    step_size = len(dataset)
    lr = Tensor(_generate_cosine_lr(0, 0, 0.1, epoch_size * step_size, 2))
    decayed_params = []
    no_decayed_params = []
    for param in net.trainable_params():
        if 'beta' not in param.name and 'gamma' not in param.name and 'bias' not in param.name:
            decayed_params.append(param)
        else:
            no_decayed_params.append(param)
    group_params = [{'params': decayed_params, 'weight_decay': 1e-4},
                    {'params': no_decayed_params},
                    {'order_params': net.trainable_params()}]
    opt = nn.Momentum(group_params, lr, 0.9, loss_scale=loss_scale_value)
    loss = CrossEntropySmooth(sparse=True, reduction="mean", smooth_factor=0.1, num_classes=10)
    loss_scale = FixedLossScaleManager(loss_scale_value, drop_overflow_update=False)
    model = Model(net, loss_fn=loss, optimizer=opt, loss_scale_manager=loss_scale, metrics={'top_1_accuracy', 'top_5_accuracy'},
                  amp_level="O0", keep_batchnorm_fp32=False)
    loss_cb = LossCallBack(0)
    model.train(epoch_size, dataset, callbacks=[TimeMonitor(data_size=step_size), loss_cb], sink_size=step_size,
                dataset_sink_mode=False)
    return net, initial, model, loss_cb.losses, lr


def test_resnet_train_with_a_fixed_loss_scale_the_optimizer_divides_and_parameter_groups(capsys):
    """FixedLossScaleManager(scale, drop_overflow_update=False) with Momentum(loss_scale=scale): the gradients were
    divided by the scale twice (steps 1024 times too small); and LossCallBack's step_end was never called."""
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((4, 3, 8, 8)).astype(np.float32), rng.integers(0, 10, 4).astype(np.int32)) for _ in range(3)]
    ms.set_seed(1)
    net, initial, model, losses, lr = train_resnet(data)
    printed = capsys.readouterr().out
    assert printed.count("loss is") == 6  # the subclass's step_end, in place of LossMonitor's
    np.testing.assert_allclose(lr.asnumpy()[:3], [0.05, 0.1, 0.1 * (0.5 * (1 + math.cos(math.pi * 0.94 * 2 / 4)) + 1e-5)], rtol=1e-6)
    fresh = TinyResNet(10)
    for name, p in fresh.parameters_and_names():
        p.set_data(initial[name])
    module = TorchResNet()
    _copy_into_torch(fresh, module)

    def smooth_ce(logits, labels):
        target = torch.full_like(logits, 0.1 / 9).scatter_(1, labels[:, None], 0.9)
        return -(target * torch.log_softmax(logits, 1)).sum(1).mean()

    names = [p.name for p in net.trainable_params()]
    decay = {i: 1e-4 for i, n in enumerate(names) if not any(k in n for k in ("beta", "gamma", "bias"))}
    assert len(decay) == 4  # the three convolutions and the Dense weight
    want = _torch_momentum_steps(module, smooth_ce, data * 2, lr.asnumpy(), 0.9, decay)
    np.testing.assert_allclose(losses, want, rtol=1e-5)
    for p, q in zip(net.trainable_params(), module.parameters()):
        np.testing.assert_allclose(p.asnumpy(), q.detach().numpy(), rtol=1e-4, atol=1e-6, err_msg=p.name)
    # eval: top-1 / top-5 accuracy of the network in inference mode (moving statistics)
    results = model.eval(data)
    _copy_into_torch(net, module)
    module.eval()
    with torch.no_grad():
        logits = module(torch.from_numpy(np.concatenate([x for x, _ in data]))).numpy()
    labels = np.concatenate([y for _, y in data])
    ranks = (logits > logits[np.arange(len(labels)), labels][:, None]).sum(1)
    assert results == {"top_1_accuracy": pytest.approx(np.mean(ranks < 1)), "top_5_accuracy": pytest.approx(np.mean(ranks < 5))}


# -- 3. learning rates: the dynamic-lr functions (MindSpore's documented examples) and lists as an optimizer's rate --
def test_dynamic_lr_functions_print_mindspore_s_documented_examples():
    assert nn.cosine_decay_lr(0.01, 0.1, 6, 2, 2) == [0.1, 0.1, 0.05500000000000001, 0.05500000000000001, 0.01, 0.01]
    assert nn.piecewise_constant_lr([2, 5, 10], [0.1, 0.05, 0.01]) == [0.1, 0.1, 0.05, 0.05, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01]
    assert nn.exponential_decay_lr(0.1, 0.9, 6, 2, 1) == [0.1, 0.1, 0.09000000000000001, 0.09000000000000001,
                                                          0.08100000000000002, 0.08100000000000002]
    assert nn.warmup_lr(0.1, 6, 2, 2) == [0.0, 0.0, 0.05, 0.05, 0.1, 0.1]
    assert nn.natural_exp_decay_lr(0.1, 0.9, 6, 2, 2, True) == [0.1, 0.1, 0.1, 0.1, 0.016529888822158657, 0.016529888822158657]
    assert nn.inverse_decay_lr(0.1, 0.5, 6, 1, 1) == [0.1, 0.06666666666666667, 0.05, 0.04, 0.03333333333333333, 0.028571428571428574]
    assert nn.polynomial_decay_lr(0.1, 0.01, 6, 2, 2, 0.5) == [0.1, 0.1, 0.07363961030678928, 0.07363961030678928, 0.01, 0.01]


def test_a_warmup_then_cosine_list_drives_momentum_step_by_step_in_model_train():
    """research/ scripts concatenate nn.warmup_lr and nn.cosine_decay_lr lists and hand Tensor(lr) to Momentum."""
    rng = np.random.default_rng(4)
    data = [(rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)) for _ in range(2)]
    lr = nn.warmup_lr(0.1, 4, 2, 2) + nn.cosine_decay_lr(0.001, 0.1, 4, 2, 2)
    ms.set_seed(3)
    net = nn.Dense(3, 1)
    w, b = (p.asnumpy().astype(np.float64) for p in net.trainable_params())
    opt = nn.Momentum(net.trainable_params(), learning_rate=Tensor(np.array(lr, np.float32)), momentum=0.9)
    Model(net, nn.MSELoss(), opt).train(4, ds.GeneratorDataset(data, ["x", "y"], shuffle=False), dataset_sink_mode=False)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for step, (x, y) in enumerate(data * 4):
        err = 2.0 * (x @ w.T + b - y) / len(y)
        vw, vb = 0.9 * vw + err.T @ x, 0.9 * vb + err.sum(0)
        w, b = w - np.float32(lr[step]) * vw, b - np.float32(lr[step]) * vb
    np.testing.assert_allclose(net.weight.asnumpy(), w, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(net.bias.asnumpy(), b, rtol=1e-5, atol=1e-7)
    assert int(opt.global_step) == 8


# -- 4. official/nlp/bert: a LearningRateSchedule subclass, AdamWeightDecay groups, a loss-scaled training cell with
#       MultitypeFuncGraph gradient scaling and clipping mapped by HyperMap over F.partial ---------------------------
class BertLearningRate(nn.learning_rate_schedule.LearningRateSchedule):
    """official/nlp/bert/src/utils.py: warm-up, then polynomial decay (built from (1,)-shaped Tensors)."""

    def __init__(self, learning_rate, end_learning_rate, warmup_steps, decay_steps, power):
        super(BertLearningRate, self).__init__()
        self.warmup_flag = False
        if warmup_steps > 0:
            self.warmup_flag = True
            self.warmup_lr = nn.WarmUpLR(learning_rate, warmup_steps)
        self.decay_lr = nn.PolynomialDecayLR(learning_rate, end_learning_rate, decay_steps, power)
        self.warmup_steps = Tensor(np.array([warmup_steps]).astype(np.float32))
        self.greater = P.Greater()
        self.one = Tensor(np.array([1.0]).astype(np.float32))
        self.cast = P.Cast()

    def construct(self, global_step):
        decay_lr = self.decay_lr(global_step)
        if self.warmup_flag:
            is_warmup = self.cast(self.greater(self.warmup_steps, global_step), mstype.float32)
            warmup_lr = self.warmup_lr(global_step)
            lr = (self.one - is_warmup) * decay_lr + is_warmup * warmup_lr
        else:
            lr = decay_lr
        return lr


GRADIENT_CLIP_TYPE = 1
GRADIENT_CLIP_VALUE = 1.0
clip_grad = ms.ops.composite.MultitypeFuncGraph("clip_grad")


@clip_grad.register("Number", "Number", "Tensor")
def _clip_grad(clip_type, clip_value, grad):
    if clip_type not in (0, 1):
        return grad
    dt = F.dtype(grad)
    if clip_type == 0:
        new_grad = ms.ops.composite.clip_by_value(grad, F.cast(F.tuple_to_array((-clip_value,)), dt),
                                                  F.cast(F.tuple_to_array((clip_value,)), dt))
    else:
        new_grad = nn.ClipByNorm()(grad, F.cast(F.tuple_to_array((clip_value,)), dt))
    return new_grad


grad_scale = ms.ops.composite.MultitypeFuncGraph("grad_scale")
reciprocal = P.Reciprocal()


@grad_scale.register("Tensor", "Tensor")
def tensor_grad_scale(scale, grad):
    return grad * reciprocal(scale)


_grad_overflow = ms.ops.composite.MultitypeFuncGraph("_grad_overflow")
grad_overflow = P.FloatStatus()


@_grad_overflow.register("Tensor")
def _tensor_grad_overflow(grad):
    return grad_overflow(grad)


class BertTrainOneStepWithLossScaleCell(nn.TrainOneStepWithLossScaleCell):
    """official/nlp/bert/src/bert_for_pre_training.py, its inputs cut to (x, y)."""

    def __init__(self, network, optimizer, scale_update_cell=None):
        super(BertTrainOneStepWithLossScaleCell, self).__init__(network, optimizer, scale_update_cell)
        self.cast = P.Cast()
        self.degree = 1
        if self.reducer_flag:
            self.degree = ms.communication.get_group_size()
            self.grad_reducer = nn.DistributedGradReducer(optimizer.parameters, False, self.degree)
        self.loss_scale = None
        self.loss_scaling_manager = scale_update_cell
        if scale_update_cell:
            self.loss_scale = Parameter(Tensor(scale_update_cell.get_loss_scale(), dtype=mstype.float32))

    def construct(self, x, y, sens=None):
        weights = self.weights
        loss = self.network(x, y)
        if sens is None:
            scaling_sens = self.loss_scale
        else:
            scaling_sens = sens
        status, scaling_sens = self.start_overflow_check(loss, scaling_sens)
        grads = self.grad(self.network, weights)(x, y, self.cast(scaling_sens, mstype.float32))
        grads = self.grad_reducer(grads)
        degree_sens = self.cast(scaling_sens * self.degree, mstype.float32)
        grads = self.hyper_map(F.partial(grad_scale, degree_sens), grads)
        grads = self.hyper_map(F.partial(clip_grad, GRADIENT_CLIP_TYPE, GRADIENT_CLIP_VALUE), grads)
        cond = self.get_overflow_status(status, grads)
        overflow = cond
        if sens is None:
            overflow = self.loss_scaling_manager(self.loss_scale, cond)
        if not overflow:
            self.optimizer(grads)
        return (loss, cond, scaling_sens)


class BertLikeWithLoss(nn.Cell):
    def __init__(self):
        super().__init__()
        self.dense = nn.Dense(3, 4)
        self.layernorm = nn.LayerNorm((4,))
        self.loss = nn.MSELoss()

    def construct(self, x, y):
        return self.loss(self.layernorm(self.dense(x)), y)


def bert_optimizer(net, schedule):
    """official/nlp/bert/run_pretrain.py's AdamWeightDecay: no decay for LayerNorm and biases."""
    params = net.trainable_params()
    decay_params = list(filter(lambda x: 'layernorm' not in x.name.lower() and 'bias' not in x.name.lower(), params))
    other_params = list(filter(lambda x: not ('layernorm' not in x.name.lower() and 'bias' not in x.name.lower()), params))
    group_params = [{'params': decay_params, 'weight_decay': 0.01},
                    {'params': other_params, 'weight_decay': 0.0},
                    {'order_params': params}]
    return nn.AdamWeightDecay(group_params, learning_rate=schedule, eps=1e-6)


@pytest.mark.parametrize("mode", ["PYNATIVE_MODE", "GRAPH_MODE"])
def test_bert_loss_scaled_training_cell_with_hyper_map_clipping_and_its_lr_schedule(mode):
    """The (1,)-shaped learning rate was refused, TrainOneStepWithLossScaleCell had no hyper_map, P.FloatStatus,
    F.tuple_to_array and C.clip_by_value were missing, and DynamicLossScaleUpdateCell could not be called as
    MindSpore's Cell (scale Parameter, overflow)."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((6, 3)).astype(np.float32), rng.standard_normal((6, 4)).astype(np.float32)
    ms.set_seed(2)
    net = BertLikeWithLoss()
    start = [p.asnumpy().astype(np.float64) for p in net.trainable_params()]
    schedule = BertLearningRate(0.05, 0.001, 2, 5, 1.0)
    update_cell = nn.DynamicLossScaleUpdateCell(loss_scale_value=2.0**16, scale_factor=2, scale_window=2)
    step = BertTrainOneStepWithLossScaleCell(net, bert_optimizer(net, schedule), update_cell)
    context.set_context(mode=getattr(context, mode))
    try:
        outputs = [step(Tensor(x), Tensor(y)) for _ in range(4)]
        scales = [float(step.loss_scale)]
        before = [p.asnumpy().copy() for p in net.trainable_params()]
        with np.errstate(invalid="ignore"):
            _, overflow, _ = step(Tensor(np.full_like(x, np.inf)), Tensor(y))
        scales.append(float(step.loss_scale))
    finally:
        context.set_context(mode=context.PYNATIVE_MODE)
    assert [bool(o[1]) for o in outputs] == [False] * 4 and bool(overflow)
    assert scales == [2.0**18, 2.0**17]  # doubled after each 2 finite steps, halved by the overflow
    for p, b in zip(net.trainable_params(), before):
        np.testing.assert_array_equal(p.asnumpy(), b)  # the overflowing step changed nothing
    # the schedule's closed form: warm-up lr * step / 2, then (lr - end) * (1 - step / 5) + end
    rates = [0.05 * s / 2 if s < 2 else (0.05 - 0.001) * (1 - min(s, 5) / 5) + 0.001 for s in range(4)]
    np.testing.assert_allclose([float(schedule(Tensor(np.int32(s))).asnumpy()[0]) for s in range(4)], rates, rtol=1e-6)
    # torch gradients (float64), each clipped to norm 1, then MindSpore's AdamWeightDecay (no bias correction)
    dense, norm = torch.nn.Linear(3, 4).double(), torch.nn.LayerNorm(4, eps=1e-7).double()
    params = [dense.weight, dense.bias, norm.weight, norm.bias]
    with torch.no_grad():
        for q, s in zip(params, start):
            q.copy_(torch.from_numpy(s))
    m, v = [np.zeros_like(s) for s in start], [np.zeros_like(s) for s in start]
    for s in range(4):
        loss = torch.nn.functional.mse_loss(norm(dense(torch.from_numpy(x).double())), torch.from_numpy(y).double())
        grads = torch.autograd.grad(loss, params)
        np.testing.assert_allclose(float(outputs[s][0]), loss.item(), rtol=1e-5)
        with torch.no_grad():
            for i, (q, g) in enumerate(zip(params, grads)):
                g = g.numpy() / max(np.linalg.norm(g.numpy()), 1.0)
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                update = m[i] / (np.sqrt(v[i]) + 1e-6) + (0.01 * q.numpy() if i == 0 else 0.0)
                q -= torch.from_numpy(rates[s] * update)
    for p, q in zip(net.trainable_params(), params):
        np.testing.assert_allclose(p.asnumpy(), q.detach().numpy(), rtol=1e-4, atol=1e-6, err_msg=p.name)


# -- 5. research/: custom training cells clipping by the global norm, with step counters kept in Parameters ------
compute_norm = ms.ops.composite.MultitypeFuncGraph("compute_norm")


@compute_norm.register("Tensor")
def _compute_norm(grad):
    norm = nn.Norm()(F.cast(grad, mstype.float32))
    ret = F.expand_dims(F.cast(norm, mstype.float32), 0)
    return ret


grad_div = ms.ops.composite.MultitypeFuncGraph("grad_div")


@grad_div.register("Tensor", "Tensor")
def _grad_div(val, grad):
    div = P.RealDiv()
    mul = P.Mul()
    scale = div(10.0, val)
    ret = mul(grad, scale)
    return ret


class TrainOneStepCellWithGradClip(nn.Cell):
    """A research/ model's training cell: gradients scaled to a global norm of at most 10, a step counter."""

    def __init__(self, network, optimizer, sens=1.0):
        super(TrainOneStepCellWithGradClip, self).__init__(auto_prefix=False)
        self.network = network
        self.network.set_grad()
        self.network.add_flags(defer_inline=True)
        self.weights = optimizer.parameters
        self.optimizer = optimizer
        self.grad = ms.ops.composite.GradOperation(get_by_list=True, sens_param=True)
        self.sens = sens
        self.reducer_flag = False
        self.grad_reducer = None
        self.hyper_map = ms.ops.composite.HyperMap()
        self.greater = P.Greater()
        self.select = P.Select()
        self.norm = nn.Norm(keep_dims=True)
        self.dtype = P.DType()
        self.cast = P.Cast()
        self.concat = P.Concat(axis=0)
        self.ten = Tensor(np.array([10.0]).astype(np.float32))
        self.step = Parameter(Tensor(0, mstype.int32), name="step", requires_grad=False)

    def construct(self, data, label):
        weights = self.weights
        loss = self.network(data, label)
        sens = P.Fill()(P.DType()(loss), P.Shape()(loss), self.sens)
        grads = self.grad(self.network, weights)(data, label, sens)
        norm = self.hyper_map(F.partial(compute_norm), grads)
        norm = self.concat(norm)
        norm = self.norm(norm)
        cond = self.greater(norm, self.cast(self.ten, self.dtype(norm)))
        clip_val = self.select(cond, norm, self.cast(self.ten, self.dtype(norm)))
        grads = self.hyper_map(F.partial(grad_div, clip_val), grads)
        if self.reducer_flag:
            grads = self.grad_reducer(grads)
        ops.assign_add(self.step, Tensor(1, mstype.int32))
        return F.depend(loss, self.optimizer(grads))


class ClippedTrainStep(nn.TrainOneStepCell):
    """The same written on TrainOneStepCell with ops.clip_by_global_norm, counting steps with ``self.step += 1``."""

    def __init__(self, network, optimizer, clip_norm=10.0):
        super().__init__(network, optimizer)
        self.clip_norm = clip_norm
        self.step = Parameter(Tensor(0, mstype.int32), name="step", requires_grad=False)
        self.samples = Parameter(Tensor(0.0, mstype.float32), name="samples", requires_grad=False)

    def construct(self, data, label):
        loss = self.network(data, label)
        sens = F.fill(loss.dtype, loss.shape, self.sens)
        grads = self.grad(self.network, self.weights)(data, label, sens)
        grads = ops.clip_by_global_norm(grads, self.clip_norm)
        grads = self.grad_reducer(grads)
        self.step += 1
        self.samples += 4.0
        loss = F.depend(loss, self.optimizer(grads))
        return loss


@pytest.mark.parametrize("cell", [TrainOneStepCellWithGradClip, ClippedTrainStep])
@pytest.mark.parametrize("mode", ["PYNATIVE_MODE", "GRAPH_MODE"])
def test_custom_training_cells_clip_by_the_global_norm_and_count_steps(cell, mode):
    """nn.Norm and Cell.add_flags were missing; ``self.step += 1`` replaced the Parameter by a Tensor (unregistered,
    and not written back when compiled); WithLossCell and TrainOneStepCell prefixed the network's Parameter names
    ('_backbone.weight') once placed in a Cell of the user's."""
    rng = np.random.default_rng(6)
    batches = [(rng.standard_normal((4, 3)).astype(np.float32) * 30, rng.standard_normal((4, 2)).astype(np.float32)) for _ in range(3)]
    ms.set_seed(0)
    net = nn.Dense(3, 2)
    start = [p.asnumpy().copy() for p in net.trainable_params()]
    step = cell(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1))
    step.set_train()
    context.set_context(mode=getattr(context, mode), device_target="CPU")
    try:
        losses = [float(step(Tensor(x), Tensor(y))) for x, y in batches]
    finally:
        context.set_context(mode=context.PYNATIVE_MODE)
    assert [p.name for p in net.trainable_params()] == ["weight", "bias"]
    assert [p.name for p in step.get_parameters()] == ["step", *(["samples"] if cell is ClippedTrainStep else []), "weight", "bias"]
    assert isinstance(step.step, Parameter) and int(step.step) == 3
    if cell is ClippedTrainStep:
        assert float(step.samples) == 12.0
    else:
        assert step.network.get_flags() == {"defer_inline": True}
    module = torch.nn.Linear(3, 2)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(start[0]))
        module.bias.copy_(torch.from_numpy(start[1]))
    opt = torch.optim.SGD(module.parameters(), 0.1)
    for (x, y), got in zip(batches, losses):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(module(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(module.parameters(), 10.0)
        assert norm.item() > 10.0  # every step is clipped
        opt.step()
        assert got == pytest.approx(loss.item(), rel=1e-5)
    np.testing.assert_allclose(net.weight.asnumpy(), module.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(net.bias.asnumpy(), module.bias.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_norm_cell_as_mindspore_s_nn_norm():
    x = np.random.default_rng(7).standard_normal((3, 2, 1))
    np.testing.assert_allclose(nn.Norm()(Tensor(x)).asnumpy(), np.sqrt((x ** 2).sum()), rtol=1e-12)
    assert nn.Norm(axis=0)(Tensor(x)).shape == (2,)  # the length-1 axis left is squeezed too, as MindSpore's
    np.testing.assert_allclose(nn.Norm(axis=(0, 1), keep_dims=True)(Tensor(x)).asnumpy(), np.sqrt((x ** 2).sum((0, 1), keepdims=True)),
                               rtol=1e-12)
    with pytest.raises(TypeError, match="Norm: axis must be an int or a tuple of ints"):
        nn.Norm(axis=1.5)


# -- 6. official/cv/mobilenetv2: pretrained backbone frozen, features extracted with Model.predict, the head trained
#       by WithLossCell/TrainOneStepCell over the saved features, then the whole net evaluated with metrics={'acc'} --
def _make_divisible(v, divisor, min_value=None):
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class GlobalAvgPooling(nn.Cell):
    def __init__(self):
        super(GlobalAvgPooling, self).__init__()
        self.mean = P.ReduceMean(keep_dims=False)

    def construct(self, x):
        x = self.mean(x, (2, 3))
        return x


class ConvBNReLU(nn.Cell):
    def __init__(self, in_planes, out_planes, kernel_size=3, stride=1, groups=1):
        super(ConvBNReLU, self).__init__()
        padding = (kernel_size - 1) // 2
        in_channels = in_planes
        out_channels = out_planes
        if groups == 1:
            conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad_mode='pad', padding=padding)
        else:
            out_channels = in_planes
            conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad_mode='pad', padding=padding, group=in_channels)
        layers = [conv, nn.BatchNorm2d(out_planes), nn.ReLU6()]
        self.features = nn.SequentialCell(layers)

    def construct(self, x):
        output = self.features(x)
        return output


class InvertedResidual(nn.Cell):
    def __init__(self, inp, oup, stride, expand_ratio):
        super(InvertedResidual, self).__init__()
        assert stride in [1, 2]
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(inp, hidden_dim, kernel_size=1))
        layers.extend([
            ConvBNReLU(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),
            nn.Conv2d(hidden_dim, oup, kernel_size=1, stride=1, has_bias=False),
            nn.BatchNorm2d(oup),
        ])
        self.conv = nn.SequentialCell(layers)
        self.add = P.Add()
        self.cast = P.Cast()

    def construct(self, x):
        identity = x
        x = self.conv(x)
        if self.use_res_connect:
            return self.add(identity, x)
        return x


class MobileNetV2Backbone(nn.Cell):
    """official/cv/mobilenetv2/src/models.py's backbone, two inverted residual settings instead of seven."""

    def __init__(self, width_mult=1., inverted_residual_setting=None, round_nearest=8, input_channel=8, last_channel=32):
        super(MobileNetV2Backbone, self).__init__()
        block = InvertedResidual
        self.cfgs = inverted_residual_setting or [[1, 8, 1, 1], [2, 8, 1, 2]]
        input_channel = _make_divisible(input_channel * width_mult, round_nearest)
        self.out_channels = _make_divisible(last_channel * max(1.0, width_mult), round_nearest)
        features = [ConvBNReLU(3, input_channel, stride=2)]
        for t, c, n, s in self.cfgs:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                stride = s if i == 0 else 1
                features.append(block(input_channel, output_channel, stride, expand_ratio=t))
                input_channel = output_channel
        features.append(ConvBNReLU(input_channel, self.out_channels, kernel_size=1))
        self.features = nn.SequentialCell(features)
        self._initialize_weights()

    def construct(self, x):
        x = self.features(x)
        return x

    def _initialize_weights(self):
        self.init_parameters_data()
        for _, m in self.cells_and_names():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.set_data(Tensor(np.random.normal(0, np.sqrt(2. / n), m.weight.data.shape).astype("float32")))
                if m.bias is not None:
                    m.bias.set_data(Tensor(np.zeros(m.bias.data.shape, dtype="float32")))
            elif isinstance(m, nn.BatchNorm2d):
                m.gamma.set_data(Tensor(np.ones(m.gamma.data.shape, dtype="float32")))
                m.beta.set_data(Tensor(np.zeros(m.beta.data.shape, dtype="float32")))

    @property
    def get_features(self):
        return self.features


class MobileNetV2Head(nn.Cell):
    def __init__(self, input_channel=1280, num_classes=1000, has_dropout=False, activation="None"):
        super(MobileNetV2Head, self).__init__()
        head = ([GlobalAvgPooling(), nn.Dense(input_channel, num_classes, has_bias=True)] if not has_dropout else
                [GlobalAvgPooling(), nn.Dropout(p=0.2), nn.Dense(input_channel, num_classes, has_bias=True)])
        self.head = nn.SequentialCell(head)
        self.need_activation = True
        if activation == "Sigmoid":
            self.activation = P.Sigmoid()
        elif activation == "Softmax":
            self.activation = P.Softmax()
        else:
            self.need_activation = False
        self._initialize_weights()

    def construct(self, x):
        x = self.head(x)
        if self.need_activation:
            x = self.activation(x)
        return x

    def _initialize_weights(self):
        self.init_parameters_data()
        for _, m in self.cells_and_names():
            if isinstance(m, nn.Dense):
                m.weight.set_data(Tensor(np.random.normal(0, 0.01, m.weight.data.shape).astype("float32")))
                if m.bias is not None:
                    m.bias.set_data(Tensor(np.zeros(m.bias.data.shape, dtype="float32")))


class MobileNetV2Combine(nn.Cell):
    def __init__(self, backbone, head):
        super(MobileNetV2Combine, self).__init__(auto_prefix=False)
        self.backbone = backbone
        self.head = head

    def construct(self, x):
        x = self.backbone(x)
        x = self.head(x)
        return x


class CrossEntropyWithLabelSmooth(LossBase):
    def __init__(self, smooth_factor=0., num_classes=1000):
        super(CrossEntropyWithLabelSmooth, self).__init__()
        self.onehot = P.OneHot()
        self.on_value = Tensor(1.0 - smooth_factor, mstype.float32)
        self.off_value = Tensor(smooth_factor / (num_classes - 1), mstype.float32)
        self.ce = nn.SoftmaxCrossEntropyWithLogits()
        self.mean = P.ReduceMean(False)
        self.cast = P.Cast()

    def construct(self, logit, label):
        one_hot_label = self.onehot(self.cast(label, mstype.int32), F.shape(logit)[1], self.on_value, self.off_value)
        out_loss = self.ce(logit, one_hot_label)
        out_loss = self.mean(out_loss, 0)
        return out_loss


def get_lr_mobilenet(global_step, lr_init, lr_end, lr_max, warmup_epochs, total_epochs, steps_per_epoch):
    lr_each_step = []
    total_steps = steps_per_epoch * total_epochs
    warmup_steps = steps_per_epoch * warmup_epochs
    for i in range(total_steps):
        if i < warmup_steps:
            lr = lr_init + (lr_max - lr_init) * i / warmup_steps
        else:
            lr = lr_end + (lr_max - lr_end) * (1. + math.cos(math.pi * (i - warmup_steps) / (total_steps - warmup_steps))) / 2.
        if lr < 0.0:
            lr = 0.0
        lr_each_step.append(lr)
    current_step = global_step
    lr_each_step = np.array(lr_each_step).astype(np.float32)
    learning_rate = lr_each_step[current_step:]
    return learning_rate


def load_ckpt(network, pretrain_ckpt_path, trainable=True):
    """official/cv/mobilenetv2/src/models.py."""
    param_dict = ms.load_checkpoint(pretrain_ckpt_path)
    ms.load_param_into_net(network, param_dict)
    if not trainable:
        for param in network.get_parameters():
            param.requires_grad = False


def extract_features(net, dataset, features_folder):
    """official/cv/mobilenetv2/src/models.py, over a dataset already made."""
    os.makedirs(features_folder, exist_ok=True)
    step_size = dataset.get_dataset_size()
    model = Model(net)
    for i, data in enumerate(dataset.create_dict_iterator(output_numpy=True)):
        features_path = os.path.join(features_folder, f"feature_{i}.npy")
        label_path = os.path.join(features_folder, f"label_{i}.npy")
        if not os.path.exists(features_path) or not os.path.exists(label_path):
            image = data["image"]
            label = data["label"]
            features = model.predict(Tensor(image))
            np.save(features_path, features.asnumpy())
            np.save(label_path, label)
    return step_size


def test_mobilenetv2_transfer_learning_with_a_frozen_backbone(tmp_path):
    """Cell.init_parameters_data was missing; the rest ran as written."""
    rng = np.random.default_rng(8)
    rows = [(rng.standard_normal((3, 16, 16)).astype(np.float32), np.int32(rng.integers(0, 5))) for _ in range(12)]
    dataset = ds.GeneratorDataset(rows, ["image", "label"], shuffle=False).batch(4, drop_remainder=True)
    np.random.seed(0)  # the model zoo initialises with np.random
    pretrained = MobileNetV2Combine(MobileNetV2Backbone(), MobileNetV2Head(input_channel=32, num_classes=5))
    ms.save_checkpoint(pretrained, str(tmp_path / "pretrain.ckpt"))
    backbone_net = MobileNetV2Backbone()
    head_net = MobileNetV2Head(input_channel=backbone_net.out_channels, num_classes=5)
    net = MobileNetV2Combine(backbone_net, head_net)
    load_ckpt(backbone_net, str(tmp_path / "pretrain.ckpt"), trainable=False)  # the file's head.* entries are left alone
    for p, q in zip(backbone_net.get_parameters(), pretrained.backbone.get_parameters()):
        np.testing.assert_array_equal(p.asnumpy(), q.asnumpy(), err_msg=p.name)
    assert backbone_net.trainable_params() == [] and len(head_net.trainable_params()) == 2

    step_size = extract_features(backbone_net, dataset, str(tmp_path / "features"))
    assert step_size == 3 and len(os.listdir(tmp_path / "features")) == 6
    lr = Tensor(get_lr_mobilenet(global_step=0, lr_init=0.0, lr_end=0.0, lr_max=0.2, warmup_epochs=1, total_epochs=3,
                                 steps_per_epoch=step_size))
    loss = CrossEntropyWithLabelSmooth(smooth_factor=0.1, num_classes=5)
    opt = nn.Momentum(filter(lambda x: x.requires_grad, net.get_parameters()), lr, 0.9, 4e-5)
    head_start = [p.asnumpy().copy() for p in head_net.trainable_params()]
    network = nn.WithLossCell(head_net, loss)
    network = nn.TrainOneStepCell(network, opt)
    network.set_train()
    losses = []
    for _epoch in range(3):
        epoch_losses = []
        for j in range(step_size):
            feature = Tensor(np.load(os.path.join(str(tmp_path / "features"), f"feature_{j}.npy")))
            label = Tensor(np.load(os.path.join(str(tmp_path / "features"), f"label_{j}.npy")))
            epoch_losses.append(network(feature, label).asnumpy())
        losses.append(epoch_losses)
    for p, q in zip(backbone_net.get_parameters(), pretrained.backbone.get_parameters()):
        np.testing.assert_array_equal(p.asnumpy(), q.asnumpy())  # frozen
    # torch: the head over the same features, SGD with momentum, decay on both Dense parameters
    features = [torch.from_numpy(np.load(str(tmp_path / "features" / f"feature_{j}.npy"))) for j in range(3)]
    labels = [torch.from_numpy(np.load(str(tmp_path / "features" / f"label_{j}.npy"))).long() for j in range(3)]
    with torch.no_grad():
        want_features = [torch.from_numpy(backbone_net(Tensor(np.stack([r[0] for r in rows[4 * j:4 * j + 4]]))).asnumpy()) for j in range(3)]
    for a, b in zip(features, want_features):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    dense = torch.nn.Linear(32, 5)
    with torch.no_grad():
        dense.weight.copy_(torch.from_numpy(head_start[0]))
        dense.bias.copy_(torch.from_numpy(head_start[1]))
    rates = lr.asnumpy()
    np.testing.assert_allclose(rates, [0.0, 0.2 / 3, 0.4 / 3] + [0.1 * (1 + math.cos(math.pi * k / 6)) for k in range(6)], rtol=1e-6)
    opt_t = torch.optim.SGD(dense.parameters(), lr=0.0, momentum=0.9, weight_decay=4e-5)
    for step in range(9):
        f, y = features[step % 3], labels[step % 3]
        opt_t.param_groups[0]["lr"] = float(rates[step])
        opt_t.zero_grad()
        logits = dense(f.mean((2, 3)))
        target = torch.full_like(logits, 0.1 / 4).scatter_(1, y[:, None], 0.9)
        out = -(target * torch.log_softmax(logits, 1)).sum(1).mean()
        out.backward()
        opt_t.step()
        assert float(losses[step // 3][step % 3]) == pytest.approx(out.item(), rel=1e-5)
    np.testing.assert_allclose(head_net.head[1].weight.asnumpy(), dense.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    # eval.py: the whole net, metrics={'acc'}
    net.set_train(False)
    model = Model(net, loss_fn=loss, metrics={'acc'})
    res = model.eval(dataset)
    with torch.no_grad():
        predicted = torch.cat([dense(f.mean((2, 3))) for f in features]).argmax(1)
    assert res == {"acc": pytest.approx((predicted == torch.cat(labels)).double().mean().item())}


# -- 7. an optimizer copied from MindSpore's Momentum (HyperMap over F.partial of a MultitypeFuncGraph calling
#       P.ApplyMomentum) under MindSpore's gradient-accumulation training loop (DatasetHelper, AssignAdd, reset) ----
_momentum_opt = ms.ops.composite.MultitypeFuncGraph("momentum_opt")


@_momentum_opt.register("Function", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor")
def _tensor_run_opt_ext(opt, momentum, learning_rate, gradient, weight, moment):
    success = F.depend(True, opt(weight, moment, learning_rate, gradient, momentum))
    return success


class MyMomentum(nn.Optimizer):
    """MindSpore's nn.Momentum source, as custom optimizers of the model zoo start from it."""

    def __init__(self, params, learning_rate, momentum, weight_decay=0.0, loss_scale=1.0, use_nesterov=False):
        super(MyMomentum, self).__init__(learning_rate, params, weight_decay, loss_scale)
        self.momentum = Parameter(Tensor(momentum, mstype.float32), name="momentum")
        self.params = self.parameters
        self.use_nesterov = use_nesterov
        self.moments = self.params.clone(prefix="moments", init='zeros')
        self.hyper_map = ms.ops.composite.HyperMap()
        self.opt = P.ApplyMomentum(use_nesterov=self.use_nesterov)

    def construct(self, gradients):
        params = self.params
        moments = self.moments
        gradients = self.decay_weight(gradients)
        gradients = self.scale_grad(gradients)
        gradients = self.gradients_centralization(gradients)
        lr = self.get_lr()
        if self.is_group_lr:
            success = self.hyper_map(F.partial(_momentum_opt, self.opt, self.momentum), lr, gradients, params, moments)
        else:
            success = self.hyper_map(F.partial(_momentum_opt, self.opt, self.momentum, lr), gradients, params, moments)
        return success


_sum_op = ms.ops.composite.MultitypeFuncGraph("grad_sum_op")
_clear_op = ms.ops.composite.MultitypeFuncGraph("clear_op")


@_sum_op.register("Tensor", "Tensor")
def _cumulative_grad(grad_sum, grad):
    add = P.AssignAdd()
    return add(grad_sum, grad)


@_clear_op.register("Tensor", "Tensor")
def _clear_grad_sum(grad_sum, zero):
    success = True
    success = F.depend(success, F.assign(grad_sum, zero))
    return success


class TrainForwardBackward(nn.Cell):
    def __init__(self, network, optimizer, grad_sum, sens=1.0):
        super(TrainForwardBackward, self).__init__(auto_prefix=False)
        self.network = network
        self.network.set_grad()
        self.network.add_flags(defer_inline=True)
        self.weights = ms.ParameterTuple(network.trainable_params())
        self.optimizer = optimizer
        self.grad_sum = grad_sum
        self.grad = ms.ops.composite.GradOperation(get_by_list=True, sens_param=True)
        self.sens = sens
        self.hyper_map = ms.ops.composite.HyperMap()

    def construct(self, *inputs):
        weights = self.weights
        loss = self.network(*inputs)
        sens = P.Fill()(P.DType()(loss), P.Shape()(loss), self.sens)
        grads = self.grad(self.network, weights)(*inputs, sens)
        return F.depend(loss, self.hyper_map(F.partial(_sum_op), self.grad_sum, grads))


class TrainOptim(nn.Cell):
    def __init__(self, optimizer, grad_sum):
        super(TrainOptim, self).__init__(auto_prefix=False)
        self.optimizer = optimizer
        self.grad_sum = grad_sum

    def construct(self):
        return self.optimizer(self.grad_sum)


class TrainClear(nn.Cell):
    def __init__(self, grad_sum, zeros):
        super(TrainClear, self).__init__(auto_prefix=False)
        self.grad_sum = grad_sum
        self.zeros = zeros
        self.hyper_map = ms.ops.composite.HyperMap()

    def construct(self):
        success = self.hyper_map(F.partial(_clear_op), self.grad_sum, self.zeros)
        return success


class GradientAccumulation:
    """MindSpore's gradient accumulation guide: gradients summed over mini_steps batches, then one update."""

    def __init__(self, network, loss_fn, optimizer):
        self._network = network
        self._loss_fn = loss_fn
        self._optimizer = optimizer
        params = self._optimizer.parameters
        self._grad_sum = params.clone(prefix="grad_sum", init='zeros')
        self._zeros = params.clone(prefix="zeros", init='zeros')
        self._train_forward_backward = self._build_train_forward_backward_network()
        self._train_optim = self._build_train_optim()
        self._train_clear = self._build_train_clear()
        self.losses = []

    def _build_train_forward_backward_network(self):
        network = self._network
        network = nn.WithLossCell(network, self._loss_fn)
        loss_scale = 1.0
        network = TrainForwardBackward(network, self._optimizer, self._grad_sum, loss_scale).set_train()
        return network

    def _build_train_optim(self):
        return TrainOptim(self._optimizer, self._grad_sum).set_train()

    def _build_train_clear(self):
        return TrainClear(self._grad_sum, self._zeros).set_train()

    def train_process(self, epoch, train_dataset, mini_steps=None):
        dataset_helper = ms.train.DatasetHelper(train_dataset, dataset_sink_mode=False, epoch_num=epoch)
        for i in range(epoch):
            step = 0
            for k, next_element in enumerate(dataset_helper):
                loss = self._train_forward_backward(*next_element)
                self.losses.append(float(loss.asnumpy()))
                if (k + 1) % mini_steps == 0:
                    step += 1
                    print("epoch:", i + 1, "step:", step, "loss is ", loss)
                    self._train_optim()
                    self._train_clear()
            train_dataset.reset()


@pytest.mark.parametrize(("use_nesterov", "mode"), [(False, "PYNATIVE_MODE"), (True, "PYNATIVE_MODE"), (True, "GRAPH_MODE")])
def test_gradient_accumulation_with_an_optimizer_copied_from_mindspore_s_momentum(use_nesterov, mode, capsys):
    """P.ApplyMomentum, Optimizer.scale_grad/gradients_centralization/is_group_lr, DatasetHelper and Dataset.reset were
    missing, and get_lr gave a Python float where MindSpore's Parameter is a Tensor (the MultitypeFuncGraph found
    no 'Number' registration)."""
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 1)).astype(np.float32)
    data = ds.NumpySlicesDataset({"x": x, "y": y}, shuffle=False).batch(2)
    ms.set_seed(4)
    net = nn.Dense(3, 1)
    w, b = (p.asnumpy().astype(np.float64) for p in net.trainable_params())
    opt = MyMomentum(net.trainable_params(), 0.1, 0.9, weight_decay=0.01, loss_scale=1.0, use_nesterov=use_nesterov)
    assert not opt.is_group_lr and isinstance(opt.get_lr(), Tensor) and opt.get_lr().dtype == mstype.float32
    trainer = GradientAccumulation(net, nn.MSELoss(), opt)
    context.set_context(mode=getattr(context, mode))
    try:
        trainer.train_process(2, data, mini_steps=2)
    finally:
        context.set_context(mode=context.PYNATIVE_MODE)
    assert capsys.readouterr().out.count("loss is") == 4
    assert int(opt.global_step) == 4 and not any(np.asarray(g).any() for g in trainer._grad_sum)
    vw, vb, losses = np.zeros_like(w), np.zeros_like(b), []
    for _ in range(2):
        for first in (0, 4):
            gw, gb = np.zeros_like(w), np.zeros_like(b)
            for start in (first, first + 2):
                xb, yb = x[start:start + 2].astype(np.float64), y[start:start + 2]
                err = xb @ w.T + b - yb
                losses.append((err ** 2).mean())
                gw, gb = gw + (2.0 * err / 2).T @ xb, gb + (2.0 * err / 2).sum(0)
            gw, gb = gw + 0.01 * w, gb + 0.01 * b  # MindSpore's default decay filter spares only 'beta' and 'gamma'
            vw, vb = 0.9 * vw + gw, 0.9 * vb + gb
            w = w - 0.1 * (gw + 0.9 * vw if use_nesterov else vw)
            b = b - 0.1 * (gb + 0.9 * vb if use_nesterov else vb)
    np.testing.assert_allclose(trainer.losses, losses, rtol=1e-5)
    np.testing.assert_allclose(net.weight.asnumpy(), w, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(net.bias.asnumpy(), b, rtol=1e-5, atol=1e-7)


def test_apply_momentum_updates_both_parameters_eagerly_and_compiled():
    grad, lr, momentum = np.array([0.5, -1.0], np.float32), 0.1, 0.9
    results = []
    for compiled in (False, True):
        var = Parameter(Tensor(np.array([1.0, 2.0], np.float32)), name="var")
        accum = Parameter(Tensor(np.array([0.2, 0.4], np.float32)), name="accum")
        apply = P.ApplyMomentum(use_nesterov=True)

        def step(g, var=var, accum=accum, apply=apply):
            return apply(var, accum, lr, g, momentum)

        run = ms.jit(step) if compiled else step
        run(Tensor(grad))
        out = run(Tensor(grad))
        results.append((np.asarray(out), var.asnumpy().copy(), accum.asnumpy().copy()))
    a, v = np.array([0.2, 0.4]), np.array([1.0, 2.0])
    for _ in range(2):
        a = a * momentum + grad
        v = v - lr * (grad + momentum * a)
    for out, var_value, accum_value in results:
        np.testing.assert_array_equal(out, var_value)  # the updated variable comes back
        np.testing.assert_allclose(var_value, v, rtol=1e-6)
        np.testing.assert_allclose(accum_value, a, rtol=1e-6)
    np.testing.assert_array_equal(results[0][1], results[1][1])
    with pytest.raises(TypeError, match="ApplyMomentum: accumulation must be a Parameter"):
        P.ApplyMomentum()(Parameter(Tensor(np.ones(2, np.float32)), name="v"), Tensor(np.ones(2, np.float32)), 0.1, Tensor(grad), 0.9)
    with pytest.raises(ValueError, match=r"ApplyMomentum: variable \(2,\), accumulation \(2,\) and gradient \(3,\)"):
        P.ApplyMomentum()(Parameter(Tensor(np.ones(2, np.float32)), name="v"), Parameter(Tensor(np.ones(2, np.float32)), name="a"),
                          0.1, Tensor(np.ones(3, np.float32)), 0.9)


def test_optimizer_group_flags_and_loss_scale_for_constructs_written_as_mindspore_s():
    net = nn.Dense(2, 2)
    grouped = nn.SGD([{"params": [net.weight], "lr": 0.5}, {"params": [net.bias]}], learning_rate=0.1, loss_scale=4.0)
    assert grouped.is_group and grouped.is_group_lr and not grouped.dynamic_lr
    assert [float(r) for r in grouped.get_lr()] == [0.5, pytest.approx(0.1)] and all(isinstance(r, Tensor) for r in grouped.get_lr())
    plain = nn.SGD(net.trainable_params(), learning_rate=nn.CosineDecayLR(0.0, 0.1, 4))
    assert not plain.is_group and not plain.is_group_lr and plain.dynamic_lr
    scaled = grouped.scale_grad((Tensor(np.full(2, 8.0, np.float32)),))
    np.testing.assert_array_equal(scaled[0].asnumpy(), [2.0, 2.0])
    np.testing.assert_array_equal(grouped.gradients_centralization(scaled)[0].asnumpy(), [2.0, 2.0])  # no group asked for it
    helper = ms.DatasetHelper(ds.NumpySlicesDataset({"a": np.arange(6.0)}, shuffle=False).batch(4), epoch_num=2)
    assert len(helper) == 2 and helper.types_shapes() == ([np.dtype(np.float64)], [(4,)])
    passes = [[b[0].asnumpy().tolist() for b in helper] for _ in range(3)]
    assert passes == [[[0, 1, 2, 3], [4, 5]]] * 2 + [[]]  # two epochs, then the iterator is spent
    with pytest.raises(ValueError, match="DatasetHelper: epoch_num must be a positive int"):
        ms.DatasetHelper(ds.NumpySlicesDataset({"a": np.arange(2.0)}), epoch_num=0)
    with pytest.raises(TypeError, match="DatasetHelper: dataset must be a funcad.dataset dataset"):
        ms.DatasetHelper([(1, 2)])


# -- 8. a recommendation model written with mindspore.numpy: a multi-column map, batch().repeat(), a training cell
#       handed to Model with its own eval network and a user Metric, compiled (GRAPH_MODE) --------------------------
mnp = ms.numpy


class WideDeep(nn.Cell):
    def __init__(self, vocab, dim, fields):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.wide_w = Parameter(ms.common.initializer.initializer(Normal(0.01), (vocab, 1), mstype.float32), name="wide_w")
        self.wide_b = Parameter(ms.common.initializer.initializer("zeros", (1,), mstype.float32), name="wide_b")
        self.dense1 = nn.Dense(dim * fields, 8, activation="relu")
        self.dense2 = nn.Dense(8, 1)
        self.gather = ops.Gather()
        self.reshape = ops.Reshape()
        self.reduce_sum = ops.ReduceSum(keep_dims=False)

    def construct(self, ids, wts):
        wide = self.reduce_sum(self.gather(self.wide_w, ids, 0) * F.expand_dims(wts, -1), 1) + self.wide_b
        deep = self.embedding(ids) * F.expand_dims(wts, -1)
        deep = self.dense2(self.dense1(self.reshape(deep, (F.shape(ids)[0], -1))))
        return wide + deep


class LogLoss(nn.Cell):
    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self.network = network

    def construct(self, ids, wts, label):
        logits = self.network(ids, wts)
        p = mnp.clip(1 / (1 + mnp.exp(-logits)), 1e-7, 1 - 1e-7)
        loss = -mnp.mean(label * mnp.log(p) + (1 - label) * mnp.log(1 - p))
        return loss


class AUCMetric(nn.Metric):
    def __init__(self):
        super().__init__()
        self.clear()

    def clear(self):
        self.pred, self.true = [], []

    def update(self, *inputs):
        self.pred.extend(inputs[1].asnumpy().ravel())
        self.true.extend(inputs[2].asnumpy().ravel())

    def eval(self):
        from sklearn.metrics import roc_auc_score
        return roc_auc_score(self.true, self.pred)


class CTREvalNet(nn.Cell):
    def __init__(self, network):
        super().__init__(auto_prefix=False)
        self.network = network
        self.sigmoid = ops.Sigmoid()

    def construct(self, ids, wts, labels):
        logits = self.network(ids, wts)
        return logits, self.sigmoid(logits), labels


def ctr_rows(n, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        ids = rng.integers(0, 20, 4).astype(np.int32)
        rows.append((ids, np.ones(4, np.float32), np.array([float(ids.sum() % 2)], np.float32)))
    return rows


def halve_weights(ids, wts, label):
    return ids, (wts * 0.5).astype(np.float32), label


class TorchWideDeep(torch.nn.Module):
    def __init__(self):
        super().__init__()
        # in funcad's (and MindSpore's) order: a Cell's own Parameters, then its children's
        self.wide_w, self.wide_b = torch.nn.Parameter(torch.zeros(20, 1)), torch.nn.Parameter(torch.zeros(1))
        self.embedding = torch.nn.Parameter(torch.zeros(20, 3))
        self.dense1, self.dense2 = torch.nn.Linear(12, 8), torch.nn.Linear(8, 1)

    def forward(self, ids, wts):
        wide = (self.wide_w[ids] * wts[..., None]).sum(1) + self.wide_b
        deep = (self.embedding[ids] * wts[..., None]).reshape(len(ids), -1)
        return wide + self.dense2(torch.relu(self.dense1(deep)))


def test_wide_and_deep_with_mindspore_numpy_a_multi_column_map_and_a_user_metric(capsys):
    ms.set_seed(0)
    context.set_context(mode=context.GRAPH_MODE, device_target="CPU")
    try:
        train = ds.GeneratorDataset(ctr_rows(24, 0), ["ids", "wts", "label"], shuffle=False)
        train = train.map(operations=halve_weights, input_columns=["ids", "wts", "label"], output_columns=["ids", "wts", "label"])
        train = train.batch(8, drop_remainder=True).repeat(2)
        net = WideDeep(20, 3, 4)
        start = [p.asnumpy().copy() for p in net.trainable_params()]
        loss_net = LogLoss(net)
        opt = nn.Adam(loss_net.trainable_params(), 0.01)
        train_net = nn.TrainOneStepCell(loss_net, opt)
        model = Model(train_net, eval_network=CTREvalNet(net), metrics={"auc": AUCMetric()})
        model.train(2, train, callbacks=[LossMonitor()], dataset_sink_mode=False)
        evaluation = ds.GeneratorDataset(ctr_rows(16, 1), ["ids", "wts", "label"], shuffle=False).batch(8)
        auc = model.eval(evaluation)
    finally:
        context.set_context(mode=context.PYNATIVE_MODE)
    assert train.get_dataset_size() == 6
    got = [float(line.rsplit(" ", 1)[1]) for line in capsys.readouterr().out.splitlines() if "loss is" in line]
    module = TorchWideDeep()
    with torch.no_grad():
        for q, s in zip(module.parameters(), start):
            q.copy_(torch.from_numpy(s))
    batches = [(b["ids"], b["wts"], b["label"]) for b in train.create_dict_iterator(output_numpy=True)]
    assert len(batches) == 6 and all(np.all(w == 0.5) for _, w, _ in batches)
    # torch's gradients, MindSpore's Adam (epsilon after the bias correction: torch's Adam moves the embedding rows
    # whose gradients are tiny by other amounts)
    m, v, want = [np.zeros(s.shape) for s in start], [np.zeros(s.shape) for s in start], []
    for t, (ids, wts, label) in enumerate(batches * 2, start=1):
        module.zero_grad()
        p = torch.sigmoid(module(torch.from_numpy(ids).long(), torch.from_numpy(wts))).clamp(1e-7, 1 - 1e-7)
        label = torch.from_numpy(label)
        loss = -(label * torch.log(p) + (1 - label) * torch.log(1 - p)).mean()
        loss.backward()
        want.append(loss.item())
        lr_t = 0.01 * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        with torch.no_grad():
            for i, q in enumerate(module.parameters()):
                g = q.grad.numpy().astype(np.float64)
                m[i], v[i] = 0.9 * m[i] + 0.1 * g, 0.999 * v[i] + 0.001 * g * g
                q -= torch.from_numpy((lr_t * m[i] / (np.sqrt(v[i]) + 1e-8)).astype(np.float32))
    np.testing.assert_allclose(got, want, rtol=1e-5)
    for p, q in zip(net.trainable_params(), module.parameters()):
        np.testing.assert_allclose(p.asnumpy(), q.detach().numpy(), rtol=1e-4, atol=1e-6, err_msg=p.name)
    scores, labels = [], []
    with torch.no_grad():
        for b in evaluation.create_dict_iterator(output_numpy=True):
            scores += module(torch.from_numpy(b["ids"]).long(), torch.from_numpy(b["wts"])).ravel().tolist()
            labels += b["label"].ravel().tolist()
    scores, labels = np.array(scores), np.array(labels)
    positive, negative = scores[labels == 1], scores[labels == 0]
    mann_whitney = np.mean([(a > b) + 0.5 * (a == b) for a in positive for b in negative])
    assert auc == {"auc": pytest.approx(mann_whitney)}


# -- what the programs above needed, checked on their own ----------------------------------------------------------
def test_model_train_reads_a_shuffled_dataset_again_every_epoch():
    """Model.train replayed the first epoch's batches: the same order every epoch, random augmentations frozen.
    MindSpore's training iterator runs the pipeline again each epoch."""
    seen = []

    class Probe(nn.Cell):
        def __init__(self):
            super().__init__()
            self.dense = nn.Dense(1, 1)

        def construct(self, x):
            seen.append(x.asnumpy().ravel().tolist())
            return self.dense(x)

    def shuffled():
        ds.config.set_seed(0)
        return ds.NumpySlicesDataset({"x": np.arange(8, dtype=np.float32)[:, None], "y": np.zeros((8, 1), np.float32)}, shuffle=True).batch(4)

    data = shuffled()
    passes = [[b["x"].ravel().tolist() for b in data.create_dict_iterator(output_numpy=True)] for _ in range(3)]
    assert passes[0] != passes[1]
    net = Probe()
    Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.0)).train(3, shuffled())
    assert seen == passes[0] + passes[1] + passes[2]
    seen.clear()
    one_shot = iter([(Tensor(np.ones((2, 1), np.float32)), Tensor(np.zeros((2, 1), np.float32)))])
    Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.0)).train(2, one_shot)  # an iterator is read once, replayed
    assert seen == [[1.0, 1.0]] * 2


def test_callbacks_do_their_work_in_mindspore_s_hooks_so_subclasses_replace_it(tmp_path, capsys):
    class QuietTime(TimeMonitor):
        def epoch_end(self, run_context):
            self.ends = getattr(self, "ends", 0) + 1

    class EveryStepCheckpoint(ModelCheckpoint):
        def step_end(self, run_context):
            self.steps = getattr(self, "steps", 0) + 1

    net = nn.Dense(2, 1)
    data = [(Tensor(np.ones((2, 2), np.float32)), Tensor(np.zeros((2, 1), np.float32)))] * 3
    quiet, ckpt = QuietTime(), EveryStepCheckpoint(prefix="n", directory=str(tmp_path))
    Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.1)).train(2, data, callbacks=[quiet, ckpt])
    assert quiet.ends == 2 and "Train epoch time" not in capsys.readouterr().out
    assert ckpt.steps == 6 and os.listdir(tmp_path) == ["n-2_3.ckpt"]  # only the end's save, in ModelCheckpoint.end


def test_loss_scale_update_cells_called_as_mindspore_s_cells():
    fixed = nn.FixedLossScaleUpdateCell(1024.0)
    scale = Parameter(Tensor(np.float32(1024.0)), name="loss_scale")
    assert bool(fixed(scale, Tensor(True))) and float(scale) == 1024.0
    dynamic = nn.DynamicLossScaleUpdateCell(loss_scale_value=8.0, scale_factor=2, scale_window=3)
    scale = Parameter(Tensor(np.array([8.0], np.float32)), name="loss_scale")  # (1,)-shaped, as some model zoo cells keep it
    seen = []
    for overflow in (False, False, False, True, False, False, False):
        assert bool(dynamic(scale, Tensor(overflow))) is overflow
        seen.append(float(scale.asnumpy()[0]))
    assert seen == [8.0, 8.0, 16.0, 8.0, 8.0, 8.0, 16.0] and scale.shape == (1,)
    assert float(dynamic.get_loss_scale()) == 8.0  # MindSpore's get_loss_scale returns the value the cell was made with
    with pytest.raises(TypeError, match="DynamicLossScaleUpdateCell: loss_scale must be the Parameter holding the scale"):
        dynamic(Tensor(np.float32(2.0)), False)


def test_graph_helpers_as_mindspore_documents_them():
    assert ops.tuple_to_array((1, 2, 3)).dtype == mstype.int32 and ops.tuple_to_array((1.0, 2)).dtype == mstype.float32
    np.testing.assert_array_equal(F.tuple_to_array((1, 2, 3)).asnumpy(), [1, 2, 3])
    with pytest.raises(ValueError, match="tuple_to_array: input_x must be a non-empty tuple"):
        ops.tuple_to_array([1, 2])
    with pytest.raises(TypeError, match="tuple_to_array: every element must be a number"):
        ops.tuple_to_array((1, "a"))
    status = P.FloatStatus()
    assert status(Tensor(np.array([1.0, np.nan], np.float32))).asnumpy().tolist() == [1.0]
    assert status(Tensor(np.array([1.0, -np.inf], np.float16))).dtype == mstype.float16
    assert status(Tensor(np.array([1.0, 2.0], np.float32))).asnumpy().tolist() == [0.0]
    with pytest.raises(TypeError, match="FloatStatus: the input must be a float Tensor, got Int32"):
        status(Tensor(np.array([1, 2], np.int32)))
    bound = ops.Partial()(ops.add, Tensor(np.float32(1.0)))
    assert float(bound(Tensor(np.float32(2.0)))) == 3.0 and P.Partial is ops.Partial
    with pytest.raises(TypeError, match="Partial: the first input must be callable"):
        ops.Partial()(3, 4)


def test_model_amp_o2_with_a_fixed_loss_scale_that_drops_overflowing_steps():
    """Model(amp_level='O2', loss_scale_manager=FixedLossScaleManager(1024)) as the zoo's GPU configurations use it: the
    Dense layers compute in float16, the step is TrainOneStepWithLossScaleCell's (loss, overflow, scale), and a step
    whose gradients overflow leaves the weights as they were."""
    rng = np.random.default_rng(10)
    data = [(Tensor(rng.standard_normal((4, 3)).astype(np.float32)), Tensor(rng.integers(0, 2, 4).astype(np.int32))) for _ in range(3)]
    results = []
    for amp_level, manager in (("O0", None), ("O2", FixedLossScaleManager(1024.0))):
        ms.set_seed(5)
        net = nn.SequentialCell([nn.Dense(3, 8), nn.ReLU(), nn.Dense(8, 2)])
        loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
        model = Model(net, loss, nn.Momentum(net.trainable_params(), 0.1, 0.9), metrics={"acc"}, amp_level=amp_level,
                      loss_scale_manager=manager)
        monitor = LossMonitor(0)
        outputs = []
        monitor.step_end = lambda run_context, outputs=outputs: outputs.append(run_context.original_args().net_outputs)
        model.train(2, data, callbacks=[monitor])
        results.append((outputs, [p.asnumpy().copy() for p in net.trainable_params()], net, model))
    (fp32, w32, _, _), (fp16, w16, net16, model16) = results
    assert net16._compute_dtype == np.float16  # the whole net in float16 (no normalisation layer to keep in float32)
    assert all(isinstance(o, tuple) and not bool(o[1]) and float(o[2]) == 1024.0 for o in fp16)
    np.testing.assert_allclose([float(o[0]) for o in fp16], [float(o) for o in fp32], rtol=2e-2)  # float16 products
    assert [float(o[0]) for o in fp16] != [float(o) for o in fp32]
    for a, b in zip(w16, w32):
        np.testing.assert_allclose(a, b, rtol=5e-2, atol=5e-3)
    with np.errstate(all="ignore"):
        loss_value, overflow, scale = model16.train_network(Tensor(np.full((4, 3), 1e4, np.float32)), data[0][1])
    assert bool(overflow) and float(scale) == 1024.0
    for p, before in zip(net16.trainable_params(), w16):
        np.testing.assert_array_equal(p.asnumpy(), before)


def test_sink_size_makes_epochs_of_that_many_steps_as_bert_s_pretraining_uses_it():
    """run_pretrain.py trains new_repeat_count = epochs * dataset_size // data_sink_steps 'epochs' of sink_size steps
    each: funcad ran new_repeat_count whole passes (data_sink_steps times too many steps)."""
    seen = []

    class Probe(nn.Cell):
        def __init__(self):
            super().__init__()
            self.dense = nn.Dense(1, 1)

        def construct(self, x):
            seen.append(float(x.asnumpy()[0, 0]))
            return self.dense(x)

    data = ds.NumpySlicesDataset({"x": np.arange(5, dtype=np.float32)[:, None], "y": np.zeros((5, 1), np.float32)}, shuffle=False).batch(1)
    net = Probe()
    model = Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.0))
    data_sink_steps, epoch_size = 2, 2
    new_repeat_count = epoch_size * data.get_dataset_size() // data_sink_steps
    steps = []
    monitor = LossMonitor(0)
    monitor.step_end = lambda rc: steps.append((rc.original_args().cur_epoch_num, rc.original_args().cur_step_num, rc.original_args().batch_num))
    model.train(new_repeat_count, data, callbacks=[monitor], dataset_sink_mode=True, sink_size=data_sink_steps)
    assert seen == [0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 1.0, 2.0, 3.0, 4.0]
    assert steps == [(e, s, 2) for e, s in zip((1, 1, 2, 2, 3, 3, 4, 4, 5, 5), range(1, 11))]
    seen.clear()
    model.train(2, data, dataset_sink_mode=False, sink_size=2)  # ignored without sinking, as MindSpore's
    assert len(seen) == 10
    with pytest.raises(ValueError, match="Model.train: sink_size must be -1 or a positive int, got 0"):
        model.train(1, data, dataset_sink_mode=True, sink_size=0)


class ForwardThenGradStep(nn.TrainOneStepCell):
    """The model zoo's most common training cell: the loss from a forward, the gradients from GradOperation."""

    def construct(self, *inputs):
        loss = self.network(*inputs)
        sens = F.fill(loss.dtype, loss.shape, self.sens)
        grads = self.grad(self.network, self.weights)(*inputs, sens)
        grads = self.grad_reducer(grads)
        return F.depend(loss, self.optimizer(grads))


@pytest.mark.parametrize("mode", ["PYNATIVE_MODE", "GRAPH_MODE"])
def test_a_forward_then_its_gradient_moves_batchnorm_statistics_once_per_step(mode):
    """The gradient's second run of the forward updated BatchNorm's moving statistics a second time (0.19 of the batch
    mean after a step instead of MindSpore's 0.1)."""
    x = np.random.default_rng(11).standard_normal((8, 3)).astype(np.float32)
    context.set_context(mode=getattr(context, mode))
    try:
        nets = []
        for cell in (ForwardThenGradStep, nn.TrainOneStepCell):
            ms.set_seed(0)
            net = nn.SequentialCell([nn.Dense(3, 4), nn.BatchNorm1d(4), nn.Dense(4, 2)])
            step = cell(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1))
            step.set_train()
            losses = [float(step(Tensor(x), Tensor(np.zeros((8, 2), np.float32)))) for _ in range(2)]
            nets.append((net, losses))
    finally:
        context.set_context(mode=context.PYNATIVE_MODE)
    (own, own_losses), (reference, reference_losses) = nets
    assert own_losses == reference_losses
    np.testing.assert_array_equal(own[1].moving_mean.asnumpy(), reference[1].moving_mean.asnumpy())
    np.testing.assert_array_equal(own[1].moving_variance.asnumpy(), reference[1].moving_variance.asnumpy())
    one_step = ForwardThenGradStep(nn.WithLossCell(own, nn.MSELoss()), nn.SGD(own.trainable_params(), 0.0))
    own[1].moving_mean.set_data(np.zeros(4, np.float32))
    one_step.set_train()
    one_step(Tensor(x), Tensor(np.zeros((8, 2), np.float32)))
    w, b = own[0].weight.asnumpy(), own[0].bias.asnumpy()
    np.testing.assert_allclose(own[1].moving_mean.asnumpy(), 0.1 * (x @ w.T + b).mean(0), rtol=1e-5, atol=1e-7)  # momentum 0.9, once


@pytest.mark.parametrize("mode", ["PYNATIVE_MODE", "GRAPH_MODE"])
def test_a_forward_then_its_gradient_by_inputs_moves_batchnorm_statistics_once(mode):
    """``GradOperation(get_all=True)`` hands the network tracers of the Tensors its forward just took: the statistics
    still move once (0.1 of the batch mean, not 0.19)."""
    x = np.random.default_rng(12).standard_normal((8, 3)).astype(np.float32)
    context.set_context(mode=getattr(context, mode))
    try:
        ms.set_seed(0)
        net = nn.SequentialCell([nn.Dense(3, 4), nn.BatchNorm1d(4), nn.Dense(4, 2)])
        with_loss = nn.WithLossCell(net, nn.MSELoss())
        with_loss.set_grad()
        with_loss.set_train()
        inputs = Tensor(x), Tensor(np.zeros((8, 2), np.float32))
        loss = with_loss(*inputs)
        ops.GradOperation(get_all=True, sens_param=True)(with_loss)(*inputs, F.fill(loss.dtype, loss.shape, 1.0))
    finally:
        context.set_context(mode=context.PYNATIVE_MODE)
    w, b = net[0].weight.asnumpy(), net[0].bias.asnumpy()
    np.testing.assert_allclose(net[1].moving_mean.asnumpy(), 0.1 * (x @ w.T + b).mean(0), rtol=1e-5, atol=1e-7)


class ValueAndGradStep(nn.Cell):
    """A training cell written with MindSpore's nn.ForwardValueAndGrad."""

    def __init__(self, network, optimizer):
        super(ValueAndGradStep, self).__init__(auto_prefix=False)
        self.network = network
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.forward_and_grad = nn.ForwardValueAndGrad(network, weights=self.weights, get_by_list=True, sens_param=True)

    def construct(self, x, y):
        loss, grads = self.forward_and_grad(x, y, Tensor(np.float32(1.0)))
        return F.depend(loss, self.optimizer(grads))


def test_forward_value_and_grad_and_with_grad_cell_against_torch():
    """nn.ForwardValueAndGrad and nn.WithGradCell were missing."""
    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((6, 3)).astype(np.float32), rng.standard_normal((6, 2)).astype(np.float32)
    ms.set_seed(1)
    net = nn.SequentialCell([nn.Dense(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Dense(4, 2)])
    net.set_train()
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4, momentum=0.1), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    _copy_into_torch(net, module)
    loss = torch.nn.functional.mse_loss(module(torch.from_numpy(x)), torch.from_numpy(y))
    want = torch.autograd.grad(loss, list(module.parameters()))
    grads = nn.WithGradCell(net, nn.MSELoss())(Tensor(x), Tensor(y))
    for g, w in zip(grads, want):
        np.testing.assert_allclose(g.asnumpy(), w.numpy(), rtol=1e-5, atol=1e-6)
    halved = nn.WithGradCell(nn.WithLossCell(net, nn.MSELoss()), sens=0.5)(Tensor(x), Tensor(y))
    for g, w in zip(halved, want):
        np.testing.assert_allclose(g.asnumpy(), 0.5 * w.numpy(), rtol=1e-5, atol=1e-6)
    start = [p.asnumpy().copy() for p in net.trainable_params()]
    net[1].moving_mean.set_data(np.zeros(4, np.float32))
    step = ValueAndGradStep(nn.WithLossCell(net, nn.MSELoss()), nn.SGD(net.trainable_params(), 0.1))
    got = step(Tensor(x), Tensor(y))
    assert float(got) == pytest.approx(loss.item(), rel=1e-6)
    for p, s, w in zip(net.trainable_params(), start, want):
        np.testing.assert_allclose(p.asnumpy(), s - 0.1 * w.numpy(), rtol=1e-5, atol=1e-6)
    hidden = x @ start[0].T + start[1]
    np.testing.assert_allclose(net[1].moving_mean.asnumpy(), 0.1 * hidden.mean(0), rtol=1e-5, atol=1e-7)  # moved once
    with pytest.raises(TypeError, match="ForwardValueAndGrad: get_by_list=True needs the weights"):
        nn.ForwardValueAndGrad(net, get_by_list=True)
    _copy_into_torch(net, module)
    tx, ty = torch.from_numpy(x).requires_grad_(), torch.from_numpy(y).requires_grad_()
    loss = torch.nn.functional.mse_loss(module(tx), ty)
    inputs_only = nn.ForwardValueAndGrad(nn.WithLossCell(net, nn.MSELoss()), get_all=True)
    value, (dx, dy) = inputs_only(Tensor(x), Tensor(y))
    assert float(value) == pytest.approx(loss.item(), rel=1e-6)
    for g, w in zip((dx, dy), torch.autograd.grad(loss, (tx, ty))):
        np.testing.assert_allclose(g.asnumpy(), w.numpy(), rtol=1e-5, atol=1e-6)


def test_cast_takes_a_python_number_as_zoo_code_passes_shapes():
    """``F.cast(F.shape(x)[0], mstype.float32)`` scales by the batch size in the zoo's losses, eagerly and compiled."""
    three = F.cast(3, mstype.float32)
    assert three.asnumpy().dtype == np.float32 and float(three.asnumpy()) == 3.0
    x = Tensor(np.arange(4, dtype=np.float32))
    scaled = ms.jit(lambda t: t / F.cast(F.shape(t)[0], mstype.float32))(x)
    np.testing.assert_array_equal(scaled.asnumpy(), np.arange(4, dtype=np.float32) / 4)
