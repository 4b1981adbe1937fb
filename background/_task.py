"""``@task``: turn a function into one whose call returns a Future at once."""

from __future__ import annotations

from . import _validate, _wrapper
from ._defaults import defaults
from ._pool import Pool

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, Callable, overload

    from ._future import Future
    from ._types import P, R, Task
else:
    from ._compat import overload


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    fn: None = None,
    /,
    *,
    pool: Pool | None = None,
    process: bool = False,
    callback: Callable[[Future[Any]], object]
    | Iterable[Callable[[Future[Any]], object]]
    | None = None,
    retries: int = 0,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    backoff: float = 0.0,
    max_pending: int | None = None,
    timeout: float | None = None,
    backoff_max: float | None = None,
    jitter: float = 0.0,
    retry_timeout: float | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    pool: Pool | None = None,
    process: bool = False,
    callback: Any = None,
    retries: int = 0,
    retry_on: Any = Exception,
    backoff: float = 0.0,
    max_pending: int | None = None,
    timeout: float | None = None,
    backoff_max: float | None = None,
    jitter: float = 0.0,
    retry_timeout: float | None = None,
) -> Any:
    """Run the decorated function in the background: its call returns a Future.

    Use it bare, ``@background.task``, or with options,
    ``@background.task(retries=3)``. The call runs on the default pool (sized
    by :data:`background.n`) unless *pool* names another, so a later change of
    ``background.n`` or of the default pool applies to it at once.

    Args:
        fn: the function (when used bare).
        pool: run on this :class:`~background.Pool` instead of the default one.
        process: run on the default pool of worker processes (see
            :class:`~background.Pool` for what that implies), sized by
            :data:`background.n` like the thread one.
        callback: a done-callback, or several, called with the finished
            future; one that raises is logged and does not stop the others.
        retries: run a failed call again up to this many times before its
            future fails; the future holds the last attempt's outcome. Each
            retry is submitted again after its wait: no worker is held while
            the call waits, and cancelling the future then ends the call.
        retry_on: the exception class (or tuple) that is worth a retry.
            Only what the call raises is retried: not the
            :class:`concurrent.futures.TimeoutError` of *timeout*, nor a
            :class:`background.WorkerDied` (on an executor pool, what the
            executor's future raises counts as the call's).
        backoff: seconds to wait before the first retry, doubled each time.
        backoff_max: the longest wait between two attempts, in seconds
            (default: no limit).
        jitter: add a random number of seconds, up to this one, to each
            wait (before *backoff_max* applies), so that calls that failed
            together do not all retry at the same moment.
        retry_timeout: the time limit of all the attempts together, in
            seconds from the call: no retry starts after it (one whose wait
            would end later is not made), and the last failure reaches the
            future. It stops no attempt: *timeout* does that.
        max_pending: at most this many calls of this task may be unfinished;
            a further call blocks until one finishes. A call made from inside
            a call of this task (or from one of its done-callbacks) never
            blocks, as that would deadlock, but still counts.
        timeout: the time limit of each call (of each attempt, with
            *retries*), in seconds, counted from the moment it starts
            running; over it, the future fails with
            :class:`concurrent.futures.TimeoutError`, and the call is not
            retried. In a worker process the call is stopped (the worker is
            killed and replaced). A thread cannot be stopped: in a thread
            pool the call runs on to its end, only its future fails.
            Default: the pool's ``timeout``, if any.

    Returns:
        The function, wrapped: calling it returns a :class:`~background.Future`.

    Raises:
        TypeError: *fn* is not a plain callable (a class, a coroutine function,
            a generator function or a function that is already a task, say), or
            an option has the wrong type.
        ValueError: an option is out of range.

    .. versionchanged:: 1.1
       Retries wait without holding a worker: the call is submitted again
       after the wait (it used to sleep in its worker). New parameters
       *backoff_max*, *jitter* and *retry_timeout*. With *retries*,
       *timeout* limits each attempt.

    Example:
        >>> import background
        >>> @background.task
        ... def square(x: int) -> int:
        ...     return x * x

        >>> square(7).result()
        49
    """
    if pool is not None:
        if not isinstance(pool, Pool):
            raise TypeError(f"pool must be a background.Pool, got {_validate.describe(pool)}")
        if process:
            raise ValueError("give either pool= or process=True, not both")
    options = _wrapper.Options(
        callback,
        retries,
        retry_on,
        backoff,
        max_pending,
        timeout,
        backoff_max=backoff_max,
        jitter=jitter,
        retry_timeout=retry_timeout,
    )
    if pool is not None:
        chosen = pool

        def target() -> Pool:
            return chosen

    else:
        use_processes = bool(process)

        def target() -> Pool:
            # Looked up at each call: a later change of the default pool applies.
            current = defaults.processes if use_processes else defaults.threads
            return current or defaults.pool(use_processes)

    if fn is None:
        return lambda fn: _wrapper.wrap(fn, options, target)
    return _wrapper.wrap(fn, options, target)
