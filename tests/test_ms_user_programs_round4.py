"""MindSpore 2.x tutorials from mindspore-ai/docs run with their imports changed to funcad (``import funcad as ms``,
``from funcad import nn, ops``), downloads replaced by small synthetic arrays of the same layout and models scaled
down through their constructor arguments. Each checks values: the outputs the tutorial page prints, closed forms, or
the same computation in torch (float64 where the tutorial's own constants allow it), from the same weights and batches.
"""
# ruff: noqa: UP008, UP028, UP032, UP034, UP039, N802, N806 - the programs keep the tutorials' code as written (super(Class, self), .format,
# their function names)

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from idx_files import write_idx
from PIL import Image

import funcad as ms
import funcad.dataset as ds
from funcad import Parameter, ParameterTuple, Tensor, nn, ops
from funcad.common.initializer import Initializer, Normal, initializer
from funcad.dataset import FashionMnistDataset, GeneratorDataset
from funcad.dataset.vision import RandomHorizontalFlip, ToPIL, ToTensor
from funcad.train import LossMonitor, Model
from torch_ref import mirror_twin


def _t(x) -> torch.Tensor:
    return torch.tensor(np.asarray(x), dtype=torch.float64)


# ---- tutorials/source_zh_cn/advanced/modules/loss.ipynb ------------------------------------------------------------

class MAELossCell(nn.Cell):
    """自定义损失函数MAELoss (the tutorial's first form: a Cell)."""
    def construct(self, base, target):
        return ops.abs(base - target).mean()


class MAELoss(nn.LossBase):
    """自定义损失函数MAELoss (the tutorial's second form, on LossBase)."""
    def construct(self, base, target):
        x = ops.abs(base - target)
        return self.get_loss(x)  # 返回loss均值


class MAELossForMultiLabel(nn.LossBase):
    def construct(self, base, target1, target2):
        x1 = ops.abs(base - target1)
        x2 = ops.abs(base - target2)
        return (self.get_loss(x1) + self.get_loss(x2)) / 2


def test_loss_tutorial_built_in_and_custom_losses_print_the_published_values(capsys):
    loss = nn.L1Loss()
    loss_sum = nn.L1Loss(reduction='sum')
    loss_none = nn.L1Loss(reduction='none')
    input_data = Tensor(np.array([[1, 2, 3], [2, 3, 4]]).astype(np.float32))
    target_data = Tensor(np.array([[0, 2, 5], [3, 1, 1]]).astype(np.float32))
    print("loss:", loss(input_data, target_data))
    print("loss_sum:", loss_sum(input_data, target_data))
    print("loss_none:", loss_none(input_data, target_data))
    for loss in (MAELossCell(), MAELoss()):
        input_data = Tensor(np.array([0.1, 0.2, 0.3]).astype(np.float32))  # 生成预测值
        target_data = Tensor(np.array([0.1, 0.2, 0.2]).astype(np.float32))  # 生成真实值
        print(loss(input_data, target_data))
    assert capsys.readouterr().out == ("loss: 1.5\nloss_sum: 9.0\nloss_none: [[1. 0. 2.]\n [1. 2. 3.]]\n"
                                       "0.033333335\n0.033333335\n")


def get_data(num, w=2.0, b=3.0):
    """生成数据及对应标签"""
    for _ in range(num):
        x = np.random.uniform(-10.0, 10.0)
        noise = np.random.normal(0, 1)
        y = x * w + b + noise
        yield np.array([x]).astype(np.float32), np.array([y]).astype(np.float32)


def create_dataset(num_data, batch_size=16):
    dataset = GeneratorDataset(list(get_data(num_data)), column_names=['data', 'label'])
    dataset = dataset.batch(batch_size)
    return dataset


def _torch_dense_momentum(start, batches, lr, momentum, loss_of):
    """Dense(1, 1) from weights ``start`` trained by torch's SGD with momentum (MindSpore's Momentum: v = m v + g,
    w -= lr v) in float64."""
    w, b = (_t(value).requires_grad_() for value in start)
    opt = torch.optim.SGD([w, b], lr=lr, momentum=momentum)
    for batch in batches:
        opt.zero_grad()
        x = _t(batch[0])
        loss_of(x @ w.T + b, *(_t(y) for y in batch[1:])).backward()
        opt.step()
    return w.detach().numpy(), b.detach().numpy()


def test_loss_tutorial_model_train_with_a_loss_base_subclass_matches_torch(capsys):
    np.random.seed(0)
    train_dataset = create_dataset(num_data=160)
    network = nn.Dense(1, 1)
    start = [p.asnumpy().copy() for p in network.trainable_params()]
    loss_fn = MAELoss()
    optimizer = nn.Momentum(network.trainable_params(), learning_rate=0.005, momentum=0.9)
    model = Model(network, loss_fn, optimizer)
    ds.config.set_seed(5)  # the shuffles are drawn as the epochs read the dataset
    model.train(10, train_dataset, callbacks=[LossMonitor(10)])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == [f"epoch: {e} step: 10" for e in range(1, 11)]

    ds.config.set_seed(5)  # the same ten shuffles of the same rows, read again for torch
    batches = [tuple(c.asnumpy() for c in batch) for _ in range(10) for batch in train_dataset.create_tuple_iterator()]
    w, b = _torch_dense_momentum(start, batches, 0.005, 0.9, lambda out, y: (out - y).abs().mean())
    np.testing.assert_allclose(network.weight.asnumpy(), w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(network.bias.asnumpy(), b, rtol=1e-4, atol=1e-5)
    assert float(lines[-1].split("loss is ")[1]) < 3.0  # y = 2x + 3 + noise: the fit nears the noise's level


def get_multilabel_data(num, w=2.0, b=3.0):
    for _ in range(num):
        x = np.random.uniform(-10.0, 10.0)
        noise1 = np.random.normal(0, 1)
        noise2 = np.random.normal(-1, 1)
        y1 = x * w + b + noise1
        y2 = x * w + b + noise2
        yield np.array([x]).astype(np.float32), np.array([y1]).astype(np.float32), np.array([y2]).astype(np.float32)


def create_multilabel_dataset(num_data, batch_size=16):
    dataset = GeneratorDataset(list(get_multilabel_data(num_data)), column_names=['data', 'label1', 'label2'])
    dataset = dataset.batch(batch_size)  # 每个batch有16个数据
    return dataset


def test_loss_tutorial_multilabel_training_loop_matches_torch_step_by_step(capsys):
    np.random.seed(1)
    network = nn.Dense(1, 1)
    start = [p.asnumpy().copy() for p in network.trainable_params()]
    train_dataset = create_multilabel_dataset(num_data=160)
    loss_fn = MAELossForMultiLabel()
    opt = nn.Momentum(network.trainable_params(), learning_rate=0.005, momentum=0.9)
    seen = []

    def forward_fn(data, label1, label2):
        output = network(data)
        return loss_fn(output, label1, label2)

    grad_fn = ms.value_and_grad(forward_fn, None, opt.parameters)

    def train_step(data, label1, label2):
        seen.append((data.asnumpy(), label1.asnumpy(), label2.asnumpy()))
        loss, grads = grad_fn(data, label1, label2)
        opt(grads)
        return loss

    def train(model, dataset):
        size = dataset.get_dataset_size()
        model.set_train()
        for batch, (data, label1, label2) in enumerate(dataset.create_tuple_iterator()):
            loss = train_step(data, label1, label2)
            if batch % 2 == 0:
                loss, current = loss.asnumpy(), batch
                print(f"loss: {loss:>7f}  [{current:>3d}/{size:>3d}]")

    for t in range(5):
        print(f"Epoch {t+1}\n-------------------------------")
        train(network, train_dataset)
    print("Done!")
    out = capsys.readouterr().out
    assert out.count("Epoch ") == 5 and out.count("/ 10]") == 25 and out.endswith("Done!\n")
    w, b = _torch_dense_momentum(start, seen, 0.005, 0.9,
                                 lambda out, y1, y2: ((out - y1).abs().mean() + (out - y2).abs().mean()) / 2)
    np.testing.assert_allclose(network.weight.asnumpy(), w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(network.bias.asnumpy(), b, rtol=1e-4, atol=1e-5)


# ---- tutorials/source_zh_cn/advanced/modules/layer.ipynb -----------------------------------------------------------

class Network(nn.Cell):
    def __init__(self):
        super().__init__()
        self.w = Parameter(Tensor(np.random.randn(5, 3), ms.float32), name='w')  # weight
        self.b = Parameter(Tensor(np.random.randn(3,), ms.float32), name='b')  # bias

    def construct(self, x):
        z = ops.matmul(x, self.w) + self.b
        return z


def test_layer_tutorial_parameters_print_update_and_clone_as_published(capsys):
    np.random.seed(2)
    net = Network()
    b0 = net.b.asnumpy().copy()
    print(net.trainable_params())
    print(type(net.get_parameters()))
    net.b[0] = 1.
    print(net.b.asnumpy())
    net.b.set_data(Tensor([3, 4, 5]))
    print(net.b.asnumpy())

    @ms.jit
    def modify_parameter():
        b_hat = ms.Tensor([7, 8, 9])
        ops.assign(net.b, b_hat)
        return True

    modify_parameter()
    print(net.b.asnumpy())

    x = Parameter(default_input=ms.Tensor(np.arange(2 * 3).reshape((2, 3))), name="x")
    y = Parameter(default_input=initializer('ones', [1, 2, 3], ms.float32), name='y')
    z = Parameter(default_input=2.0, name='z')
    params = ParameterTuple((x, y, z))
    params_copy = params.clone("params_copy")  # 从params克隆并修改名称为"params_copy"
    print(params)
    print(params_copy)
    net.set_train()
    print(net.phase)
    net.set_train(False)
    print(net.phase)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("[Parameter (name=w, shape=(5, 3), dtype=Float32, requires_grad=True), "
                      "Parameter (name=b, shape=(3,), dtype=Float32, requires_grad=True)]")
    assert out[1] == "<class 'generator'>"
    np.testing.assert_allclose(np.array(out[2].strip("[]").split(), np.float32), np.r_[1.0, b0[1:]], rtol=1e-6)
    assert out[3:5] == ["[3. 4. 5.]", "[7. 8. 9.]"]
    assert out[5:] == [
        "(Parameter (name=x, shape=(2, 3), dtype=Int64, requires_grad=True), Parameter (name=y, shape=(1, 2, 3), "
        "dtype=Float32, requires_grad=True), Parameter (name=z, shape=(), dtype=Float32, requires_grad=True))",
        "(Parameter (name=params_copy.x, shape=(2, 3), dtype=Int64, requires_grad=True), Parameter (name=params_copy.y, "
        "shape=(1, 2, 3), dtype=Float32, requires_grad=True), Parameter (name=params_copy.z, shape=(), dtype=Float32, "
        "requires_grad=True))",
        "train", "predict"]
    np.testing.assert_array_equal(params_copy[1].asnumpy(), np.ones((1, 2, 3), np.float32))
    assert params_copy[0] is not x and params_copy[0].asnumpy().tolist() == [[0, 1, 2], [3, 4, 5]]


def test_parameter_takes_mindspore_s_positional_arguments_and_phase_starts_as_train():
    p = Parameter(Tensor(np.ones(2, np.float32)), "p", False, True, False)  # layerwise_parallel, parallel_optimizer
    assert (p.name, p.requires_grad) == ("p", False)
    assert nn.Dense(2, 2).phase == "train"  # MindSpore's Cell starts in the 'train' phase, before any set_train
    cell = nn.Dense(2, 2)
    cell.phase = "export"
    assert cell.phase == "export"


class Threshold(nn.Cell):
    def __init__(self, threshold, value):
        super().__init__()
        self.threshold = threshold
        self.value = value

    def construct(self, inputs):
        cond = ops.gt(inputs, self.threshold)
        value = ops.fill(inputs.dtype, inputs.shape, self.value)
        return ops.select(cond, inputs, value)


def test_layer_tutorial_threshold_cell_as_published():
    m = Threshold(0.1, 20)
    inputs = ms.Tensor([0.1, 0.2, 0.3], ms.float32)
    np.testing.assert_array_equal(m(inputs).asnumpy(), np.array([2.00000000e+01, 2.00000003e-01, 3.00000012e-01], np.float32))
    g = ms.grad(lambda v: m(v).sum())(inputs)  # the kept elements pass their gradient, the filled one none
    np.testing.assert_array_equal(g.asnumpy(), [0.0, 1.0, 1.0])


class Dropout2d(nn.Cell):
    def __init__(self, keep_prob):
        super().__init__()
        self.keep_prob = keep_prob
        self.dropout2d = ops.Dropout2D(keep_prob)

    def construct(self, x):
        return self.dropout2d(x)

    def bprop(self, x, out, dout):
        _, mask = out
        dy, _ = dout
        if self.keep_prob != 0:
            dy = dy * (1 / self.keep_prob)
        dy = mask.astype(ms.float32) * dy
        return (dy.astype(x.dtype), )


def test_layer_tutorial_dropout2d_cell_with_a_custom_bprop():
    ms.set_seed(3)
    dropout_2d = Dropout2d(0.8)
    dropout_2d.bprop_debug = True
    x = Tensor(np.random.default_rng(0).normal(size=(16, 32, 3, 3)).astype(np.float32))

    def loss(x):
        out, _ = dropout_2d(x)
        return (out * out).sum()

    ms.set_seed(4)
    out, mask = dropout_2d(x)
    ms.set_seed(4)  # the same draw again: bprop must see this forward's mask, not a second draw's
    grad = ms.grad(loss)(x)
    mask = mask.asnumpy()
    assert mask.dtype == np.bool_ and mask.shape == x.shape
    assert (mask == mask[:, :, :1, :1]).all()  # whole channels dropped together
    assert 0.7 < mask[:, :, 0, 0].mean() < 0.9  # 512 channels kept with probability 0.8
    np.testing.assert_allclose(out.asnumpy(), x.asnumpy() * mask / 0.8, rtol=1e-6)
    # bprop: dout (2 out) scaled by 1 / keep_prob on the kept channels
    np.testing.assert_allclose(grad.asnumpy(), 2 * out.asnumpy() / 0.8 * mask, rtol=1e-5)


@pytest.mark.parametrize("make, error, match", [
    (lambda: ops.Dropout2D(0.5)(Tensor(np.ones((2, 3, 4), np.float32))), ValueError,
     r"funcad.ops.Dropout2D: expected a 4-D input .* got shape \(2, 3, 4\)"),
    (lambda: ops.Dropout3D(0.5)(Tensor(np.ones((2, 3, 4, 4), np.float32))), ValueError, "funcad.ops.Dropout3D: expected a 5-D"),
    (lambda: ops.Dropout2D(0.0), ValueError, r"funcad.ops.Dropout2D: keep_prob must be in \(0, 1\], got 0.0"),
], ids=["dropout2d_rank", "dropout3d_rank", "keep_prob"])
def test_channel_dropout_primitives_refuse_bad_input(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_dropout3d_keeps_whole_channels():
    out, mask = ops.Dropout3D(0.5)(Tensor(np.ones((4, 8, 2, 2, 2), np.float32)))
    mask = mask.asnumpy()
    assert (mask == mask[..., :1, :1, :1]).all() and 0 < mask.mean() < 1
    np.testing.assert_array_equal(out.asnumpy(), mask * 2.0)


class NetWithParam(nn.Cell):
    def __init__(self):
        super(NetWithParam, self).__init__()
        self.w = Parameter(Tensor(np.array([2.0], dtype=np.float32)), name='weight')
        self.internal_params = [self.w]

    def construct(self, x):
        output = self.w * x
        return output

    def bprop(self, *args):
        return (self.w * args[-1],), {self.w: args[0] * args[-1]}


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "jit"])
def test_layer_tutorial_bprop_gives_internal_parameters_their_gradient(compiled):
    net = NetWithParam()
    x = Tensor(np.array([3.0], np.float32))
    grad_fn = ms.grad(lambda x: (net(x) * 4.0).sum(), grad_position=0, weights=net.trainable_params())
    if compiled:
        grad_fn = ms.jit(grad_fn)
    gx, (gw,) = grad_fn(x)
    np.testing.assert_allclose(gx.asnumpy(), [2.0 * 4.0])  # the bprop's w * dout
    np.testing.assert_allclose(gw.asnumpy(), [3.0 * 4.0])  # its x * dout for the internal parameter


def test_bprop_gradient_for_a_parameter_outside_internal_params_is_an_error():
    class Wrong(NetWithParam):
        def __init__(self):
            super().__init__()
            self.v = Parameter(Tensor(np.array([1.0], np.float32)), name='v')

        def bprop(self, *args):
            return (self.w * args[-1],), {self.v: args[-1]}

    net = Wrong()
    with pytest.raises(ValueError, match=r"Wrong.bprop: gradients given for Parameters not in internal_params: \['v'\]"):
        ms.grad(net, weights=net.trainable_params())(Tensor(np.array([3.0], np.float32)))
    net.internal_params = [net.w, "v"]
    with pytest.raises(TypeError, match="Wrong.internal_params: expected Parameters, got str"):
        net(Tensor(np.array([3.0], np.float32)))


# ---- tutorials/source_zh_cn/advanced/modules/initializer.ipynb -----------------------------------------------------

def _calculate_fan_in_and_fan_out(arr):
    # 计算fan_in和fan_out。fan_in是 `arr` 中输入单元的数量，fan_out是 `arr` 中输出单元的数量。
    shape = arr.shape
    dimensions = len(shape)
    if dimensions < 2:
        raise ValueError("'fan_in' and 'fan_out' can not be computed for arr with fewer than"
                         " 2 dimensions, but got dimensions {}.".format(dimensions))
    if dimensions == 2:  # Linear
        fan_in = shape[1]
        fan_out = shape[0]
    else:
        num_input_fmaps = shape[1]
        num_output_fmaps = shape[0]
        receptive_field_size = 1
        for i in range(2, dimensions):
            receptive_field_size *= shape[i]
        fan_in = num_input_fmaps * receptive_field_size
        fan_out = num_output_fmaps * receptive_field_size
    return fan_in, fan_out


class XavierNormal(Initializer):
    def __init__(self, gain=1):
        super().__init__()
        self.gain = gain  # 配置初始化所需要的参数

    def _initialize(self, arr):  # arr为需要初始化的Tensor
        fan_in, fan_out = _calculate_fan_in_and_fan_out(arr)  # 计算fan_in, fan_out值
        std = self.gain * math.sqrt(2.0 / float(fan_in + fan_out))  # 根据公式计算std值
        data = np.random.normal(0, std, arr.shape)  # 使用numpy构造初始化好的ndarray
        arr[:] = data[:]  # 将初始化好的ndarray赋值到arr


def test_initializer_tutorial_built_in_custom_and_set_data_initialisation():
    input_data = ms.Tensor(np.ones([1, 3, 16, 50], dtype=np.float32))
    # 卷积层，输入通道为3，输出通道为64，卷积核大小为3*3，权重参数使用正态分布生成的随机数
    net = nn.Conv2d(3, 64, 3, weight_init=Normal(0.2))
    output = net(input_data)
    assert output.shape == (1, 64, 16, 50) and 0.17 < float(net.weight.asnumpy().std()) < 0.23  # 1728 draws of N(0, 0.2)
    # the default pad_mode 'same' of a 3x3 kernel: torch's padding 1, no bias by default
    expected = TF.conv2d(_t(input_data.asnumpy()), _t(net.weight.asnumpy()), padding=1)
    np.testing.assert_allclose(output.asnumpy(), expected.numpy(), rtol=1e-5, atol=1e-5)

    net = nn.Conv2d(3, 64, 3, weight_init='normal')
    output = net(input_data)
    assert 0.008 < float(net.weight.asnumpy().std()) < 0.012  # 'normal' is Normal(sigma=0.01)

    np.random.seed(7)
    net = nn.Conv2d(3, 64, 3, weight_init=XavierNormal())
    output = net(input_data)
    np.random.seed(7)  # the custom initializer drew numpy's numbers: the same ones, of std sqrt(2 / (27 + 576))
    expected = np.random.normal(0, math.sqrt(2.0 / (3 * 9 + 64 * 9)), (64, 3, 3, 3)).astype(np.float32)
    np.testing.assert_array_equal(net.weight.asnumpy(), expected)

    net = nn.Conv2d(3, 64, 3, has_bias=True)
    for name, param in net.parameters_and_names():
        if 'weight' in name:
            param.set_data(initializer(Normal(), param.shape, param.dtype))
        if 'bias' in name:
            param.set_data(initializer('zeros', param.shape, param.dtype))
    assert 0.008 < float(net.weight.asnumpy().std()) < 0.012 and not net.bias.asnumpy().any()


# ---- tutorials/source_zh_cn/generative/diffusion.ipynb (Unet scaled to 8x8 images with dim=8) --------------------

def rearrange(head, inputs):
    b, hc, x, y = inputs.shape
    c = hc // head
    return inputs.reshape((b, head, c, x * y))


def rsqrt(x):
    res = ops.sqrt(x)
    return ops.inv(res)


def randn_like(x, dtype=None):
    if dtype is None:
        dtype = x.dtype
    res = ops.standard_normal(x.shape).astype(dtype)
    return res


def randn(shape, dtype=None):
    if dtype is None:
        dtype = ms.float32
    res = ops.standard_normal(shape).astype(dtype)
    return res


def randint(low, high, size, dtype=ms.int32):
    res = ops.uniform(size, Tensor(low, dtype), Tensor(high, dtype), dtype=dtype)
    return res


def exists(x):
    return x is not None


def default(val, d):
    if exists(val):
        return val
    return d() if callable(d) else d


class Residual(nn.Cell):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def construct(self, x, *args, **kwargs):
        return self.fn(x, *args, **kwargs) + x


def Upsample(dim):
    return nn.Conv2dTranspose(dim, dim, 4, 2, pad_mode="pad", padding=1)


def Downsample(dim):
    return nn.Conv2d(dim, dim, 4, 2, pad_mode="pad", padding=1)


class SinusoidalPositionEmbeddings(nn.Cell):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim
        half_dim = self.dim // 2
        emb = math.log(10000) / (half_dim - 1)
        emb = np.exp(np.arange(half_dim) * - emb)
        self.emb = Tensor(emb, ms.float32)

    def construct(self, x):
        emb = x[:, None] * self.emb[None, :]
        emb = ops.concat((ops.sin(emb), ops.cos(emb)), axis=-1)
        return emb


class ConvNextBlock(nn.Cell):
    def __init__(self, dim, dim_out, *, time_emb_dim=None, mult=2, norm=True):
        super().__init__()
        self.mlp = (
            nn.SequentialCell(nn.GELU(), nn.Dense(time_emb_dim, dim))
            if exists(time_emb_dim)
            else None
        )
        self.ds_conv = nn.Conv2d(dim, dim, 7, padding=3, group=dim, pad_mode="pad")
        self.net = nn.SequentialCell(
            nn.GroupNorm(1, dim) if norm else nn.Identity(),
            nn.Conv2d(dim, dim_out * mult, 3, padding=1, pad_mode="pad"),
            nn.GELU(),
            nn.GroupNorm(1, dim_out * mult),
            nn.Conv2d(dim_out * mult, dim_out, 3, padding=1, pad_mode="pad"),
        )
        self.res_conv = nn.Conv2d(dim, dim_out, 1) if dim != dim_out else nn.Identity()

    def construct(self, x, time_emb=None):
        h = self.ds_conv(x)
        if exists(self.mlp) and exists(time_emb):
            assert exists(time_emb), "time embedding must be passed in"
            condition = self.mlp(time_emb)
            condition = condition.expand_dims(-1).expand_dims(-1)
            h = h + condition
        h = self.net(h)
        return h + self.res_conv(x)


class Attention(nn.Cell):
    def __init__(self, dim, heads=4, dim_head=32):
        super().__init__()
        self.scale = dim_head ** -0.5
        self.heads = heads
        hidden_dim = dim_head * heads
        self.to_qkv = nn.Conv2d(dim, hidden_dim * 3, 1, pad_mode='valid', has_bias=False)
        self.to_out = nn.Conv2d(hidden_dim, dim, 1, pad_mode='valid', has_bias=True)
        self.map = ops.Map()
        self.partial = ops.Partial()

    def construct(self, x):
        b, _, h, w = x.shape
        qkv = self.to_qkv(x).chunk(3, 1)
        q, k, v = self.map(self.partial(rearrange, self.heads), qkv)
        q = q * self.scale
        # 'b h d i, b h d j -> b h i j'
        sim = ops.bmm(q.swapaxes(2, 3), k)
        attn = ops.softmax(sim, axis=-1)
        # 'b h i j, b h d j -> b h i d'
        out = ops.bmm(attn, v.swapaxes(2, 3))
        out = out.swapaxes(-1, -2).reshape((b, -1, h, w))
        return self.to_out(out)


class LayerNorm(nn.Cell):
    def __init__(self, dim):
        super().__init__()
        self.g = Parameter(initializer('ones', (1, dim, 1, 1)), name='g')

    def construct(self, x):
        eps = 1e-5
        var = x.var(1, keepdims=True)
        mean = x.mean(1, keep_dims=True)
        return (x - mean) * rsqrt((var + eps)) * self.g


class LinearAttention(nn.Cell):
    def __init__(self, dim, heads=4, dim_head=32):
        super().__init__()
        self.scale = dim_head ** -0.5
        self.heads = heads
        hidden_dim = dim_head * heads
        self.to_qkv = nn.Conv2d(dim, hidden_dim * 3, 1, pad_mode='valid', has_bias=False)
        self.to_out = nn.SequentialCell(
            nn.Conv2d(hidden_dim, dim, 1, pad_mode='valid', has_bias=True),
            LayerNorm(dim)
        )
        self.map = ops.Map()
        self.partial = ops.Partial()

    def construct(self, x):
        b, _, h, w = x.shape
        qkv = self.to_qkv(x).chunk(3, 1)
        q, k, v = self.map(self.partial(rearrange, self.heads), qkv)
        q = ops.softmax(q, -2)
        k = ops.softmax(k, -1)
        q = q * self.scale
        v = v / (h * w)
        # 'b h d n, b h e n -> b h d e'
        context = ops.bmm(k, v.swapaxes(2, 3))
        # 'b h d e, b h d n -> b h e n'
        out = ops.bmm(context.swapaxes(2, 3), q)
        out = out.reshape((b, -1, h, w))
        return self.to_out(out)


class PreNorm(nn.Cell):
    def __init__(self, dim, fn):
        super().__init__()
        self.fn = fn
        self.norm = nn.GroupNorm(1, dim)

    def construct(self, x):
        x = self.norm(x)
        return self.fn(x)


class Unet(nn.Cell):
    def __init__(self, dim, init_dim=None, out_dim=None, dim_mults=(1, 2, 4, 8), channels=3, with_time_emb=True,
                 convnext_mult=2):
        super().__init__()
        self.channels = channels
        init_dim = default(init_dim, dim // 3 * 2)
        self.init_conv = nn.Conv2d(channels, init_dim, 7, padding=3, pad_mode="pad", has_bias=True)
        dims = [init_dim, *map(lambda m: dim * m, dim_mults)]
        in_out = list(zip(dims[:-1], dims[1:]))
        block_klass = partial(ConvNextBlock, mult=convnext_mult)
        if with_time_emb:
            time_dim = dim * 4
            self.time_mlp = nn.SequentialCell(
                SinusoidalPositionEmbeddings(dim),
                nn.Dense(dim, time_dim),
                nn.GELU(),
                nn.Dense(time_dim, time_dim),
            )
        else:
            time_dim = None
            self.time_mlp = None
        self.downs = nn.CellList([])
        self.ups = nn.CellList([])
        num_resolutions = len(in_out)
        for ind, (dim_in, dim_out) in enumerate(in_out):
            is_last = ind >= (num_resolutions - 1)
            self.downs.append(nn.CellList([
                block_klass(dim_in, dim_out, time_emb_dim=time_dim),
                block_klass(dim_out, dim_out, time_emb_dim=time_dim),
                Residual(PreNorm(dim_out, LinearAttention(dim_out))),
                Downsample(dim_out) if not is_last else nn.Identity(),
            ]))
        mid_dim = dims[-1]
        self.mid_block1 = block_klass(mid_dim, mid_dim, time_emb_dim=time_dim)
        self.mid_attn = Residual(PreNorm(mid_dim, Attention(mid_dim)))
        self.mid_block2 = block_klass(mid_dim, mid_dim, time_emb_dim=time_dim)
        for ind, (dim_in, dim_out) in enumerate(reversed(in_out[1:])):
            is_last = ind >= (num_resolutions - 1)
            self.ups.append(nn.CellList([
                block_klass(dim_out * 2, dim_in, time_emb_dim=time_dim),
                block_klass(dim_in, dim_in, time_emb_dim=time_dim),
                Residual(PreNorm(dim_in, LinearAttention(dim_in))),
                Upsample(dim_in) if not is_last else nn.Identity(),
            ]))
        out_dim = default(out_dim, channels)
        self.final_conv = nn.SequentialCell(block_klass(dim, dim), nn.Conv2d(dim, out_dim, 1))

    def construct(self, x, time):
        x = self.init_conv(x)
        t = self.time_mlp(time) if exists(self.time_mlp) else None
        h = []
        for block1, block2, attn, downsample in self.downs:
            x = block1(x, t)
            x = block2(x, t)
            x = attn(x)
            h.append(x)
            x = downsample(x)
        x = self.mid_block1(x, t)
        x = self.mid_attn(x)
        x = self.mid_block2(x, t)
        len_h = len(h) - 1
        for block1, block2, attn, upsample in self.ups:
            x = ops.concat((x, h[len_h]), 1)
            len_h -= 1
            x = block1(x, t)
            x = block2(x, t)
            x = attn(x)
            x = upsample(x)
        return self.final_conv(x)


def linear_beta_schedule(timesteps):
    beta_start = 0.0001
    beta_end = 0.02
    return np.linspace(beta_start, beta_end, timesteps).astype(np.float32)


timesteps = 200  # 扩散200步
betas = linear_beta_schedule(timesteps=timesteps)
alphas = 1. - betas
alphas_cumprod = np.cumprod(alphas, axis=0)
alphas_cumprod_prev = np.pad(alphas_cumprod[:-1], (1, 0), constant_values=1)
sqrt_recip_alphas = Tensor(np.sqrt(1. / alphas))
sqrt_alphas_cumprod = Tensor(np.sqrt(alphas_cumprod))
sqrt_one_minus_alphas_cumprod = Tensor(np.sqrt(1. - alphas_cumprod))
posterior_variance = betas * (1. - alphas_cumprod_prev) / (1. - alphas_cumprod)  # 计算 q(x_{t-1} | x_t, x_0)
p2_loss_weight = (1 + alphas_cumprod / (1 - alphas_cumprod)) ** -0.
p2_loss_weight = Tensor(p2_loss_weight)


def extract(a, t, x_shape):
    b = t.shape[0]
    out = Tensor(a).gather(t, -1)
    return out.reshape(b, *((1,) * (len(x_shape) - 1)))


reverse_transform = [
    lambda t: (t + 1) / 2,
    lambda t: ops.permute(t, (1, 2, 0)),  # CHW to HWC
    lambda t: t * 255.,
    lambda t: t.asnumpy().astype(np.uint8),
    ToPIL()
]


def compose(transform, x):
    for d in transform:
        x = d(x)
    return x


def q_sample(x_start, t, noise=None):
    if noise is None:
        noise = randn_like(x_start)
    return (extract(sqrt_alphas_cumprod, t, x_start.shape) * x_start +
            extract(sqrt_one_minus_alphas_cumprod, t, x_start.shape) * noise)


def p_losses(unet_model, x_start, t, noise=None):
    if noise is None:
        noise = randn_like(x_start)
    x_noisy = q_sample(x_start=x_start, t=t, noise=noise)
    predicted_noise = unet_model(x_noisy, t)
    loss = nn.SmoothL1Loss()(noise, predicted_noise)  # todo
    loss = loss.reshape(loss.shape[0], -1)
    loss = loss * extract(p2_loss_weight, t, loss.shape)
    return loss.mean()


def p_sample(model, x, t, t_index):
    betas_t = extract(betas, t, x.shape)
    sqrt_one_minus_alphas_cumprod_t = extract(sqrt_one_minus_alphas_cumprod, t, x.shape)
    sqrt_recip_alphas_t = extract(sqrt_recip_alphas, t, x.shape)
    model_mean = sqrt_recip_alphas_t * (x - betas_t * model(x, t) / sqrt_one_minus_alphas_cumprod_t)
    if t_index == 0:
        return model_mean
    posterior_variance_t = extract(posterior_variance, t, x.shape)
    noise = randn_like(x)
    return model_mean + ops.sqrt(posterior_variance_t) * noise


def p_sample_loop(model, shape):
    b = shape[0]
    img = randn(shape, dtype=None)  # 从纯噪声开始
    imgs = []
    for i in reversed(range(0, timesteps)):
        img = p_sample(model, img, ms.numpy.full((b,), i, dtype=ms.int32), i)
        imgs.append(img.asnumpy())
    return imgs


def sample(model, image_size, batch_size=16, channels=3):
    return p_sample_loop(model, shape=(batch_size, channels, image_size, image_size))


def _torch_linear_attention(x, w_qkv, w_out, b_out, g, heads=4, dim_head=32):
    """The tutorial's LinearAttention (with its LayerNorm) written in torch, float64."""
    b, _, h, w = x.shape
    q, k, v = (part.reshape(b, heads, dim_head, h * w) for part in TF.conv2d(x, w_qkv).chunk(3, 1))
    q = q.softmax(-2) * dim_head ** -0.5
    k = k.softmax(-1)
    v = v / (h * w)
    context = k @ v.transpose(2, 3)
    out = (context.transpose(2, 3) @ q).reshape(b, -1, h, w)
    out = TF.conv2d(out, w_out, b_out)
    mean, var = out.mean(1, keepdim=True), out.var(1, keepdim=True, unbiased=False)
    return (out - mean) / (var + 1e-5).sqrt() * g


def _torch_attention(x, w_qkv, w_out, b_out, heads=4, dim_head=32):
    b, _, h, w = x.shape
    q, k, v = (part.reshape(b, heads, dim_head, h * w) for part in TF.conv2d(x, w_qkv).chunk(3, 1))
    attn = ((q * dim_head ** -0.5).transpose(2, 3) @ k).softmax(-1)
    out = (attn @ v.transpose(2, 3)).transpose(-1, -2).reshape(b, -1, h, w)
    return TF.conv2d(out, w_out, b_out)


def test_diffusion_tutorial_attention_blocks_match_torch_float64():
    ms.set_seed(0)
    x = np.random.default_rng(1).normal(size=(2, 8, 4, 4))
    lin, att = LinearAttention(8).set_dtype(ms.float64), Attention(8).set_dtype(ms.float64)
    lin.to_out[1].g.set_data(Tensor(np.linspace(0.5, 1.5, 8).reshape(1, 8, 1, 1)))
    got = lin(Tensor(x))
    expected = _torch_linear_attention(_t(x), _t(lin.to_qkv.weight.asnumpy()), _t(lin.to_out[0].weight.asnumpy()),
                                       _t(lin.to_out[0].bias.asnumpy()), _t(lin.to_out[1].g.asnumpy()))
    np.testing.assert_allclose(got.asnumpy(), expected.numpy(), rtol=1e-10, atol=1e-12)
    got = att(Tensor(x))
    expected = _torch_attention(_t(x), _t(att.to_qkv.weight.asnumpy()), _t(att.to_out.weight.asnumpy()), _t(att.to_out.bias.asnumpy()))
    np.testing.assert_allclose(got.asnumpy(), expected.numpy(), rtol=1e-10, atol=1e-12)


def test_diffusion_tutorial_training_step_and_sampling_on_8x8_images(tmp_path, capsys):
    ms.set_seed(0)
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (32, 8, 8)))
    write_idx(tmp_path / "train-labels-idx1-ubyte", rng.integers(0, 10, 32))
    image_size, channels, batch_size = 8, 1, 16
    dataset = FashionMnistDataset(dataset_dir=str(tmp_path), usage="train", num_parallel_workers=2, shuffle=True,
                                  num_shards=1, shard_id=0)
    transforms = [
        RandomHorizontalFlip(),
        ToTensor(),
        lambda t: (t * 2) - 1
    ]
    dataset = dataset.project('image')
    dataset = dataset.shuffle(64)
    dataset = dataset.map(transforms, 'image')
    dataset = dataset.batch(16, drop_remainder=True)
    x = next(dataset.create_dict_iterator())
    print(x.keys())
    assert capsys.readouterr().out == "dict_keys(['image'])\n"  # as the tutorial prints
    assert x["image"].shape == (batch_size, channels, image_size, image_size) and -1 <= float(x["image"].min())

    lr = nn.cosine_decay_lr(min_lr=1e-7, max_lr=1e-4, total_step=10 * 3750, step_per_epoch=3750, decay_epoch=10)
    unet_model = Unet(dim=image_size, channels=channels, dim_mults=(1, 2, 4,))
    name_list = []
    for (name, par) in list(unet_model.parameters_and_names()):  # noqa: B007 - the tutorial's loop
        name_list.append(name)
    i = 0
    for item in list(unet_model.trainable_params()):
        item.name = name_list[i]
        i += 1
    optimizer = nn.Adam(unet_model.trainable_params(), learning_rate=lr)

    def forward_fn(data, t, noise=None):
        loss = p_losses(unet_model, data, t, noise)
        return loss

    grad_fn = ms.value_and_grad(forward_fn, None, optimizer.parameters, has_aux=False)

    def train_step(data, t, noise):
        loss, grads = grad_fn(data, t, noise)
        optimizer(grads)
        return loss, grads

    batch = next(dataset.create_tuple_iterator())
    unet_model.set_train()
    twin_of = mirror_twin(unet_model)  # the same Unet in torch, holding the weights before the step
    twin, names = twin_of.module, twin_of.parameter_names
    t = randint(0, timesteps, (batch_size,), dtype=ms.int32)
    assert t.dtype == ms.int32 and 0 <= int(t.min()) and int(t.max()) < timesteps and len(set(t.asnumpy().tolist())) > 4
    noise = randn_like(batch[0])
    loss, grads = train_step(batch[0], t, noise)

    # torch: the noised images (closed form), the model's noise estimate, smooth L1 (beta 1), its gradients
    ti = t.asnumpy().astype(np.int64)
    a = np.sqrt(np.cumprod(1.0 - np.linspace(0.0001, 0.02, 200).astype(np.float32)))[ti].reshape(-1, 1, 1, 1)
    x_noisy = torch.tensor(a * batch[0].asnumpy() + np.sqrt(1 - a ** 2) * noise.asnumpy(), dtype=torch.float32)
    predicted = twin(x_noisy, torch.tensor(ti, dtype=torch.int32))
    expected = TF.smooth_l1_loss(torch.tensor(noise.asnumpy()), predicted, beta=1.0)
    expected.backward()
    np.testing.assert_allclose(float(loss), expected.item(), rtol=2e-5)
    by_name = dict(twin.named_parameters())
    for p, g in zip(optimizer.parameters, grads):
        np.testing.assert_allclose(g.asnumpy(), by_name[names[p.name]].grad.numpy(), rtol=2e-3, atol=2e-6)
    assert all(not np.array_equal(p.asnumpy(), by_name[names[p.name]].detach().numpy()) for p in optimizer.parameters[:3])

    unet_model.set_train(False)
    samples = sample(unet_model, image_size=image_size, batch_size=2, channels=channels)
    assert len(samples) == timesteps and samples[-1].shape == (2, channels, image_size, image_size)
    # the last step (t_index 0) returns the model's mean without noise: 1/sqrt(alpha_0) (x - beta_0 eps / sqrt(1 - alpha_0))
    x_prev = Tensor(samples[-2])
    eps = unet_model(x_prev, ms.numpy.full((2,), 0, dtype=ms.int32)).asnumpy()
    expected_last = np.sqrt(1 / alphas[0]) * (samples[-2] - betas[0] * eps / np.sqrt(1 - alphas_cumprod[0]))
    np.testing.assert_allclose(samples[-1], expected_last, rtol=1e-5, atol=1e-6)

    image = compose(reverse_transform, Tensor(np.linspace(-1, 1, 3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8)))
    assert isinstance(image, Image.Image) and image.size == (8, 8) and image.mode == "RGB"
    hwc = (np.linspace(-1, 1, 3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8).transpose(1, 2, 0) + 1) / 2 * 255.0
    np.testing.assert_array_equal(np.asarray(image), hwc.astype(np.uint8))


# ---- tutorials/source_zh_cn/generative/cyclegan.ipynb (generators of 4 channels and 2 residual blocks, 32x32) -----

weight_init = Normal(sigma=0.02)


class ConvNormReLU(nn.Cell):
    def __init__(self, input_channel, out_planes, kernel_size=4, stride=2, alpha=0.2, norm_mode='instance',
                 pad_mode='CONSTANT', use_relu=True, padding=None, transpose=False):
        super(ConvNormReLU, self).__init__()
        norm = nn.BatchNorm2d(out_planes)
        if norm_mode == 'instance':
            norm = nn.BatchNorm2d(out_planes, affine=False)
        has_bias = (norm_mode == 'instance')
        if padding is None:
            padding = (kernel_size - 1) // 2
        if pad_mode == 'CONSTANT':
            if transpose:
                conv = nn.Conv2dTranspose(input_channel, out_planes, kernel_size, stride, pad_mode='same',
                                          has_bias=has_bias, weight_init=weight_init)
            else:
                conv = nn.Conv2d(input_channel, out_planes, kernel_size, stride, pad_mode='pad',
                                 has_bias=has_bias, padding=padding, weight_init=weight_init)
            layers = [conv, norm]
        else:
            paddings = ((0, 0), (0, 0), (padding, padding), (padding, padding))
            pad = nn.Pad(paddings=paddings, mode=pad_mode)
            if transpose:
                conv = nn.Conv2dTranspose(input_channel, out_planes, kernel_size, stride, pad_mode='pad',
                                          has_bias=has_bias, weight_init=weight_init)
            else:
                conv = nn.Conv2d(input_channel, out_planes, kernel_size, stride, pad_mode='pad',
                                 has_bias=has_bias, weight_init=weight_init)
            layers = [pad, conv, norm]
        if use_relu:
            relu = nn.ReLU()
            if alpha > 0:
                relu = nn.LeakyReLU(alpha)
            layers.append(relu)
        self.features = nn.SequentialCell(layers)

    def construct(self, x):
        output = self.features(x)
        return output


class ResidualBlock(nn.Cell):
    def __init__(self, dim, norm_mode='instance', dropout=False, pad_mode="CONSTANT"):
        super(ResidualBlock, self).__init__()
        self.conv1 = ConvNormReLU(dim, dim, 3, 1, 0, norm_mode, pad_mode)
        self.conv2 = ConvNormReLU(dim, dim, 3, 1, 0, norm_mode, pad_mode, use_relu=False)
        self.dropout = dropout
        if dropout:
            self.dropout = nn.Dropout(p=0.5)

    def construct(self, x):
        out = self.conv1(x)
        if self.dropout:
            out = self.dropout(out)
        out = self.conv2(out)
        return x + out


class ResNetGenerator(nn.Cell):
    def __init__(self, input_channel=3, output_channel=64, n_layers=9, alpha=0.2, norm_mode='instance', dropout=False,
                 pad_mode="CONSTANT"):
        super(ResNetGenerator, self).__init__()
        self.conv_in = ConvNormReLU(input_channel, output_channel, 7, 1, alpha, norm_mode, pad_mode=pad_mode)
        self.down_1 = ConvNormReLU(output_channel, output_channel * 2, 3, 2, alpha, norm_mode)
        self.down_2 = ConvNormReLU(output_channel * 2, output_channel * 4, 3, 2, alpha, norm_mode)
        layers = [ResidualBlock(output_channel * 4, norm_mode, dropout=dropout, pad_mode=pad_mode)] * n_layers
        self.residuals = nn.SequentialCell(layers)
        self.up_2 = ConvNormReLU(output_channel * 4, output_channel * 2, 3, 2, alpha, norm_mode, transpose=True)
        self.up_1 = ConvNormReLU(output_channel * 2, output_channel, 3, 2, alpha, norm_mode, transpose=True)
        if pad_mode == "CONSTANT":
            self.conv_out = nn.Conv2d(output_channel, 3, kernel_size=7, stride=1, pad_mode='pad',
                                      padding=3, weight_init=weight_init)
        else:
            pad = nn.Pad(paddings=((0, 0), (0, 0), (3, 3), (3, 3)), mode=pad_mode)
            conv = nn.Conv2d(output_channel, 3, kernel_size=7, stride=1, pad_mode='pad', weight_init=weight_init)
            self.conv_out = nn.SequentialCell([pad, conv])

    def construct(self, x):
        x = self.conv_in(x)
        x = self.down_1(x)
        x = self.down_2(x)
        x = self.residuals(x)
        x = self.up_2(x)
        x = self.up_1(x)
        output = self.conv_out(x)
        return ops.tanh(output)


class CycleGANDiscriminator(nn.Cell):  # the tutorial's Discriminator
    def __init__(self, input_channel=3, output_channel=64, n_layers=3, alpha=0.2, norm_mode='instance'):
        super(CycleGANDiscriminator, self).__init__()
        kernel_size = 4
        layers = [nn.Conv2d(input_channel, output_channel, kernel_size, 2, pad_mode='pad', padding=1, weight_init=weight_init),
                  nn.LeakyReLU(alpha)]
        nf_mult = output_channel
        for i in range(1, n_layers):
            nf_mult_prev = nf_mult
            nf_mult = min(2 ** i, 8) * output_channel
            layers.append(ConvNormReLU(nf_mult_prev, nf_mult, kernel_size, 2, alpha, norm_mode, padding=1))
        nf_mult_prev = nf_mult
        nf_mult = min(2 ** n_layers, 8) * output_channel
        layers.append(ConvNormReLU(nf_mult_prev, nf_mult, kernel_size, 1, alpha, norm_mode, padding=1))
        layers.append(nn.Conv2d(nf_mult, 1, kernel_size, 1, pad_mode='pad', padding=1, weight_init=weight_init))
        self.features = nn.SequentialCell(layers)

    def construct(self, x):
        output = self.features(x)
        return output


def _torch_conv_norm_relu(p, prefix, x, kernel_size, stride, alpha, pad_mode='CONSTANT', use_relu=True, padding=None,
                          transpose=False):
    """The tutorial's ConvNormReLU (instance mode) in torch: BatchNorm2d(affine=False) of a Cell never set to train
    normalises by its moving statistics (mean 0, variance 1); a 'same' transposed convolution is the adjoint of a
    'same' convolution producing stride * H rows, whose odd padding sits at the bottom and right."""
    padding = (kernel_size - 1) // 2 if padding is None else padding
    if pad_mode == 'CONSTANT':
        w, b = p[prefix + 'features.0.weight'], p[prefix + 'features.0.bias']
        if transpose:
            y = TF.conv_transpose2d(x, w, b, stride)[:, :, :x.shape[2] * stride, :x.shape[3] * stride]
        else:
            y = TF.conv2d(x, w, b, stride, padding)
    else:
        y = TF.conv2d(TF.pad(x, (padding,) * 4, mode=pad_mode.lower()), p[prefix + 'features.1.weight'], p[prefix + 'features.1.bias'], stride)
    y = y / math.sqrt(1 + 1e-5)
    if use_relu:
        y = TF.leaky_relu(y, alpha) if alpha > 0 else TF.relu(y)
    return y


def _torch_generator(p, pre, x, pad_mode, n_layers=2):
    x = _torch_conv_norm_relu(p, pre + 'conv_in.', x, 7, 1, 0.2, pad_mode)
    x = _torch_conv_norm_relu(p, pre + 'down_1.', x, 3, 2, 0.2)
    x = _torch_conv_norm_relu(p, pre + 'down_2.', x, 3, 2, 0.2)
    for _ in range(n_layers):  # [ResidualBlock(...)] * n_layers: one block, applied n_layers times
        r = _torch_conv_norm_relu(p, pre + 'residuals.0.conv1.', x, 3, 1, 0, pad_mode)
        x = x + _torch_conv_norm_relu(p, pre + 'residuals.0.conv2.', r, 3, 1, 0, pad_mode, use_relu=False)
    x = _torch_conv_norm_relu(p, pre + 'up_2.', x, 3, 2, 0.2, transpose=True)
    x = _torch_conv_norm_relu(p, pre + 'up_1.', x, 3, 2, 0.2, transpose=True)
    if pad_mode == 'CONSTANT':
        return torch.tanh(TF.conv2d(x, p[pre + 'conv_out.weight'], None, 1, 3))
    return torch.tanh(TF.conv2d(TF.pad(x, (3,) * 4, mode='reflect'), p[pre + 'conv_out.1.weight']))


def _torch_discriminator(p, pre, x):
    x = TF.leaky_relu(TF.conv2d(x, p[pre + 'features.0.weight'], None, 2, 1), 0.2)
    for i, stride in ((2, 2), (3, 2), (4, 1)):
        x = _torch_conv_norm_relu(p, f'{pre}features.{i}.', x, 4, stride, 0.2, padding=1)
    return TF.conv2d(x, p[pre + 'features.5.weight'], None, 1, 1)


@pytest.mark.parametrize("pad_mode", ["CONSTANT", "REFLECT"])
def test_cyclegan_tutorial_one_training_step_matches_torch(pad_mode):
    ms.set_seed(1)
    net_rg_a = ResNetGenerator(output_channel=4, n_layers=2, pad_mode=pad_mode)
    net_rg_a.update_parameters_name('net_rg_a.')
    net_rg_b = ResNetGenerator(output_channel=4, n_layers=2, pad_mode=pad_mode)
    net_rg_b.update_parameters_name('net_rg_b.')
    net_d_a = CycleGANDiscriminator(output_channel=4)
    net_d_a.update_parameters_name('net_d_a.')
    net_d_b = CycleGANDiscriminator(output_channel=4)
    net_d_b.update_parameters_name('net_d_b.')
    nets = (net_rg_a, net_rg_b, net_d_a, net_d_b)
    start = {param.name: param.asnumpy().copy() for net in nets for param in net.trainable_params()}

    optimizer_rg_a = nn.Adam(net_rg_a.trainable_params(), learning_rate=0.0002, beta1=0.5)
    optimizer_rg_b = nn.Adam(net_rg_b.trainable_params(), learning_rate=0.0002, beta1=0.5)
    optimizer_d_a = nn.Adam(net_d_a.trainable_params(), learning_rate=0.0002, beta1=0.5)
    optimizer_d_b = nn.Adam(net_d_b.trainable_params(), learning_rate=0.0002, beta1=0.5)
    loss_fn = nn.MSELoss(reduction='mean')
    l1_loss = nn.L1Loss("mean")

    def gan_loss(predict, target):
        target = ops.ones_like(predict) * target
        loss = loss_fn(predict, target)
        return loss

    def generator(img_a, img_b):
        fake_a = net_rg_b(img_b)
        fake_b = net_rg_a(img_a)
        rec_a = net_rg_b(fake_b)
        rec_b = net_rg_a(fake_a)
        identity_a = net_rg_b(img_a)
        identity_b = net_rg_a(img_b)
        return fake_a, fake_b, rec_a, rec_b, identity_a, identity_b

    lambda_a, lambda_b, lambda_idt = 10.0, 10.0, 0.5

    def generator_forward(img_a, img_b):
        true = Tensor(True, ms.bool_)
        fake_a, fake_b, rec_a, rec_b, identity_a, identity_b = generator(img_a, img_b)
        loss_g_a = gan_loss(net_d_b(fake_b), true)
        loss_g_b = gan_loss(net_d_a(fake_a), true)
        loss_c_a = l1_loss(rec_a, img_a) * lambda_a
        loss_c_b = l1_loss(rec_b, img_b) * lambda_b
        loss_idt_a = l1_loss(identity_a, img_a) * lambda_a * lambda_idt
        loss_idt_b = l1_loss(identity_b, img_b) * lambda_b * lambda_idt
        loss_g = loss_g_a + loss_g_b + loss_c_a + loss_c_b + loss_idt_a + loss_idt_b
        return fake_a, fake_b, loss_g, loss_g_a, loss_g_b, loss_c_a, loss_c_b, loss_idt_a, loss_idt_b

    def generator_forward_grad(img_a, img_b):
        _, _, loss_g, _, _, _, _, _, _ = generator_forward(img_a, img_b)
        return loss_g

    def discriminator_forward_a(img_a, fake_a):
        false = Tensor(False, ms.bool_)
        true = Tensor(True, ms.bool_)
        d_fake_a = net_d_a(fake_a)
        d_img_a = net_d_a(img_a)
        loss_d_a = gan_loss(d_fake_a, false) + gan_loss(d_img_a, true)
        return loss_d_a

    def discriminator_forward_b(img_b, fake_b):
        false = Tensor(False, ms.bool_)
        true = Tensor(True, ms.bool_)
        d_fake_b = net_d_b(fake_b)
        d_img_b = net_d_b(img_b)
        loss_d_b = gan_loss(d_fake_b, false) + gan_loss(d_img_b, true)
        return loss_d_b

    grad_g_a = ms.value_and_grad(generator_forward_grad, None, net_rg_a.trainable_params())
    grad_g_b = ms.value_and_grad(generator_forward_grad, None, net_rg_b.trainable_params())
    grad_d_a = ms.value_and_grad(discriminator_forward_a, None, net_d_a.trainable_params())
    grad_d_b = ms.value_and_grad(discriminator_forward_b, None, net_d_b.trainable_params())

    def train_step_g(img_a, img_b):
        net_d_a.set_grad(False)
        net_d_b.set_grad(False)
        fake_a, fake_b, lg, lga, lgb, lca, lcb, lia, lib = generator_forward(img_a, img_b)
        _, grads_g_a = grad_g_a(img_a, img_b)
        _, grads_g_b = grad_g_b(img_a, img_b)
        optimizer_rg_a(grads_g_a)
        optimizer_rg_b(grads_g_b)
        return fake_a, fake_b, lg, lga, lgb, lca, lcb, lia, lib

    def train_step_d(img_a, img_b, fake_a, fake_b):
        net_d_a.set_grad(True)
        net_d_b.set_grad(True)
        loss_d_a, grads_d_a = grad_d_a(img_a, fake_a)
        loss_d_b, grads_d_b = grad_d_b(img_b, fake_b)
        loss_d = (loss_d_a + loss_d_b) * 0.5
        optimizer_d_a(grads_d_a)
        optimizer_d_b(grads_d_b)
        return loss_d

    rng = np.random.default_rng(0)
    images = {"image_A": rng.uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32),
              "image_B": rng.uniform(-1, 1, (1, 3, 32, 32)).astype(np.float32)}
    dataset = ds.NumpySlicesDataset(images, shuffle=False).batch(1)  # the MindRecord file's two columns
    data = next(dataset.create_dict_iterator())
    img_a, img_b = data["image_A"], data["image_B"]
    res_g = train_step_g(img_a, img_b)
    loss_d = train_step_d(img_a, img_b, Tensor(res_g[0].asnumpy()), Tensor(res_g[1].asnumpy()))

    # torch, float64: the same losses from the initial weights, their gradients, then MindSpore's Adam update
    p = {name: _t(value).requires_grad_() for name, value in start.items()}
    a, b = _t(images["image_A"]), _t(images["image_B"])
    fake_a, fake_b = _torch_generator(p, 'net_rg_b.', b, pad_mode), _torch_generator(p, 'net_rg_a.', a, pad_mode)
    losses = [(_torch_discriminator(p, 'net_d_b.', fake_b) - 1).square().mean(), (_torch_discriminator(p, 'net_d_a.', fake_a) - 1).square().mean(),
              (_torch_generator(p, 'net_rg_b.', fake_b, pad_mode) - a).abs().mean() * 10,
              (_torch_generator(p, 'net_rg_a.', fake_a, pad_mode) - b).abs().mean() * 10,
              (_torch_generator(p, 'net_rg_b.', a, pad_mode) - a).abs().mean() * 5,
              (_torch_generator(p, 'net_rg_a.', b, pad_mode) - b).abs().mean() * 5]
    loss_g = sum(losses)
    np.testing.assert_allclose([float(v) for v in res_g[2:]], [loss_g.item()] + [v.item() for v in losses], rtol=2e-5)
    fa, fb = fake_a.detach(), fake_b.detach()
    d_losses = [_torch_discriminator(p, pre, fake).square().mean() + (_torch_discriminator(p, pre, real) - 1).square().mean()
                for pre, fake, real in (('net_d_a.', fa, a), ('net_d_b.', fb, b))]
    np.testing.assert_allclose(float(loss_d), (d_losses[0].item() + d_losses[1].item()) * 0.5, rtol=2e-5)
    generators = [v for k, v in p.items() if k.startswith('net_rg_')]
    discriminators = [v for k, v in p.items() if k.startswith('net_d_')]
    grads = dict(zip(generators + discriminators, torch.autograd.grad(loss_g, generators) + torch.autograd.grad(sum(d_losses), discriminators)))
    for net in nets:
        for param in net.trainable_params():
            g = grads[p[param.name]].numpy()
            m, v = 0.5 * g, 0.001 * g * g  # first moments after one step, beta1 0.5 and beta2 0.999
            expected = start[param.name] - 0.0002 * math.sqrt(1 - 0.999) / (1 - 0.5) * m / (np.sqrt(v) + 1e-8)
            np.testing.assert_allclose(param.asnumpy(), expected, rtol=1e-5, atol=1e-7)


# ---- tutorials/application/source_zh_cn/cv/shufflenet.ipynb (model_size '0.5x', CIFAR-10 files of four images) ---

class GroupConv(nn.Cell):
    def __init__(self, in_channels, out_channels, kernel_size,
                 stride, pad_mode="pad", pad=0, groups=1, has_bias=False):
        super(GroupConv, self).__init__()
        self.groups = groups
        self.convs = nn.CellList()
        for _ in range(groups):
            self.convs.append(nn.Conv2d(in_channels // groups, out_channels // groups,
                                        kernel_size=kernel_size, stride=stride, has_bias=has_bias,
                                        padding=pad, pad_mode=pad_mode, group=1, weight_init='xavier_uniform'))

    def construct(self, x):
        features = ops.split(x, split_size_or_sections=int(len(x[0]) // self.groups), axis=1)
        outputs = ()
        for i in range(self.groups):
            outputs = outputs + (self.convs[i](features[i].astype("float32")),)
        out = ops.cat(outputs, axis=1)
        return out


class ShuffleV1Block(nn.Cell):
    def __init__(self, inp, oup, group, first_group, mid_channels, ksize, stride):
        super(ShuffleV1Block, self).__init__()
        self.stride = stride
        pad = ksize // 2
        self.group = group
        if stride == 2:
            outputs = oup - inp
        else:
            outputs = oup
        self.relu = nn.ReLU()
        branch_main_1 = [
            GroupConv(in_channels=inp, out_channels=mid_channels, kernel_size=1, stride=1, pad_mode="pad", pad=0,
                      groups=1 if first_group else group),
            nn.BatchNorm2d(mid_channels),
            nn.ReLU(),
        ]
        branch_main_2 = [
            nn.Conv2d(mid_channels, mid_channels, kernel_size=ksize, stride=stride, pad_mode='pad', padding=pad,
                      group=mid_channels, weight_init='xavier_uniform', has_bias=False),
            nn.BatchNorm2d(mid_channels),
            GroupConv(in_channels=mid_channels, out_channels=outputs, kernel_size=1, stride=1, pad_mode="pad", pad=0,
                      groups=group),
            nn.BatchNorm2d(outputs),
        ]
        self.branch_main_1 = nn.SequentialCell(branch_main_1)
        self.branch_main_2 = nn.SequentialCell(branch_main_2)
        if stride == 2:
            self.branch_proj = nn.AvgPool2d(kernel_size=3, stride=2, pad_mode='same')

    def construct(self, old_x):
        left = old_x
        right = old_x
        out = old_x
        right = self.branch_main_1(right)
        if self.group > 1:
            right = self.channel_shuffle(right)
        right = self.branch_main_2(right)
        if self.stride == 1:
            out = self.relu(left + right)
        elif self.stride == 2:
            left = self.branch_proj(left)
            out = ops.cat((left, right), 1)
            out = self.relu(out)
        return out

    def channel_shuffle(self, x):
        batchsize, num_channels, height, width = ops.shape(x)
        group_channels = num_channels // self.group
        x = ops.reshape(x, (batchsize, group_channels, self.group, height, width))
        x = ops.transpose(x, (0, 2, 1, 3, 4))
        x = ops.reshape(x, (batchsize, num_channels, height, width))
        return x


class ShuffleNetV1(nn.Cell):
    def __init__(self, n_class=1000, model_size='2.0x', group=3):
        super(ShuffleNetV1, self).__init__()
        print('model size is ', model_size)
        self.stage_repeats = [4, 8, 4]
        self.model_size = model_size
        if group == 3:
            if model_size == '0.5x':
                self.stage_out_channels = [-1, 12, 120, 240, 480]
            elif model_size == '1.0x':
                self.stage_out_channels = [-1, 24, 240, 480, 960]
            else:
                raise NotImplementedError
        input_channel = self.stage_out_channels[1]
        self.first_conv = nn.SequentialCell(
            nn.Conv2d(3, input_channel, 3, 2, 'pad', 1, weight_init='xavier_uniform', has_bias=False),
            nn.BatchNorm2d(input_channel),
            nn.ReLU(),
        )
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode='same')
        features = []
        for idxstage in range(len(self.stage_repeats)):
            numrepeat = self.stage_repeats[idxstage]
            output_channel = self.stage_out_channels[idxstage + 2]
            for i in range(numrepeat):
                stride = 2 if i == 0 else 1
                first_group = idxstage == 0 and i == 0
                features.append(ShuffleV1Block(input_channel, output_channel, group=group, first_group=first_group,
                                               mid_channels=output_channel // 4, ksize=3, stride=stride))
                input_channel = output_channel
        self.features = nn.SequentialCell(features)
        self.globalpool = nn.AvgPool2d(7)
        self.classifier = nn.Dense(self.stage_out_channels[-1], n_class)

    def construct(self, x):
        x = self.first_conv(x)
        x = self.maxpool(x)
        x = self.features(x)
        x = self.globalpool(x)
        x = ops.reshape(x, (-1, self.stage_out_channels[-1]))
        x = self.classifier(x)
        return x


def get_dataset(train_dataset_path, batch_size, usage):
    image_trans = []
    if usage == "train":
        image_trans = [
            ds.vision.RandomCrop((32, 32), (4, 4, 4, 4)),
            ds.vision.RandomHorizontalFlip(prob=0.5),
            ds.vision.Resize((224, 224)),
            ds.vision.Rescale(1.0 / 255.0, 0.0),
            ds.vision.Normalize([0.4914, 0.4822, 0.4465], [0.2023, 0.1994, 0.2010]),
            ds.vision.HWC2CHW()
        ]
    label_trans = ds.transforms.TypeCast(ms.int32)
    dataset = ds.Cifar10Dataset(train_dataset_path, usage=usage, shuffle=True)
    dataset = dataset.map(image_trans, 'image')
    dataset = dataset.map(label_trans, 'label')
    dataset = dataset.batch(batch_size)
    return dataset


def _torch_same_pool(x, kernel, stride, kind):
    """MindSpore's 'same' pools: ceil(H / stride) outputs, the odd padding at the bottom and right, the average over the
    real inputs only."""
    pads = []
    for n in (x.shape[3], x.shape[2]):
        total = max((-(-n // stride) - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    if kind == "max":
        return TF.max_pool2d(TF.pad(x, pads, value=-math.inf), kernel, stride)
    return TF.avg_pool2d(TF.pad(x, pads), kernel, stride) / TF.avg_pool2d(TF.pad(torch.ones_like(x[:, :1]), pads), kernel, stride)


def _torch_shufflenet(p, x, channels=(12, 120, 240, 480), group=3):
    """ShuffleNetV1 in torch, training mode (batch statistics), from the parameters ``p`` named as funcad names them."""
    def bn(pre, y):
        return TF.batch_norm(y, None, None, p[pre + 'gamma'], p[pre + 'beta'], True, 0.1, 1e-5)

    def group_conv(pre, y, groups):  # the split convolutions are one grouped convolution
        return TF.conv2d(y, torch.cat([p[f'{pre}convs.{i}.weight'] for i in range(groups)]), groups=groups)

    x = TF.relu(bn('first_conv.1.', TF.conv2d(x, p['first_conv.0.weight'], stride=2, padding=1)))
    x = _torch_same_pool(x, 3, 2, "max")
    index, inp = 0, channels[0]
    for stage, repeats in enumerate((4, 8, 4)):
        oup = channels[stage + 1]
        for i in range(repeats):
            pre, stride, mid = f'features.{index}.', 2 if i == 0 else 1, oup // 4
            r = TF.relu(bn(pre + 'branch_main_1.1.', group_conv(pre + 'branch_main_1.0.', x, 1 if stage == i == 0 else group)))
            b, c, h, w = r.shape
            r = r.reshape(b, c // group, group, h, w).transpose(1, 2).reshape(b, c, h, w)
            r = bn(pre + 'branch_main_2.1.', TF.conv2d(r, p[pre + 'branch_main_2.0.weight'], stride=stride, padding=1, groups=mid))
            r = bn(pre + 'branch_main_2.3.', group_conv(pre + 'branch_main_2.2.', r, group))
            x = TF.relu(x + r) if stride == 1 else TF.relu(torch.cat((_torch_same_pool(x, 3, 2, "avg"), r), 1))
            index, inp = index + 1, oup
    x = TF.avg_pool2d(x, 7).reshape(-1, inp)
    return TF.linear(x, p['classifier.weight'], p['classifier.bias'])


def test_shufflenet_tutorial_trains_with_model_amp_and_a_fixed_loss_scale_and_matches_torch(tmp_path, capsys):
    rng = np.random.default_rng(3)
    records = [np.concatenate([[label], rng.integers(0, 256, 3072)]) for label in (1, 7, 3, 7)]
    (tmp_path / "data_batch_1.bin").write_bytes(np.asarray(records, np.uint8).tobytes())
    ms.set_seed(0)
    ds.config.set_seed(0)
    dataset = get_dataset(str(tmp_path), 2, "train")
    batches_per_epoch = dataset.get_dataset_size()

    def build(amp_level):
        net = ShuffleNetV1(model_size="0.5x", n_class=10)
        loss = nn.CrossEntropyLoss(weight=None, reduction='mean', label_smoothing=0.1)
        lr_scheduler = ms.nn.cosine_decay_lr(0.0005, 0.05, batches_per_epoch * 250, batches_per_epoch, decay_epoch=250)
        lr = Tensor(lr_scheduler[-1])
        optimizer = nn.Momentum(params=net.trainable_params(), learning_rate=lr, momentum=0.9, weight_decay=0.00004, loss_scale=1024)
        loss_scale_manager = ms.FixedLossScaleManager(1024, drop_overflow_update=False)
        return net, Model(net, loss_fn=loss, optimizer=optimizer, amp_level=amp_level, loss_scale_manager=loss_scale_manager), float(lr)

    _, model, _ = build("O3")  # as the tutorial: the whole network in float16
    model.train(1, dataset, callbacks=[LossMonitor()])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "model size is  0.5x" and [line.split(",")[0] for line in lines[1:]] == ["epoch: 1 step: 1", "epoch: 1 step: 2"]
    assert all(0.5 < float(line.split("loss is ")[1]) < 5.0 for line in lines[1:])  # near ln 10 for untrained logits

    net, model, lr = build("O0")  # float32: one step checked against the same network in torch
    assert lr == pytest.approx(0.0005 + 0.5 * (0.05 - 0.0005) * (1 + math.cos(math.pi * 249 / 250)), rel=1e-6)
    images, labels = next(dataset.create_tuple_iterator())
    start = {name: _t(param.asnumpy()).requires_grad_() for name, param in net.parameters_and_names() if param.requires_grad}
    model.train(1, [(images, labels)])
    torch_loss = TF.cross_entropy(_torch_shufflenet(start, _t(images.asnumpy())), torch.tensor(labels.asnumpy().astype(np.int64)),
                                  label_smoothing=0.1)
    torch_loss.backward()
    decayed, scale = 0, max(float(tp.grad.abs().max()) for tp in start.values())
    for name, p in net.parameters_and_names():
        if not p.requires_grad:
            continue
        tp = start[name]
        decay = 0.0 if ("gamma" in p.name or "beta" in p.name) else 0.00004  # MindSpore's default filter
        decayed += decay > 0
        step = -lr * (tp.grad.numpy() + decay * tp.detach().numpy())  # the first step: v = g, w -= lr v
        w0 = tp.detach().numpy()
        error = np.abs((p.asnumpy() - w0) - step)  # the change, to float32's spacing at the weight and 0.2% of itself
        floor = 2 * np.spacing(np.abs(w0).astype(np.float32)) + 1e-4 * lr * scale  # float32 rounding of w and of the gradient
        assert (error <= 2e-3 * np.abs(step) + floor).all(), name
    assert 0 < decayed < len(net.trainable_params())


# ---- tutorials/source_zh_cn/advanced/modules/optimizer.ipynb -------------------------------------------------------

class OptimNet(nn.Cell):  # the tutorial's Net
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 5, pad_mode="valid")
        self.param = Parameter(Tensor(np.array([1.0], np.float32)), 'param')

    def construct(self, x):
        x = self.conv(x)
        x = x * self.param
        out = ops.matmul(x, x)
        return out


def test_optimizer_tutorial_prints_schedules_as_published(capsys):
    net = OptimNet()
    optim = nn.Adam(params=net.trainable_params())
    print(net.trainable_params())
    milestone = [1, 3, 10]
    learning_rates = [0.1, 0.05, 0.01]
    lr = nn.piecewise_constant_lr(milestone, learning_rates)
    print(lr)
    optim = nn.SGD(net.trainable_params(), learning_rate=lr)
    learning_rate, decay_rate, decay_steps = 0.1, 0.9, 4
    exponential_decay_lr = nn.ExponentialDecayLR(learning_rate, decay_rate, decay_steps)
    for i in range(decay_steps):
        step = Tensor(i, ms.int32)
        result = exponential_decay_lr(step)
        print(f"step{i+1}, lr:{result}")
    optim = nn.Momentum(net.trainable_params(), learning_rate=exponential_decay_lr, momentum=0.9)
    assert optim is not None and capsys.readouterr().out == (
        "[Parameter (name=param, shape=(1,), dtype=Float32, requires_grad=True), Parameter (name=conv.weight, "
        "shape=(6, 1, 5, 5), dtype=Float32, requires_grad=True)]\n"
        "[0.1, 0.05, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01]\n"
        "step1, lr:0.1\nstep2, lr:0.097400375\nstep3, lr:0.094868325\nstep4, lr:0.09240211\n")


def test_optimizer_tutorial_parameter_groups_with_a_polynomial_schedule_against_torch():
    net = OptimNet()
    conv_params = list(filter(lambda x: 'conv' in x.name, net.trainable_params()))  # 卷积参数
    no_conv_params = list(filter(lambda x: 'conv' not in x.name, net.trainable_params()))  # 非卷积参数
    fix_lr = 0.01
    polynomial_decay_lr = nn.PolynomialDecayLR(learning_rate=0.1, end_learning_rate=0.01, decay_steps=4, power=0.5)
    group_params = [{'params': conv_params, 'weight_decay': 0.01, 'lr': fix_lr},
                    {'params': no_conv_params, 'lr': polynomial_decay_lr}]
    optim = nn.Momentum(group_params, learning_rate=0.1, momentum=0.9, weight_decay=0.0)

    x = Tensor(0.1 * np.random.default_rng(0).normal(size=(1, 1, 9, 9)).astype(np.float32))
    w, s = _t(net.conv.weight.asnumpy()).requires_grad_(), _t(net.param.asnumpy()).requires_grad_()
    grad_fn = ms.value_and_grad(lambda x: net(x).sum(), None, optim.parameters)
    velocity = [torch.zeros_like(w), torch.zeros_like(s)]
    for step in range(3):
        loss, grads = grad_fn(x)
        optim(grads)
        h = TF.conv2d(_t(x.asnumpy()), w) * s
        torch_loss = (h @ h).sum()
        gw, gs = torch.autograd.grad(torch_loss, (w, s))
        np.testing.assert_allclose(float(loss), torch_loss.item(), rtol=1e-5)
        rate = (0.1 - 0.01) * (1 - step / 4) ** 0.5 + 0.01  # PolynomialDecayLR at the optimizer's global step
        with torch.no_grad():
            velocity = [0.9 * velocity[0] + gw + 0.01 * w, 0.9 * velocity[1] + gs]  # the conv group decays by 0.01
            w -= 0.01 * velocity[0]
            s -= rate * velocity[1]
    np.testing.assert_allclose(net.conv.weight.asnumpy(), w.detach().numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(net.param.asnumpy(), s.detach().numpy(), rtol=1e-5)


class ApplyMomentumOptimizer(nn.Optimizer):  # the tutorial's second custom Momentum
    """定义优化器"""
    def __init__(self, params, learning_rate, momentum=0.9):
        super(ApplyMomentumOptimizer, self).__init__(learning_rate, params)
        self.moments = self.parameters.clone(prefix="moments", init="zeros")
        self.momentum = momentum
        self.opt = ops.ApplyMomentum()

    def construct(self, gradients):
        params = self.parameters  # 待更新的权重参数
        success = None
        for param, mom, grad in zip(params, self.moments, gradients):
            success = self.opt(param, mom, self.learning_rate, grad, self.momentum)
        return success


def test_optimizer_tutorial_custom_optimizer_of_apply_momentum_trains_as_momentum():
    net, twin = OptimNet(), OptimNet()
    for p, q in zip(net.trainable_params(), twin.trainable_params()):
        q.set_data(p.value())
    opt = ApplyMomentumOptimizer(net.trainable_params(), 0.01)
    reference = nn.Momentum(twin.trainable_params(), learning_rate=0.01, momentum=0.9)
    x = Tensor(np.random.default_rng(1).normal(size=(1, 1, 9, 9)).astype(np.float32))
    for _ in range(3):
        opt(ms.grad(lambda x: net(x).sum(), None, opt.parameters)(x))
        reference(ms.grad(lambda x: twin(x).sum(), None, reference.parameters)(x))
    assert not np.allclose(net.param.asnumpy(), 1.0)
    for p, q in zip(net.trainable_params(), twin.trainable_params()):
        np.testing.assert_allclose(p.asnumpy(), q.asnumpy(), rtol=1e-6, atol=1e-7)  # float32 rounding of the same update
    assert [m.name for m in opt.moments] == ["moments.param", "moments.conv.weight"]


# ---- the mechanisms these programs needed ------------------------------------------------------------------------

def test_uniform_with_an_integer_dtype_draws_integers_as_mindspore():
    """The diffusion tutorial's randint: ops.uniform(shape, Tensor(0, int32), Tensor(200, int32), dtype=int32) drew
    U[0, 1) cast to int32 (all zeros), so every training step used t = 0."""
    ms.set_seed(11)
    draws = ops.uniform((20000,), Tensor(3, ms.int32), Tensor(9, ms.int32), dtype=ms.int32).asnumpy()
    assert draws.dtype == np.int32 and set(np.unique(draws)) == set(range(3, 9))
    counts = np.bincount(draws - 3)
    assert ((counts - 20000 / 6) ** 2 / (20000 / 6)).sum() < 25  # chi-square, 5 degrees of freedom
    fixed = [ops.uniform((5,), Tensor(0, ms.int32), Tensor(100, ms.int32), seed=4, dtype=ms.int32).asnumpy() for _ in range(2)]
    np.testing.assert_array_equal(fixed[0], fixed[1])
    ms.set_seed(11)
    floats = ops.uniform((4000,), Tensor(1.0, ms.float32), Tensor(3.0, ms.float32)).asnumpy()
    assert floats.dtype == np.float32 and 1.0 <= floats.min() and floats.max() < 3.0 and abs(floats.mean() - 2.0) < 0.05


@pytest.mark.parametrize("minval, maxval, error, match", [
    (Tensor(5, ms.int32), Tensor(5, ms.int32), ValueError, "minval must be below maxval for integers, got 5 and 5"),
    (Tensor(0.5, ms.float32), Tensor(5, ms.int32), ValueError, "with an integer dtype, minval must be one integer"),
    (Tensor([0, 1], ms.int32), Tensor(5, ms.int32), ValueError, r"with an integer dtype, minval must be one integer, got \[0, 1\]"),
], ids=["empty_range", "float_bound", "vector_bound"])
def test_uniform_integer_bounds_are_checked(minval, maxval, error, match):
    with pytest.raises(error, match=f"funcad.ops.uniform: {match}"):
        ops.uniform((3,), minval, maxval, dtype=ms.int32)


def test_uniform_integer_bounds_traced_by_jit_are_refused():
    with pytest.raises(TypeError, match="funcad.ops.uniform: an integer draw needs maxval known before it runs, got a traced value"):
        ms.jit(lambda high: ops.uniform((3,), Tensor(0, ms.int32), high, dtype=ms.int32))(Tensor(9, ms.int32))


def test_inv_is_the_reciprocal():
    x = np.array([0.5, -2.0, 4.0], np.float32)
    np.testing.assert_array_equal(ops.inv(Tensor(x)).asnumpy(), 1 / x)
    np.testing.assert_allclose(ms.grad(lambda v: ops.inv(v).sum())(Tensor(x)).asnumpy(), -1 / x ** 2, rtol=1e-6)


def test_format_of_a_tensor_prints_as_mindspore():
    lr = Tensor(np.float32(0.097400375))
    assert f"{lr}" == "0.097400375" == str(lr)  # the optimizer tutorial's f"step{i+1}, lr:{result}"
    assert f"{lr:.4f}" == "0.0974" and f"{Tensor(3, ms.int32):>3d}" == "  3" and f"{Tensor([1.5, 2.0])}" == "[1.5 2. ]"


def test_fashion_mnist_dataset_reads_idx_files_as_mnist_does(tmp_path):
    rng = np.random.default_rng(5)
    images, labels = rng.integers(0, 256, (6, 28, 28)), rng.integers(0, 10, 6)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    rows = list(FashionMnistDataset(str(tmp_path), usage="test", shuffle=False).create_tuple_iterator(output_numpy=True))
    np.testing.assert_array_equal(np.stack([r[0] for r in rows]), images[..., None].astype(np.uint8))
    np.testing.assert_array_equal([int(r[1]) for r in rows], labels)
    assert rows[0][0].dtype == np.uint8 and rows[0][1].dtype == np.uint32
    with pytest.raises(FileNotFoundError, match="FashionMnistDataset: no train-images-idx3-ubyte"):
        FashionMnistDataset(str(tmp_path), usage="train")


def test_to_pil_converts_decoded_images_and_refuses_others():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    image = ToPIL()(rgb)
    assert image.mode == "RGB" and image.size == (3, 2)
    np.testing.assert_array_equal(np.asarray(image), rgb)
    grey = ToPIL()(rgb[..., :1])
    assert grey.mode == "L" and ToPIL()(grey) is grey
    np.testing.assert_array_equal(np.asarray(grey), rgb[..., 0])
    with pytest.raises(ValueError, match=r"ToPIL: expected an image of shape .* got \(2, 3, 2\)"):
        ToPIL()(rgb[..., :2])
    with pytest.raises(TypeError, match="ToPIL: a colour image must hold uint8 pixels .* got float32"):
        ToPIL()(rgb.astype(np.float32))


# ---- tutorials/source_zh_cn/dataset/sampler.ipynb (CIFAR-10 files of 20 images) ----------------------------------

@pytest.fixture
def cifar_dir(tmp_path):
    labels = [6, 9, 4, 1, 1, 2, 7, 8, 3, 4, 0, 5, 3, 0, 9, 2, 7, 5, 8, 6]
    rng = np.random.default_rng(8)
    records = [np.concatenate([[label], rng.integers(0, 256, 3072)]) for label in labels]
    (tmp_path / "data_batch_1.bin").write_bytes(np.asarray(records, np.uint8).tobytes())
    return str(tmp_path), np.array(labels)


def plt_result(dataset, row):
    """显示采样结果 (the tutorial's function without its plotting)"""
    seen = []
    for data in dataset.create_dict_iterator(output_numpy=True):
        print("Image shape:", data['image'].shape, ", Label:", data['label'])
        seen.append(int(data['label']))
    return seen


def test_sampler_tutorial_weighted_subset_and_pk_samplers_on_cifar(cifar_dir, capsys):
    DATA_DIR, labels = cifar_dir
    ds.config.set_seed(2)
    weights = [0.8, 0.5, 0, 0, 0, 0, 0, 0, 0, 0]  # 指定前10个样本的采样概率并进行采样
    sampler = ds.WeightedRandomSampler(weights, num_samples=6)
    dataset = ds.Cifar10Dataset(DATA_DIR, sampler=sampler)
    assert set(plt_result(dataset, 2)) <= {6, 9}  # only rows 0 and 1 have weight
    indices = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]  # 指定样本索引序列
    sampler = ds.SubsetRandomSampler(indices, num_samples=6)
    seen = plt_result(ds.Cifar10Dataset(DATA_DIR, sampler=sampler), 2)
    assert len(seen) == 6 and set(seen) <= set(labels[:10].tolist())  # six of the first ten rows
    sampler = ds.PKSampler(num_val=2, class_column='label', num_samples=10)  # 每种类别抽样2个样本，最多10个样本
    dataset = ds.Cifar10Dataset(DATA_DIR, sampler=sampler)
    assert dataset.get_dataset_size() == 10
    capsys.readouterr()
    assert plt_result(dataset, 3) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert capsys.readouterr().out.splitlines()[:2] == ["Image shape: (32, 32, 3) , Label: 0"] * 2  # as published
    # each pick is a row of its class, drawn with replacement: over many passes every row of class 1 (rows 3, 4) appears
    rows = [data[0] for _ in range(30) for data in ds.NumpySlicesDataset(
        {"row": np.arange(20), "label": labels}, sampler=ds.PKSampler(2, num_samples=4)).create_tuple_iterator(output_numpy=True)]
    assert set(np.asarray(rows)[2::4].tolist()) | set(np.asarray(rows)[3::4].tolist()) == {3, 4}


def test_pk_sampler_shuffles_the_classes_and_refuses_what_it_cannot_do():
    data = {"row": np.arange(9), "label": np.array([2, 0, 1, 2, 0, 1, 2, 0, 1])}
    ds.config.set_seed(1)
    picked = [int(lab) for _, lab in ds.NumpySlicesDataset(data, sampler=ds.PKSampler(3, shuffle=True)).create_tuple_iterator(output_numpy=True)]
    assert sorted(picked) == [0, 0, 0, 1, 1, 1, 2, 2, 2] and all(len(set(picked[k:k + 3])) == 1 for k in (0, 3, 6))
    with pytest.raises(NotImplementedError, match="PKSampler: num_class is not supported"):
        ds.PKSampler(2, num_class=3)
    with pytest.raises(NotImplementedError, match="PKSampler.add_child"):
        ds.PKSampler(2).add_child(ds.SequentialSampler())
    with pytest.raises(ValueError, match=r"PKSampler: class_column 'target' is not a column of NumpySlicesDataset"):
        ds.NumpySlicesDataset(data, sampler=ds.PKSampler(2, class_column="target")).get_dataset_size()
    with pytest.raises(RuntimeError, match="PKSampler: this dataset gives no class ids"):
        ds.PKSampler(2).indices(9)


def test_sampler_tutorial_distributed_and_user_samplers_print_as_published(capsys):
    data_source = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    sampler = ds.DistributedSampler(num_shards=4, shard_id=0, shuffle=False)  # 构建的数据集分为4片，共采样3个数据样本
    dataset = ds.NumpySlicesDataset(data_source, column_names=["data"], sampler=sampler)
    for data in dataset.create_dict_iterator():
        print(data)

    class MySampler(ds.Sampler):
        def __iter__(self):
            for i in range(0, 10, 2):
                yield i

    np_data = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l']
    dataset = ds.NumpySlicesDataset(np_data, column_names=["data"], sampler=MySampler())
    for data in dataset.create_tuple_iterator(output_numpy=True):
        print(data[0], end=' ')
    print()

    class MyIndexSampler():  # the tutorial's second MySampler: not a ds.Sampler, read by __getitem__ and __len__
        def __init__(self):
            self.index_ids = [3, 4, 3, 2, 0, 11, 5, 5, 5, 9, 1, 11, 11, 11, 11, 8]

        def __getitem__(self, index):
            return self.index_ids[index]

        def __len__(self):
            return len(self.index_ids)

    dataset = ds.NumpySlicesDataset(np_data, column_names=["data"], sampler=MyIndexSampler())
    for data in dataset.create_tuple_iterator(output_numpy=True):
        print(data[0], end=' ')
    assert capsys.readouterr().out == (
        "{'data': Tensor(shape=[], dtype=Int64, value= 0)}\n{'data': Tensor(shape=[], dtype=Int64, value= 4)}\n"
        "{'data': Tensor(shape=[], dtype=Int64, value= 8)}\na c e g i \nd e d c a l f f f j b l l l l i ")


# ---- tutorials/source_zh_cn/generative/pix2pix.ipynb (ngf = ndf = 4, five U-Net levels, 32x32 images) -------------

class UNetSkipConnectionBlock(nn.Cell):
    def __init__(self, outer_nc, inner_nc, in_planes=None, dropout=False,
                 submodule=None, outermost=False, innermost=False, alpha=0.2, norm_mode='batch'):
        super(UNetSkipConnectionBlock, self).__init__()
        down_norm = nn.BatchNorm2d(inner_nc)
        up_norm = nn.BatchNorm2d(outer_nc)
        use_bias = False
        if norm_mode == 'instance':
            down_norm = nn.BatchNorm2d(inner_nc, affine=False)
            up_norm = nn.BatchNorm2d(outer_nc, affine=False)
            use_bias = True
        if in_planes is None:
            in_planes = outer_nc
        down_conv = nn.Conv2d(in_planes, inner_nc, kernel_size=4, stride=2, padding=1, has_bias=use_bias, pad_mode='pad')
        down_relu = nn.LeakyReLU(alpha)
        up_relu = nn.ReLU()
        if outermost:
            up_conv = nn.Conv2dTranspose(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, pad_mode='pad')
            down = [down_conv]
            up = [up_relu, up_conv, nn.Tanh()]
            model = down + [submodule] + up
        elif innermost:
            up_conv = nn.Conv2dTranspose(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, has_bias=use_bias, pad_mode='pad')
            down = [down_relu, down_conv]
            up = [up_relu, up_conv, up_norm]
            model = down + up
        else:
            up_conv = nn.Conv2dTranspose(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, has_bias=use_bias, pad_mode='pad')
            down = [down_relu, down_conv, down_norm]
            up = [up_relu, up_conv, up_norm]
            model = down + [submodule] + up
            if dropout:
                model.append(nn.Dropout(p=0.5))
        self.model = nn.SequentialCell(model)
        self.skip_connections = not outermost

    def construct(self, x):
        out = self.model(x)
        if self.skip_connections:
            out = ops.concat((out, x), axis=1)
        return out


class UNetGenerator(nn.Cell):
    def __init__(self, in_planes, out_planes, ngf=64, n_layers=8, norm_mode='bn', dropout=False):
        super(UNetGenerator, self).__init__()
        unet_block = UNetSkipConnectionBlock(ngf * 8, ngf * 8, in_planes=None, submodule=None, norm_mode=norm_mode, innermost=True)
        for _ in range(n_layers - 5):
            unet_block = UNetSkipConnectionBlock(ngf * 8, ngf * 8, in_planes=None, submodule=unet_block, norm_mode=norm_mode, dropout=dropout)
        unet_block = UNetSkipConnectionBlock(ngf * 4, ngf * 8, in_planes=None, submodule=unet_block, norm_mode=norm_mode)
        unet_block = UNetSkipConnectionBlock(ngf * 2, ngf * 4, in_planes=None, submodule=unet_block, norm_mode=norm_mode)
        unet_block = UNetSkipConnectionBlock(ngf, ngf * 2, in_planes=None, submodule=unet_block, norm_mode=norm_mode)
        self.model = UNetSkipConnectionBlock(out_planes, ngf, in_planes=in_planes, submodule=unet_block, outermost=True, norm_mode=norm_mode)

    def construct(self, x):
        return self.model(x)


class ConvNormRelu(nn.Cell):
    def __init__(self, in_planes, out_planes, kernel_size=4, stride=2, alpha=0.2, norm_mode='batch', pad_mode='CONSTANT',
                 use_relu=True, padding=None):
        super(ConvNormRelu, self).__init__()
        norm = nn.BatchNorm2d(out_planes)
        if norm_mode == 'instance':
            norm = nn.BatchNorm2d(out_planes, affine=False)
        has_bias = (norm_mode == 'instance')
        if not padding:
            padding = (kernel_size - 1) // 2
        if pad_mode == 'CONSTANT':
            conv = nn.Conv2d(in_planes, out_planes, kernel_size, stride, pad_mode='pad', has_bias=has_bias, padding=padding)
            layers = [conv, norm]
        else:
            paddings = ((0, 0), (0, 0), (padding, padding), (padding, padding))
            pad = nn.Pad(paddings=paddings, mode=pad_mode)
            conv = nn.Conv2d(in_planes, out_planes, kernel_size, stride, pad_mode='pad', has_bias=has_bias)
            layers = [pad, conv, norm]
        if use_relu:
            relu = nn.ReLU()
            if alpha > 0:
                relu = nn.LeakyReLU(alpha)
            layers.append(relu)
        self.features = nn.SequentialCell(layers)

    def construct(self, x):
        output = self.features(x)
        return output


class Pix2PixDiscriminator(nn.Cell):  # the tutorial's Discriminator
    def __init__(self, in_planes=3, ndf=64, n_layers=3, alpha=0.2, norm_mode='batch'):
        super(Pix2PixDiscriminator, self).__init__()
        kernel_size = 4
        layers = [nn.Conv2d(in_planes, ndf, kernel_size, 2, pad_mode='pad', padding=1), nn.LeakyReLU(alpha)]
        nf_mult = ndf
        for i in range(1, n_layers):
            nf_mult_prev = nf_mult
            nf_mult = min(2 ** i, 8) * ndf
            layers.append(ConvNormRelu(nf_mult_prev, nf_mult, kernel_size, 2, alpha, norm_mode, padding=1))
        nf_mult_prev = nf_mult
        nf_mult = min(2 ** n_layers, 8) * ndf
        layers.append(ConvNormRelu(nf_mult_prev, nf_mult, kernel_size, 1, alpha, norm_mode, padding=1))
        layers.append(nn.Conv2d(nf_mult, 1, kernel_size, 1, pad_mode='pad', padding=1))
        self.features = nn.SequentialCell(layers)

    def construct(self, x, y):
        x_y = ops.concat((x, y), axis=1)
        output = self.features(x_y)
        return output


def _init_weights(net, init_gain=0.02):
    """The tutorial's initialisation loop ('normal')."""
    for _, cell in net.cells_and_names():
        if isinstance(cell, (nn.Conv2d, nn.Conv2dTranspose)):
            cell.weight.set_data(initializer(Normal(init_gain), cell.weight.shape))
        elif isinstance(cell, nn.BatchNorm2d):
            cell.gamma.set_data(initializer('ones', cell.gamma.shape))
            cell.beta.set_data(initializer('zeros', cell.beta.shape))


def test_pix2pix_tutorial_two_training_steps_match_torch():
    ms.set_seed(5)
    net_generator = UNetGenerator(in_planes=3, out_planes=3, ngf=4, n_layers=5)
    _init_weights(net_generator)
    net_discriminator = Pix2PixDiscriminator(in_planes=6, ndf=4, alpha=0.2, n_layers=3)
    _init_weights(net_discriminator)
    twins = [mirror_twin(net) for net in (net_generator, net_discriminator)]  # torch copies, evaluation mode as the tutorial's
    dataset_size, lr, n_epochs, n_epochs_decay, epoch_num = 2, 0.0002, 1, 1, 2

    def get_lr():
        lrs = [lr] * dataset_size * n_epochs
        lr_epoch = 0
        for epoch in range(n_epochs_decay):
            lr_epoch = lr * (n_epochs_decay - epoch) / n_epochs_decay
            lrs += [lr_epoch] * dataset_size
        lrs += [lr_epoch] * dataset_size * (epoch_num - n_epochs_decay - n_epochs)
        return Tensor(np.array(lrs).astype(np.float32))

    loss_f = nn.BCEWithLogitsLoss()
    l1_loss = nn.L1Loss()

    def forword_dis(reala, realb):
        lambda_dis = 0.5
        fakeb = net_generator(reala)
        pred0 = net_discriminator(reala, fakeb)
        pred1 = net_discriminator(reala, realb)
        loss_d = loss_f(pred1, ops.ones_like(pred1)) + loss_f(pred0, ops.zeros_like(pred0))
        loss_dis = loss_d * lambda_dis
        return loss_dis

    def forword_gan(reala, realb):
        lambda_gan = 0.5
        lambda_l1 = 100
        fakeb = net_generator(reala)
        pred0 = net_discriminator(reala, fakeb)
        loss_1 = loss_f(pred0, ops.ones_like(pred0))
        loss_2 = l1_loss(fakeb, realb)
        loss_gan = loss_1 * lambda_gan + loss_2 * lambda_l1
        return loss_gan

    d_opt = nn.Adam(net_discriminator.trainable_params(), learning_rate=get_lr(), beta1=0.5, beta2=0.999, loss_scale=1)
    g_opt = nn.Adam(net_generator.trainable_params(), learning_rate=get_lr(), beta1=0.5, beta2=0.999, loss_scale=1)
    grad_d = ms.value_and_grad(forword_dis, None, net_discriminator.trainable_params())
    grad_g = ms.value_and_grad(forword_gan, None, net_generator.trainable_params())

    def train_step(reala, realb):
        loss_dis, d_grads = grad_d(reala, realb)
        loss_gan, g_grads = grad_g(reala, realb)
        d_opt(d_grads)
        g_opt(g_grads)
        return loss_dis, loss_gan

    rng = np.random.default_rng(4)
    pairs = {"input_images": rng.uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32),
             "target_images": rng.uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)}
    dataset = ds.NumpySlicesDataset(pairs, shuffle=False).batch(1)  # the MindRecord file's two columns
    losses = []
    for data in dataset.create_dict_iterator(output_numpy=True, num_epochs=1):
        losses.append([float(v) for v in train_step(Tensor(data["input_images"]), Tensor(data["target_images"]))])

    # torch: the same two steps, updated by MindSpore's Adam formula (its eps is added to sqrt(v) before the bias
    # correction, unlike torch.optim.Adam's); the rate of both steps is 0.0002
    g, d = (twin.module for twin in twins)
    moments = {p: [torch.zeros_like(p), torch.zeros_like(p)] for m in (g, d) for p in m.parameters()}

    def adam_step(params, grads, t, beta1=0.5, beta2=0.999):
        with torch.no_grad():
            for p, grad in zip(params, grads):
                m, v = moments[p]
                m.mul_(beta1).add_((1 - beta1) * grad)
                v.mul_(beta2).add_((1 - beta2) * grad * grad)
                p -= 0.0002 * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * m / (v.sqrt() + 1e-8)

    for step in range(2):
        a, b = torch.tensor(pairs["input_images"][step:step + 1]), torch.tensor(pairs["target_images"][step:step + 1])
        fake = g(a)
        pred0, pred1 = d(a, fake), d(a, b)
        loss_dis = (TF.binary_cross_entropy_with_logits(pred1, torch.ones_like(pred1))
                    + TF.binary_cross_entropy_with_logits(pred0, torch.zeros_like(pred0))) * 0.5
        loss_gan = TF.binary_cross_entropy_with_logits(pred0, torch.ones_like(pred0)) * 0.5 + TF.l1_loss(fake, b) * 100
        grads_d = torch.autograd.grad(loss_dis, list(d.parameters()), retain_graph=True)
        grads_g = torch.autograd.grad(loss_gan, list(g.parameters()))
        np.testing.assert_allclose(losses[step], [loss_dis.item(), loss_gan.item()], rtol=1e-5)
        adam_step(list(d.parameters()), grads_d, step + 1)
        adam_step(list(g.parameters()), grads_g, step + 1)
    for net, twin in zip((net_generator, net_discriminator), twins):
        by_name = dict(twin.module.named_parameters())
        for p in net.trainable_params():
            np.testing.assert_allclose(p.asnumpy(), by_name[twin.parameter_names[p.name]].detach().numpy(), rtol=1e-4, atol=1e-6)
