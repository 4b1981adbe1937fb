"""Load and concurrency: every task ends exactly once, nothing deadlocks, memory stays flat.

The fast variants run in every tox environment. The heavy ones are marked
``stress`` and run only with ``tox -e stress``: a million tasks through the
default thread pool, a hundred thousand through a process pool's ``map``, and
peak memory compared with a bare ThreadPoolExecutor doing the same work.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import background
from background._defaults import defaults

TIMEOUT = 60
ROOT = Path(__file__).resolve().parent.parent


class Ledger:
    """Counts how often each task id ran and how often its future's callbacks fired."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: collections.Counter[int] = collections.Counter()
        self.callbacks: collections.Counter[int] = collections.Counter()

    def run(self, i: int) -> int:
        with self.lock:
            self.runs[i] += 1
        return 2 * i + 1

    def watch(self, i: int, future: concurrent.futures.Future[Any]) -> None:
        def count(_: object) -> None:
            with self.lock:
                self.callbacks[i] += 1

        future.add_done_callback(count)


# --- many threads at once ---------------------------------------------------


def _submitters_resizer_and_waiter(submitters: int, per_submitter: int, pause: float) -> None:
    ledger = Ledger()
    work = background.task(ledger.run)
    futures: list[list[background.Future[int]]] = [[] for _ in range(submitters)]
    stop = threading.Event()
    waits: list[int] = []
    errors: list[BaseException] = []

    def submit(k: int) -> None:
        try:
            for i in range(k * per_submitter, (k + 1) * per_submitter):
                futures[k].append(work(i))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    def resize() -> None:
        rng = random.Random(7)
        while not stop.is_set():
            background.n = rng.choice([1, 1, 2, 3, 50, 200, rng.randint(1, 200)])
            time.sleep(pause)

    def wait() -> None:
        while not stop.is_set():
            done, not_done = background.wait(timeout=TIMEOUT)
            if not_done:  # pragma: no cover - a deadlock
                errors.append(AssertionError(f"wait() timed out with {len(not_done)} left"))
                return
            waits.append(len(done))

    helpers = [threading.Thread(target=resize), threading.Thread(target=wait)]
    threads = [threading.Thread(target=submit, args=(k,)) for k in range(submitters)]
    for thread in helpers + threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    stop.set()
    for thread in helpers:
        thread.join(TIMEOUT)
    assert not [t for t in helpers + threads if t.is_alive()], "a thread is stuck"
    assert errors == []
    assert waits, "the waiting thread never got through a wait()"
    total = submitters * per_submitter
    everything = [f for chunk in futures for f in chunk]
    assert background.results(everything, timeout=TIMEOUT) == [2 * i + 1 for i in range(total)]
    assert ledger.runs == collections.Counter(range(total))  # each ran exactly once
    assert background.default_pool().outstanding() == []


def test_32_submitters_while_n_swings_between_1_and_200_and_another_thread_waits() -> None:
    _submitters_resizer_and_waiter(submitters=32, per_submitter=100, pause=0.001)


@pytest.mark.stress
def test_32_submitters_resizer_and_waiter_heavy() -> None:
    _submitters_resizer_and_waiter(submitters=32, per_submitter=5_000, pause=0)


def _race_submitters_against_shutdown(name: str) -> None:
    pool = background.Pool(2, name=name)
    accepted: list[background.Future[int]] = []
    refusals: list[RuntimeError] = []
    go = threading.Barrier(4)

    def submit() -> None:
        go.wait(TIMEOUT)
        while True:
            try:
                accepted.append(pool.submit(abs, -1))
            except RuntimeError as error:
                refusals.append(error)
                return

    threads = [threading.Thread(target=submit) for _ in range(3)]
    for thread in threads:
        thread.start()
    go.wait(TIMEOUT)
    while len(accepted) < 300 and not refusals:
        time.sleep(0.0005)  # let the submitters get going
    pool.shutdown(wait=True)
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads)
    assert len(refusals) == 3
    assert all(f"{name} is shut down" in str(e) for e in refusals)
    # shutdown(wait=True) returned: every accepted call has finished already.
    assert all(f.done() for f in accepted), "an accepted call was stranded"
    assert background.results(accepted, timeout=TIMEOUT) == [1] * len(accepted)
    assert pool.outstanding() == []


def test_shutdown_racing_with_submitters_strands_no_accepted_task() -> None:
    """Each call is either refused with a clear error or runs: none is left queued."""
    for round in range(20):
        _race_submitters_against_shutdown(f"race-{round}")


@pytest.mark.parametrize("how", ["shutdown", "cancel_queued"])
def test_calls_cancelled_before_they_start_count_as_done_for_every_waiter(how: str) -> None:
    pool = background.Pool(1, name="cancelling")
    release = threading.Event()
    running = pool.submit(release.wait, TIMEOUT)
    queued = [pool.submit(abs, -i) for i in range(3)]
    if how == "shutdown":
        pool.shutdown(wait=False, cancel_futures=True)
    else:
        assert pool.cancel_queued() == 3
    assert all(f.cancelled() for f in queued)
    assert concurrent.futures.wait(queued, timeout=5).not_done == set()
    assert len(list(concurrent.futures.as_completed(queued, timeout=5))) == 3
    assert background.wait(queued, timeout=5).not_done == set()
    release.set()
    assert running.result(TIMEOUT) is True
    pool.shutdown()
    assert pool.outstanding() == []


def test_a_pool_of_one_runs_calls_in_submission_order() -> None:
    """Calls wait in one first-in, first-out queue per pool."""
    order: list[int] = []
    with background.Pool(1, name="fifo") as pool:
        futures = [pool.submit(order.append, i) for i in range(1_000)]
        assert background.wait(futures, timeout=TIMEOUT).not_done == set()
    assert order == list(range(1_000))


def test_shutdown_after_lowering_n_still_runs_every_queued_call() -> None:
    """Found by the property test: lowering n left stop tokens in the queue ahead
    of later calls, and once the pool was shut down they stopped the last workers."""
    pool = background.Pool(3, name="shrunk")
    release = threading.Event()
    blockers = [pool.submit(release.wait, TIMEOUT) for _ in range(3)]
    pool.n = 1  # two workers too many, all busy: they retire as they come free
    queued = [pool.submit(abs, -i) for i in range(5)]
    pool.shutdown(wait=False)  # the queued calls must still run
    release.set()
    assert background.wait(blockers + queued, timeout=10).not_done == set()
    assert [f.result() for f in queued] == [0, 1, 2, 3, 4]
    pool.shutdown(wait=True)
    assert pool.outstanding() == []


# --- property: random sequences of operations ---------------------------------

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.sampled_from(["default", "own"]), st.integers(1, 12)),
        st.tuples(st.just("resize"), st.sampled_from(["default", "own"]), st.integers(1, 6)),
        st.tuples(st.just("wait"), st.sampled_from(["default", "own"]), st.just(0)),
        st.tuples(
            st.just("shutdown"),
            st.sampled_from(["default", "own"]),
            st.sampled_from([0, 1, 2]),  # 0: wait, 1: no wait, 2: cancel_futures
        ),
        st.tuples(st.just("recreate"), st.sampled_from(["default", "own"]), st.integers(1, 4)),
    ),
    max_size=25,
)


def _check_sequence(operations: list[tuple[str, str, int]], timeout: float = 10) -> None:
    """Run *operations*; then every future has ended exactly once, correctly."""
    defaults.reset()
    ledger = Ledger()
    release = threading.Event()  # holds the first call of each pool, so queues build up

    def slow(i: int) -> int:
        if i % 5 == 0:
            release.wait(0.002)
        return ledger.run(i)

    work = background.task(slow)
    own = background.Pool(2, name="own")
    pools = [own]
    # future -> (id, pool, number of cancelling shutdowns of that pool before it)
    submitted: dict[background.Future[int], tuple[int, background.Pool, int]] = {}
    cancels: collections.Counter[int] = collections.Counter()
    next_id = 0
    refusals: list[tuple[str, bool, str]] = []
    for action, which, value in operations:
        pool = background.default_pool() if which == "default" else own
        if pool not in pools:
            pools.append(pool)
        if action == "submit":
            for _ in range(value):
                i, next_id = next_id, next_id + 1
                try:
                    future = work(i) if which == "default" else own.submit(slow, i)
                except RuntimeError as error:
                    refusals.append((which, own.closed, str(error)))
                    continue
                ledger.watch(i, future)
                submitted[future] = (i, pool, cancels[id(pool)])
        elif action == "resize":
            if which == "default":
                background.n = value
            else:
                own.n = value
            assert pool.n == value
        elif action == "wait":
            mine = [f for f, (_, p, _) in submitted.items() if p is pool]
            assert background.wait(mine, timeout=timeout).not_done == set()
        elif action == "shutdown":
            cancel = value == 2
            if cancel:
                cancels[id(pool)] += 1
            if which == "default":
                background.shutdown(wait=value == 0, cancel_futures=cancel)
            else:
                own.shutdown(wait=value == 0, cancel_futures=cancel)
        elif which == "default":  # recreate
            background.use(background.Pool(value, name="replacement"))
            old = pool
            old.shutdown(wait=False)
        else:
            own = background.Pool(value, name="own")
            pools.append(own)

    background.shutdown(wait=True)
    for pool in pools:
        pool.shutdown(wait=True)
    everything = list(submitted)
    not_done = concurrent.futures.wait(everything, timeout=timeout).not_done
    assert not_done == set(), "a future never ended"
    for future, (i, pool, cancels_before) in submitted.items():
        if future.cancelled():
            assert cancels[id(pool)] > cancels_before, f"task {i} cancelled with no reason"
            assert ledger.runs[i] == 0
        else:
            assert future.result() == 2 * i + 1
            assert ledger.runs[i] == 1, f"task {i} ran {ledger.runs[i]} times"
    with ledger.lock:
        callbacks = dict(ledger.callbacks)
    assert callbacks == {i: 1 for i, _, _ in submitted.values()}, "a callback fired twice"
    assert sum(ledger.runs.values()) + sum(f.cancelled() for f in everything) == len(everything)
    assert next_id == len(everything) + len(refusals)
    # Only a pool of one's own refuses, once shut down, saying so.
    slow_name = f"{__name__}.{_check_sequence.__qualname__}.<locals>.slow"
    expected = ("own", True, f"cannot submit {slow_name}: own is shut down")
    assert all(refusal == expected for refusal in refusals), refusals
    for pool in pools:
        assert pool.outstanding() == []


def _property(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@_property(examples=40)
@given(OPERATIONS)
def test_random_submit_resize_wait_shutdown_recreate_end_every_future_once(
    operations: list[tuple[str, str, int]],
) -> None:
    _check_sequence(operations)


@pytest.mark.stress
@_property(examples=1_000)
@given(OPERATIONS)
def test_random_operation_sequences_heavy(operations: list[tuple[str, str, int]]) -> None:
    _check_sequence(operations)


# --- load ---------------------------------------------------------------------


def test_twenty_thousand_trivial_tasks_each_run_exactly_once() -> None:
    ledger = Ledger()
    work = background.task(ledger.run)
    futures = [work(i) for i in range(20_000)]
    assert background.results(futures, timeout=TIMEOUT) == [2 * i + 1 for i in range(20_000)]
    assert ledger.runs == collections.Counter(range(20_000))


LOAD_SCRIPT = textwrap.dedent(
    """
    import concurrent.futures, gc, json, resource, sys

    mode, total = sys.argv[1], int(sys.argv[2])
    BATCH = 10_000
    counts = bytearray(total)

    def work(i):
        counts[i] += 1
        return i

    if mode == "background":
        import background
        background.n = 4
        submit = background.task(work)
    else:
        executor = concurrent.futures.ThreadPoolExecutor(4)
        def submit(i):
            return executor.submit(work, i)

    def batch(start):
        futures = [submit(i) for i in range(start, min(start + BATCH, total))]
        done, not_done = concurrent.futures.wait(futures, timeout=120)
        assert not not_done, "a batch did not finish"
        assert [f.result() for f in futures] == list(range(start, start + len(futures)))

    batch(0)
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for start in range(BATCH, total, BATCH):
        batch(start)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "growth_kib": after - before,
        "each_once": counts == b"\\x01" * total,
    }))
    """
)


def _load(mode: str, total: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, mode, str(total)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.stress
def test_a_million_tasks_run_once_each_and_peak_memory_stays_flat() -> None:
    baseline = _load("bare", 1_000_000)
    ours = _load("background", 1_000_000)
    assert baseline["each_once"]
    assert ours["each_once"], "a task was lost or ran twice"
    # Keeping a reference to each finished future would cost hundreds of MiB
    # here; a flat pool grows no more than the bare executor, within slack.
    slack_kib = 32 * 1024
    assert ours["growth_kib"] <= baseline["growth_kib"] + slack_kib, (ours, baseline)


def square(x: int) -> int:
    return x * x


FORK_WARNING = "ignore:This process .* is multi-threaded:DeprecationWarning"


@pytest.mark.filterwarnings(FORK_WARNING)
def test_two_thousand_calls_through_process_map_come_back_once_each_in_order() -> None:
    task = background.task(process=True)(square)
    assert list(task.map(range(2_000), timeout=TIMEOUT)) == [i * i for i in range(2_000)]
    with background.Pool(2, process=True, name="mapping") as pool:
        got = list(pool.map(square, range(2_000), chunksize=7, timeout=TIMEOUT))
    assert got == [i * i for i in range(2_000)]


PROCESS_MAP_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    import background

    total = int(sys.argv[1])
    chunksize = int(sys.argv[2]) or None  # 0: automatic batches
    background.n = 2

    @background.task(process=True)
    def square(x):
        return x * x

    assert list(square.map(range(10_000))) == [i * i for i in range(10_000)]  # warm up
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    count = 0
    in_order = True
    for i, result in enumerate(square.map(range(total), timeout=600, chunksize=chunksize)):
        in_order = in_order and result == i * i
        count += 1
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"count": count, "in_order": in_order, "growth_kib": after - before}))
    """
)


@pytest.mark.stress
@pytest.mark.parametrize("chunksize", [0, 1], ids=["automatic-batches", "one-call-per-message"])
def test_a_hundred_thousand_calls_through_process_map_with_flat_memory(chunksize: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROCESS_MAP_SCRIPT, "100000", str(chunksize)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["count"] == 100_000
    assert result["in_order"], "a result was lost, repeated or out of order"
    # map reads its input lazily with a bounded window: memory does not grow
    # with the number of calls (a list of 100,000 futures would cost ~100 MiB).
    assert result["growth_kib"] < 32 * 1024, result
