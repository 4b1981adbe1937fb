"""Shared fixtures: every test starts and ends with fresh default pools."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import background
from background import _default, _eager

pytest_plugins = ["docs_examples"]

# The benchmark program (tox -e bench) imports peers only its env installs.
collect_ignore = ["bench"]


@pytest.fixture(autouse=True)
def fresh_defaults() -> Iterator[None]:
    """Reset background's module-level state around each test."""
    background.shutdown(wait=True)
    _eager.on = False
    _default._n = None
    _default.callbacks = ()
    yield
    _eager.on = False
    background.shutdown(wait=True, cancel_futures=True)
    _default._n = None
    _default.callbacks = ()
