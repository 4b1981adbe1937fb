"""``Pool``: an Executor with a live worker count and background's guarantees."""

from __future__ import annotations

import concurrent.futures
import contextvars
import itertools
import sys
import threading

from . import _exit, _validate, _wrapper
from ._callbacks import TaskCallbacks
from ._compat import cpu_count
from ._diagnostics import task_name
from ._future import Future, _worker
from ._job import Job
from ._outstanding import Outstanding
from ._runners import make_runner
from ._stopping import Stopping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any, Callable, TypeVar, overload

    from ._gate import Gate
    from ._protocols import Runner
    from ._retry import RetryPolicy
    from ._types import P, Task

    R = TypeVar("R")
else:
    from ._compat import overload


_pool_numbers = itertools.count(1)
_EAGER = f"{__package__}._eager"


def _eager_on() -> bool:
    """``True`` in eager mode; its module loads with the first :func:`background.eager`."""
    eager = sys.modules.get(_EAGER)
    return eager is not None and bool(eager.on)


class Pool(Stopping, concurrent.futures.Executor):
    """A pool of workers: a :class:`concurrent.futures.Executor` with a live ``n``.

    Threads by default; worker processes with ``process=True``; or any
    existing executor (a dask cluster's, say) with ``executor=``. It drops into
    any code that takes an executor, and adds what the standard executors lack:
    ``n`` can change at any time, contextvars travel with each call, finished
    futures are never kept, an exception nobody retrieved is logged, and
    ``max_pending`` stops a fast producer from queueing without bound.

    With ``process=True`` calls run in worker processes, for CPU-bound work.
    The function and its arguments are pickled: a module-level function goes
    by reference; one defined in ``__main__``, a notebook or inside a
    function goes by value with cloudpickle (``pip install
    'background[process]'``). Workers never import the program's
    ``__main__``, so a script needs no ``if __name__ == "__main__":`` guard.
    A worker that dies fails only the calls it held, with
    :class:`background.WorkerDied`, and is replaced; a value that cannot be
    pickled or unpickled fails only its call, naming it; ``cancel()`` on a
    running call stops it. Contextvars do not travel to processes. Process
    pools need a POSIX system (Linux, macOS); elsewhere ``process=True``
    raises :class:`NotImplementedError`. See :doc:`/recipes/processes`.

    When the program ends, every pool's outstanding calls are waited for,
    and the calls they, their callbacks and non-daemon threads submit
    meanwhile; a daemon thread's calls are refused from then on, as the
    standard library's executors refuse them. See :doc:`/guarantees`.

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
        timeout: the time limit of each call, in seconds (default: none),
            counted from the moment the call starts running (see
            :doc:`/guarantees`). A call over it fails with
            :class:`concurrent.futures.TimeoutError`.
            In a process pool the call is stopped: its worker and the processes it started
            are killed and replaced. A thread cannot be stopped: in a thread pool only the
            future fails, and the call runs on to its end, keeping its worker.
            ``@background.task(timeout=...)`` overrides it for one task.
        max_memory_per_worker: replace a worker process after a call that
            left it over this many bytes of resident memory (for leaks); the
            call's result stands. Only with ``process=True``.
        idle_timeout: a worker (thread or process) that waits this many
            seconds for work ends; new ones start when work comes. Not with
            ``executor=``.

    .. versionchanged:: 1.1
       *max_memory_per_worker* and *idle_timeout*.

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
        n = cpu_count() if n is None else _validate.worker_count(n, "Pool n")
        max_pending = _validate.optional_positive_int(max_pending, "max_pending")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str, got {_validate.describe(name)}")
        self._timeout = _validate.optional_seconds(timeout, "timeout")
        self._name = name or f"background-{next(_pool_numbers)}"
        self._process = process
        self._kind, self._runner = make_runner(
            n,
            self._name,
            process=process,
            executor=executor,
            initializer=initializer,
            initargs=initargs,
            start_method=start_method,
            max_tasks_per_worker=max_tasks_per_worker,
            max_memory_per_worker=max_memory_per_worker,
            idle_timeout=idle_timeout,
        )
        self._shutdown = False
        self._shutdown_lock = threading.Lock()
        self._outstanding = Outstanding()
        self._gates: tuple[Gate, ...] = ()
        if max_pending:
            from ._gate import Gate  # loaded with the first max_pending

            self._gates = (Gate(max_pending),)
        self.max_pending = max_pending
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
        return _wrapper.submit_unwrapped(self, fn, args, kwargs)

    def _submit(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        callbacks: tuple[Callable[[Future[Any]], object], ...],
        gates: tuple[Gate, ...],
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Future[Any]:
        if self._shutdown or _exit.phase:  # fail fast; checked again below, under the lock
            self._refuse_if_closed(fn)
        gates = gates + self._gates
        future: Future[Any] = Future()
        if gates:
            # Never wait on a place that the caller (a call or a callback) holds.
            from ._gate import enter_all

            enter_all(gates, _worker.held)
            future._gates = gates
        if callbacks:
            future.add_done_callback(TaskCallbacks(callbacks, fn))
        context = None if self._process else contextvars.copy_context()
        if timeout is None:
            timeout = self._timeout
        job = Job(future, fn, args, kwargs, context, self._outstanding, gates, timeout)
        # Under the lock, so that shutdown() cannot slip in between the check
        # and the queueing, which would leave this job behind its workers' stop.
        with self._shutdown_lock:
            if self._shutdown or _exit.phase:
                try:
                    self._refuse_if_closed(fn)
                except RuntimeError:
                    job.release()
                    raise
            self._outstanding.add(future)
            try:
                if retry is None and not _eager_on():  # the common case, kept lean
                    self._runner.start(job)
                    return future
                from . import _launch  # loaded with the first retries, or eager mode

                started = _launch.start(self, job, retry)
            except BaseException:
                job.release()
                raise
        return _launch.finish(job, started)  # in eager mode, runs the call here

    def _refuse_if_closed(self, fn: Callable[..., Any]) -> None:
        """Raise :class:`RuntimeError` if the pool is shut down, or the exit refuses *fn*."""
        if self._shutdown:
            raise RuntimeError(f"cannot submit {task_name(fn)}: {self._name} is shut down")
        _exit.refuse_if_exiting(self, fn)

    def map(
        self,
        fn: Callable[..., R],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int | None = None,
        buffersize: int | None = None,
        ordered: bool = True,
        return_exceptions: bool = False,
    ) -> Iterator[R]:
        """Like :func:`map`, with calls in the background; results in input order.

        Unlike :meth:`concurrent.futures.Executor.map` it reads its input
        lazily: at most *buffersize* calls or batches are in flight, so an
        endless or huge iterable is fine. Leaving the loop early cancels what
        is left.

        Args:
            fn: the function, called with one item of each iterable.
            iterables: the input; the map stops with the shortest.
            timeout: bounds the whole iteration, in seconds, as for
                :meth:`concurrent.futures.Executor.map`: past it, the next
                result raises :class:`concurrent.futures.TimeoutError`. The
                pool's per-call ``timeout`` applies to each call (calls then
                travel one by one).
            chunksize: how many items travel to a worker together. By
                default one for threads and executors; for processes the size
                is automatic, growing while calls are quick so that each
                batch takes some tens of milliseconds (tiny calls then cost
                microseconds each). A failing call ends the map only after
                the results before it, on every kind of pool.
            buffersize: at most this many calls (or batches) in flight.
                Default: twice ``n``, and at least 64 calls when they travel
                one by one (quick calls then find work queued; a worker
                would otherwise wake up for each), at least 4 batches.
            ordered: ``False`` yields results as they finish rather than in
                input order (still lazily, with as many in flight).
            return_exceptions: a call that raises an :class:`Exception`
                yields that exception in its place (a cancelled call a
                :class:`concurrent.futures.CancelledError`) and the map goes
                on, as :func:`asyncio.gather` does; other
                :class:`BaseException` s still end the map.

        .. versionchanged:: 1.1
           *ordered* and *return_exceptions*; a chunked thread map yields the
           results before a failing call, as a process map does.
        """
        fn, retry = _wrapper.unwrap_retrying(fn)
        return self._map(
            fn,
            iterables,
            timeout,
            chunksize,
            buffersize,
            None,
            ordered,
            return_exceptions,
            retry,
        )

    def _map(
        self,
        fn: Callable[..., Any],
        iterables: tuple[Iterable[Any], ...],
        timeout: float | None,
        chunksize: int | None,
        buffersize: int | None,
        call_timeout: float | None,
        ordered: bool = True,
        return_exceptions: bool = False,
        retry: RetryPolicy | None = None,
    ) -> Iterator[Any]:
        _validate.task_function(fn, "Pool.map()", decorating=False)
        if chunksize is not None:
            chunksize = _validate.worker_count(chunksize, "chunksize")
        from ._map import in_batches, map_calls  # loaded with the first map

        call_timeout = self._timeout if call_timeout is None else call_timeout
        if buffersize is None:  # one by one, quick calls then find work queued
            batched = in_batches(chunksize, self._process, call_timeout)
            buffersize = max(2 * self.n, 4 if batched else 64)
        buffersize = _validate.worker_count(buffersize, "buffersize")
        return map_calls(
            self,
            fn,
            iterables,
            timeout=_validate.wait_seconds(timeout),
            chunksize=chunksize,
            buffersize=buffersize,
            call_timeout=call_timeout,
            adaptive=self._process,
            ordered=_validate.flag(ordered, "ordered"),
            return_exceptions=_validate.flag(return_exceptions, "return_exceptions"),
            retry=retry,
        )

    def _forget_parent_in_child(self) -> None:
        """In a forked child: the parent's calls are not ours, nor its held locks."""
        self._shutdown_lock = threading.Lock()
        self._outstanding.clear()
        self._runner.forget_parent_in_child()

    @overload
    def task(self, fn: Callable[P, R], /) -> Task[P, R]: ...

    @overload
    def task(self, /, **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]: ...

    def task(self, fn: Any = None, /, **options: Any) -> Any:
        """Decorate *fn* so that calling it runs it on this pool.

        Use it bare (``@pool.task``) or with the options of
        :func:`background.task` other than *pool* and *process*
        (``@pool.task(retries=3)``).
        """
        return _wrapper.decorate(fn, options, lambda: self, "Pool.task()")

    def __repr__(self) -> str:
        state = "shut down" if self._shutdown else f"{len(self._outstanding)} outstanding"
        return f"<background.Pool {self._name!r} n={self.n} {self._kind}, {state}>"
