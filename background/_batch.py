"""A map's batch: several calls of one function sent to a worker as one call.

Workers of a process pool unpickle :class:`Batch` by reference, so this
module imports nothing that a worker does not already have.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


class Failed:
    """In a batch's results, the place of a call that raised (``return_exceptions``)."""

    __slots__ = ("error", "text")

    def __init__(self, error: BaseException, text: str | None) -> None:
        self.error = error
        #: The traceback, formatted in the worker process (``None`` in a thread).
        self.text = text

    def __reduce__(self) -> tuple[type[Failed], tuple[BaseException, str | None]]:
        return Failed, (self.error, self.text)


class Batch:
    """Calls a function on each argument tuple of a batch, where a worker runs it.

    Returns ``(seconds, results, error, traceback)``: what ran before a call
    raised is kept, and the time taken sizes the next batches. With
    *keep_going*, a call that raises an :class:`Exception` takes its place in
    the results as a :class:`Failed` and the batch goes on.
    """

    __slots__ = ("__weakref__", "fn", "keep_going", "remote")

    def __init__(self, fn: Callable[..., Any], keep_going: bool = False) -> None:
        self.fn = fn
        self.keep_going = keep_going
        #: Set once unpickled in a worker process: errors travel back as text too.
        self.remote = False

    def __getstate__(self) -> tuple[Callable[..., Any], bool]:
        return self.fn, self.keep_going

    def __setstate__(self, state: tuple[Callable[..., Any], bool]) -> None:
        self.fn, self.keep_going = state
        self.remote = True

    def __call__(
        self, items: list[tuple[Any, ...]], start: int = 0
    ) -> tuple[float, list[Any], BaseException | None, str | None]:
        """Run the batch (input items *start* onwards, as error messages count them)."""
        fn = self.fn
        results: list[Any] = []
        append = results.append
        started = time.perf_counter()
        for args in items:
            try:
                append(fn(*args))
            except BaseException as error:
                if self.keep_going and isinstance(error, Exception):
                    append(Failed(*self._sendable(error)))
                    continue
                seconds = time.perf_counter() - started
                return (seconds, results, *self._sendable(error))
        return time.perf_counter() - started, results, None, None

    def _sendable(self, error: BaseException) -> tuple[BaseException, str | None]:
        if not self.remote:
            return error, None
        from ._processes import worker

        text = worker.format_traceback(error)
        return worker.sendable(error, worker.callable_name(self.fn)), text

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        return self.fn


class BatchSizer:
    """Grows batches while calls are quick, to about :attr:`TARGET` seconds each."""

    TARGET = 0.02
    LARGEST = 10_000
    GROWTH = 8

    def __init__(self, fixed: int | None) -> None:
        self.size = fixed or 1
        self.fixed = fixed is not None

    def record(self, count: int, seconds: float) -> None:
        """*count* calls took *seconds*: size the next batches."""
        if self.fixed or count == 0:
            return
        per_call = seconds / count
        ideal = self.LARGEST if per_call <= 0 else int(self.TARGET / per_call)
        self.size = max(1, min(ideal, self.size * self.GROWTH, self.LARGEST))
