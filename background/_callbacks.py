"""Done-callbacks: the ones registered for every task, and a task's own."""

from __future__ import annotations

import threading

from ._future import call_callback

TYPE_CHECKING = False
if TYPE_CHECKING:
    import concurrent.futures
    from typing import Any, Callable

    from ._future import Future

    Callback = Callable[[Future[Any]], object]

_lock = threading.Lock()
#: Registered with ``@background.callback``: added to every task's calls.
registered: tuple[Callback, ...] = ()


def add(fn: Callback) -> None:
    """Add *fn* to every task call submitted from now on."""
    global registered
    with _lock:
        registered = (*registered, fn)


def remove(fn: Callback) -> None:
    """Stop adding *fn* to new task calls (those submitted keep it)."""
    global registered
    with _lock:
        registered = tuple(c for c in registered if c is not fn)


def reset() -> None:
    """Forget every registered callback (for tests)."""
    global registered
    with _lock:
        registered = ()


class TaskCallbacks:
    """Runs a task's done-callbacks in order; one that raises is logged, naming the task."""

    __slots__ = ("callbacks", "fn")

    def __init__(self, callbacks: tuple[Callback, ...], fn: Callable[..., Any]) -> None:
        self.callbacks = callbacks
        self.fn = fn

    def __call__(self, future: concurrent.futures.Future[Any]) -> None:
        for callback in self.callbacks:
            call_callback(callback, future, self.fn)  # type: ignore[arg-type]
