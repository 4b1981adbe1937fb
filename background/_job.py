"""One submitted call: the function, its arguments and the future it settles."""

from __future__ import annotations

import functools
from concurrent.futures import CancelledError, InvalidStateError

from ._diagnostics import task_name
from ._future import _CANCELLED_AND_NOTIFIED, _FINISHED, _RUNNING, _worker

TYPE_CHECKING = False
if TYPE_CHECKING:
    import contextvars
    from typing import Any, Callable

    from ._future import Future
    from ._gate import Gate
    from ._outstanding import Outstanding
    from ._retries import Retries

#: What a released job keeps as its keyword arguments (nothing reads them again).
_NO_KWARGS: dict[str, Any] = {}


class Job:
    """A call waiting for a worker, and the bookkeeping done when it ends.

    Runners call :meth:`run` (in a thread of this process) or run the call
    elsewhere and settle it with :meth:`set_result` / :meth:`set_exception`.
    """

    __slots__ = (
        "args",
        "attempt",
        "context",
        "fn",
        "future",
        "gates",
        "kwargs",
        "outstanding",
        "retry",
        "timeout",
    )

    def __init__(
        self,
        future: Future[Any],
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        context: contextvars.Context | None,
        outstanding: Outstanding,
        gates: tuple[Gate, ...] = (),
        timeout: float | None = None,
        retry: Retries | None = None,
    ) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.context = context
        self.outstanding = outstanding
        self.gates = gates
        #: Seconds each attempt may run before its future fails with TimeoutError.
        self.timeout = timeout
        #: The call's retries (``retries=``), if it has any.
        self.retry = retry
        #: Which attempt at the call this is (1 for the first, more with retries).
        self.attempt = 1

    @property
    def name(self) -> str:
        """The task's name, as used in logs and error messages."""
        return task_name(self.fn)

    def run(self) -> None:
        """Run the call in this thread, in the submitter's context, and settle it."""
        if not self.future.set_running_or_notify_cancel():
            self.release()
            return
        if self.timeout is not None:
            from . import _deadlines  # loaded with the first time limit

            try:
                _deadlines.arm(self, self.timeout)
            except RuntimeError as error:  # no thread can watch the limit: refuse to run
                self.set_exception(
                    RuntimeError(f"cannot run {self.name} within a time limit: {error}")
                )
                return
        gates = self.gates
        held: tuple[Gate, ...] = ()
        state = _worker
        if gates:  # what this call submits must not wait on its own places
            held = state.held
            state.held = held + gates
        outer, state.running = state.running, self.future
        try:
            try:
                if self.context is None:
                    result = self.fn(*self.args, **self.kwargs)
                else:
                    result = self.context.run(self.fn, *self.args, **self.kwargs)
            finally:
                state.running = outer
                if gates:
                    state.held = held
        except BaseException as exception:
            self.fail(exception)
            # The traceback holds this frame; drop our references so that the
            # future and the job are not kept alive by a reference cycle.
            self = None  # type: ignore[assignment]
        else:
            try:
                self.future.set_result(result)
            except InvalidStateError:  # settled already, by a timeout
                pass
            finally:
                self.release()

    def start(self) -> bool:
        """Mark the future running; ``False`` (and released) if it was cancelled.

        Also ``False`` (and released) if its timeout already failed it, which
        the standard library would log as a future "in unexpected state".
        """
        future = self.future
        with future._condition:
            started = (
                future._state not in (_FINISHED, _CANCELLED_AND_NOTIFIED)
                and future.set_running_or_notify_cancel()
            )
        if not started:
            self.release()
        return started

    def set_result(self, result: Any) -> None:
        """Settle the future with *result* (unless a timeout already settled it)."""
        try:
            if not self.future.done():
                try:
                    self.future.set_result(result)
                except InvalidStateError:  # settled meanwhile, by a timeout
                    pass
        finally:
            self.release()

    def fail(self, exception: BaseException) -> None:
        """The call raised *exception*: retry it if its ``retries=`` say so, else settle.

        A call asked to stop (see :func:`background.cancelled`) that raised
        :class:`~concurrent.futures.CancelledError` ends cancelled, not retried.
        """
        if isinstance(exception, CancelledError) and self.future._cancel_requested:
            self.cancel_running()
            return
        retry = self.retry
        if retry is not None and retry.again(self, exception):
            return
        self.set_exception(exception)

    def set_exception(self, exception: BaseException) -> None:
        """Settle the future with *exception*, naming the task for the logs."""
        future = self.future
        try:
            if not future.done():
                future._task_name = self.name
                try:
                    future.set_exception(exception)
                except InvalidStateError:  # settled meanwhile, by a timeout
                    pass
        finally:
            self.release()

    def hand_over(
        self, outcome: Any, failed: bool, *, raised: bool = False, here: bool = False
    ) -> None:
        """Settle the future with *outcome* (its result, or its exception if *failed*).

        For a thread that must stay responsive (a process pool's manager): if
        the future has done-callbacks, which may take their time or wait for
        this very pool, a settler thread settles it and runs them instead
        (unless *here*). An exception that the call *raised* may be retried.
        """
        settle = self.fail if raised else self.set_exception if failed else self.set_result
        if self.future._callbacks() and not here:
            from . import _settlers

            _settlers.hand_over(functools.partial(settle, outcome))
        else:
            settle(outcome)

    def expire(self, error: BaseException, attempt: int) -> None:
        """Fail the future of a call whose *attempt* ran over its time limit and cannot be stopped.

        The call keeps its place (outstanding, max_pending) until it ends, and
        is not retried; :func:`background.cancelled` turns ``True`` in it, so
        that it may stop. Nothing happens if that attempt has ended already.
        """
        future = self.future
        with future._condition:  # Retries.again() moves on to the next attempt under it
            if future.done() or self.attempt != attempt:
                return
            self.attempt = 0  # over its time limit: no retry
            future._cancel_requested = True
        future._task_name = self.name
        try:
            future.set_exception(error)
        except InvalidStateError:  # it finished meanwhile
            pass

    def cancel(self) -> None:
        """Cancel a job that never started; waiters count it as done at once."""
        future = self.future
        if future._state == _RUNNING:  # marked running by a worker that died before it
            self.cancel_running()
            return
        future._cancel_and_notify()
        self.release()

    def cancel_running(self) -> None:
        """Settle the future of a call stopped while it ran: it ends cancelled."""
        try:
            self.future._cancel_running()
        finally:
            self.release()

    def release(self) -> None:
        """Forget the job: it no longer counts as outstanding or pending.

        Its arguments are dropped too: whatever still holds the job (a done
        callback kept by another executor's future, say) must not keep them.
        """
        future = self.future
        self.outstanding.discard(future)
        if future._stop is not None:
            future._stop = None  # it held this job: no cycle left behind
        retry, self.retry = self.retry, None
        if retry is not None:
            retry.finished()
        gates, self.gates = self.gates, ()
        if gates:
            future._gates = ()  # its callbacks have run: it holds no place now
            for gate in gates:
                gate.leave()
        self.args = ()
        self.kwargs = _NO_KWARGS
