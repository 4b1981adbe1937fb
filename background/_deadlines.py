"""Background's one timer: per-call time limits, and retries that wait.

One daemon thread, started on first use, keeps a heap of deadlines. When the
time limit of a call that cannot be killed (in a thread, on a foreign
executor) passes and the call has not finished, its future fails with
:class:`concurrent.futures.TimeoutError`; the call itself goes on running,
since a thread cannot be stopped from outside. When the wait of a retry is
over (see :mod:`background._retries`), the call is handed back to its pool.

Failing a future runs its done-callbacks, which may take their time (or wait
for other tasks), and handing a call back to a pool may pickle it: that
happens in settler threads (:mod:`._settlers`), never in the timer thread,
so that one slow callback cannot hold up every other timeout.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
import time
from concurrent.futures import TimeoutError as FuturesTimeoutError

from . import _settlers
from ._compat import after_fork_in_child, daemon_thread

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


_condition = threading.Condition()
_heap: list[tuple[float, int, list[Any]]] = []
_order = itertools.count()
_thread: threading.Thread | None = None


def arm(job: Job, seconds: float) -> None:
    """Fail *job*'s future with TimeoutError if its attempt is not done in *seconds*."""
    entry = call_later(seconds, _expire, job, seconds, job.attempt)
    job.future.add_done_callback(lambda _: entry.clear())  # drop the job at once


def call_later(seconds: float, fn: Callable[..., object], *args: Any) -> list[Any]:
    """Call ``fn(*args)`` in a settler thread in *seconds*.

    Returns the timer's entry: clearing it (``entry.clear()``) cancels the
    call and drops its references at once. Raises :class:`RuntimeError` if
    the timer thread is not running and cannot start (the interpreter is
    shutting down, as Python 3.12.0 and 3.12.1 refuse new threads once the
    main thread has ended, or the process is out of threads).
    """
    global _thread
    entry: list[Any] = [fn, *args]
    with _condition:
        if _thread is None:
            thread = daemon_thread(_watch, "background-deadlines")
            thread.start()  # may raise: nothing is pushed then
            _thread = thread
        heapq.heappush(_heap, (time.monotonic() + seconds, next(_order), entry))
        _condition.notify()
    return entry


def _expire(job: Job, seconds: float, attempt: int) -> None:
    error = FuturesTimeoutError(
        f"{job.name} did not finish within its timeout of {seconds:g} s "
        "(it may still be running: a thread cannot be stopped)"
    )
    job.expire(error, attempt)


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
            # Failing a future runs its callbacks: never here, where they
            # would hold up every other time limit.
            _settlers.hand_over(functools.partial(fired[0], *fired[1:]))
        del fired


def _forget_in_child() -> None:
    global _condition, _thread
    _condition = threading.Condition()
    _heap.clear()
    _thread = None


after_fork_in_child(_forget_in_child)
