"""Exceptions that background raises on a task's future."""

from __future__ import annotations

from ._compat import executor_module

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures.process import BrokenProcessPool
else:  # importable while the interpreter exits, for a pool made then
    BrokenProcessPool = executor_module("concurrent.futures.process").BrokenProcessPool


class WorkerDied(BrokenProcessPool):
    """The worker process running a task died before it returned.

    Raised on the future of each task that the worker held when it died
    (``os._exit()``, a signal such as SIGKILL, the OOM killer, a crash in C
    code). Only those tasks fail: the pool starts a new worker and every
    other task, queued or later, runs as usual.

    It subclasses :class:`concurrent.futures.process.BrokenProcessPool`, so
    code written for the standard library's process pool still catches it;
    unlike there, the pool is not broken.

    Args:
        message: what happened, naming the task and the exit code.
        task: the name of the task that was lost.
        exitcode: the worker's exit code.

    Attributes:
        task: the name of the task that was lost, ``module.qualname``.
        exitcode: the worker's exit code; minus the signal number if a signal
            killed it; ``None`` if unknown.
    """

    def __init__(self, message: str, task: str = "", exitcode: int | None = None) -> None:
        super().__init__(message)
        self.task = task
        self.exitcode = exitcode

    def __reduce__(self) -> tuple[type[WorkerDied], tuple[str, str, int | None]]:
        return type(self), (str(self), self.task, self.exitcode)


__all__ = ["BrokenProcessPool", "WorkerDied"]
