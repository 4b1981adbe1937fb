"""Waiting for tasks without spinning: ``wait``, ``as_completed``, ``results``."""

from __future__ import annotations

import concurrent.futures
import contextlib
import time
from collections.abc import Iterable, Iterator
from typing import Any, Literal, NamedTuple, TypeVar, overload

from . import _interruptible, _validate
from ._defaults import defaults
from ._future import Future, _lend_worker, _worker, cancel_unstarted, running_callbacks

T = TypeVar("T")


class DoneAndNotDone(NamedTuple):
    """What :func:`background.wait` returns: two sets of futures."""

    #: The futures that finished (with a result or an exception) or were cancelled.
    done: set[concurrent.futures.Future[Any]]
    #: The futures still queued or running when the wait ended.
    not_done: set[concurrent.futures.Future[Any]]


def _futures(
    futures: Iterable[concurrent.futures.Future[T]] | None,
) -> list[concurrent.futures.Future[T]]:
    if futures is None:
        pool = defaults.threads
        if pool is None:
            return []
        lend = getattr(_worker, "lend", None)
        if lend is not None and getattr(lend, "__self__", None) is pool._runner:
            raise RuntimeError(
                "background.wait(), results() or as_completed() without futures, called "
                "inside a task of the default pool, would wait for that task itself: "
                "pass the futures to wait for"
            )
        return pool.outstanding()  # type: ignore[return-value]
    if isinstance(futures, concurrent.futures.Future):
        raise TypeError("expected an iterable of futures, got a single Future; wrap it in [...]")
    items = list(futures)
    for item in items:
        if not isinstance(item, concurrent.futures.Future):
            raise TypeError(f"expected futures, got {_validate.describe(item)}")
    return items


def _progress_bar(total: int, progress: object) -> Any:
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError("progress=True needs tqdm: pip install 'background[progress]'") from None
    options = progress if isinstance(progress, dict) else {}
    return tqdm(total=total, **options)


@contextlib.contextmanager
def _waiting_on(items: list[concurrent.futures.Future[Any]], bar: Any) -> Iterator[None]:
    """While blocked on *items*: lend a worker's slot, and on Ctrl-C cancel what
    has not started; close the progress bar in the end."""
    try:
        with _lend_worker(_Pending(items)):
            yield
    except KeyboardInterrupt:
        for future in items:
            cancel_unstarted(future)
        raise
    finally:
        if bar is not None:
            bar.close()


def wait(
    futures: Iterable[concurrent.futures.Future[T]] | None = None,
    timeout: float | None = None,
    *,
    return_when: str = concurrent.futures.ALL_COMPLETED,
    progress: bool | dict[str, Any] = False,
) -> DoneAndNotDone:
    """Block until the futures are done (or *timeout* seconds pass).

    With no futures, waits for every task of the default pool that is
    outstanding now. It sleeps instead of spinning; Ctrl-C cancels the tasks
    that have not started and re-raises :class:`KeyboardInterrupt`. A
    background future counts as done once its done-callbacks have run too,
    except in one of its own callbacks, where waiting on it returns at once.

    Args:
        futures: the futures to wait for; default: the default pool's
            outstanding tasks.
        timeout: give up after this many seconds.
        return_when: as for :func:`concurrent.futures.wait`.
        progress: show a tqdm progress bar (``True``, or a dict of tqdm options).

    Returns:
        ``(done, not_done)``, two sets of futures.

    Example:
        >>> import background
        >>> futures = [background.run(sum, [i, i]) for i in range(3)]
        >>> done, not_done = background.wait(futures)
        >>> sorted(f.result() for f in done), not_done
        ([0, 2, 4], set())
    """
    items = _futures(futures)
    timeout = _validate.wait_seconds(timeout)
    if return_when not in (
        concurrent.futures.ALL_COMPLETED,
        concurrent.futures.FIRST_COMPLETED,
        concurrent.futures.FIRST_EXCEPTION,
    ):
        raise ValueError(
            f"return_when must be one of the concurrent.futures constants, got {return_when!r}"
        )
    deadline = None if timeout is None else time.monotonic() + timeout
    bar = _progress_bar(len(items), progress)
    with _waiting_on(items, bar):
        if bar is None:
            done, not_done = _interruptible.wait(items, timeout, return_when)
        else:
            done, not_done = _wait_with_bar(items, timeout, return_when, bar)
        _callbacks_finished(done, deadline)
    return DoneAndNotDone(done, not_done)


def _wait_with_bar(
    items: list[concurrent.futures.Future[T]], timeout: float | None, return_when: str, bar: Any
) -> tuple[set[concurrent.futures.Future[T]], set[concurrent.futures.Future[T]]]:
    done: set[concurrent.futures.Future[T]] = set()
    try:
        for future in _interruptible.as_completed(items, timeout):
            done.add(future)
            bar.update(1)
            if return_when == concurrent.futures.FIRST_COMPLETED or (
                return_when == concurrent.futures.FIRST_EXCEPTION
                and not future.cancelled()
                and future.exception() is not None
            ):
                break
    except concurrent.futures.TimeoutError:
        pass
    return done, {f for f in items if f not in done}


def _callbacks_finished(
    done: Iterable[concurrent.futures.Future[Any]], deadline: float | None
) -> None:
    """Wait (until *deadline*) for the done-callbacks of our pools' *done* futures.

    A future counts as done before its callbacks run; a program that waits
    for its tasks expects their callbacks to have run too. Not for a future
    whose callbacks this very thread is running (a callback waiting on its
    own future): they end only once the wait does.
    """
    from ._exit import live_pools

    running = running_callbacks()
    for pool in live_pools():
        ours = [f for f in done if f in pool._outstanding and f not in running]
        if ours:
            _interruptible.wait_gone(pool._outstanding, ours, deadline)


def as_completed(
    futures: Iterable[concurrent.futures.Future[T]] | None = None,
    timeout: float | None = None,
    *,
    progress: bool | dict[str, Any] = False,
) -> Iterator[concurrent.futures.Future[T]]:
    """Yield the futures as they finish, first finished first.

    Args:
        futures: the futures to watch; with none, the default pool's
            outstanding tasks.
        timeout: seconds to wait in all; past them the iteration raises
            :class:`TimeoutError` (``None``: wait for ever).
        progress: show a tqdm progress bar (``pip install
            'background[progress]'``); a dict of options for
            ``tqdm.tqdm`` shows one with those options.

    Example:
        >>> import background
        >>> futures = [background.run(len, "abc"), background.run(len, "de")]
        >>> sorted(f.result() for f in background.as_completed(futures))
        [2, 3]
    """
    items = _futures(futures)
    timeout = _validate.wait_seconds(timeout)
    return _as_completed(items, timeout, _progress_bar(len(items), progress))


def _as_completed(
    items: list[concurrent.futures.Future[T]], timeout: float | None, bar: Any
) -> Iterator[concurrent.futures.Future[T]]:
    with _waiting_on(items, bar):
        for future in _interruptible.as_completed(items, timeout):
            if bar is not None:
                bar.update(1)
            yield future


@overload
def results(
    futures: Iterable[concurrent.futures.Future[T]] | None = None,
    timeout: float | None = None,
    *,
    return_exceptions: Literal[False] = False,
    progress: bool | dict[str, Any] = False,
) -> list[T]: ...


@overload
def results(
    futures: Iterable[concurrent.futures.Future[T]] | None = None,
    timeout: float | None = None,
    *,
    return_exceptions: bool,
    progress: bool | dict[str, Any] = False,
) -> list[T | BaseException]: ...


def results(
    futures: Iterable[concurrent.futures.Future[Any]] | None = None,
    timeout: float | None = None,
    *,
    return_exceptions: bool = False,
    progress: bool | dict[str, Any] = False,
) -> list[Any]:
    """Wait for the futures and return their results, in the order given.

    As soon as one task fails, its exception is raised, with the traceback
    from inside the task (if several have failed by then, the first in order
    wins); the other tasks keep running. Raises :class:`TimeoutError` after
    *timeout* seconds.

    With ``return_exceptions=True`` nothing a task raises stops the wait, as
    with :func:`asyncio.gather`: it waits for every future and returns, in
    the order given, each result or, for a task that failed, its exception
    (with its traceback) in its place; a cancelled task gives a new
    :class:`concurrent.futures.CancelledError` in its place. The exceptions
    returned count as retrieved: none is logged as "never retrieved". The
    *timeout* still raises :class:`TimeoutError` if some tasks are not done
    by then (they keep running; :func:`background.wait` tells which).

    .. versionchanged:: 1.1
       The *return_exceptions* parameter.

    Example:
        >>> import background
        >>> background.results([background.run(str.upper, w) for w in ["a", "b"]])
        ['A', 'B']
        >>> background.results([background.run(int, "7"), background.run(int, "x")],
        ...                    return_exceptions=True)
        [7, ValueError("invalid literal for int() with base 10: 'x'")]
    """
    items = _futures(futures)
    timeout = _validate.wait_seconds(timeout)
    if not isinstance(return_exceptions, bool):
        raise TypeError(
            f"return_exceptions must be True or False, got {_validate.describe(return_exceptions)}"
        )
    return_when = (
        concurrent.futures.ALL_COMPLETED
        if return_exceptions
        else concurrent.futures.FIRST_EXCEPTION
    )
    done, not_done = wait(items, timeout, return_when=return_when, progress=progress)
    if not return_exceptions:
        for future in items:
            if future in done and not future.cancelled() and future.exception() is not None:
                return [future.result()]  # raises the task's own exception
    if not_done:
        raise concurrent.futures.TimeoutError(
            f"{len(not_done)} of {len(items)} tasks not done after {timeout} s"
        )
    if return_exceptions:
        return [_outcome(future) for future in items]
    return [future.result() for future in items]


def _outcome(future: concurrent.futures.Future[T]) -> T | BaseException:
    """The result of a done *future*, or what it raised in its place."""
    if future.cancelled():
        return concurrent.futures.CancelledError()
    exception = future.exception()
    return future.result() if exception is None else exception


class _Pending:
    """Looks like an unfinished future to :func:`_lend_worker` while any is."""

    def __init__(self, futures: list[concurrent.futures.Future[Any]]) -> None:
        self.futures = futures

    def done(self) -> bool:
        return all(f.done() for f in self.futures)


__all__ = ["DoneAndNotDone", "Future", "as_completed", "results", "wait"]
