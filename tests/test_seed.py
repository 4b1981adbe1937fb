"""The 2017 blog post's notebook code and the original README's code, unchanged."""

from __future__ import annotations

import contextlib
import io
import threading
import time
import types

import pytest

import background

TIMEOUT = 30

# The seed post's cells, as written there (the IPython magics removed).
SEED_WORKERS = """
import time
import background as bg

def work():
    time.sleep(1)
    return 1

@bg.task
def bg_work():
    time.sleep(1)
    return 1
"""

SEED_BACKGROUND_LOOP = """
f_list = [bg_work() for _ in range(100)];

while not all([f.done() for f in f_list]):
    pass
"""

SEED_CRANK = """
bg.n = 110
"""

# The original project's README: forty threads and a global callback.
ORIGINAL_README = """
import time

import background

background.n = 40


@background.task
def work():
    # Do something expensive here.
    time.sleep(10)


@background.callback
def work_callback(future):
    print(future.result())


for _ in range(100):
    work()
"""


_real_sleep = time.sleep


class _Clock:
    """A shorter ``time.sleep`` that records how many sleeps overlap.

    With ``together`` set, each sleep also waits until that many sleeps have
    begun, so a test proves that they overlapped instead of hoping so.
    """

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.barrier: threading.Barrier | None = None

    def together(self, parties: int | None) -> None:
        self.barrier = threading.Barrier(parties, timeout=TIMEOUT) if parties else None
        self.peak = 0

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            if self.barrier is not None:
                self.barrier.wait()
            _real_sleep(seconds * self.scale)
        finally:
            with self.lock:
                self.running -= 1


def test_seed_notebook_runs_unchanged_and_bg_n_110_runs_all_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock(scale=0.02)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    namespace: dict[str, object] = {}
    exec(SEED_WORKERS, namespace)
    assert namespace["work"]() == 1  # type: ignore[operator]

    clock.together(background.n)  # waves of one task per CPU, each overlapping
    exec(SEED_BACKGROUND_LOOP, namespace)
    assert clock.peak == background.n  # and never more
    assert [f.result() for f in namespace["f_list"]] == [1] * 100  # type: ignore[attr-defined]

    exec(SEED_CRANK, namespace)
    assert background.n == 110
    clock.together(100)  # breaks (and the tasks fail) unless all 100 overlap
    exec(SEED_BACKGROUND_LOOP, namespace)
    assert clock.peak == 100  # every call ran at the same time
    assert [f.result() for f in namespace["f_list"]] == [1] * 100  # type: ignore[attr-defined]


def test_original_readme_runs_unchanged_with_forty_threads_and_a_callback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock(scale=0.002)
    clock.together(20)  # 100 calls in groups of 20 that must overlap
    monkeypatch.setattr(time, "sleep", clock.sleep)
    module = types.ModuleType("original_readme")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(ORIGINAL_README, "<readme>", "exec"), module.__dict__)
        _, not_done = background.wait(timeout=TIMEOUT)
    assert not not_done
    assert background.n == 40
    assert 20 <= clock.peak <= 40
    assert out.getvalue().split() == ["None"] * 100
