"""funcad.dataset's row operations (take, skip, project, concat, zip, split, output shapes and types), the seed in
dataset.config, the geometric vision operations (against torch's interpolation with half-pixel centres and numpy
slicing) and transforms.OneHot."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import funcad
import funcad.dataset as ds
from funcad.dataset import transforms, vision


def _numbers(n=10, shuffle=False):
    return ds.NumpySlicesDataset({"x": np.arange(n), "y": np.arange(n) * 10}, shuffle=shuffle)


def _column(dataset, name="x"):
    return [int(row[name]) for row in dataset.create_dict_iterator(output_numpy=True)]


def test_take_skip_project_concat_and_zip():
    data = _numbers()
    assert _column(data.take(3)) == [0, 1, 2] and data.take(3).get_dataset_size() == 3 and data.take(-1) is data
    assert _column(data.skip(7)) == [7, 8, 9] and data.skip(12).get_dataset_size() == 0
    batches = [b.tolist() for b, _ in data.skip(2).take(3).batch(2).create_tuple_iterator(output_numpy=True)]
    assert batches == [[2, 3], [4]]
    assert data.project(["y", "x"]).get_col_names() == ["y", "x"] and _column(data.project("x").take(2)) == [0, 1]
    both = data.take(2) + data.skip(8)
    assert _column(both) == [0, 1, 8, 9] and both.get_dataset_size() == 4
    zipped = ds.zip((data.take(4), _numbers(3).rename(["x", "y"], ["a", "b"])))
    assert zipped.get_col_names() == ["x", "y", "a", "b"] and zipped.get_dataset_size() == 3
    assert [list(map(int, row)) for row in zipped.create_tuple_iterator(output_numpy=True)] == [[0, 0, 0, 0], [1, 10, 1, 10], [2, 20, 2, 20]]
    assert data.output_shapes() == [[], []] and data.batch(4).output_shapes() == [[4], [4]]
    assert data.output_types() == [np.arange(1).dtype] * 2


def test_split_in_order_and_at_random_covers_every_row_once():
    data = _numbers()
    first, second = data.split([0.7, 0.3], randomize=False)
    assert _column(first) == list(range(7)) and _column(second) == [7, 8, 9]
    funcad.set_seed(4)
    parts = data.split([5, 3, 2])
    rows = [_column(p) for p in parts]
    assert [len(r) for r in rows] == [5, 3, 2] and sorted(sum(rows, [])) == list(range(10)) and rows[0] != list(range(5))
    ds.config.set_seed(4)
    assert [_column(p) for p in data.split([5, 3, 2])] == rows and ds.config.get_seed() == 4


def test_row_operations_refuse_what_they_cannot_do():
    data = _numbers()
    with pytest.raises(ValueError, match=r"split: sizes \[4, 4\] must be positive row counts adding up to 10"):
        data.split([4, 4])
    with pytest.raises(ValueError, match=r"project: no column\(s\) \['z'\]"):
        data.project(["z"])
    with pytest.raises(ValueError, match="zip: the datasets share column names"):
        ds.zip((data, data))
    with pytest.raises(ValueError, match="concat: the datasets' columns differ"):
        data + data.project("x")
    with pytest.raises(ValueError, match="skip: count must be a non-negative int"):
        data.skip(-1)


@pytest.mark.parametrize("size", [(5, 9), (16, 12), 6])
def test_resize_is_half_pixel_bilinear_as_torch(size):
    image = np.random.default_rng(2).uniform(0, 1, (8, 12, 3)).astype(np.float32)
    out = vision.Resize(size)(image)
    target = (6, 9) if size == 6 else size  # an int sets the shorter side, keeping the aspect ratio
    expected = torch.nn.functional.interpolate(torch.from_numpy(image).permute(2, 0, 1)[None].double(), size=target, mode="bilinear",
                                               align_corners=False)[0].permute(1, 2, 0).numpy()
    assert out.dtype == np.float32 and out.shape == target + (3,)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    nearest = vision.Resize(target, vision.Inter.NEAREST)(image)
    expected = torch.nn.functional.interpolate(torch.from_numpy(image).permute(2, 0, 1)[None], size=target, mode="nearest")[0].permute(1, 2, 0)
    np.testing.assert_array_equal(nearest, expected.numpy())
    grey = vision.Resize(target)((image[..., 0] * 255).astype(np.uint8))
    assert grey.dtype == np.uint8 and grey.shape == target


def test_crops_and_flips():
    image = np.arange(5 * 6 * 2).reshape(5, 6, 2)
    np.testing.assert_array_equal(vision.CenterCrop((3, 2))(image), image[1:4, 2:4])
    funcad.set_seed(1)
    crops = [vision.RandomCrop(4, padding=1)(image) for _ in range(30)]
    assert all(c.shape == (4, 4, 2) for c in crops) and len({c.tobytes() for c in crops}) > 5
    padded = np.pad(image, ((1, 1), (1, 1), (0, 0)))
    assert all(any(np.array_equal(c, padded[t:t + 4, s:s + 4]) for t in range(4) for s in range(5)) for c in crops)
    np.testing.assert_array_equal(vision.RandomHorizontalFlip(1.0)(image), image[:, ::-1])
    np.testing.assert_array_equal(vision.RandomVerticalFlip(1.0)(image), image[::-1])
    np.testing.assert_array_equal(vision.RandomVerticalFlip(0.0)(image), image)
    with pytest.raises(ValueError, match=r"CenterCrop: crop size \(6, 2\) is larger than the image \(5, 6\)"):
        vision.CenterCrop((6, 2))(image)


def test_one_hot_labels():
    np.testing.assert_array_equal(transforms.OneHot(4)(np.array([2, 0])), [[0, 0, 1, 0], [1, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"OneHot: labels must be integers in \[0, 4\), got \[4\]"):
        transforms.OneHot(4)(np.array([4]))


def test_rename_keeps_the_rows():
    renamed = _numbers(3).rename("x", "index")
    assert renamed.get_col_names() == ["index", "y"] and _column(renamed, "index") == [0, 1, 2]
    with pytest.raises(ValueError, match="rename: .* must rename existing columns one for one"):
        _numbers().rename(["x", "y"], ["a"])


def test_repeat_runs_passes_one_after_another_and_reshuffles_each():
    batches = _numbers(5).batch(2).repeat(3)
    assert batches.get_dataset_size() == 9
    assert [b.tolist() for b, _ in batches.create_tuple_iterator(output_numpy=True)] == [[0, 1], [2, 3], [4]] * 3
    ds.config.set_seed(1)
    values = _column(_numbers(6).shuffle(6).repeat(2))
    assert sorted(values[:6]) == sorted(values[6:]) == list(range(6)) and values[:6] != values[6:]
    endless = _numbers(3).repeat()
    assert endless.get_dataset_size() == 3
    rows = endless.create_tuple_iterator(output_numpy=True)
    assert [int(next(rows)[0]) for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    with pytest.raises(ValueError, match="repeat: count must be a positive int"):
        _numbers().repeat(0)


def test_options_that_would_change_the_rows_are_refused_by_name_and_worker_options_accepted():
    data = ds.NumpySlicesDataset({"x": np.arange(6.0)}, shuffle=False, num_parallel_workers=4, python_multiprocessing=True)
    assert _column(data.map(lambda v: v * 2, num_parallel_workers=2, cache=None)) == [0, 2, 4, 6, 8, 10]
    with pytest.raises(NotImplementedError, match=r"batch: input_columns=\['x'\], per_batch_map=<function"):
        data.batch(3, per_batch_map=lambda x, info: (x,), input_columns=["x"])
    # sharding and samplers are taken (tests/test_dataset_sources.py): shard 1 of 2 reads rows 1, 3, ...
    assert _column(ds.NumpySlicesDataset({"x": np.arange(10)}, num_shards=2, shard_id=1, shuffle=False)) == [1, 3, 5, 7, 9]
    assert _column(ds.GeneratorDataset([1, 2], column_names=["x"], sampler=[1, 0])) == [2, 1]
    with pytest.raises(NotImplementedError, match=r"NumpySlicesDataset: padded_sample=0 not supported"):
        ds.NumpySlicesDataset({"x": np.arange(10)}, padded_sample=0)


def test_map_to_more_or_fewer_columns_puts_the_outputs_where_the_first_input_was():
    data = ds.NumpySlicesDataset({"a": np.arange(3), "x": np.arange(3) * 10, "y": np.arange(3) + 100}, shuffle=False)
    split = data.map(lambda x: (x, x * 2), input_columns=["x"], output_columns=["x", "x2"])
    assert split.get_col_names() == ["a", "x", "x2", "y"]
    assert [list(map(int, row)) for row in split.create_tuple_iterator(output_numpy=True)][1] == [1, 10, 20, 101]
    joined = data.map(lambda x, y: x + y, input_columns=["x", "y"], output_columns=["s"])
    assert joined.get_col_names() == ["a", "s"] and _column(joined, "s") == [100, 111, 122]
    with pytest.raises(ValueError, match="repeat a column name"):
        data.map(lambda x: (x, x), input_columns=["x"], output_columns=["x", "a"])
