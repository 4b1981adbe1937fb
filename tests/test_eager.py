"""background.eager(): the testing mode that runs every call at once, in the caller."""

from __future__ import annotations

import concurrent.futures
import contextvars
import os
import pickle
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from support import POOL_KINDS, pool_of_kind

import background
from background import _eager

TIMEOUT = 30
KINDS = POOL_KINDS

REQUEST: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST", default="unset")


def where() -> tuple[int, int, str]:
    """Where a call runs: its process, its thread, and a context variable it sees."""
    return os.getpid(), threading.get_ident(), REQUEST.get()


def where_with(_: object) -> tuple[int, int, str]:
    return where()


def append_and_return(items: list[int]) -> list[int]:
    items.append(len(items))
    return items


def returns_a_lock() -> Any:
    return threading.Lock()


def fails(text: str) -> None:
    raise LookupError(text)


def make_pool(kind: str) -> background.Pool:
    return pool_of_kind(kind, 2, f"eager-{kind}")


@pytest.fixture(params=KINDS)
def pool(request: pytest.FixtureRequest) -> Iterator[background.Pool]:
    made = make_pool(request.param)
    try:
        yield made
    finally:
        made.shutdown(wait=True, cancel_futures=True)


def test_with_eager_every_call_runs_in_the_caller_and_is_done_when_it_returns(
    pool: background.Pool,
) -> None:
    here = (os.getpid(), threading.get_ident())
    with background.eager():
        future = pool.submit(where)
        assert future.done()
        assert future.result()[:2] == here
        assert list(pool.map(abs, [-1, -2, 3])) == [1, 2, 3]
        assert {w[:2] for w in pool.map(where_with, range(20), chunksize=4)} == {here}
    assert pool._runner.threads == 0  # no worker thread or process was started
    after = pool.submit(where).result(TIMEOUT)
    assert after[:2] != here  # the mode ended with the block


def test_a_task_in_eager_mode_runs_at_once_with_its_callbacks() -> None:
    seen: list[str] = []

    @background.callback
    def everywhere(future: background.Future[Any]) -> None:
        seen.append(f"global {future.result()}")

    @background.task(callback=lambda f: seen.append(f"own {f.result()}"))
    def double(x: int) -> int:
        seen.append("ran")
        return 2 * x

    with background.eager():
        future = double(21)
        assert seen == ["ran", "global 42", "own 42"]  # all before the call returned
    assert future.result() == 42
    background.remove_callback(everywhere)


def test_eager_is_a_switch_too_and_restores_what_it_replaced() -> None:
    assert not _eager.on
    mode = background.eager()
    assert _eager.on
    assert isinstance(mode, _eager.EagerMode)
    assert background.run(threading.get_ident).result() == threading.get_ident()
    with background.eager(False):
        assert not _eager.on
        with background.eager():
            assert _eager.on
        assert not _eager.on
    assert _eager.on
    background.eager(False)
    assert not _eager.on
    worker = background.run(threading.get_ident).result(TIMEOUT)
    assert worker != threading.get_ident()


def test_a_switch_made_while_a_block_is_open_outlasts_the_block() -> None:
    switched = threading.Event()
    with background.eager(False):
        other = threading.Thread(target=lambda: (background.eager(True), switched.set()))
        other.start()
        assert switched.wait(TIMEOUT)
        assert not _eager.on  # the open block decides while it lasts
    assert _eager.on  # then the switch does
    with background.eager(False):
        assert not _eager.on
    assert _eager.on


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_eager_takes_only_a_bool(bad: object) -> None:
    with pytest.raises(TypeError, match=r"background.eager\(\) takes True or False"):
        background.eager(bad)  # type: ignore[arg-type]
    assert not _eager.on


def test_eager_mode_is_process_wide_and_safe_to_switch_from_many_threads() -> None:
    background.eager()
    submitted: list[int] = []
    caller = threading.Thread(target=lambda: submitted.append(background.run(where).result()[1]))
    caller.start()
    caller.join(TIMEOUT)
    assert submitted == [caller.ident]  # another thread's call ran in that thread
    background.eager(False)

    start = threading.Barrier(8)

    def toggle() -> None:
        start.wait(TIMEOUT)
        for _ in range(500):
            with background.eager():
                background.run(abs, -1)

    threads = [threading.Thread(target=toggle) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not _eager.on  # every block put back what it found; the first found "off"


def test_a_failing_call_fails_its_future_with_its_own_traceback(pool: background.Pool) -> None:
    with background.eager():
        future = pool.submit(fails, "missing")  # does not raise here
    assert future.done()
    with pytest.raises(LookupError, match="missing") as caught:
        future.result()
    if pool.process:  # the traceback from "inside the worker", as without eager
        assert "in fails\n    raise LookupError(text)" in str(caught.value.__cause__)
    else:
        assert "fails" in [entry.name for entry in caught.traceback]


def test_retries_happen_at_once_without_their_wait() -> None:
    attempts: list[int] = []

    @background.task(retries=3, backoff=3600, retry_on=ConnectionError)
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError(f"failure {len(attempts)}")
        return len(attempts)

    with background.eager():
        future = flaky()  # an hour's wait would time the test out
        assert future.result() == 3
        attempts.clear()
        failing = background.task(retries=2, backoff=3600)(fails)("always")
        assert isinstance(failing.exception(), LookupError)
        attempts.clear()
        items = background.task(retries=3, backoff=3600)(lambda x: flaky.__wrapped__() + x)
        assert list(items.map([10], timeout=TIMEOUT)) == [13]  # map's retries too


def test_retries_in_eager_mode_on_a_process_pool(tmp_path: Any) -> None:
    from test_retries import attempts_in, logged_attempt

    path = str(tmp_path / "attempts")
    with make_pool("processes") as pool, background.eager():
        assert pool.task(retries=4, backoff=3600)(logged_attempt)(path, 3).result() == 4
    assert attempts_in(path) == 4


def test_a_call_over_its_timeout_runs_to_its_end_and_its_future_fails() -> None:
    expired = threading.Event()
    finished: list[str] = []

    @background.task(timeout=0.05, callback=lambda future: expired.set())
    def slow() -> str:
        assert expired.wait(TIMEOUT)  # until its time limit has failed the future
        finished.append("done")
        return "late"

    with background.eager():
        future = slow()
    assert finished == ["done"]  # it could not be stopped: it ran to its end
    with pytest.raises(concurrent.futures.TimeoutError, match="did not finish within"):
        future.result()


def test_a_process_pool_in_eager_mode_pickles_the_call_both_ways() -> None:
    with make_pool("processes") as pool, background.eager():
        with pytest.raises(pickle.PicklingError, match=r"argument 0 .* cannot be pickled"):
            pool.submit(abs, threading.Lock())  # raised at the call, as without eager
        result = pool.submit(returns_a_lock)
        assert isinstance(result.exception(), pickle.PicklingError)
        items = [7]
        assert pool.submit(append_and_return, items).result() == [7, 1]
        assert items == [7]  # the call had a copy, as a worker process would
        token = REQUEST.set("test")
        try:
            assert pool.submit(where).result()[2] == "unset"  # contextvars do not travel
        finally:
            REQUEST.reset(token)


def test_threads_in_eager_mode_see_the_callers_contextvars() -> None:
    token = REQUEST.set("test")
    try:
        with background.eager():
            assert background.run(where).result()[2] == "test"
    finally:
        REQUEST.reset(token)


def test_results_and_wait_in_eager_mode() -> None:
    with background.eager():
        futures = [background.run(int, text) for text in ["1", "x", "3"]]
        outcomes = background.results(futures, return_exceptions=True)
        assert outcomes[0] == 1
        assert outcomes[2] == 3
        assert isinstance(outcomes[1], ValueError)
        assert background.wait() == (set(), set())  # nothing outstanding: all done


def test_nested_calls_and_max_pending_do_not_deadlock_in_eager_mode() -> None:
    @background.task(max_pending=1)
    def parent(x: int) -> int:
        return child(x).result() + 1

    @background.task(max_pending=1)
    def child(x: int) -> int:
        return parent(x - 1).result() if x > 0 else 0

    with background.eager():
        assert parent(3).result() == 4


def test_a_closed_pool_still_refuses_calls_in_eager_mode() -> None:
    closed = background.Pool(1)
    closed.shutdown()
    with background.eager(), pytest.raises(RuntimeError, match="is shut down"):
        closed.submit(abs, -1)


def test_ctrl_c_in_an_eager_call_reaches_the_caller() -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    with background.eager(), pytest.raises(KeyboardInterrupt):
        background.run(interrupted)
