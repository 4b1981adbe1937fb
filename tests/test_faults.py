"""Faults: whatever a task or a callback throws lands on a future; no worker dies silently.

Also: nested submission and waiting from inside a task on a full pool, and
worker processes killed in the middle of a load. The basics (one exception
of each kind, a raising callback, one nested wait, one killed worker) live in
test_task.py, test_callbacks.py, test_waiting.py and test_processes.py.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import signal
import threading
from typing import Any, Callable

import pytest

import background

TIMEOUT = 60


class Custom(BaseException):
    """A BaseException subclass of the user's own: not an Exception."""


def _raise(error: BaseException) -> None:
    raise error


KINDS: list[BaseException] = [
    ValueError("plain"),
    SystemExit(3),
    KeyboardInterrupt(),
    GeneratorExit(),
    Custom("own kind"),
    StopIteration(7),
    RecursionError("deep"),
    MemoryError(),
]


@pytest.mark.parametrize("error", KINDS, ids=lambda e: type(e).__name__)
def test_any_exception_reaches_the_future_and_the_same_worker_runs_on(
    error: BaseException,
) -> None:
    with background.Pool(1, name="only") as pool:
        first = pool.submit(threading.get_ident).result(TIMEOUT)
        failed = pool.submit(_raise, error)
        assert failed.exception(TIMEOUT) is error  # the very object, not a copy
        with pytest.raises(type(error)):
            failed.result()
        # The one worker thread survived it: the next call runs on it.
        assert pool.submit(threading.get_ident).result(TIMEOUT) == first
        assert [t.name for t in threading.enumerate() if t.name.startswith("only-")] == ["only-1"]


def test_a_flood_of_mixed_failures_loses_nothing_and_keeps_every_worker() -> None:
    def task(i: int) -> int:
        if i % 3:
            raise KINDS[i % len(KINDS)]
        return i

    with background.Pool(4, name="flood") as pool:
        futures = [pool.submit(task, i) for i in range(2_000)]
        assert background.wait(futures, timeout=TIMEOUT).not_done == set()
        for i, future in enumerate(futures):
            if i % 3:
                assert future.exception() is KINDS[i % len(KINDS)]
            else:
                assert future.result() == i
        assert pool.outstanding() == []
        workers = [t for t in threading.enumerate() if t.name.startswith("flood-")]
        assert 1 <= len(workers) <= 4
        assert all(t.is_alive() for t in workers)
        assert background.results([pool.submit(abs, -i) for i in range(8)]) == list(range(8))


@pytest.mark.parametrize("error", [SystemExit(2), KeyboardInterrupt(), Custom(), ValueError()])
def test_a_callback_raising_anything_is_logged_and_stops_nothing(
    error: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []

    def bad(future: concurrent.futures.Future[Any]) -> None:
        raise error

    def good(future: concurrent.futures.Future[Any]) -> None:
        seen.append(future.result())

    with background.Pool(1, name="callbacks") as pool:
        ident = pool.task(callback=[bad, good])(threading.get_ident)
        with caplog.at_level(logging.ERROR, logger="background"):
            first = ident()
            assert first.result(TIMEOUT) > 0
            # wait() returns only once the call's callbacks have run.
            assert background.wait([first], timeout=TIMEOUT).not_done == set()
        assert seen == [first.result()]
        assert pool.outstanding() == []
        assert "callback" in caplog.text
        assert type(error).__name__ in caplog.text
        # The worker that ran the raising callback is still the pool's worker.
        assert pool.submit(threading.get_ident).result(TIMEOUT) == first.result()


# --- nested submission ------------------------------------------------------


Waiter = Callable[[list["background.Future[int]"]], list[int]]


def _by_result(futures: list[background.Future[int]]) -> list[int]:
    return [f.result() for f in futures]


def _by_wait(futures: list[background.Future[int]]) -> list[int]:
    background.wait(futures)
    return [f.result() for f in futures]


def _by_as_completed(futures: list[background.Future[int]]) -> list[int]:
    return [f.result() for f in background.as_completed(futures)]


WAYS: dict[str, Waiter] = {
    "Future.result": _by_result,
    "background.results": background.results,
    "background.wait": _by_wait,
    "background.as_completed": _by_as_completed,
}


@pytest.mark.parametrize("way", list(WAYS))
def test_a_tree_of_nested_tasks_finishes_on_a_pool_of_one(way: str) -> None:
    """Every level waits inside the only worker: the waiting worker lends its place."""
    wait = WAYS[way]
    with background.Pool(1, name="nested") as pool:

        @pool.task
        def fib(n: int) -> int:
            if n < 2:
                return n
            return sum(wait([fib(n - 1), fib(n - 2)]))

        assert fib(10).result(TIMEOUT) == 55
        assert pool.n == 1
        assert pool.submit(sum, [1, 2]).result(TIMEOUT) == 3


def test_map_from_inside_a_task_on_a_full_pool_does_not_deadlock() -> None:
    with background.Pool(2, name="nested-map") as pool:

        @pool.task
        def outer(k: int) -> list[int]:
            return list(pool.map(abs, range(-k, 0)))

        futures = [outer(k) for k in range(1, 6)]  # more outer calls than workers
        assert background.results(futures, timeout=TIMEOUT) == [
            list(range(k, 0, -1)) for k in range(1, 6)
        ]


def test_the_default_pool_nests_too_with_n_of_one() -> None:
    background.n = 1

    @background.task
    def child(x: int) -> int:
        return x * 10

    @background.task
    def parent(x: int) -> int:
        return child(x).result() + child(x + 1).result()

    assert background.results([parent(i) for i in range(5)], timeout=TIMEOUT) == [
        10 * (2 * i + 1) for i in range(5)
    ]


def test_concurrent_futures_wait_inside_a_task_does_not_lend_the_worker() -> None:
    """The documented rule: wait with background's helpers or ``result()``, not with
    :func:`concurrent.futures.wait`, which does not know it runs inside a worker."""
    with background.Pool(1, name="rule") as pool:

        @pool.task
        def parent() -> tuple[bool, int]:
            child = pool.submit(abs, -5)
            # The only worker is this one and it is not lent: the child cannot start.
            _, not_done = concurrent.futures.wait([child], timeout=0.2)
            stuck = child in not_done
            return stuck, child.result()  # result() lends: the child runs now

        assert parent().result(TIMEOUT) == (True, 5)


# --- worker processes ---------------------------------------------------------


def square(x: int) -> int:
    return x * x


def square_or_die(x: int) -> int:
    if x % 50 == 49:
        os._exit(9)
    return x * x


def square_or_sigkill(x: int) -> int:
    if x % 50 == 49:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def raise_it(error: BaseException) -> None:
    raise error


FORK_WARNING = "ignore:This process .* is multi-threaded:DeprecationWarning"


@pytest.mark.filterwarnings(FORK_WARNING)
@pytest.mark.parametrize("kill", [square_or_die, square_or_sigkill], ids=["os._exit", "SIGKILL"])
def test_workers_killed_under_load_fail_only_the_calls_they_held(
    kill: Callable[[int], int],
) -> None:
    with background.Pool(2, process=True, name="dying") as pool:
        futures = [pool.submit(kill, i) for i in range(200)]
        assert background.wait(futures, timeout=TIMEOUT).not_done == set()
        lost = []
        for i, future in enumerate(futures):
            error = future.exception()
            if i % 50 == 49:
                assert isinstance(error, background.WorkerDied), (i, error)
            elif error is None:
                assert future.result() == i * i
            else:  # the call waiting in a dying worker's pipe goes with it
                assert isinstance(error, background.WorkerDied), (i, error)
                lost.append(i)
        # A worker holds at most one call besides the running one.
        assert len(lost) <= 4, lost
        # The pool healed: a full round of calls runs on fresh workers.
        assert background.results([pool.submit(square, i) for i in range(20)]) == [
            i * i for i in range(20)
        ]


@pytest.mark.filterwarnings(FORK_WARNING)
@pytest.mark.parametrize(
    "error",
    [ValueError("plain"), SystemExit(3), KeyboardInterrupt(), Custom("own kind")],
    ids=lambda e: type(e).__name__,
)
def test_any_exception_in_a_worker_process_reaches_the_future(error: BaseException) -> None:
    with background.Pool(1, process=True, name="raising") as pool:
        pid = pool.submit(os.getpid).result(TIMEOUT)
        failed = pool.submit(raise_it, error)
        got = failed.exception(TIMEOUT)
        assert type(got) is type(error)
        assert got.args == error.args
        # The worker process lived through it.
        assert pool.submit(os.getpid).result(TIMEOUT) == pid
