"""Helpers shared by the tests (no tests here)."""

from __future__ import annotations

import os


def unmeasured_environment() -> dict[str, str]:
    """``os.environ`` without coverage's switch for measuring subprocesses.

    For a child process whose loaded modules are what a test checks: coverage
    in the child would load its own.
    """
    return {
        key: value
        for key, value in os.environ.items()
        if key not in ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")
    }
