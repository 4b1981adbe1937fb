"""Process pools and the pool machinery they share with thread pools (issue 12).

A dropped process pool runs its queued calls, then stops its workers; its map
keeps no result it yielded; its done-callbacks, which run on the pool's
manager thread, may submit to a pool at its ``max_pending`` without stalling
the manager.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import threading
import time
import weakref

import pytest
import test_processes_helpers as helpers

import background

TIMEOUT = 60

pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)


def _workers_named(prefix: str) -> list[str]:
    return [p.name for p in multiprocessing.active_children() if p.name.startswith(prefix)]


def test_a_dropped_process_pool_runs_its_queued_calls_then_stops_its_workers() -> None:
    pool = background.Pool(2, process=True, name="dropped-procs")
    futures = [pool.submit(helpers.square, i) for i in range(8)]
    del pool
    gc.collect()
    assert background.results(futures, timeout=TIMEOUT) == [i * i for i in range(8)]
    deadline = time.monotonic() + TIMEOUT
    while (_workers_named("dropped-procs-") or _manager_alive()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _workers_named("dropped-procs-") == []
    assert not _manager_alive()


def _manager_alive() -> bool:
    return any(t.name == "dropped-procs-manager" for t in threading.enumerate())


def test_a_process_map_keeps_no_reference_to_a_result_it_yielded() -> None:
    # logging.makeLogRecord is importable by the workers and returns an object
    # that a weak reference can watch.
    with background.Pool(2, process=True) as pool:
        kept = 0
        records = pool.map(logging.makeLogRecord, [{"msg": i} for i in range(10)])
        for record in records:
            ref = weakref.ref(record)
            del record
            gc.collect()
            kept += ref() is not None
    assert kept == 0


def test_a_process_pool_callback_may_submit_to_its_pool_at_its_max_pending() -> None:
    pool = background.Pool(1, process=True, max_pending=1)
    follow_ups: list[background.Future[int]] = []
    submitted = threading.Event()

    def follow_up(future: background.Future[int]) -> None:  # on the manager thread
        follow_ups.append(pool.submit(helpers.square, future.result()))
        submitted.set()

    try:
        square = pool.task(callback=follow_up)(helpers.square)
        assert square(3).result(TIMEOUT) == 9
        assert submitted.wait(TIMEOUT)  # without the fix: the manager waits for ever
        assert follow_ups[0].result(TIMEOUT) == 81
    finally:
        pool.shutdown(wait=False)
