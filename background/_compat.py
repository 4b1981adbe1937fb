"""Every switch on the Python version or the platform, and the at-fork hooks.

A leaf: it imports nothing from background, so that every other module may
import it.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys
import threading

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
