"""What a worker's reply (or its death) means for the call's future."""

from __future__ import annotations

import pickle
import signal

from background import _pickling

from . import worker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from background._job import Job


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def with_remote_traceback(error: BaseException, text: str | None) -> BaseException:
    """*error*, caused by the worker's traceback *text* (as the standard library shows it)."""
    if text:
        error.__cause__ = RemoteTraceback(text)
    return error


def settle(job: Job, kind: int, payload: memoryview, *, here: bool = False) -> None:
    """Settle *job*'s future from a worker's reply of *kind* (in the manager thread).

    The reply is read here; the future's done-callbacks, if any, run in a
    settler thread (see :meth:`Job.hand_over`), unless *here* (eager mode:
    they run in this thread). An exception that the call raised may be
    retried (see :meth:`Job.fail`).
    """
    try:
        value = _pickling.loads(payload)
    except BaseException as error:  # SystemExit from a __reduce__ too: fail this call only
        failure = pickle.UnpicklingError(
            f"the result of {job.name} came back from the worker process but cannot be "
            f"unpickled here: {worker.describe(error)}"
        )
        failure.__cause__ = error
        job.hand_over(failure, failed=True, here=here)
        return
    if kind == worker.OK:
        job.hand_over(value, failed=False, here=here)
    else:
        raised = _failure(job.name, kind, value)
        job.hand_over(raised, failed=True, raised=kind == worker.RAISED, here=here)


def _failure(name: str, kind: int, value: Any) -> BaseException:
    """The exception that a worker's reply of *kind* (not ``OK``) stands for."""
    if kind == worker.RAISED:
        raised, text = value
        return with_remote_traceback(raised, text)
    if kind == worker.RESULT_UNPICKLABLE:
        type_name, description = value
        return pickle.PicklingError(
            f"{name} returned a {type_name}, which cannot be pickled to send it "
            f"back from the worker process ({description})"
        )
    return pickle.UnpicklingError(f"the worker process could not load the call to {name}: {value}")


def exit_reason(code: int | None) -> str:
    """``"exit code 3"``, ``"killed by SIGKILL"``..."""
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def broken(message: str, cause: BaseException | None = None) -> BaseException:
    """A :class:`concurrent.futures.process.BrokenProcessPool` with *message*.

    Its module (and multiprocessing with it) is imported only when a pool
    fails: a process pool that works never loads them.
    """
    from background._errors import BrokenProcessPool  # importable during the exit too

    error = BrokenProcessPool(message)
    error.__cause__ = cause
    return error


def died(job: Job, code: int | None, pool: str) -> BaseException:
    """The error of a call whose worker died under it: :class:`background.WorkerDied`."""
    from background._errors import WorkerDied

    return WorkerDied(
        f"the worker process running {job.name} died ({exit_reason(code)}) before "
        f"returning; the pool {pool} replaced it and goes on with the other tasks",
        job.name,
        code,
    )
