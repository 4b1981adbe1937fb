"""The Future that every background task returns.

It is a plain :class:`concurrent.futures.Future` with these additions: it can be
awaited, it reports an exception that nobody retrieved, a done-callback that
raises anything at all is logged instead of ending the thread that ran it, and
waiting on it from inside a worker lends the pool an extra worker so nested
tasks cannot deadlock.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import weakref

from ._diagnostics import describe, logger, task_name

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: the first call stays cheap
    from collections.abc import Generator, Iterable
    from contextlib import AbstractContextManager
    from typing import Any, Callable, Protocol, TypeVar

    T = TypeVar("T")

    class Waitable(Protocol):
        """Anything with a ``done()`` method: a future, or a group of them."""

        def done(self) -> bool: ...

else:
    T = None  # a subscript only type checkers look at

_FINISHED = concurrent.futures._base.FINISHED
_RUNNING = concurrent.futures._base.RUNNING
_CANCELLED = concurrent.futures._base.CANCELLED
_CANCELLED_AND_NOTIFIED = concurrent.futures._base.CANCELLED_AND_NOTIFIED
_DONE = (_CANCELLED, _CANCELLED_AND_NOTIFIED)
_SETTLED = frozenset({_CANCELLED, _CANCELLED_AND_NOTIFIED, _FINISHED})

#: Failed futures whose exception nobody has looked at yet; reported at exit.
_unretrieved: weakref.WeakSet[Future[Any]] = weakref.WeakSet()


class ThreadState(threading.local):
    """What background knows about the current thread."""

    #: Set by worker threads: a context manager factory that frees the
    #: worker's slot while it blocks on another future.
    lend: Callable[[], AbstractContextManager[None]] | None = None
    #: The ``max_pending`` gates held by the call (or the callbacks) this
    #: thread runs now: a call submitted from there never waits on them.
    held: tuple[Any, ...] = ()
    #: The future of the call that this worker thread runs now.
    running: Future[Any] | None = None

    def __init__(self) -> None:
        #: The futures whose done-callbacks this thread is running, innermost last.
        self.callbacks_of: list[Future[Any]] = []
        self.awaiting: _AwaitLoan | None = None


_worker = ThreadState()


def in_background_work() -> bool:
    """``True`` in a worker thread or in a done-callback of a background future."""
    state = _worker
    return state.lend is not None or bool(state.callbacks_of)


class Future(concurrent.futures.Future[T]):
    """A :class:`concurrent.futures.Future` returned by every background task.

    Use it as any other future (``result()``, ``exception()``, ``done()``,
    ``add_done_callback()``, :func:`concurrent.futures.wait`), and also:

    * ``await`` it from a coroutine (inside a task too: the waiting worker's
      place is lent meanwhile);
    * rely on it to log an exception that nobody retrieved, with the task's
      name and traceback, on the ``"background"`` logger;
    * call ``result()`` on it from inside another task: the waiting worker's
      place is lent to the pool meanwhile, so nested tasks never deadlock;
    * attach callbacks with ``add_done_callback()`` without fear: one that
      raises anything, :class:`SystemExit` and :class:`KeyboardInterrupt`
      included, is logged on the ``"background"`` logger with its traceback,
      and the other callbacks and the worker go on. (Only a
      :class:`KeyboardInterrupt` in the main thread goes on up: that is a
      Ctrl-C.)
    * ``cancel()`` a call that runs in a worker process: it is stopped (see
      :meth:`cancel`).
    """

    _log_exception = False
    #: Set by map for calls it no longer wants: their failure is nobody's news.
    _abandoned = False
    _task_name = "task"
    #: The max_pending gates the call holds until it and its callbacks end.
    _gates: tuple[Any, ...] = ()
    #: Stops the call while it runs, if its pool can (a process pool): ``True``
    #: if it did, and then it has settled the future as cancelled.
    _stop: Callable[[], bool] | None = None
    #: cancel() was called while the call ran (see :func:`background.cancelled`).
    _cancel_requested = False

    def cancel(self) -> bool:
        """Cancel the call; ``True`` if it is cancelled, ``False`` if it cannot be.

        A call that has not started is cancelled, as in the standard library.
        A call that runs in a worker process is stopped: its worker, and
        every process that worker started, is terminated (``SIGTERM``, then
        ``SIGKILL`` after half a second) and replaced, and the future ends
        cancelled (a quick call that shares its worker with others is left
        to finish: ``False``). A call that runs in a thread cannot be stopped: ``cancel()``
        returns ``False`` and the call runs on, but it can see the request
        with :func:`background.cancelled` and stop itself. A finished call
        is not cancelled (``False``).

        .. versionadded:: 1.1
           Documented here, with what is new in 1.1: a running call in a
           worker process is stopped, a running call in a thread is told.
           Before, ``cancel()`` was the standard library's.
        """
        while True:
            with self._condition:
                if self._state == _RUNNING:
                    self._cancel_requested = True
                    stop = self._stop
                    break
            if super().cancel():
                return True
            if self._state != _RUNNING:  # finished: too late
                return False
            # It started meanwhile: ask it to stop, then.
        return stop is not None and stop() and self.cancelled()

    def _cancel_and_notify(self) -> bool:
        """:meth:`cancel`; a call that had not started counts as done for waiters at once.

        (A cancelled future is "cancelled and notified", which
        :func:`concurrent.futures.wait` and ``as_completed()`` need, only once
        ``set_running_or_notify_cancel()`` was called, as a worker would.)
        """
        if not self.cancel():
            return False
        with self._condition:
            if self._state == _CANCELLED:
                self.set_running_or_notify_cancel()
        return True

    def _cancel_running(self) -> bool:
        """Settle a running future as cancelled (its call was stopped).

        Waiters and done-callbacks are told exactly as by :meth:`cancel`
        followed by ``set_running_or_notify_cancel()`` for a call that had
        not started; ``False`` if the future was settled already.
        """
        with self._condition:
            if self._state != _RUNNING:
                return False
            self._state = _CANCELLED_AND_NOTIFIED
            for waiter in self._waiters:
                waiter.add_cancelled(self)
            self._condition.notify_all()
        self._invoke_callbacks()
        return True

    def set_result(self, result: T) -> None:
        """Store the task's result (called by the pool): as the standard library's,
        but it wakes nobody when nobody waits, as for most results."""
        condition = self._condition
        with condition:
            if self._state in _SETTLED:
                raise concurrent.futures.InvalidStateError(f"{self._state}: {self!r}")
            self._result = result
            self._state = _FINISHED
            for waiter in self._waiters:
                waiter.add_result(self)
            if condition._waiters:  # type: ignore[attr-defined]  # threads blocked in result()
                condition.notify_all()
        self._invoke_callbacks()

    def set_exception(self, exception: BaseException | None) -> None:
        """Store the task's exception (called by the pool, not by users)."""
        if not self._abandoned:
            self._log_exception = True
        super().set_exception(exception)
        if not self._abandoned:
            _unretrieved.add(self)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Return the task's exception, or ``None`` if it succeeded.

        Waits at most *timeout* seconds (``None``: for ever), then raises
        :class:`TimeoutError`.
        """
        with _lend_worker(self):
            exception = super().exception(timeout)
        self._log_exception = False
        return exception

    def result(self, timeout: float | None = None) -> T:
        """Return the task's result, or raise its exception.

        Waits at most *timeout* seconds (``None``: for ever), then raises
        :class:`TimeoutError`.
        """
        # A finished future never changes again: no lock (half the cost of a result).
        if self._state == _FINISHED and self._exception is None:
            return self._result  # type: ignore[return-value]
        try:
            with _lend_worker(self):
                return super().result(timeout)
        finally:
            if self.done():
                self._log_exception = False

    def add_done_callback(self, fn: Callable[[concurrent.futures.Future[T]], object]) -> None:
        """Call ``fn(future)`` once the future is done (at once if it is already).

        A callback that raises is logged and stops nothing; see the class.

        .. versionadded:: 1.1
           Documented here; a callback that is not callable is refused with
           :class:`TypeError`.
        """
        candidate: object = fn  # typed as callable, but any object can come in
        if not callable(candidate):
            raise TypeError(f"add_done_callback() expects a callable, got {describe(candidate)}")
        with self._condition:
            if self._state != _FINISHED and self._state not in _DONE:
                self._callbacks().append(fn)
                return
        self._run_callbacks([fn])

    def _invoke_callbacks(self) -> None:
        # The standard library logs an Exception from a callback but lets any
        # other BaseException escape, which would end the worker thread silently
        # and skip the pool's bookkeeping after it.
        callbacks = self._callbacks()
        if callbacks:
            self._run_callbacks(callbacks)

    def _callbacks(self) -> list[Callable[[Any], object]]:
        callbacks: list[Callable[[Any], object]] = self._done_callbacks  # type: ignore[attr-defined]
        return callbacks

    def _run_callbacks(self, callbacks: Iterable[Callable[[Any], object]]) -> None:
        state = _worker
        state.callbacks_of.append(self)
        held = state.held
        if self._gates:
            state.held = held + self._gates
        try:
            for callback in callbacks:
                call_callback(callback, self, None)
        finally:
            state.held = held
            state.callbacks_of.pop()

    def __await__(self) -> Generator[Any, None, T]:
        import asyncio

        waiting = asyncio.wrap_future(self).__await__()
        lend = _worker.lend
        if lend is None or self.done():
            return waiting
        return _lending_while(waiting, lend)

    def __del__(self) -> None:
        if self._log_exception:
            report_unretrieved(self)

    def _retrieved(self) -> None:
        self._log_exception = False

    def _abandon(self) -> None:
        """Nobody will look at this future: never report its exception."""
        self._abandoned = True
        self._log_exception = False


def cancel_unstarted(future: concurrent.futures.Future[Any]) -> bool:
    """Cancel *future* if its call has not started; never stop a running call."""
    if isinstance(future, Future):
        return concurrent.futures.Future.cancel(future)
    return future.cancel()


def call_callback(
    callback: Callable[[Any], object], future: Future[Any], task: Callable[..., Any] | None
) -> None:
    """Call a done-callback; log whatever it raises, naming it and the *task* function.

    Only a Ctrl-C in the main thread goes on up.
    """
    try:
        callback(future)
    except BaseException as error:
        if isinstance(error, KeyboardInterrupt) and (
            threading.current_thread() is threading.main_thread()
        ):
            raise
        try:
            if task is None:
                logger.exception("callback %s raised for %r", task_name(callback), future)
            else:
                name = task_name(task)
                logger.exception("callback %s raised for task %s", task_name(callback), name)
        except Exception:  # pragma: no cover - logging torn down at interpreter exit
            pass


def running_callbacks() -> list[Future[Any]]:
    """The futures whose done-callbacks run in this thread now."""
    return _worker.callbacks_of


def report_unretrieved(future: Future[Any]) -> None:
    """Log *future*'s exception once, as nobody retrieved it."""
    if not future._log_exception:
        return
    future._log_exception = False
    exception = future._exception
    if exception is None:  # pragma: no cover - only set together with the flag
        return
    try:
        logger.error(
            "Task exception was never retrieved: %s raised %s",
            future._task_name,
            type(exception).__name__,
            exc_info=exception,
        )
    except Exception:  # pragma: no cover - logging torn down at interpreter exit
        pass


def report_all_unretrieved() -> None:
    """Log every failed future still alive whose exception nobody retrieved."""
    for future in list(_unretrieved):
        report_unretrieved(future)


_NO_LOAN = contextlib.nullcontext()


def _lend_worker(future: Waitable) -> Any:
    """While a worker thread blocks on an unfinished *future*, lend its place."""
    if future.done():
        return _NO_LOAN
    lend = _worker.lend
    return _NO_LOAN if lend is None else lend()


class _AwaitLoan:
    """A worker's place, lent while coroutines in that thread await futures.

    An event loop run inside a task may await many futures at once: the place
    is lent once, from the first await until the last one ends.
    """

    __slots__ = ("count", "lend", "loan", "lock")

    def __init__(self, lend: Callable[[], AbstractContextManager[None]]) -> None:
        self.lend = lend
        self.count = 0
        self.loan: AbstractContextManager[None] | None = None
        self.lock = threading.Lock()

    def open(self) -> None:
        with self.lock:
            self.count += 1
            if self.count == 1:
                loan = self.lend()
                loan.__enter__()
                self.loan = loan

    def close(self) -> None:
        with self.lock:
            self.count -= 1
            if self.count:
                return
            loan, self.loan = self.loan, None
        if loan is not None:
            loan.__exit__(None, None, None)


def _lending_while(
    waiting: Generator[Any, None, T], lend: Callable[[], AbstractContextManager[None]]
) -> Generator[Any, None, T]:
    state = _worker
    loan = state.awaiting
    if loan is None or loan.lend is not lend:
        loan = state.awaiting = _AwaitLoan(lend)
    loan.open()
    try:
        return (yield from waiting)
    finally:
        loan.close()  # the loan object itself: right even if closed from another thread
