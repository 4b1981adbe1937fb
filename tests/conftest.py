"""Shared fixtures: every test starts and ends with fresh default pools."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from background import _eager
from background._defaults import defaults

pytest_plugins = ["docs_examples"]

# The benchmark program (tox -e bench) imports peers only its env installs.
collect_ignore = ["bench"]


@pytest.fixture(autouse=True)
def fresh_defaults() -> Iterator[None]:
    """Reset background's module-level state around each test."""
    _eager.reset()
    defaults.reset()
    yield
    _eager.reset()
    defaults.reset()
