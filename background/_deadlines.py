"""Background's one timer: per-call time limits, and retries that wait.

One daemon thread, started on first use, keeps a heap of deadlines. When the
time limit of a call that cannot be killed (in a thread, on a foreign
executor) passes and the call has not finished, its future fails with
:class:`concurrent.futures.TimeoutError`; the call itself goes on running,
since a thread cannot be stopped from outside. When the wait of a retry is
over (see :mod:`background._retry`), the call is handed back to its pool.

Failing a future runs its done-callbacks, which may take their time (or wait
for other tasks), and handing a call to a pool may pickle it: that happens in
settler threads, never in the timer thread, so that one slow callback cannot
hold up every other timeout. A settler that finds no work for a while ends; a
new one starts whenever all are busy.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from concurrent.futures import TimeoutError as FuturesTimeoutError

from ._compat import after_fork_in_child, daemon_thread, start_daemon_thread

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Protocol

    from ._future import Future

    class Job(Protocol):
        """A call with a time limit, as :mod:`background._job` makes them."""

        future: Future[Any]
        attempt: int

        @property
        def name(self) -> str: ...

        def expire(self, error: BaseException, attempt: int) -> None: ...


#: How long an idle settler thread waits for more work before it ends.
SETTLER_IDLE_SECONDS = 2.0

_condition = threading.Condition()
_heap: list[tuple[float, int, list[Any]]] = []
_order = itertools.count()
_thread: threading.Thread | None = None

_settling = threading.Condition()
_expired: deque[list[Any]] = deque()
_idle_settlers = 0


def arm(job: Job, seconds: float) -> None:
    """Fail *job*'s future with TimeoutError if its attempt is not done in *seconds*."""
    entry = call_later(seconds, _expire, job, seconds, job.attempt)
    job.future.add_done_callback(lambda _: entry.clear())  # drop the job at once


def call_later(seconds: float, fn: Callable[..., object], *args: Any) -> list[Any]:
    """Call ``fn(*args)`` in a settler thread in *seconds*.

    Returns the timer's entry: clearing it (``entry.clear()``) cancels the
    call and drops its references at once.
    """
    global _thread
    entry: list[Any] = [fn, *args]
    with _condition:
        heapq.heappush(_heap, (time.monotonic() + seconds, next(_order), entry))
        if _thread is None:
            _thread = daemon_thread(_watch, "background-deadlines")
            _thread.start()
        _condition.notify()
    return entry


def _expire(job: Job, seconds: float, attempt: int) -> None:
    job.expire(
        FuturesTimeoutError(
            f"{job.name} did not finish within its timeout of {seconds:g} s "
            "(it may still be running: a thread cannot be stopped)"
        ),
        attempt,
    )


def _watch() -> None:
    while True:
        with _condition:
            while True:
                now = time.monotonic()
                if _heap and _heap[0][0] <= now:
                    _, _, entry = heapq.heappop(_heap)
                    if entry:
                        break
                    continue
                _condition.wait(None if not _heap else _heap[0][0] - now)
        fired = list(entry)  # a done-callback may clear it meanwhile
        del entry
        if fired:
            _hand_over(fired)
        del fired


def _hand_over(call: list[Any]) -> None:
    """Have a settler thread make *call* (a function, its arguments); start one if all are busy."""
    with _settling:
        _expired.append(call)
        if _idle_settlers >= len(_expired):
            _settling.notify()
            return
    if not start_daemon_thread(_settle, "background-timeouts"):
        _settle_all_now()  # no thread can start (the interpreter is exiting): here, then


def _settle() -> None:
    global _idle_settlers
    while True:
        with _settling:
            if not _expired:
                _idle_settlers += 1
                try:
                    _settling.wait(SETTLER_IDLE_SECONDS)
                finally:
                    _idle_settlers -= 1
                if not _expired:
                    return
            call = _expired.popleft()
        call[0](*call[1:])
        del call


def _settle_all_now() -> None:
    while True:
        with _settling:
            if not _expired:
                return
            call = _expired.popleft()
        call[0](*call[1:])


def _forget_in_child() -> None:
    global _condition, _thread, _settling, _idle_settlers
    _condition = threading.Condition()
    _heap.clear()
    _thread = None
    _settling = threading.Condition()
    _expired.clear()
    _idle_settlers = 0


after_fork_in_child(_forget_in_child)
