"""background on a real dask.distributed LocalCluster with worker processes.

One cluster (two single-threaded worker processes, each under a nanny that
restarts it if it dies) serves the whole module; it is started once and
closed at the end. Without dask.distributed installed every cluster test is
skipped with the reason, and only the "what to install" error is checked.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import gc
import hashlib
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import background

TIMEOUT = 60

# A task may kill its worker once and still be run again elsewhere; the
# second death makes the scheduler give up on it (KilledWorker).
ALLOWED_FAILURES = 1


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A distributed.Client of a LocalCluster with two worker processes."""
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (pip install 'background[dask]')"
    )
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            worker_dashboard_address=None,
        )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture
def pool(client: Any) -> Iterator[background.Pool]:
    """A dask pool on the module's cluster, made the default pool."""
    pool = background.dask_pool(client, name="cluster")
    background.use(pool)
    try:
        yield pool
    finally:
        background.use(None)
        pool.shutdown(wait=True, cancel_futures=True)


# Module-level tasks, decorated once, as a program would; they run wherever the
# default pool is.


@background.task
def fingerprint(x: int) -> tuple[int, int, str]:
    """A pure function: the same result in any process on any machine."""
    return x, x * x, hashlib.sha256(str(x).encode()).hexdigest()[:12]


@background.task
def where() -> int:
    return os.getpid()


@background.task
def ticket(label: str) -> str:
    """Side-effecting: a new ticket on every call, even with the same label."""
    return f"{label}-{uuid.uuid4().hex}"


@background.task
def echo_options(x: int, key: str = "", workers: str = "", pure: object = None) -> tuple[Any, ...]:
    return x, key, workers, pure


@background.task
def fail(x: int) -> None:
    raise ValueError(f"bad input {x}")


@background.task
def nap(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@background.task
def sleep_unless_rerun(marker: str) -> int:
    """Sleeps long on its first attempt (to be killed); returns at once when run again."""
    if not os.path.exists(marker):
        with open(marker, "w"):
            pass
        time.sleep(TIMEOUT)
    return os.getpid()


@background.task
def die() -> None:
    os._exit(17)


_attempts = itertools.count()


@background.task(retries=2)
def flaky() -> tuple[str, int]:
    """Fails on every other attempt in a given worker process."""
    attempt = next(_attempts)
    if attempt % 2 == 0:
        raise OSError("flaky")
    return "ok", attempt


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


@background.task
def request_id() -> str:
    return REQUEST_ID.get()


def _worker_pids(client: Any) -> dict[str, int]:
    return dict(client.run(os.getpid))


# Bad input and the missing extra


def test_without_distributed_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    with pytest.raises(ImportError, match=r"pip install 'background\[dask\]'"):
        background.dask_pool()


def test_dask_pool_refuses_what_is_not_a_cluster(client: Any) -> None:
    with pytest.raises(TypeError, match=r"scheduler address .* got 8786 \(int\)"):
        background.dask_pool(8786)


def test_a_name_that_is_not_a_string_is_refused(client: Any) -> None:
    with pytest.raises(TypeError, match=r"name must be a str, got 3 \(int\)"):
        background.dask_pool(client, name=3)  # type: ignore[arg-type]


def test_client_kwargs_with_an_existing_client_are_refused(client: Any) -> None:
    with pytest.raises(TypeError, match=r"existing Client was given; got \['n_workers'\]"):
        background.dask_pool(client, n_workers=2)


# Where calls run, and what n means


def test_calls_run_in_the_cluster_worker_processes(pool: background.Pool, client: Any) -> None:
    pids = background.results([where() for _ in range(8)], timeout=TIMEOUT)
    assert os.getpid() not in pids
    assert set(pids) <= set(_worker_pids(client).values())


def test_n_is_the_number_of_worker_threads_the_scheduler_reports(
    pool: background.Pool, client: Any
) -> None:
    assert pool.n == sum(client.nthreads().values()) == 2
    assert "executor" in repr(pool)


def test_use_moves_already_decorated_tasks_to_the_cluster_and_back(client: Any) -> None:
    here = where().result(TIMEOUT)  # the default thread pool: this process
    assert here == os.getpid()
    pool = background.dask_pool(client)
    previous = background.use(pool)
    try:
        assert where().result(TIMEOUT) in _worker_pids(client).values()
    finally:
        background.use(previous)
        pool.shutdown()
    assert where().result(TIMEOUT) == os.getpid()


def test_process_decorated_tasks_move_with_use_process_true(client: Any) -> None:
    pool = background.dask_pool(client)
    background.use(pool, process=True)
    try:
        on_cluster = background.task(process=True)(os.getpid)
        assert on_cluster().result(TIMEOUT) in _worker_pids(client).values()
    finally:
        background.use(None, process=True)
        pool.shutdown()


# The guarantees of the local pools


def test_the_same_arguments_twice_run_twice(pool: background.Pool) -> None:
    tickets = background.results([ticket("same") for _ in range(4)], timeout=TIMEOUT)
    assert len(set(tickets)) == 4


def test_keyword_arguments_named_like_dask_options_reach_the_function(
    pool: background.Pool,
) -> None:
    future = echo_options(1, key="k", workers="nobody", pure=True)
    assert future.result(TIMEOUT) == (1, "k", "nobody", True)


def test_the_futures_are_background_futures_for_wait_and_as_completed(
    pool: background.Pool,
) -> None:
    futures = [fingerprint(i) for i in range(6)]
    assert all(isinstance(f, background.Future) for f in futures)
    done, not_done = background.wait(futures, timeout=TIMEOUT)
    assert (len(done), not_done) == (6, set())
    finished = list(background.as_completed(futures, timeout=TIMEOUT))
    assert sorted(f.result() for f in finished) == [fingerprint.__wrapped__(i) for i in range(6)]


def test_a_coroutine_can_await_a_call_on_the_cluster(pool: background.Pool) -> None:
    import asyncio

    async def main() -> list[tuple[int, int, str]]:
        return list(await asyncio.wait_for(asyncio.gather(fingerprint(1), fingerprint(2)), 60))

    assert asyncio.run(main()) == [fingerprint.__wrapped__(1), fingerprint.__wrapped__(2)]


def test_an_exception_surfaces_with_the_remote_traceback(pool: background.Pool) -> None:
    future = fail(7)
    with pytest.raises(ValueError, match="bad input 7") as caught:
        future.result(TIMEOUT)
    frames = traceback.extract_tb(caught.value.__traceback__)
    remote = [frame for frame in frames if frame.name == "fail"]
    assert len(remote) == 1
    # A module-level task travels by reference: the worker imports this module,
    # so its frame names the real file, line and source text.
    assert remote[0].filename == __file__
    assert remote[0].lineno == fail.__wrapped__.__code__.co_firstlineno + 2
    assert remote[0].line == 'raise ValueError(f"bad input {x}")'


def test_a_function_sent_by_value_keeps_its_name_and_line_in_the_traceback(
    pool: background.Pool,
) -> None:
    def local_failure() -> None:
        raise KeyError("nested")

    with pytest.raises(KeyError, match="nested") as caught:
        pool.submit(local_failure).result(TIMEOUT)
    frames = traceback.extract_tb(caught.value.__traceback__)
    remote = [frame for frame in frames if frame.name == "local_failure"]
    assert len(remote) == 1
    assert remote[0].lineno == local_failure.__code__.co_firstlineno + 1


def test_a_result_that_cannot_be_pickled_fails_the_future_instead_of_hanging(
    pool: background.Pool,
) -> None:
    future = pool.submit(threading.Lock)
    with pytest.raises(TypeError, match="lock"):
        future.result(TIMEOUT)


def test_an_argument_that_cannot_be_pickled_is_named_at_call_time(
    pool: background.Pool,
) -> None:
    with pytest.raises(TypeError, match=r"fingerprint .* argument 1 \(a _thread\.lock\)"):
        fingerprint(threading.Lock())  # type: ignore[arg-type]
    assert pool.outstanding() == []


def test_callbacks_fire_in_a_thread_of_this_process_and_may_wait_on_tasks(
    pool: background.Pool,
) -> None:
    seen: list[tuple[str, object, object]] = []
    lock = threading.Lock()

    def follow_up(future: background.Future[Any]) -> None:
        # Waiting inside a callback is safe: it does not run in dask's event loop.
        nested = fingerprint(future.result()[0] + 100).result(TIMEOUT)
        with lock:
            seen.append((threading.current_thread().name, future.result()[0], nested[0]))

    @background.callback
    def count(future: background.Future[Any]) -> None:
        with lock:
            seen.append(("global", None, None))

    with_callback = background.task(callback=follow_up)(fingerprint.__wrapped__)
    futures = [with_callback(i) for i in range(3)]
    background.wait(futures, timeout=TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    while len(seen) < 3 + 3 + 3 and time.monotonic() < deadline:  # follow_up and nested
        time.sleep(0.01)
    own = [entry for entry in seen if entry[0] != "global"]
    assert all(name.startswith("cluster-callbacks-") for name, _, _ in own)
    assert sorted(entry[1:] for entry in own) == [(i, i + 100) for i in range(3)]  # type: ignore[type-var]
    assert sum(entry[0] == "global" for entry in seen) == 6  # 3 calls + 3 nested calls


def test_map_returns_results_in_order_with_and_without_chunks(pool: background.Pool) -> None:
    expected = [fingerprint.__wrapped__(i) for i in range(10)]
    assert list(fingerprint.map(range(10), timeout=TIMEOUT)) == expected
    assert list(pool.map(fingerprint.__wrapped__, range(10), chunksize=3)) == expected


def test_retries_happen_on_the_worker(pool: background.Pool) -> None:
    status, attempt = flaky().result(TIMEOUT)
    assert status == "ok"
    assert attempt % 2 == 1  # the worker's own counter: its first attempt failed
    assert next(_attempts) == 0  # nothing ran here


def test_a_retry_is_sent_to_the_cluster_again_after_its_wait(
    pool: background.Pool, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support import wait_until
    from test_retries import ManualTimer, attempts_in, logged_attempt

    from background import _deadlines

    timer = ManualTimer()
    monkeypatch.setattr(_deadlines, "call_later", timer.call_later)
    retried = pool.task(retries=2, backoff=30)(logged_attempt)
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    future = retried(first, 1)
    assert wait_until(lambda: timer.entries), "the first attempt failed on the cluster"
    assert not future.done()
    assert not future.running()  # waiting, on no worker
    timer.fire()
    assert future.result(TIMEOUT) == 2
    assert attempts_in(first) == 2
    cancelled = retried(second, 5)
    assert wait_until(lambda: len(timer.waits) == 2), "the other call's first attempt failed"
    assert cancelled.cancel()
    timer.fire()
    assert background.wait([cancelled], timeout=TIMEOUT).done == {cancelled}
    assert attempts_in(second) == 1
    assert pool.outstanding() == []


def test_eager_mode_runs_dask_calls_in_the_caller(pool: background.Pool) -> None:
    with background.eager():
        future = pool.submit(threading.get_ident)
        assert future.done()
        assert future.result() == threading.get_ident()
        assert flaky().done()  # a task of the default (dask) pool too


def test_contextvars_do_not_travel_to_the_cluster(pool: background.Pool) -> None:
    token = REQUEST_ID.set("req-42")
    try:
        assert request_id().result(TIMEOUT) == "unset"
    finally:
        REQUEST_ID.reset(token)


def test_a_cancelled_call_counts_as_done_and_does_not_run(pool: background.Pool) -> None:
    busy = [nap(0.5) for _ in range(2)]  # both single-threaded workers are busy
    queued = ticket("never")
    assert queued.cancel()
    assert queued.cancelled()
    done, _ = background.wait([queued], timeout=TIMEOUT)
    assert done == {queued}
    assert list(background.as_completed([queued], timeout=TIMEOUT)) == [queued]
    background.wait(busy, timeout=TIMEOUT)


def test_finished_results_are_released_on_the_cluster_without_the_gc(client: Any) -> None:
    pool = background.dask_pool(client.cluster)  # a Client of its own: nothing else uses it
    own_client = pool._runner.executor.client  # type: ignore[attr-defined]
    gc.disable()
    try:
        futures = [pool.submit(fingerprint.__wrapped__, i) for i in range(5)]
        assert [f.result(TIMEOUT)[0] for f in futures] == list(range(5))
        del futures
        deadline = time.monotonic() + TIMEOUT
        while own_client.futures and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not own_client.futures
    finally:
        gc.enable()
        pool.shutdown()


def test_a_pool_timeout_fails_a_call_that_runs_over_it(client: Any) -> None:
    pool = background.dask_pool(client, timeout=0.2)
    try:
        with pytest.raises(concurrent.futures.TimeoutError, match="sleep"):
            pool.submit(time.sleep, 1.0).result(TIMEOUT)
    finally:
        pool.shutdown()


def test_a_call_over_its_timeout_frees_its_place_when_it_ends(client: Any) -> None:
    pool = background.dask_pool(client, max_pending=1)
    try:
        slow = background.task(pool=pool, timeout=0.2)(time.sleep)(1.0)
        with pytest.raises(concurrent.futures.TimeoutError, match="sleep"):
            slow.result(TIMEOUT)
        # submit() waits for the slow call to end (max_pending=1): in a thread,
        # so that a place never given back fails the test instead of hanging it.
        submitted: list[background.Future[int]] = []
        submitter = threading.Thread(target=lambda: submitted.append(pool.submit(abs, -4)))
        submitter.start()
        submitter.join(TIMEOUT)
        assert len(submitted) == 1
        assert submitted[0].result(TIMEOUT) == 4
        background.wait(pool.outstanding(), timeout=TIMEOUT)
        assert pool.outstanding() == []
    finally:
        pool.shutdown()


# Shutting down


def test_shutdown_waits_and_closes_the_client_it_made_but_not_the_cluster(client: Any) -> None:
    pool = background.dask_pool(client.cluster)
    own_client = pool._runner.executor.client  # type: ignore[attr-defined]
    futures = [pool.submit(time.sleep, 0.2) for _ in range(3)]
    pool.shutdown(wait=True)
    assert all(f.done() and f.exception() is None for f in futures)
    assert own_client.status == "closed"
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(abs, 1)
    assert client.submit(abs, -3).result(TIMEOUT) == 3  # the cluster goes on


def test_shutdown_without_wait_returns_at_once_and_lets_calls_finish(client: Any) -> None:
    pool = background.dask_pool(client.cluster)
    own_client = pool._runner.executor.client  # type: ignore[attr-defined]
    futures = [pool.submit(time.sleep, 0.5) for _ in range(2)]
    pool.shutdown(wait=False)
    assert not any(f.done() for f in futures)
    background.wait(futures, timeout=TIMEOUT)
    assert [f.exception() for f in futures] == [None, None]
    deadline = time.monotonic() + TIMEOUT
    while own_client.status != "closed" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert own_client.status == "closed"


def test_shutdown_can_cancel_every_unfinished_call(client: Any) -> None:
    pool = background.dask_pool(client)
    futures = [pool.submit(time.sleep, 1.0) for _ in range(4)]
    pool.shutdown(wait=True, cancel_futures=True)
    assert all(f.cancelled() for f in futures)
    assert background.wait(futures, timeout=TIMEOUT).not_done == set()
    pool.shutdown()  # a second shutdown is harmless
    assert client.status == "running"


def test_the_cluster_executor_keeps_keyword_arguments_and_refuses_work_once_shut(
    client: Any,
) -> None:
    pool = background.dask_pool(client)
    executor = pool._runner.executor  # type: ignore[attr-defined]
    future = executor.submit(echo_options.__wrapped__, 3, key="k", workers="w")
    assert future.result(TIMEOUT) == (3, "k", "w", None)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        executor.submit(abs, 1)


def test_shutdown_leaves_a_client_that_was_passed_in_open(client: Any) -> None:
    pool = background.dask_pool(client)
    assert pool.submit(abs, -1).result(TIMEOUT) == 1
    pool.shutdown()
    assert client.status == "running"


def test_a_raw_client_executor_also_works_and_shuts_down(client: Any) -> None:
    pool = background.Pool(executor=client.get_executor(pure=False))
    assert pool.submit(echo_options.__wrapped__, 2, key="x").result(TIMEOUT) == (2, "x", "", None)
    pool.shutdown(wait=True, cancel_futures=True)  # dask's shutdown() has no cancel_futures
    assert pool.closed


# Scripts and notebooks: functions from __main__


def test_a_function_from_main_runs_on_a_scheduler_address(client: Any) -> None:
    script = textwrap.dedent(
        """
        import sys
        import background

        def shout(word, times=1):
            return (word.upper() + "!") * times

        @background.task
        def whisper(word):
            return word.lower()

        pool = background.dask_pool(sys.argv[1])
        background.use(pool)
        print(pool.submit(shout, "hi", times=2).result(60), whisper("HUSH").result(60))
        pool.shutdown()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, client.scheduler.address],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["HI!HI!", "hush"]


# Workers that die


def test_a_worker_killed_mid_task_makes_the_task_run_again_elsewhere(
    pool: background.Pool, client: Any, tmp_path: Any
) -> None:
    pids = _worker_pids(client)
    marker = tmp_path / "first-attempt-started"
    future = sleep_unless_rerun(str(marker))
    deadline = time.monotonic() + TIMEOUT
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    running = [worker for worker, keys in client.processing().items() if keys]
    assert len(running) == 1  # the first attempt, asleep for a long time
    os.kill(pids[running[0]], signal.SIGKILL)
    assert future.result(TIMEOUT) != pids[running[0]]  # the same call, run once more
    client.wait_for_workers(2, timeout=TIMEOUT)  # the nanny restarted the killed worker


def test_a_task_that_keeps_killing_its_worker_fails_with_killed_worker(
    pool: background.Pool, client: Any
) -> None:
    from distributed import KilledWorker

    future = die()
    with pytest.raises(KilledWorker, match="die"):
        future.result(TIMEOUT)
    client.wait_for_workers(2, timeout=TIMEOUT)


# The same decorated function through threads, processes and the cluster


def test_the_same_task_gives_the_same_results_on_threads_processes_and_cluster(
    client: Any,
) -> None:
    arguments = range(12)
    outcomes = {}
    pools = {
        "threads": background.Pool(2),
        # Not fork: forking a process that runs a dask Client's threads may
        # deadlock the child (Python 3.12+ warns about it).
        "processes": background.Pool(2, process=True, start_method="forkserver"),
        "cluster": background.dask_pool(client),
    }
    try:
        for kind, pool in pools.items():
            background.use(pool)
            outcomes[kind] = (
                background.results([fingerprint(x) for x in arguments], timeout=TIMEOUT),
                list(fingerprint.map(arguments, timeout=TIMEOUT)),
            )
    finally:
        background.use(None)
        for pool in pools.values():
            pool.shutdown()
    expected = [fingerprint.__wrapped__(x) for x in arguments]
    assert outcomes == dict.fromkeys(pools, (expected, expected))
