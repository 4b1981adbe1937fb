"""How a pool's submitted call starts: on its runner, or here (eager mode), with retries.

In eager mode (see :func:`background.eager`) the call runs at once, in the
thread that submits it; a call for worker processes is pickled and run as a
worker would run it, so that a test sees what would not survive the trip.
A call with retries is recorded in its pool's :class:`Retrying` book, which
the pool's shutdown waits for (or cancels) and which hands each retry back.
"""

from __future__ import annotations

import functools
import threading
import weakref

from . import _eager
from ._compat import after_fork_in_child, start_daemon_thread
from ._future import _worker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    from ._future import Future
    from ._job import Job
    from ._processes.workers import Pending
    from ._protocols import Runner
    from ._retries import Retries
    from ._retry import RetryPolicy

    class Pool(Protocol):
        """What starting calls needs of a :class:`background.Pool`."""

        _name: str
        _process: bool
        _runner: Runner
        _shutdown_lock: threading.Lock


#: Returned by :func:`start` for a call handed to the runner.
QUEUED = object()
#: Each pool's book of its calls with retries, once it has had one.
_books: weakref.WeakKeyDictionary[Any, Retrying] = weakref.WeakKeyDictionary()
_books_lock = threading.Lock()


def start(pool: Pool, job: Job, retry: RetryPolicy | None) -> Any:
    """Start *job* (called under the pool's lock): hand it to the runner, or prepare it.

    Returns :data:`QUEUED`, or in eager mode what :func:`finish` needs to run it.
    """
    eager = _eager.on
    if retry is not None:
        from ._retries import Retries

        book = _book(pool, create=True)
        assert book is not None
        job.retry = retries = Retries(retry, pool, book, eager)
        retries.job = job
        book.add(retries)
    if not eager:
        pool._runner.start(job)
        return QUEUED
    if pool._process:
        pending: Pending = pool._runner._packer.pack(job)  # type: ignore[attr-defined]
        return pending
    return None


def finish(job: Job, started: Any) -> Future[Any]:
    """After :func:`start`, outside the pool's lock: run an eager call here; its future."""
    future = job.future
    if started is not QUEUED:
        run_here(job, started)
    return future


def shutdown(pool: Pool, wait: bool, cancel_futures: bool) -> None:
    """Shut *pool*'s runner down, once the calls that have retries left are done.

    Their retries still run (``wait=False`` returns at once: a thread stops
    the runner once they end), unless *cancel_futures* cancels them.
    """
    book = _book(pool)
    if book is not None:
        if cancel_futures:
            book.stop(pool)
            book.cancel_waiting()
        elif wait:
            book.wait(pool)
            book.stop(pool)
        elif book.calls and start_daemon_thread(
            functools.partial(book.stop_when_done, pool), f"{pool._name}-shutdown"
        ):
            return
        else:
            book.stop(pool)
    pool._runner.shutdown(wait, cancel_futures)


def stop_retries(pool: Pool) -> None:
    """For ``kill()``: retry no call of *pool* any more; cancel those waiting for one."""
    book = _book(pool)
    if book is not None:
        book.stop(pool)
        book.cancel_waiting()


def cancel_waiting(pool: Pool) -> int:
    """Cancel *pool*'s calls that wait for a retry; return how many."""
    book = _book(pool)
    return 0 if book is None else book.cancel_waiting()


def _book(pool: Pool, create: bool = False) -> Retrying | None:
    book = _books.get(pool)
    if book is None and create:
        with _books_lock:
            book = _books.get(pool)
            if book is None:
                book = _books[pool] = Retrying()
    return book


class Retrying:
    """A pool's calls that have retries left: what its shutdown waits for or cancels.

    It refers to no pool (each call's :class:`~background._retries.Retries`
    keeps its own alive until the call ends), so that a pool can be collected.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: set[Retries] = set()
        #: Set once the pool's runner stops: a retry due then is cancelled.
        self.stopped = False

    @property
    def calls(self) -> list[Retries]:
        with self._lock:
            return list(self._calls)

    def add(self, retries: Retries) -> None:
        with self._lock:
            self._calls.add(retries)

    def discard(self, retries: Retries) -> None:
        with self._lock:
            self._calls.discard(retries)

    def cancel_waiting(self) -> int:
        return sum(retries.cancel_wait() for retries in self.calls)

    def stop(self, pool: Pool) -> None:
        with pool._shutdown_lock:
            self.stopped = True

    def wait(self, pool: Pool) -> None:
        """Wait for the calls that have retries left to end, while the runner still runs them."""
        lend = getattr(_worker, "lend", None)
        if lend is not None and getattr(lend, "__self__", None) is pool._runner:
            return  # inside one of those calls, maybe: the runner's own shutdown waits
        import concurrent.futures

        jobs = [retries.job for retries in self.calls]
        concurrent.futures.wait([job.future for job in jobs if job is not None])

    def stop_when_done(self, pool: Pool) -> None:
        """``shutdown(wait=False)`` while calls have retries left: stop once they end."""
        self.wait(pool)
        self.stop(pool)
        pool._runner.shutdown(False, False)

    def start_again(self, pool: Pool, job: Job) -> None:
        """Hand back a call whose retry is due (cancelled if the pool has stopped)."""
        with pool._shutdown_lock:
            if self.stopped:
                failure: BaseException | None = None
            else:
                try:
                    pool._runner.start(job)
                    return
                except BaseException as error:  # it fails that call instead
                    failure = error
        if failure is None:
            job.cancel()  # shut down with cancel_futures=True: its retry never started
        elif job.start():
            job.set_exception(failure)


after_fork_in_child(_books.clear)  # the parent's calls are not the child's


def run_here(job: Job, pending: Pending | None) -> None:
    """Run *job* in this thread (with its retries, at once); settle its future."""
    future = job.future
    retries = job.retry
    while True:
        if pending is None:
            job.run()
        else:
            _run_unpickled(job, pending)
        if retries is None or not retries.due:
            break
        retries.due = False
    error = future._exception
    if isinstance(error, KeyboardInterrupt):  # Ctrl-C: the caller's, not the call's
        future._retrieved()
        raise error


def _run_unpickled(job: Job, pending: Pending) -> None:
    """Run the call as a worker process would: unpickled, in an empty context."""
    import contextvars

    from . import _deadlines
    from ._future import _worker
    from ._processes import outcome, worker

    if not job.start():
        return
    if job.timeout is not None:
        _deadlines.arm(job, job.timeout)
    data = pending.fn_bytes + pending.arguments
    held = _worker.held
    if job.gates:  # what the call submits must not wait on its own places
        _worker.held = held + job.gates
    try:
        kind, payload = contextvars.Context().run(
            worker.run_one, data, 0, 0, len(pending.fn_bytes), worker._Functions()
        )
    finally:
        _worker.held = held
    outcome.settle(job, kind, memoryview(payload), here=True)
