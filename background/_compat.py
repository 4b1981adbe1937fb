"""Every switch on the Python version or the platform, the at-fork hooks, and
the one shortcut through the standard library's internals (checked at import,
with the standard way as the fallback).

A leaf: it imports nothing from background, so that every other module may
import it.
"""

from __future__ import annotations

import _thread
import contextvars
import functools
import os
import sys
import threading
from collections import deque

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: ``import background`` stays cheap
    from types import ModuleType
    from typing import Any, Callable

#: Python 3.14 lets a new thread inherit the context of the code that starts it.
THREADS_TAKE_A_CONTEXT = sys.version_info >= (3, 14)
#: Before 3.13, a ``SimpleQueue.get(timeout=...)`` woken by a ``put`` whose item
#: another consumer takes first waits for ever once its deadline has passed
#: (the time left is negative, which the lock reads as "no limit").
SIMPLE_QUEUE_TIMED_GET_CAN_HANG = sys.version_info < (3, 13)
#: ``os.fork`` exists (POSIX): worker processes and at-fork hooks are possible.
CAN_FORK = hasattr(os, "fork")

_in_child: list[Callable[[], object]] = []
_late_hooks: list[Callable[[], object]] = []
_import_lock = threading.Lock()


def overload(fn: object) -> object:
    """:func:`typing.overload` at run time, where typing is not imported."""
    return fn


def cpu_count() -> int:
    """The number of CPUs this process may use (at least 1)."""
    counter = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counter is not None:
        return int(counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def daemon_thread(target: Callable[[], object], name: str) -> threading.Thread:
    """A daemon thread for background's own work, started in an empty context.

    Python 3.14 lets a new thread inherit the context of the code that starts
    it (free-threaded builds do by default): a worker must not see, nor keep
    alive, the context variables of whichever submitter happened to start it.
    """
    if THREADS_TAKE_A_CONTEXT:
        return threading.Thread(  # type: ignore[call-arg, unused-ignore]
            target=target, name=name, daemon=True, context=contextvars.Context()
        )
    return threading.Thread(target=target, name=name, daemon=True)


def start_daemon_thread(target: Callable[[], object], name: str) -> bool:
    """Start *target* in a :func:`daemon_thread`; ``False`` if no thread can start."""
    try:
        daemon_thread(target, name).start()
    except RuntimeError:  # interpreter shutting down, or out of threads
        return False
    return True


def after_fork_in_child(hook: Callable[[], object]) -> None:
    """Run *hook* in a forked child, after the hooks registered before it.

    Every module's state that a fork copies (locks, queues, the parent's
    calls) is forgotten through here, in the order the modules were imported:
    the lower layers first.
    """
    _in_child.append(hook)


def _run_child_hooks() -> None:
    for hook in _in_child:
        hook()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_run_child_hooks)


def executor_module(name: str) -> ModuleType:
    """Import ``concurrent.futures.thread`` or ``.process``, even during the exit.

    Each registers an exit hook with threading on first import, which threading
    refuses once the main thread has ended ("can't register atexit after
    shutdown"); background needs them then for a pool made while the exit
    waits. Such a hook is kept, and :func:`run_late_hooks` runs it when
    background's wait ends, which is when threading would have run it.
    """
    module = sys.modules.get(name)
    if module is not None:
        return module
    import importlib

    try:
        return importlib.import_module(name)
    except RuntimeError:
        if not getattr(threading, "_SHUTTING_DOWN", False):
            raise
    with _import_lock:
        register = threading._register_atexit  # type: ignore[attr-defined]
        threading._register_atexit = _keep_late_hook  # type: ignore[attr-defined]
        try:
            return importlib.import_module(name)
        finally:
            threading._register_atexit = register  # type: ignore[attr-defined]


def _keep_late_hook(hook: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    _late_hooks.append(functools.partial(hook, *args, **kwargs))


def run_late_hooks() -> None:
    """Run the exit hooks that :func:`executor_module` kept, newest first."""
    while _late_hooks:
        _late_hooks.pop()()


def _forget_import_lock_in_child() -> None:
    global _import_lock
    _import_lock = threading.Lock()


after_fork_in_child(_forget_import_lock_in_child)


#: What ``threading.Condition(lock)`` and ``concurrent.futures.Future()`` keep,
#: in the Pythons that background knows (3.9 to 3.13).
_CONDITION_LAYOUT = {"_lock", "acquire", "release", "_release_save", "_acquire_restore"}
_CONDITION_LAYOUT |= {"_is_owned", "_waiters"}
_FUTURE_LAYOUT = {"_condition", "_state", "_result", "_exception", "_waiters", "_done_callbacks"}


_new_rlock: Callable[[], Any] = getattr(_thread, "RLock", threading.RLock)  # the C one


class LeanCondition(threading.Condition):
    """A :class:`threading.Condition` on a new RLock, keeping none of its bound methods.

    The standard one stores five bound methods of its lock on itself. Each
    future has a condition: a program that holds many futures would have the
    garbage collector track five more objects for each, in every collection.
    """

    def __init__(self) -> None:  # not the base's: it would store the bound methods
        self._lock = _new_rlock()
        self._waiters: deque[Any] = deque()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Acquire the lock (see :meth:`threading.Condition.acquire`)."""
        return bool(self._lock.acquire(blocking, timeout))

    def release(self) -> None:
        """Release the lock (see :meth:`threading.Condition.release`)."""
        self._lock.release()

    def _release_save(self) -> Any:
        return self._lock._release_save()

    def _acquire_restore(self, state: Any) -> None:
        self._lock._acquire_restore(state)

    def _is_owned(self) -> bool:
        return bool(self._lock._is_owned())


def future_initializer(base: type[Any]) -> Callable[[Any], None]:
    """How to initialize a subclass of *base* (``concurrent.futures.Future``).

    As *base* does, but with a :class:`LeanCondition`, where this Python's
    future and condition keep what they keep in 3.9 to 3.13; else *base*'s own.
    """
    known = set(vars(threading.Condition(threading.RLock()))) == _CONDITION_LAYOUT
    probe = base()
    if not known or set(vars(probe)) != _FUTURE_LAYOUT:
        return base.__init__  # type: ignore[no-any-return]
    pending = probe._state

    def initialize(future: Any) -> None:
        future._condition = LeanCondition()
        future._state = pending
        future._result = None
        future._exception = None
        future._waiters = []
        future._done_callbacks = []

    return initialize
