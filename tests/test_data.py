"""funcad.data: packaged datasets, the IDX reader (against files written here byte by byte), batching."""

import gzip
import struct

import numpy as np
import pytest

import funcad
from funcad import data


def _idx_bytes(array: np.ndarray, code: int, big_endian_dtype: str) -> bytes:
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(big_endian_dtype).tobytes()


@pytest.mark.parametrize("code, be, dtype", [(0x08, ">u1", np.uint8), (0x09, ">i1", np.int8), (0x0B, ">i2", np.int16),
                                             (0x0C, ">i4", np.int32), (0x0D, ">f4", np.float32), (0x0E, ">f8", np.float64)])
def test_idx_every_dtype_raw_and_gzip(tmp_path, code, be, dtype):
    base = np.arange(24).reshape(2, 3, 4)
    values = (base * 5 - 40 if np.issubdtype(dtype, np.signedinteger) else base).astype(dtype)
    raw = _idx_bytes(values, code, be)
    (tmp_path / "a.idx").write_bytes(raw)
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(raw))
    for name in ("a.idx", "a.idx.gz"):
        out = data.load_idx(tmp_path / name)
        assert out.dtype == np.dtype(dtype) and out.dtype.isnative
        np.testing.assert_array_equal(out, values)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x00\x00", "shorter than the 4-byte magic number"),
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "magic number starts with 0100"),
        (b"\x00\x00\x0a\x01\x00\x00\x00\x01\x05", r"unknown IDX dtype code 0x0A; valid codes: 0x08"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x01", "truncated header: 3 dimensions need 16 bytes"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", r"shape \(3,\) of uint8 needs 3 data bytes, file has 1"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x05\x06", "needs 1 data bytes, file has 2"),
    ],
)
def test_idx_malformed_files(tmp_path, raw, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=message):
        data.load_idx(path)


def test_idx_corrupt_gzip(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x05")[:-6])
    with pytest.raises(ValueError, match="corrupt gzip"):
        data.load_idx(path)


def test_load_mnist_from_standard_names(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(images, 0x08, ">u1")))
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(labels, 0x08, ">u1"))
    x, y = data.load_mnist(tmp_path, train=False)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(x[:, 0], images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        data.load_mnist(tmp_path, train=True)


def test_packaged_datasets():
    x, y = data.load_digits()
    assert x.shape == (1797, 64) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0 and set(np.unique(y)) == set(range(10))
    x, y = data.load_breast_cancer()
    assert x.shape == (569, 30) and x.dtype == np.float32 and set(np.unique(y)) == {0, 1}
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(x.std(0), 1, rtol=1e-4)


def test_upscale_digits_blocks_and_centres():
    digit = np.arange(64, dtype=np.float32).reshape(1, 64)
    big = data.upscale_digits(digit)
    assert big.shape == (1, 1, 28, 28)
    np.testing.assert_array_equal(big[0, 0, 2:26, 2:26], np.kron(digit.reshape(8, 8), np.ones((3, 3))))
    assert big[0, 0, :2].sum() == 0 and big[0, 0, 26:].sum() == 0 and big[0, 0, :, :2].sum() == 0
    with pytest.raises(ValueError, match=r"expected digits of shape \(N, 64\)"):
        data.upscale_digits(np.zeros((2, 10)))


def test_synthetic_images_deterministic_and_learnable():
    x, y = data.synthetic_images(300, (1, 8, 8), 4, seed=3)
    x2, y2 = data.synthetic_images(300, (1, 8, 8), 4, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert x.shape == (300, 1, 8, 8) and x.dtype == np.float32 and y.dtype == np.int64
    assert not np.array_equal(x, data.synthetic_images(300, (1, 8, 8), 4, seed=4)[0])
    # nearest class mean (from the first half) classifies the second half: the classes are separable
    flat = x.reshape(300, -1)
    means = np.stack([flat[:150][y[:150] == c].mean(0) for c in range(4)])
    predicted = ((flat[150:, None] - means) ** 2).sum(-1).argmin(1)
    assert (predicted == y[150:]).mean() > 0.9


def test_batches_cover_everything_once():
    x, y = np.arange(10)[:, None], np.arange(10)
    plain = list(data.batches(x, y, 4))
    assert [len(b) for b, _ in plain] == [4, 4, 2] and np.array_equal(np.concatenate([b for _, b in plain]), y)
    assert [len(b) for b, _ in data.batches(x, y, 4, drop_remainder=True)] == [4, 4]
    shuffled = np.concatenate([b for _, b in data.batches(x, y, 3, shuffle=True, seed=1)])
    again = np.concatenate([b for _, b in data.batches(x, y, 3, shuffle=True, seed=1)])
    assert sorted(shuffled) == list(range(10)) and np.array_equal(shuffled, again) and not np.array_equal(shuffled, y)
    for xb, yb in data.batches(x, y, 3, shuffle=True, seed=1):
        np.testing.assert_array_equal(xb[:, 0], yb)
    funcad.set_seed(5)
    first = np.concatenate([b for _, b in data.batches(x, y, 3, shuffle=True)])
    funcad.set_seed(5)
    np.testing.assert_array_equal(first, np.concatenate([b for _, b in data.batches(x, y, 3, shuffle=True)]))


def test_batches_errors():
    with pytest.raises(ValueError, match="x has 3 samples but y has 2"):
        list(data.batches(np.zeros(3), np.zeros(2), 1))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        list(data.batches(np.zeros(3), np.zeros(3), 0))
