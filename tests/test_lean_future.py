"""Futures cost the garbage collector less: a lean condition, the stdlib's behaviour."""

from __future__ import annotations

import concurrent.futures
import sys
import threading
from typing import Callable

import pytest
from support import wait_until

import background
from background._compat import LeanCondition, future_initializer

TIMEOUT = 30


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="layout checked on 3.9 to 3.13 only")
def test_futures_take_the_lean_condition_on_the_pythons_whose_layout_is_known() -> None:
    future: background.Future[int] = background.Future()
    assert type(future._condition) is LeanCondition
    assert set(vars(future._condition)) == {"_lock", "_waiters"}  # no bound methods
    assert set(vars(future)) == set(vars(concurrent.futures.Future()))
    assert future._state == concurrent.futures.Future()._state


def test_a_future_whose_layout_is_unknown_is_initialized_the_standard_way() -> None:
    class Changed(concurrent.futures.Future[int]):
        def __init__(self) -> None:
            super().__init__()
            self._something_new = True

    assert future_initializer(Changed) is Changed.__init__


@pytest.mark.parametrize("make", [LeanCondition, lambda: threading.Condition(threading.RLock())])
def test_the_lean_condition_waits_notifies_and_times_out_as_the_standard_one(
    make: Callable[[], threading.Condition],
) -> None:
    condition = make()
    with pytest.raises(RuntimeError, match="un-acquired lock"):
        condition.notify()
    with condition, condition:  # reentrant
        assert condition.wait(0.01) is False
    woken: list[bool] = []

    def waiter() -> None:
        with condition:
            woken.append(condition.wait(TIMEOUT))

    thread = threading.Thread(target=waiter)
    thread.start()
    assert wait_until(lambda: len(condition._waiters))  # type: ignore[attr-defined]
    with condition:
        condition.notify_all()
    thread.join(TIMEOUT)
    assert woken == [True]
    assert condition.acquire(False)
    condition.release()
    with pytest.raises(RuntimeError):
        condition.release()


def test_wait_and_as_completed_lock_many_lean_futures_at_once() -> None:
    futures: list[background.Future[int]] = [background.Future() for _ in range(5)]

    def settle() -> None:
        for i, future in enumerate(futures):
            future.set_result(i)

    threading.Timer(0.01, settle).start()
    done, not_done = concurrent.futures.wait(futures, TIMEOUT)
    assert (len(done), not_done) == (5, set())
    assert sorted(f.result() for f in concurrent.futures.as_completed(futures)) == list(range(5))
