"""What a decorated function is: a wrapper that submits its calls to a pool.

Used by ``@background.task`` (on the default pools) and by ``Pool.task``;
:func:`unwrap` gives back what the wrapper runs, for a pool handed the
wrapper itself (``pool.submit(my_task, ...)``), which must not submit the
call a second time from inside a worker.
"""

from __future__ import annotations

import functools
import types

from . import _callbacks, _validate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any, Callable

    from ._future import Future
    from ._gate import Gate
    from ._protocols import Submitter
    from ._retry import RetryPolicy
    from ._types import Task


def unwrap(fn: Any) -> Any:
    """What a pool runs for *fn*: for a task wrapper, the call it wraps; else *fn*."""
    if isinstance(fn, types.FunctionType):
        return fn.__dict__.get("_background_call", fn)
    return fn


def unwrap_retrying(fn: Any) -> tuple[Any, RetryPolicy | None]:
    """A task wrapper's function and how its calls retry; ``(unwrap(fn), None)`` without retries.

    The pool then retries the calls itself, holding no worker while they wait.
    """
    if isinstance(fn, types.FunctionType):
        retry: RetryPolicy | None = fn.__dict__.get("_background_retry")
        if retry is not None:
            return fn.__dict__["__wrapped__"], retry
    return unwrap(fn), None


def submit_unwrapped(
    pool: Submitter, fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Future[Any]:
    """``pool.submit(fn, ...)``: for a task wrapper, its function, retrying as its calls do."""
    fn, retry = unwrap_retrying(fn)
    return pool._submit(fn, args, kwargs, (), (), None, retry)


class Options:
    """The validated options of one ``@task(...)``, ready to wrap functions."""

    __slots__ = ("callbacks", "max_pending", "retry", "timeout")

    def __init__(
        self,
        callback: object = None,
        retries: object = 0,
        retry_on: object = Exception,
        backoff: object = 0.0,
        max_pending: object = None,
        timeout: object = None,
        *,
        backoff_max: object = None,
        jitter: object = 0.0,
        retry_timeout: object = None,
    ) -> None:
        self.callbacks: tuple[Callable[[Future[Any]], object], ...] = _validate.callbacks(callback)
        count = _validate.non_negative_int(retries, "retries")
        retry_types = _validate.exception_types(retry_on, "retry_on")
        wait = _validate.seconds(backoff, "backoff")
        longest = _validate.wait_seconds(backoff_max, "backoff_max")
        spread = _validate.seconds(jitter, "jitter")
        limit = _validate.optional_seconds(retry_timeout, "retry_timeout")
        if not count:
            for name, value in [
                ("backoff_max", longest),
                ("jitter", spread or None),
                ("retry_timeout", limit),
            ]:
                if value is not None:
                    raise ValueError(f"{name} applies to retries: give retries= too")
        self.retry: RetryPolicy | None = None
        if count:
            from ._retry import RetryPolicy  # loaded with the first task that retries

            self.retry = RetryPolicy(count, retry_types, wait, longest, spread, limit)
        self.max_pending = _validate.optional_positive_int(max_pending, "max_pending")
        self.timeout = _validate.optional_seconds(timeout, "timeout")


#: The options that :class:`Options` takes, by name.
OPTION_NAMES = (
    "callback",
    "retries",
    "retry_on",
    "backoff",
    "max_pending",
    "timeout",
    "backoff_max",
    "jitter",
    "retry_timeout",
)


def decorate(
    fn: Callable[..., Any] | None,
    options: dict[str, Any],
    target: Callable[[], Submitter],
    what: str,
) -> Any:
    """``what(fn, **options)``: *fn* wrapped, or (without *fn*) a decorator that wraps."""
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise TypeError(
            f"{what} got unexpected options {', '.join(unknown)}; "
            f"it takes {', '.join(OPTION_NAMES)}"
        )
    settings = Options(**options)
    if fn is None:
        return lambda fn: wrap(fn, settings, target, what)
    return wrap(fn, settings, target, what)


def wrap(
    fn: Callable[..., Any],
    options: Options,
    target: Callable[[], Submitter],
    what: str = "background.task",
) -> Task[Any, Any]:
    """Wrap *fn*: each call is submitted to ``target()``, looked up at call time."""
    _validate.task_function(fn, what)
    if unwrap(fn) is not fn:
        name = getattr(fn, "__qualname__", "it")
        raise TypeError(
            f"{what} got {name}, which is already a background task: its calls would "
            f"return futures of futures; decorate the plain function "
            f"({name}.__wrapped__), or hand the task to pool.submit() or pool.map()"
        )
    retry = options.retry
    # The wrapper's calls, and its map's, retry from the pool; what travels as
    # one function (the wrapper pickled inside another call) retries in its worker.
    call: Callable[..., Any] = fn
    if retry is not None:
        from ._retry import Retrying

        call = Retrying(fn, retry)
    gates: tuple[Gate, ...] = ()
    if options.max_pending:
        from ._gate import Gate  # loaded with the first max_pending

        gates = (Gate(options.max_pending),)
    own_callbacks = options.callbacks
    call_timeout = options.timeout

    def submit(*args: Any, **kwargs: Any) -> Future[Any]:
        callbacks = _callbacks.registered
        if own_callbacks:
            callbacks += own_callbacks
        return target()._submit(fn, args, kwargs, callbacks, gates, call_timeout, retry)

    def map(
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int | None = None,
        buffersize: int | None = None,
        ordered: bool = True,
        return_exceptions: bool = False,
    ) -> Iterator[Any]:
        return target()._map(
            fn,
            iterables,
            timeout,
            chunksize,
            buffersize,
            call_timeout,
            ordered,
            return_exceptions,
            retry,
        )

    functools.update_wrapper(submit, fn)
    wrapper: Any = submit
    wrapper.map = map
    wrapper._background_call = call  # what a pool runs when handed the wrapper itself
    if retry is not None:
        wrapper._background_retry = retry  # and how its own calls retry
    return wrapper  # type: ignore[no-any-return]
