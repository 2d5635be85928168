"""What MindSpore programs written by others needed: its ViT, GAN, sentiment-analysis and sequence-labelling
tutorials run after changing their imports. Each test checks values against MindSpore's documented outputs, closed
forms or torch in float64."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import funcad
import funcad.dataset as ds
from funcad import Parameter, Tensor, nn, ops
from funcad.dataset import text, transforms, vision
from funcad.train import CheckpointConfig, Model, ModelCheckpoint


def test_random_crop_decode_resize_is_decode_then_random_resized_crop():
    """The ViT tutorial's first operation: the same draws as Decode followed by RandomResizedCrop."""
    pixels = np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    encoded = np.frombuffer(buffer.getvalue(), np.uint8)
    ds.config.set_seed(5)
    got = vision.RandomCropDecodeResize(size=16, scale=(0.2, 0.9), ratio=(0.75, 1.333))(encoded)
    ds.config.set_seed(5)
    want = vision.RandomResizedCrop(size=16, scale=(0.2, 0.9), ratio=(0.75, 1.333))(vision.Decode()(encoded))
    assert got.shape == (16, 16, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)


class _Tokened(nn.Cell):
    """The ViT tutorial's pattern: a Parameter given a name ('cls') other than its attribute's ('cls_token')."""

    def __init__(self):
        super().__init__()
        self.cls_token = Parameter(Tensor(np.full((1, 2), 0.5, np.float32)), name="cls")
        self.dense = nn.Dense(2, 1)

    def construct(self, x):
        return self.dense(x + self.cls_token)


def test_model_checkpoint_keys_parameters_as_save_checkpoint_does(tmp_path):
    """ModelCheckpoint wrote 'cls_token' where load_param_into_net looks for 'cls': the trained value was lost."""
    funcad.set_seed(0)
    net = _Tokened()
    x = np.random.default_rng(1).standard_normal((4, 2)).astype(np.float32)
    y = np.ones((4, 1), np.float32)
    ckpt = ModelCheckpoint(prefix="tok", directory=str(tmp_path), config=CheckpointConfig(save_checkpoint_steps=1))
    Model(net, nn.MSELoss(), nn.SGD(net.trainable_params(), 0.5)).train(1, [(Tensor(x), Tensor(y))], callbacks=[ckpt])
    saved = funcad.load_checkpoint(str(tmp_path / "tok-1_1.ckpt"))
    assert "cls" in saved and "cls_token" not in saved
    fresh = _Tokened()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing of the net is missing from the file
        missing, _ = funcad.load_param_into_net(fresh, saved)
    assert missing == []
    np.testing.assert_array_equal(fresh.cls_token.asnumpy(), net.cls_token.asnumpy())
    assert not np.allclose(net.cls_token.asnumpy(), 0.5)  # it was trained


def test_update_parameters_name_prefixes_as_mindspore(tmp_path):
    """The GAN tutorial names its two networks 'generator' and 'discriminator': MindSpore puts the prefix before
    each name as it is (no dot), and the names stay when layers are added or the Cell is placed in another."""
    net = nn.SequentialCell([nn.Dense(3, 4), nn.ReLU()])
    net.update_parameters_name("generator")
    assert [p.name for p in net.get_parameters()] == ["generator0.weight", "generator0.bias"]
    net.append(nn.Dense(4, 2))
    assert [p.name for p in net.get_parameters()][-2:] == ["generator2.weight", "generator2.bias"]
    funcad.save_checkpoint(net, str(tmp_path / "g.ckpt"))
    assert sorted(funcad.load_checkpoint(str(tmp_path / "g.ckpt"))) == sorted(p.name for p in net.get_parameters())

    class Outer(nn.Cell):
        def __init__(self, inner):
            super().__init__()
            self.gen = inner

    Outer(net)
    assert net.trainable_params()[0].name == "gen.generator0.weight"
    flat = nn.Dense(2, 2)
    flat.update_parameters_name("d.", recurse=False)
    assert [p.name for p in flat.get_parameters()] == ["d.weight", "d.bias"]
    with pytest.raises(TypeError, match="prefix must be a str"):
        flat.update_parameters_name(3)


def test_generator_dataset_over_an_iterable_ignores_shuffle_as_mindspore():
    """The GAN tutorial wraps MnistDataset in GeneratorDataset(..., shuffle=True): MindSpore drops the sampler of a
    source without __getitem__ and reads it in order; funcad does the same and says so."""
    source = ds.NumpySlicesDataset((np.arange(6, dtype=np.float32), np.arange(6) % 2), ["image", "label"], shuffle=False)
    with pytest.warns(UserWarning, match="shuffle=True has no effect"):
        wrapped = ds.GeneratorDataset(source, ["image", "label"], shuffle=True)
    rows = list(wrapped.create_tuple_iterator(output_numpy=True))
    np.testing.assert_array_equal([r[0] for r in rows], np.arange(6))
    assert wrapped.batch(4, True).get_dataset_size() == 1


def test_vocab_lookup_and_pad_end_as_mindspore_documents():
    """The sentiment-analysis tutorial's pipeline: tokens -> ids (special tokens after the words), padded to a length."""
    vocab = text.Vocab.from_list(["the", "film", "great"], special_tokens=["<unk>", "<pad>"], special_first=False)
    assert vocab.vocab() == {"the": 0, "film": 1, "great": 2, "<unk>": 3, "<pad>": 4}
    assert vocab.tokens_to_ids("film") == 1 and vocab.tokens_to_ids(["great", "nope"]) == [2, -1]
    assert vocab.ids_to_tokens([0, 9]) == ["the", ""]
    assert text.Vocab.from_list(["a", "b"], special_tokens=["<pad>"]).tokens_to_ids("<pad>") == 0  # special_first default
    lookup = text.Lookup(vocab, unknown_token="<unk>")
    ids = lookup(np.array(["the", "awful", "film"]))
    np.testing.assert_array_equal(ids, [0, 3, 1])
    assert ids.dtype == np.int32
    with pytest.raises(RuntimeError, match="not in the vocabulary"):
        text.Lookup(vocab)(np.array(["awful"]))
    # MindSpore's PadEnd examples: [1, 2, 3] padded to [4] with 10, and cut to [2]; strings pad with ''
    np.testing.assert_array_equal(transforms.PadEnd([4], pad_value=10)(np.array([1, 2, 3])), [1, 2, 3, 10])
    np.testing.assert_array_equal(transforms.PadEnd([2])(np.array([1, 2, 3])), [1, 2])
    np.testing.assert_array_equal(transforms.PadEnd([3, None])(np.ones((2, 2))), [[1, 1], [1, 1], [0, 0]])
    assert list(transforms.PadEnd([3])(np.array(["a", "b"]))) == ["a", "b", ""]
    rows = ds.GeneratorDataset([(["the", "film"],), (["great"],)], ["text"], shuffle=False)
    rows = rows.map([lookup, transforms.PadEnd([3], pad_value=vocab.tokens_to_ids("<pad>"))], "text")
    np.testing.assert_array_equal(np.stack([r[0] for r in rows.create_tuple_iterator(output_numpy=True)]), [[0, 1, 4], [2, 4, 4]])
    counted = text.Vocab.from_dataset(ds.GeneratorDataset([(["b", "a", "b"],), (["c", "b", "a"],)], ["text"], shuffle=False),
                                      special_tokens=["<pad>"])
    assert counted.vocab() == {"<pad>": 0, "b": 1, "a": 2, "c": 3}


def test_logsumexp_takes_dim_as_the_sequence_labelling_tutorial_writes():
    x = np.random.default_rng(2).standard_normal((2, 3, 4))
    want = torch.logsumexp(torch.tensor(x), dim=1, keepdim=True).numpy()
    np.testing.assert_allclose(ops.logsumexp(Tensor(x), dim=1, keepdim=True).asnumpy(), want, rtol=1e-12)
    np.testing.assert_allclose(ops.logsumexp(Tensor(x), 1, keep_dims=True).asnumpy(), want, rtol=1e-12)


@pytest.mark.parametrize(("size", "kernel", "stride", "dilation"), [(5, 2, 2, 1), (6, 3, 1, 2), (7, 4, 3, 1)])
def test_conv2d_pad_mode_as_mindspore_ops_conv2d(size, kernel, stride, dilation):
    """MindSpore's ops.conv2d takes pad_mode: 'same' gives ceil(size / stride), the odd pixel padded bottom/right."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((1, 2, size, size + 1)), rng.standard_normal((3, 2, kernel, kernel))
    got = ops.conv2d(Tensor(x), Tensor(w), stride=stride, dilation=dilation, pad_mode="same").asnumpy()
    pads = []
    for n in (size + 1, size):  # torch's F.pad lists the last axis first
        total = max((-(-n // stride) - 1) * stride + (kernel - 1) * dilation + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    want = torch.nn.functional.conv2d(torch.nn.functional.pad(torch.tensor(x), pads), torch.tensor(w), stride=stride, dilation=dilation)
    assert got.shape[2:] == (-(-size // stride), -(-(size + 1) // stride))
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-12)
    valid = ops.conv2d(Tensor(x), Tensor(w), stride=stride, dilation=dilation, pad_mode="valid").asnumpy()
    np.testing.assert_allclose(valid, torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=stride, dilation=dilation).numpy(),
                               rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="needs pad_mode='pad'"):
        ops.conv2d(Tensor(x), Tensor(w), padding=1, pad_mode="valid")


class _ConvAndScale(nn.Cell):
    """The optimizer tutorial's net: a convolution and a Parameter named 'param'."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, pad_mode="valid")
        self.param = Parameter(Tensor(np.array([1.0], np.float32)), "param")

    def construct(self, x):
        return self.conv(x) * self.param


def test_group_get_lr_is_a_tuple_per_parameter_and_get_lr_parameter_as_the_optimizer_tutorial():
    """Parameter groups: get_lr returned a dict keyed by id and get_lr_parameter was missing."""
    net = _ConvAndScale()
    conv_params = [p for p in net.trainable_params() if "conv" in p.name]
    other = [p for p in net.trainable_params() if "conv" not in p.name]
    schedule = nn.PolynomialDecayLR(learning_rate=0.1, end_learning_rate=0.01, decay_steps=4, power=0.5)
    groups = [{"params": conv_params, "weight_decay": 0.01, "lr": 0.01}, {"params": other, "lr": schedule},
              {"order_params": net.trainable_params()}]
    opt = nn.Momentum(groups, learning_rate=0.1, momentum=0.9, weight_decay=0.0)
    rates = opt.get_lr()
    assert isinstance(rates, tuple) and len(rates) == len(net.trainable_params())
    by_name = dict(zip((p.name for p in opt.parameters), (float(r) for r in rates)))
    assert by_name == pytest.approx({"conv.weight": 0.01, "param": 0.1})  # MindSpore's Conv2d has no bias by default
    assert [float(r) for r in opt.get_lr_parameter(conv_params)] == pytest.approx([0.01])
    assert opt.get_lr_parameter(net.param) is schedule
    listed = nn.SGD(net.trainable_params(), learning_rate=[0.3, 0.2, 0.1])
    np.testing.assert_allclose(listed.get_lr_parameter(net.param).asnumpy(), [0.3, 0.2, 0.1])
    with pytest.raises(ValueError, match="not among"):
        opt.get_lr_parameter(Parameter(Tensor(np.zeros(1, np.float32)), "stranger"))
    # a step with the groups still uses each parameter's own rate and decay: Momentum's first step is SGD's
    x = Tensor(np.random.default_rng(0).standard_normal((1, 1, 5, 5)).astype(np.float32))
    before = [p.asnumpy().copy() for p in opt.parameters]
    grads = funcad.grad(lambda x: net(x).sum(), None, opt.parameters)(x)
    opt(grads)
    rate_decay = {"conv.weight": (0.01, 0.01), "param": (0.1, 0.0)}
    for p, b, g in zip(opt.parameters, before, grads):
        lr, wd = rate_decay[p.name]
        np.testing.assert_allclose(p.asnumpy(), b - lr * (g.asnumpy() + wd * b), rtol=1e-5, atol=1e-7)


class _TutorialMomentum(nn.Optimizer):
    """The optimizer tutorial's custom optimizer, written with construct as MindSpore's."""

    def __init__(self, params, learning_rate, momentum=0.9):
        super().__init__(learning_rate, params)
        self.momentum = Parameter(Tensor(momentum, funcad.float32), name="momentum")
        self.moments = self.parameters.clone(prefix="moments", init="zeros")

    def construct(self, gradients):
        lr = self.get_lr()
        params = self.parameters
        for i in range(len(params)):
            ops.assign(self.moments[i], self.moments[i] * self.momentum + gradients[i])
            ops.assign(params[i], params[i] - self.moments[i] * lr)
        return params


def test_an_optimizer_written_with_construct_runs_it():
    """nn.Optimizer subclasses with MindSpore's construct could not be made (abstract _updates)."""
    w = Parameter(Tensor(np.array([1.0, -2.0], np.float32)), "w")
    x = np.array([0.5, 3.0], np.float32)
    opt = _TutorialMomentum([w], nn.piecewise_constant_lr([1, 3], [0.1, 0.01]))
    grad_fn = funcad.value_and_grad(lambda: (w * Tensor(x)).sum(), None, opt.parameters)
    want, moment = np.array([1.0, -2.0]), np.zeros(2)
    for lr in (0.1, 0.01, 0.01):
        _, grads = grad_fn()
        opt(grads)
        moment = moment * 0.9 + x
        want = want - moment * lr
    np.testing.assert_allclose(w.asnumpy(), want, rtol=1e-6)
    assert int(opt.global_step) == 3


def test_an_optimizer_with_neither_construct_nor_updates_says_so():
    class Incomplete(nn.Optimizer):
        pass

    w = Parameter(Tensor(np.array([1.0], np.float32)), "w")
    with pytest.raises(NotImplementedError, match="Incomplete: an optimizer defines _updates or MindSpore's construct"):
        Incomplete(0.1, [w])((Tensor(np.array([1.0], np.float32)),))
    assert w.asnumpy()[0] == 1.0


def test_save_checkpoint_of_an_optimizer_and_cell_apply(tmp_path):
    """save_checkpoint(optimizer) was a TypeError; Cell.apply (weight initialisation in the tutorials) was missing."""
    net = nn.SequentialCell(nn.Dense(3, 4), nn.ReLU(), nn.Dense(4, 2))
    seen = []

    def init_dense(cell):
        seen.append(type(cell).__name__)
        if isinstance(cell, nn.Dense):
            cell.weight.set_data(funcad.common.initializer.initializer("ones", cell.weight.shape, cell.weight.dtype))

    assert net.apply(init_dense) is net
    assert seen == ["Dense", "ReLU", "Dense", "SequentialCell"]  # children first, as MindSpore's
    assert net[0].weight.asnumpy().sum() == 12.0
    opt = nn.Adam(net.trainable_params(), 0.1)
    grads = funcad.grad(lambda x: net(x).sum(), None, opt.parameters)(Tensor(np.ones((2, 3), np.float32)))
    opt(grads)
    funcad.save_checkpoint(opt, str(tmp_path / "opt.ckpt"))
    saved = funcad.load_checkpoint(str(tmp_path / "opt.ckpt"))
    assert {"0.weight", "2.bias", "global_step", "moment1.0.weight", "moment2.2.bias"} <= set(saved)
    fresh = nn.SequentialCell(nn.Dense(3, 4), nn.ReLU(), nn.Dense(4, 2))
    fresh_opt = nn.Adam(fresh.trainable_params(), 0.1)
    assert funcad.load_param_into_net(fresh_opt, saved)[0] == []
    assert int(fresh_opt.global_step) == 1
    np.testing.assert_array_equal(fresh_opt.moment1[0].asnumpy(), opt.moment1[0].asnumpy())


def test_jit_syntax_levels_exist_as_in_mindspore():
    """The save/load tutorial's set_context(jit_syntax_level=mindspore.STRICT) failed on the missing name."""
    assert (funcad.STRICT, funcad.COMPATIBLE, funcad.LAX) == (0, 1, 2)
    try:
        funcad.set_context(mode=funcad.GRAPH_MODE, jit_syntax_level=funcad.STRICT)
        assert funcad.get_context("jit_syntax_level") == funcad.STRICT
    finally:
        funcad.set_context(mode=funcad.PYNATIVE_MODE)
