"""Shared fixtures: every test starts and ends in PYNATIVE_MODE with the default context."""

import pytest

from funcad.context import reset_context


@pytest.fixture(autouse=True)
def _default_context():
    reset_context()
    yield
    reset_context()
