"""Pytest plugin: run every example in docs/**/*.md and README.md with Sybil.

Loaded from tests/conftest.py through ``pytest_plugins`` so that it applies to
files outside tests/ (a conftest's own collection hooks only see its folder).
"""

from __future__ import annotations

from doctest import ELLIPSIS, NORMALIZE_WHITESPACE
from pathlib import Path
from typing import Any

from sybil import Sybil
from sybil.parsers.myst import DocTestDirectiveParser, PythonCodeBlockParser, SkipParser

ROOT = Path(__file__).resolve().parent.parent


def _reset_background(namespace: dict[str, Any]) -> None:
    """Each page starts and ends with fresh default pools and settings."""
    import background
    from background import _default

    background.shutdown(wait=True)
    _default._n = None
    _default.callbacks = ()


def _setup(namespace: dict[str, Any]) -> None:
    _reset_background(namespace)


def _teardown(namespace: dict[str, Any]) -> None:
    _reset_background(namespace)


pytest_collect_file = Sybil(
    parsers=[
        DocTestDirectiveParser(optionflags=ELLIPSIS | NORMALIZE_WHITESPACE),
        PythonCodeBlockParser(doctest_optionflags=ELLIPSIS | NORMALIZE_WHITESPACE),
        SkipParser(),
    ],
    path=str(ROOT),
    patterns=["docs/**/*.md", "docs/*.md", "README.md"],
    excludes=["docs/_build/**"],
    setup=_setup,
    teardown=_teardown,
).pytest()
