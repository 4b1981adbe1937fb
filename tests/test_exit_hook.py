"""The exit hook, called in-process: it waits for every pool, Ctrl-C cancels the rest."""

from __future__ import annotations

import logging
import re
import threading

import pytest

import background
from background import _exit

TIMEOUT = 30


def test_the_exit_hook_waits_for_every_pools_outstanding_calls() -> None:
    pool = background.Pool(1)
    release = threading.Event()
    running = pool.submit(release.wait, TIMEOUT)
    queued = pool.submit(abs, -4)
    default = background.run(abs, -5)
    threading.Timer(0.05, release.set).start()
    _exit.finish_outstanding()
    assert running.done()
    assert queued.done()
    assert default.done()
    assert (running.result(), queued.result(), default.result()) == (True, 4, 5)
    pool.shutdown()


def test_ctrl_c_during_the_exit_wait_cancels_queued_calls_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pool = background.Pool(1)
    release = threading.Event()
    running = pool.submit(release.wait, TIMEOUT)
    queued = [pool.submit(abs, -i) for i in range(3)]

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_exit.concurrent.futures, "wait", interrupted)
    with caplog.at_level(logging.WARNING, logger="background"):
        _exit.finish_outstanding()  # returns: the interpreter may exit
    monkeypatch.undo()
    assert all(f.cancelled() for f in queued)
    pattern = r"interrupted at exit: (\d+) background tasks cancelled, (\d+) left"
    said = re.search(pattern, caplog.text)
    assert said is not None, caplog.text
    cancelled, running_count = map(int, said.groups())
    assert cancelled >= 3  # (other tests' pools may hold work too)
    assert running_count >= 1
    release.set()
    assert running.result(TIMEOUT) is True
    pool.shutdown()
