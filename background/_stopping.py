"""How a pool stops: ``shutdown()`` lets the work finish, ``cancel_queued()``
cancels what waits, ``kill()`` stops it all now; and ``background.cancelled()``,
with which a thread call (that nothing can stop from outside) learns that it
should stop.
"""

from __future__ import annotations

import sys

from ._future import _worker

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Any

    from ._outstanding import Outstanding
    from ._protocols import Runner


def _launch() -> Any:
    """:mod:`background._launch` if loaded: it keeps the calls that have retries
    (loaded with the first one, or with eager mode); before, there are none."""
    return sys.modules.get(f"{__package__}._launch")


class Stopping:
    """How a pool stops: :class:`~background.Pool` takes these methods from here."""

    _name: str
    _process: bool
    _shutdown: bool
    _shutdown_lock: threading.Lock
    _stop_when_collected: list[Runner]
    _runner: Runner
    _outstanding: Outstanding

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Accept no more work; let queued calls finish (or cancel them).

        Args:
            wait: block until every worker has finished.
            cancel_futures: cancel the calls that have not started yet.
        """
        self._close()
        launch = _launch()
        if launch is None:
            self._runner.shutdown(wait, cancel_futures)
        else:
            launch.shutdown(self, wait, cancel_futures)  # the runner's, after retries that wait

    def _close(self) -> None:
        """Take no more calls."""
        with self._shutdown_lock:
            self._shutdown = True
            self._stop_when_collected.clear()  # stopped now, not again once collected

    def cancel_queued(self) -> int:
        """Cancel every call that has not started (or waits for a retry); return how many."""
        launch = _launch()
        waiting = 0 if launch is None else launch.cancel_waiting(self)
        return self._runner.cancel_queued() + waiting

    def kill(self) -> None:
        """Stop the pool now: cancel what is queued, stop what runs, and return.

        The pool is shut down (later calls raise :class:`RuntimeError`), every
        call that has not started or waits for a retry is cancelled, and no
        call is retried any more. Then, by kind of pool:

        * processes: every worker, and every process it started, gets
          ``SIGTERM``, then ``SIGKILL`` half a second later if it lives on; the
          running calls' futures end cancelled. It returns once the workers are
          gone, within about a second.
        * threads: a thread cannot be stopped from outside, so the running calls
          are asked to stop (:func:`background.cancelled` turns ``True`` in them)
          and it returns at once; each of their futures settles when its call
          ends, as after ``cancel()``.
        * ``executor=``: the pool's futures of unfinished calls are cancelled,
          then the executor's ``terminate_workers()`` is called (Python 3.14's
          :class:`~concurrent.futures.ProcessPoolExecutor` has it; it sends its
          workers ``SIGTERM``, but not the processes they started), else its
          ``kill_workers()``, else ``shutdown(wait=False, cancel_futures=True)``,
          after which a call it had started may run on (in a thread, say).

        It is a method of its own, not an option of :meth:`shutdown`, so that
        ``shutdown()`` keeps its one meaning: let the work finish, lose nothing.
        See :doc:`/recipes/stopping`.

        .. versionadded:: 1.1
        """
        self._close()
        launch = _launch()
        if launch is not None:
            launch.stop_retries(self)
        self._runner.kill(self._outstanding.snapshot())


def cancelled() -> bool:
    """``True`` if the call that runs in this thread was asked to stop.

    A thread cannot be stopped from outside, so a long call in a thread pool
    checks now and then, and stops early once its future's
    :meth:`~background.Future.cancel` was called (or the pool's
    :meth:`~background.Pool.kill`), or once it ran over its ``timeout``
    (its future has failed with :class:`TimeoutError` then, and keeps that
    outcome however the call ends). ``cancel()`` itself returns ``False``
    for a call that runs in a thread, as in the standard library: the call
    was not stopped (yet). If the call then raises
    :class:`concurrent.futures.CancelledError`, its future ends cancelled
    (``cancelled()`` is ``True``; waiters and done-callbacks are told as for
    any cancel); if it returns, or raises anything else, that is its outcome.

    It is ``False`` outside a pool's call (in a function called directly,
    say), in a worker process, whose calls ``cancel()`` stops instead, and in
    a call that an ``executor=`` pool's executor (a dask cluster's) runs.
    Each call sees its own future's request, not that of a call waiting on it.

    Example:
        >>> import concurrent.futures, threading, time
        >>> import background
        >>> started = threading.Event()
        >>> def crunch(steps):
        ...     started.set()
        ...     for step in range(steps):
        ...         if background.cancelled():
        ...             raise concurrent.futures.CancelledError  # stop here
        ...         time.sleep(0.01)

        >>> future = background.run(crunch, 10_000)
        >>> started.wait(60)
        True
        >>> future.cancel()  # a thread call: not stopped from outside...
        False
        >>> concurrent.futures.wait([future], 60).not_done
        set()
        >>> future.cancelled()  # ...but it saw the request and stopped
        True

    .. versionadded:: 1.1
    """
    future = _worker.running
    return future is not None and future._cancel_requested
