"""``map``: one lazy, bounded map for every kind of pool.

The input is read as the output is consumed: at most *buffersize* calls (or
batches of calls) are in flight at once, so an endless iterable is fine.
Calls travel one by one, or in batches (:mod:`background._batch`): of a fixed
*chunksize*, or, for worker processes, sized as they run. Results come in
input order, or as they finish with ``ordered=False``. While suspended at a
``yield``, the map holds neither the value it yielded nor the future it came
from: a result that the loop body dropped is freed.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import time
from collections import deque

from ._batch import Batch, BatchSizer, Failed
from ._future import _lend_worker, cancel_unstarted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any, Callable

    from ._future import Future
    from ._protocols import Submitter
    from ._retry import RetryPolicy

    #: A call or batch in flight: its future, and how many input items it holds
    #: (``0`` for a single call, which is not a batch).
    InFlight = tuple[Future[Any], int]


def in_batches(chunksize: int | None, adaptive: bool, call_timeout: float | None) -> bool:
    """Whether a map's calls travel in batches: of *chunksize*, or sized as they run
    (*adaptive*). A time limit is per call: calls then travel one by one."""
    return call_timeout is None and (adaptive if chunksize is None else chunksize > 1)


class Map:
    """The state of one ``map``: what is in flight, and how to send more."""

    def __init__(
        self,
        pool: Submitter,
        fn: Callable[..., Any],
        iterables: tuple[Iterable[Any], ...],
        *,
        chunksize: int | None,
        adaptive: bool,
        call_timeout: float | None,
        return_exceptions: bool,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.pool = pool
        self.fn = fn
        self.call_timeout = call_timeout
        self.return_exceptions = return_exceptions
        #: How a call one by one retries: from the pool, holding no worker while it waits.
        self.retry = retry
        batched = in_batches(chunksize, adaptive, call_timeout)
        # A batch over one iterable holds its items as they are, not as 1-tuples.
        spread = not batched or len(iterables) != 1
        self.calls: Iterator[Any] = zip(*iterables) if spread else iter(iterables[0])
        self.sizer = BatchSizer(chunksize) if batched else None
        self.batch: Batch | None = None
        if batched:
            if retry is not None:  # a call in a batch retries where the batch runs
                from ._retry import Retrying

                fn = Retrying(fn, retry)
            self.batch = Batch(fn, return_exceptions, spread)
        self.in_flight: deque[InFlight] = deque()
        self.sent = 0

    def send_next(self) -> bool:
        """Submit the next call or batch; ``False`` once the input is exhausted."""
        if self.batch is None or self.sizer is None:
            for args in itertools.islice(self.calls, 1):
                future = self.pool._submit(
                    self.fn, args, {}, (), (), self.call_timeout, self.retry
                )
                self.in_flight.append((future, 0))
                return True
            return False
        items = list(itertools.islice(self.calls, self.sizer.size))
        if not items:
            return False
        future = self.pool._submit(self.batch, (items, self.sent), {}, (), ())
        self.sent += len(items)
        self.in_flight.append((future, len(items)))
        return True

    def outcomes(self, future: Future[Any], count: int) -> list[Any]:
        """The values of a finished call or batch, last first; errors as :class:`Failed`.

        Raises the error that ends the map: a call's, unless ``return_exceptions``.
        """
        if not count:
            if self.return_exceptions:
                if future.cancelled():
                    return [Failed(concurrent.futures.CancelledError(), None)]
                error = future.exception()
                if error is not None and isinstance(error, Exception):
                    return [Failed(error, None)]
            return [future.result()]
        results: list[Any]
        seconds, results, error, text = future.result()
        assert self.sizer is not None
        self.sizer.record(count, seconds)
        if error is not None:
            results.append(Failed(error, text))
        results.reverse()
        return results

    def cancel_in_flight(self) -> None:
        """Nobody will look at what is still in flight: cancel it, never report it."""
        for future, _ in self.in_flight:
            cancel_unstarted(future)  # a running one is left to finish
            future._abandon()
        self.in_flight.clear()


def map_calls(
    pool: Submitter,
    fn: Callable[..., Any],
    iterables: tuple[Iterable[Any], ...],
    *,
    timeout: float | None,
    chunksize: int | None,
    buffersize: int,
    call_timeout: float | None,
    adaptive: bool,
    ordered: bool,
    return_exceptions: bool,
    retry: RetryPolicy | None = None,
) -> Iterator[Any]:
    """Start a map: submit the first *buffersize* calls now, the rest as results are taken.

    With *retry*, a call that fails is retried as a task's calls are (a call
    in a batch retries in its worker).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    state = Map(
        pool,
        fn,
        iterables,
        chunksize=chunksize,
        adaptive=adaptive,
        call_timeout=call_timeout,
        return_exceptions=return_exceptions,
        retry=retry,
    )
    for _ in range(buffersize):
        if not state.send_next():
            break
    if ordered and state.batch is None and not return_exceptions:
        return _drain_calls(state, deadline)
    return _drain(state, deadline, ordered)


def _drain_calls(state: Map, deadline: float | None) -> Iterator[Any]:
    """The common case, kept lean: calls one by one, results in order, the first error raised."""
    in_flight, calls, submit = state.in_flight, state.calls, state.pool._submit
    fn, call_timeout, retry = state.fn, state.call_timeout, state.retry
    end = object()
    try:
        while in_flight:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            box = [in_flight[0][0].result(remaining)]  # left in flight if this raises
            in_flight.popleft()
            args = next(calls, end)
            if args is not end:
                in_flight.append((submit(fn, args, {}, (), (), call_timeout, retry), 0))  # type: ignore[arg-type]
            del args
            yield box.pop()  # bound to no name while suspended here
    finally:
        state.cancel_in_flight()


def _drain(state: Map, deadline: float | None, ordered: bool) -> Iterator[Any]:
    try:
        while state.in_flight:
            future, count = _next_finished(state, deadline, ordered)
            values = state.outcomes(future, count)
            del future
            state.send_next()
            while values:
                last = values[-1]
                if not isinstance(last, Failed):
                    del last
                    yield values.pop()  # bound to no name while suspended here
                    continue
                del last
                if not state.return_exceptions or not isinstance(values[-1].error, Exception):
                    raise _with_traceback(values.pop())
                yield _with_traceback(values.pop())
    finally:
        state.cancel_in_flight()


def _next_finished(state: Map, deadline: float | None, ordered: bool) -> InFlight:
    """Take the next call or batch to yield from, once it is done (or raise TimeoutError)."""
    remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
    if ordered:
        head = state.in_flight[0][0]
        try:
            head.exception(remaining)  # waits, lending a worker's place; TimeoutError at deadline
        except concurrent.futures.CancelledError:
            pass  # done: outcomes() tells
        return state.in_flight.popleft()
    for index, entry in enumerate(state.in_flight):
        if entry[0].done():
            del state.in_flight[index]
            return entry
    futures = [future for future, _ in state.in_flight]
    with _lend_worker(futures[0]):
        done, _ = concurrent.futures.wait(
            futures, remaining, return_when=concurrent.futures.FIRST_COMPLETED
        )
    if not done:
        raise concurrent.futures.TimeoutError(f"map() did not finish within {remaining:g} s")
    for index, entry in enumerate(state.in_flight):
        if entry[0] in done:
            del state.in_flight[index]
            return entry
    raise AssertionError("a finished future left the map")  # pragma: no cover


def _with_traceback(failed: Failed) -> BaseException:
    """The error of a failed call, with the worker process's traceback if it has one."""
    if failed.text is None:
        return failed.error
    from ._processes.outcome import with_remote_traceback

    return with_remote_traceback(failed.error, failed.text)
