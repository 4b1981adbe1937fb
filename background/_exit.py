"""What happens at interpreter exit: submitted work finishes, nothing hangs.

When the main thread ends, before Python joins its other threads, background
waits until no pool has outstanding calls: the calls queued and running then,
and every call that they, their callbacks or other non-daemon threads submit
meanwhile, to any pool, including pools made during the wait. Python then
joins the non-daemon threads; what they submit while it does is waited for by
the first of the exit hooks (:mod:`atexit`), before the others run. From then
on every submission is refused with a :class:`RuntimeError`.

A daemon thread's submissions are refused as soon as the main thread has
ended, as the standard library's executors refuse them: the interpreter
would kill the thread anyway, and a daemon thread that keeps submitting (a
heartbeat) would otherwise keep the program alive for ever. A task that
resubmits itself for ever does keep it alive, as a non-daemon thread that
loops for ever does.

Ctrl-C during a wait cancels the calls that have not started, refuses every
later submission and lets the interpreter exit: worker threads are daemons,
so a call that never ends cannot hang the exit. Finally, failed futures whose
exception nobody retrieved are logged.

This module stays light: it is imported at exit even by a program that never
made a pool.
"""

from __future__ import annotations

import atexit
import functools
import threading
import weakref

from . import _exithook
from ._compat import after_fork_in_child, run_late_hooks, start_daemon_thread

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: ``import background`` stays cheap
    from typing import Any, Callable, Protocol

    from ._outstanding import Outstanding
    from ._protocols import Runner

    class Pool(Protocol):
        """What the exit wait needs to know of a :class:`background.Pool`."""

        _kind: str
        _outstanding: Outstanding
        _runner: Runner
        _stop_when_collected: list[Runner]
        _settles_other_pools: bool

        def _forget_parent_in_child(self) -> None: ...

        def cancel_queued(self) -> int: ...


#: The program runs; the main thread has ended and the exit waits for the
#: work; or the wait is over and nothing more runs.
RUNNING, EXITING, OVER = 0, 1, 2
phase = RUNNING

_pools: weakref.WeakSet[Pool] = weakref.WeakSet()
#: The work of pools collected while calls were still outstanding (a pool
#: dropped without shutdown, or after ``shutdown(wait=False)``): waited for too.
_orphans: list[tuple[Outstanding, Runner]] = []
_lock = threading.Lock()
_reporting = False
_last_wait_registered = False


def stay_first_at_exit() -> None:
    """Have threading run background's wait first when the main thread ends.

    The standard library's executors register an exit hook that stops them
    (when ``concurrent.futures.thread`` or ``.process`` is first imported): a
    pool that runs calls on such an executor (dask's callbacks run on one)
    needs it to work until background's wait is over.
    """
    global phase
    if not _exithook.register_first(main_thread_ended) and not _exithook.ever_registered():
        phase = OVER  # background was imported after the main thread ended: too late to wait


def register(pool: Pool) -> None:
    """Wait for *pool*'s outstanding calls when the interpreter exits."""
    global _reporting
    stay_first_at_exit()  # the pool's modules may have registered hooks of their own
    _pools.add(pool)
    if pool._kind != "executor":  # an executor handed in belongs to its owner
        pool._stop_when_collected.append(pool._runner)  # emptied by pool.shutdown()
    finalizer = weakref.finalize(
        pool, _adopt, pool._outstanding, pool._runner, pool._stop_when_collected
    )
    finalizer.atexit = False
    with _lock:
        if not _reporting:
            from ._future import report_all_unretrieved

            atexit.register(report_all_unretrieved)
            _reporting = True
        if _last_wait_registered:
            # A pool made while the exit waits: its modules may just have
            # registered exit hooks (a process pool's stop its workers); the
            # last wait must still run before them.
            atexit.unregister(_last_wait)
            atexit.register(_last_wait)


def refuse_if_exiting(pool: Pool, fn: Callable[..., Any]) -> None:
    """Raise :class:`RuntimeError` if a call submitted now could not run to its end."""
    if phase == RUNNING:
        return
    if phase == EXITING:
        if pool._settles_other_pools or not threading.current_thread().daemon:
            return
        from ._future import in_background_work

        if in_background_work():  # a task or a done-callback: its work is waited for
            return
        reason = (
            "the interpreter is exiting (the main thread has ended, and a daemon "
            "thread's calls are refused: the thread is killed at exit)"
        )
    else:
        reason = "the interpreter is exiting"
    from ._diagnostics import task_name

    raise RuntimeError(f"cannot submit {task_name(fn)}: {reason}")


def main_thread_ended() -> None:
    """Threading calls this when the main thread ends: wait for every pool's work."""
    global phase, _last_wait_registered
    if phase != RUNNING:
        return
    phase = EXITING
    if finish_outstanding():
        with _lock:
            atexit.register(_last_wait)
            _last_wait_registered = True
    run_late_hooks()


def _last_wait() -> None:
    """The first exit hook: wait for what threads submitted while Python joined them."""
    global phase
    if phase == EXITING:
        finish_outstanding()
        phase = OVER
    run_late_hooks()


def live_pools() -> list[Pool]:
    """Every pool still alive, safely copied while other threads make pools."""
    while True:
        try:
            return list(_pools)
        except RuntimeError:  # "Set changed size during iteration": copy again
            continue


def _adopt(outstanding: Outstanding, runner: Runner, to_stop: list[Runner]) -> None:
    """A pool was collected: keep its outstanding calls in view, free its workers.

    Its queued calls still run (the workers stop behind them), as with a
    dropped :class:`concurrent.futures.ThreadPoolExecutor`. It may run in
    any thread, in the middle of any code (the garbage collector calls it):
    it takes no lock, and the runner is shut down from a thread of its own.
    """
    for adopted in list(_orphans):
        if not len(adopted[0]):
            try:
                _orphans.remove(adopted)
            except ValueError:  # removed meanwhile by another thread
                pass
    if len(outstanding):
        _orphans.append((outstanding, runner))
    for stopping in to_stop:  # unless it was shut down already
        stop = functools.partial(stopping.shutdown, False, False)
        if not start_daemon_thread(stop, "background-dropped-pool"):
            stop()


def _all_outstanding() -> list[Outstanding]:
    return [pool._outstanding for pool in live_pools()] + [work for work, _ in _orphans]


def _wait_until_idle() -> None:
    """Return once no pool has outstanding calls and none was submitted meanwhile.

    A call ends before its pool is looked at, after submitting to a pool
    looked at already: the submission counts tell.
    """
    while True:
        work = _all_outstanding()
        submitted = {outstanding: outstanding.added for outstanding in work}
        busy = False
        for outstanding in work:
            pending = outstanding.snapshot()
            if pending:
                import concurrent.futures

                from . import _interruptible

                busy = True
                _interruptible.wait(pending, None, concurrent.futures.ALL_COMPLETED)
                _interruptible.wait_gone(outstanding, pending, None)
        if not busy and all(
            outstanding.added == submitted.get(outstanding, 0)
            for outstanding in _all_outstanding()
        ):
            return


def finish_outstanding() -> bool:
    """Wait until no pool has outstanding calls; ``False`` if Ctrl-C cut it short.

    Ctrl-C refuses every later submission, cancels the calls that have not
    started and logs how many were cancelled and how many were left running.
    """
    global phase
    try:
        _wait_until_idle()
        return True
    except KeyboardInterrupt:
        phase = OVER
        everything = live_pools()
        cancelled = sum(pool.cancel_queued() for pool in everything)  # waiting retries too
        cancelled += sum(runner.cancel_queued() for _, runner in list(_orphans))
        running = sum(len(work) for work in _all_outstanding())
        from ._diagnostics import logger

        logger.warning(
            "interrupted at exit: %d background tasks cancelled, %d left running",
            cancelled,
            running,
        )
        return False


def _forget_parent_work_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    for pool in live_pools():
        pool._forget_parent_in_child()
    _orphans.clear()


after_fork_in_child(_forget_parent_work_in_child)

if _exithook.main_thread_has_ended:  # the first pool is made while the exit waits
    phase = EXITING
    atexit.register(_last_wait)
    _last_wait_registered = True
