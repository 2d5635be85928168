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
