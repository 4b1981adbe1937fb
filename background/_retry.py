"""Re-running a failed call before its future fails."""

from __future__ import annotations

import logging
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

logger = logging.getLogger("background")


class Retrying:
    """Calls *fn*; on one of *retry_on*, waits and calls it again, *retries* times.

    The wait starts at *backoff* seconds and doubles after each failure. It is
    a plain picklable object, so retries happen inside whichever worker runs
    the call: a thread, a process or a cluster node.
    """

    __slots__ = ("__wrapped__", "backoff", "retries", "retry_on")

    def __init__(
        self,
        fn: Callable[..., Any],
        retries: int,
        retry_on: tuple[type[BaseException], ...],
        backoff: float,
    ) -> None:
        self.__wrapped__ = fn
        self.retries = retries
        self.retry_on = retry_on
        self.backoff = backoff

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        delay = self.backoff
        for attempt in range(1, self.retries + 1):
            try:
                return self.__wrapped__(*args, **kwargs)
            except self.retry_on as error:
                logger.info(
                    "retrying %s after attempt %d of %d failed: %r",
                    getattr(self.__wrapped__, "__qualname__", self.__wrapped__),
                    attempt,
                    self.retries + 1,
                    error,
                )
                if delay:
                    time.sleep(delay)
                    delay *= 2
        return self.__wrapped__(*args, **kwargs)
