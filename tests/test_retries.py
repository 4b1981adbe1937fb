"""retries=, retry_on= and backoff=: a failed call runs again before its future fails."""

from __future__ import annotations

import concurrent.futures
import logging
import pathlib
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from support import POOL_KINDS, pool_of_kind, wait_until

import background
from background import _deadlines, _launch

TIMEOUT = 30


class Flaky:
    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> str:
        with self.lock:
            self.calls += 1
            if self.calls <= self.failures:
                raise self.error(f"failure {self.calls}")
        return "ok"


def test_a_failing_call_is_retried_until_it_succeeds() -> None:
    flaky = Flaky(failures=2)
    task = background.task(retries=2)(flaky)
    assert task().result(TIMEOUT) == "ok"
    assert flaky.calls == 3


def test_the_last_failure_reaches_the_future_when_retries_run_out() -> None:
    flaky = Flaky(failures=5)
    task = background.task(retries=2)(flaky)
    with pytest.raises(ConnectionError, match="failure 3"):
        task().result(TIMEOUT)
    assert flaky.calls == 3


def test_only_the_listed_exceptions_are_retried() -> None:
    flaky = Flaky(failures=1, error=KeyError)
    task = background.task(retries=3, retry_on=(ConnectionError, TimeoutError))(flaky)
    with pytest.raises(KeyError):
        task().result(TIMEOUT)
    assert flaky.calls == 1


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"retries": -1}, ValueError, "retries must be at least 0"),
        ({"retries": 1.5}, TypeError, "retries must be an int"),
        ({"retry_on": "ValueError"}, TypeError, "retry_on must be an exception class"),
        ({"retry_on": (ValueError, int)}, TypeError, "retry_on must be an exception class"),
        ({"backoff": -1}, ValueError, "backoff must be at least 0 seconds"),
        ({"backoff": float("inf")}, ValueError, "backoff must be a finite number"),
        ({"max_pending": 0}, ValueError, "max_pending must be at least 1"),
        ({"pool": "default"}, TypeError, "pool must be a background.Pool"),
        ({"retries": 1, "backoff_max": -1}, ValueError, "backoff_max must be at least 0"),
        ({"retries": 1, "backoff_max": "5"}, TypeError, "backoff_max must be a number"),
        ({"retries": 1, "jitter": float("nan")}, ValueError, "jitter must be a finite"),
        ({"retries": 1, "jitter": True}, TypeError, "jitter must be a number"),
        ({"retries": 1, "retry_timeout": 0}, ValueError, "retry_timeout must be more than 0"),
        ({"retries": 1, "retry_timeout": "1"}, TypeError, "retry_timeout must be a number"),
        ({"backoff_max": 5}, ValueError, "backoff_max applies to retries: give retries="),
        ({"jitter": 0.5}, ValueError, "jitter applies to retries"),
        ({"retry_timeout": 9}, ValueError, "retry_timeout applies to retries"),
    ],
)
def test_task_options_are_validated(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        background.task(**options)  # type: ignore[call-overload]


def test_max_pending_per_task_blocks_further_calls_of_that_task_only() -> None:
    release = threading.Event()

    @background.task(max_pending=2)
    def held() -> bool:
        return release.wait(TIMEOUT)

    background.n = 4
    first = [held(), held()]
    third: list[background.Future[bool]] = []
    caller = threading.Thread(target=lambda: third.append(held()))
    caller.start()
    caller.join(0.2)
    assert caller.is_alive()
    assert not third
    assert background.run(abs, -3).result(TIMEOUT) == 3  # other work is not blocked
    release.set()
    caller.join(TIMEOUT)
    assert background.results(first + third, timeout=TIMEOUT) == [True, True, True]


# -- retries wait without holding a worker, on every kind of pool ------------------------


def logged_attempt(path: str, failures: int) -> int:
    """Write down one attempt in the file at *path*; fail the first *failures* ones.

    A file, so that attempts made in worker processes count too.
    """
    with open(path, "a", encoding="utf-8") as file:
        file.write("attempt\n")
    count = attempts_in(path)
    if count <= failures:
        raise ConnectionError(f"failure {count}")
    return count


def logged_exit(path: str) -> None:
    """Write down one attempt, then end the worker process under the call."""
    import os

    with open(path, "a", encoding="utf-8") as file:
        file.write("attempt\n")
    os._exit(3)


def logged_hang(path: str) -> None:
    """Write down one attempt, then hang (until a time limit stops the worker)."""
    with open(path, "a", encoding="utf-8") as file:
        file.write("attempt\n")
    time.sleep(TIMEOUT)
    raise ConnectionError("too late")


def attempts_in(path: str) -> int:
    try:
        return len(pathlib.Path(path).read_text(encoding="utf-8").splitlines())
    except FileNotFoundError:
        return 0


class ManualTimer:
    """Stands in for background's timer: records each retry's wait, fires on request."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.entries: list[list[Any]] = []
        self.lock = threading.Lock()

    def call_later(self, seconds: float, fn: Callable[..., object], *args: Any) -> list[Any]:
        entry: list[Any] = [fn, *args]
        with self.lock:
            self.waits.append(seconds)
            self.entries.append(entry)
        return entry

    def fire(self) -> None:
        """End the oldest wait (if its retry was not cancelled), as the timer would."""
        with self.lock:
            entry = list(self.entries.pop(0))
        if entry:
            entry[0](*entry[1:])


@pytest.fixture
def timer(monkeypatch: pytest.MonkeyPatch) -> ManualTimer:
    manual = ManualTimer()
    monkeypatch.setattr(_deadlines, "call_later", manual.call_later)
    return manual


KINDS = POOL_KINDS


def make_pool(kind: str, n: int = 1) -> background.Pool:
    return pool_of_kind(kind, n, f"retry-{kind}")


@pytest.fixture(params=KINDS)
def one_worker(request: pytest.FixtureRequest) -> Iterator[background.Pool]:
    """A pool of one worker, of each kind: threads, processes, a foreign executor."""
    pool = make_pool(request.param)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def test_retries_succeed_on_every_kind_of_pool(
    one_worker: background.Pool, tmp_path: pathlib.Path
) -> None:
    path = str(tmp_path / "attempts")
    retried = one_worker.task(retries=3, backoff=0.001)(logged_attempt)
    assert retried(path, 2).result(TIMEOUT) == 3
    assert attempts_in(path) == 3
    failing = one_worker.task(retries=1, backoff=0.001)(logged_attempt)
    with pytest.raises(ConnectionError, match="failure 5"):
        failing(path, 10).result(TIMEOUT)  # attempts 4 and 5 fail: the last one counts
    assert attempts_in(path) == 5


def test_the_worker_is_free_while_a_retry_waits_and_cancelling_ends_the_call(
    one_worker: background.Pool, tmp_path: pathlib.Path, timer: ManualTimer
) -> None:
    path = str(tmp_path / "attempts")
    retried = one_worker.task(retries=5, backoff=60)(logged_attempt)
    future = retried(path, 10)
    assert wait_until(lambda: timer.entries), "the first attempt failed and its retry waits"
    assert timer.waits == [60]
    assert not future.done()
    assert not future.running()
    assert future in one_worker.outstanding()
    # The pool's only worker is free: another call runs during the wait.
    assert one_worker.submit(pow, 2, 10).result(TIMEOUT) == 1024
    assert future.cancel()
    done, _ = background.wait([future], timeout=TIMEOUT)  # counts as done at once
    assert future in done
    assert future.cancelled()
    assert one_worker.outstanding() == []
    timer.fire()  # the wait ends: no attempt is made for a cancelled call
    assert one_worker.submit(abs, -1).result(TIMEOUT) == 1
    assert attempts_in(path) == 1
    assert timer.entries == []


def test_a_retrying_task_handed_to_pool_submit_waits_without_a_worker_too(
    one_worker: background.Pool, tmp_path: pathlib.Path, timer: ManualTimer
) -> None:
    path = str(tmp_path / "attempts")
    retried = background.task(retries=1, backoff=60)(logged_attempt)
    future = one_worker.submit(retried, path, 1)
    assert wait_until(lambda: timer.entries), "the first attempt failed and its retry waits"
    assert one_worker.submit(pow, 3, 2).result(TIMEOUT) == 9  # the worker is free
    timer.fire()
    assert future.result(TIMEOUT) == 2


def test_the_future_stays_the_same_and_settles_once_after_the_last_attempt(
    one_worker: background.Pool, tmp_path: pathlib.Path, timer: ManualTimer
) -> None:
    path = str(tmp_path / "attempts")
    settled: list[tuple[background.Future[Any], object]] = []
    lock = threading.Lock()

    def remember(future: background.Future[Any]) -> None:
        with lock:
            settled.append((future, future.result()))

    retried = one_worker.task(retries=2, backoff=0.5, callback=remember)(logged_attempt)
    future = retried(path, 2)
    for attempt in (1, 2):
        assert wait_until(lambda n=attempt: len(timer.waits) == n), f"attempt {attempt} failed"
        assert not future.done()
        assert settled == []
        timer.fire()
    assert future.result(TIMEOUT) == 3
    background.wait([future], timeout=TIMEOUT)  # and its callbacks
    assert settled == [(future, 3)]
    assert timer.waits == [0.5, 1.0]


@pytest.mark.parametrize("kind", KINDS)
def test_waits_double_up_to_backoff_max(
    kind: str, tmp_path: pathlib.Path, timer: ManualTimer
) -> None:
    path = str(tmp_path / "attempts")
    with make_pool(kind) as pool:
        retried = pool.task(retries=5, backoff=0.25, backoff_max=1.5)(logged_attempt)
        future = retried(path, 5)
        for attempt in range(1, 6):
            assert wait_until(lambda n=attempt: len(timer.waits) == n), f"attempt {attempt} failed"
            timer.fire()
        assert future.result(TIMEOUT) == 6
    assert timer.waits == [0.25, 0.5, 1.0, 1.5, 1.5]


def test_jitter_adds_up_to_that_many_seconds_to_each_wait(
    tmp_path: pathlib.Path, timer: ManualTimer
) -> None:
    def waits_of(attempts: int, **options: Any) -> list[float]:
        timer.waits.clear()
        retried = background.task(retries=attempts, **options)(logged_attempt)
        future = retried(str(tmp_path / f"attempts{len(options)}"), attempts)
        for attempt in range(1, attempts + 1):
            assert wait_until(lambda n=attempt: len(timer.waits) == n), f"attempt {attempt} failed"
            timer.fire()
        assert future.result(TIMEOUT) == attempts + 1
        return list(timer.waits)

    jittered = waits_of(20, jitter=0.5)
    assert all(0 <= w <= 0.5 for w in jittered), jittered
    assert len(set(jittered)) > 10  # random, not one fixed extra
    doubled = waits_of(3, backoff=1, jitter=0.25)
    assert all(b <= w <= b + 0.25 for w, b in zip(doubled, [1, 2, 4])), doubled
    capped = waits_of(4, backoff=1, jitter=1, backoff_max=1.5)  # the cap applies last
    assert 1 <= capped[0] <= 1.5, capped
    assert capped[1:] == [1.5] * 3, capped


def test_retry_timeout_makes_no_attempt_that_would_start_after_it(
    tmp_path: pathlib.Path, timer: ManualTimer, caplog: pytest.LogCaptureFixture
) -> None:
    path = str(tmp_path / "attempts")
    retried = background.task(retries=5, backoff=10, retry_timeout=15)(logged_attempt)
    with caplog.at_level(logging.INFO, logger="background"):
        future = retried(path, 10)
        assert wait_until(lambda: timer.entries), "the first attempt failed"
        timer.fire()  # attempt 2 fails; a third would wait 20 s more, past the 15 s
        with pytest.raises(ConnectionError, match="failure 2"):
            future.result(TIMEOUT)
    assert attempts_in(path) == 2
    assert timer.waits == [10]
    assert "would start after its retry_timeout of 15 s" in caplog.text


def test_retry_timeout_counts_real_time(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "attempts")
    retried = background.task(retries=10_000, backoff=0.001, backoff_max=0.01, retry_timeout=0.2)(
        logged_attempt
    )
    started = time.monotonic()
    with pytest.raises(ConnectionError) as caught:
        retried(path, 10**9).result(TIMEOUT)
    assert time.monotonic() - started >= 0.19  # it retried until the limit...
    assert 2 <= attempts_in(path) < 10_000  # ...and then gave up
    assert str(caught.value) == f"failure {attempts_in(path)}"  # the last attempt's


def test_each_retry_is_logged_with_its_wait(
    tmp_path: pathlib.Path, timer: ManualTimer, caplog: pytest.LogCaptureFixture
) -> None:
    retried = background.task(retries=2, backoff=0.5)(logged_attempt)
    with caplog.at_level(logging.INFO, logger="background"):
        future = retried(str(tmp_path / "attempts"), 1)
        assert wait_until(lambda: timer.entries), "the first attempt failed"
        timer.fire()
        assert future.result(TIMEOUT) == 2
    (message,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert re.fullmatch(
        r"retrying test_retries\.logged_attempt in 0\.5 s after attempt 1 of 3 failed: "
        r"ConnectionError\('failure 1'\)",
        message,
    )


def test_a_call_over_its_time_limit_is_not_retried() -> None:
    release = threading.Event()
    attempts: list[int] = []

    @background.task(retries=3, timeout=0.05)
    def hangs() -> None:
        attempts.append(1)
        release.wait(TIMEOUT)
        raise ConnectionError("late")

    future = hangs()
    with pytest.raises(concurrent.futures.TimeoutError):
        future.result(TIMEOUT)
    release.set()
    assert wait_until(lambda: not background.default_pool().outstanding()), "the call ended"
    assert attempts == [1]


def test_a_process_call_stopped_by_its_time_limit_is_not_retried(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "attempts")
    with make_pool("processes") as pool:
        assert pool.submit(attempts_in, path).result(TIMEOUT) == 0  # the worker imported us
        future = pool.task(retries=3, backoff=0.001, timeout=0.5)(logged_hang)(path)
        with pytest.raises(concurrent.futures.TimeoutError, match="was stopped"):
            future.result(TIMEOUT)
    assert attempts_in(path) == 1


def test_a_call_whose_worker_process_dies_is_not_retried(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "attempts")
    with make_pool("processes") as pool:
        future = pool.task(retries=3, backoff=0.001)(logged_exit)(path)
        with pytest.raises(background.WorkerDied):
            future.result(TIMEOUT)
    assert attempts_in(path) == 1


def test_each_attempt_has_its_own_time_limit(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "attempts")

    @background.task(retries=3, backoff=0.001, timeout=TIMEOUT)
    def quick_failures() -> int:
        return logged_attempt(path, 3)

    assert quick_failures().result(TIMEOUT) == 4  # no attempt inherits an older limit


def test_shutdown_waits_for_the_retries_of_its_calls(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "attempts")
    pool = background.Pool(2, name="retry-shutdown")
    future = pool.task(retries=3, backoff=0.01)(logged_attempt)(path, 3)
    pool.shutdown(wait=True)
    assert future.done()
    assert future.result(0) == 4


def test_shutdown_without_waiting_returns_at_once_and_the_retries_still_run(
    tmp_path: pathlib.Path, timer: ManualTimer
) -> None:
    path = str(tmp_path / "attempts")
    pool = background.Pool(1, name="retry-shutdown-nowait")
    future = pool.task(retries=3, backoff=5)(logged_attempt)(path, 1)
    assert wait_until(lambda: timer.entries), "the first attempt failed"
    pool.shutdown(wait=False)  # returns while the call waits for its retry
    assert not future.done()
    with pytest.raises(RuntimeError, match="is shut down"):
        pool.submit(abs, -1)  # no new calls, as usual
    timer.fire()
    assert future.result(TIMEOUT) == 2  # its retry ran all the same
    assert wait_until(lambda: pool._runner.threads == 0), "the pool's worker stopped"


def test_an_attempt_that_fails_after_shutdown_with_cancel_futures_is_not_retried(
    tmp_path: pathlib.Path, timer: ManualTimer
) -> None:
    release = threading.Event()
    pool = background.Pool(1, name="retry-cancel-running")

    @pool.task(retries=3, backoff=5)
    def fails_once_released() -> None:
        release.wait(TIMEOUT)
        raise ConnectionError("after the shutdown")

    running = fails_once_released()
    assert wait_until(running.running), "the call runs"
    stopper = threading.Thread(target=lambda: pool.shutdown(wait=True, cancel_futures=True))
    stopper.start()
    assert wait_until(lambda: _launch._books[pool].stopped), "the pool stopped"
    release.set()  # the attempt fails now: no retry is made in a pool that stopped
    stopper.join(TIMEOUT)
    with pytest.raises(ConnectionError, match="after the shutdown"):
        running.result(TIMEOUT)
    assert timer.entries == []


def test_shutdown_with_cancel_futures_and_cancel_queued_cancel_waiting_retries(
    tmp_path: pathlib.Path, timer: ManualTimer
) -> None:
    pool = background.Pool(1, name="retry-cancel")
    retried = pool.task(retries=3, backoff=5)(logged_attempt)
    first = retried(str(tmp_path / "first"), 3)
    assert wait_until(lambda: len(timer.entries) == 1), "the first call waits for its retry"
    assert pool.cancel_queued() == 1
    assert first.cancelled()
    second = retried(str(tmp_path / "second"), 3)
    assert wait_until(lambda: len(timer.waits) == 2), "the second call waits for its retry"
    pool.shutdown(wait=True, cancel_futures=True)
    assert second.cancelled()
    assert pool.outstanding() == []


def test_a_waiting_retry_keeps_its_max_pending_place(
    tmp_path: pathlib.Path, timer: ManualTimer
) -> None:
    retried = background.task(retries=1, backoff=5, max_pending=1)(logged_attempt)
    first = retried(str(tmp_path / "first"), 1)
    assert wait_until(lambda: timer.entries), "the first call waits for its retry"
    blocked: list[background.Future[int]] = []
    caller = threading.Thread(target=lambda: blocked.append(retried(str(tmp_path / "b"), 0)))
    caller.start()
    assert wait_until(lambda: caller.is_alive()), "the second call was made"
    assert not blocked  # the waiting call still holds the only place
    timer.fire()
    assert first.result(TIMEOUT) == 2
    caller.join(TIMEOUT)
    assert blocked[0].result(TIMEOUT) == 1


def test_map_of_a_retrying_task_retries_too(
    one_worker: background.Pool, tmp_path: pathlib.Path
) -> None:
    paths = [str(tmp_path / f"item{i}") for i in range(3)]
    retried = one_worker.task(retries=2, backoff=0.001, jitter=0.001)(logged_attempt)
    assert list(retried.map(paths, [2, 1, 0], timeout=TIMEOUT)) == [3, 2, 1]


@pytest.mark.parametrize("via", ["Task.map", "Pool.map"])
def test_a_map_call_that_waits_for_its_retry_holds_no_worker(
    one_worker: background.Pool, tmp_path: pathlib.Path, timer: ManualTimer, via: str
) -> None:
    flaky, steady = str(tmp_path / "flaky"), str(tmp_path / "steady")
    retried = one_worker.task(retries=1, backoff=60)(logged_attempt)
    # One by one (chunksize=1): a process map's batches retry in their worker.
    if via == "Task.map":
        results = retried.map([flaky, steady], [1, 0], ordered=False, chunksize=1, timeout=TIMEOUT)
    else:
        results = one_worker.map(
            retried, [flaky, steady], [1, 0], ordered=False, chunksize=1, timeout=TIMEOUT
        )
    # The only worker runs the steady call while the flaky one waits for its retry.
    assert next(results) == 1
    assert wait_until(lambda: timer.entries), "the flaky call's retry waits"
    assert timer.waits == [60]
    timer.fire()
    assert next(results) == 2
    assert attempts_in(flaky) == 2
    assert attempts_in(steady) == 1


def test_a_program_that_ends_while_a_retry_waits_runs_the_retry_first(
    tmp_path: pathlib.Path,
) -> None:
    from support import run_bare_python

    script = f"""
import background

attempts = []

@background.task(retries=2, backoff=0.2)
def flaky():
    attempts.append(1)
    if len(attempts) < 3:
        raise ConnectionError("not yet")
    with open({str(tmp_path / "done")!r}, "w") as file:
        file.write(f"ran {{len(attempts)}} times")

flaky()  # fire and forget: the program ends while the first retry waits
"""
    done = run_bare_python(script)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "done").read_text() == "ran 3 times"
