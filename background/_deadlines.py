"""Per-call time limits for calls that cannot be killed (threads, foreign executors).

One daemon thread, started on first use, keeps a heap of deadlines. When one
passes and its call has not finished, the call's future fails with
:class:`concurrent.futures.TimeoutError`; the call itself goes on running,
since a thread cannot be stopped from outside.
"""

from __future__ import annotations

import heapq
import itertools
import os
import threading
import time
from concurrent.futures import TimeoutError as FuturesTimeoutError
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._job import Job

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
            _thread = threading.Thread(target=_watch, name="background-deadlines", daemon=True)
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
        if len(fired) == 2:
            job, seconds = fired
            job.expire(
                FuturesTimeoutError(
                    f"{job.name} did not finish within its timeout of {seconds:g} s "
                    "(it may still be running: a thread cannot be stopped)"
                )
            )


def _forget_in_child() -> None:
    global _condition, _thread
    _condition = threading.Condition()
    _heap.clear()
    _thread = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
