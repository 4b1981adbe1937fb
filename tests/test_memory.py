"""Finished work is never kept: dropped futures, and dropped pools once shut down, free memory."""

from __future__ import annotations

import concurrent.futures
import gc
import threading
import tracemalloc
import weakref
from typing import Callable

import pytest

import background

TASKS = 200_000
TIMEOUT = 30


def _noop() -> None:
    return None


def _growth(submit_all: Callable[[], None]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        submit_all()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def _live_futures() -> int:
    gc.collect()
    return sum(isinstance(o, concurrent.futures.Future) for o in gc.get_objects())


def test_dropped_futures_are_freed_like_a_bare_thread_pool_does() -> None:
    background.n = 4
    pool = background.default_pool()
    bare = concurrent.futures.ThreadPoolExecutor(4)
    background.run(_noop).result()
    bare.submit(_noop).result()

    def through_bare() -> None:
        last = None
        for _ in range(TASKS // 10):
            last = bare.submit(_noop)
        assert last is not None
        last.result()
        concurrent.futures.wait([bare.submit(_noop)])

    def through_background() -> None:
        for _ in range(TASKS // 10):
            _noop_task()
        background.wait()

    _noop_task = background.task(_noop)
    through_bare()  # warm up: threads, caches and a coverage tracer's data
    through_background()
    baseline = _growth(through_bare)
    ours = _growth(through_background)
    bare.shutdown()
    assert ours <= baseline + 256 * 1024, (ours, baseline)
    assert pool.outstanding() == []


def test_two_hundred_thousand_dropped_futures_leave_nothing_behind() -> None:
    background.n = 4
    task = background.task(_noop)
    before = _live_futures()
    for _ in range(TASKS):
        task()
    background.wait()
    assert background.default_pool().outstanding() == []
    assert _live_futures() - before < 50


@pytest.mark.parametrize("process", [False, True], ids=["threads", "processes"])
def test_a_pool_shut_down_and_dropped_is_freed_without_the_garbage_collector(
    process: bool,
) -> None:
    # A reference cycle would keep the pool, its runner and their threads until
    # the collector runs, which a program may have turned off.
    pool = background.Pool(2, process=process)
    assert pool.submit(abs, -1).result(TIMEOUT) == 1
    pool.shutdown(wait=True)
    for thread in threading.enumerate():
        if thread.name.startswith(f"{pool.name}-"):
            thread.join(TIMEOUT)
            assert not thread.is_alive(), thread
    freed = [weakref.ref(pool), weakref.ref(pool._runner)]
    gc.disable()
    try:
        del pool
        assert [ref() for ref in freed] == [None, None]
    finally:
        gc.enable()
