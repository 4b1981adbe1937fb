"""The protocols between the layers: what a pool needs of a runner, and what
wrappers and maps need of a pool.

Only type checkers import this module: the classes implement the protocols
without inheriting from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Callable, Protocol

from ._future import Future
from ._gate import Gate
from ._job import Job
from ._retry import RetryPolicy


class Submitter(Protocol):
    """What task wrappers and maps submit to: a :class:`background.Pool`."""

    def _submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        callbacks: tuple[Callable[[Future[Any]], object], ...],
        gates: tuple[Gate, ...],
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Future[Any]: ...

    def _map(
        self,
        fn: Callable[..., Any],
        iterables: tuple[Iterable[Any], ...],
        timeout: float | None,
        chunksize: int | None,
        buffersize: int | None,
        call_timeout: float | None,
        ordered: bool = True,
        return_exceptions: bool = False,
        retry: RetryPolicy | None = None,
    ) -> Iterator[Any]: ...


class Runner(Protocol):
    """Runs a pool's jobs: threads, worker processes or someone else's executor."""

    n: int

    @property
    def threads(self) -> int:
        """How many of background's own worker threads are alive now."""
        ...

    def start(self, job: Job) -> None:
        """Queue *job* to run; settle its future when it ends."""
        ...

    def shutdown(self, wait: bool, cancel_futures: bool) -> None:
        """Stop once queued jobs are done (or cancelled); join if *wait*."""
        ...

    def cancel_queued(self) -> int:
        """Cancel every job not started yet; return how many."""
        ...

    def kill(self, unfinished: list[Future[Any]]) -> None:
        """Shut down now: cancel the queued jobs, stop the running ones where
        it can, ask the others to stop; *unfinished* are the pool's futures."""
        ...

    def forget_parent_in_child(self) -> None:
        """In a forked child: forget the parent's workers, queue and locks."""
        ...
