"""Stopping thread calls (they are asked: background.cancelled()), Pool.kill() for
thread and executor pools, idle_timeout for threads, and checks of the new options.

Process pools' side of it is in tests/test_process_features.py.
"""

from __future__ import annotations

import concurrent.futures
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
from support import wait_until, worker_threads

import background

WAIT = 60


def _until_cancelled(started: threading.Event) -> str:
    started.set()
    assert wait_until(background.cancelled)
    raise concurrent.futures.CancelledError


def test_cancel_of_a_running_thread_call_returns_false_and_the_call_can_see_it() -> None:
    started = threading.Event()
    with background.Pool(1) as pool:
        future = pool.submit(_until_cancelled, started)
        assert started.wait(WAIT)
        calls: list[concurrent.futures.Future[Any]] = []
        future.add_done_callback(calls.append)
        waited: list[Any] = []
        waiter = threading.Thread(
            target=lambda: waited.append(concurrent.futures.wait([future], WAIT))
        )
        waiter.start()
        assert wait_until(lambda: len(future._waiters) == 1)  # type: ignore[attr-defined]
        assert future.cancel() is False  # a thread cannot be stopped: not cancelled (yet)
        waiter.join(WAIT)
        # The call saw the request and raised CancelledError: the future is cancelled.
        assert future.cancelled()
        assert waited[0].done == {future}
        assert calls == [future]
        assert future.cancel() is True
        assert calls == [future]
        assert pool.outstanding() == []
        # The same worker's next call was not asked to stop.
        assert pool.submit(background.cancelled).result(WAIT) is False


def _returns_once_cancelled(started: threading.Event) -> str:
    started.set()
    assert wait_until(background.cancelled)
    return "partial"


def test_a_thread_call_that_returns_after_a_cancel_request_keeps_its_result() -> None:
    started = threading.Event()
    with background.Pool(1) as pool:
        future = pool.submit(_returns_once_cancelled, started)
        assert started.wait(WAIT)
        assert future.cancel() is False
        assert future.result(WAIT) == "partial"
        assert not future.cancelled()


def _stops_when_asked(seen: list[bool]) -> str:
    assert wait_until(background.cancelled)
    seen.append(True)
    raise concurrent.futures.CancelledError


def test_a_thread_call_over_its_timeout_is_asked_to_stop_and_its_future_keeps_timing_out() -> None:
    seen: list[bool] = []
    with background.Pool(1, timeout=0.05) as pool:
        future = pool.submit(_stops_when_asked, seen)
        assert isinstance(future.exception(WAIT), concurrent.futures.TimeoutError)
        assert wait_until(lambda: pool.outstanding() == [])  # it stopped: its place is free
        assert seen == [True]
        assert not future.cancelled()
        assert isinstance(future.exception(), concurrent.futures.TimeoutError)
        # The next call on the same worker is not asked to stop.
        assert pool.submit(background.cancelled).result(WAIT) is False


def _raise_cancelled() -> None:
    raise concurrent.futures.CancelledError("not asked")


def test_a_cancelled_error_raised_unasked_is_the_calls_exception() -> None:
    with background.Pool(1) as pool:
        future = pool.submit(_raise_cancelled)
        error = future.exception(WAIT)
    assert isinstance(error, concurrent.futures.CancelledError)
    assert not future.cancelled()


def test_cancelled_is_false_outside_a_pools_call_and_in_one_not_cancelled() -> None:
    assert background.cancelled() is False
    assert background.run(background.cancelled).result(WAIT) is False
    with background.Pool(executor=concurrent.futures.ThreadPoolExecutor(1)) as pool:
        assert pool.submit(background.cancelled).result(WAIT) is False


def test_a_cancel_request_is_for_the_call_that_runs_not_for_the_ones_it_waits_on() -> None:
    started = threading.Event()
    seen: list[bool] = []

    def inner() -> bool:
        return background.cancelled()

    def outer() -> None:
        started.set()
        assert wait_until(background.cancelled)
        seen.append(pool.submit(inner).result(WAIT))  # waited on from a cancelled call
        seen.append(background.cancelled())

    with background.Pool(2) as pool:
        future = pool.submit(outer)
        assert started.wait(WAIT)
        assert future.cancel() is False
        assert future.result(WAIT) is None
    assert seen == [False, True]


def test_cancelling_a_queued_thread_call_is_the_standard_librarys_cancel() -> None:
    started, release = threading.Event(), threading.Event()
    with background.Pool(1) as pool:
        blocker = pool.submit(lambda: (started.set(), release.wait(WAIT)))
        queued = pool.submit(abs, -1)
        assert started.wait(WAIT)
        assert queued.cancel() is True
        assert queued.cancelled()
        release.set()
        blocker.result(WAIT)
        done, _ = concurrent.futures.wait([queued], WAIT)
        assert done == {queued}


def test_kill_of_a_thread_pool_cancels_the_queue_tells_the_running_calls_and_returns() -> None:
    started = threading.Event()
    pool = background.Pool(1)
    running = pool.submit(_until_cancelled, started)
    queued = [pool.submit(abs, -i) for i in range(3)]
    assert started.wait(WAIT)
    pool.kill()
    assert pool.closed
    assert all(f.cancelled() for f in queued)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(abs, 1)
    concurrent.futures.wait([running], WAIT)
    assert running.cancelled()  # it saw the request and stopped


class _FakeExecutor(concurrent.futures.Executor):
    """Holds every call running for ever; records how it is stopped.

    *methods* are the ways to stop its workers that it offers, as Python
    3.14's ProcessPoolExecutor offers terminate_workers() and kill_workers():
    they fail the running calls, as a pool whose workers died does.
    """

    def __init__(self, *methods: str) -> None:
        self.running: list[concurrent.futures.Future[Any]] = []
        self.stopped: list[str] = []
        for name in methods:
            setattr(self, name, lambda name=name: self._stop(name))

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        self.running.append(future)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.stopped.append(f"shutdown(wait={wait}, cancel_futures={cancel_futures})")

    def _stop(self, name: str) -> None:
        self.stopped.append(name)
        for future in self.running:
            future.set_exception(BrokenProcessPool("its worker was terminated"))


@pytest.mark.parametrize(
    ("methods", "expected"),
    [
        (("terminate_workers", "kill_workers"), ["terminate_workers"]),
        (("kill_workers",), ["kill_workers"]),
        ((), ["shutdown(wait=False, cancel_futures=True)"]),
    ],
)
def test_kill_of_an_executor_pool_stops_its_workers_the_way_the_executor_offers(
    methods: tuple[str, ...], expected: list[str]
) -> None:
    executor = _FakeExecutor(*methods)
    pool = background.Pool(executor=executor)
    futures = [pool.submit(abs, -i) for i in range(3)]
    calls: list[concurrent.futures.Future[Any]] = []
    for future in futures:
        future.add_done_callback(calls.append)
    pool.kill()
    assert executor.stopped == expected
    assert all(f.cancelled() for f in futures)  # cancelled, not failed by the executor
    assert len(calls) == 3
    assert concurrent.futures.wait(futures, 0).not_done == set()
    assert pool.closed
    if not methods:  # shut down: its calls run on, and count as outstanding until they end
        assert len(pool.outstanding()) == 3
        for inner in executor.running:
            inner.set_result(None)
    assert pool.outstanding() == []


def test_idle_threads_end_and_new_ones_start_for_calls_that_come_any_moment() -> None:
    # Calls arriving as workers time out: none may be left without a worker.
    with background.Pool(4, idle_timeout=0.001) as pool:
        for round_ in range(200):
            futures = [pool.submit(abs, -i) for i in range(round_ % 5 + 1)]
            assert [f.result(WAIT) for f in futures] == list(range(len(futures)))
            if round_ % 3 == 0:
                time.sleep(0.002)
        assert wait_until(lambda: worker_threads(pool) == 0)


def test_an_idle_worker_woken_for_a_call_that_is_gone_still_retires_on_time() -> None:
    # The worker is woken by a submit whose call is cancelled before it takes it,
    # and gets the interpreter back only after its idle time is up. Before
    # Python 3.13, a timed SimpleQueue.get waits for ever in that state.
    interval = sys.getswitchinterval()
    with background.Pool(1, idle_timeout=0.02) as pool:
        for _ in range(5):
            pool.submit(abs, -1).result(WAIT)  # a worker, idle now
            assert wait_until(lambda: pool._runner._idle == 1)
            time.sleep(0.005)  # into its timed wait (if not, the round proves nothing)
            sys.setswitchinterval(1.0)  # keep the interpreter in this thread
            try:
                late = pool.submit(abs, -2)
                pool.cancel_queued()  # 3.13+ may hand the call to the waiting worker at once
                spin_until = time.monotonic() + 0.05  # past the worker's deadline
                while time.monotonic() < spin_until:
                    pass
            finally:
                sys.setswitchinterval(interval)
            assert late.cancelled() or late.result(WAIT) == 2
            assert wait_until(lambda: worker_threads(pool) == 0, seconds=10)


def test_idle_timeout_must_be_a_positive_number_of_seconds_for_the_pools_own_workers() -> None:
    with pytest.raises(ValueError, match="idle_timeout must be more than 0 seconds, got 0"):
        background.Pool(idle_timeout=0)
    with pytest.raises(TypeError, match="idle_timeout must be a number of seconds, got '5'"):
        background.Pool(idle_timeout="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="idle_timeout must be a finite number"):
        background.Pool(idle_timeout=float("inf"))
    executor = concurrent.futures.ThreadPoolExecutor(1)
    with pytest.raises(ValueError, match="idle_timeout applies to the pool's own workers"):
        background.Pool(executor=executor, idle_timeout=1)
    executor.shutdown()


@pytest.mark.parametrize("process", [False, True], ids=["threads", "processes"])
def test_kill_cancels_a_call_that_waits_for_its_retry(process: bool, tmp_path: Path) -> None:
    import test_processes_helpers as helpers

    ran = tmp_path / "ran"
    pool = background.Pool(1, process=process)
    future = pool.task(retries=3, backoff=60)(helpers.touch_and_fail)(str(ran))
    # It failed once and waits for its retry, a minute away: pending again.
    assert wait_until(lambda: ran.exists() and not future.running() and not future.done())
    pool.kill()
    assert future.cancelled()
    assert concurrent.futures.wait([future], WAIT).not_done == set()
    assert pool.outstanding() == []
