"""background.Pool: a real Executor with its own n, task decorator and guarantees."""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
import time

import pytest

import background

TIMEOUT = 30


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
    first = pool.submit(release.wait, TIMEOUT)
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
    producer.join(0.2)
    assert producer.is_alive()  # blocked: three are pending
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


def test_when_no_worker_thread_can_start_queued_calls_fail_clearly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = background.Pool(2, name="starved")

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    failed = pool.submit(abs, -1)  # every submitted call settles, nothing hangs
    with pytest.raises(RuntimeError, match="could not start a worker thread: can't start"):
        failed.result(TIMEOUT)
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
        running = pool.submit(release.wait, TIMEOUT)
        queued = [pool.submit(abs, -i) for i in range(4)]
        assert pool.cancel_queued() == 4
        assert all(f.cancelled() for f in queued)
        done, not_done = background.wait(queued, timeout=TIMEOUT)
        assert len(done) == 4
        assert not not_done
        release.set()
        assert running.result(TIMEOUT) is True
