"""HIPS autograd's README examples, written against ``funcad.numpy`` with only the imports changed, give autograd's numbers."""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as onp
import pytest

import funcad
import funcad.numpy as fnp
from funcad.testing import assert_close


def _tanh_example(np, grad):
    def tanh(x):
        y = np.exp(-2.0 * x)
        return (1.0 - y) / (1.0 + y)

    return tanh(1.0), grad(tanh)(1.0), grad(grad(grad(tanh)))(0.3)


def _logistic_regression_example(np, grad):
    def sigmoid(x):
        return 0.5 * (np.tanh(x / 2.0) + 1)

    def logistic_predictions(weights, inputs):
        return sigmoid(np.dot(inputs, weights))

    inputs = np.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15], [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]])
    targets = np.array([True, True, False, True])

    def training_loss(weights):
        preds = logistic_predictions(weights, inputs)
        label_probabilities = preds * targets + (1 - preds) * (1 - targets)
        return -np.sum(np.log(label_probabilities))

    training_gradient_fun = grad(training_loss)
    weights = np.array([0.0, 0.0, 0.0])
    initial = training_loss(weights)
    for _ in range(100):
        weights = weights - training_gradient_fun(weights) * 0.01
    return initial, training_loss(weights), weights


def _linalg_example(np, grad):
    """A Gaussian log-likelihood through cholesky, solve and slogdet, differentiated in the covariance."""
    data = onp.random.default_rng(0).standard_normal((5, 3))

    def nll(cov_factor):
        cov = np.dot(cov_factor, cov_factor.T) + np.eye(3)
        chol = np.linalg.cholesky(cov)
        white = np.linalg.solve(chol, data.T)
        return 0.5 * np.sum(white * white) + 2.5 * np.linalg.slogdet(cov)[1]

    factor = onp.random.default_rng(1).standard_normal((3, 3))
    return nll(factor), grad(nll)(factor)


@pytest.mark.parametrize("example", [_tanh_example, _logistic_regression_example, _linalg_example])
def test_example_matches_autograd(example):
    theirs = example(anp, autograd.grad)
    ours = example(fnp, funcad.grad)
    for o, t in zip(ours, theirs):
        assert_close(onp.asarray(o, onp.float64), onp.asarray(t, onp.float64), rtol=1e-6)
