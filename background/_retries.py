"""The retries of one call: submitted again after each wait, holding no worker.

A task's call that fails with one of its ``retry_on`` exceptions goes back to
pending, and the shared timer of :mod:`background._deadlines` hands it back to
its pool once the wait is over.
"""

from __future__ import annotations

import time
from concurrent.futures._base import PENDING, RUNNING

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    from ._future import Future
    from ._retry import RetryPolicy

    class Job(Protocol):
        """A call with retries, as :mod:`background._job` makes them."""

        future: Future[Any]
        attempt: int

        @property
        def name(self) -> str: ...

        def release(self) -> None: ...

    class Book(Protocol):
        """What retries need of their pool's book of them (see :mod:`background._launch`)."""

        stopped: bool

        def start_again(self, pool: Any, job: Any) -> None: ...

        def discard(self, retries: Retries) -> None: ...


class Retries:
    """The retries of one submitted call: its future stays the one Future throughout.

    When an attempt fails with a retried exception, the future goes back to
    pending (it can be cancelled while it waits, which ends the call) and the
    call is handed back to its pool once the wait is over. No worker is held
    meanwhile. In eager mode the next attempt runs at once, in the caller.
    """

    __slots__ = (
        "book",
        "deadline",
        "due",
        "eager",
        "job",
        "policy",
        "pool",
        "timer",
        "waiting",
        "watching",
    )

    def __init__(self, policy: RetryPolicy, pool: object, book: Book, eager: bool) -> None:
        self.policy = policy
        #: The pool that runs the call, kept alive (and running) until the call ends.
        self.pool = pool
        self.book = book
        self.eager = eager
        self.deadline = policy.deadline()
        #: The call, until it ends.
        self.job: Job | None = None
        #: Between an attempt's failure and the hand-over of its retry.
        self.waiting = False
        #: Eager mode: the caller must run the call again now.
        self.due = False
        #: Whether :meth:`_settled` is one of the future's done-callbacks.
        self.watching = False
        #: The timer's entry for the retry being waited for (clear it to cancel).
        self.timer: list[Any] = []

    def again(self, job: Job, error: BaseException) -> bool:
        """Arrange another attempt of *job*, which raised *error*; ``False`` if none is due."""
        future = job.future
        failed = job.attempt
        if failed == 0 or future._state != RUNNING or self.book.stopped:
            return False  # over its time limit, or its pool has stopped
        seconds = self.policy.next_wait(job.name, error, failed, self.deadline, self.eager)
        if seconds is None:
            return False
        with future._condition:
            if future._state != RUNNING or job.attempt != failed:
                return False
            future._state = PENDING  # waiting to run again: cancel() works meanwhile
            job.attempt += 1
            first, self.watching = not self.watching, True
            if self.eager:
                self.due = True
                return True
            self.waiting = True
        if first and not self.eager:
            future.add_done_callback(self._settled)
        from . import _deadlines

        try:
            self.timer = _deadlines.call_later(seconds, self._start_again)
        except RuntimeError:  # no timer thread can start: wait here, in the worker
            self.timer = []
            time.sleep(seconds)
            self._start_again()
        return True

    def _start_again(self) -> None:
        job = self.job
        if job is None:
            return
        future = job.future
        with future._condition:
            if not self.waiting or future._state != PENDING:
                return  # cancelled meanwhile: _settled has ended the call
            self.waiting = False
        self.book.start_again(self.pool, job)

    def _settled(self, future: Any) -> None:
        """The future is done: cancelled while waiting, the call ends here."""
        with future._condition:
            job = self.job if self.waiting else None
            self.waiting = False
        self.timer.clear()  # no retry: drop the timer's references now
        if job is not None and future.cancelled():
            future.set_running_or_notify_cancel()  # waiters count it done at once
            job.release()

    def cancel_wait(self) -> bool:
        """Cancel the call if it waits for its retry; ``True`` if it did."""
        job = self.job
        return bool(self.waiting and job is not None and job.future.cancel())

    def finished(self) -> None:
        """The call has ended: forget it."""
        self.job = None
        self.book.discard(self)
