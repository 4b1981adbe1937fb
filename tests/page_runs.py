"""Running a page's code as a reader would: saved as a file, or pasted into ``python -i``.

Each run is a fresh interpreter (``sys.executable``, so that each tox environment
checks its own Python) started in a new empty folder, with a hard timeout and
the environment of a plain shell: the ``PYTHON*`` variables that tox and the
test settings add (development mode, for one) are left out.

No internet here, so every run gets a local HTTP server that stands in for it,
through the standard ``http_proxy`` variable: a page that fetches
``http://www.python.org/`` gets a small HTML page back, and a host named
``nonexistent...`` fails with an HTTP error as a missing host would fail. The
pages that fetch say so. That is the only difference from a run on a
connected machine.
"""

from __future__ import annotations

import collections
import contextlib
import http.server
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Far above what any page needs (a few seconds), so that only a hang reaches it.
TIMEOUT = 120


class _FakeInternet(http.server.BaseHTTPRequestHandler):
    """An HTTP proxy that answers every request itself."""

    def do_GET(self) -> None:
        host = self.path.split("/")[2] if self.path.startswith("http://") else "localhost"
        if host.startswith("nonexistent"):
            self.send_error(502, f"no such host: {host}")
            return
        body = f"<html><body>{host}</body></html>".encode() * len(host)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def fake_internet() -> Iterator[str]:
    """Serve :class:`_FakeInternet` on 127.0.0.1 for as long as the block runs; yield its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeInternet)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


def user_environment(proxy: str) -> dict[str, str]:
    """A plain shell's environment: this one without PYTHON* settings, plus the proxy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COVERAGE"))}
    for name in ("no_proxy", "NO_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(name, None)
    env["http_proxy"] = env["HTTP_PROXY"] = proxy
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@dataclass(frozen=True)
class Run:
    """What a finished interpreter left behind."""

    command: str
    returncode: int
    stdout: str
    stderr: str

    def report(self) -> str:
        """The run, for a failure message (long output cut in the middle)."""
        return (
            f"$ {self.command}\nexit code {self.returncode}\n"
            f"--- stdout ---\n{_shortened(self.stdout)}\n--- stderr ---\n{_shortened(self.stderr)}"
        )


def _shortened(text: str, keep: int = 4000) -> str:
    if len(text) <= 2 * keep:
        return text
    return f"{text[:keep]}\n[... {len(text) - 2 * keep} characters left out ...]\n{text[-keep:]}"


def run(arguments: list[str], *, stdin: str = "", files: dict[str, str] | None = None) -> Run:
    """Run ``python ARGUMENTS`` in a new empty folder (holding only *files*), *stdin* piped in.

    The interpreter runs in a session of its own; when it ends (or hangs and is
    killed), whatever it left running in that session is killed too.
    """
    command = f"python {' '.join(arguments)}"
    with fake_internet() as proxy, tempfile.TemporaryDirectory() as folder:
        for name, text in (files or {}).items():
            Path(folder, name).write_text(text, encoding="utf-8")
        process = subprocess.Popen(
            [sys.executable, *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            cwd=folder,
            env=user_environment(proxy),
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(stdin, timeout=TIMEOUT)
            returncode = process.returncode
        except subprocess.TimeoutExpired:
            _kill_session(process.pid)
            stdout, stderr = process.communicate()
            stderr += f"\n[hung: killed after {TIMEOUT} s]"
            returncode = -1
        finally:
            _kill_session(process.pid)
    return Run(command, returncode, stdout, stderr)


def _kill_session(session: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(session, signal.SIGKILL)


def repeated_lines(stdout: str, reference: str) -> dict[str, tuple[int, int]]:
    """Lines printed more often in *stdout* than in *reference*: {line: (times, reference times)}.

    Only lines printed twice or more count, so a line whose numbers differ from one
    run to the next (a timing) is no repetition.
    """
    counts = collections.Counter(stdout.splitlines())
    expected = collections.Counter(reference.splitlines())
    return {
        line: (times, expected[line])
        for line, times in counts.items()
        if times >= 2 and times > expected[line] and line.strip()
    }


_TERMINAL_CODES = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[=>]")
BRACKETED_PASTE_ON = b"\x1b[?2004h"


def run_in_terminal(pastes: list[str]) -> Run:
    """Paste each text into ``python`` running in a terminal (a pty), as a terminal does.

    This is how Python 3.13's new REPL gets a paste: it turns the terminal's
    *bracketed paste* mode on, and the terminal then wraps the pasted text in
    ``ESC[200~`` ... ``ESC[201~``. After each paste come Enter and Enter, as in
    :func:`page_code.paste_input`, then a line that prints a marker; the next
    paste waits for the marker and the prompt after it, as a reader waits
    for the prompt. Standard output and standard error
    come back as one transcript in ``stdout``, without the terminal's escape codes;
    ``returncode`` is -1 if the interpreter never turned bracketed paste on (so it
    is not the new REPL) or hung.
    """
    import fcntl
    import pty
    import select
    import struct
    import termios

    transcript = bytearray()
    with fake_internet() as proxy, tempfile.TemporaryDirectory() as folder:
        env = {**user_environment(proxy), "TERM": "xterm-256color", "PYTHON_COLORS": "0"}
        primary, secondary = pty.openpty()
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        process = subprocess.Popen(
            [sys.executable, "-q"],
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            cwd=folder,
            env=env,
            start_new_session=True,
        )
        os.close(secondary)
        deadline = time.monotonic() + TIMEOUT

        def read_until(pattern: re.Pattern[bytes]) -> bool:
            while not pattern.search(
                _TERMINAL_CODES.sub(b"", bytes(transcript)).replace(b"\r", b"")
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                ready, _, _ = select.select([primary], [], [], min(left, 1.0))
                if ready:
                    try:
                        data = os.read(primary, 65536)
                    except OSError:  # the interpreter has exited
                        return False
                    if not data:
                        return False
                    transcript.extend(data)
            return True

        try:
            started = read_until(re.compile(rb">>> $", re.MULTILINE))
            new_repl = started and BRACKETED_PASTE_ON in transcript
            ok = new_repl
            for number, text in enumerate(pastes if new_repl else [], start=1):
                pasted = text.replace("\n", "\r").encode()
                marker = f'print("--", "pasted", {number}, "--")\r'.encode()
                os.write(primary, b"\x1b[200~" + pasted + b"\x1b[201~\r\r" + marker)
                # The prompt after the marker: the REPL reads the terminal again
                # (in raw mode: a key sent earlier might be taken by the line
                # discipline, as a Ctrl-D would be).
                shown = rf"^-- pasted {number} --$\s*^>>> ".encode()
                if not read_until(re.compile(shown, re.MULTILINE)):
                    ok = False
                    break
            if ok:
                os.write(primary, b"\x04")  # Ctrl-D: leave the interpreter
            while process.poll() is None and time.monotonic() < deadline:
                ready, _, _ = select.select([primary], [], [], 0.2)
                if ready:
                    with contextlib.suppress(OSError):
                        transcript.extend(os.read(primary, 65536))
            returncode = -1 if process.poll() is None else process.returncode
            ok = ok and returncode != -1
        finally:
            _kill_session(process.pid)
            process.wait()
            os.close(primary)
    text = _TERMINAL_CODES.sub(b"", bytes(transcript)).replace(b"\r", b"").decode(errors="replace")
    if not ok:
        returncode = -1
        text += (
            "\n[the new REPL did not start]"
            if not new_repl
            else f"\n[hung: killed after {TIMEOUT} s]"
        )
    return Run("python -q  # in a terminal, pasting", returncode, text, text)
