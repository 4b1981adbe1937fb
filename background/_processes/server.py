"""background's fork server: a clean process that forks worker processes on request.

It is started once per program, by the first process pool made (a fresh
interpreter, started with :func:`os.posix_spawn`, that runs no code of the
program's), imports the worker code, the code of a map's batches and what the
program asked it to preload, then waits. For each request it forks a worker, which is
therefore up in a millisecond with everything imported; it reaps its workers
and reports each one's exit code to the parent on that worker's status pipe.
It ends when the parent closes the control socket (or dies).
"""

from __future__ import annotations

import _socket
import os
import select
import struct
import sys

from . import worker
from .worker import signals


def main(control_fd: int, preload: list[str]) -> None:
    """Serve fork requests on *control_fd* until the parent closes it."""
    signals.signal(signals.SIGINT, signals.SIG_IGN)  # Ctrl-C is the parent's to handle
    _preload(["background._batch", *preload])  # a map's batches, and what the parent asked
    control = _socket.socket(fileno=control_fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signals.set_wakeup_fd(wake_w)
    signals.signal(signals.SIGCHLD, lambda *_: None)
    statuses: dict[int, int] = {}  # pid -> the write end of its status pipe
    while True:
        readable = select.select([control.fileno(), wake_r], [], [])[0]
        if wake_r in readable:
            _drain(wake_r)
            _reap(statuses)
        if control.fileno() in readable:
            message, fds = _receive(control)
            if not message:  # the parent is gone or done: so are we
                break
            if fds:
                pid = os.fork()
                if pid == 0:
                    _become_worker(fds, [control.fileno(), wake_r, wake_w, *statuses.values()])
                for fd in fds[:2]:  # the worker's ends now
                    os.close(fd)
                statuses[pid] = fds[2]
    control.close()
    _reap(statuses)


def _preload(names: list[str]) -> None:
    for name in names:
        try:
            __import__(name)
        except BaseException:  # a worker that needs it will fail clearly on its own
            pass


def _receive(control: _socket.socket) -> tuple[bytes, list[int]]:
    """A fork request and the worker's three pipe ends that came with it (none if not three)."""
    message, ancillary, _, _ = control.recvmsg(
        len(worker.FORK_REQUEST), _socket.CMSG_SPACE(worker.FORK_FDS.size)
    )
    fds: list[int] = []
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            whole = len(data) - len(data) % 4
            fds += struct.unpack(f"{whole // 4}i", data[:whole])
    if len(fds) == 3:
        return message, fds
    for fd in fds:  # pragma: no cover - not a request from our parent
        os.close(fd)
    return message, []


def _become_worker(fds: list[int], server_fds: list[int]) -> None:
    reader, writer, status = fds
    signals.set_wakeup_fd(-1)
    signals.signal(signals.SIGCHLD, signals.SIG_DFL)
    for fd in (status, *server_fds):
        os.close(fd)
    os.setpgid(0, 0)  # its own process group, so that stopping it stops its children
    os._exit(worker.run_forked(reader, writer))


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _reap(statuses: dict[int, int]) -> None:
    while statuses:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        fd = statuses.pop(pid, None)
        if fd is not None:
            try:
                os.write(fd, worker.EXIT_CODE.pack(os.waitstatus_to_exitcode(status)))
            except OSError:  # the parent stopped listening
                pass
            os.close(fd)


if __name__ == "__main__":  # pragma: no cover - started by forkserver.py
    main(int(sys.argv[1]), sys.argv[2:])
