"""A worker's place, lent while coroutines in its thread await futures.

Loaded with the first ``await`` of a background future inside a worker.
"""

from __future__ import annotations

import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Generator
    from contextlib import AbstractContextManager
    from typing import Any, Callable, Protocol, TypeVar

    T = TypeVar("T")

    class ThreadState(Protocol):
        """The part of ``background._future.ThreadState`` that awaiting uses."""

        awaiting: AwaitLoan | None


class AwaitLoan:
    """A worker's place, lent while coroutines in that thread await futures.

    An event loop run inside a task may await many futures at once: the place
    is lent once, from the first await until the last one ends.
    """

    __slots__ = ("count", "lend", "loan", "lock")

    def __init__(self, lend: Callable[[], AbstractContextManager[None]]) -> None:
        self.lend = lend
        self.count = 0
        self.loan: AbstractContextManager[None] | None = None
        self.lock = threading.Lock()

    def open(self) -> None:
        """One more await: lend the place if it is the first."""
        with self.lock:
            self.count += 1
            if self.count == 1:
                loan = self.lend()
                loan.__enter__()
                self.loan = loan

    def close(self) -> None:
        """One await less: take the place back after the last."""
        with self.lock:
            self.count -= 1
            if self.count:
                return
            loan, self.loan = self.loan, None
        if loan is not None:
            loan.__exit__(None, None, None)


def lending_while(
    waiting: Generator[Any, None, T],
    lend: Callable[[], AbstractContextManager[None]],
    state: ThreadState,
) -> Generator[Any, None, T]:
    """Await *waiting*, the worker's place lent (with *lend*) meanwhile."""
    loan = state.awaiting
    if loan is None or loan.lend is not lend:
        loan = state.awaiting = AwaitLoan(lend)
    loan.open()
    try:
        return (yield from waiting)
    finally:
        loan.close()  # the loan object itself: right even if closed from another thread
