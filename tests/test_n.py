"""background.n and Pool.n: read and resize at any time; bad values refused."""

from __future__ import annotations

import os
import queue
import threading
import time

import pytest
from support import wait_until, worker_threads

import background
from background._compat import cpu_count

TIMEOUT = 30


class Overlap:
    """Counts how many calls run at the same time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0

    def __enter__(self) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.running -= 1


def test_default_n_is_the_number_of_usable_cpus() -> None:
    assert background.n == cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert background.n == usable


def test_raising_n_after_tasks_ran_lets_the_next_submissions_all_run_at_once() -> None:
    background.n = 2
    assert background.results([background.run(abs, -i) for i in range(10)]) == list(range(10))
    background.n = 50
    barrier = threading.Barrier(50, timeout=TIMEOUT)  # breaks unless all 50 overlap
    futures = [background.run(barrier.wait) for _ in range(50)]
    assert sorted(background.results(futures, timeout=TIMEOUT)) == list(range(50))


def test_raising_n_starts_workers_at_once_for_queued_work() -> None:
    background.n = 1
    release = threading.Event()
    first = background.run(release.wait, TIMEOUT)
    barrier = threading.Barrier(5, timeout=TIMEOUT)
    queued = [background.run(barrier.wait) for _ in range(5)]
    background.n = 6  # the 5 queued calls must start now, beside the blocked one
    assert sorted(background.results(queued, timeout=TIMEOUT)) == list(range(5))
    release.set()
    assert first.result(TIMEOUT) is True


def test_lowering_n_caps_concurrency_without_killing_running_tasks() -> None:
    background.n = 8
    overlap = Overlap()
    release = threading.Event()

    def hold() -> str:
        with overlap:
            release.wait(TIMEOUT)
        return "finished"

    running = [background.run(hold) for _ in range(8)]
    deadline = time.monotonic() + TIMEOUT
    while overlap.running < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    background.n = 2
    later = [background.run(hold) for _ in range(10)]
    overlap.peak = 0
    release.set()
    assert background.results(running + later, timeout=TIMEOUT) == ["finished"] * 18
    assert overlap.peak <= 8  # nothing new started beside the eight
    overlap.peak = 0
    release.clear()
    more = [background.run(hold) for _ in range(6)]
    assert wait_until(lambda: overlap.running == 2)  # two run, four queue behind them
    time.sleep(0.2)  # room for a third to start, were the cap not kept
    assert overlap.running == 2
    release.set()
    background.results(more, timeout=TIMEOUT)
    assert overlap.peak == 2


def test_lowering_n_retires_idle_threads() -> None:
    pool = background.Pool(20)
    barrier = threading.Barrier(20, timeout=TIMEOUT)
    background.results([pool.submit(barrier.wait) for _ in range(20)], timeout=TIMEOUT)
    assert worker_threads(pool) == 20
    pool.n = 3
    deadline = time.monotonic() + TIMEOUT
    while worker_threads(pool) > 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker_threads(pool) == 3
    assert pool.submit(sum, [1, 2]).result(TIMEOUT) == 3
    pool.shutdown()


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (0, ValueError, "background.n must be at least 1, got 0"),
        (-1, ValueError, "background.n must be at least 1, got -1"),
        (1.5, TypeError, r"background.n must be an int of at least 1, got 1.5 \(float\)"),
        (True, TypeError, r"got True \(bool\)"),
        ("8", TypeError, r"got '8' \(str\)"),
        (None, TypeError, r"got None \(NoneType\)"),
    ],
)
def test_bad_n_is_refused_at_assignment_and_changes_nothing(
    value: object, error: type[Exception], message: str
) -> None:
    background.n = 3
    with pytest.raises(error, match=message):
        background.n = value  # type: ignore[assignment]
    assert background.n == 3
    assert background.default_pool().n == 3
    assert background.run(pow, 2, 3).result(TIMEOUT) == 8


@pytest.mark.parametrize("value", [0, -2, 2.0, False, "4"])
def test_bad_pool_n_is_refused(value: object) -> None:
    with pytest.raises((TypeError, ValueError), match="Pool n"):
        background.Pool(value)  # type: ignore[arg-type]
    pool = background.Pool(2)
    with pytest.raises((TypeError, ValueError), match="Pool n"):
        pool.n = value  # type: ignore[assignment]
    assert pool.n == 2
    pool.shutdown()


def test_n_set_before_first_use_sizes_the_default_pool() -> None:
    background.n = 7
    assert background.default_pool().n == 7
    background.n = 9
    assert background.default_pool().n == 9


def test_every_raise_of_n_is_honoured_even_when_workers_are_just_waking() -> None:
    # Regression: a submitter that looked while a woken worker had not yet left
    # the idle count started no thread, stranding a job behind busy workers.
    class SlowToWake(queue.SimpleQueue):  # type: ignore[type-arg]
        """Widens the moment between taking a job and leaving the idle count."""

        def get(self, block: bool = True, timeout: float | None = None) -> object:
            item = super().get(block, timeout)
            time.sleep(0.002)
            return item

    pool = background.Pool(1)
    pool._runner._queue = SlowToWake()  # type: ignore[attr-defined]
    for size in range(2, 41, 2):
        pool.n = size
        barrier = threading.Barrier(size, timeout=10)
        futures = [pool.submit(barrier.wait) for _ in range(size)]
        assert sorted(background.results(futures, timeout=TIMEOUT)) == list(range(size))
    pool.shutdown()


@pytest.mark.parametrize("lent", [False, True])
def test_a_pool_at_full_strength_still_grows_when_n_is_raised_or_a_worker_waits(
    lent: bool,
) -> None:
    """Idle workers of a full pool are not counted as idle (a lock saved per call):
    once n is raised, or a worker lends its place while it waits, every call
    that may run must still find a worker."""
    release = threading.Event()
    running = [0]
    lock = threading.Lock()

    def hold() -> bool:
        with lock:
            running[0] += 1
        return release.wait(TIMEOUT)

    with background.Pool(2) as pool:
        warm = threading.Event()
        first = [pool.submit(warm.wait, TIMEOUT) for _ in range(2)]
        assert wait_until(lambda: worker_threads(pool) == 2)
        warm.set()
        assert all(f.result(TIMEOUT) for f in first)  # both workers idle now, uncounted
        if lent:
            inner = background.Future()  # a worker that waits on it lends its place
            waiter = pool.submit(lambda: inner.result(TIMEOUT))
            futures = [pool.submit(hold) for _ in range(2)]
            assert wait_until(lambda: running[0] == 2)  # 1 place + 1 lent
            inner.set_result(0)
        else:
            pool.n = 4
            futures = [pool.submit(hold) for _ in range(4)]
            assert wait_until(lambda: running[0] == 4)
        release.set()
        assert all(f.result(TIMEOUT) for f in futures)
        if lent:
            assert waiter.result(TIMEOUT) == 0
