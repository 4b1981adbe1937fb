"""The functions every peer runs, defined once at module level so that worker
processes can import them by reference. It imports nothing that a bare
interpreter has not loaded already (``time`` is loaded at start-up)."""

import time

#: W1: one task's duration, the physical limit with enough workers: set by
#: measure.py from the case's "sleep" parameter before the clock starts.
SLEEP = 1.0


def nap(i: int) -> int:
    """W1: sleep one task's duration; return the input (checked in order)."""
    time.sleep(SLEEP)
    return i


def trivial(i: int) -> int:
    """W2, W3, W6: as little work as a call can do."""
    return i + 1


def spin(n: int) -> int:
    """W4: pure-Python CPU work, the GIL held throughout."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def spin_expected(n: int) -> int:
    """What :func:`spin` returns, in closed form, to check results cheaply."""
    return (n - 1) * n * (2 * n - 1) // 6
