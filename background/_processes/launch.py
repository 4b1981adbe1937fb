"""Starting worker processes, under each start method, without re-running ``__main__``.

:mod:`multiprocessing` starts a child under ``spawn`` and ``forkserver`` by
re-running the parent's main module in it (as ``__mp_main__``): a script
without an ``if __name__ == "__main__":`` guard then runs its top level again
in every worker. background needs none of that (a function from ``__main__``
travels by value), so it starts its workers itself:

* ``fork``: :func:`os.fork`, then the worker loop, in the child;
* ``spawn``: a fresh interpreter that imports only the worker code;
* ``forkserver``: background's own fork server (see :mod:`.server`), spawned
  once, which forks each worker from its clean, warm state.

Every worker runs in a process group of its own, so that stopping it also
stops the processes it started. This needs a POSIX system (Linux, macOS).
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from . import worker

if TYPE_CHECKING:
    import _socket
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


class WorkerProcess:
    """A started worker: its pid, a file descriptor that turns readable once it
    has ended, and its exit code then."""

    pid: int | None
    sentinel: int

    def ended(self) -> bool:
        """Reap the worker if it has ended; ``True`` if so (then :attr:`exitcode` is known)."""
        raise NotImplementedError

    exitcode: int | None = None

    def signal(self, number: int) -> None:
        """Send signal *number* to the worker and the processes it started."""
        pid = self.pid
        if pid is None or self.exitcode is not None:
            return
        for kill, target in ((os.killpg, pid), (os.kill, pid)):
            try:
                kill(target, number)
            except (ProcessLookupError, PermissionError):
                pass

    def close(self) -> None:
        """Release the sentinel."""
        try:
            os.close(self.sentinel)
        except OSError:
            pass


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


class _Served(WorkerProcess):
    """A worker forked by the fork server, which reports its exit code."""

    def __init__(self, status: int) -> None:
        self.pid = None  # told by the worker when it is ready
        self.sentinel = status

    def ended(self) -> bool:
        if self.exitcode is not None:
            return True
        try:
            data = os.read(self.sentinel, worker.EXIT_CODE.size)
        except BlockingIOError:
            return False
        if len(data) == worker.EXIT_CODE.size:
            self.exitcode = worker.EXIT_CODE.unpack(data)[0]
        else:  # the fork server died: the worker cannot be managed any more
            self.signal(signal.SIGKILL)
            self.exitcode = -signal.SIGKILL
        return True


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


#: The fields of :data:`sys.flags` that a command-line option sets.
_FLAGS = ["debug", "optimize", "dont_write_bytecode", "no_user_site", "no_site", "verbose"]
_FLAGS += ["ignore_environment", "bytes_warning", "quiet", "isolated", "safe_path"]


def _interpreter() -> list[str]:
    """This interpreter, with the command-line options it runs with (``-O``, ``-X dev``...)."""
    if not sys.executable:
        raise RuntimeError("cannot start a worker process: sys.executable is not known")
    flags = sys.flags
    if not (sys.warnoptions or sys._xoptions or any(getattr(flags, f, 0) for f in _FLAGS)):
        return [sys.executable]  # the common case, known without importing subprocess
    import subprocess

    options: list[str] = getattr(subprocess, "_args_from_interpreter_flags", list)()
    return [sys.executable, *options]


def _boot(module: str, *args: object) -> str:
    """Code for ``python -c`` that runs *module*'s ``main`` with the parent's sys.path."""
    return (
        f"import sys; sys.path[:] = {sys.path!r}; "
        f"from background._processes.{module} import main; "
        f"sys.exit(main(*{args!r}))"
    )


def launch(method: str, close_in_child: tuple[int, ...]) -> tuple[worker.Channel, WorkerProcess]:
    """Start one worker by *method*; return the parent's channel to it, and it."""
    channel, ends = _pipes()
    try:
        if method == "fork":
            process = _fork(ends, (channel.reader, channel.writer, *close_in_child))
        elif method == "spawn":
            process = _spawn(ends)
        else:
            process = _fork_server.launch(ends)
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
            [*_interpreter(), "-c", _boot("worker", *ends)],
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


class _ForkServer:
    """The parent's end of the fork server: started once, shared by every pool.

    It is started with :func:`os.posix_spawn` and driven through :mod:`_socket`
    (the C module behind :mod:`socket`): :mod:`subprocess` and :mod:`socket`
    would cost the first pool a few milliseconds to import, before the server
    even starts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._control: _socket.socket | None = None
        self._pid: int | None = None

    def start(self) -> None:
        """Start the server unless it runs (a new pool does, so that it boots meanwhile).

        Raises:
            OSError: it cannot start (out of processes, say).
        """
        with self._lock:
            if self._control is None:
                self._start()

    def launch(self, ends: tuple[int, int]) -> WorkerProcess:
        """Have the fork server fork a worker with *ends* as its pipes."""
        import _socket

        status_r, status_w = os.pipe()
        fds = worker.FORK_FDS.pack(*ends, status_w)
        try:
            with self._lock:
                for attempt in (1, 2):
                    control = self._control or self._start()
                    try:
                        control.sendmsg(
                            [worker.FORK_REQUEST], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)]
                        )
                        break
                    except OSError:  # the server died: start another, once
                        self._forget()
                        if attempt == 2:
                            raise
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
        return _Served(status_r)

    def _start(self) -> _socket.socket:
        import _socket

        ours, theirs = _socket.socketpair()
        try:
            given = theirs.fileno()
            fd = 3 if given != 3 else 4  # the server's number for it: not given's (see below)
            preload = [name for name in ("cloudpickle",) if name in sys.modules]
            command = [*_interpreter(), "-c", _boot("server", fd, preload)]
            self._pid = os.posix_spawn(
                command[0],
                command,
                os.environ,
                # Only fd and the standard streams reach the server, as with
                # subprocess's close_fds: dup2 onto another number clears
                # close-on-exec, and what this process left inheritable is closed.
                file_actions=[
                    *((os.POSIX_SPAWN_CLOSE, each) for each in _inheritable(given)),
                    (os.POSIX_SPAWN_DUP2, given, fd),
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                ],
                setpgroup=0,  # a process group of its own: Ctrl-C is the parent's to handle
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._control = ours
        return ours

    def _forget(self) -> None:
        control, self._control = self._control, None
        if control is not None:
            control.close()
        pid, self._pid = self._pid, None
        if pid is not None:
            _reap(pid, 0.0)  # if it died already; else it ends once it sees its socket closed

    def stop(self) -> None:
        """Close the control socket (the server then exits) and reap the server."""
        with self._lock:
            pid = self._pid
            self._pid = None
            self._forget()
        if pid is not None:
            _reap(pid, 5.0)

    def forget_in_child(self) -> None:
        """In a forked child: the parent's server is not ours; start our own later."""
        self._lock = threading.Lock()
        control, self._control, self._pid = self._control, None, None
        if control is not None:
            try:
                os.close(control.detach())
            except OSError:
                pass


def _inheritable(keep: int) -> list[int]:
    """This process's inheritable descriptors, but the standard streams and *keep*."""
    found = []
    for name in os.listdir("/dev/fd"):  # Linux and macOS
        each = int(name)
        try:
            if each > 2 and each != keep and os.get_inheritable(each):
                found.append(each)
        except OSError:  # the listing's own descriptor, or closed meanwhile
            pass
    return found


def _reap(pid: int, seconds: float) -> None:
    """Wait up to *seconds* for the child *pid* to end (then kill it), and reap it."""
    deadline = time.monotonic() + seconds
    delay = 0.0005
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except ChildProcessError:  # reaped already
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    if seconds:  # pragma: no cover - stuck at exit: do not wait any longer
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


_fork_server = _ForkServer()


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
    """Start the fork server now unless it runs (it is shared by every pool)."""
    _fork_server.start()


def stop_fork_server() -> None:
    """At exit: let the fork server end."""
    _fork_server.stop()


def forget_in_child() -> None:
    """After a fork, in the child: the parent's fork server is not the child's."""
    _fork_server.forget_in_child()
