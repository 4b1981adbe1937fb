"""CPython's own tests of its executors and futures, run against background's.

The standard library tests ``ThreadPoolExecutor`` and ``ProcessPoolExecutor``
with a set of mixins (``ExecutorTest``, ``WaitTests``, ``AsCompletedTests``,
``ExecutorShutdownTest``, ``InitializerMixin``, the thread pool's own tests
and the process pool's crash tests, ``ExecutorDeadlockTest``), each of which
makes its executor as ``executor_type(max_workers=..., **executor_kwargs)``.
Here each one runs unchanged with ``executor_type`` a :class:`background.Pool`
of threads, and the generic ones and the crash tests with a pool of worker
processes. ``FutureTests`` runs on :class:`background.Future`.

They come from the interpreter's ``test`` package, which not every Python
ships: on this machine pyenv's 3.9, 3.10 and 3.13 have it, 3.11 and 3.12 do
not, and there this module is skipped with that reason (CI runs all five).

The tests in :data:`NOT_RUN` and :data:`PROCESS_NOT_RUN` are left out, each
for the reason given there: they read the standard library's private
attributes, match its exact messages, run the standard library's executor
itself, or expect a whole pool to break where background fails one call.
Every behaviour they check that background shares has a test of its own,
named there.
"""

from __future__ import annotations

import importlib
import sys
import threading
import unittest
from concurrent.futures._base import (
    CANCELLED,
    CANCELLED_AND_NOTIFIED,
    FINISHED,
    PENDING,
    RUNNING,
)
from typing import TYPE_CHECKING, Any

import pytest

import background

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

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
    ".test_deadlock",
    ".test_future",
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

_LOGGED = (
    "reads the standard library's log message on stderr; background logs what a "
    "done-callback raises to its own logger, naming the callback "
    "(tests/test_callbacks.py)"
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
    "test_done_callback_raises": _LOGGED,
    "test_done_callback_raises_already_succeeded": _LOGGED,
    "test_hang_global_shutdown_lock": (
        "replaces the standard library's private global shutdown lock; background "
        "has none (tests/test_exit.py covers submitting while the interpreter exits)"
    ),
}


_ONE_CALL_FAILS = (
    "the standard library breaks the whole pool; background fails that one call, "
    "with an error that names the call and what went wrong, and the pool goes on "
    "(tests/test_process_faults.py)"
)

#: Left out for worker processes only.
PROCESS_NOT_RUN = {
    "test_cancel_futures": (
        "assumes some of 50 calls start between submit() and shutdown() on the next "
        "line; background's workers are still starting then, so all 50 are rightly "
        "cancelled (tests/test_stopping.py covers shutdown(cancel_futures=True))"
    ),
    "test_error_at_task_pickle": (
        "expects the PicklingError on the future; background raises it from submit(), "
        "at the call that gave the argument (tests/test_processes.py)"
    ),
    "test_error_at_task_unpickle": _ONE_CALL_FAILS,
    "test_exit_at_task_unpickle": _ONE_CALL_FAILS,
    "test_error_during_result_unpickle_in_result_handler": _ONE_CALL_FAILS,
    "test_exit_during_result_unpickle_in_result_handler": _ONE_CALL_FAILS,
    "test_exit_during_result_pickle_on_worker": (
        "expects the SystemExit itself; background fails the call with a PicklingError "
        "that names the result and the SystemExit (tests/test_process_faults.py)"
    ),
    "test_shutdown_deadlock_pickle": "reads the private _executor_manager_thread",
    "test_gh105829_should_not_deadlock_if_wakeup_pipe_full": (
        "patches the standard library's private wake-up pipe, which background does not use"
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


class ProcessMixin:
    """What the process tests ask of their case besides the executor: its
    multiprocessing context, which background does not take."""

    executor_type = CPythonShapedProcessPool

    def get_context(self) -> None:
        return None


def _leave_out(names: Iterable[str]) -> Callable[[type], type]:
    """A class decorator: the inherited tests *names* are not collected (None is no test)."""

    def leave_out(case: type) -> type:
        for name in names:
            setattr(case, name, None)
        return case

    return leave_out


def _run_with(processes: bool, *mixins: str) -> type:
    """A TestCase: the standard library's *mixins* with a background pool as their executor."""
    bases = tuple(CPYTHON[name] for name in mixins)
    if processes:
        bases = (ProcessMixin, *bases)
    namespace: dict[str, Any] = {"__module__": __name__}
    if not processes:
        namespace["executor_type"] = CPythonShapedPool
    case = type("CPython", (*bases, CPYTHON["ExecutorMixin"], CPYTHON["BaseTestCase"]), namespace)
    return _leave_out([*NOT_RUN, *(PROCESS_NOT_RUN if processes else ())])(case)


# The thread pool's own tests subclass the generic ones, adding thread-only cases.
ThreadPoolExecutorTest = _run_with(False, "ThreadPoolExecutorTest")
ThreadPoolWaitTests = _run_with(False, "ThreadPoolWaitTests")
ThreadPoolAsCompletedTests = _run_with(False, "AsCompletedTests")
ThreadPoolShutdownTest = _run_with(False, "ThreadPoolShutdownTest")
ThreadPoolInitializerTest = _run_with(False, "InitializerMixin")

ProcessPoolExecutorTest = _run_with(True, "ExecutorTest")
ProcessPoolWaitTests = _run_with(True, "WaitTests")
ProcessPoolAsCompletedTests = _run_with(True, "AsCompletedTests")
ProcessPoolShutdownTest = _run_with(True, "ExecutorShutdownTest")
ProcessPoolInitializerTest = _run_with(True, "InitializerMixin")
# Worker processes that crash, exit or fail to pickle at every step of a call.
ProcessPoolDeadlockTest = _run_with(True, "ExecutorDeadlockTest")

#: The futures that the standard library's Future tests keep as module constants.
FUTURE_CONSTANTS: dict[str, dict[str, Any]] = {
    "PENDING": {"state": PENDING},
    "RUNNING": {"state": RUNNING},
    "CANCELLED": {"state": CANCELLED},
    "CANCELLED_AND_NOTIFIED": {"state": CANCELLED_AND_NOTIFIED},
    "EXCEPTION": {"state": FINISHED, "exception": OSError()},
    "SUCCESSFUL": {"state": FINISHED, "result": 42},
}


@_leave_out(NOT_RUN)
class FutureTests(CPYTHON["FutureTests"]):  # type: ignore[misc]
    """The standard library's tests of its Future, on background's.

    They make their futures with the name ``Future``, with ``create_future()``
    and as module constants, one per state: each is background's here."""

    def setUp(self) -> None:
        super().setUp()
        tests = sys.modules[CPYTHON["FutureTests"].__module__]
        helpers = sys.modules[vars(tests)["create_future"].__module__]
        self._replace(tests, "Future", background.Future)
        self._replace(helpers, "Future", background.Future)
        for state, attributes in FUTURE_CONSTANTS.items():
            self._replace(tests, f"{state}_FUTURE", helpers.create_future(**attributes))

    def _replace(self, module: object, name: str, value: object) -> None:
        self.addCleanup(setattr, module, name, getattr(module, name))
        setattr(module, name, value)

    def test_the_futures_under_test_are_backgrounds(self) -> None:
        tests = sys.modules[CPYTHON["FutureTests"].__module__]
        assert type(vars(tests)["create_future"]()) is background.Future
        assert type(vars(tests)["PENDING_FUTURE"]) is background.Future


RUN = {
    name: case
    for name, case in list(globals().items())
    if isinstance(case, type) and issubclass(case, unittest.TestCase)
}
for _name, _case in RUN.items():
    _case.__name__ = _case.__qualname__ = _name


#: Tests left out that this machine's older suites (3.9, 3.10) do not have yet.
NEWER = {"test_gh105829_should_not_deadlock_if_wakeup_pipe_full": (3, 13)}


def test_every_test_left_out_exists_in_the_standard_librarys_suite() -> None:
    # A name that no longer exists upstream would leave nothing out, silently.
    names = {name for cls in CPYTHON.values() for name in vars(cls) if name.startswith("test_")}
    left_out = {*NOT_RUN, *PROCESS_NOT_RUN}
    expected = {name for name in left_out if sys.version_info >= NEWER.get(name, (3,))}
    assert expected <= names, sorted(expected - names)


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
    assert "test_crash_at_task_unpickle" in cases["ProcessPoolDeadlockTest"]
    assert "test_multiple_set_result" in cases["FutureTests"]
