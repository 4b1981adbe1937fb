"""``@task``: turn a function into one whose call returns a Future at once."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Callable, Generic, Protocol, TypeVar, overload

from . import _default, _validate
from ._future import Future
from ._gate import Gate
from ._retry import Retrying

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

        See :meth:`background.Pool.map`.
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
            future fails.
        retry_on: the exception class (or tuple) that is worth a retry.
        backoff: seconds to wait before the first retry, doubled each time.
        max_pending: at most this many calls of this task may be unfinished;
            a further call blocks until one finishes. A call made from inside
            a call of this task (or from one of its done-callbacks) never
            blocks, as that would deadlock, but still counts.
        timeout: the time limit of each call, in seconds; over it, the
            future fails with :class:`concurrent.futures.TimeoutError`. In a
            worker process the call is stopped (the worker is killed and
            replaced). A thread cannot be stopped: in a thread pool the call
            runs on to its end, only its future fails. Default: the pool's
            ``timeout``, if any.

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
    max_pending = _validate.optional_positive_int(max_pending, "max_pending")
    options: _Options[Any, Any] = _Options(
        pool, bool(process), callbacks, retries, retry_types, backoff, max_pending
    )
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
        retries: int,
        retry_on: tuple[type[BaseException], ...],
        backoff: float,
        max_pending: int | None,
    ) -> None:
        self.pool = pool
        self.process = process
        self.callbacks = callbacks
        self.retries = retries
        self.retry_on = retry_on
        self.backoff = backoff
        self.max_pending = max_pending
        self.timeout: float | None = None

    def wrap(self, fn: Callable[P, R]) -> Task[P, R]:
        _validate.task_function(fn)
        call: Callable[..., Any] = fn
        if self.retries:
            call = Retrying(fn, self.retries, self.retry_on, self.backoff)
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
            return target._submit(call, args, kwargs, callbacks, gates, call_timeout)

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
