"""What happens at interpreter exit: submitted work finishes, nothing hangs.

When the main thread ends, before Python joins its other threads, background
waits until no pool has outstanding calls: the calls queued and running then,
and every call that they, their callbacks or other non-daemon threads submit
meanwhile, to any pool, including pools made during the wait. Python then
joins the non-daemon threads; what they submit while it does is waited for by
the first of the exit hooks (:mod:`atexit`), before the others run. From then
on every submission is refused with a :class:`RuntimeError`: a call submitted
by an :mod:`atexit` hook is refused, whether its pool existed before or the
hook makes it (the pool is made; its calls are refused).

The hooks are in place before any pool has work, and this module may load
late (with the first pool, while the interpreter exits): it then tells the
phase from threading. If the main thread has ended and threading runs its
exit hooks or joins non-daemon threads, calls are waited for as above; once
it has joined them, the :mod:`atexit` hooks run and calls are refused.

One case cannot be told apart: in a program that never imported
:mod:`threading` before it ended (``import background`` does not import it;
the first pool does), Python skips threading's exit step, and background's
exit hook is the one ``import background`` registered. An :mod:`atexit` hook
registered after ``import background`` runs before it: the calls it submits
are accepted and waited for by that hook, never lost. Calls from hooks
registered before ``import background`` are refused. (Such a program whose
first ``import background`` is in an :mod:`atexit` hook registers its hook
too late to run: its calls are accepted and not waited for.)

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
import sys
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


def _phase_at_import() -> int:
    """The phase, for this module loaded by a pool first made while the interpreter exits."""
    if _exithook.exit_hooks_began:
        return OVER
    if not (_exithook.main_thread_has_ended or getattr(threading, "_SHUTTING_DOWN", False)):
        return RUNNING  # (or, in a program that had not loaded threading, an atexit hook)
    main = threading.main_thread()
    if main.is_alive() or any(not t.daemon for t in threading.enumerate() if t is not main):
        # Threading runs its exit hooks, or joins non-daemon threads: the atexit
        # hook, run first from now on, waits for their calls.
        _exithook.run_exit_hook_first()
        return EXITING
    return OVER  # threading has joined every thread: the atexit hooks run


phase = _phase_at_import()

_pools: weakref.WeakSet[Pool] = weakref.WeakSet()
#: The work of pools collected while calls were still outstanding (a pool
#: dropped without shutdown, or after ``shutdown(wait=False)``): waited for too.
_orphans: list[tuple[Outstanding, Runner]] = []
_lock = threading.Lock()
_reporting = False


def stay_first_at_exit() -> None:
    """Have threading run background's wait first when the main thread ends.

    The standard library's executors register an exit hook that stops them
    (when ``concurrent.futures.thread`` or ``.process`` is first imported): a
    pool that runs calls on such an executor (dask's callbacks run on one)
    needs it to work until background's wait is over.
    """
    _exithook.register_first(_exithook.main_thread_ended)


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
        if phase == EXITING:
            # A pool made while the exit waits: its modules may just have
            # registered exit hooks (a process pool's stop its workers); the
            # last wait must still run before them.
            _exithook.run_exit_hook_first()


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
    """The main thread has ended (:mod:`._exithook` calls this): wait for every pool's work."""
    global phase
    if phase != RUNNING:
        return
    phase = EXITING
    finish_outstanding()
    with _lock:  # before the exit hooks that the calls' code registered meanwhile
        _exithook.run_exit_hook_first()
    run_late_hooks()


def last_wait() -> None:
    """The first :mod:`atexit` hook: wait for what was submitted since, then refuse all.

    What non-daemon threads submitted while Python joined them; or, in a
    program that never loaded threading before it ended, what the atexit
    hooks that ran before this one submitted.
    """
    global phase
    if phase != OVER:
        phase = EXITING  # (it ran on in a program that had not loaded threading)
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


def _adopt(
    outstanding: Outstanding,
    runner: Runner,
    to_stop: list[Runner],
    _finalizing: Callable[[], bool] = sys.is_finalizing,
) -> None:
    """A pool was collected: keep its outstanding calls in view, free its workers.

    Its queued calls still run (the workers stop behind them), as with a
    dropped :class:`concurrent.futures.ThreadPoolExecutor`. It may run in
    any thread, in the middle of any code (the garbage collector calls it):
    it takes no lock, and the runner is shut down from a thread of its own.
    Nothing is done while the interpreter tears itself down: the exit wait is
    over, no thread starts, and this module's globals may be gone already.
    """
    if _finalizing():
        return
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
