"""Starting worker processes, under each start method, without re-running ``__main__``.

:mod:`multiprocessing` starts a child under ``spawn`` and ``forkserver`` by
re-running the parent's main module in it (as ``__mp_main__``): a script
without an ``if __name__ == "__main__":`` guard then runs its top level again
in every worker. background needs none of that (a function from ``__main__``
travels by value), so it starts its workers itself:

* ``fork``: :func:`os.fork`, then the worker loop, in the child;
* ``spawn``: a fresh interpreter that imports only the worker code;
* ``forkserver``: background's own fork server (see :mod:`.forkserver` and
  :mod:`.server`), started once, which forks each worker from its clean, warm
  state.

Every worker runs in a process group of its own, so that stopping it also
stops the processes it started. This needs a POSIX system (Linux, macOS).
"""

from __future__ import annotations

import os
import pickle
import sys
from typing import TYPE_CHECKING, Any

from . import forkserver, worker
from .child import WorkerProcess, boot, interpreter

if TYPE_CHECKING:
    import subprocess

METHODS = ("fork", "spawn", "forkserver")

_default_method: str | None = None


def start_methods() -> list[str]:
    """The start methods background offers here (none where there is no fork)."""
    return list(METHODS) if hasattr(os, "fork") else []


def default_start_method() -> str:
    """How worker processes start unless told: never ``fork`` unless asked for.

    A process pool always runs a manager thread in the parent, and forking a
    process that has threads can deadlock the child (a lock held by another
    thread at that moment stays held for ever; Python 3.12+ warns). So,
    unless :func:`multiprocessing.set_start_method` chose a method for the
    program before its first process pool, workers start from a fork server,
    as Python 3.14 does by default on Linux. Decided once, at the first pool.
    """
    global _default_method
    if _default_method is None:
        chosen = None
        multiprocessing = sys.modules.get("multiprocessing")
        if multiprocessing is not None:
            chosen = multiprocessing.get_start_method(allow_none=True)
        _default_method = chosen if chosen in METHODS else "forkserver"
    return _default_method


def check_platform() -> None:
    """Raise a clear error where background cannot start worker processes."""
    if not hasattr(os, "fork"):
        raise NotImplementedError(
            "background's worker processes need a POSIX system (Linux, macOS); "
            "here, use Pool(executor=concurrent.futures.ProcessPoolExecutor()) instead"
        )


class _Child(WorkerProcess):
    """A worker that is this process's own child (started by fork or spawn)."""

    def __init__(self, pid: int, popen: subprocess.Popen[bytes] | None, sentinel: int) -> None:
        self.pid = pid
        self.popen = popen
        self.sentinel = sentinel

    def ended(self) -> bool:
        if self.exitcode is not None:
            return True
        if self.popen is not None:
            code = self.popen.poll()
        else:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)  # type: ignore[arg-type]
            except ChildProcessError:  # reaped elsewhere
                pid, status = self.pid or 0, 255 << 8
            code = os.waitstatus_to_exitcode(status) if pid else None
        self.exitcode = code
        return code is not None


def _has_pidfd() -> bool:
    try:
        os.close(os.pidfd_open(os.getpid()))
    except (AttributeError, OSError):  # not Linux, or an old kernel
        return False
    return True


#: Whether a child's end can be watched with a pidfd; else a pipe that the child
#: holds open until it ends tells (its grandchildren may hold it longer).
_PIDFD = _has_pidfd()


def _exit_pipe() -> tuple[int | None, int | None]:
    return (None, None) if _PIDFD else os.pipe()


def _child(
    pid: int, popen: subprocess.Popen[bytes] | None, exit_r: int | None, exit_w: int | None
) -> _Child:
    if exit_r is None:
        return _Child(pid, popen, os.pidfd_open(pid))
    os.close(exit_w)  # type: ignore[arg-type]
    return _Child(pid, popen, exit_r)


def _pipes() -> tuple[worker.Channel, tuple[int, int]]:
    """The parent's channel to a new worker, and the worker's two pipe ends."""
    calls_r, calls_w = os.pipe()
    replies_r, replies_w = os.pipe()
    return worker.Channel(replies_r, calls_w), (calls_r, replies_w)


def launch(method: str, close_in_child: tuple[int, ...]) -> tuple[worker.Channel, WorkerProcess]:
    """Start one worker by *method*; return the parent's channel to it, and it."""
    channel, ends = _pipes()
    try:
        if method == "fork":
            process = _fork(ends, (channel.reader, channel.writer, *close_in_child))
        elif method == "spawn":
            process = _spawn(ends)
        else:
            process = forkserver.fork_worker(ends)
    except BaseException:
        channel.close()
        raise
    finally:
        for fd in ends:
            os.close(fd)
    return channel, process


def _fork(ends: tuple[int, int], close_in_child: tuple[int, ...]) -> WorkerProcess:
    exit_r, exit_w = _exit_pipe()
    worker.flush_standard_streams()  # else the child would write out the parent's buffers again
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child (measured in the worker's own coverage)
        code = 1
        try:
            for fd in close_in_child:
                os.close(fd)
            if exit_r is not None:
                os.close(exit_r)
            os.setpgid(0, 0)
            code = worker.run_forked(*ends)
        finally:
            os._exit(code)
    return _child(pid, None, exit_r, exit_w)


def _spawn(ends: tuple[int, int]) -> WorkerProcess:
    import subprocess

    exit_r, exit_w = _exit_pipe()
    try:
        popen = subprocess.Popen(
            [*interpreter(), "-c", boot("worker", *ends)],
            pass_fds=ends if exit_w is None else (*ends, exit_w),
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group; Ctrl-C is the parent's
        )
    except BaseException:
        for fd in (exit_r, exit_w):
            if fd is not None:
                os.close(fd)
        raise
    return _child(popen.pid, popen, exit_r, exit_w)


def setup_message(initializer: bytes | None, measure_memory: bool) -> bytes:
    """The first message to a new worker: what it needs to run calls as this process would."""
    options: dict[str, Any] = {
        "path": list(sys.path),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "initializer": initializer,
        "measure_memory": measure_memory,
    }
    return pickle.dumps(options, pickle.HIGHEST_PROTOCOL)


def start_fork_server() -> None:
    """Start the fork server now unless it runs (it is shared by every pool).

    If it cannot start (out of processes, say), the first worker's launch
    tries again, and fails the calls with the reason.
    """
    try:
        forkserver.start()
    except (OSError, RuntimeError):
        pass


def stop_fork_server() -> None:
    """At exit: let the fork server end."""
    forkserver.stop()


def forget_in_child() -> None:
    """After a fork, in the child: the parent's fork server is not the child's."""
    forkserver.forget_in_child()
