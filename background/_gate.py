"""``max_pending``: a limit on unfinished calls that nested calls cannot deadlock on."""

from __future__ import annotations

import os
import threading
import weakref

_live: weakref.WeakSet[Gate] = weakref.WeakSet()


class Gate:
    """At most *limit* calls may hold a place; a further submitter waits for one.

    A call submitted from inside a call (or a done-callback) that holds a
    place never waits: its ancestor could not finish before it, so waiting
    would deadlock. It takes a place all the same, so the count may pass the
    limit while nested calls run.
    """

    __slots__ = ("__weakref__", "_changed", "_count", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._reset()
        _live.add(self)

    def _reset(self) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._count = 0

    def enter(self, wait: bool) -> None:
        """Take a place; with *wait*, first wait until one is free."""
        with self._changed:
            if wait:
                while self._count >= self.limit:
                    self._changed.wait()
            self._count += 1

    def leave(self) -> None:
        """Give a place back."""
        with self._changed:
            self._count -= 1
            self._changed.notify()

    @property
    def taken(self) -> int:
        """How many places are taken now."""
        return self._count


def enter_all(gates: tuple[Gate, ...], held: tuple[Gate, ...]) -> None:
    """Take a place at each gate, waiting only at those that *held* does not name."""
    entered = 0
    try:
        for gate in gates:
            gate.enter(wait=gate not in held)
            entered += 1
    except BaseException:  # Ctrl-C while waiting: give back what was taken
        for gate in gates[:entered]:
            gate.leave()
        raise


def _forget_parent_calls_in_child() -> None:
    # The parent's calls do not exist in a forked child, and a lock that
    # another thread held at the fork would stay held for ever.
    for gate in list(_live):
        gate._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parent_calls_in_child)
