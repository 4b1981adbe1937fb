"""Re-running a failed call before its future fails.

A task's call that fails with one of its ``retry_on`` exceptions is submitted
again after a wait: :class:`Retries` puts its future back to pending and has
the shared timer thread of :mod:`._deadlines` hand the call back to its pool
once the wait is over, so no worker is held meanwhile. :class:`Retrying` does
the same inside the worker, sleeping between attempts, for the calls that
travel as one function (``Task.map``, a task handed to a process pool).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures._base import PENDING, RUNNING

from ._diagnostics import task_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from ._job import Job
    from ._pool import Pool

logger = logging.getLogger("background")

#: Waits stop doubling after this many attempts (2**64 s is forever enough).
_MAX_DOUBLINGS = 64


class RetryPolicy:
    """How a task retries: which failures, how many times, how long to wait.

    The wait before retry *k* (1 for the first) is ``backoff * 2 ** (k - 1)``
    plus a random number of seconds up to *jitter*, and at most *backoff_max*,
    as in stamina. No attempt starts more than *retry_timeout* seconds after
    the call was made. A plain picklable object.
    """

    __slots__ = ("backoff", "backoff_max", "jitter", "retries", "retry_on", "retry_timeout")

    def __init__(
        self,
        retries: int,
        retry_on: tuple[type[BaseException], ...],
        backoff: float,
        backoff_max: float | None = None,
        jitter: float = 0.0,
        retry_timeout: float | None = None,
    ) -> None:
        self.retries = retries
        self.retry_on = retry_on
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.jitter = jitter
        self.retry_timeout = retry_timeout

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, state):
            setattr(self, name, value)

    def wait(self, failed: int) -> float:
        """Seconds to wait after attempt number *failed* before the next one."""
        seconds = self.backoff * 2.0 ** min(failed - 1, _MAX_DOUBLINGS)
        if self.jitter:
            import random  # only when jitter is asked for: random is slow to import

            seconds += random.uniform(0.0, self.jitter)
        if self.backoff_max is not None:
            seconds = min(seconds, self.backoff_max)
        return seconds

    def next_wait(
        self,
        name: str,
        error: BaseException,
        failed: int,
        deadline: float | None,
        eager: bool = False,
    ) -> float | None:
        """The wait before retrying *name* after attempt *failed* raised *error*.

        ``None``: no retry (not a ``retry_on`` exception, no retries left, or
        no time left).

        Logs a retry, or one given up for lack of time, at ``INFO`` level.
        """
        if failed > self.retries or not isinstance(error, self.retry_on):
            return None
        seconds = 0.0 if eager else self.wait(failed)
        if deadline is not None and time.monotonic() + seconds > deadline:
            logger.info(
                "not retrying %s after attempt %d failed: the next attempt would start after "
                "its retry_timeout of %g s: %r",
                name,
                failed,
                self.retry_timeout,
                error,
            )
            return None
        logger.info(
            "retrying %s in %.3g s after attempt %d of %d failed: %r",
            name,
            seconds,
            failed,
            self.retries + 1,
            error,
        )
        return seconds

    def deadline(self) -> float | None:
        """When, on the monotonic clock, the last attempt must have started by."""
        return None if self.retry_timeout is None else time.monotonic() + self.retry_timeout


class Retrying:
    """Calls *fn*; on a failure that *policy* retries, sleeps and calls it again.

    For calls that travel as one function (``Task.map``, a task handed to a
    process pool): the retries happen inside whichever worker runs the call,
    holding it while they wait. In eager mode they do not wait. A plain
    picklable object.
    """

    __slots__ = ("__wrapped__", "policy")

    def __init__(self, fn: Callable[..., Any], policy: RetryPolicy) -> None:
        self.__wrapped__ = fn
        self.policy = policy

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from . import _eager

        policy = self.policy
        deadline = policy.deadline()
        failed = 0
        while True:
            try:
                return self.__wrapped__(*args, **kwargs)
            except policy.retry_on as error:
                failed += 1
                name = task_name(self.__wrapped__)
                seconds = policy.next_wait(name, error, failed, deadline, _eager.on)
                if seconds is None:
                    raise
                if seconds:
                    time.sleep(seconds)


class Retries:
    """The retries of one submitted call: its future stays the one Future throughout.

    When an attempt fails with a retried exception, the future goes back to
    pending (it can be cancelled while it waits, which ends the call) and the
    call is handed back to its pool once the wait is over. No worker is held
    meanwhile. In eager mode the next attempt runs at once, in the caller.
    """

    __slots__ = (
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

    def __init__(self, policy: RetryPolicy, pool: Pool, eager: bool) -> None:
        self.policy = policy
        self.pool = pool
        self.eager = eager
        self.deadline = policy.deadline()
        #: The call, until it ends (set by the pool).
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
        if failed == 0 or future._state != RUNNING or self.pool._stopped:
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

        self.timer = _deadlines.call_later(seconds, self._start_again)
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
        self.pool._start_again(job)

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
        self.pool._forget_retries(self)
