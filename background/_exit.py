"""What happens at interpreter exit: submitted work finishes, nothing hangs.

Before Python joins its threads, every live pool's outstanding calls are
waited for, so fire-and-forget work is not lost. Ctrl-C during that wait
cancels the calls that have not started and lets the interpreter exit; the
worker threads are daemons, so a call that never ends cannot hang the exit.
Finally, failed futures whose exception nobody retrieved are logged.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable

from ._future import logger, report_all_unretrieved

if TYPE_CHECKING:
    from ._outstanding import Outstanding
    from ._pool import Pool, Runner

_pools: weakref.WeakSet[Pool] = weakref.WeakSet()
#: The work of pools collected while calls were still outstanding (a pool
#: dropped without shutdown, or after ``shutdown(wait=False)``): waited for too.
_orphans: list[tuple[Outstanding, Runner]] = []
_registered = False
_lock = threading.Lock()


def register(pool: Pool) -> None:
    """Wait for *pool*'s outstanding calls when the interpreter exits."""
    global _registered
    _pools.add(pool)
    owned = pool._kind == "threads"  # an executor handed in belongs to its owner
    finalizer = weakref.finalize(pool, _adopt, pool._outstanding, pool._runner, owned)
    finalizer.atexit = False
    with _lock:
        if _registered:
            return
        hook: Callable[[Callable[[], None]], Any] = getattr(
            threading, "_register_atexit", atexit.register
        )
        try:
            hook(finish_outstanding)
        except RuntimeError:  # already shutting down: nothing left to wait for
            return
        atexit.register(report_all_unretrieved)
        _registered = True


def live_pools() -> list[Pool]:
    """Every pool still alive, safely copied while other threads make pools."""
    while True:
        try:
            return list(_pools)
        except RuntimeError:  # "Set changed size during iteration": copy again
            continue


def _adopt(outstanding: Outstanding, runner: Runner, owned: bool) -> None:
    """A pool was collected: keep its outstanding calls in view, free its threads.

    Its queued calls still run (the workers stop behind them), as with a
    dropped :class:`concurrent.futures.ThreadPoolExecutor`.
    """
    if len(outstanding):
        _orphans.append((outstanding, runner))
    if owned:
        runner.shutdown(wait=False, cancel_futures=False)


def _all_work() -> list[tuple[Outstanding, Runner]]:
    return [(pool._outstanding, pool._runner) for pool in live_pools()] + list(_orphans)


def finish_outstanding() -> None:
    """Wait for every pool's outstanding calls; Ctrl-C cancels the rest."""
    try:
        for work, _ in _all_work():
            while True:
                outstanding = work.snapshot()
                if not outstanding:
                    break
                concurrent.futures.wait(outstanding)
                work.wait_gone(outstanding, None)
    except KeyboardInterrupt:
        everything = _all_work()
        cancelled = sum(runner.cancel_queued() for _, runner in everything)
        running = sum(len(work) for work, _ in everything)
        logger.warning(
            "interrupted at exit: %d background tasks cancelled, %d left running",
            cancelled,
            running,
        )


def _forget_parent_work_in_child() -> None:
    for pool in live_pools():
        pool._outstanding.clear()
    _orphans.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_work_in_child)
