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
    """Calls a function on each input item of a batch, where a worker runs it.

    With *spread*, each item is a tuple of arguments (a map over several
    iterables); else each item is the one argument (a map over one iterable,
    whose items then travel as they are: a quarter of the pickling of 1-tuples).

    Returns ``(seconds, results, error, traceback)``: what ran before a call
    raised is kept, and the time taken sizes the next batches. With
    *keep_going*, a call that raises an :class:`Exception` takes its place in
    the results as a :class:`Failed` and the batch goes on.
    """

    __slots__ = ("__weakref__", "fn", "keep_going", "remote", "spread")

    def __init__(
        self, fn: Callable[..., Any], keep_going: bool = False, spread: bool = True
    ) -> None:
        self.fn = fn
        self.keep_going = keep_going
        self.spread = spread
        #: Set once unpickled in a worker process: errors travel back as text too.
        self.remote = False

    def __getstate__(self) -> tuple[Callable[..., Any], bool, bool]:
        return self.fn, self.keep_going, self.spread

    def __setstate__(self, state: tuple[Callable[..., Any], bool, bool]) -> None:
        self.fn, self.keep_going, self.spread = state
        self.remote = True

    def __call__(
        self, items: list[Any], start: int = 0
    ) -> tuple[float, list[Any], BaseException | None, str | None]:
        """Run the batch (input items *start* onwards, as error messages count them)."""
        fn = self.fn
        spread = self.spread
        results: list[Any] = []
        append = results.append
        started = time.perf_counter()
        for item in items:
            try:
                append(fn(*item) if spread else fn(item))
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
