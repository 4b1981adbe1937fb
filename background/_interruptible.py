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
from concurrent.futures import _base

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: the exit wait stays light
    from collections.abc import Iterable, Iterator
    from typing import Any, Callable, TypeVar

    from ._outstanding import Outstanding

    T = TypeVar("T")

#: How often (in seconds) a waiting main thread wakes up to look for a Ctrl-C.
WAKE_EVERY = 0.1

_FINISHED_STATES = (_base.CANCELLED_AND_NOTIFIED, _base.FINISHED)
# The standard library's own waiting machinery: private, but the same in every
# Python from 3.8 on.
_install_waiters: Callable[..., Any] = _base._create_and_install_waiters  # type: ignore[attr-defined]
_yield_finished: Callable[..., Iterator[Any]] = _base._yield_finished_futures  # type: ignore[attr-defined]
_AS_COMPLETED: str = _base._AS_COMPLETED  # type: ignore[attr-defined]

if TYPE_CHECKING:
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
    futures: Iterable[concurrent.futures.Future[T]], timeout: float | None, return_when: str
) -> tuple[Futures[T], Futures[T]]:
    """:func:`concurrent.futures.wait`, in slices in the main thread.

    As the standard function does, it installs one waiter on every future
    and removes it at the end: a slice costs no work per future.
    """
    if not _in_main_thread():
        done, not_done = concurrent.futures.wait(futures, timeout, return_when)
        return done, not_done
    deadline = _deadline(timeout)
    fs = set(futures)
    with _base._AcquireFutures(fs):
        done = {f for f in fs if f._state in _FINISHED_STATES}
        if len(done) == len(fs) or _enough(done, fs - done, return_when):
            return done, fs - done
        waiter = _install_waiters(fs, return_when)
    try:
        while True:
            seconds, last = _next_slice(deadline)
            if waiter.event.wait(seconds) or last:
                break
    finally:
        for f in fs:
            with f._condition:
                f._waiters.remove(waiter)
    done.update(waiter.finished_futures)
    return done, fs - done


def _enough(done: Futures[Any], not_done: Futures[Any], return_when: str) -> bool:
    if not not_done:
        return True
    if return_when == concurrent.futures.FIRST_COMPLETED:
        return bool(done)
    if return_when == concurrent.futures.FIRST_EXCEPTION:
        # The exception itself, not exception(): that would mark it retrieved.
        return any(not f.cancelled() and f._exception is not None for f in done)
    return False


def as_completed(
    futures: Iterable[concurrent.futures.Future[T]], timeout: float | None
) -> Iterator[concurrent.futures.Future[T]]:
    """:func:`concurrent.futures.as_completed`, in slices in the main thread.

    The standard function's algorithm (one waiter on every future, the
    finished ones yielded in the order they finished), slicing its waits.
    """
    if not _in_main_thread():
        yield from concurrent.futures.as_completed(futures, timeout)
        return
    deadline = _deadline(timeout)
    fs = set(futures)
    total = len(fs)
    with _base._AcquireFutures(fs):
        finished = [f for f in fs if f._state in _FINISHED_STATES]
        pending = fs - set(finished)
        waiter = _install_waiters(fs, _AS_COMPLETED)
    try:
        yield from _yield_finished(finished, waiter, ref_collect=(fs,))
        while pending:
            seconds, last = _next_slice(deadline)
            if not waiter.event.wait(seconds):
                if last:
                    raise concurrent.futures.TimeoutError(
                        f"{len(pending)} (of {total}) futures unfinished"
                    )
                continue
            with waiter.lock:
                finished = waiter.finished_futures
                waiter.finished_futures = []
                waiter.event.clear()
            finished.reverse()  # to yield them in the order they finished
            yield from _yield_finished(finished, waiter, ref_collect=(fs, pending))
    finally:
        for f in fs:
            with f._condition:
                f._waiters.remove(waiter)


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
