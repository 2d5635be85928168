"""Initialisers: names, seeding, bounds and moments against their closed forms."""

import math

import numpy as np
import pytest

import funcad
from funcad.nn import initializer
from funcad.nn.initializer import HeNormal, HeUniform, Normal, One, TruncatedNormal, Uniform, XavierNormal, XavierUniform, Zero


def test_same_seed_same_values_and_dtype():
    funcad.set_seed(7)
    a = np.asarray(initializer("he_uniform", (20, 30)))
    funcad.set_seed(7)
    b = np.asarray(initializer("he_uniform", (20, 30)))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and not np.array_equal(a, np.asarray(initializer("he_uniform", (20, 30))))
    assert np.asarray(initializer("normal", (3,), np.float64)).dtype == np.float64


@pytest.mark.parametrize(
    "init, bound, std",
    [
        (XavierUniform(), math.sqrt(6 / (200 + 300)), math.sqrt(2 / (200 + 300))),
        (HeUniform(), math.sqrt(6 / 300), math.sqrt(2 / 300)),
        (HeUniform(math.sqrt(5)), 1 / math.sqrt(300), 1 / math.sqrt(900)),
        (HeUniform(mode="fan_out", nonlinearity="relu"), math.sqrt(6 / 200), math.sqrt(2 / 200)),
        (Uniform(0.3), 0.3, 0.3 / math.sqrt(3)),
        (HeNormal(), None, math.sqrt(2 / 300)),
        (XavierNormal(2.0), None, 2 * math.sqrt(2 / 500)),
        (Normal(0.5), None, 0.5),
    ],
)
def test_distributions_have_closed_form_bounds_and_std(init, bound, std):
    funcad.set_seed(0)
    values = np.asarray(initializer(init, (200, 300), np.float64))
    if bound is not None:
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert abs(values.std() - std) < 0.02 * std and abs(values.mean()) < 0.02 * std


def test_conv_fans_include_the_receptive_field():
    funcad.set_seed(0)
    values = np.asarray(initializer("xavier_uniform", (16, 8, 3, 3), np.float64))
    assert np.abs(values).max() <= math.sqrt(6 / (8 * 9 + 16 * 9))


def test_constants_names_and_arrays():
    np.testing.assert_array_equal(np.asarray(initializer("zeros", 3)), np.zeros(3))
    np.testing.assert_array_equal(np.asarray(initializer("ones", (2, 2))), np.ones((2, 2)))
    np.testing.assert_array_equal(np.asarray(initializer(2.5, (2,))), [2.5, 2.5])
    np.testing.assert_array_equal(np.asarray(initializer(np.arange(3.0), (3,))), np.arange(3.0))
    funcad.set_seed(0)
    t = np.asarray(initializer(TruncatedNormal(1.0, a=-1.0, b=1.0), (1000,), np.float64))
    assert np.abs(t).max() <= 1.0


def test_names_are_case_insensitive_aliases_or_class_names_as_mindspore_accepts_them():
    for names, cls in ((("zeros", "Zero", "ZEROS"), Zero), (("ones", "One"), One), (("he_uniform", "HeUniform"), HeUniform),
                       (("xavier_uniform", "XavierUniform"), XavierUniform), (("normal", "Normal"), Normal), (("uniform", "Uniform"), Uniform)):
        values = []
        for name in names:
            funcad.set_seed(3)
            values.append(np.asarray(initializer(name, (4, 3))))
        funcad.set_seed(3)
        expected = np.asarray(initializer(cls(), (4, 3)))
        for name, v in zip(names, values):
            np.testing.assert_array_equal(v, expected, err_msg=name)


def test_errors_list_valid_choices():
    with pytest.raises(ValueError, match="unknown initializer 'kaiming'; valid names: dirac, he_normal, he_uniform, identity.*class name: Zero"):
        initializer("kaiming", (2, 2))
    with pytest.raises(ValueError, match=r"array of shape \(3,\) given for a parameter of shape \(2,\)"):
        initializer(np.zeros(3), (2,))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        initializer("xavier_uniform", (5,))
    with pytest.raises(ValueError, match="mode must be"):
        HeUniform(mode="fan_avg")
