"""``Pool``: an Executor with a live worker count and background's guarantees."""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import itertools
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar, cast, overload

from . import _exit, _validate
from ._future import Future, _worker, call_callback, cancel_unstarted
from ._gate import Gate, enter_all
from ._job import Job, task_name
from ._outstanding import Outstanding

if TYPE_CHECKING:
    from ._processes.runner import ProcessRunner
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

    def kill(self) -> list[Job]:
        """Cancel the queued calls, stop the running ones where it can, and
        return the jobs it stopped while running (for the pool to settle)."""
        ...


def _stop_running(runner: ProcessRunner, job: Job) -> bool:
    """Stop *job*'s running call (a future's ``_stop``); ``True`` once it ended cancelled."""
    if not runner.stop(job):
        return False
    job.cancel_running()
    return True


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

    With ``process=True`` calls run in worker processes, for CPU-bound work.
    The function and its arguments are pickled: a module-level function,
    decorated with ``@background.task`` or not, goes by reference; one defined
    in ``__main__``, a notebook, a doctest or inside a function (a lambda, a
    closure) goes by value with cloudpickle (``pip install
    'background[process]'``), so it works under every start method. A worker
    that dies fails only the calls it held, with :class:`background.WorkerDied`,
    and is replaced. An argument that cannot be pickled raises
    :class:`pickle.PicklingError` at submission; a result that cannot be
    pickled fails that call's future with one; both name the function and the
    type, and the pool goes on. An argument that pickles but cannot be
    unpickled in the worker (its class is missing there, say) fails that call
    with :class:`pickle.UnpicklingError`, and so does a result that cannot be
    unpickled here, whatever its unpickling raises; again the pool goes on. A
    worker is sent calls only once it is up and idle: one call, or, for
    functions whose calls took under a millisecond so far, a few of them that
    run back to back (two milliseconds of work at most). A call that reports
    ``running()`` has started or is about to, and every other one can be
    cancelled; a worker that dies fails only the call it was running.
    Workers start as work arrives (under ``fork`` all at once, on the first
    call) and never outlive the program.
    Contextvars do not travel to processes. Workers never import the
    program's ``__main__``, under any start method: a script needs no ``if
    __name__ == "__main__":`` guard. Process pools need a POSIX system
    (Linux, macOS); elsewhere ``process=True`` raises
    :class:`NotImplementedError`.

    When the program ends (its main thread does), every pool's outstanding
    calls are waited for before Python joins its threads: the calls queued
    and running then, and whatever they, their done-callbacks and non-daemon
    threads submit meanwhile, to any pool; a pool dropped or shut down with
    ``wait=False`` included. A daemon thread's calls are refused from then on
    with :class:`RuntimeError`, as the standard library's executors refuse
    them, so a heartbeat thread cannot keep the program alive; a call that
    resubmits itself for ever does, as a non-daemon thread that loops does.
    Once the wait is over (in an :mod:`atexit` hook, say) every call is
    refused. Ctrl-C during the wait cancels the calls that have not started
    and refuses later ones.

    Args:
        n: how many calls may run at once (default: the number of CPUs).
        process: run calls in worker processes instead of threads.
        executor: run calls on this executor instead; ``n`` is then only
            informative, as the executor decides its own concurrency.
        name: prefix of the worker threads' names.
        max_pending: at most this many submitted calls may be unfinished;
            ``submit`` blocks until one finishes. A call submitted from
            inside one of this pool's calls, or from a done-callback of one,
            never blocks (its caller could not finish first: that would be a
            deadlock) but still counts, so nested calls may pass the limit.
        initializer: called with *initargs* in every new worker. If it
            raises, the pool is broken, as in the standard library's
            executors: every queued and later call fails with
            :class:`concurrent.futures.thread.BrokenThreadPool` (threads) or
            :class:`concurrent.futures.process.BrokenProcessPool` (processes),
            whose message names the initializer and its error.
        initargs: a tuple of arguments for *initializer*.
        start_method: how worker processes start: ``"fork"``, ``"spawn"`` or
            ``"forkserver"``; only with ``process=True``. Default: the method
            chosen with :func:`multiprocessing.set_start_method`, else the
            platform's default, except that ``fork`` gives way to
            ``forkserver`` (as in Python 3.14): forking a process that runs
            threads, as every process pool's parent does, can deadlock.
        max_tasks_per_worker: replace a worker process after it has run this
            many calls (for code that leaks); only with ``process=True``.
        timeout: the time limit of each call, in seconds (default: none). A
            call over it fails with :class:`concurrent.futures.TimeoutError`.
            In a process pool the call is stopped: its worker is killed and
            replaced. A thread cannot be stopped: in a thread pool only the
            future fails, and the call runs on to its end, keeping its worker.
            ``@background.task(timeout=...)`` overrides it for one task.
        max_memory_per_worker: replace a worker process after a call that
            left it using more than this many bytes of resident memory (for
            code that leaks, or keeps a cache that only grows); the call's
            result is not affected. Only with ``process=True``.
        idle_timeout: a worker that waits this many seconds for work ends,
            so an unused pool shrinks to no workers at all; new ones start
            when work comes (for processes, each start costs the start
            method's price). Threads and processes; not with ``executor=``.

    .. versionchanged:: 1.1
       ``max_memory_per_worker`` and ``idle_timeout``.

    Example:
        >>> import background
        >>> with background.Pool(4) as pool:
        ...     futures = [pool.submit(pow, 2, i) for i in range(5)]
        ...     [f.result() for f in futures]
        [1, 2, 4, 8, 16]
    """

    #: Set on a pool that settles other pools' calls (dask's callback pool):
    #: it takes calls from any thread while the exit waits for those calls.
    _settles_other_pools = False

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
        start_method: str | None = None,
        max_tasks_per_worker: int | None = None,
        timeout: float | None = None,
        max_memory_per_worker: int | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        n = default_worker_count() if n is None else _validate.worker_count(n, "Pool n")
        max_pending = _validate.optional_positive_int(max_pending, "max_pending")
        if initializer is not None and not callable(initializer):
            raise TypeError(f"initializer must be callable, got {_validate.describe(initializer)}")
        _validate.initargs(initargs, initializer)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, got {_validate.describe(name)}")
        if executor is not None and not isinstance(executor, concurrent.futures.Executor):
            raise TypeError(
                "executor must be a concurrent.futures.Executor, "
                f"got {_validate.describe(executor)}"
            )
        if executor is not None and process:
            raise ValueError("give either process=True or executor=, not both")
        self._timeout = _validate.optional_seconds(timeout, "timeout")
        max_tasks_per_worker = _validate.optional_positive_int(
            max_tasks_per_worker, "max_tasks_per_worker"
        )
        max_memory_per_worker = _validate.optional_bytes(
            max_memory_per_worker, "max_memory_per_worker"
        )
        idle_timeout = _validate.optional_seconds(idle_timeout, "idle_timeout")
        if not process:
            for option, value in (
                ("start_method", start_method),
                ("max_tasks_per_worker", max_tasks_per_worker),
                ("max_memory_per_worker", max_memory_per_worker),
            ):
                if value is not None:
                    raise ValueError(
                        f"{option} applies to worker processes: give process=True too"
                    )
        if executor is not None and idle_timeout is not None:
            raise ValueError(
                "idle_timeout applies to the pool's own workers: an executor= manages its own"
            )
        if start_method is not None:
            _validate.start_method(start_method)
        self._name = name or f"background-{next(_pool_numbers)}"
        self._process = process
        self._shutdown = False
        self._shutdown_lock = threading.Lock()
        self._outstanding = Outstanding()
        self._gates: tuple[Gate, ...] = (Gate(max_pending),) if max_pending else ()
        self.max_pending = max_pending
        self._runner: Runner
        #: The runner that can stop a running call (a process pool's).
        self._stoppable: ProcessRunner | None = None
        self._kind = "executor" if executor is not None else "processes" if process else "threads"
        if executor is not None:
            from ._foreign import ExecutorRunner

            self._runner = ExecutorRunner(executor, n)
        elif process:
            from ._processes.runner import ProcessRunner

            self._runner = ProcessRunner(
                n,
                self._name,
                initializer,
                initargs,
                start_method=start_method,
                max_tasks_per_worker=max_tasks_per_worker,
                max_memory_per_worker=max_memory_per_worker,
                idle_timeout=idle_timeout,
            )
            self._stoppable = self._runner
        else:
            from ._threads import ThreadRunner

            self._runner = ThreadRunner(n, self._name, initializer, initargs, idle_timeout)
        #: The runner to shut down if the pool is collected unshut (see _exit).
        self._stop_when_collected: list[Runner] = []
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
    def start_method(self) -> str | None:
        """How worker processes start (``"forkserver"``, say); ``None`` unless ``process=True``.

        .. versionadded:: 1.1
        """
        return getattr(self._runner, "start_method", None)

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
        """Run ``fn(*args, **kwargs)`` in the background; return its future at once.

        Raises:
            TypeError: *fn* is not callable, or is a coroutine function, an
                async generator function or a generator function (see
                :func:`background.task`).
            RuntimeError: the pool is shut down, or the interpreter is exiting
                (see :doc:`/guarantees`).
        """
        _validate.task_function(fn, "Pool.submit()", decorating=False)
        return self._submit(fn, args, kwargs, (), ())

    def _submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        callbacks: tuple[Callable[[Future[Any]], object], ...],
        gates: tuple[Gate, ...],
        timeout: float | None = None,
    ) -> Future[Any]:
        if self.closed:  # fail fast; checked again below, under the lock
            raise RuntimeError(f"cannot submit {task_name(fn)}: {self._name} is shut down")
        if _exit.phase:
            _exit.refuse_if_exiting(self, fn)
        gates = gates + self._gates
        future: Future[Any] = Future()
        if gates:
            # Never wait on a place that the caller (a call or a callback) holds.
            enter_all(gates, _worker.held)
            future._gates = gates
        if callbacks:
            future.add_done_callback(_Callbacks(callbacks, fn))
        context = None if self._process else contextvars.copy_context()
        if timeout is None:
            timeout = self._timeout
        job = Job(future, fn, args, kwargs, context, self._outstanding, gates, timeout)
        if self._stoppable is not None:
            future._stop = functools.partial(_stop_running, self._stoppable, job)
        # Under the lock, so that shutdown() cannot slip in between the check
        # and the queueing, which would leave this job behind its workers' stop.
        with self._shutdown_lock:
            if self._shutdown:
                job.release()
                raise RuntimeError(f"cannot submit {task_name(fn)}: {self._name} is shut down")
            if _exit.phase:
                try:
                    _exit.refuse_if_exiting(self, fn)
                except RuntimeError:
                    job.release()
                    raise
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
        chunksize: int | None = None,
        buffersize: int | None = None,
    ) -> Iterator[R]:
        """Like :func:`map`, with calls in the background; results in input order.

        Unlike :meth:`concurrent.futures.Executor.map` it reads its input
        lazily: at most *buffersize* chunks (default: twice ``n``) are in
        flight, so an endless or huge iterable is fine. *chunksize* items are
        sent to a worker at once: by default one for threads; for processes
        the size is automatic, growing while calls are quick so that each
        batch takes some tens of milliseconds (tiny calls then cost
        microseconds each). *timeout* bounds the whole iteration, as for
        :meth:`concurrent.futures.Executor.map`; the pool's per-call
        ``timeout`` applies to each call (in batches of one). Leaving the
        loop early cancels what is left.
        """
        return self._map(fn, iterables, timeout, chunksize, buffersize, None)

    def _map(
        self,
        fn: Callable[..., Any],
        iterables: tuple[Iterable[Any], ...],
        timeout: float | None,
        chunksize: int | None,
        buffersize: int | None,
        call_timeout: float | None,
    ) -> Iterator[Any]:
        _validate.task_function(fn, "Pool.map()", decorating=False)
        if chunksize is not None:
            chunksize = _validate.worker_count(chunksize, "chunksize")
        if call_timeout is None:
            call_timeout = self._timeout
        if buffersize is None:
            buffersize = max(2 * self.n, 4)
        buffersize = _validate.worker_count(buffersize, "buffersize")
        timeout = _validate.wait_seconds(timeout)
        if self._process:
            from ._processes.batches import process_map

            return process_map(
                self,
                fn,
                iterables,
                timeout=timeout,
                chunksize=chunksize,
                buffersize=buffersize,
                call_timeout=call_timeout,
            )
        calls: Iterator[tuple[Any, ...]] = zip(*iterables)
        if chunksize is None or chunksize == 1:
            return _ordered_results(
                self, fn, calls, timeout, buffersize, chunked=False, call_timeout=call_timeout
            )
        chunks = _chunks(calls, chunksize)
        return _ordered_results(
            self,
            _CallChunk(fn),
            chunks,
            timeout,
            buffersize,
            chunked=True,
            call_timeout=call_timeout,
        )

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Accept no more work; let queued calls finish (or cancel them).

        Args:
            wait: block until every worker has finished.
            cancel_futures: cancel the calls that have not started yet.
        """
        with self._shutdown_lock:
            self._shutdown = True
            self._stop_when_collected.clear()  # stopped now, not again once collected
        self._runner.shutdown(wait, cancel_futures)

    def cancel_queued(self) -> int:
        """Cancel every call that has not started; return how many."""
        return self._runner.cancel_queued()

    def kill(self) -> None:
        """Stop the pool now: cancel what is queued, stop what runs, and return.

        The pool is shut down (later calls raise :class:`RuntimeError`) and
        every call that has not started is cancelled. Then, by kind of pool:

        * processes: every worker, and every process it started, gets
          ``SIGTERM``, then ``SIGKILL`` after half a second if it lives on;
          the running calls' futures end cancelled. It returns once the
          workers are gone: within about a second.
        * threads: a thread cannot be stopped from outside, so the running
          calls are asked to stop (their :func:`background.cancelled` turns
          ``True``) and it returns at once; each running call's future
          settles when the call ends, as with ``cancel()``.
        * ``executor=``: the pool's futures of calls not finished are
          cancelled, then the executor's own ``terminate_workers()`` is
          called (``ProcessPoolExecutor`` has it from Python 3.14: it sends
          its workers ``SIGTERM``, but not the processes they started), else
          its ``kill_workers()``, else ``shutdown(wait=False,
          cancel_futures=True)``, after which a call it had started may run
          on (in a thread, say) though its future here is cancelled.

        :meth:`shutdown` is the gentle way (let calls finish); ``kill()``
        is the way to stop now, which ``shutdown`` has no option for, so
        that ``shutdown(wait=True)`` keeps its one meaning: nothing is lost.

        .. versionadded:: 1.1
        """
        with self._shutdown_lock:
            self._shutdown = True
            self._stop_when_collected.clear()  # stopped now, not again once collected
        if self._kind == "executor":  # pending here: cancelled before the executor fails them
            self._cancel_outstanding()
        for job in self._runner.kill():
            job.cancel_running()
        self._cancel_outstanding()  # what is left: running thread calls, told to stop

    def _cancel_outstanding(self) -> None:
        for future in self._outstanding.snapshot():
            future._cancel_and_notify()

    def _forget_parent_in_child(self) -> None:
        """In a forked child: the parent's calls are not ours, nor its held locks."""
        self._shutdown_lock = threading.Lock()
        self._outstanding.clear()

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
        for callback in self.callbacks:  # one that raises is logged, naming the task
            call_callback(callback, cast("Future[Any]", future), self.fn)


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
    call_timeout: float | None = None,
) -> Iterator[Any]:
    import time

    deadline = None if timeout is None else time.monotonic() + timeout
    in_flight: deque[Future[Any]] = deque(
        pool._submit(fn, args, {}, (), (), call_timeout)
        for args in itertools.islice(calls, buffersize)
    )
    return _drain_in_order(pool, fn, calls, in_flight, deadline, chunked, call_timeout)


def _drain_in_order(
    pool: Pool,
    fn: Callable[..., Any],
    calls: Iterator[tuple[Any, ...]],
    in_flight: deque[Future[Any]],
    deadline: float | None,
    chunked: bool,
    call_timeout: float | None = None,
) -> Iterator[Any]:
    import time

    # While suspended at a yield, this frame holds neither the value it yielded
    # nor that value's future or chunk: a result the loop body dropped is freed.
    try:
        while in_flight:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            values = in_flight[0].result(remaining)  # left in flight if this raises
            in_flight.popleft()
            for args in itertools.islice(calls, 1):
                in_flight.append(pool._submit(fn, args, {}, (), (), call_timeout))
            if chunked:
                values.reverse()
            else:
                values = [values]
            while values:
                yield values.pop()
    finally:
        # Cancelled, or left running: either way nobody will look at them.
        for future in in_flight:
            cancel_unstarted(future)
            future._abandon()
