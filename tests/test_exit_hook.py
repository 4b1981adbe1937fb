"""The exit wait, called in-process: it waits for every pool, Ctrl-C cancels the rest.

What the interpreter does around it (the phases, refusing late calls) is tested
in real programs in test_exit.py.
"""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest

import background
from background import _exit, _interruptible

TIMEOUT = 30


def _started(pool: background.Pool, release: threading.Event) -> background.Future[bool]:
    """Submit a call that blocks on *release*; return once it is running."""
    started = threading.Event()

    def hold() -> bool:
        started.set()
        return release.wait(TIMEOUT)

    future = pool.submit(hold)
    assert started.wait(TIMEOUT)
    return future


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


def test_the_exit_wait_waits_for_work_one_pool_hands_to_another() -> None:
    """Each step hands on once the pool it came from is idle: the wait must look
    at every pool again until none has work, and none was given work meanwhile."""
    pools = {"a": background.Pool(1, name="a"), "b": background.Pool(1, name="b")}
    ran: list[int] = []

    def step(i: int, here: str, there: str) -> None:
        while pools[there].outstanding():  # until the other pool is idle
            time.sleep(0.002)
        time.sleep(0.05)  # a wait that returned early would be caught before this ends
        ran.append(i)
        if i < 6:
            pools[there].submit(step, i + 1, there, here)

    pools["a"].submit(step, 1, "a", "b")
    _exit.finish_outstanding()
    assert ran == [1, 2, 3, 4, 5, 6]
    for pool in pools.values():
        pool.shutdown()


def test_ctrl_c_during_the_exit_wait_cancels_queued_calls_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pool = background.Pool(1)
    release = threading.Event()
    running = _started(pool, release)
    queued = [pool.submit(abs, -i) for i in range(3)]

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_exit, "phase", _exit.RUNNING)  # restored when the test ends
    monkeypatch.setattr(_interruptible, "wait", interrupted)  # where a wait blocks
    with caplog.at_level(logging.WARNING, logger="background"):
        assert _exit.finish_outstanding() is False  # returns: the interpreter may exit
    with pytest.raises(
        RuntimeError, match=r"cannot submit builtins\.abs: the interpreter is exiting"
    ):
        pool.submit(abs, -1)
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
