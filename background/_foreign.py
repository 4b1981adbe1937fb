"""Runs jobs on an executor that someone else made (a dask cluster, say)."""

from __future__ import annotations

import concurrent.futures
import functools
import weakref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from ._future import Future
    from ._job import Job


class ExecutorRunner:
    """Hands every job to a user's :class:`concurrent.futures.Executor`.

    The executor decides how many calls run at once; ``n`` is only recorded.
    Contextvars do not travel: the call may run in another process or host.
    Keyword arguments are bound to the function before it is handed over, so
    that an executor whose ``submit`` takes options of its own (dask's takes
    ``key=``, ``workers=``, ``pure=``...) never mistakes them for its options.
    """

    def __init__(self, executor: concurrent.futures.Executor, n: int) -> None:
        self.executor = executor
        self.n = n

    @property
    def threads(self) -> int:
        """Always 0: the executor's own workers do the work."""
        return 0

    def start(self, job: Job) -> None:
        """Submit *job* to the executor and settle it when the executor does."""
        fn = functools.partial(job.fn, **job.kwargs) if job.kwargs else job.fn
        if job.timeout is not None:
            fn = _StartsTheClock(fn, job)
        inner = self.executor.submit(fn, *job.args)
        # Only a weak reference back to the inner future: a strong one would
        # make a reference cycle that keeps the executor's result (held on a
        # remote worker, for dask) alive until the garbage collector runs.
        inner_ref = weakref.ref(inner)
        job.future.add_done_callback(lambda outer: _cancel_inner(outer, inner_ref()))
        inner.add_done_callback(lambda inner: _settle(job, inner))

    def shutdown(self, wait: bool, cancel_futures: bool) -> None:
        """Shut the wrapped executor down.

        An executor whose ``shutdown`` predates *cancel_futures* (dask's
        ``ClientExecutor``, say) is shut down without it.
        """
        if cancel_futures and _accepts_cancel_futures(self.executor):
            self.executor.shutdown(wait=wait, cancel_futures=True)
        else:
            self.executor.shutdown(wait=wait)

    def kill(self, unfinished: list[Future[Any]]) -> None:
        """Cancel the pool's *unfinished* futures (pending here, whatever the
        executor does), then stop the executor's workers if it has a way:
        Python 3.14's ``ProcessPoolExecutor.terminate_workers()`` (``SIGTERM``;
        it shuts the executor down too), else ``kill_workers()``; else shut it
        down without waiting, cancelling what it has queued.
        """
        for future in unfinished:
            future._cancel_and_notify()
        for name in ("terminate_workers", "kill_workers"):
            stop = getattr(self.executor, name, None)
            if callable(stop):
                stop()
                return
        self.shutdown(wait=False, cancel_futures=True)

    def cancel_queued(self) -> int:
        """The executor owns its queue: nothing to cancel from here."""
        return 0

    def forget_parent_in_child(self) -> None:
        """Nothing of the executor's is background's to forget in a forked child."""


class _StartsTheClock:
    """Runs a call with a time limit, which counts from the moment the call starts.

    An executor that runs the call in this process (a thread pool) calls this
    object: the clock starts then. One that runs it elsewhere (a process pool,
    a dask cluster) pickles it first, when it hands the call over: the clock
    starts then, the latest moment this process can see, and the call travels
    as the plain function, so the other side needs nothing of background's.
    """

    __slots__ = ("fn", "job")

    def __init__(self, fn: Callable[..., Any], job: Job | None) -> None:
        self.fn = fn
        self.job = job

    def _start_clock(self) -> None:
        job, self.job = self.job, None  # once, and the job is not kept
        if job is not None and job.timeout is not None:
            from . import _deadlines

            _deadlines.arm(job, job.timeout)

    def __call__(self, *args: Any) -> Any:
        self._start_clock()
        return self.fn(*args)

    def __reduce__(self) -> tuple[Any, tuple[Callable[..., Any]]]:
        self._start_clock()
        return functools.partial, (self.fn,)

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        return self.fn


def _accepts_cancel_futures(executor: concurrent.futures.Executor) -> bool:
    import inspect

    try:
        parameters = inspect.signature(executor.shutdown).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - a C-implemented shutdown
        return False
    return any(p.name == "cancel_futures" or p.kind is p.VAR_KEYWORD for p in parameters)


def _cancel_inner(outer: concurrent.futures.Future[Any], inner: Any) -> None:
    if inner is not None and outer.cancelled():
        inner.cancel()


def _settle(job: Job, inner: concurrent.futures.Future[Any]) -> None:
    if inner.cancelled():
        # Cancelled by the user (through the outer future) or by the executor.
        # start() then moves the cancelled future on to "cancelled and
        # notified", without which concurrent.futures.wait() and
        # as_completed() would never count it as done.
        job.future.cancel()
        _start(job)
    elif not _start(job):
        return
    else:
        exception = inner.exception()
        if exception is None:
            job.set_result(inner.result())
        else:
            job.fail(exception)  # the executor's future raised: maybe retried


def _start(job: Job) -> bool:
    """Mark the job running; ``False`` (and released) if cancelled or timed out."""
    return job.start()  # a timed-out call has ended now: its place is given back
