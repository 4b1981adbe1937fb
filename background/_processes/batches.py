"""``Pool.map`` on worker processes: calls travel in batches sized as they run."""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterable, Iterator

from . import worker

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: workers start faster
    from typing import Any, Callable

    from background._future import Future
    from background._pool import Pool


class Batch:
    """Calls a function on each argument tuple of a batch, inside a worker.

    Returns ``(seconds, results, error, traceback)``: what ran before a call
    raised is kept, and the time taken sizes the next batches.
    """

    __slots__ = ("__weakref__", "fn")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __getstate__(self) -> Callable[..., Any]:
        return self.fn

    def __setstate__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(
        self, items: list[tuple[Any, ...]], start: int = 0
    ) -> tuple[float, list[Any], BaseException | None, str | None]:
        """Run the batch of input items *start* onwards."""
        fn = self.fn
        results: list[Any] = []
        append = results.append
        started = time.perf_counter()
        try:
            for args in items:
                append(fn(*args))
        except BaseException as error:
            text = worker.format_traceback(error)
            sent = worker.sendable(error, worker.callable_name(fn))
            return time.perf_counter() - started, results, sent, text
        return time.perf_counter() - started, results, None, None

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        return self.fn


class BatchSizer:
    """Grows batches while calls are quick, to about :attr:`TARGET` seconds each."""

    TARGET = 0.02
    LARGEST = 10_000
    GROWTH = 8

    def __init__(self, fixed: int | None) -> None:
        self.size = fixed or 1
        self.fixed = fixed is not None

    def record(self, count: int, seconds: float) -> None:
        """*count* calls took *seconds*: size the next batches."""
        if self.fixed or count == 0:
            return
        per_call = seconds / count
        ideal = self.LARGEST if per_call <= 0 else int(self.TARGET / per_call)
        self.size = max(1, min(ideal, self.size * self.GROWTH, self.LARGEST))


def process_map(
    pool: Pool,
    fn: Callable[..., Any],
    iterables: tuple[Iterable[Any], ...],
    *,
    timeout: float | None,
    chunksize: int | None,
    buffersize: int,
    call_timeout: float | None,
) -> Iterator[Any]:
    """``Pool.map`` for worker processes: lazy, in order, in automatic batches."""
    from .outcome import with_remote_traceback
    from .packing import unwrap_task

    deadline = None if timeout is None else time.monotonic() + timeout
    calls: Iterator[tuple[Any, ...]] = zip(*iterables)
    if call_timeout is not None:
        chunksize = 1  # a time limit is per call: batches of one
    sizer = BatchSizer(chunksize)
    batch = Batch(unwrap_task(fn))
    in_flight: deque[tuple[int, Future[Any]]] = deque()
    sent = 0

    def submit_next() -> bool:
        nonlocal sent
        items = list(itertools.islice(calls, sizer.size))
        if not items:
            return False
        future = pool._submit(batch, (items, sent), {}, (), (), timeout=call_timeout)
        sent += len(items)
        in_flight.append((len(items), future))
        return True

    for _ in range(buffersize):
        if not submit_next():
            break

    def drain() -> Iterator[Any]:
        # While suspended at a yield, this frame holds neither the value it
        # yielded nor the results of its batch yielded already, nor the batch's
        # future: a result the loop body dropped is freed.
        try:
            while in_flight:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                seconds, results, error, text = in_flight[0][1].result(remaining)
                count = in_flight.popleft()[0]  # left in flight if the wait raised
                sizer.record(count, seconds)
                submit_next()
                results.reverse()
                while results:
                    yield results.pop()
                if error is not None:
                    raise with_remote_traceback(error, text)
        finally:
            # Cancelled, or left running: either way nobody will look at them.
            from background._future import cancel_unstarted

            for _, future in in_flight:
                cancel_unstarted(future)
                future._abandon()

    return drain()
