"""Stopping what runs in worker processes, replacing leaky workers, idle workers, nesting."""

from __future__ import annotations

import collections
import concurrent.futures
import os
import time
from pathlib import Path
from typing import Any

import pytest
import test_processes_helpers as helpers
from support import process_gone, wait_until, worker_threads

import background

WAIT = 60
METHODS = ["fork", "spawn", "forkserver"]

pytestmark = [
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]


def _started(path: Path) -> list[int]:
    assert wait_until(lambda: path.exists() and path.read_text() != "")
    return [int(pid) for pid in path.read_text().split()]


@pytest.mark.parametrize("method", METHODS)
def test_cancelling_a_running_call_stops_its_worker_and_children_and_the_pool_goes_on(
    method: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pids"
    with background.Pool(1, process=True, start_method=method) as pool:
        future = pool.submit(helpers.spawn_child_and_wait, str(marker), 60)
        worker, child = _started(marker)
        assert future.running()
        started = time.monotonic()
        assert future.cancel()
        assert future.cancelled()
        assert future.done()
        with pytest.raises(concurrent.futures.CancelledError):
            future.result(0)
        assert wait_until(lambda: process_gone(worker) and process_gone(child), 2)
        assert time.monotonic() - started < 2
        assert pool.submit(helpers.square, 6).result(WAIT) == 36  # a new worker


@pytest.mark.parametrize("method", METHODS)
def test_kill_stops_a_pool_with_long_calls_running_within_two_seconds(
    method: str, tmp_path: Path
) -> None:
    markers = [tmp_path / f"pids{i}" for i in range(2)]
    pool = background.Pool(2, process=True, start_method=method)
    running = [pool.submit(helpers.spawn_child_and_wait, str(m), 60) for m in markers]
    queued = [pool.submit(helpers.square, i) for i in range(5)]
    pids = [pid for marker in markers for pid in _started(marker)]
    started = time.monotonic()
    pool.kill()
    assert time.monotonic() - started < 2
    assert all(f.cancelled() for f in running + queued)
    assert wait_until(lambda: all(process_gone(pid) for pid in pids), 2)
    assert pool.closed
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(helpers.square, 1)


@pytest.mark.parametrize("method", METHODS)
def test_a_worker_over_its_memory_limit_is_replaced_after_its_call(method: str) -> None:
    with background.Pool(
        1, process=True, start_method=method, max_memory_per_worker=200 << 20
    ) as pool:
        first = pool.submit(helpers.grow_memory, 1).result(WAIT)
        assert pool.submit(helpers.pid).result(WAIT) == first  # under the limit: kept
        leaky = pool.submit(helpers.grow_memory, 300).result(WAIT)
        assert leaky == first
        assert pool.submit(helpers.pid).result(WAIT) != leaky  # replaced
        assert wait_until(lambda: process_gone(leaky), 5)


@pytest.mark.parametrize("method", METHODS)
def test_idle_workers_retire_and_come_back_on_demand(method: str) -> None:
    with background.Pool(2, process=True, start_method=method, idle_timeout=0.2) as pool:
        pids = {f.result(WAIT) for f in [pool.submit(helpers.slow_pid, 0.1) for _ in range(4)]}
        assert wait_until(lambda: worker_threads(pool) == 0, 10)
        assert all(wait_until(lambda pid=pid: process_gone(pid), 5) for pid in pids)
        again = pool.submit(helpers.pid).result(WAIT)
        assert again not in pids


def test_idle_thread_workers_retire_and_come_back_on_demand() -> None:
    import threading

    with background.Pool(3, idle_timeout=0.2) as pool:
        squares = [pool.submit(pow, i, 2) for i in range(6)]
        assert [f.result(WAIT) for f in squares] == [0, 1, 4, 9, 16, 25]
        assert wait_until(lambda: worker_threads(pool) == 0, 10)
        assert pool.submit(abs, -4).result(WAIT) == 4
        # Back to full size: three calls that each wait for the other two all end.
        together = threading.Barrier(3, timeout=WAIT)
        waits = [pool.submit(together.wait) for _ in range(3)]
        assert sorted(f.result(WAIT) for f in waits) == [0, 1, 2]


@pytest.mark.parametrize("method", METHODS)
def test_a_process_task_can_use_process_and_thread_pools_of_its_own(method: str) -> None:
    with background.Pool(1, process=True, start_method=method) as pool:
        results, elsewhere, in_threads, non_daemonic = pool.submit(
            helpers.use_nested_pools, method
        ).result(WAIT)
    assert results == [0, 1, 4, 9]
    assert elsewhere
    assert in_threads
    assert non_daemonic


def _blocked_waiters(future: concurrent.futures.Future[Any], count: int) -> bool:
    """``True`` once *count* waiters (wait(), as_completed()) are installed on *future*."""
    return wait_until(lambda: len(future._waiters) >= count)  # type: ignore[attr-defined]


def test_cancelling_a_running_call_tells_waiters_and_callbacks_once_as_the_stdlib_does(
    tmp_path: Path,
) -> None:
    import threading

    marker = tmp_path / "pid"
    with background.Pool(1, process=True) as pool:
        future = pool.submit(helpers.write_pid_and_sleep, str(marker), 60)
        assert wait_until(lambda: marker.exists() and marker.read_text() != "")
        calls: list[concurrent.futures.Future[Any]] = []
        future.add_done_callback(calls.append)
        seen: dict[str, Any] = {}

        def wait_for_it() -> None:
            seen["wait"] = concurrent.futures.wait([future], WAIT)

        def iterate() -> None:
            seen["as_completed"] = list(concurrent.futures.as_completed([future], WAIT))

        threads = [threading.Thread(target=wait_for_it), threading.Thread(target=iterate)]
        for thread in threads:
            thread.start()
        assert _blocked_waiters(future, 2)
        assert future.cancel() is True
        assert calls == [future]
        for thread in threads:
            thread.join(WAIT)
        assert seen["wait"].done == {future}
        assert seen["as_completed"] == [future]
        assert future.cancel() is True  # cancelled already: True again, nothing more
        assert calls == [future]
        with pytest.raises(concurrent.futures.CancelledError):
            future.exception(0)
        assert pool.outstanding() == []
        done = pool.submit(helpers.square, 3)
        assert done.result(WAIT) == 9
        assert done.cancel() is False  # finished: too late


def test_cancels_racing_the_ends_of_calls_settle_each_future_once() -> None:
    with background.Pool(2, process=True) as pool:
        futures = [pool.submit(helpers.slow_pid, 0.02) for _ in range(30)]
        callbacks: collections.Counter[int] = collections.Counter()
        for future in futures:
            future.add_done_callback(lambda f: callbacks.update([id(f)]))
        outcomes = []
        for future in futures:
            assert wait_until(lambda future=future: future.running() or future.done())
            outcomes.append(future.cancel())
        concurrent.futures.wait(futures, WAIT)
        for future, cancelled in zip(futures, outcomes):
            assert future.cancelled() is cancelled
            if not cancelled:
                assert isinstance(future.result(0), int)
            assert callbacks[id(future)] == 1
        assert pool.submit(helpers.square, 5).result(WAIT) == 25


def test_a_timed_out_call_stops_the_processes_its_worker_started(tmp_path: Path) -> None:
    marker = tmp_path / "pids"
    with background.Pool(1, process=True, timeout=1) as pool:
        future = pool.submit(helpers.spawn_child_and_wait, str(marker), 60)
        worker, child = _started(marker)
        with pytest.raises(concurrent.futures.TimeoutError):
            future.result(WAIT)
        assert wait_until(lambda: process_gone(worker) and process_gone(child), 2)
        assert pool.submit(helpers.square, 4).result(WAIT) == 16


def test_kill_tells_waiters_and_callbacks_of_running_and_queued_calls(tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    pool = background.Pool(1, process=True)
    running = pool.submit(helpers.write_pid_and_sleep, str(marker), 60)
    queued = [pool.submit(helpers.square, i) for i in range(3)]
    assert wait_until(lambda: marker.exists() and marker.read_text() != "")
    calls: list[concurrent.futures.Future[Any]] = []
    for future in [running, *queued]:
        future.add_done_callback(calls.append)
    pool.kill()
    assert sorted(map(id, calls)) == sorted(map(id, [running, *queued]))
    assert not concurrent.futures.wait([running, *queued], 0).not_done
    assert pool.outstanding() == []
    pool.kill()  # again: nothing left to do
    pool.shutdown()


def test_a_process_call_never_sees_a_cancel_request() -> None:
    with background.Pool(1, process=True) as pool:
        assert pool.submit(helpers.cancelled_here).result(WAIT) is False


def test_the_memory_limit_needs_process_true_and_a_number_of_bytes() -> None:
    with pytest.raises(ValueError, match="max_memory_per_worker applies to worker processes"):
        background.Pool(max_memory_per_worker=1 << 30)
    with pytest.raises(TypeError, match=r"max_memory_per_worker must be a number of bytes.*'1G'"):
        background.Pool(process=True, max_memory_per_worker="1G")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="max_memory_per_worker must be a number of bytes"):
        background.Pool(process=True, max_memory_per_worker=True)
    with pytest.raises(ValueError, match="max_memory_per_worker must be at least 1 byte, got 0"):
        background.Pool(process=True, max_memory_per_worker=0)


KILLING_SCRIPT = """
import time

import background

pool = background.Pool(2, process=True)
futures = [pool.submit(time.sleep, 60) for _ in range(4)]
while sum(f.running() for f in futures) < 2:
    time.sleep(0.01)
pool.kill()

threads = background.Pool(1)


def until_asked_to_stop():
    while not background.cancelled():
        time.sleep(0.01)
    return "stopped"


running = threads.submit(until_asked_to_stop)
while not running.running():
    time.sleep(0.01)
threads.kill()
print("cancelled", sum(f.cancelled() for f in futures), running.result())
"""


def test_a_script_that_kills_its_pools_exits_without_waiting_for_their_calls(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    script = tmp_path / "example.py"
    script.write_text(KILLING_SCRIPT)
    environment = dict(os.environ, PYTHONPATH=str(Path(background.__file__).parent.parent))
    ran = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=50,  # the calls sleep 60 s: the exit did not wait for them
    )
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "cancelled 4 stopped\n", "")
