"""Contextvars travel with each task; futures can be awaited from asyncio."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest
from support import worker_threads

import background

TIMEOUT = 30
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def test_contextvars_set_by_the_caller_are_seen_inside_the_task() -> None:
    @background.task
    def current() -> str:
        return request_id.get()

    token = request_id.set("req-42")
    try:
        future = current()
    finally:
        request_id.reset(token)
    assert future.result(TIMEOUT) == "req-42"
    assert current().result(TIMEOUT) == "none"


def test_each_task_sees_the_context_of_its_own_call() -> None:
    background.n = 4
    barrier = threading.Barrier(4, timeout=TIMEOUT)

    @background.task
    def current() -> str:
        barrier.wait()
        return request_id.get()

    futures = []
    for i in range(4):
        request_id.set(f"req-{i}")
        futures.append(current())
    request_id.set("none")
    assert background.results(futures, timeout=TIMEOUT) == [f"req-{i}" for i in range(4)]


def test_changes_made_inside_a_task_do_not_leak_back() -> None:
    @background.task
    def change() -> str:
        request_id.set("inside")
        return request_id.get()

    assert change().result(TIMEOUT) == "inside"
    assert request_id.get() == "none"


def test_a_future_can_be_awaited_from_a_coroutine() -> None:
    @background.task
    def slow_add(a: int, b: int) -> int:
        return a + b

    async def main() -> list[int]:
        first = await slow_add(1, 2)
        both = await asyncio.gather(slow_add(3, 4), asyncio.wrap_future(slow_add(5, 6)))
        return [first, *both]

    assert asyncio.run(main()) == [3, 7, 11]


def test_awaiting_a_failed_task_raises_its_exception() -> None:
    @background.task
    def broken() -> None:
        raise OSError("disk gone")

    async def main() -> None:
        await broken()

    with pytest.raises(OSError, match="disk gone"):
        asyncio.run(main())


def test_awaiting_does_not_block_the_event_loop() -> None:
    release = threading.Event()

    @background.task
    def wait_for_release() -> str:
        release.wait(TIMEOUT)
        return "released"

    async def main() -> str:
        pending = asyncio.ensure_future(wait_for_release())
        await asyncio.sleep(0.01)
        release.set()  # the loop kept running while the task was blocked
        return await pending

    assert asyncio.run(main()) == "released"


def test_awaiting_futures_inside_a_task_lends_the_worker_once() -> None:
    """An event loop run inside a task on a pool of one awaits that pool's tasks."""
    pool = background.Pool(1, name="awaiting")
    threads_seen: list[int] = []

    @pool.task
    def child(x: int) -> int:
        threads_seen.append(worker_threads(pool))
        return 2 * x

    @pool.task
    def parent() -> list[int]:
        async def main() -> list[int]:
            first = await child(0)
            rest = await asyncio.gather(*(child(i) for i in range(1, 6)))
            return [first, *rest]

        return asyncio.run(main())

    try:
        assert parent().result(TIMEOUT) == [0, 2, 4, 6, 8, 10]
        # Five awaits pending at once lend the parent's place once: one more thread.
        assert max(threads_seen) == 2
        assert pool._runner._lent == 0  # type: ignore[attr-defined]  # given back
    finally:
        pool.shutdown(wait=False)


def test_worker_threads_start_with_an_empty_context() -> None:
    """A worker does not see (nor keep alive) the context of the submitter that
    happened to start it: Python 3.14 lets threads inherit their starter's
    context, and free-threaded builds do by default."""
    seen: list[str] = []
    token = request_id.set("the submitter's")
    try:
        pool = background.Pool(1, initializer=lambda: seen.append(request_id.get()))
        assert pool.submit(request_id.get).result(TIMEOUT) == "the submitter's"  # the call's own
    finally:
        request_id.reset(token)
    assert seen == ["none"]  # the initializer runs in the thread's own context
    pool.shutdown()
