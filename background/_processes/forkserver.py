"""The parent's end of background's fork server (the server itself: :mod:`.server`).

The first process pool starts it, and every pool of the program has it fork
its workers. It is started with :func:`os.posix_spawn` and driven through
:mod:`_socket` (the C module behind :mod:`socket`): :mod:`subprocess` and
:mod:`socket` would cost the first pool a few milliseconds to import, before
the server even starts.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from . import worker
from .child import WorkerProcess, boot, interpreter

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    from typing import Any


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


class _ForkServer:
    """The parent's end of the fork server: started once, shared by every pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._control: _socket.socket | None = None
        self._pid: int | None = None

    def start(self) -> None:
        """Start the server unless it runs (a new pool does, so that it boots meanwhile).

        Raises:
            OSError: it cannot start (out of processes, say).
            RuntimeError: ``sys.executable`` is not known.
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
            command = [*interpreter(), "-c", boot("server", fd, preload)]
            # Only fd and the standard streams reach the server, as with
            # subprocess's close_fds: dup2 onto another number clears
            # close-on-exec, and what this process left inheritable is closed.
            actions = [
                *((os.POSIX_SPAWN_CLOSE, each) for each in _inheritable(given)),
                (os.POSIX_SPAWN_DUP2, given, fd),
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            ]
            self._pid = _spawn_apart(command, actions)
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


def _spawn_apart(command: list[str], actions: list[tuple[Any, ...]]) -> int:
    """Start *command* in a session of its own, as ``start_new_session`` does.

    Ctrl-C in the terminal is the parent's to handle, and neither the server
    nor its workers have a terminal that could stop them for writing to it.
    """
    try:
        return os.posix_spawn(command[0], command, os.environ, file_actions=actions, setsid=True)
    except NotImplementedError:  # pragma: no cover - an old C library: a process group
        return os.posix_spawn(command[0], command, os.environ, file_actions=actions, setpgroup=0)


def _inheritable(keep: int) -> list[int]:
    """This process's inheritable descriptors, but the standard streams and *keep*."""
    found = []
    for each in _open_descriptors():
        try:
            if each > 2 and each != keep and os.get_inheritable(each):
                found.append(each)
        except OSError:  # the listing's own descriptor, or closed meanwhile
            pass
    return found


def _open_descriptors() -> list[int]:
    for folder in ("/dev/fd", "/proc/self/fd"):  # macOS and Linux; Linux
        try:
            return [int(name) for name in os.listdir(folder)]
        except OSError:
            continue
    return list(range(3, min(os.sysconf("SC_OPEN_MAX"), 1 << 16)))  # pragma: no cover


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


def start() -> None:
    """Start the fork server unless it runs.

    Raises:
        OSError: it cannot start (out of processes, say).
        RuntimeError: ``sys.executable`` is not known.
    """
    _fork_server.start()


def fork_worker(ends: tuple[int, int]) -> WorkerProcess:
    """Have the fork server fork a worker with *ends* as its pipes (starting it if need be)."""
    return _fork_server.launch(ends)


def stop() -> None:
    """Let the fork server end, and reap it."""
    _fork_server.stop()


def forget_in_child() -> None:
    """In a forked child: the parent's server is not the child's."""
    _fork_server.forget_in_child()
