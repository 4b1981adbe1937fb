"""background.Pool: a real Executor with its own n, task decorator and guarantees."""

from __future__ import annotations

import concurrent.futures
import gc
import itertools
import logging
import sys
import threading
import time
import weakref
from concurrent.futures.thread import BrokenThreadPool

import pytest

import background

TIMEOUT = 30


def _started(pool: background.Pool, release: threading.Event) -> background.Future[bool]:
    """Submit a call that blocks on *release*; return once it is running."""
    started = threading.Event()

    def hold() -> bool:
        started.set()
        return release.wait(TIMEOUT)

    future = pool.submit(hold)
    assert started.wait(TIMEOUT)
    return future


def _blocked_in(thread: threading.Thread, function: str) -> bool:
    """``True`` once *thread* waits on a condition inside *function*."""
    frame = sys._current_frames().get(thread.ident or -1)
    if frame is None or frame.f_code.co_name != "wait":
        return False
    if not frame.f_code.co_filename.endswith("threading.py"):
        return False
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False


def test_pool_is_an_executor_and_a_context_manager() -> None:
    with background.Pool(3) as pool:
        assert isinstance(pool, concurrent.futures.Executor)
        future = pool.submit(pow, 3, 4)
        assert future.result(TIMEOUT) == 81
        assert list(pool.map(pow, [2, 3], [5, 2])) == [32, 9]
    assert pool.closed
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(pow, 1, 1)


def test_pool_drops_into_code_that_takes_an_executor() -> None:
    def total_length(executor: concurrent.futures.Executor, words: list[str]) -> int:
        return sum(executor.map(len, words))

    with background.Pool(2) as pool:
        assert total_length(pool, ["a", "bb", "ccc"]) == 6


def test_submit_refuses_a_non_callable() -> None:
    with background.Pool(1) as pool, pytest.raises(TypeError, match=r"got 42 \(int\)"):
        pool.submit(42)  # type: ignore[arg-type]


def test_shutdown_lets_queued_calls_finish_by_default() -> None:
    pool = background.Pool(1)
    release = threading.Event()
    first = pool.submit(release.wait, TIMEOUT)
    queued = [pool.submit(abs, -i) for i in range(5)]
    closer = threading.Thread(target=pool.shutdown)
    closer.start()
    release.set()
    closer.join(TIMEOUT)
    assert not closer.is_alive()
    assert first.result(0) is True
    assert [f.result(0) for f in queued] == [0, 1, 2, 3, 4]


def test_shutdown_can_cancel_calls_not_started() -> None:
    pool = background.Pool(1)
    release = threading.Event()
    first = _started(pool, release)
    queued = [pool.submit(abs, -i) for i in range(5)]
    pool.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in queued)
    release.set()
    assert first.result(TIMEOUT) is True
    assert pool.outstanding() == []


def test_outstanding_lists_unfinished_calls_oldest_first_and_forgets_finished_ones() -> None:
    with background.Pool(1) as pool:
        release = threading.Event()
        futures = [pool.submit(release.wait, TIMEOUT) for _ in range(3)]
        assert pool.outstanding() == futures
        release.set()
        background.wait(futures, timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while pool.outstanding() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool.outstanding() == []


def test_map_is_lazy_over_an_endless_iterable() -> None:
    consumed = []

    def numbers() -> itertools.count[int]:
        for i in itertools.count():
            consumed.append(i)
            yield i  # type: ignore[misc]

    with background.Pool(2) as pool:
        results = pool.map(abs, numbers(), buffersize=4)
        first_ten = list(itertools.islice(results, 10))
        assert first_ten == list(range(10))
        assert len(consumed) <= 10 + 4  # never more than the buffer ahead
        results.close()  # type: ignore[attr-defined]


def test_map_with_chunks_keeps_order_and_validates() -> None:
    with background.Pool(2) as pool:
        assert list(pool.map(str, range(23), chunksize=5)) == [str(i) for i in range(23)]
        with pytest.raises(ValueError, match="chunksize must be at least 1"):
            pool.map(str, range(3), chunksize=0)
        with pytest.raises(TypeError, match="buffersize must be an int"):
            pool.map(str, range(3), buffersize=2.5)  # type: ignore[arg-type]


def test_map_raises_the_first_failure_and_cancels_the_rest() -> None:
    def fragile(x: int) -> int:
        if x == 3:
            raise ValueError("three")
        return x

    with background.Pool(1) as pool:
        results = pool.map(fragile, range(100), buffersize=10)
        assert next(results) == 0
        with pytest.raises(ValueError, match="three"):
            list(results)


def test_map_timeout() -> None:
    with background.Pool(1) as pool:
        release = threading.Event()
        results = pool.map(lambda _: release.wait(TIMEOUT), range(3), timeout=0.05)
        with pytest.raises(concurrent.futures.TimeoutError):
            list(results)
        release.set()


def test_max_pending_blocks_the_producer_until_a_call_finishes() -> None:
    pool = background.Pool(2, max_pending=3)
    release = threading.Event()
    held = [pool.submit(release.wait, TIMEOUT) for _ in range(3)]
    fourth: list[concurrent.futures.Future[bool]] = []
    producer = threading.Thread(target=lambda: fourth.append(pool.submit(release.wait, TIMEOUT)))
    producer.start()
    deadline = time.monotonic() + TIMEOUT
    while not _blocked_in(producer, "submit") and time.monotonic() < deadline:
        time.sleep(0.005)
    assert _blocked_in(producer, "submit")  # blocked: three are pending
    assert not fourth
    release.set()
    producer.join(TIMEOUT)
    assert not producer.is_alive()
    assert background.results(held + fourth, timeout=TIMEOUT) == [True] * 4
    pool.shutdown()


def test_max_pending_validation() -> None:
    with pytest.raises(ValueError, match="max_pending must be at least 1"):
        background.Pool(2, max_pending=0)


def test_initializer_runs_once_in_every_worker() -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def remember() -> None:
        with lock:
            seen.append(threading.current_thread().name)

    with background.Pool(3, initializer=remember) as pool:
        barrier = threading.Barrier(3, timeout=TIMEOUT)
        background.results([pool.submit(barrier.wait) for _ in range(3)], timeout=TIMEOUT)
    assert len(set(seen)) == len(seen) == 3


def test_pool_wraps_any_existing_executor() -> None:
    inner = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="inner")
    pool = background.Pool(executor=inner)
    seen: list[object] = []

    @pool.task(callback=lambda f: seen.append(f.result()))
    def where() -> str:
        return threading.current_thread().name

    future = where()
    assert isinstance(future, background.Future)
    assert future.result(TIMEOUT).startswith("inner")
    background.wait([future], timeout=TIMEOUT)
    assert seen == [future.result()]
    failing = pool.submit(int, "x")
    with pytest.raises(ValueError, match="invalid literal"):
        failing.result(TIMEOUT)
    pool.shutdown()
    assert inner._shutdown  # type: ignore[attr-defined]


def test_cancelling_a_wrapped_executors_future_cancels_the_inner_call() -> None:
    inner = concurrent.futures.ThreadPoolExecutor(1)
    pool = background.Pool(executor=inner)
    release = threading.Event()
    blocker = pool.submit(release.wait, TIMEOUT)
    queued = pool.submit(abs, -1)
    assert queued.cancel()
    release.set()
    assert blocker.result(TIMEOUT) is True
    pool.shutdown()
    assert queued.cancelled()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"executor": "not one"}, "executor must be a concurrent.futures.Executor"),
        ({"initializer": 3}, "initializer must be callable"),
    ],
)
def test_pool_options_are_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        background.Pool(2, **kwargs)  # type: ignore[arg-type]


def test_repr_names_the_pool_and_its_state() -> None:
    pool = background.Pool(2, name="reporting")
    assert repr(pool) == "<background.Pool 'reporting' n=2 threads, 0 outstanding>"
    pool.shutdown()
    assert "shut down" in repr(pool)


def test_a_dropped_pool_finishes_its_queued_calls_then_frees_its_threads() -> None:
    import gc

    pool = background.Pool(3, name="dropped")
    release = threading.Event()
    futures = [pool.submit(release.wait, TIMEOUT) for _ in range(6)]
    del pool
    gc.collect()
    release.set()
    assert background.results(futures, timeout=TIMEOUT) == [True] * 6
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and any(
        t.name.startswith("dropped-") for t in threading.enumerate()
    ):
        time.sleep(0.01)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("dropped-")]


def test_when_no_worker_thread_can_start_the_call_is_refused_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = background.Pool(2, name="starved")

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    with pytest.raises(RuntimeError, match="could not start a worker thread: can't start"):
        pool.submit(abs, -1)  # refused at once: never accepted and left to hang
    monkeypatch.undo()
    assert pool.outstanding() == []
    assert pool.submit(abs, -2).result(TIMEOUT) == 2  # threads can start again: it works
    pool.shutdown()


def test_a_thread_that_cannot_start_beside_a_live_one_strands_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = background.Pool(2)
    release = threading.Event()
    first = pool.submit(release.wait, TIMEOUT)  # one worker, busy
    real_start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    second = pool.submit(abs, -5)  # no second thread: it waits for the first worker
    monkeypatch.setattr(threading.Thread, "start", real_start)
    release.set()
    assert first.result(TIMEOUT) is True
    assert second.result(TIMEOUT) == 5
    pool.shutdown()


def test_cancel_queued_cancels_only_calls_not_started() -> None:
    with background.Pool(1) as pool:
        release = threading.Event()
        running = _started(pool, release)
        queued = [pool.submit(abs, -i) for i in range(4)]
        assert pool.cancel_queued() == 4
        assert all(f.cancelled() for f in queued)
        done, not_done = background.wait(queued, timeout=TIMEOUT)
        assert len(done) == 4
        assert not not_done
        release.set()
        assert running.result(TIMEOUT) is True


# --- a broken initializer, bad options -------------------------------------------


def test_a_thread_pool_whose_initializer_raises_is_broken_and_fails_every_call() -> None:
    def connect() -> None:
        raise ValueError("no database")

    pool = background.Pool(2, name="no-db", initializer=connect)
    queued = [pool.submit(abs, -i) for i in range(5)]
    message = (
        r"the initializer \S*connect failed in a worker thread of no-db: "
        r"ValueError: no database; the pool cannot run tasks"
    )
    for future in queued:
        with pytest.raises(BrokenThreadPool, match=message):
            future.result(TIMEOUT)
    later = pool.submit(abs, -1)
    error = later.exception(TIMEOUT)
    assert isinstance(error, BrokenThreadPool)
    assert isinstance(error.__cause__, ValueError)
    assert pool.outstanding() == []  # every call settled: nothing for the exit to wait for
    pool.shutdown()  # and no worker is left to join


def test_an_initializer_given_the_wrong_arguments_breaks_the_pool_too() -> None:
    pool = background.Pool(1, initializer=lambda database: None)  # called with no argument
    with pytest.raises(BrokenThreadPool, match=r"TypeError: .*database"):
        pool.submit(abs, -1).result(TIMEOUT)
    pool.shutdown()


@pytest.mark.parametrize("process", [False, True], ids=["threads", "processes"])
def test_initargs_must_be_a_tuple_and_need_an_initializer(process: bool) -> None:
    with pytest.raises(TypeError, match=r"^initargs must be a tuple .*got 5 \(int\)"):
        background.Pool(1, process=process, initializer=print, initargs=5)  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"^initargs \(1,\) \(tuple\) given without an initializer"
    ):
        background.Pool(1, process=process, initargs=(1,))


def test_a_pool_name_must_be_a_string() -> None:
    with pytest.raises(TypeError, match=r"^name must be a str, got 5 \(int\)"):
        background.Pool(1, name=5)  # type: ignore[arg-type]


# --- max_pending and nested calls -------------------------------------------------


def test_nested_calls_on_a_pool_with_max_pending_never_deadlock() -> None:
    pool = background.Pool(1, max_pending=1)

    @pool.task
    def child(x: int) -> int:
        return x + 1

    @pool.task
    def parent(x: int) -> int:
        return child(x).result() * 10  # the parent holds the only place

    try:
        assert parent(1).result(TIMEOUT) == 20
        assert pool.outstanding() == []
    finally:
        pool.shutdown(wait=False)


def test_a_task_with_max_pending_may_call_itself() -> None:
    pool = background.Pool(2)

    @pool.task(max_pending=1)
    def countdown(n: int) -> int:
        return 0 if n == 0 else 1 + countdown(n - 1).result()

    try:
        assert countdown(5).result(TIMEOUT) == 5
    finally:
        pool.shutdown(wait=False)


def test_a_callback_may_submit_to_its_pool_at_its_max_pending() -> None:
    pool = background.Pool(2, max_pending=1)
    follow_ups: list[background.Future[int]] = []

    def follow_up(future: background.Future[int]) -> None:
        follow_ups.append(pool.submit(abs, -future.result()))

    try:
        first = pool.task(callback=follow_up)(abs)(-3)
        assert first.result(TIMEOUT) == 3
        background.wait([first], timeout=TIMEOUT)  # and its callback has run
        assert [f.result(TIMEOUT) for f in follow_ups] == [3]
    finally:
        pool.shutdown(wait=False)


def test_other_threads_still_wait_at_max_pending() -> None:
    """The exemption is for nested calls only: a producer thread still waits."""
    pool = background.Pool(2, max_pending=1)
    release = threading.Event()
    first = _started(pool, release)
    second: list[background.Future[int]] = []
    producer = threading.Thread(target=lambda: second.append(pool.submit(abs, -2)))
    producer.start()
    deadline = time.monotonic() + TIMEOUT
    while not _blocked_in(producer, "submit") and time.monotonic() < deadline:
        time.sleep(0.005)
    assert _blocked_in(producer, "submit")
    release.set()
    producer.join(TIMEOUT)
    assert first.result(TIMEOUT) is True
    assert second[0].result(TIMEOUT) == 2
    pool.shutdown()


# --- map: no result kept, nothing reported for calls left behind -----------------------


class Result:
    """A result that can be watched with a weak reference."""


@pytest.mark.parametrize("chunksize", [1, 3])
def test_map_keeps_no_reference_to_a_result_it_yielded(chunksize: int) -> None:
    with background.Pool(2) as pool:
        kept = 0
        for obj in pool.map(lambda _: Result(), range(10), chunksize=chunksize):
            ref = weakref.ref(obj)
            del obj
            gc.collect()
            kept += ref() is not None
    assert kept == 0


def test_calls_that_a_map_stopped_early_left_running_are_not_reported_when_they_fail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    started = threading.Semaphore(0)

    def fails_later(i: int) -> int:
        if i == 0:
            return 0
        started.release()
        release.wait(TIMEOUT)
        raise ValueError(f"late failure {i}")

    pool = background.Pool(3)
    results = pool.map(fails_later, range(6), buffersize=6)
    assert next(results) == 0
    for _ in range(2):
        assert started.acquire(timeout=TIMEOUT)  # two calls run; the others wait
    results.close()  # type: ignore[attr-defined]  # leave the loop: the queued ones are cancelled
    with caplog.at_level(logging.ERROR, logger="background"):
        release.set()
        pool.shutdown(wait=True)  # the running ones have failed now
        del results
        gc.collect()
    assert "never retrieved" not in caplog.text


# --- pools that wrap an executor ----------------------------------------------------


def test_a_timed_out_call_on_a_wrapped_executor_logs_nothing_critical(
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = concurrent.futures.ThreadPoolExecutor(2)
    pool = background.Pool(executor=inner, timeout=0.05)
    release = threading.Event()
    with caplog.at_level(logging.DEBUG):
        future = pool.submit(release.wait, TIMEOUT)
        assert isinstance(future.exception(TIMEOUT), concurrent.futures.TimeoutError)
        release.set()
        inner.shutdown(wait=True)  # the call has ended and its end was handled
    assert pool.outstanding() == []
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.CRITICAL]
    pool.shutdown()
