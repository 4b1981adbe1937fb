"""Global and per-task done-callbacks; one that raises is logged, never fatal."""

from __future__ import annotations

import logging
import threading

import pytest

import background

TIMEOUT = 30


def test_global_callback_gets_every_finished_future_of_tasks_and_runs() -> None:
    seen: list[object] = []
    lock = threading.Lock()

    @background.callback
    def remember(future: background.Future[object]) -> None:
        with lock:
            seen.append(future.result())

    @background.task
    def double(x: int) -> int:
        return 2 * x

    futures = [double(i) for i in range(5)] + [background.run(abs, -10)]
    background.wait(futures, timeout=TIMEOUT)
    assert sorted(seen) == [0, 2, 4, 6, 8, 10]  # type: ignore[type-var]


def test_callback_returns_the_function_and_can_be_removed() -> None:
    seen: list[object] = []

    def remember(future: background.Future[object]) -> None:
        seen.append(future.result())

    assert background.callback(remember) is remember
    background.run(abs, -1).result(TIMEOUT)
    background.wait(timeout=TIMEOUT)
    background.remove_callback(remember)
    background.run(abs, -2).result(TIMEOUT)
    background.wait(timeout=TIMEOUT)
    assert seen == [1]


def test_callback_added_to_an_already_finished_task_runs_at_once() -> None:
    future = background.run(abs, -4)
    future.result(TIMEOUT)
    seen: list[object] = []
    future.add_done_callback(lambda f: seen.append(f.result()))
    assert seen == [4]


def test_per_task_callbacks_run_in_order_after_global_ones() -> None:
    order: list[str] = []
    background.callback(lambda f: order.append("global"))

    @background.task(callback=[lambda f: order.append("first"), lambda f: order.append("second")])
    def work() -> None:
        return None

    background.wait([work()], timeout=TIMEOUT)
    assert order == ["global", "first", "second"]


def test_a_raising_callback_is_logged_with_its_traceback_and_stops_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    after: list[object] = []

    def broken(future: background.Future[object]) -> None:
        raise RuntimeError("callback bug")

    @background.task(callback=[broken, lambda f: after.append(f.result())])
    def work() -> int:
        return 7

    with caplog.at_level(logging.ERROR, logger="background"):
        background.wait([work()], timeout=TIMEOUT)
        assert work().result(TIMEOUT) == 7  # the pool still works
        background.wait(timeout=TIMEOUT)
    assert after == [7, 7]
    records = [r for r in caplog.records if "callback" in r.getMessage()]
    assert records, caplog.text
    assert "broken" in records[0].getMessage()
    assert "work" in records[0].getMessage()
    assert records[0].exc_info is not None
    assert "callback bug" in caplog.text


@pytest.mark.parametrize("bad", [3, "name", [print, None]])
def test_callbacks_must_be_callable(bad: object) -> None:
    with pytest.raises(TypeError, match="callback must be callable"):
        background.task(callback=bad)  # type: ignore[call-overload]


def test_global_callback_must_be_callable() -> None:
    with pytest.raises(TypeError, match=r"background.callback expects a callable, got 5 \(int\)"):
        background.callback(5)  # type: ignore[type-var]
