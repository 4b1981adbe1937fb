"""Pytest plugin: run every example in docs/**/*.md and README.md with Sybil.

Loaded from tests/conftest.py through ``pytest_plugins`` so that it applies to
files outside tests/ (a conftest's own collection hooks only see its folder).
"""

from __future__ import annotations

import re
from doctest import ELLIPSIS, NORMALIZE_WHITESPACE
from pathlib import Path
from typing import Any

from sybil import Sybil
from sybil.evaluators.doctest import OutputChecker
from sybil.parsers.myst import DocTestDirectiveParser, PythonCodeBlockParser, SkipParser

ROOT = Path(__file__).resolve().parent.parent


def _reset_background(namespace: dict[str, Any]) -> None:
    """Each page starts and ends with fresh default pools and settings."""
    from background._defaults import defaults

    defaults.reset()


def _setup(namespace: dict[str, Any]) -> None:
    _reset_background(namespace)


def _teardown(namespace: dict[str, Any]) -> None:
    _reset_background(namespace)


class DurationsChecker(OutputChecker):
    r"""Sybil's output checker, plus one rule: a duration in seconds matches any duration.

    A page may show what a run prints, timings included (``100 calls in 1.02 s``);
    the output then matches whatever number of seconds this run took, while every
    other character must match as usual. The page checks the timing's bounds in
    a hidden block.

    >>> checker = DurationsChecker()
    >>> checker.check_output("100 calls in 1.02 s\n", "100 calls in 13.5 s\n", 0)
    True
    >>> checker.check_output("100 calls in 1.02 s\n", "99 calls in 1.02 s\n", 0)
    False
    >>> checker.check_output("(100, 0)\n", "(100, 1)\n", 0)
    False
    """

    _duration = re.compile(r"(?<![\w.])\d+(?:\.\d+)? s\b")

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        if not self._duration.search(want):
            return False
        return super().check_output(
            self._duration.sub("<seconds>", want),
            self._duration.sub("<seconds>", got),
            optionflags,
        )


def _doctests_with_durations(parser: Any) -> Any:
    """*parser*, its doctest runner given the :class:`DurationsChecker`."""
    string_parser = getattr(parser, "doctest_parser", None) or parser.string_parser
    string_parser.evaluator.runner._checker = DurationsChecker()
    return parser


pytest_collect_file = Sybil(
    parsers=[
        _doctests_with_durations(
            DocTestDirectiveParser(optionflags=ELLIPSIS | NORMALIZE_WHITESPACE)
        ),
        _doctests_with_durations(
            PythonCodeBlockParser(doctest_optionflags=ELLIPSIS | NORMALIZE_WHITESPACE)
        ),
        SkipParser(),
    ],
    path=str(ROOT),
    patterns=["docs/**/*.md", "docs/*.md", "README.md"],
    excludes=["docs/_build/**"],
    setup=_setup,
    teardown=_teardown,
).pytest()
