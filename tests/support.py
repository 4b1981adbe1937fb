"""Helpers shared by the tests (no tests here)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any, Callable

import background


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


def run_bare_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter that loads nothing background does not.

    The child skips ``site`` (``-S``), so no ``.pth`` file runs in it: a
    coverage tool's hook (coverage 7.10, the last for Python 3.9, writes one
    that imports coverage into every process) would load modules of its own.
    ``background`` and its dependencies are found through ``PYTHONPATH``.
    Raises ``CalledProcessError`` when the child fails.
    """
    package_parent = str(Path(background.__file__).resolve().parent.parent)
    environment = unmeasured_environment()
    environment["PYTHONPATH"] = os.pathsep.join(
        [package_parent, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    )
    return subprocess.run(
        [sys.executable, "-S", "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
        env=environment,
    )


#: Seconds: a generous bound on any single wait, so that a hang fails a test
#: instead of stalling the run.
WAIT = 60.0


def wait_until(condition: Callable[[], object], seconds: float = WAIT) -> bool:
    """Poll *condition* until it is true (``True``) or *seconds* pass (``False``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return bool(condition())


def process_gone(pid: int) -> bool:
    """``True`` once process *pid* has ended (a zombie counts as ended)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return any(line.split() == ["State:", "Z", "(zombie)"] for line in status)
    except (FileNotFoundError, ProcessLookupError):  # gone before, or while, it was read
        return True


def worker_threads(pool: background.Pool) -> int:
    """How many of *pool*'s own worker threads are alive now (0 for processes' pools)."""
    runner: Any = pool._runner
    return int(runner.threads)


#: The kinds of pool that every pool-level promise is tested on.
POOL_KINDS = ["threads", "processes", "executor"]


def pool_of_kind(kind: str, n: int, name: str) -> background.Pool:
    """A pool of *n* workers of one of :data:`POOL_KINDS` (a ThreadPoolExecutor for "executor")."""
    if kind == "threads":
        return background.Pool(n, name=name)
    if kind == "processes":
        return background.Pool(n, process=True, name=name)
    import concurrent.futures

    return background.Pool(n, executor=concurrent.futures.ThreadPoolExecutor(n), name=name)
