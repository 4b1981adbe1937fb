"""The unfinished calls of one pool: kept until done, then dropped at once."""

from __future__ import annotations

import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from ._future import Future


class Outstanding:
    """A pool's submitted calls whose future and callbacks have not finished.

    A call leaves as soon as its future is settled *and* its done-callbacks
    have run, so finished work is never kept, and waiting for a call here
    also waits for its callbacks (a future counts as done before they run).
    """

    __slots__ = ("_changed", "_waiting", "added", "futures")

    def __init__(self) -> None:
        self.futures: dict[Future[Any], None] = {}
        self._changed = threading.Condition(threading.Lock())
        self._waiting = 0
        #: How many calls were ever added (under the pool's lock): the exit
        #: wait compares it to tell that nothing was submitted meanwhile.
        self.added = 0

    def add(self, future: Future[Any]) -> None:
        """Count *future* as outstanding (the caller holds the pool's lock)."""
        self.futures[future] = None
        self.added += 1

    def discard(self, future: Future[Any]) -> None:
        """*future* and its callbacks are done: forget it, wake any waiter."""
        self.futures.pop(future, None)
        if self._waiting:
            with self._changed:
                self._changed.notify_all()

    def snapshot(self) -> list[Future[Any]]:
        """The outstanding futures now, oldest first."""
        return list(self.futures.copy())

    def clear(self) -> None:
        """Forget everything (in a forked child: the parent's calls and waiters)."""
        self.futures.clear()
        self._changed = threading.Condition(threading.Lock())
        self._waiting = 0

    def __len__(self) -> int:
        return len(self.futures)

    def __contains__(self, future: object) -> bool:
        return future in self.futures

    def wait_gone(self, futures: Iterable[Future[Any]], deadline: float | None) -> bool:
        """Block until none of *futures* is outstanding; ``False`` at *deadline*."""
        with self._changed:
            self._waiting += 1
            try:
                for future in futures:
                    while future in self.futures:
                        remaining = None if deadline is None else deadline - time.monotonic()
                        if remaining is not None and remaining <= 0:
                            return False
                        self._changed.wait(remaining)
                return True
            finally:
                self._waiting -= 1
