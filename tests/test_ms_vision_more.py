"""The AutoAugment vision operations (funcad.dataset.vision_enhance) and transforms.RandomChoice/RandomApply, checked
against Pillow's ImageOps/ImageEnhance, hand computations, and the AutoAugment policy of MindSpore's tutorial run
over an image folder."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

import funcad
from funcad import dataset as ds
from funcad.dataset import transforms, vision

RNG = np.random.default_rng(3)
IMAGE = RNG.integers(0, 256, (23, 31, 3), dtype=np.uint8)


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image)


# ---- level and histogram operations ---------------------------------------------------------------------------

def test_invert_posterize_solarize_match_pillow():
    np.testing.assert_array_equal(vision.Invert()(IMAGE), np.asarray(ImageOps.invert(_pil(IMAGE))))
    for bits in range(1, 9):
        np.testing.assert_array_equal(vision.RandomPosterize((bits, bits))(IMAGE), np.asarray(ImageOps.posterize(_pil(IMAGE), bits)))
        assert vision.RandomPosterize(bits)(IMAGE).tolist() == vision.RandomPosterize((bits, bits))(IMAGE).tolist()
    np.testing.assert_array_equal(vision.RandomPosterize()(IMAGE), IMAGE)  # default (8, 8): unchanged
    for threshold in (0, 1, 128, 200, 255):  # min == max: every level >= threshold inverted, as Pillow's solarize
        np.testing.assert_array_equal(vision.RandomSolarize((threshold, threshold))(IMAGE),
                                      np.asarray(ImageOps.solarize(_pil(IMAGE), threshold)))
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    funcad.set_seed(4)
    out = vision.RandomSolarize((40, 90))(levels).ravel().astype(int)
    inverted = np.flatnonzero(out != np.arange(256))
    assert inverted.size and 40 <= inverted.min() and inverted.max() <= 90  # a sub-range of (40, 90), inverted
    np.testing.assert_array_equal(out[inverted], 255 - inverted)
    assert np.array_equal(inverted, np.arange(inverted.min(), inverted.max() + 1))


def test_random_posterize_draws_bits_from_the_range():
    funcad.set_seed(0)
    distinct = {vision.RandomPosterize((1, 3))(np.full((1, 1), 255, np.uint8)).item() for _ in range(60)}
    assert distinct == {0b10000000, 0b11000000, 0b11100000}


def test_equalize_is_opencv_equalize_hist():
    plane = np.array([[10, 10], [20, 30]], np.uint8)  # first level 10 (2 pixels); scale 255 / (4 - 2)
    np.testing.assert_array_equal(vision.Equalize()(plane), [[0, 0], [128, 255]])  # round(1 * 127.5) to even: 128
    np.testing.assert_array_equal(vision.Equalize()(np.full((3, 4), 77, np.uint8)), np.full((3, 4), 77, np.uint8))
    rgb = np.stack([plane, 255 - plane, plane // 2], axis=-1)
    np.testing.assert_array_equal(vision.Equalize()(rgb)[..., 1], vision.Equalize()(255 - plane))  # per channel
    # Pillow's lut differs (it rounds its step down); with 6 levels of 102 pixels each its step is exact (2), and
    # both spread the levels evenly
    values = np.repeat(np.array([3, 50, 51, 90, 200, 240], np.uint8), 102)
    image = RNG.permutation(values).reshape(18, 34)
    np.testing.assert_array_equal(vision.Equalize()(image), np.asarray(ImageOps.equalize(_pil(image))))
    assert sorted(set(vision.Equalize()(image).ravel().tolist())) == [0, 51, 102, 153, 204, 255]


@pytest.mark.parametrize("cutoff, ignore", [(0.0, None), (10.0, None), (2.5, [5, 250]), (0.0, 7), (49.0, None)])
def test_auto_contrast_matches_pillow(cutoff, ignore):
    image = RNG.integers(5, 240, (30, 40, 3), dtype=np.uint8)
    image[0, 0] = (5, 250, 7)
    want = np.asarray(ImageOps.autocontrast(_pil(image), cutoff=cutoff, ignore=ignore))
    np.testing.assert_array_equal(vision.AutoContrast(cutoff, ignore)(image), want)
    grey = image[..., 0]
    want = np.asarray(ImageOps.autocontrast(_pil(grey), cutoff=cutoff, ignore=ignore))
    np.testing.assert_array_equal(vision.AutoContrast(cutoff, ignore)(grey), want)


def test_auto_contrast_by_hand():
    plane = np.array([[50, 100], [100, 150]], np.uint8)  # 50 -> 0, 150 -> 255, 100 -> int(50 * 2.55) = 127
    np.testing.assert_array_equal(vision.AutoContrast()(plane), [[0, 127], [127, 255]])
    np.testing.assert_array_equal(vision.AutoContrast()(np.full((2, 2), 9, np.uint8)), np.full((2, 2), 9))


# ---- blends ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("degree", [0.0, 0.1, 0.5, 1.0, 1.5, 1.9])
def test_sharpness_and_color_match_pillow_within_rounding(degree):
    sharp = vision.RandomSharpness((degree, degree))(IMAGE).astype(int)
    want = np.asarray(ImageEnhance.Sharpness(_pil(IMAGE)).enhance(degree)).astype(int)
    assert np.abs(sharp - want).max() <= 1  # MindSpore rounds the blend, Pillow truncates
    colour = vision.RandomColor((degree, degree))(IMAGE).astype(int)
    want = np.asarray(ImageEnhance.Color(_pil(IMAGE)).enhance(degree)).astype(int)
    assert np.abs(colour - want).max() <= 2  # the grey levels themselves may also round apart by one
    if degree == 1.0:
        np.testing.assert_array_equal(sharp, IMAGE)
        np.testing.assert_array_equal(colour, IMAGE)


def test_sharpness_by_hand():
    image = np.zeros((3, 3), np.uint8)
    image[1, 1] = 130  # smoothed centre: 5 * 130 / 13 = 50; the border stays
    np.testing.assert_array_equal(vision.RandomSharpness((0.0, 0.0))(image), [[0, 0, 0], [0, 50, 0], [0, 0, 0]])
    np.testing.assert_array_equal(vision.RandomSharpness((2.0, 2.0))(image)[1, 1], 210)  # 2 * 130 - 50


def test_random_degrees_reproduce_from_the_seed():
    for make in (vision.RandomSharpness, vision.RandomColor):
        funcad.set_seed(9)
        first = [make()(IMAGE) for _ in range(3)]
        ds.config.set_seed(9)
        again = [make()(IMAGE) for _ in range(3)]
        assert all(np.array_equal(a, b) for a, b in zip(first, again)) and not np.array_equal(first[0], first[1])


# ---- RandomAffine ---------------------------------------------------------------------------------------------

def test_affine_translate_rotate_and_shear_by_hand():
    image = RNG.integers(1, 256, (8, 8, 3), dtype=np.uint8)
    shifted = vision.RandomAffine(0, translate=(0.25, 0.25, -0.125, -0.125))(image)  # +2 pixels in x, -1 in y
    np.testing.assert_array_equal(shifted[:7, 2:], image[1:, :6])
    assert not shifted[:, :2].any() and not shifted[7].any()
    square = RNG.integers(1, 256, (9, 9, 3), dtype=np.uint8)
    np.testing.assert_array_equal(vision.RandomAffine((90, 90))(square), np.rot90(square, -1))  # clockwise
    np.testing.assert_array_equal(vision.RandomAffine((30, 30))(IMAGE), vision.RandomRotation((-30, -30))(IMAGE))
    sheared = vision.RandomAffine(0, shear=(45, 45), fill_value=(1, 2, 3))(square)  # x' = x - (y - 4)
    for y in range(9):
        for x in range(9):
            source = x + (y - 4)
            want = square[y, source] if 0 <= source < 9 else (1, 2, 3)
            np.testing.assert_array_equal(sheared[y, x], want)
    sheared_y = vision.RandomAffine(0, shear=(0, 0, 45, 45))(square)  # y' = y - (x - 4)
    np.testing.assert_array_equal(sheared_y[:, 4], square[:, 4])
    np.testing.assert_array_equal(sheared_y[4, 5], square[5, 5])
    np.testing.assert_array_equal(sheared_y[4, 2], square[2, 2])
    half = vision.RandomAffine(0, scale=(2.0, 2.0))(square)  # about the centre (4, 4): output (x, y) reads (4 + (x-4)/2, ...)
    np.testing.assert_array_equal(half[4, 4], square[4, 4])
    np.testing.assert_array_equal(half[0, 0], square[2, 2])


def test_affine_matches_pillow_affine_transform():
    funcad.set_seed(2)
    op = vision.RandomAffine(20, translate=(-0.1, 0.1, -0.1, 0.1), scale=(0.8, 1.2), shear=(-10, 10, -5, 5))
    funcad.set_seed(2)
    out = op(IMAGE)
    funcad.set_seed(2)
    rng = funcad.core.seed.global_rng()
    h, w = IMAGE.shape[:2]
    degrees, tx, ty = rng.uniform(-20, 20), rng.uniform(-0.1 * w, 0.1 * w), rng.uniform(-0.1 * h, 0.1 * h)
    scale, sx, sy = rng.uniform(0.8, 1.2), rng.uniform(-10, 10), rng.uniform(-5, 5)
    a, shx, shy = math.radians(degrees), math.radians(sx), math.radians(-sy)
    forward = np.array([[scale * math.cos(a + shy) / math.cos(shy), scale * (-math.cos(a + shy) * math.tan(shx) / math.cos(shy) - math.sin(a))],
                        [scale * math.sin(a + shy) / math.cos(shy), scale * (-math.sin(a + shy) * math.tan(shx) / math.cos(shy) + math.cos(a))]])
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    offset = centre - forward @ centre + (tx, ty)
    inverse = np.linalg.inv(forward)
    shift = -inverse @ offset + 0.5 - inverse.sum(axis=1) * 0.5  # Pillow samples at pixel centres (x + 0.5)
    data = (inverse[0, 0], inverse[0, 1], shift[0], inverse[1, 0], inverse[1, 1], shift[1])
    want = np.asarray(_pil(IMAGE).transform((w, h), Image.AFFINE, data, resample=Image.NEAREST))
    assert np.mean(np.all(out == want, axis=-1)) > 0.97  # ties at half pixels may round apart


def test_affine_bilinear_fill_and_draws():
    flat = np.full((6, 6), 100, np.uint8)
    out = vision.RandomAffine(0, translate=(0.5, 0.5), resample=vision.Inter.BILINEAR, fill_value=200)(flat)
    np.testing.assert_array_equal(out[:, :3], 200)
    np.testing.assert_array_equal(out[:, 3:], 100)
    funcad.set_seed(5)
    first = [vision.RandomAffine(30, shear=10)(IMAGE) for _ in range(2)]
    funcad.set_seed(5)
    assert all(np.array_equal(a, vision.RandomAffine(30, shear=10)(IMAGE)) for a in first)
    assert not np.array_equal(*first)


# ---- RandomSelectSubpolicy, RandomChoice, RandomApply ---------------------------------------------------------

def test_select_subpolicy_applies_one_subpolicy_with_its_probabilities():
    plane = np.arange(12, dtype=np.uint8).reshape(3, 4)
    policy = [[(vision.Invert(), 1.0), (vision.RandomPosterize(1), 0.0)], [(vision.RandomAffine((90, 90)), 1.0)]]
    funcad.set_seed(1)
    outs = [vision.RandomSelectSubpolicy(policy)(plane) for _ in range(40)]
    turned = vision.RandomAffine((90, 90))(plane)
    kinds = {"invert" if np.array_equal(o, 255 - plane) else "affine" if np.array_equal(o, turned) else "?" for o in outs}
    assert kinds == {"invert", "affine"}
    always = vision.RandomSelectSubpolicy([[(vision.Invert(), 1.0), (vision.Invert(), 1.0), (vision.RandomPosterize(1), 1.0)]])
    np.testing.assert_array_equal(always(plane), plane & 0x80)  # in order: inverted twice, then posterized
    funcad.set_seed(3)
    applied = sum(not np.array_equal(vision.RandomSelectSubpolicy([[(vision.Invert(), 0.3)]])(plane), plane) for _ in range(400))
    assert 80 < applied < 160


def test_random_choice_and_random_apply():
    funcad.set_seed(0)
    picks = {transforms.RandomChoice([lambda x: x + 1, lambda x: x + 2, lambda x: x + 3])(0) for _ in range(50)}
    assert picks == {1, 2, 3}
    funcad.set_seed(0)
    applied = [transforms.RandomApply([lambda x: x + 1, lambda x: x * 10], prob=0.25)(1) for _ in range(400)]
    assert set(applied) == {1, 20} and 60 < applied.count(20) < 140  # both in turn, or neither
    assert transforms.RandomApply([lambda a, b: (b, a)], prob=1.0)(1, 2) == (2, 1)
    assert transforms.RandomApply([lambda a, b: (b, a)], prob=0.0)(1, 2) == (1, 2)


@pytest.mark.parametrize("make, error, match", [
    (lambda: vision.RandomAffine(-1), ValueError, r"RandomAffine: degrees must be non-negative when one number, got -1"),
    (lambda: vision.RandomAffine((10, 5)), ValueError, r"RandomAffine: degrees must be .*got \(10, 5\)"),
    (lambda: vision.RandomAffine(0, translate=(0.5, 1.5)), ValueError, r"RandomAffine: translate must be .*in \[-1.0, 1.0\], got \(0.5, 1.5\)"),
    (lambda: vision.RandomAffine(0, scale=(-1, 2)), ValueError, r"RandomAffine: scale must be .*got \(-1, 2\)"),
    (lambda: vision.RandomAffine(0, shear=(1, 2, 3)), ValueError, r"RandomAffine: shear must be .*got \(1, 2, 3\)"),
    (lambda: vision.RandomAffine(0, resample="nearest"), TypeError, r"RandomAffine: resample must be an Inter, got 'nearest'"),
    (lambda: vision.RandomAffine(0, fill_value=300), ValueError, r"RandomAffine: fill_value must be ints in \[0, 255\], got 300"),
    (lambda: vision.AutoContrast(cutoff=50), ValueError, r"AutoContrast: cutoff must be a number in \[0, 50\), got 50"),
    (lambda: vision.AutoContrast(ignore=[1, 256]), ValueError, r"AutoContrast: ignore must be .*got \[1, 256\]"),
    (lambda: vision.RandomSolarize((100, 50)), ValueError, r"RandomSolarize: threshold must be .*got \(100, 50\)"),
    (lambda: vision.RandomSolarize((0, 256)), ValueError, r"RandomSolarize: threshold .*0 <= min <= max <= 255, got \(0, 256\)"),
    (lambda: vision.RandomPosterize((0, 4)), ValueError, r"RandomPosterize: bits must be .*1 <= min <= max <= 8, got \(0, 4\)"),
    (lambda: vision.RandomSharpness((1.0, 0.5)), ValueError, r"RandomSharpness: degrees must be .*got \(1.0, 0.5\)"),
    (lambda: vision.RandomColor((-0.1, 1)), ValueError, r"RandomColor: degrees must be .*got \(-0.1, 1\)"),
    (lambda: vision.RandomSelectSubpolicy([]), TypeError, r"RandomSelectSubpolicy: policy must be a non-empty list"),
    (lambda: vision.RandomSelectSubpolicy([[(vision.Invert(), 1.5)]]), ValueError, r"RandomSelectSubpolicy: prob must be in \[0, 1\], got 1.5"),
    (lambda: vision.RandomSelectSubpolicy([[vision.Invert()]]), TypeError, r"RandomSelectSubpolicy: expected \(operation, prob\)"),
    (lambda: transforms.RandomChoice([]), TypeError, r"RandomChoice: transforms must be a non-empty list of operations, got \[\]"),
    (lambda: transforms.RandomApply([vision.Invert()], prob=2), ValueError, r"RandomApply: prob must be a number in \[0, 1\], got 2"),
    (lambda: vision.Equalize()(np.zeros((2, 2), np.float32)), TypeError, r"Equalize: expected a uint8 image, got float32"),
    (lambda: vision.RandomColor()(np.zeros((2, 2), np.uint8)), ValueError, r"RandomColor: expected an RGB image of shape \(H, W, 3\), got \(2, 2\)"),
])
def test_bad_arguments_name_the_operation_and_value(make, error, match):
    with pytest.raises(error, match=match):
        make()


# ---- the AutoAugment tutorial's policy over an image folder ---------------------------------------------------

PARAMETER_MAX = 10


def _float_parameter(level, maxval):
    return float(level) * maxval / PARAMETER_MAX


def _int_parameter(level, maxval):
    return int(level * maxval / PARAMETER_MAX)


def shear_x(level):
    v = _float_parameter(level, 0.3)
    return transforms.RandomChoice([vision.RandomAffine(degrees=0, shear=(-v, -v)), vision.RandomAffine(degrees=0, shear=(v, v))])


def shear_y(level):
    v = _float_parameter(level, 0.3)
    return transforms.RandomChoice([vision.RandomAffine(degrees=0, shear=(0, 0, -v, -v)), vision.RandomAffine(degrees=0, shear=(0, 0, v, v))])


def translate_x(level):
    v = _float_parameter(level, 150 / 331)
    return transforms.RandomChoice([vision.RandomAffine(degrees=0, translate=(-v, -v)), vision.RandomAffine(degrees=0, translate=(v, v))])


def translate_y(level):
    v = _float_parameter(level, 150 / 331)
    return transforms.RandomChoice([vision.RandomAffine(degrees=0, translate=(0, 0, -v, -v)),
                                    vision.RandomAffine(degrees=0, translate=(0, 0, v, v))])


def color_impl(level):
    v = _float_parameter(level, 1.8) + 0.1
    return vision.RandomColor(degrees=(v, v))


def rotate_impl(level):
    v = _int_parameter(level, 30)
    return transforms.RandomChoice([vision.RandomRotation(degrees=(-v, -v)), vision.RandomRotation(degrees=(v, v))])


def solarize_impl(level):
    level = _int_parameter(level, 256)
    v = 256 - level
    return vision.RandomSolarize(threshold=(0, v))


def posterize_impl(level):
    level = _int_parameter(level, 4)
    v = 4 - level
    return vision.RandomPosterize(bits=(v, v))


def contrast_impl(level):
    v = _float_parameter(level, 1.8) + 0.1
    return vision.RandomColorAdjust(contrast=(v, v))


def autocontrast_impl(level):
    return vision.AutoContrast()


def sharpness_impl(level):
    v = _float_parameter(level, 1.8) + 0.1
    return vision.RandomSharpness(degrees=(v, v))


def brightness_impl(level):
    v = _float_parameter(level, 1.8) + 0.1
    return vision.RandomColorAdjust(brightness=(v, v))


def imagenet_policy():
    return [
        [(posterize_impl(8), 0.4), (rotate_impl(9), 0.6)], [(solarize_impl(5), 0.6), (autocontrast_impl(5), 0.6)],
        [(vision.Equalize(), 0.8), (vision.Equalize(), 0.6)], [(posterize_impl(7), 0.6), (posterize_impl(6), 0.6)],
        [(vision.Equalize(), 0.4), (solarize_impl(4), 0.2)], [(vision.Equalize(), 0.4), (rotate_impl(8), 0.8)],
        [(solarize_impl(3), 0.6), (vision.Equalize(), 0.6)], [(posterize_impl(5), 0.8), (vision.Equalize(), 1.0)],
        [(rotate_impl(3), 0.2), (solarize_impl(8), 0.6)], [(vision.Equalize(), 0.6), (posterize_impl(6), 0.4)],
        [(rotate_impl(8), 0.8), (color_impl(0), 0.4)], [(rotate_impl(9), 0.4), (vision.Equalize(), 0.6)],
        [(vision.Equalize(), 0.0), (vision.Equalize(), 0.8)], [(vision.Invert(), 0.6), (vision.Equalize(), 1.0)],
        [(color_impl(4), 0.6), (contrast_impl(8), 1.0)], [(rotate_impl(8), 0.8), (color_impl(2), 1.0)],
        [(color_impl(8), 0.8), (solarize_impl(7), 0.8)], [(sharpness_impl(7), 0.4), (vision.Invert(), 0.6)],
        [(shear_x(5), 0.6), (vision.Equalize(), 1.0)], [(color_impl(0), 0.4), (vision.Equalize(), 0.6)],
        [(vision.Equalize(), 0.4), (solarize_impl(4), 0.2)], [(solarize_impl(5), 0.6), (autocontrast_impl(5), 0.6)],
        [(vision.Invert(), 0.6), (vision.Equalize(), 1.0)], [(color_impl(4), 0.6), (contrast_impl(8), 1.0)],
        [(vision.Equalize(), 0.8), (vision.Equalize(), 0.6)],
        [(shear_y(3), 0.5), (translate_x(4), 0.5)], [(translate_y(6), 0.5), (brightness_impl(5), 0.5)],
    ]


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(8)
    for folder in ("cat", "dog"):
        (tmp_path / folder).mkdir()
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(tmp_path / folder / f"{i}.png")
    return tmp_path


def _pipeline(root):
    data = ds.ImageFolderDataset(str(root), num_parallel_workers=2, shuffle=True)
    data = data.map(operations=[vision.RandomCropDecodeResize(32, scale=(0.08, 1.0), ratio=(0.75, 1.333)),
                                vision.RandomHorizontalFlip(prob=0.5)], input_columns="image")
    data = data.map(operations=vision.RandomSelectSubpolicy(imagenet_policy()), input_columns=["image"])
    data = data.map(operations=[vision.Rescale(1.0 / 255.0, 0.0), vision.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
                                vision.HWC2CHW()], input_columns="image")
    data = data.map(operations=transforms.TypeCast(np.int32), input_columns="label")
    return data.batch(4, drop_remainder=True)


def test_autoaugment_tutorial_pipeline_end_to_end(image_folder):
    every_op = [op for sub in imagenet_policy() for op, _ in sub]
    for op in every_op:  # each operation of the policy runs on a decoded image
        out = op(np.asarray(Image.open(image_folder / "cat" / "0.png")))
        assert out.shape == (40, 48, 3) and out.dtype == np.uint8
    ds.config.set_seed(12)
    batches = list(_pipeline(image_folder).create_tuple_iterator(output_numpy=True))
    assert len(batches) == 2
    for images, labels in batches:
        assert images.shape == (4, 3, 32, 32) and images.dtype == np.float32 and np.isfinite(images).all()
        assert labels.dtype == np.int32 and set(labels.tolist()) <= {0, 1}
    ds.config.set_seed(12)
    again = list(_pipeline(image_folder).create_tuple_iterator(output_numpy=True))
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(batches, again))
