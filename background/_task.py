"""``@task``: turn a function into one whose call returns a Future at once."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Callable, Generic, Protocol, TypeVar, overload

from . import _default, _validate
from ._future import Future
from ._gate import Gate
from ._retry import RetryPolicy, Retrying

if sys.version_info >= (3, 10):
    from typing import ParamSpec
elif TYPE_CHECKING:
    from typing_extensions import ParamSpec
else:  # pragma: no cover - exercised on 3.9 only
    # typing_extensions imports inspect, which is slow to import: at run time a
    # TypeVar stands in for the ParamSpec, which only type checkers look at.
    ParamSpec = TypeVar

if TYPE_CHECKING:
    from ._pool import Pool

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
        """Submit the call; return its future at once."""
        ...

    def map(
        self,
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int | None = None,
        buffersize: int | None = None,
    ) -> Iterator[R]:
        """Call the function on every item, in the background; results in order.

        See :meth:`background.Pool.map`. With ``retries=``, each call retries
        inside its worker, which it holds while it waits.
        """
        ...


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
            *retries*), in seconds; over it, the future fails with
            :class:`concurrent.futures.TimeoutError`, and the call is not
            retried. In a worker process the call is stopped (the worker is
            killed and replaced). A thread cannot be stopped: in a thread
            pool the call runs on to its end, only its future fails.
            Default: the pool's ``timeout``, if any.

    .. versionchanged:: 1.1
       Retries wait without holding a worker: the call is submitted again
       after the wait (it used to sleep in its worker). New parameters
       *backoff_max*, *jitter* and *retry_timeout*. With *retries*,
       *timeout* limits each attempt.

    Returns:
        The function, wrapped: calling it returns a :class:`~background.Future`.

    Raises:
        TypeError: *fn* is not a plain callable (a class, a coroutine function or
            a generator function, say), or an option has the wrong type.
        ValueError: an option is out of range.

    Example:
        >>> import background
        >>> @background.task
        ... def square(x: int) -> int:
        ...     return x * x

        >>> square(7).result()
        49
    """
    if pool is not None:
        from ._pool import Pool

        if not isinstance(pool, Pool):
            raise TypeError(f"pool must be a background.Pool, got {_validate.describe(pool)}")
        if process:
            raise ValueError("give either pool= or process=True, not both")
    callbacks = _validate.callbacks(callback)
    retries = _validate.non_negative_int(retries, "retries")
    retry_types = _validate.exception_types(retry_on, "retry_on")
    backoff = _validate.seconds(backoff, "backoff")
    backoff_max = _validate.wait_seconds(backoff_max, "backoff_max")
    jitter = _validate.seconds(jitter, "jitter")
    retry_timeout = _validate.optional_seconds(retry_timeout, "retry_timeout")
    if not retries:
        for name, value in [
            ("backoff_max", backoff_max),
            ("jitter", jitter or None),
            ("retry_timeout", retry_timeout),
        ]:
            if value is not None:
                raise ValueError(f"{name} applies to retries: give retries= too")
    max_pending = _validate.optional_positive_int(max_pending, "max_pending")
    policy = (
        RetryPolicy(retries, retry_types, backoff, backoff_max, jitter, retry_timeout)
        if retries
        else None
    )
    options: _Options[Any, Any] = _Options(pool, bool(process), callbacks, policy, max_pending)
    options.timeout = _validate.optional_seconds(timeout, "timeout")
    if fn is None:
        return options.wrap
    return options.wrap(fn)


class _Options(Generic[P, R]):
    """The options of one ``@task(...)``, ready to wrap functions."""

    def __init__(
        self,
        pool: Pool | None,
        process: bool,
        callbacks: tuple[Callable[[Future[Any]], object], ...],
        retry: RetryPolicy | None,
        max_pending: int | None,
    ) -> None:
        self.pool = pool
        self.process = process
        self.callbacks = callbacks
        self.retry = retry
        self.max_pending = max_pending
        self.timeout: float | None = None

    def wrap(self, fn: Callable[P, R]) -> Task[P, R]:
        _validate.task_function(fn)
        retry = self.retry
        # What travels as one function (a map's calls, the wrapper handed to a
        # process pool) retries inside its worker; a call retries from here.
        call: Callable[..., Any] = fn if retry is None else Retrying(fn, retry)
        gates = (Gate(self.max_pending),) if self.max_pending else ()
        own_callbacks = self.callbacks
        pool, process, call_timeout = self.pool, self.process, self.timeout

        def submit(*args: Any, **kwargs: Any) -> Future[Any]:
            target = pool
            if target is None:
                target = (_default._processes if process else _default._threads) or (
                    _default.pool(process)
                )
            callbacks = _default.callbacks
            if own_callbacks:
                callbacks += own_callbacks
            return target._submit(fn, args, kwargs, callbacks, gates, call_timeout, retry)

        def map(
            *iterables: Iterable[Any],
            timeout: float | None = None,
            chunksize: int | None = None,
            buffersize: int | None = None,
        ) -> Iterator[Any]:
            target = pool if pool is not None else _default.pool(process)
            return target._map(call, iterables, timeout, chunksize, buffersize, call_timeout)

        functools.update_wrapper(submit, fn)
        wrapper: Any = submit
        wrapper.map = map
        # What a worker process runs when handed the wrapper itself.
        wrapper._background_call = call
        return wrapper  # type: ignore[no-any-return]
