"""The parent's records of its worker processes, and which one gets the next call."""

from __future__ import annotations

import signal
import threading
import time
from collections import OrderedDict, deque
from typing import NamedTuple

from background._job import Job

from . import worker
from .child import WorkerProcess

#: Seconds between SIGTERM and SIGKILL when a worker is stopped in the middle of a call.
GRACE = 0.5


class Pending(NamedTuple):
    """A call waiting for an idle worker, pickled already."""

    job: Job
    fn_id: int  # 0: not cached, send the function's bytes every time
    fn_bytes: bytes
    arguments: bytes
    #: Marked running already: sent to a worker that died before starting it.
    started: bool = False


class Worker:
    """One worker process as the parent sees it.

    It is sent calls only once it said it is ready, and only when idle: one
    call, or a few quick ones that run back to back (see :meth:`take`), so a
    call that is sent has started or is about to.
    """

    __slots__ = (
        "calls",
        "channel",
        "deadline",
        "gone",
        "idle_since",
        "kill_at",
        "known",
        "process",
        "ready",
        "retiring",
        "send_lock",
        "sent",
    )

    def __init__(self, channel: worker.Channel, process: WorkerProcess) -> None:
        self.channel = channel
        self.process = process
        self.ready = False
        #: The calls sent to it and not answered yet, oldest first, by task id.
        self.calls: deque[tuple[int, Pending]] = deque()
        #: When its call's time limit passes (monotonic seconds), if it has one.
        self.deadline: float | None = None
        #: How many calls it was sent, for max_tasks_per_worker.
        self.sent = 0
        #: It takes no more calls: it stops once idle.
        self.retiring = False
        #: The ids of the functions it was sent, newest last.
        self.known: OrderedDict[int, None] = OrderedDict()
        self.idle_since = time.monotonic()
        #: When to SIGKILL it, once it was sent SIGTERM.
        self.kill_at: float | None = None
        self.gone = False
        self.send_lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """``True`` while it holds calls."""
        return bool(self.calls)

    def take(self, task_id: int, pending: Pending) -> None:
        """Record that *pending* is sent to this worker as task *task_id*.

        A call with a time limit is always sent alone: stopping its worker
        stops nothing else.
        """
        self.calls.append((task_id, pending))
        self.sent += 1
        timeout = pending.job.timeout
        if timeout is not None:
            self.deadline = time.monotonic() + timeout

    def finish(self, task_id: int) -> Pending | None:
        """The call *task_id* came back: forget it; return it."""
        calls = self.calls
        if not calls or calls[0][0] != task_id:
            return None
        pending = calls.popleft()[1]
        if not calls:
            self.deadline = None
            self.idle_since = time.monotonic()
        return pending

    def function_sent(self, fn_id: int) -> bool:
        """Note that *fn_id* goes with the next call; ``True`` if the worker has it already."""
        known = self.known
        if fn_id in known:
            known.move_to_end(fn_id)
            return True
        known[fn_id] = None
        if len(known) > worker.FUNCTIONS_SENT:
            known.popitem(last=False)
        return False

    def send(self, *parts: bytes | bytearray | memoryview) -> None:
        """Write one message to the worker; a dead worker is noticed by the manager."""
        with self.send_lock:
            if self.gone:
                return
            try:
                self.channel.send(*parts)
            except (OSError, ValueError):  # it died: the manager fails its call
                pass

    def terminate(self) -> None:
        """Stop it and its children: SIGTERM now, SIGKILL after a grace."""
        if self.kill_at is None:
            self.kill_at = time.monotonic() + GRACE
            self.process.signal(signal.SIGTERM)

    def kill(self) -> None:
        """Stop it and its children at once."""
        self.kill_at = time.monotonic()
        self.process.signal(signal.SIGKILL)

    def close(self) -> None:
        """It has ended: release its pipes and sentinel (once)."""
        with self.send_lock:
            if self.gone:
                return
            self.gone = True
            self.channel.close()
        self.process.close()


def idle(workers: list[Worker], max_tasks: int | None) -> Worker | None:
    """A worker that is ready and holds no call, if any."""
    for candidate in workers:
        if (
            candidate.ready
            and not candidate.calls
            and not candidate.retiring
            and (max_tasks is None or candidate.sent < max_tasks)
        ):
            return candidate
    return None


def to_start(workers: list[Worker], queued: int, n: int) -> int:
    """How many workers to start for *queued* calls that no starting worker will take."""
    room = n
    starting = 0
    for each in workers:
        if not each.retiring:
            room -= 1
            starting += not each.ready
    return max(0, min(queued - starting, room))


def to_retire(
    workers: list[Worker], max_tasks: int | None, idle_deadline: float | None
) -> list[Worker]:
    """The idle workers that should stop now: retiring, spent or idle for too long."""
    return [
        w
        for w in workers
        if not w.calls
        and (
            w.retiring
            or (max_tasks is not None and w.sent >= max_tasks)
            or (idle_deadline is not None and w.ready and w.idle_since <= idle_deadline)
        )
    ]


def choose_surplus(workers: list[Worker], surplus: int) -> None:
    """Mark *surplus* workers as retiring, idle ones first (they stop at once)."""
    active = [w for w in workers if not w.retiring]
    for chosen in sorted(active, key=lambda w: w.busy)[: max(surplus, 0)]:
        chosen.retiring = True


def descriptors(workers: list[Worker]) -> list[int]:
    """The parent's file descriptors for *workers* (a forked worker must close them)."""
    return [fd for w in workers if not w.gone for fd in (w.channel.reader, w.channel.writer)]


#: A call whose function took at most this long so far is quick: it may share a message.
QUICK = 0.001
#: A message of quick calls holds at most this much work, this many calls, this many bytes.
BUNDLE_SECONDS = 0.002
BUNDLE_CALLS = 256
BUNDLE_BYTES = 1 << 20


class Durations:
    """How long a call of each function took so far: a running estimate, by function id."""

    def __init__(self) -> None:
        self.seconds: dict[int, float] = {}

    def measured(self, pending: Pending, seconds: float) -> None:
        """A call of *pending*'s function took *seconds*."""
        if pending.fn_id:
            previous = self.seconds.get(pending.fn_id)
            self.seconds[pending.fn_id] = (
                seconds if previous is None else previous + (seconds - previous) / 8
            )

    def quick(self, pending: Pending) -> float | None:
        """The estimate for *pending*, if it is quick; ``None`` if not, or not known."""
        if pending.job.timeout is not None:
            return None
        seconds = self.seconds.get(pending.fn_id)
        return seconds if seconds is not None and seconds <= QUICK else None


def bundle(queue: deque[Pending], durations: Durations) -> list[Pending]:
    """Take the next queued call, with the quick ones queued behind it (if it is quick).

    Calls of functions that took under :data:`QUICK` seconds so far travel
    together, up to :data:`BUNDLE_SECONDS` of work, so that tiny calls cost a
    fraction of a message each. A call with a time limit, or of a function not
    measured yet, goes alone. Cancelled calls are dropped; the others are
    marked running.
    """
    taken: list[Pending] = []
    total = 0.0
    size = 0
    while queue and len(taken) < BUNDLE_CALLS:
        pending = queue[0]
        if taken:
            seconds = durations.quick(pending)
            size += len(pending.arguments)
            if seconds is None or total + seconds > BUNDLE_SECONDS or size > BUNDLE_BYTES:
                break
            total += seconds
        queue.popleft()
        if pending.started or pending.job.start():
            taken.append(pending)
            if len(taken) == 1 and durations.quick(pending) is None:
                break
    return taken
