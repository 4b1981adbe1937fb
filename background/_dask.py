"""Background tasks on a dask.distributed cluster: ``background.dask_pool``.

``distributed`` is imported only when :func:`dask_pool` is called, so that
``import background`` (and building the docs) never needs it.
"""

from __future__ import annotations

import concurrent.futures
import functools
import itertools
import threading
from typing import Any, Callable

from . import _validate
from ._diagnostics import describe
from ._pool import Pool

_INSTALL_HINT = "pip install 'background[dask]'"
#: Threads that fetch finished results and run done-callbacks, per dask pool.
_SETTLERS = 4
_pool_numbers = itertools.count(1)


def dask_pool(
    cluster: Any = None,
    /,
    *,
    name: str | None = None,
    max_pending: int | None = None,
    timeout: float | None = None,
    **client_kwargs: Any,
) -> Pool:
    """A :class:`~background.Pool` whose calls run on a dask.distributed cluster.

    Pass it to ``@background.task(pool=...)``, or make it the default with
    :func:`background.use` so that tasks decorated long ago run on the cluster
    from their next call on, without a change at any call site.

    Every call is sent as a separate dask task with ``pure=False``: a
    side-effecting task called twice with the same arguments runs twice.
    A function from an importable module is sent by name (the workers import
    it, as dask does for any function); one defined in ``__main__``, a
    notebook or another function is sent by value, with cloudpickle. The
    futures are
    :class:`background.Future`\\ s; done-callbacks run on this machine, in a
    thread of the pool named ``<name>-callbacks``, where they may wait for
    other tasks.

    ``pool.n`` is the number of worker threads that the scheduler reported
    when the pool was made, summed over all workers (at least 1). The workers
    decide how many calls run at once: ``n`` only sizes the window of
    :meth:`~background.Pool.map` (``2 * n`` calls in flight, at least 64) and assigning it
    does not resize the cluster (use the cluster's ``scale`` or ``adapt``).

    Args:
        cluster: where to run: a ``distributed.Client``, a scheduler address
            such as ``"tcp://10.0.0.5:8786"``, a cluster object
            (``distributed.LocalCluster``, say), or ``None`` to start a
            ``LocalCluster`` on this machine.
        name: the pool's name (default ``background-dask-<number>``).
        max_pending: at most this many calls may be unfinished; ``submit``
            blocks until one finishes.
        timeout: the time limit of each call, in seconds (default: none),
            counted from submission (dask takes every call over at once). Past
            it the future fails with :class:`concurrent.futures.TimeoutError`;
            the call itself goes on on its worker, keeping its place in
            *max_pending* until it ends.
        **client_kwargs: passed on to the new ``distributed.Client`` (and
            from it to a new ``LocalCluster``: ``n_workers=2``,
            ``threads_per_worker=1``, ``dashboard_address=None``...); not
            allowed with an existing Client.

    Returns:
        A pool backed by the cluster. When this function made the Client (for
        an address, a cluster object or ``None``), shutting the pool down
        closes that Client too, and with it a ``LocalCluster`` that it
        started; a Client that you passed in stays open.

    Raises:
        ImportError: dask.distributed is not installed; the message says
            what to install.
        TypeError: *cluster* is none of the above, *client_kwargs* came with
            an existing Client, or the Client is asynchronous.

    The recipe :doc:`/recipes/dask` walks from a laptop's threads to a
    remote scheduler.
    """
    distributed = _import_distributed()
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, got {describe(name)}")
    max_pending = _validate.optional_positive_int(max_pending, "max_pending")
    timeout = _validate.optional_seconds(timeout, "timeout")
    if isinstance(cluster, distributed.Client):
        if client_kwargs:
            raise TypeError(
                "keyword arguments configure a new Client, but an existing Client was "
                f"given; got {sorted(client_kwargs)}"
            )
        if cluster.asynchronous:
            raise TypeError("dask_pool() needs a synchronous Client, got an asynchronous one")
        client, owns_client = cluster, False
    elif cluster is None or isinstance(cluster, str) or hasattr(cluster, "scheduler_address"):
        client, owns_client = distributed.Client(cluster, **client_kwargs), True
    else:
        raise TypeError(
            "dask_pool() expects a distributed.Client, a scheduler address (str), a "
            f"cluster object or None, got {describe(cluster)}"
        )
    name = name or f"background-dask-{next(_pool_numbers)}"
    try:
        n = max(1, sum(client.nthreads().values()))
        executor = ClusterExecutor(client, owns_client, f"{name}-callbacks")
    except BaseException:
        if owns_client:
            client.close()
        raise
    return Pool(n, executor=executor, name=name, max_pending=max_pending, timeout=timeout)


def _import_distributed() -> Any:
    import importlib

    try:
        return importlib.import_module("distributed")
    except ImportError as error:
        raise ImportError(
            f"background.dask_pool() needs dask.distributed, which is not installed: "
            f"{_INSTALL_HINT}"
        ) from error


class ClusterExecutor(concurrent.futures.Executor):
    """Sends each call to the cluster as a ``pure=False`` task; settles off dask's loop.

    Not dask's own ``client.get_executor()``: that one settles its futures in
    the Client's event loop thread, where a done-callback that waited for
    another task would stall the Client for good, and its future never
    settles when a result cannot be fetched (a result that cannot be
    pickled, say). Here each finished dask future is handed to a small
    background thread pool, which fetches the outcome with dask's public
    ``Future.result()`` (so every failure becomes an exception) and settles
    the future; its threads lend their place while they wait, as every
    background worker does, so callbacks may block, submit or wait freely.
    """

    def __init__(self, client: Any, owns_client: bool, settler_name: str) -> None:
        self.client = client
        self._owns_client = owns_client
        self._settler = Pool(_SETTLERS, name=settler_name)
        self._settler._settles_other_pools = True  # dask's daemon thread submits at exit too
        self._lock = threading.Lock()
        #: Each unsettled call's future, and the dask future it waits for.
        self._unfinished: dict[concurrent.futures.Future[Any], Any] = {}
        self._closed = False

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        """Send ``fn(*args, **kwargs)`` to the cluster as a new task."""
        if kwargs:  # dask's submit() would take some of them as its own options
            fn = functools.partial(fn, **kwargs)
        call = _Call(fn)
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a dask pool that is shut down")
            try:
                remote = self.client.submit(call, *args, pure=False)
            except Exception as error:
                _explain_unpicklable(call, args, error)
                raise
            outer: concurrent.futures.Future[Any] = concurrent.futures.Future()
            self._unfinished[outer] = remote
        # Only the table above refers to the dask future until the call is
        # settled: dask keeps a result on the cluster while a Future refers to it.
        outer.add_done_callback(self._forget)
        # Runs in dask's callback thread once the task is finished, failed or
        # cancelled; the fetching and settling happen in the settler pool.
        remote.add_done_callback(lambda remote: self._settler.submit(_copy_outcome, remote, outer))
        return outer

    def _forget(self, future: concurrent.futures.Future[Any]) -> None:
        """*future* is settled: drop its dask future, cancelling it if *future* was."""
        with self._lock:
            remote = self._unfinished.pop(future, None)
        if remote is not None and future.cancelled() and not remote.done():
            remote.cancel()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Accept no more calls; close the Client if this pool made it.

        Args:
            wait: block until every call is settled (and the Client closed).
            cancel_futures: cancel every call not finished yet. dask cannot
                tell a queued call from a running one here: a running call
                goes on on its worker, and its result is dropped.
        """
        with self._lock:
            already, self._closed = self._closed, True
            unfinished = list(self._unfinished)
        if cancel_futures:
            for future in unfinished:
                future.cancel()
        if already:
            if wait:
                concurrent.futures.wait(unfinished)
            return
        if wait:
            self._close(unfinished)
        else:
            threading.Thread(
                target=self._close,
                args=(unfinished,),
                name=f"{self._settler.name}-close",
                daemon=True,
            ).start()

    def _close(self, unfinished: list[concurrent.futures.Future[Any]]) -> None:
        concurrent.futures.wait(unfinished)
        self._settler.shutdown(wait=True)
        if self._owns_client:
            self.client.close()


def _explain_unpicklable(call: _Call, args: tuple[Any, ...], error: Exception) -> None:
    """Raise a clear TypeError if an argument cannot be pickled (dask's says "LLGExpr")."""
    from ._pickling import offender

    culprit = offender({f"argument {i}": arg for i, arg in enumerate(args, 1)})
    if culprit != "a value":  # found one
        raise TypeError(
            f"cannot send a call of {call.__name__} to the cluster: {culprit} cannot be pickled"
        ) from error


def _copy_outcome(remote: Any, outer: concurrent.futures.Future[Any]) -> None:
    if remote.cancelled():
        if outer.cancel():
            outer.set_running_or_notify_cancel()
        return
    if not outer.set_running_or_notify_cancel():
        return
    try:
        result = remote.result()
    except BaseException as error:  # the call's own, KilledWorker, a result that won't pickle
        outer.set_exception(error)
    else:
        outer.set_result(result)


class _Call:
    """A function sent the way background sends it to its own worker processes.

    A module-level function goes by reference, so the worker imports its
    module, as dask does for any plain function: its tracebacks name the real
    file, and its module's globals (locks, clients, context variables) are
    the worker's own. A ``@background.task`` function goes as "the
    ``__wrapped__`` of that module attribute", which plain pickle and dask's
    cloudpickle would otherwise send by value, globals and all. Functions
    from ``__main__``, a notebook or a closure go by value with cloudpickle.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        from ._diagnostics import task_name
        from ._pickling import dumps_callable

        self.payload = dumps_callable(fn, task_name(fn))
        self.__name__ = _short_name(fn)  # what dask names its tasks after

    def __call__(self, *args: Any) -> Any:  # pragma: no cover - runs on a worker
        return _load(self.payload)(*args)


@functools.lru_cache(maxsize=256)
def _load(payload: bytes) -> Callable[..., Any]:  # pragma: no cover - runs on a worker
    from ._pickling import loads

    fn: Callable[..., Any] = loads(payload)
    return fn


def _short_name(fn: Any) -> str:
    for _ in range(10):
        inner = getattr(fn, "func", None) or getattr(fn, "__wrapped__", None)
        if inner is None:
            break
        fn = inner
    return str(getattr(fn, "__name__", None) or type(fn).__name__)
