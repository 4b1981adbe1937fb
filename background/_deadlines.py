"""Per-call time limits for calls that cannot be killed (threads, foreign executors).

One daemon thread, started on first use, keeps a heap of deadlines. When one
passes and its call has not finished, the call's future fails with
:class:`concurrent.futures.TimeoutError`; the call itself goes on running,
since a thread cannot be stopped from outside.

Failing a future runs its done-callbacks, which may take their time (or wait
for other tasks): that happens in settler threads, never in the deadline
thread, so that one slow callback cannot hold up every other timeout. A
settler that finds no work for a while ends; a new one starts whenever all
are busy.
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
    from typing import Any, Protocol

    from ._future import Future

    class Job(Protocol):
        """A call with a time limit, as :mod:`background._job` makes them."""

        future: Future[Any]

        @property
        def name(self) -> str: ...

        def expire(self, error: BaseException) -> None: ...


#: How long an idle settler thread waits for more work before it ends.
SETTLER_IDLE_SECONDS = 2.0

_condition = threading.Condition()
_heap: list[tuple[float, int, list[Any]]] = []
_order = itertools.count()
_thread: threading.Thread | None = None

_settling = threading.Condition()
_expired: deque[tuple[Job, BaseException]] = deque()
_idle_settlers = 0


def arm(job: Job, seconds: float) -> None:
    """Fail *job*'s future with TimeoutError if it is not done in *seconds*."""
    global _thread
    entry: list[Any] = [job, seconds]
    job.future.add_done_callback(lambda _: entry.clear())  # drop the job at once
    with _condition:
        heapq.heappush(_heap, (time.monotonic() + seconds, next(_order), entry))
        if _thread is None:
            _thread = daemon_thread(_watch, "background-deadlines")
            _thread.start()
        _condition.notify()


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
        if len(fired) == 2:
            job, seconds = fired
            _hand_over(
                job,
                FuturesTimeoutError(
                    f"{job.name} did not finish within its timeout of {seconds:g} s "
                    "(it may still be running: a thread cannot be stopped)"
                ),
            )
            del job
        del fired


def _hand_over(job: Job, error: BaseException) -> None:
    """Have a settler thread fail *job*'s future; start one if all are busy."""
    with _settling:
        _expired.append((job, error))
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
            job, error = _expired.popleft()
        job.expire(error)
        del job, error


def _settle_all_now() -> None:
    while True:
        with _settling:
            if not _expired:
                return
            job, error = _expired.popleft()
        job.expire(error)


def _forget_in_child() -> None:
    global _condition, _thread, _settling, _idle_settlers
    _condition = threading.Condition()
    _heap.clear()
    _thread = None
    _settling = threading.Condition()
    _expired.clear()
    _idle_settlers = 0


after_fork_in_child(_forget_in_child)
