"""Functions that worker processes import by reference in tests/test_processes.py.

A separate, light module: a spawned worker imports it without importing pytest.
It holds no tests.
"""

from __future__ import annotations

import contextvars
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import background

SETTING = "unset"
VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="default")


def read_var() -> str:
    """The worker's value of VAR."""
    return VAR.get()


def pid() -> int:
    """The worker's process id."""
    return os.getpid()


def square(x: int) -> int:
    """x squared."""
    return x * x


@background.task(process=True)
def cube(x: int) -> int:
    """A decorated module-level function: the module attribute is the wrapper."""
    return x * x * x


@background.task(process=True)
def cube_twice(x: int) -> int:
    """Calls another decorated function's original from inside a worker."""
    return cube.__wrapped__(cube.__wrapped__(x))


def slow_pid(seconds: float) -> int:
    """Sleep, then return the worker's pid."""
    time.sleep(seconds)
    return os.getpid()


def exit_now(code: int) -> None:
    """Leave the worker at once, as a crash in C code would."""
    os._exit(code)


def write_pid_and_sleep(path: str, seconds: float) -> int:
    """Record the worker's pid in *path*, then sleep."""
    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)
    return os.getpid()


def kill_myself() -> None:
    """SIGKILL the worker from inside."""
    os.kill(os.getpid(), signal.SIGKILL)


def make_lock() -> Any:
    """Return a value that cannot be pickled."""
    return threading.Lock()


class HoldsALock(Exception):
    """An exception that cannot be pickled: it holds a lock."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


def raise_value_error(x: int) -> None:
    """Raise a plain exception."""
    raise ValueError(f"bad value {x}")


def raise_unpicklable() -> None:
    """Raise an exception that cannot come back as it is."""
    raise HoldsALock("locked up")


def fail_at(x: int, bad: int) -> int:
    """Return x, except for *bad*."""
    if x == bad:
        raise ValueError(f"item {x} is bad")
    return x


def set_setting(value: str) -> None:
    """An initializer."""
    global SETTING
    SETTING = value


def get_setting() -> str:
    """What the initializer set."""
    return SETTING


def broken_initializer() -> None:
    """An initializer that fails."""
    raise RuntimeError("no database")


def touch_later(path: str, seconds: float) -> str:
    """Sleep, then create *path*."""
    time.sleep(seconds)
    Path(path).write_text("done")
    return path


def wait_for(path: str, seconds: float) -> bool:
    """Sleep until *path* exists (or *seconds* pass)."""
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.path.exists(path)


def _exit_while_unpickled() -> None:
    raise SystemExit("cannot rebuild this result")


def _interrupt_while_unpickled() -> None:
    raise KeyboardInterrupt


class ExitsWhenUnpickled:
    """A value whose unpickling raises SystemExit (or KeyboardInterrupt)."""

    def __init__(self, interrupt: bool = False) -> None:
        self.interrupt = interrupt

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (_interrupt_while_unpickled if self.interrupt else _exit_while_unpickled), ()


def make_exits_when_unpickled(interrupt: bool = False) -> ExitsWhenUnpickled:
    """Return a result that the parent cannot rebuild."""
    return ExitsWhenUnpickled(interrupt)


class TwoArgsBadStr(Exception):
    """Cannot be rebuilt from its args, and its __str__ raises."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(a)
        self.b = b

    def __str__(self) -> str:
        raise RuntimeError("__str__ exploded")


def raise_two_args_bad_str() -> None:
    """Raise an exception that can be neither sent back nor printed."""
    raise TwoArgsBadStr("a", "b")


def raise_self_referencing() -> None:
    """Raise an exception whose args contain itself."""
    error = ValueError("cycle")
    error.args = (error,)
    raise error


def signal_then_wait(started: str, release: str, seconds: float) -> int:
    """Create *started*, then sleep until *release* exists; return the worker's pid."""
    Path(started).write_text(str(os.getpid()))
    wait_for(release, seconds)
    return os.getpid()


class Big:
    """Stands for a large argument."""


def after_a_while(value: object) -> str:
    """Return *value*'s type name a little later."""
    time.sleep(0.05)
    return type(value).__name__


def exit_at(x: int, bad: int) -> int:
    """Return x, except that the worker dies at once on *bad*."""
    if x == bad:
        os._exit(7)
    return x


def spawn_child_and_wait(started: str, seconds: float) -> int:
    """Start a child process that sleeps, record both pids in *started*, then wait."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
    Path(started).write_text(f"{os.getpid()} {child.pid}")
    child.wait()
    return os.getpid()


def grow_memory(megabytes: int) -> int:
    """Keep *megabytes* of memory alive in the worker; return its pid."""
    global _KEPT
    _KEPT = bytearray(megabytes << 20)
    return os.getpid()


_KEPT = bytearray()


def use_nested_pools(method: str) -> tuple[list[int], bool, bool, bool]:
    """Inside a worker: a process pool and a thread pool of its own, and a
    :class:`multiprocessing.Process` (which a daemonic process may not start)."""
    import multiprocessing

    with background.Pool(2, process=True, start_method=method) as inner:
        pids = [inner.submit(pid).result(60) for _ in range(2)]
        results = list(inner.map(square, range(4)))
    with background.Pool(2) as threads:
        here = threads.submit(os.getpid).result(60)
    child = multiprocessing.get_context(method).Process(target=exit_now, args=(3,))
    child.start()
    child.join(60)
    return (
        results,
        os.getpid() not in pids,
        here == os.getpid(),
        child.exitcode == 3 and not multiprocessing.current_process().daemon,
    )


def cancelled_here() -> bool:
    """``background.cancelled()`` as a call in a worker process sees it."""
    return background.cancelled()


def last_waits_for(x: int, last: int, path: str) -> int:
    """Return *x*; the call for *last* first waits until *path* exists."""
    if x == last:
        deadline = time.monotonic() + 60
        while not Path(path).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(path)
            time.sleep(0.005)
    return x


def odd_fails(x: int) -> int:
    """*x*, or ValueError for an odd *x*."""
    if x % 2:
        raise ValueError(f"odd {x}")
    return x


def touch_and_fail(path: str) -> None:
    """Create *path*, then raise ConnectionError."""
    Path(path).touch()
    raise ConnectionError("flaky")
