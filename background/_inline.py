"""Eager mode's runner: a call runs at once, in the thread that submits it.

See :func:`background.eager`. A call for worker processes is pickled and run
as a worker would run it, so that a test sees what would not survive the trip.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._job import Job
    from ._processes.workers import Pending


def prepare(runner: Any, job: Job) -> Pending:
    """Pickle *job*'s call as it would travel to a worker of a process *runner*.

    Raises what the pool's submission would raise (:class:`pickle.PicklingError`...).
    """
    pending: Pending = runner._packer.pack(job)
    return pending


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
    outcome.settle(job, kind, memoryview(payload))
