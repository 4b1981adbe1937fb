"""The module-level functions that act on the default pool."""

from __future__ import annotations

from . import _callbacks, _validate
from ._defaults import defaults

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    from ._future import Future
    from ._pool import Pool

    R = TypeVar("R")
    C = TypeVar("C", bound=Callable[[Future[Any]], object])


def run(fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
    """Run ``fn(*args, **kwargs)`` on the default pool; return its future at once.

    For a function you do not own, or a one-off call; ``@background.task`` is
    the same for a function you define. Callbacks registered with
    :func:`background.callback` apply.

    Example:
        >>> import background
        >>> background.run(max, 3, 9, 4).result()
        9
    """
    _validate.task_function(fn, "background.run()", decorating=False)
    return defaults.pool()._submit(fn, args, kwargs, _callbacks.registered, ())


def callback(fn: C, /) -> C:
    """Register *fn* as a done-callback of every task submitted from now on.

    It is called with the finished :class:`~background.Future`, in the worker
    that finished it (or at once if the future is already done). A callback
    that raises is logged on the ``"background"`` logger and stops nothing.
    Returns *fn* unchanged, so it works as a decorator. Tasks decorated with
    ``@background.task`` and calls made with :func:`background.run` get it,
    whichever pool they use; plain ``Pool.submit`` does not.

    Example:
        >>> import background
        >>> seen = []
        >>> @background.callback
        ... def remember(future):
        ...     seen.append(future.result())

        >>> background.run(abs, -5).result()
        5
        >>> background.wait(); seen
        DoneAndNotDone(done=set(), not_done=set())
        [5]
        >>> background.remove_callback(remember)
    """
    if not callable(fn):
        raise TypeError(f"background.callback expects a callable, got {_validate.describe(fn)}")
    _callbacks.add(fn)
    return fn


def remove_callback(fn: Callable[[Future[Any]], object], /) -> None:
    """Stop adding *fn* (registered with :func:`background.callback`) to new tasks.

    Tasks submitted already keep it. Removing a callable that is not
    registered does nothing.
    """
    if not callable(fn):
        raise TypeError(
            f"background.remove_callback expects a callable, got {_validate.describe(fn)}"
        )
    _callbacks.remove(fn)


def shutdown(wait: bool = True, *, cancel_futures: bool = False) -> None:
    """Shut the default pools down; the next task starts fresh ones.

    Args:
        wait: block until the queued and running tasks are done.
        cancel_futures: cancel the tasks that have not started.
    """
    defaults.shutdown(wait, cancel_futures=cancel_futures)


def default_pool(*, process: bool = False) -> Pool:
    """The pool that ``@background.task`` uses (the process one with *process*)."""
    return defaults.pool(process)


def use(pool: Pool | None, *, process: bool = False) -> Pool | None:
    """Make *pool* the default pool; return the previous one, still running.

    Every task on the default pool, including ones decorated earlier, runs on
    *pool* from the next call on: this is how a program moves its tasks to
    processes or to a dask cluster without touching a call site. ``None``
    goes back to a fresh default pool on next use.

    Example:
        >>> import background
        >>> previous = background.use(background.Pool(2, name="two"))
        >>> background.default_pool().name
        'two'
        >>> background.use(previous).shutdown()
    """
    return defaults.use(pool, process)
