"""Settler threads: where background settles futures whose callbacks may take time.

Settling a future runs its done-callbacks, which may take their time or wait
for other tasks. A thread that must stay responsive (the deadline thread, a
process pool's manager thread) hands such work over here instead. A settler
that finds no work for a while ends; a new one starts whenever all are busy;
when no thread can start (the interpreter is exiting) the work runs in the
caller after all.
"""

from __future__ import annotations

import threading
from collections import deque

from ._compat import after_fork_in_child, start_daemon_thread

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

#: How long an idle settler thread waits for more work before it ends.
IDLE_SECONDS = 2.0

_settling = threading.Condition()
_work: deque[Callable[[], object]] = deque()
_idle = 0


def hand_over(work: Callable[[], object]) -> None:
    """Have a settler thread run *work*; start one if all are busy."""
    with _settling:
        _work.append(work)
        if _idle >= len(_work):
            _settling.notify()
            return
    if not start_daemon_thread(_settle, "background-settler"):
        _run_all_now()


def _settle() -> None:
    global _idle
    while True:
        with _settling:
            if not _work:
                _idle += 1
                try:
                    _settling.wait(IDLE_SECONDS)
                finally:
                    _idle -= 1
                if not _work:
                    return
            work = _work.popleft()
        work()
        del work


def _run_all_now() -> None:
    while True:
        with _settling:
            if not _work:
                return
            work = _work.popleft()
        work()


def _forget_in_child() -> None:
    global _settling, _idle
    _settling = threading.Condition()
    _work.clear()
    _idle = 0


after_fork_in_child(_forget_in_child)
