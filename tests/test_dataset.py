"""funcad.dataset: MindSpore's quick_start data pipeline verbatim on IDX files written here, the sources
(NumpySlicesDataset, GeneratorDataset, MnistDataset), map / shuffle / batch and the iterators, checked against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from idx_files import write_idx

import funcad
import funcad as mindspore
from funcad import nn
from funcad.dataset import GeneratorDataset, MnistDataset, NumpySlicesDataset, transforms, vision


@pytest.fixture
def mnist_dir(tmp_path):
    """MNIST_Data/train and MNIST_Data/test as the tutorial downloads them: 130 and 70 random images."""
    rng = np.random.default_rng(0)
    data = {}
    for folder, split, n in (("train", "train", 130), ("test", "t10k", 70)):
        (tmp_path / folder).mkdir()
        images, labels = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)
        write_idx(tmp_path / folder / f"{split}-images-idx3-ubyte", images)
        write_idx(tmp_path / folder / f"{split}-labels-idx1-ubyte", labels, gzipped=True)
        data[folder] = images, labels
    return tmp_path, data


def test_quick_start_pipeline_runs_verbatim(mnist_dir, capsys):
    root, data = mnist_dir
    train_dataset = MnistDataset(str(root / "train"))
    test_dataset = MnistDataset(str(root / "test"), shuffle=False)
    print(train_dataset.get_col_names())

    def datapipe(dataset, batch_size):
        image_transforms = [
            vision.Rescale(1.0 / 255.0, 0),
            vision.Normalize(mean=(0.1307,), std=(0.3081,)),
            vision.HWC2CHW()
        ]
        label_transform = transforms.TypeCast(mindspore.int32)

        dataset = dataset.map(image_transforms, 'image')
        dataset = dataset.map(label_transform, 'label')
        dataset = dataset.batch(batch_size)
        return dataset

    train_dataset = datapipe(train_dataset, 64)
    test_dataset = datapipe(test_dataset, 64)
    for image, label in test_dataset.create_tuple_iterator():
        print(f"Shape of image [N, C, H, W]: {image.shape} {image.dtype}")
        print(f"Shape of label: {label.shape} {label.dtype}")
        break
    for data_row in test_dataset.create_dict_iterator():
        print(f"Shape of image [N, C, H, W]: {data_row['image'].shape} {data_row['image'].dtype}")
        print(f"Shape of label: {data_row['label'].shape} {data_row['label'].dtype}")
        break
    assert capsys.readouterr().out == (  # the tutorial's published output
        "['image', 'label']\n"
        "Shape of image [N, C, H, W]: (64, 1, 28, 28) Float32\nShape of label: (64,) Int32\n"
        "Shape of image [N, C, H, W]: (64, 1, 28, 28) Float32\nShape of label: (64,) Int32\n")
    assert train_dataset.get_dataset_size() == 3 and test_dataset.get_dataset_size() == 2
    images, labels = data["test"]
    batches = list(test_dataset.create_tuple_iterator(output_numpy=True))
    assert [len(b[1]) for b in batches] == [64, 6]
    expected = ((images.astype(np.float64) / 255.0 - 0.1307) / 0.3081)[:, None]
    np.testing.assert_allclose(np.concatenate([b[0] for b in batches]), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), labels)
    seen = np.sort(np.concatenate([label.asnumpy() for _, label in train_dataset]))  # shuffled, every row once
    np.testing.assert_array_equal(seen, np.sort(data["train"][1]))


def test_mnist_usage_and_raw_columns(mnist_dir):
    root, data = mnist_dir
    (root / "all").mkdir()
    for src, split in (("train", "train"), ("test", "t10k")):
        for kind in ("images-idx3", "labels-idx1"):
            (root / "all" / f"{split}-{kind}-ubyte").write_bytes((root / src / f"{split}-{kind}-ubyte").read_bytes())
    both = MnistDataset(str(root / "all"), shuffle=False)
    image, label = next(both.create_tuple_iterator(output_numpy=True))
    assert image.shape == (28, 28, 1) and image.dtype == np.uint8 and label.dtype == np.uint32
    assert both.get_dataset_size() == 200
    test_only = MnistDataset(str(root / "all"), usage="test", num_samples=5, shuffle=False)
    np.testing.assert_array_equal([row["label"].item() for row in test_only.create_dict_iterator()], data["test"][1][:5])
    with pytest.raises(ValueError, match="usage must be"):
        MnistDataset(str(root / "all"), usage="valid")
    with pytest.raises(FileNotFoundError, match="train-images"):
        MnistDataset(str(root / "test"), usage="train")


def test_numpy_slices_columns_order_and_batches():
    x, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10) % 3
    ds = NumpySlicesDataset((x, y), column_names=["x", "y"], shuffle=False)
    assert ds.get_col_names() == ["x", "y"] and ds.get_dataset_size() == 10
    rows = list(ds.create_tuple_iterator(output_numpy=True))
    np.testing.assert_array_equal(np.stack([r[0] for r in rows]), x)
    batched = ds.batch(4, drop_remainder=True)
    assert batched.get_dataset_size() == 2 and batched.get_batch_size() == 4
    np.testing.assert_array_equal([b["y"].asnumpy() for b in batched.create_dict_iterator()], [y[:4], y[4:8]])
    assert ds.batch(4).get_dataset_size() == 3
    single = NumpySlicesDataset([1.5, 2.5, 3.5], shuffle=False)
    assert single.get_col_names() == ["column_0"] and [t.item() for (t,) in single] == [1.5, 2.5, 3.5]
    named = NumpySlicesDataset({"a": x, "b": y}, shuffle=False)
    assert named.get_col_names() == ["a", "b"]
    np.testing.assert_array_equal(next(named.create_tuple_iterator(columns=["b"]))[0].asnumpy(), y[0])


def test_shuffles_are_permutations_repeatable_with_set_seed():
    x = np.arange(50)

    def order(ds):
        return [int(t.asnumpy()) for (t,) in ds]

    funcad.set_seed(3)
    source_first, source_second = (order(NumpySlicesDataset(x)) for _ in range(2))
    buffered = NumpySlicesDataset(x, shuffle=False).shuffle(buffer_size=8)
    buffer_first, buffer_second = order(buffered), order(buffered)
    for seen in (source_first, source_second, buffer_first, buffer_second):
        assert sorted(seen) == list(range(50))
    assert source_first != list(range(50)) and source_first != source_second and buffer_first != buffer_second
    assert max(i - pos for pos, i in enumerate(buffer_first)) <= 8  # a row leaves the buffer no earlier than it entered
    funcad.set_seed(3)
    assert order(NumpySlicesDataset(x)) == source_first
    assert order(NumpySlicesDataset(x, shuffle=False).shuffle(1)) == list(range(50))  # a buffer of one keeps the order


def test_generator_sources_and_map_over_columns():
    class Random:  # the tutorials' random-accessible source
        def __init__(self):
            self.data = np.arange(12, dtype=np.float32).reshape(6, 2)
            self.label = np.arange(6, dtype=np.int64)

        def __getitem__(self, index):
            return self.data[index], self.label[index]

        def __len__(self):
            return len(self.data)

    def generator():
        for i in range(5):
            yield np.array([i, i + 1], np.float32), np.array(i % 2)

    indexed = GeneratorDataset(Random(), column_names=["data", "label"], shuffle=False)
    swapped = indexed.map(lambda d, lab: (d * 2.0, lab + 10), input_columns=["data", "label"], output_columns=["twice", "ten"])
    assert swapped.get_col_names() == ["twice", "ten"]
    rows = list(swapped.create_tuple_iterator(output_numpy=True))
    np.testing.assert_array_equal(np.stack([r[0] for r in rows]), Random().data * 2.0)
    np.testing.assert_array_equal([r[1] for r in rows], np.arange(6) + 10)
    from_fn = GeneratorDataset(generator, ["data", "label"]).batch(2).map(lambda d: d.sum(axis=1), "data")
    assert from_fn.get_dataset_size() == 3
    np.testing.assert_array_equal(next(iter(from_fn))[0].asnumpy(), [1.0, 3.0])
    assert [len(b[0]) for b in from_fn] == [2, 2, 1]  # a callable source is read afresh each pass
    with pytest.warns(UserWarning, match="shuffle=True has no effect"):  # MindSpore ignores it: rows in the source's order
        in_order = GeneratorDataset(generator, ["data", "label"], shuffle=True)
    assert [int(r[1]) for r in in_order.create_tuple_iterator(output_numpy=True)] == [0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="row 0 has 2 item"):
        list(GeneratorDataset(generator, ["only"]))


def test_model_trains_on_a_dataset():
    funcad.set_seed(0)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((40, 4)).astype(np.float32), rng.integers(0, 3, 40).astype(np.int32)
    ds = NumpySlicesDataset({"x": x, "y": y}, shuffle=False).batch(8)
    net = nn.Dense(4, 3)
    model = funcad.train.Model(net, nn.CrossEntropyLoss(), nn.SGD(net.trainable_params(), 0.1), metrics={"accuracy"})
    model.train(3, ds)
    accuracy = model.eval(ds)["accuracy"]
    logits = x @ net.weight.asnumpy().T + net.bias.asnumpy()
    assert accuracy == pytest.approx(np.mean(logits.argmax(1) == y))


@pytest.mark.parametrize("make, error, match", [
    (lambda: NumpySlicesDataset((np.zeros(3), np.zeros(4))), ValueError, "different lengths"),
    (lambda: NumpySlicesDataset(np.zeros(3), column_names=["a", "b"]), ValueError, "column_names must be 1 distinct"),
    (lambda: NumpySlicesDataset(np.zeros(3)).batch(0), ValueError, "batch_size must be a positive int"),
    (lambda: NumpySlicesDataset(np.zeros(3)).shuffle(0), ValueError, "buffer_size must be a positive int"),
    (lambda: NumpySlicesDataset(np.zeros(3)).map(lambda v: v, "missing"), ValueError, r"no column\(s\) \['missing'\]"),
    (lambda: NumpySlicesDataset(np.zeros(3)).map("not callable"), TypeError, "operations must be a callable"),
    (lambda: list(NumpySlicesDataset([np.zeros(2), np.zeros(3)], shuffle=False)), ValueError, "each column must convert to one array"),
    (lambda: GeneratorDataset(5, ["a"]), TypeError, "source must be"),
    (lambda: vision.Normalize(mean=(0.5,), std=(0.0,)), ValueError, "std > 0"),
    (lambda: vision.HWC2CHW()(np.zeros((2, 2))), ValueError, r"expected an image of shape \(H, W, C\)"),
])
def test_errors_name_the_operation(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_one_iterator_serves_every_epoch_as_mindspore_s():
    """MindSpore's loop: one iterator made with num_epochs, a ``for`` over it per epoch; ``next`` reads on."""
    data = NumpySlicesDataset({"a": np.arange(4)}, shuffle=False).batch(2)
    tuples = data.create_tuple_iterator(num_epochs=2, output_numpy=True)
    assert [[row[0].tolist() for row in tuples] for _ in range(3)] == [[[0, 1], [2, 3]], [[0, 1], [2, 3]], []]
    rows = data.create_dict_iterator(output_numpy=True)
    assert next(rows)["a"].tolist() == [0, 1] and [r["a"].tolist() for r in rows] == [[2, 3]]
    assert [len(list(rows)) for _ in range(3)] == [2, 2, 2]  # num_epochs=-1: any number of passes
    with pytest.raises(ValueError, match="num_epochs must be a positive int or -1, got 0"):
        data.create_tuple_iterator(num_epochs=0)
