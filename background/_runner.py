"""What a :class:`background.Pool` needs from whatever runs its calls.

Only type checkers import this module: each runner (threads, processes, a
foreign executor) implements the protocol without inheriting from it.
"""

from __future__ import annotations

from typing import Protocol

from ._job import Job


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

    def forget_parent_in_child(self) -> None:
        """In a forked child: forget the parent's workers, queue and locks."""
        ...
