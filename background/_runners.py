"""Which runner a pool gets: threads, worker processes, or someone else's executor.

The options that only one kind of runner takes are checked here, before any
worker starts, with errors that name the option.
"""

from __future__ import annotations

import concurrent.futures

from . import _validate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from ._protocols import Runner


def make_runner(
    n: int,
    name: str,
    *,
    process: bool,
    executor: concurrent.futures.Executor | None,
    initializer: Callable[..., object] | None,
    initargs: tuple[Any, ...],
    start_method: str | None,
    max_tasks_per_worker: int | None,
    max_memory_per_worker: int | None = None,
    idle_timeout: float | None = None,
) -> tuple[str, Runner]:
    """The kind of pool (``"threads"``, ``"processes"``, ``"executor"``) and its runner."""
    if initializer is not None and not callable(initializer):
        raise TypeError(f"initializer must be callable, got {_validate.describe(initializer)}")
    _validate.initargs(initargs, initializer)
    if executor is not None and not isinstance(executor, concurrent.futures.Executor):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor, got {_validate.describe(executor)}"
        )
    if executor is not None and process:
        raise ValueError("give either process=True or executor=, not both")
    max_tasks_per_worker = _validate.optional_positive_int(
        max_tasks_per_worker, "max_tasks_per_worker"
    )
    max_memory_per_worker = _validate.optional_bytes(
        max_memory_per_worker, "max_memory_per_worker"
    )
    idle_timeout = _validate.optional_seconds(idle_timeout, "idle_timeout")
    only_for_processes = {
        "start_method": start_method,
        "max_tasks_per_worker": max_tasks_per_worker,
        "max_memory_per_worker": max_memory_per_worker,
    }
    for option, value in only_for_processes.items():
        if value is not None and not process:
            raise ValueError(f"{option} applies to worker processes: give process=True too")
    if executor is not None and idle_timeout is not None:
        raise ValueError(
            "idle_timeout applies to the pool's own workers: an executor= manages its own"
        )
    if executor is not None:
        from ._foreign import ExecutorRunner

        return "executor", ExecutorRunner(executor, n)
    if process:
        from ._processes import launch
        from ._processes.runner import ProcessRunner

        if start_method is not None:
            _validate.start_method(start_method, launch.start_methods())
        runner = ProcessRunner(
            n,
            name,
            initializer,
            initargs,
            start_method=start_method,
            max_tasks_per_worker=max_tasks_per_worker,
            max_memory_per_worker=max_memory_per_worker,
            idle_timeout=idle_timeout,
        )
        return "processes", runner
    from ._threads import ThreadRunner

    return "threads", ThreadRunner(n, name, initializer, initargs, idle_timeout)
