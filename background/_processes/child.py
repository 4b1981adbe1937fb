"""A worker process as the parent sees it, and the command line of a fresh one.

Workers are this process's children (``fork``, ``spawn``) or the fork
server's (see :mod:`.forkserver`); a fresh interpreter (``spawn``, the fork
server) runs one of this package's modules with the parent's ``sys.path``.
"""

from __future__ import annotations

import os
import sys


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


#: The fields of :data:`sys.flags` that a command-line option sets.
_FLAGS = ["debug", "optimize", "dont_write_bytecode", "no_user_site", "no_site", "verbose"]
_FLAGS += ["ignore_environment", "bytes_warning", "quiet", "isolated", "safe_path"]


def interpreter() -> list[str]:
    """This interpreter, with the command-line options it runs with (``-O``, ``-X dev``...)."""
    if not sys.executable:
        raise RuntimeError("cannot start a worker process: sys.executable is not known")
    flags = sys.flags
    if not (sys.warnoptions or sys._xoptions or any(getattr(flags, f, 0) for f in _FLAGS)):
        return [sys.executable]  # the common case, known without importing subprocess
    import subprocess

    options: list[str] = getattr(subprocess, "_args_from_interpreter_flags", list)()
    return [sys.executable, *options]


def boot(module: str, *args: object) -> str:
    """Code for ``python -c`` that runs *module*'s ``main`` with the parent's sys.path."""
    return (
        f"import sys; sys.path[:] = {sys.path!r}; "
        f"from background._processes.{module} import main; "
        f"sys.exit(main(*{args!r}))"
    )
