"""Waiting in the main thread so that a Ctrl-C is seen at once.

CPython runs a signal's Python handler (the one that raises
:class:`KeyboardInterrupt`) only when the main thread runs Python code. A
main thread blocked on a lock wakes for a signal only if the signal reaches
it while it blocks: one that comes just before (in the few instructions
between its last look and the block, or while another thread takes the
signal) is seen only when the wait ends, which may be never. So the main
thread waits in slices of :data:`WAKE_EVERY` seconds, and a Ctrl-C takes
effect within one. Other threads, which no signal interrupts, wait in one go.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ._outstanding import Outstanding

T = TypeVar("T")

#: How often (in seconds) a waiting main thread wakes up to look for a Ctrl-C.
WAKE_EVERY = 0.1

Futures = set[concurrent.futures.Future[T]]


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _next_slice(deadline: float | None) -> tuple[float, bool]:
    """How long to block now, and whether that reaches *deadline*."""
    if deadline is None:
        return WAKE_EVERY, False
    remaining = max(0.0, deadline - time.monotonic())
    return min(remaining, WAKE_EVERY), remaining <= WAKE_EVERY


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def wait(
    futures: Sequence[concurrent.futures.Future[T]], timeout: float | None, return_when: str
) -> tuple[Futures[T], Futures[T]]:
    """:func:`concurrent.futures.wait`, in slices in the main thread."""
    if not _in_main_thread():
        done, not_done = concurrent.futures.wait(futures, timeout, return_when)
        return done, not_done
    deadline = _deadline(timeout)
    while True:
        seconds, last = _next_slice(deadline)
        done, not_done = concurrent.futures.wait(futures, seconds, return_when)
        if last or _enough(done, not_done, return_when):
            return done, not_done


def _enough(done: Futures[Any], not_done: Futures[Any], return_when: str) -> bool:
    if not not_done:
        return True
    if return_when == concurrent.futures.FIRST_COMPLETED:
        return bool(done)
    if return_when == concurrent.futures.FIRST_EXCEPTION:
        return any(not f.cancelled() and f._exception is not None for f in done)
    return False


def as_completed(
    futures: Iterable[concurrent.futures.Future[T]], timeout: float | None
) -> Iterator[concurrent.futures.Future[T]]:
    """:func:`concurrent.futures.as_completed`, in slices in the main thread."""
    if not _in_main_thread():
        yield from concurrent.futures.as_completed(futures, timeout)
        return
    deadline = _deadline(timeout)
    pending = set(futures)
    total = len(pending)
    while pending:
        seconds, last = _next_slice(deadline)
        try:
            for future in concurrent.futures.as_completed(pending, seconds):
                pending.discard(future)
                yield future
        except concurrent.futures.TimeoutError:
            if last:
                raise concurrent.futures.TimeoutError(
                    f"{len(pending)} (of {total}) futures unfinished"
                ) from None


def wait_gone(outstanding: Outstanding, futures: list[Any], deadline: float | None) -> bool:
    """:meth:`Outstanding.wait_gone`, in slices in the main thread."""
    if not _in_main_thread():
        return outstanding.wait_gone(futures, deadline)
    while True:
        seconds, last = _next_slice(deadline)
        if outstanding.wait_gone(futures, time.monotonic() + seconds):
            return True
        if last:
            return False
