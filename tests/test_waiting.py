"""wait, as_completed and results: no spinning, order, first failure, progress."""

from __future__ import annotations

import concurrent.futures
import sys
import threading
import time

import pytest
from support import wait_until, worker_threads

import background
from background import _interruptible

TIMEOUT = 30


def test_wait_without_arguments_waits_for_every_outstanding_task() -> None:
    release = threading.Event()
    futures = [background.run(release.wait, TIMEOUT) for _ in range(4)]
    threading.Timer(0.05, release.set).start()
    done, not_done = background.wait()
    assert set(futures) <= done
    assert not not_done
    assert all(f.result(0) is True for f in futures)


def test_wait_with_nothing_outstanding_returns_at_once() -> None:
    assert background.wait() == (set(), set())


def test_wait_times_out_and_reports_what_is_not_done() -> None:
    release = threading.Event()
    slow = background.run(release.wait, TIMEOUT)
    quick = background.run(abs, -2)
    quick.result(TIMEOUT)
    done, not_done = background.wait([slow, quick], timeout=0.05)
    assert done == {quick}
    assert not_done == {slow}
    release.set()


def test_wait_first_completed() -> None:
    release = threading.Event()
    slow = background.run(release.wait, TIMEOUT)
    quick = background.run(abs, -2)
    done, _ = background.wait(
        [slow, quick], timeout=TIMEOUT, return_when=concurrent.futures.FIRST_COMPLETED
    )
    assert quick in done
    release.set()


def test_waiting_sleeps_instead_of_spinning() -> None:
    future = background.run(time.sleep, 0.5)
    cpu_before = time.process_time()
    background.wait([future], timeout=TIMEOUT)
    background.results([background.run(time.sleep, 0.3)], timeout=TIMEOUT)
    assert time.process_time() - cpu_before < 0.25  # a busy loop burns ~0.8 s


def test_as_completed_yields_the_first_finished_first() -> None:
    release = threading.Event()
    slow = background.run(release.wait, TIMEOUT)
    quick = background.run(abs, -3)
    order = background.as_completed([slow, quick], timeout=TIMEOUT)
    assert next(order) is quick
    release.set()
    assert next(order) is slow


def test_as_completed_timeout() -> None:
    release = threading.Event()
    slow = background.run(release.wait, TIMEOUT)
    with pytest.raises(concurrent.futures.TimeoutError):
        list(background.as_completed([slow], timeout=0.05))
    release.set()


def test_results_come_in_submission_order() -> None:
    def later(x: int) -> int:
        time.sleep(0.01 * (5 - x))
        return x

    futures = [background.run(later, i) for i in range(5)]
    assert background.results(futures, timeout=TIMEOUT) == [0, 1, 2, 3, 4]


def test_results_raise_the_first_failure_at_once_with_its_own_traceback() -> None:
    release = threading.Event()

    def broken() -> None:
        raise LookupError("missing")

    slow = background.run(release.wait, TIMEOUT)
    failing = background.run(broken)
    started = time.monotonic()
    with pytest.raises(LookupError, match="missing") as caught:
        background.results([slow, failing], timeout=TIMEOUT)
    assert time.monotonic() - started < TIMEOUT / 2  # did not wait for the slow one
    assert "broken" in [entry.name for entry in caught.traceback]
    release.set()


def test_results_timeout() -> None:
    release = threading.Event()
    with pytest.raises(concurrent.futures.TimeoutError, match="1 of 1 tasks not done"):
        background.results([background.run(release.wait, TIMEOUT)], timeout=0.05)
    release.set()


def test_results_with_return_exceptions_puts_each_failure_in_its_place() -> None:
    release = threading.Event()

    def fails(text: str) -> None:
        raise LookupError(text)

    slow = background.run(release.wait, TIMEOUT)
    futures = [background.run(abs, -1), background.run(fails, "second"), slow]
    futures.append(background.run(fails, "fourth"))
    assert background.wait(futures[1:2], timeout=TIMEOUT).done  # one has failed already
    collected: list[list[object]] = []
    waiter = threading.Thread(
        target=lambda: collected.append(
            background.results(futures, timeout=TIMEOUT, return_exceptions=True)
        )
    )
    waiter.start()
    release.set()  # the slow one's result below proves that the failures did not end the wait
    waiter.join(TIMEOUT)
    (outcomes,) = collected
    assert outcomes[0] == 1
    assert outcomes[2] is True
    assert [type(o) for o in (outcomes[1], outcomes[3])] == [LookupError, LookupError]
    assert [str(o) for o in (outcomes[1], outcomes[3])] == ["second", "fourth"]
    assert outcomes[1] is futures[1].exception()  # the task's own, traceback and all
    assert outcomes[1].__traceback__ is not None  # type: ignore[union-attr]


def test_results_with_return_exceptions_gives_a_cancelled_error_for_a_cancelled_task() -> None:
    release = threading.Event()
    with background.Pool(1) as pool:
        busy = pool.submit(release.wait, TIMEOUT)
        queued = pool.submit(abs, -2)
        assert queued.cancel()
        after = pool.submit(abs, -3)
        release.set()
        outcomes = background.results([busy, queued, after], return_exceptions=True)
    assert outcomes[0] is True
    assert outcomes[2] == 3
    assert isinstance(outcomes[1], concurrent.futures.CancelledError)
    with pytest.raises(concurrent.futures.CancelledError):  # without: it raises
        background.results([queued])


def test_results_with_return_exceptions_counts_the_exceptions_as_retrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import gc
    import logging

    def broken() -> None:
        raise OSError("disk full")

    with caplog.at_level(logging.ERROR, logger="background"):
        futures = [background.run(broken) for _ in range(3)]
        outcomes = background.results(futures, timeout=TIMEOUT, return_exceptions=True)
        assert [type(o) for o in outcomes] == [OSError] * 3
        del futures, outcomes
        gc.collect()
    assert "never retrieved" not in caplog.text


def test_results_with_return_exceptions_still_times_out() -> None:
    release = threading.Event()
    futures = [background.run(abs, -1), background.run(release.wait, TIMEOUT)]
    with pytest.raises(concurrent.futures.TimeoutError, match="1 of 2 tasks not done"):
        background.results(futures, timeout=0.05, return_exceptions=True)
    release.set()


def test_results_with_return_exceptions_takes_any_future() -> None:
    plain: concurrent.futures.Future[int] = concurrent.futures.Future()
    plain.set_exception(KeyError("k"))
    with concurrent.futures.ThreadPoolExecutor(1) as executor:
        other = executor.submit(pow, 2, 5)
        outcomes = background.results([plain, other], return_exceptions=True)
    assert isinstance(outcomes[0], KeyError)
    assert outcomes[1] == 32


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_results_refuses_a_return_exceptions_that_is_not_a_bool(bad: object) -> None:
    with pytest.raises(TypeError, match="return_exceptions must be True or False"):
        background.results([], return_exceptions=bad)  # type: ignore[call-overload]


@pytest.mark.parametrize("helper", [background.wait, background.results, background.as_completed])
def test_waiting_helpers_refuse_things_that_are_not_futures(helper: object) -> None:
    with pytest.raises(TypeError, match=r"expected futures, got 3 \(int\)"):
        list(helper([3]))  # type: ignore[operator]
    future = background.run(abs, 1)
    with pytest.raises(TypeError, match="single Future"):
        helper(future)  # type: ignore[operator]


@pytest.mark.parametrize("bad", [-1, float("nan"), "soon"])
def test_waiting_helpers_refuse_bad_timeouts(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="timeout"):
        background.wait([], timeout=bad)  # type: ignore[arg-type]


def test_wait_refuses_an_unknown_return_when() -> None:
    with pytest.raises(ValueError, match="return_when"):
        background.wait([], return_when="SOMETIME")


def test_progress_bar_counts_every_finished_task(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm", reason="tqdm is the optional 'progress' extra")
    futures = [background.run(abs, -i) for i in range(7)]
    assert background.results(futures, progress={"desc": "squares"}) == list(range(7))
    background.wait(futures, progress=True)
    assert list(background.as_completed(futures, progress=True))
    err = capsys.readouterr().err
    assert "squares" in err
    assert "7/7" in err


def test_progress_without_tqdm_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match=r"pip install 'background\[progress\]'"):
        background.wait([background.run(abs, 1)], progress=True)


def test_keyboard_interrupt_while_waiting_cancels_the_tasks_not_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    background.n = 1
    release = threading.Event()
    started = threading.Event()
    running = background.run(lambda: started.set() or release.wait(TIMEOUT))
    assert started.wait(TIMEOUT)  # it holds the only worker: the next three stay queued
    queued = [background.run(abs, -i) for i in range(3)]

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_interruptible, "wait", interrupted)  # where a wait blocks
    with pytest.raises(KeyboardInterrupt):
        background.wait([running, *queued])
    assert all(f.cancelled() for f in queued)
    release.set()
    assert running.result(TIMEOUT) is True


def test_a_task_may_wait_for_tasks_it_submits_even_on_a_full_pool() -> None:
    with background.Pool(1) as pool:

        @pool.task
        def child(x: int) -> int:
            return x + 1

        @pool.task
        def parent(x: int) -> list[int]:
            direct = child(x).result()  # waits inside the only worker
            helped = background.results([child(x), child(x + 1)])
            return [direct, *helped]

        assert parent(1).result(TIMEOUT) == [2, 2, 3]
        assert worker_threads(pool) <= 2


def test_waiting_for_everything_from_inside_a_default_pool_task_is_refused() -> None:
    @background.task
    def waits_for_all() -> None:
        background.wait(timeout=TIMEOUT)

    with pytest.raises(RuntimeError, match="would wait for that task itself"):
        waits_for_all().result(TIMEOUT)
    with background.Pool(1) as other:  # another pool's task may wait for the default pool
        assert other.submit(background.results).result(TIMEOUT) == []


def test_wait_is_safe_while_other_threads_create_pools(monkeypatch: pytest.MonkeyPatch) -> None:
    import weakref

    from background import _exit

    class Changing(weakref.WeakSet):  # type: ignore[type-arg]
        """Fails its first iteration, as when another thread adds a pool meanwhile."""

        failed = False

        def __iter__(self):  # type: ignore[no-untyped-def]
            if not Changing.failed:
                Changing.failed = True
                raise RuntimeError("Set changed size during iteration")
            return super().__iter__()

    pools = Changing(_exit._pools)
    monkeypatch.setattr(_exit, "_pools", pools)
    future = background.run(abs, -1)
    assert background.wait([future], timeout=TIMEOUT) == ({future}, set())
    assert Changing.failed


def test_setting_a_result_wakes_every_kind_of_waiter_and_refuses_a_second_outcome() -> None:
    """background's Future.set_result skips the wake-up when nobody waits: check
    that a thread blocked in result(), a concurrent.futures.wait() and a
    done-callback each still hear of it, and that the standard library's
    InvalidStateError rules hold."""
    future: background.Future[int] = background.Future()
    got: list[object] = []
    blocked = threading.Thread(target=lambda: got.append(future.result(TIMEOUT)))
    blocked.start()
    waited = threading.Thread(
        target=lambda: got.append(len(concurrent.futures.wait([future], TIMEOUT).done))
    )
    waited.start()
    future.add_done_callback(lambda f: got.append(("callback", f.result())))
    # Both threads are waiting on the future's condition, or registered with it.
    assert wait_until(lambda: future._condition._waiters and future._waiters)  # type: ignore[attr-defined]
    future.set_result(7)
    blocked.join(TIMEOUT)
    waited.join(TIMEOUT)
    assert sorted(map(str, got)) == sorted(map(str, [7, 1, ("callback", 7)]))
    with pytest.raises(concurrent.futures.InvalidStateError, match="FINISHED"):
        future.set_result(8)
    cancelled: background.Future[int] = background.Future()
    assert cancelled.cancel()
    with pytest.raises(concurrent.futures.InvalidStateError, match="CANCELLED"):
        cancelled.set_result(1)
    assert future.result() == 7
