"""Runs jobs on an executor that someone else made (a dask cluster, say)."""

from __future__ import annotations

import concurrent.futures
from typing import Any

from ._job import Job


class ExecutorRunner:
    """Hands every job to a user's :class:`concurrent.futures.Executor`.

    The executor decides how many calls run at once; ``n`` is only recorded.
    Contextvars do not travel: the call may run in another process or host.
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
        inner = self.executor.submit(job.fn, *job.args, **job.kwargs)
        job.future.add_done_callback(lambda outer: _cancel_inner(outer, inner))
        inner.add_done_callback(lambda inner: _settle(job, inner))

    def shutdown(self, wait: bool, cancel_futures: bool) -> None:
        """Shut the wrapped executor down."""
        self.executor.shutdown(wait=wait, cancel_futures=cancel_futures)

    def cancel_queued(self) -> int:
        """The executor owns its queue: nothing to cancel from here."""
        return 0


def _cancel_inner(outer: concurrent.futures.Future[Any], inner: Any) -> None:
    if outer.cancelled():
        inner.cancel()


def _settle(job: Job, inner: concurrent.futures.Future[Any]) -> None:
    if inner.cancelled():
        job.cancel()
    elif not job.start():
        return
    else:
        exception = inner.exception()
        if exception is None:
            job.set_result(inner.result())
        else:
            job.set_exception(exception)
