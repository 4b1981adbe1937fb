"""``Pool``: an Executor with a live worker count and background's guarantees."""

from __future__ import annotations

import concurrent.futures
import contextvars
import itertools
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar, cast, overload

from . import _validate
from ._future import Future
from ._job import Job, task_name
from ._outstanding import Outstanding

if TYPE_CHECKING:
    from ._task import P, Task

R = TypeVar("R")

_pool_numbers = itertools.count(1)


class Runner(Protocol):
    """What a Pool needs from whatever runs its jobs."""

    n: int

    @property
    def threads(self) -> int: ...

    def start(self, job: Job) -> None: ...

    def shutdown(self, wait: bool, cancel_futures: bool) -> None: ...

    def cancel_queued(self) -> int: ...


def default_worker_count() -> int:
    """The number of CPUs this process may use (at least 1)."""
    import os

    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return int(counter() or 1)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class Pool(concurrent.futures.Executor):
    """A pool of workers: a :class:`concurrent.futures.Executor` with a live ``n``.

    Threads by default; worker processes with ``process=True``; or any
    existing executor (a dask cluster's, say) with ``executor=``. It drops into
    any code that takes an executor, and adds what the standard executors lack:
    ``n`` can change at any time, contextvars travel with each call, finished
    futures are never kept, an exception nobody retrieved is logged, and
    ``max_pending`` stops a fast producer from queueing without bound.

    Args:
        n: how many calls may run at once (default: the number of CPUs).
        process: run calls in worker processes instead of threads.
        executor: run calls on this executor instead; ``n`` is then only
            informative, as the executor decides its own concurrency.
        name: prefix of the worker threads' names.
        max_pending: at most this many submitted calls may be unfinished;
            ``submit`` blocks until one finishes.
        initializer: called with *initargs* in every new worker.
        initargs: arguments for *initializer*.

    Example:
        >>> import background
        >>> with background.Pool(4) as pool:
        ...     futures = [pool.submit(pow, 2, i) for i in range(5)]
        ...     [f.result() for f in futures]
        [1, 2, 4, 8, 16]
    """

    def __init__(
        self,
        n: int | None = None,
        *,
        process: bool = False,
        executor: concurrent.futures.Executor | None = None,
        name: str | None = None,
        max_pending: int | None = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        n = default_worker_count() if n is None else _validate.worker_count(n, "Pool n")
        max_pending = _validate.optional_positive_int(max_pending, "max_pending")
        if initializer is not None and not callable(initializer):
            raise TypeError(f"initializer must be callable, got {_validate.describe(initializer)}")
        if executor is not None and not isinstance(executor, concurrent.futures.Executor):
            raise TypeError(
                "executor must be a concurrent.futures.Executor, "
                f"got {_validate.describe(executor)}"
            )
        if executor is not None and process:
            raise ValueError("give either process=True or executor=, not both")
        self._name = name or f"background-{next(_pool_numbers)}"
        self._process = process
        self._shutdown = False
        self._shutdown_lock = threading.Lock()
        self._outstanding = Outstanding()
        self._gate = threading.BoundedSemaphore(max_pending) if max_pending else None
        self._gates: tuple[threading.Semaphore, ...] = (self._gate,) if self._gate else ()
        self.max_pending = max_pending
        self._runner: Runner
        self._kind = "executor" if executor is not None else "processes" if process else "threads"
        if executor is not None:
            from ._foreign import ExecutorRunner

            self._runner = ExecutorRunner(executor, n)
        elif process:
            from ._processes import ProcessRunner

            self._runner = ProcessRunner(n, self._name, initializer, initargs)
        else:
            from ._threads import ThreadRunner

            self._runner = ThreadRunner(n, self._name, initializer, initargs)
        from . import _exit

        _exit.register(self)

    @property
    def n(self) -> int:
        """How many calls may run at once. Assign to resize the pool at once."""
        return self._runner.n

    @n.setter
    def n(self, value: int) -> None:
        self._runner.n = _validate.worker_count(value, "Pool n")

    @property
    def process(self) -> bool:
        """``True`` if calls run in worker processes."""
        return self._process

    @property
    def name(self) -> str:
        """The pool's name, used as its workers' name prefix."""
        return self._name

    @property
    def closed(self) -> bool:
        """``True`` once :meth:`shutdown` was called."""
        return self._shutdown

    def outstanding(self) -> list[Future[Any]]:
        """The futures of every call submitted and not finished, oldest first."""
        return self._outstanding.snapshot()

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Run ``fn(*args, **kwargs)`` in the background; return its future at once."""
        if not callable(fn):
            raise TypeError(f"submit() expects a callable, got {_validate.describe(fn)}")
        return self._submit(fn, args, kwargs, (), ())

    def _submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        callbacks: tuple[Callable[[Future[Any]], object], ...],
        gates: tuple[threading.Semaphore, ...],
    ) -> Future[Any]:
        if self._shutdown:
            raise RuntimeError(f"cannot submit {task_name(fn)}: {self._name} is shut down")
        gates = gates + self._gates
        for gate in gates:
            gate.acquire()
        future: Future[Any] = Future()
        if callbacks:
            future.add_done_callback(_Callbacks(callbacks, fn))
        context = None if self._process else contextvars.copy_context()
        job = Job(future, fn, args, kwargs, context, self._outstanding, gates)
        self._outstanding.add(future)
        try:
            self._runner.start(job)
        except BaseException:
            job.release()
            raise
        return future

    def map(
        self,
        fn: Callable[..., R],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
        buffersize: int | None = None,
    ) -> Iterator[R]:
        """Like :func:`map`, with calls in the background; results in input order.

        Unlike :meth:`concurrent.futures.Executor.map` it reads its input
        lazily: at most *buffersize* chunks (default: twice ``n``) are in
        flight, so an endless or huge iterable is fine. *chunksize* items are
        sent to a worker at once. Leaving the loop early cancels what is left.
        """
        if not callable(fn):
            raise TypeError(f"map() expects a callable, got {_validate.describe(fn)}")
        chunksize = _validate.worker_count(chunksize, "chunksize")
        if buffersize is None:
            buffersize = max(2 * self.n, 4)
        buffersize = _validate.worker_count(buffersize, "buffersize")
        timeout = _validate.wait_seconds(timeout)
        calls: Iterator[tuple[Any, ...]] = zip(*iterables)
        if chunksize == 1:
            return _ordered_results(self, fn, calls, timeout, buffersize, chunked=False)
        chunks = _chunks(calls, chunksize)
        return _ordered_results(self, _CallChunk(fn), chunks, timeout, buffersize, chunked=True)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Accept no more work; let queued calls finish (or cancel them).

        Args:
            wait: block until every worker has finished.
            cancel_futures: cancel the calls that have not started yet.
        """
        with self._shutdown_lock:
            self._shutdown = True
        self._runner.shutdown(wait, cancel_futures)

    def cancel_queued(self) -> int:
        """Cancel every call that has not started; return how many."""
        return self._runner.cancel_queued()

    @overload
    def task(self, fn: Callable[P, R], /) -> Task[P, R]: ...

    @overload
    def task(self, /, **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]: ...

    def task(self, fn: Any = None, /, **options: Any) -> Any:
        """Decorate a function so that calling it runs it on this pool.

        Takes the same options as :func:`background.task`.
        """
        from ._task import task

        return task(fn, pool=self, **options)

    def __repr__(self) -> str:
        state = "shut down" if self._shutdown else f"{len(self._outstanding)} outstanding"
        return f"<background.Pool {self._name!r} n={self.n} {self._kind}, {state}>"


class _Callbacks:
    """Runs a task's done-callbacks; one that raises is logged, not fatal."""

    __slots__ = ("callbacks", "fn")

    def __init__(
        self, callbacks: tuple[Callable[[Future[Any]], object], ...], fn: Callable[..., Any]
    ) -> None:
        self.callbacks = callbacks
        self.fn = fn

    def __call__(self, future: concurrent.futures.Future[Any]) -> None:
        for callback in self.callbacks:
            try:
                callback(cast("Future[Any]", future))
            except Exception:
                from ._future import logger

                logger.exception(
                    "callback %s raised for task %s",
                    task_name(callback),
                    task_name(self.fn),
                )


class _CallChunk:
    """Calls a function on each argument tuple of a chunk; returns the results."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, chunk: list[tuple[Any, ...]]) -> list[Any]:
        fn = self.fn
        return [fn(*args) for args in chunk]

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        return self.fn


def _chunks(calls: Iterator[tuple[Any, ...]], size: int) -> Iterator[tuple[list[Any], ...]]:
    while True:
        chunk = list(itertools.islice(calls, size))
        if not chunk:
            return
        yield (chunk,)


def _ordered_results(
    pool: Pool,
    fn: Callable[..., Any],
    calls: Iterator[tuple[Any, ...]],
    timeout: float | None,
    buffersize: int,
    *,
    chunked: bool,
) -> Iterator[Any]:
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    in_flight: deque[Future[Any]] = deque(
        pool.submit(fn, *args) for args in itertools.islice(calls, buffersize)
    )
    return _drain_in_order(pool, fn, calls, in_flight, deadline, chunked)


def _drain_in_order(
    pool: Pool,
    fn: Callable[..., Any],
    calls: Iterator[tuple[Any, ...]],
    in_flight: deque[Future[Any]],
    deadline: float | None,
    chunked: bool,
) -> Iterator[Any]:
    import time

    try:
        while in_flight:
            future = in_flight.popleft()
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            result = future.result(remaining)
            for args in itertools.islice(calls, 1):
                in_flight.append(pool.submit(fn, *args))
            if chunked:
                yield from result
            else:
                yield result
    finally:
        for future in in_flight:
            future.cancel()
            future._retrieved()
