"""The default pools behind ``background.task``, ``background.n`` and friends.

All of that state lives in one private object, :data:`defaults`, with one
lock; tests start afresh with :meth:`Defaults.reset`.
"""

from __future__ import annotations

import threading

from . import _callbacks, _validate
from ._compat import after_fork_in_child, cpu_count
from ._pool import Pool


class Defaults:
    """The default thread pool, the default process pool and ``background.n``."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.threads: Pool | None = None
        self.processes: Pool | None = None
        self._n: int | None = None

    @property
    def n(self) -> int:
        """The default pools' worker count: as set, else the number of CPUs."""
        return cpu_count() if self._n is None else self._n

    @n.setter
    def n(self, value: object) -> None:
        count = _validate.worker_count(value)
        with self._lock:
            self._n = count
            for pool in (self.threads, self.processes):
                if pool is not None:
                    pool.n = count

    def pool(self, process: bool = False) -> Pool:
        """The default thread pool (or process pool), created on first use."""
        current = self.processes if process else self.threads
        if current is not None:
            return current
        with self._lock:
            current = self.processes if process else self.threads
            if current is None:
                name = "background-process" if process else "background"
                current = Pool(self.n, process=process, name=name)
                self._set(process, current)
            return current

    def use(self, new: Pool | None, process: bool = False) -> Pool | None:
        """Make *new* the default pool; return the one it replaces (not shut down)."""
        if new is not None and not isinstance(new, Pool):
            raise TypeError(f"background.use() expects a Pool, got {_validate.describe(new)}")
        with self._lock:
            old = self.processes if process else self.threads
            self._set(process, new)
            return old

    def _set(self, process: bool, pool: Pool | None) -> None:
        if process:
            self.processes = pool
        else:
            self.threads = pool

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the default pools down; the next task creates fresh ones."""
        with self._lock:
            pools = [p for p in (self.threads, self.processes) if p is not None]
            self.threads = self.processes = None
        for old in pools:
            old.shutdown(wait, cancel_futures=cancel_futures)

    def reset(self) -> None:
        """Start afresh (for tests): default pools shut down, ``n`` and callbacks unset."""
        self.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._n = None
        _callbacks.reset()

    def forget_parent_in_child(self) -> None:
        """In a forked child: the parent's pools are not ours, nor its held lock."""
        self._lock = threading.RLock()
        self.threads = self.processes = None


#: The one instance: background's default pools.
defaults = Defaults()
after_fork_in_child(defaults.forget_parent_in_child)
