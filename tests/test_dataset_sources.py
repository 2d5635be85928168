"""funcad.dataset's samplers and sharding, the CIFAR and image-folder sources on files written here, and the vision
operations added for the tutorials, checked against hand, numpy and Pillow references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

import funcad
from funcad import dataset as ds
from funcad.dataset import vision


def _values(dataset, column=0):
    return [int(row[column]) for row in dataset.create_tuple_iterator(output_numpy=True)]


# ---- samplers and sharding ------------------------------------------------------------------------------------

def test_distributed_shards_partition_as_mindspore():
    """MindSpore's layout: shard i reads rows i, i + n, ... wrapping so every shard has ceil(rows / n) rows."""
    data = np.arange(10)
    shards = [_values(ds.NumpySlicesDataset(data, num_shards=4, shard_id=i, shuffle=False)) for i in range(4)]
    assert shards == [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]
    assert ds.NumpySlicesDataset(data, num_shards=4, shard_id=2, shuffle=False).get_dataset_size() == 3
    uneven = [_values(ds.NumpySlicesDataset(data, sampler=ds.DistributedSampler(4, i, shuffle=False, offset=0))) for i in range(4)]
    assert uneven == [[0, 4, 8], [1, 5, 9], [2, 6], [3, 7]]
    shifted = [_values(ds.NumpySlicesDataset(data, sampler=ds.DistributedSampler(4, i, shuffle=False, offset=2))) for i in range(4)]
    assert sorted(sum(shifted, [])) == list(range(10)) and shifted[2] == [0, 4, 8] and shifted[0] == [2, 6]


def test_shuffled_shards_share_one_permutation_per_seed_and_pass():
    data = np.arange(12)
    funcad.set_seed(5)
    shards = [ds.NumpySlicesDataset(data, num_shards=3, shard_id=i) for i in range(3)]
    first = [_values(s) for s in shards]
    assert sorted(sum(first, [])) == list(range(12)) and sum(first, []) != list(range(12))
    second = [_values(s) for s in shards]  # a new pass reshuffles, still a partition
    assert sorted(sum(second, [])) == list(range(12)) and second != first
    funcad.set_seed(5)
    assert _values(ds.NumpySlicesDataset(data, num_shards=3, shard_id=1)) == first[1]


def test_samplers_pick_rows_as_documented():
    data = np.arange(10) * 10
    assert _values(ds.NumpySlicesDataset(data, sampler=ds.SequentialSampler(start_index=3, num_samples=4))) == [30, 40, 50, 60]
    assert _values(ds.NumpySlicesDataset(data, sampler=ds.SubsetSampler([7, 2, 2, 9]))) == [70, 20, 20, 90]
    assert _values(ds.NumpySlicesDataset(data, sampler=[1, 0])) == [10, 0]  # a list is a SubsetSampler
    funcad.set_seed(1)
    subset = _values(ds.NumpySlicesDataset(data, sampler=ds.SubsetRandomSampler([1, 3, 5, 7])))
    assert sorted(subset) == [10, 30, 50, 70]
    funcad.set_seed(1)
    assert _values(ds.NumpySlicesDataset(data, sampler=ds.SubsetRandomSampler([1, 3, 5, 7]))) == subset
    funcad.set_seed(2)
    random = _values(ds.NumpySlicesDataset(data, sampler=ds.RandomSampler(num_samples=4)))
    assert len(set(random)) == 4 and set(random) <= set(data.tolist())
    drawn = _values(ds.NumpySlicesDataset(data, sampler=ds.RandomSampler(replacement=True, num_samples=50)))
    assert len(drawn) == 50 and set(drawn) <= set(data.tolist())  # more rows than the source: drawn with replacement
    weighted = _values(ds.NumpySlicesDataset(data, sampler=ds.WeightedRandomSampler([0, 0, 1, 0, 3, 0, 0, 0, 0, 0], 40)))
    assert set(weighted) == {20, 40} and weighted.count(40) > weighted.count(20)
    chained = ds.SequentialSampler(start_index=1, num_samples=2)
    chained.add_child(ds.SubsetSampler([9, 8, 7, 6]))
    assert _values(ds.NumpySlicesDataset(data, sampler=chained)) == [80, 70]


def test_user_sampler_and_generator_dataset_sampling():
    class Evens(ds.Sampler):
        def __iter__(self):
            return iter(range(0, self.dataset_size, 2))

    class Source:
        def __getitem__(self, i):
            return np.array(i * 3)

        def __len__(self):
            return 7

    assert _values(ds.GeneratorDataset(Source(), ["x"], sampler=Evens())) == [0, 6, 12, 18]

    class NoIndices(ds.Sampler):
        pass

    with pytest.raises(TypeError, match="abstract method '?__iter__"):
        NoIndices()
    assert _values(ds.GeneratorDataset(Source(), ["x"], num_shards=2, shard_id=1, shuffle=False)) == [3, 9, 15, 0]
    funcad.set_seed(0)
    shuffled = _values(ds.GeneratorDataset(Source(), ["x"]))
    assert sorted(shuffled) == [0, 3, 6, 9, 12, 15, 18] and shuffled != sorted(shuffled)
    with pytest.raises(ValueError, match="GeneratorDataset: sampler=.* not supported if source does not have attribute '__getitem__'"):
        ds.GeneratorDataset(lambda: iter([1, 2]), ["x"], sampler=ds.SequentialSampler())


@pytest.mark.parametrize("make, error, match", [
    (lambda: ds.NumpySlicesDataset(np.arange(4), num_shards=2, shard_id=2), ValueError, r"NumpySlicesDataset: shard_id 2 .*\[0, 1\]"),
    (lambda: ds.NumpySlicesDataset(np.arange(4), num_shards=2), RuntimeError, "NumpySlicesDataset: num_shards=2 .* requires shard_id"),
    (lambda: ds.NumpySlicesDataset(np.arange(4), shard_id=0), RuntimeError, "shard_id=0 is specified but num_shards is not"),
    (lambda: ds.NumpySlicesDataset(np.arange(4), sampler=ds.SequentialSampler(), shuffle=True), RuntimeError,
     "NumpySlicesDataset: sampler and shuffle=True cannot be specified at the same time"),
    (lambda: ds.NumpySlicesDataset(np.arange(4), sampler=ds.RandomSampler(), num_samples=2), RuntimeError, "sampler and num_samples=2"),
    (lambda: ds.DistributedSampler(3, 3), RuntimeError, r"DistributedSampler: shard_id 3 must be in \[0, 2\]"),
    (lambda: ds.RandomSampler(num_samples=0), ValueError, "RandomSampler: num_samples must be a positive int, got 0"),
    (lambda: list(ds.NumpySlicesDataset(np.arange(4), sampler=ds.SubsetSampler([1, 4]))), ValueError, "SubsetSampler: index 4 is out of range"),
    (lambda: ds.WeightedRandomSampler([1, 0], 2, replacement=False), ValueError, "num_samples 2 exceeds the 1 non-zero weights"),
])
def test_sampling_errors_name_the_class_and_value(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ---- CIFAR ------------------------------------------------------------------------------------------------------

def _cifar_records(rng, n, labels):
    label_bytes = rng.integers(0, 100, (n, labels), dtype=np.uint8)
    planes = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    raw = np.concatenate([label_bytes, planes.reshape(n, -1)], axis=1)
    return raw.tobytes(), planes.transpose(0, 2, 3, 1), label_bytes


def test_cifar10_reads_the_binary_records(tmp_path):
    rng = np.random.default_rng(0)
    parts = {}
    for name, n in (("data_batch_1.bin", 3), ("data_batch_2.bin", 2), ("test_batch.bin", 4)):
        raw, images, labels = _cifar_records(rng, n, 1)
        (tmp_path / name).write_bytes(raw)
        parts[name] = images, labels[:, 0]
    (tmp_path / "batches.meta.txt").write_text("airplane\n")
    train = ds.Cifar10Dataset(str(tmp_path), usage="train", shuffle=False)
    assert train.get_col_names() == ["image", "label"] and train.get_dataset_size() == 5
    rows = list(train.create_tuple_iterator(output_numpy=True))
    assert rows[0][0].shape == (32, 32, 3) and rows[0][0].dtype == np.uint8 and rows[0][1].dtype == np.uint32
    np.testing.assert_array_equal(np.stack([r[0] for r in rows]), np.concatenate([parts["data_batch_1.bin"][0], parts["data_batch_2.bin"][0]]))
    np.testing.assert_array_equal([r[1] for r in rows], np.concatenate([parts["data_batch_1.bin"][1], parts["data_batch_2.bin"][1]]))
    everything = ds.Cifar10Dataset(tmp_path, shuffle=False)
    assert everything.get_dataset_size() == 9
    np.testing.assert_array_equal(_values(everything, 1)[5:], parts["test_batch.bin"][1])
    shard = ds.Cifar10Dataset(tmp_path, usage="test", num_shards=2, shard_id=1, shuffle=False)
    np.testing.assert_array_equal(_values(shard, 1), parts["test_batch.bin"][1][[1, 3]])
    pixel = next(ds.Cifar10Dataset(tmp_path, usage="test", shuffle=False).create_dict_iterator(output_numpy=True))["image"]
    raw = (tmp_path / "test_batch.bin").read_bytes()
    assert pixel[0, 1].tolist() == [raw[1 + 1], raw[1 + 1024 + 1], raw[1 + 2048 + 1]]  # R, G, B planes of row 0, column 1


def test_cifar100_columns_and_order(tmp_path):
    rng = np.random.default_rng(1)
    raw_train, images_train, labels_train = _cifar_records(rng, 3, 2)
    raw_test, _, labels_test = _cifar_records(rng, 2, 2)
    (tmp_path / "train.bin").write_bytes(raw_train)
    (tmp_path / "test.bin").write_bytes(raw_test)
    train = ds.Cifar100Dataset(str(tmp_path), usage="train", shuffle=False)
    assert train.get_col_names() == ["image", "coarse_label", "fine_label"]
    rows = list(train.create_tuple_iterator(output_numpy=True))
    np.testing.assert_array_equal(np.stack([r[0] for r in rows]), images_train)
    np.testing.assert_array_equal([[r[1], r[2]] for r in rows], labels_train)
    both = ds.Cifar100Dataset(str(tmp_path), shuffle=False)  # sorted file order: test.bin first
    np.testing.assert_array_equal(_values(both, 2), np.concatenate([labels_test[:, 1], labels_train[:, 1]]))


def test_cifar_errors(tmp_path):
    with pytest.raises(ValueError, match="Cifar10Dataset: dataset_dir .*missing.* does not exist"):
        ds.Cifar10Dataset(str(tmp_path / "missing"))
    (tmp_path / "data_batch_1.bin").write_bytes(b"\0" * 3074)
    with pytest.raises(ValueError, match=r"Cifar10Dataset: .*data_batch_1.bin' has 3074 bytes, not a whole number of 3073-byte"):
        ds.Cifar10Dataset(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="Cifar100Dataset: no 'train' CIFAR .bin files"):
        ds.Cifar100Dataset(str(tmp_path), usage="train")
    with pytest.raises(ValueError, match="usage must be 'train', 'test' or 'all', got 'val'"):
        ds.Cifar10Dataset(str(tmp_path), usage="val")


# ---- ImageFolderDataset and Decode ----------------------------------------------------------------------------

@pytest.fixture
def image_dir(tmp_path):
    rng = np.random.default_rng(2)
    images = {}
    for folder, names in (("dog", ["b.png", "a.png"]), ("cat", ["z.png", "notes.txt"]), ("bird", ["x.jpg"])):
        (tmp_path / folder).mkdir()
        for name in names:
            path = tmp_path / folder / name
            if name.endswith(".txt"):
                path.write_text("not an image")
                continue
            pixels = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(path)
            images[f"{folder}/{name}"] = pixels
    return tmp_path, images


def test_image_folder_classes_files_and_decode(image_dir):
    root, images = image_dir
    data = ds.ImageFolderDataset(str(root), extensions=[".png"], shuffle=False)
    assert data.get_class_indexing() == {"bird": 0, "cat": 1, "dog": 2} and data.get_dataset_size() == 3
    rows = list(data.create_tuple_iterator(output_numpy=True))
    assert [int(r[1]) for r in rows] == [1, 2, 2] and rows[0][1].dtype == np.int32
    assert rows[1][0].dtype == np.uint8 and rows[1][0].tobytes() == (root / "dog" / "a.png").read_bytes()
    decoded = data.map(vision.Decode(), "image")
    np.testing.assert_array_equal([r[0] for r in decoded.create_tuple_iterator(output_numpy=True)],
                                  [images["cat/z.png"], images["dog/a.png"], images["dog/b.png"]])
    direct = ds.ImageFolderDataset(str(root), decode=True, class_indexing={"dog": 7, "bird": 3}, shuffle=False)
    rows = list(direct.create_tuple_iterator(output_numpy=True))
    assert [int(r[1]) for r in rows] == [3, 7, 7]
    with Image.open(root / "bird" / "x.jpg") as jpeg:
        np.testing.assert_array_equal(rows[0][0], np.asarray(jpeg.convert("RGB")))
    np.testing.assert_array_equal(rows[2][0], images["dog/b.png"])
    funcad.set_seed(3)
    assert sorted(_values(ds.ImageFolderDataset(str(root), extensions=[".png"]), 1)) == [1, 2, 2]


def test_image_folder_errors(image_dir, tmp_path_factory):
    root, _ = image_dir
    with pytest.raises(ValueError, match="ImageFolderDataset: dataset_dir .* does not exist"):
        ds.ImageFolderDataset(str(root / "nowhere"))
    with pytest.raises(ValueError, match=r"ImageFolderDataset: class_indexing names folder\(s\) \['fish'\]"):
        ds.ImageFolderDataset(str(root), class_indexing={"fish": 0})
    with pytest.raises(RuntimeError, match=r"ImageFolderDataset: no image files with extensions \['.bmp'\]"):
        ds.ImageFolderDataset(str(root), extensions=[".bmp"])
    with pytest.raises(ValueError, match="Decode: the 12 bytes are not an image"):
        vision.Decode()(np.frombuffer(b"not an image", np.uint8))


# ---- vision -------------------------------------------------------------------------------------------------------

def _replay_box(seed, h, w, scale, ratio):
    """RandomResizedCrop's box drawn by hand from the same generator: MindSpore's algorithm."""
    rng = np.random.default_rng(seed)
    for _ in range(10):
        area, aspect = rng.uniform(*scale), math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        cw = max(int(round(math.sqrt(h * w * area * aspect))), 1)
        ch = max(int(round(cw / aspect)), 1)
        if cw <= w and ch <= h:
            left = int(rng.integers(0, w - cw + 1))  # x before y, as MindSpore draws them
            return int(rng.integers(0, h - ch + 1)), left, ch, cw
    raise AssertionError("no box fitted")


def test_random_resized_crop_reproduces_and_matches_pillow():
    image = np.random.default_rng(4).integers(0, 256, (20, 24, 3)).astype(np.float32)
    op = vision.RandomResizedCrop(32, scale=(0.2, 0.9))
    for seed in (0, 1, 7):
        funcad.set_seed(seed)
        out = op(image)
        funcad.set_seed(seed)
        assert np.array_equal(op(image), out)
        top, left, h, w = _replay_box(seed, 20, 24, (0.2, 0.9), (3 / 4, 4 / 3))
        assert 0 <= top and top + h <= 20 and 0 <= left and left + w <= 24 and 0.15 <= h * w / 480 <= 0.95
        box = image[top : top + h, left : left + w]
        planes = [Image.fromarray(np.ascontiguousarray(box[..., c], np.float32)) for c in range(3)]  # float32: mode 'F'
        reference = np.stack([np.asarray(plane.resize((32, 32), Image.BILINEAR)) for plane in planes], -1)
        assert out.shape == (32, 32, 3)
        np.testing.assert_allclose(out, reference, rtol=1e-4, atol=1e-3)  # upsampling: Pillow's bilinear is half-pixel too
    funcad.set_seed(0)
    wide = vision.RandomResizedCrop((4, 6), scale=(2.0, 3.0))(np.arange(40, dtype=np.uint8).reshape(4, 10))  # no fit: centred fallback
    np.testing.assert_array_equal(wide, vision.Resize((4, 6))(np.arange(40, dtype=np.uint8).reshape(4, 10)[:, 2:7]))


def test_pad_modes_match_numpy():
    image = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    np.testing.assert_array_equal(vision.Pad(1)(image), np.pad(image, ((1, 1), (1, 1), (0, 0))))
    np.testing.assert_array_equal(vision.Pad((1, 2, 3, 0), padding_mode=vision.Border.REFLECT)(image),
                                  np.pad(image, ((2, 0), (1, 3), (0, 0)), mode="reflect"))
    np.testing.assert_array_equal(vision.Pad((2, 1), padding_mode=vision.Border.SYMMETRIC)(image),
                                  np.pad(image, ((1, 1), (2, 2), (0, 0)), mode="symmetric"))
    coloured = vision.Pad(1, fill_value=(9, 8, 7))(image)
    assert coloured[0, 0].tolist() == [9, 8, 7] and np.array_equal(coloured[1:-1, 1:-1], image)
    with pytest.raises(ValueError, match="Pad: padding must be"):
        vision.Pad((1, 2, 3))


def test_random_rotation_against_rot90_and_pillow():
    image = np.random.default_rng(5).integers(0, 256, (9, 9, 3), dtype=np.uint8)
    quarter = vision.RandomRotation((90, 90))
    np.testing.assert_array_equal(quarter(image), np.rot90(image))  # counter-clockwise
    np.testing.assert_array_equal(vision.RandomRotation((90, 90), resample=vision.Inter.BILINEAR)(image), np.rot90(image))
    turned = vision.RandomRotation((30, 30), fill_value=0)(image)
    reference = np.asarray(Image.fromarray(image).rotate(30, resample=Image.NEAREST))
    assert np.mean(turned == reference) > 0.97  # Pillow samples the same pre-images; ties may round apart
    big = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    np.testing.assert_array_equal(vision.RandomRotation((17, 17))(big), np.asarray(Image.fromarray(big).rotate(17, resample=Image.NEAREST)))
    tall = np.random.default_rng(6).integers(0, 256, (4, 6), dtype=np.uint8)
    expanded = vision.RandomRotation((90, 90), expand=True)(tall)
    np.testing.assert_array_equal(expanded, np.rot90(tall))
    funcad.set_seed(11)
    a = vision.RandomRotation(45, resample=vision.Inter.BILINEAR, fill_value=(255, 0, 0))(image)
    funcad.set_seed(11)
    assert np.array_equal(a, vision.RandomRotation(45, resample=vision.Inter.BILINEAR, fill_value=(255, 0, 0))(image))


def test_colour_operations():
    image = np.random.default_rng(7).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    grey = np.rint(image @ np.array([0.299, 0.587, 0.114])).astype(np.int64)
    got = vision.ConvertColor(vision.ConvertMode.COLOR_RGB2GRAY)(image)
    assert got.shape == (6, 5) and np.max(np.abs(got.astype(np.int64) - grey)) <= 1
    np.testing.assert_array_equal(vision.ConvertColor(vision.ConvertMode.COLOR_RGB2BGR)(image), image[..., ::-1])
    np.testing.assert_array_equal(vision.Grayscale()(Image.fromarray(image)), np.asarray(Image.fromarray(image).convert("L")))
    assert vision.Grayscale(3)(image).shape == (6, 5, 3)
    np.testing.assert_array_equal(vision.AdjustBrightness(1.5)(image), np.clip(np.rint(image * 1.5), 0, 255).astype(np.uint8))
    np.testing.assert_array_equal(vision.AdjustSaturation(0.0)(image), np.repeat(got[..., None], 3, axis=-1))
    mean = np.rint(got.mean())
    np.testing.assert_array_equal(vision.AdjustContrast(0.5)(image), np.clip(np.rint(image * 0.5 + mean * 0.5), 0, 255).astype(np.uint8))
    red = np.zeros((1, 1, 3), np.uint8)
    red[..., 0] = 255
    assert vision.AdjustHue(1 / 3)(red)[0, 0].tolist() == [0, 255, 0]
    funcad.set_seed(8)
    jittered = vision.RandomColorAdjust(brightness=(0.5, 0.5))(image)
    np.testing.assert_array_equal(jittered, vision.AdjustBrightness(0.5)(image))
    funcad.set_seed(8)
    op = vision.RandomColorAdjust(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    first = op(image)
    funcad.set_seed(8)
    assert np.array_equal(op(image), first) and not np.array_equal(first, image)
    with pytest.raises(ValueError, match="RandomColorAdjust: hue"):
        vision.RandomColorAdjust(hue=0.7)


def test_old_module_paths_resolve_to_the_same_classes():
    import funcad.dataset.transforms.c_transforms as c_common
    import funcad.dataset.vision.c_transforms as c_vision
    import funcad.dataset.vision.py_transforms as py_vision

    assert c_vision.RandomResizedCrop is vision.RandomResizedCrop and py_vision.Decode is vision.Decode
    assert c_common.TypeCast is ds.transforms.TypeCast
