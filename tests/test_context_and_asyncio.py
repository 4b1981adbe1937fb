"""Contextvars travel with each task; futures can be awaited from asyncio."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

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
