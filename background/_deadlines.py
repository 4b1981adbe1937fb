"""Per-call time limits for calls that cannot be killed (threads, foreign executors).

One daemon thread, started on first use, keeps a heap of deadlines. When one
passes and its call has not finished, the call's future fails with
:class:`concurrent.futures.TimeoutError`; the call itself goes on running,
since a thread cannot be stopped from outside.

Failing a future runs its done-callbacks, which may take their time (or wait
for other tasks): that happens in settler threads (:mod:`._settlers`), never
in the deadline thread, so that one slow callback cannot hold up every other
timeout.
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
    from typing import Any, Protocol

    from ._future import Future

    class Job(Protocol):
        """A call with a time limit, as :mod:`background._job` makes them."""

        future: Future[Any]

        @property
        def name(self) -> str: ...

        def expire(self, error: BaseException) -> None: ...


_condition = threading.Condition()
_heap: list[tuple[float, int, list[Any]]] = []
_order = itertools.count()
_thread: threading.Thread | None = None


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
            error = FuturesTimeoutError(
                f"{job.name} did not finish within its timeout of {seconds:g} s "
                "(it may still be running: a thread cannot be stopped)"
            )
            # Failing the future runs its callbacks: never here, where they
            # would hold up every other time limit.
            _settlers.hand_over(functools.partial(job.expire, error))
            del job, error
        del fired


def _forget_in_child() -> None:
    global _condition, _thread
    _condition = threading.Condition()
    _heap.clear()
    _thread = None


after_fork_in_child(_forget_in_child)
