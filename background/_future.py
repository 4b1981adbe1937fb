"""The Future that every background task returns.

It is a plain :class:`concurrent.futures.Future` with three additions: it can be
awaited, it reports an exception that nobody retrieved, and waiting on it from
inside a worker lends the pool an extra worker so nested tasks cannot deadlock.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import weakref
from collections.abc import Generator
from typing import Any, Callable, Protocol, TypeVar

T = TypeVar("T")

_FINISHED = concurrent.futures._base.FINISHED

logger = logging.getLogger("background")

#: Failed futures whose exception nobody has looked at yet; reported at exit.
_unretrieved: weakref.WeakSet[Future[Any]] = weakref.WeakSet()

#: Set by worker threads: a context manager factory that frees the worker's slot
#: while it blocks on another future.
_worker = threading.local()


class Future(concurrent.futures.Future[T]):
    """A :class:`concurrent.futures.Future` returned by every background task.

    Use it as any other future (``result()``, ``exception()``, ``done()``,
    ``add_done_callback()``, :func:`concurrent.futures.wait`), and also:

    * ``await`` it from a coroutine;
    * rely on it to log an exception that nobody retrieved, with the task's
      name and traceback, on the ``"background"`` logger;
    * call ``result()`` on it from inside another task: the waiting worker's
      place is lent to the pool meanwhile, so nested tasks never deadlock.
    """

    _log_exception = False
    _task_name = "task"

    def set_exception(self, exception: BaseException | None) -> None:
        """Store the task's exception (called by the pool, not by users)."""
        self._log_exception = True
        super().set_exception(exception)
        _unretrieved.add(self)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Return the task's exception, or ``None`` if it succeeded."""
        with _lend_worker(self):
            exception = super().exception(timeout)
        self._log_exception = False
        return exception

    def result(self, timeout: float | None = None) -> T:
        """Return the task's result, or raise its exception."""
        # Fast path for a future that succeeded: a finished future never changes
        # again, so no lock is needed (this halves the cost of collecting results).
        if self._state == _FINISHED and self._exception is None:
            return self._result  # type: ignore[return-value]
        try:
            with _lend_worker(self):
                return super().result(timeout)
        finally:
            if self.done():
                self._log_exception = False

    def __await__(self) -> Generator[Any, None, T]:
        import asyncio

        return asyncio.wrap_future(self).__await__()

    def __del__(self) -> None:
        if self._log_exception:
            report_unretrieved(self)

    def _retrieved(self) -> None:
        self._log_exception = False


def report_unretrieved(future: Future[Any]) -> None:
    """Log *future*'s exception once, as nobody retrieved it."""
    if not future._log_exception:
        return
    future._log_exception = False
    exception = future._exception
    if exception is None:  # pragma: no cover - only set together with the flag
        return
    try:
        logger.error(
            "Task exception was never retrieved: %s raised %s",
            future._task_name,
            type(exception).__name__,
            exc_info=exception,
        )
    except Exception:  # pragma: no cover - logging torn down at interpreter exit
        pass


def report_all_unretrieved() -> None:
    """Log every failed future still alive whose exception nobody retrieved."""
    for future in list(_unretrieved):
        report_unretrieved(future)


class _NoLoan:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LOAN = _NoLoan()


class Waitable(Protocol):
    """Anything with a ``done()`` method: a future, or a group of them."""

    def done(self) -> bool: ...


def _lend_worker(future: Waitable) -> Any:
    """While a worker thread blocks on an unfinished *future*, lend its place."""
    if future.done():
        return _NO_LOAN
    lend: Callable[[], Any] | None = getattr(_worker, "lend", None)
    return _NO_LOAN if lend is None else lend()
