"""``background.Task``: the type of what ``@background.task`` returns.

Loaded only when ``background.Task`` is used (or by type checkers): it needs
:mod:`typing`, which the first call to a task does not.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Callable, Generic, Protocol, TypeVar

from ._future import Future

if sys.version_info >= (3, 10):
    from typing import ParamSpec
elif TYPE_CHECKING:
    from typing_extensions import ParamSpec
else:  # pragma: no cover - exercised on 3.9 only
    # typing_extensions imports inspect, which is slow to import: at run time a
    # TypeVar stands in for the ParamSpec, which only type checkers look at.
    ParamSpec = TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Task(Protocol, Generic[P, R]):
    """What ``@background.task`` returns: the function, run in the background.

    Calling it takes the function's own arguments and returns a
    :class:`~background.Future` at once. It keeps the function's name,
    docstring and signature; ``__wrapped__`` is the original function, to call
    it in the foreground.
    """

    @property
    def __wrapped__(self) -> Callable[P, R]:
        """The original function, to call it in the foreground."""
        ...

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        """Submit ``fn(*args, **kwargs)``; return its future at once."""
        ...

    def map(
        self,
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int | None = None,
        buffersize: int | None = None,
        ordered: bool = True,
        return_exceptions: bool = False,
    ) -> Iterator[R]:
        """Call the function on every item of *iterables*, in the background.

        Runs on the task's pool, with its time limit; *timeout*,
        *chunksize*, *buffersize*, *ordered* and *return_exceptions* are
        those of :meth:`background.Pool.map`. With ``retries=``, each call
        retries as the task's calls do, holding no worker while it waits;
        a call that travels in a batch (a process pool batches tiny calls
        unless ``chunksize=1``) retries in its worker, which it holds.

        .. versionchanged:: 1.1
           *ordered* and *return_exceptions*; retries that hold no worker.
        """
        ...
