"""The default pools behind ``background.task``, ``background.n`` and friends."""

from __future__ import annotations

import os
import threading
from typing import Any, Callable

from . import _validate
from ._future import Future
from ._pool import Pool, default_worker_count

_lock = threading.RLock()
_threads: Pool | None = None
_processes: Pool | None = None
_n: int | None = None
#: Done-callbacks registered with ``@background.callback``, for every task.
callbacks: tuple[Callable[[Future[Any]], object], ...] = ()


def get_n() -> int:
    """The default pool's worker count: as set, else the number of CPUs."""
    return default_worker_count() if _n is None else _n


def set_n(value: object) -> None:
    """Set the default pools' worker count; takes effect at once."""
    global _n
    count = _validate.worker_count(value)
    with _lock:
        _n = count
        for pool in (_threads, _processes):
            if pool is not None:
                pool.n = count


def pool(process: bool = False) -> Pool:
    """The default thread pool (or process pool), created on first use."""
    global _threads, _processes
    current = _processes if process else _threads
    if current is not None:
        return current
    with _lock:
        current = _processes if process else _threads
        if current is None:
            name = "background-process" if process else "background"
            current = Pool(get_n(), process=process, name=name)
            if process:
                _processes = current
            else:
                _threads = current
        return current


def use(new: Pool | None, process: bool = False) -> Pool | None:
    """Make *new* the default pool; return the one it replaces (not shut down)."""
    global _threads, _processes
    if new is not None and not isinstance(new, Pool):
        raise TypeError(f"background.use() expects a Pool, got {_validate.describe(new)}")
    with _lock:
        old = _processes if process else _threads
        if process:
            _processes = new
        else:
            _threads = new
        return old


def add_callback(fn: Callable[[Future[Any]], object]) -> None:
    """Register *fn* as a done-callback of every task submitted from now on."""
    global callbacks
    with _lock:
        callbacks = (*callbacks, fn)


def remove_callback(fn: Callable[[Future[Any]], object]) -> None:
    """Stop adding *fn* to new tasks."""
    global callbacks
    with _lock:
        callbacks = tuple(c for c in callbacks if c is not fn)


def shutdown(wait: bool = True, *, cancel_futures: bool = False) -> None:
    """Shut the default pools down; the next task creates fresh ones."""
    global _threads, _processes
    with _lock:
        pools = [p for p in (_threads, _processes) if p is not None]
        _threads = _processes = None
    for old in pools:
        old.shutdown(wait, cancel_futures=cancel_futures)


def _forget_pools_in_child() -> None:
    global _threads, _processes, _lock
    _lock = threading.RLock()
    _threads = _processes = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)
