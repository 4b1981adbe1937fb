"""Testing mode: ``background.eager()`` runs every call at once, in the caller.

This module keeps the mode; :mod:`background._inline` runs the calls.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType

_lock = threading.Lock()
#: Read on every submission, without the lock (reading a bool is atomic):
#: the mode of the last ``with`` block entered that is still open, else the switch.
on = False
#: The open ``with eager(...)`` blocks, oldest first, in every thread.
_blocks: list[EagerMode] = []
#: Each thread's last call of :func:`eager`, until it enters a ``with`` block
#: (then it was no switch) or calls again (then it was one).
_pending: dict[int, EagerMode] = {}
#: The last call known to be a switch, as (its number, its mode).
_switched: tuple[int, bool] = (0, False)
_calls = 0


def eager(enabled: bool = True, /) -> AbstractContextManager[None]:
    """Run every task at once, in the thread that calls it: a testing mode.

    While it is on, a call of a ``@background.task`` function, of
    :func:`background.run`, of :meth:`Pool.submit <background.Pool.submit>`
    or :meth:`Pool.map <background.Pool.map>`, on any pool (threads,
    processes, an executor, dask), runs to its end before the call returns,
    in the caller's thread: a test sees its effects at once, needs no wait,
    and a debugger or ``breakpoint()`` stops inside it. Everything else is as
    usual: the call returns a :class:`~background.Future`, already done; its
    done-callbacks (the task's, :func:`background.callback`'s) have run; a
    call that raises fails its future (``result()`` raises, with the
    traceback from inside the call) instead of raising at the call site;
    ``max_pending`` and a closed pool behave as they would.

    A few things differ, necessarily:

    * Nothing runs at the same time: a call that waits for another call to
      start (an event that the other one sets) waits for ever.
    * *retries* happen at once, without their wait (as in stamina's testing
      mode), so that a test of a retrying task is not slow; the number of
      attempts and the outcome are the same.
    * A *timeout* cannot stop a call that runs in the caller: it runs to its
      end, and if it ran over its time limit its future has failed with
      :class:`concurrent.futures.TimeoutError` by then, as on threads.
    * On a process pool the call is pickled as it would be sent to a worker
      process (the same rules, errors and messages: an argument that cannot
      be pickled raises :class:`pickle.PicklingError` at the call), run on
      the unpickled copies, and its result or exception is pickled back, so
      a test catches what would not survive the trip; no worker process
      starts. Context variables do not reach the call, as they do not reach
      a worker process. (Elsewhere the call sees a copy of the caller's, as
      on threads.)
    * Ctrl-C during a call (a :class:`KeyboardInterrupt`) is raised in the
      caller instead of failing the future.

    The mode is process-wide: it applies to calls made in every thread, from
    the moment ``eager()`` is called. Used as a context manager, ``with
    background.eager():``, it lasts for the ``with`` block, then the mode
    goes back to what it was before; called on its own it is a switch:
    ``background.eager()`` turns it on for good, ``background.eager(False)``
    off. Blocks may nest, and open and close in several threads at once: the
    mode is that of the last block entered that is still open, else that of
    the last switch.

    Args:
        enabled: turn eager mode on (the default) or off.

    Returns:
        A context manager that puts the previous mode back on exit.

    .. versionadded:: 1.1

    Example:
        >>> import background
        >>> @background.task
        ... def double(x):
        ...     return 2 * x

        >>> with background.eager():
        ...     future = double(21)
        ...     future.done()
        True

        >>> future.result()
        42
    """
    global _calls
    given: object = enabled  # typed as a bool, but anything can come in
    if not isinstance(given, bool):
        from ._diagnostics import describe

        raise TypeError(f"background.eager() takes True or False, got {describe(given)}")
    with _lock:
        _calls += 1
        mode = EagerMode(enabled, _calls)
        earlier = _pending.get(mode.thread)
        if earlier is not None:  # not entered before this call: it was a switch
            _switch_from(earlier)
        _pending[mode.thread] = mode
        _update()
    return mode


def _switch_from(mode: EagerMode) -> None:
    global _switched
    if mode.call > _switched[0]:
        _switched = (mode.call, mode.enabled)


def _update() -> None:
    """Work out the mode (under the lock): the last open block's, else the last switch's."""
    global on
    if _blocks:
        on = _blocks[-1].enabled
        return
    latest = _switched
    for mode in _pending.values():  # calls that may still be switches
        if mode.call > latest[0]:
            latest = (mode.call, mode.enabled)
    on = latest[1]


def reset() -> None:
    """Off, with no block open (for the tests' fixtures)."""
    global _switched
    with _lock:
        _blocks.clear()
        _pending.clear()
        _switched = (_calls, False)
        _update()


class EagerMode(AbstractContextManager[None]):
    """What :func:`background.eager` returns: a context manager for a block of that mode."""

    __slots__ = ("call", "enabled", "thread")

    def __init__(self, enabled: bool, call: int) -> None:
        self.enabled = enabled
        #: The number of the :func:`eager` call that made it (later calls win).
        self.call = call
        self.thread = threading.get_ident()

    def __enter__(self) -> None:
        with _lock:
            if _pending.get(self.thread) is self:
                del _pending[self.thread]  # a block, not a switch
            _blocks.append(self)
            _update()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with _lock:
            for index in range(len(_blocks) - 1, -1, -1):
                if _blocks[index] is self:
                    del _blocks[index]
                    break
            _update()

    def __repr__(self) -> str:
        return f"<background.eager({self.enabled})>"
