"""Global and per-task done-callbacks; one that raises is logged, never fatal."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time

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


# --- callbacks attached with add_done_callback ----------------------------------------


class Custom(BaseException):
    """A BaseException subclass of the user's own."""


@pytest.mark.parametrize(
    "error", [SystemExit(5), KeyboardInterrupt(), GeneratorExit(), Custom("own")], ids=repr
)
def test_a_callback_raising_systemexit_is_logged_and_the_worker_goes_on(
    error: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    pool = background.Pool(1, name="raw-callbacks")
    worker = pool.submit(threading.get_ident).result(TIMEOUT)
    release = threading.Event()
    first = pool.submit(release.wait, TIMEOUT)
    seen: list[object] = []

    def bad(future: object) -> None:
        raise error

    first.add_done_callback(bad)
    first.add_done_callback(lambda f: seen.append(f.result()))
    try:
        with caplog.at_level(logging.ERROR, logger="background"):
            release.set()
            assert background.wait([first], timeout=TIMEOUT).not_done == set()
        assert seen == [True]  # the next callback ran
        assert pool.outstanding() == []  # the pool's bookkeeping was not skipped
        assert pool.submit(threading.get_ident).result(TIMEOUT) == worker  # same worker
        [record] = [r for r in caplog.records if r.getMessage().startswith("callback")]
        assert "bad raised for <Future" in record.getMessage()
        assert record.exc_info is not None
        assert record.exc_info[1] is error
    finally:
        pool.shutdown(wait=False)


def test_a_raising_callback_added_to_a_finished_future_is_logged_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    future = background.run(abs, -1)
    future.result(TIMEOUT)
    seen: list[object] = []

    def leave(future: object) -> None:
        raise SystemExit(3)

    with caplog.at_level(logging.ERROR, logger="background"):
        future.add_done_callback(leave)  # runs at once, here: must not end this thread
        future.add_done_callback(lambda f: seen.append(f.result()))
    assert seen == [1]
    assert "callback" in caplog.text
    assert "SystemExit" in caplog.text


def test_ctrl_c_in_a_callback_run_by_the_main_thread_goes_on_up() -> None:
    future = background.run(abs, -1)
    future.result(TIMEOUT)

    def interrupted(future: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        future.add_done_callback(interrupted)


def test_add_done_callback_refuses_a_non_callable() -> None:
    future = background.run(abs, -1)
    with pytest.raises(TypeError, match=r"add_done_callback\(\) expects a callable, got 5"):
        future.add_done_callback(5)  # type: ignore[arg-type]


# --- callbacks that wait -------------------------------------------------------------


@pytest.mark.parametrize("how", ["results", "wait", "add_done_callback"])
def test_a_callback_may_wait_for_its_own_future(how: str) -> None:
    pool = background.Pool(1, name="self-waiting")
    got: list[object] = []
    finished = threading.Event()

    def callback(future: background.Future[int]) -> None:
        if how == "wait":
            got.append(len(background.wait([future], timeout=TIMEOUT).done))
        else:
            got.append(background.results([future], timeout=TIMEOUT))
        finished.set()

    try:
        if how == "add_done_callback":
            release = threading.Event()
            future = pool.submit(lambda: release.wait(TIMEOUT) and 3)
            future.add_done_callback(callback)
            release.set()
        else:
            pool.task(callback=callback)(abs)(-3)
        assert finished.wait(10)  # it would wait for its own end: for ever
        assert got == [1] if how == "wait" else got == [[3]]
    finally:
        pool.shutdown(wait=False)


def test_a_slow_callback_of_a_timed_out_call_delays_no_other_timeout() -> None:
    """Expired calls' callbacks run off the one thread that watches every deadline."""
    entered = threading.Event()
    unblock = threading.Event()
    release = threading.Event()

    def slow_callback(future: object) -> None:
        entered.set()
        unblock.wait(TIMEOUT)

    slow = background.Pool(1, name="slow-callback", timeout=0.05)
    other = background.Pool(1, name="other-timeout", timeout=0.05)
    try:
        slow.task(callback=slow_callback)(release.wait)(TIMEOUT)
        assert entered.wait(TIMEOUT)  # its timeout fired; its callback now blocks
        timed_out = other.submit(release.wait, TIMEOUT)
        error = timed_out.exception(timeout=10)  # without the fix: not in 10 s
        assert isinstance(error, concurrent.futures.TimeoutError)
        assert "did not finish within its timeout of 0.05 s" in str(error)
    finally:
        unblock.set()
        release.set()
        slow.shutdown(wait=False)
        other.shutdown(wait=False)


@pytest.mark.parametrize("ending", ["returns", "worker-dies", "times-out"])
def test_a_process_pools_callback_may_wait_for_another_call_of_that_pool(ending: str) -> None:
    """Callbacks run off the manager thread, which must go on to run the call waited for."""
    import test_processes_helpers as helpers

    got: list[object] = []
    finished = threading.Event()
    with background.Pool(1, process=True, name="waits-on-itself") as pool:

        def callback(future: background.Future[object]) -> None:
            got.append(pool.submit(abs, -5).result(TIMEOUT))
            finished.set()

        if ending == "returns":
            future = pool.submit(abs, -1)
        elif ending == "worker-dies":
            future = pool.submit(helpers.exit_now, 3)
        else:
            future = background.task(pool=pool, timeout=0.2)(time.sleep)(TIMEOUT)
        future.add_done_callback(callback)
        assert finished.wait(TIMEOUT)  # in the manager thread it would wait for ever
        assert got == [5]
