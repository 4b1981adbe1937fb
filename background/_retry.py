"""How a task retries (:class:`RetryPolicy`), and retries inside a worker (:class:`Retrying`).

A task's own calls retry from the pool without holding a worker (see
:mod:`background._retries`); :class:`Retrying` sleeps between attempts inside
the worker, for the calls that travel as one function (``Task.map``).
"""

from __future__ import annotations

import time

from ._diagnostics import logger, task_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

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

    For calls that travel as one function (the calls of a map): the retries
    happen inside whichever worker runs the call, holding it while they wait.
    In eager mode they do not wait. A plain picklable object.
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
