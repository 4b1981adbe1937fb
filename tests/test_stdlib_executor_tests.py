"""CPython's own tests of its executors, run against ``background.Pool``.

The standard library tests ``ThreadPoolExecutor`` and ``ProcessPoolExecutor``
with a set of mixins (``ExecutorTest``, ``WaitTests``, ``AsCompletedTests``,
``ExecutorShutdownTest``, ``InitializerMixin``, and the thread pool's own
tests), each of which makes its executor as
``executor_type(max_workers=..., **executor_kwargs)``. Here each one runs
unchanged with ``executor_type`` a :class:`background.Pool` of threads, and
the generic ones also with a pool of worker processes.

They come from the interpreter's ``test`` package, which not every Python
ships: on this machine pyenv's 3.9, 3.10 and 3.13 have it, 3.11 and 3.12 do
not, and there this module is skipped with that reason (CI runs all five).

The tests in :data:`NOT_RUN` are left out, each for the reason given there:
they read the standard library's private attributes, match its exact
messages, or run the standard library's executor itself. Every behaviour they
check that ``background`` shares has a test of its own here, named there.
"""

from __future__ import annotations

import importlib
import threading
import unittest
from typing import TYPE_CHECKING, Any

import pytest

import background

if TYPE_CHECKING:
    from collections.abc import Iterable

pytest.importorskip(
    "test.test_concurrent_futures",
    reason="this Python ships without CPython's test package (test.test_concurrent_futures)",
)

#: Where each mixin lives: one module up to 3.11, a package of modules from 3.12.
MODULES = (
    "",
    ".util",
    ".executor",
    ".test_thread_pool",
    ".test_wait",
    ".test_as_completed",
    ".test_shutdown",
    ".test_init",
)


def _cpython_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for suffix in MODULES:
        try:
            module = importlib.import_module(f"test.test_concurrent_futures{suffix}")
        except ModuleNotFoundError:
            continue  # the other layout
        found.update({k: v for k, v in vars(module).items() if isinstance(v, type)})
    return found


CPYTHON = _cpython_classes()

_BY_NAME = "runs the standard library's executor by name, not the one under test"
_CHILD = (
    "its child interpreter imports the executor by name from concurrent.futures; "
    "tests/test_exit.py runs such programs with background"
)

#: The standard library tests not run here, and why.
NOT_RUN = {
    "test_default_workers": (
        "the default size is background's, the CPU count, not min(32, CPUs + 4) "
        "(tests/test_n.py::test_default_n_is_the_number_of_usable_cpus)"
    ),
    "test_max_workers_negative": (
        "matches the standard library's wording; background says 'Pool n must be at "
        "least 1, got 0' (tests/test_n.py::test_bad_pool_n_is_refused)"
    ),
    "test_interpreter_shutdown": _CHILD,
    "test_submit_after_interpreter_shutdown": _CHILD,
    "test_hang_gh83386": _CHILD,
    "test_context_manager_shutdown": _BY_NAME,
    "test_del_shutdown": _BY_NAME,
    "test_thread_names_assigned": _BY_NAME,
    "test_thread_names_default": _BY_NAME,
    "test_hang_global_shutdown_lock": (
        "replaces the standard library's private global shutdown lock; background "
        "has none (tests/test_exit.py covers submitting while the interpreter exits)"
    ),
}


#: Left out for worker processes only.
PROCESS_NOT_RUN = {
    "test_cancel_futures": (
        "assumes some of 50 calls start between submit() and shutdown() on the next "
        "line; background's workers are still starting then, so all 50 are rightly "
        "cancelled (tests/test_stopping.py covers shutdown(cancel_futures=True))"
    ),
}


class CPythonShapedPool(background.Pool):
    """A :class:`background.Pool` made the way the standard library's tests make
    their executor, with the two private attributes of ``ThreadPoolExecutor``
    that they read: ``_max_workers`` (the pool's ``n``) and ``_threads`` (its
    worker threads, found by their names)."""

    def __init__(
        self, max_workers: int | None = None, mp_context: object = None, **options: Any
    ) -> None:
        super().__init__(max_workers, **options)

    @property
    def _max_workers(self) -> int:
        return self.n

    @property
    def _threads(self) -> list[threading.Thread]:
        prefix = f"{self.name}-"
        return [t for t in threading.enumerate() if t.name.startswith(prefix)]


class CPythonShapedProcessPool(CPythonShapedPool):
    """The same, with worker processes (``mp_context`` is ignored: background
    starts its own workers)."""

    def __init__(
        self, max_workers: int | None = None, mp_context: object = None, **options: Any
    ) -> None:
        super().__init__(max_workers, process=True, **options)


def _run_with(executor_type: type, *mixins: str, left_out: Iterable[str] = ()) -> type:
    """A TestCase: the standard library's *mixins* with *executor_type* as their executor."""
    bases = tuple(CPYTHON[name] for name in mixins)
    namespace: dict[str, Any] = dict.fromkeys([*NOT_RUN, *left_out])  # None: not collected
    namespace["executor_type"] = executor_type
    namespace["__module__"] = __name__
    return type("CPython", (*bases, CPYTHON["ExecutorMixin"], CPYTHON["BaseTestCase"]), namespace)


# The thread pool's own tests subclass the generic ones, adding thread-only cases.
ThreadPoolExecutorTest = _run_with(CPythonShapedPool, "ThreadPoolExecutorTest")
ThreadPoolWaitTests = _run_with(CPythonShapedPool, "ThreadPoolWaitTests")
ThreadPoolAsCompletedTests = _run_with(CPythonShapedPool, "AsCompletedTests")
ThreadPoolShutdownTest = _run_with(CPythonShapedPool, "ThreadPoolShutdownTest")
ThreadPoolInitializerTest = _run_with(CPythonShapedPool, "InitializerMixin")

ProcessPoolExecutorTest = _run_with(CPythonShapedProcessPool, "ExecutorTest")
ProcessPoolWaitTests = _run_with(CPythonShapedProcessPool, "WaitTests")
ProcessPoolAsCompletedTests = _run_with(CPythonShapedProcessPool, "AsCompletedTests")
ProcessPoolShutdownTest = _run_with(
    CPythonShapedProcessPool, "ExecutorShutdownTest", left_out=PROCESS_NOT_RUN
)
ProcessPoolInitializerTest = _run_with(CPythonShapedProcessPool, "InitializerMixin")

RUN = {
    name: case
    for name, case in list(globals().items())
    if isinstance(case, type) and issubclass(case, unittest.TestCase)
}
for _name, _case in RUN.items():
    _case.__name__ = _case.__qualname__ = _name


def test_every_test_left_out_exists_in_the_standard_librarys_suite() -> None:
    # A name that no longer exists upstream would leave nothing out, silently.
    names = {name for cls in CPYTHON.values() for name in vars(cls) if name.startswith("test_")}
    left_out = {*NOT_RUN, *PROCESS_NOT_RUN}
    assert left_out <= names, sorted(left_out - names)


def test_the_standard_librarys_cases_run_against_background() -> None:
    loader = unittest.TestLoader()
    cases = {name: loader.getTestCaseNames(case) for name, case in RUN.items()}
    assert all(cases.values()), cases
    for left_out in NOT_RUN:
        assert all(left_out not in names for names in cases.values())
    assert "test_cancel_futures" in cases["ThreadPoolShutdownTest"]
    assert "test_cancel_futures" not in cases["ProcessPoolShutdownTest"]
    assert "test_saturation" in cases["ThreadPoolExecutorTest"]
    assert "test_first_completed" in cases["ProcessPoolWaitTests"]
