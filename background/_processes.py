"""Worker processes that survive crashes, time limits and unpicklable values.

The parent keeps one duplex pipe per worker and one manager thread that waits
on all of them at once (and on each worker's exit sentinel). Submitting
threads pickle the call themselves and write it straight to an idle worker,
so a call costs one message each way; the manager reads the results,
settles the futures, refills the workers, replaces a worker that died and
kills one whose task ran over its time limit.

A worker holds one call at a time, sent once it is up and idle: a call marked
running has started, every other one can still be cancelled, and a crash or a
time limit's kill loses that one call alone.

This module is imported only when a process pool is made: ``import
background`` stays cheap.
"""

from __future__ import annotations

import atexit
import itertools
import multiprocessing
import multiprocessing.connection
import multiprocessing.util
import os
import pickle
import selectors
import signal
import struct
import sys
import threading
import time
import traceback
import types
import weakref
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import TimeoutError as FuturesTimeoutError
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, Callable

from . import _pickling
from ._errors import WorkerDied
from ._job import Job, task_name

if TYPE_CHECKING:
    from ._future import Future
    from ._pool import Pool

#: Every message starts with the task id and a kind.
_HEADER = struct.Struct("<qB")
_CALL, _READY, _OK, _RAISED, _RESULT_UNPICKLABLE, _CALL_UNPICKLABLE, _INIT_FAILED = range(7)
_STOP = b""

_live: weakref.WeakSet[ProcessRunner] = weakref.WeakSet()


def default_start_method() -> str:
    """How worker processes start unless told: never ``fork`` unless asked for.

    A process pool always runs a manager thread in the parent, and forking a
    process that has threads can deadlock the child (a lock held by another
    thread at that moment stays held for ever; Python 3.12+ warns). So,
    unless ``multiprocessing.set_start_method()`` chose a method for the
    program before its first process pool, ``fork`` gives way to
    ``forkserver``, as it does by default from Python 3.14 on; elsewhere
    (macOS, Windows) the platform's default (``spawn``) stays.
    """
    global _default_method
    if _default_method is None:
        # Decided once: starting a pool makes multiprocessing fix its own
        # default, which would then look like the program's choice.
        chosen: str | None = multiprocessing.get_start_method(allow_none=True)
        methods = multiprocessing.get_all_start_methods()
        if chosen is None:
            chosen = methods[0]
            if chosen == "fork" and "forkserver" in methods:
                chosen = "forkserver"
        _default_method = chosen
    return _default_method


_default_method: str | None = None


def _preload_in_fork_server(context: Any) -> None:
    """Have the fork server import this module, so workers forked from it start warm.

    Adds to the modules the server preloads (``__main__`` by default); it
    takes effect if the program's fork server has not started yet.
    """
    import multiprocessing.forkserver

    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    preload = list(getattr(server, "_preload_modules", None) or ["__main__"])
    if __name__ not in preload:
        context.set_forkserver_preload([*preload, __name__])


def start_methods() -> list[str]:
    """The start methods this platform offers."""
    return multiprocessing.get_all_start_methods()


class _Worker:
    """The parent's view of one worker process."""

    __slots__ = (
        "conn",
        "deadline",
        "gone",
        "inflight",
        "process",
        "ready",
        "retiring",
        "send_lock",
        "sent",
        "timed",
    )

    def __init__(self, process: Any, conn: multiprocessing.connection.Connection) -> None:
        self.process = process
        self.conn = conn
        self.inflight: dict[int, tuple[Job, float | None]] = {}
        self.sent = 0
        self.ready = False
        self.retiring = False
        self.gone = False
        self.deadline: float | None = None
        self.timed: int | None = None
        self.send_lock = threading.Lock()


class ProcessRunner:
    """Runs jobs in up to ``n`` worker processes, started as work arrives.

    A dead worker fails only the calls it held (with :class:`WorkerDied`) and is
    replaced; ``n`` can change at any time (more workers start at once for
    queued work; surplus ones retire when idle).
    """

    def __init__(
        self,
        n: int,
        name: str,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        start_method: str | None = None,
        max_tasks_per_worker: int | None = None,
    ) -> None:
        self._n = n
        self._name = name
        # Decided before any worker starts: starting one makes multiprocessing
        # fix its own default, which would then look like the program's choice.
        default = default_start_method()
        self._context: Any = multiprocessing.get_context(start_method or default)
        self.start_method: str = self._context.get_start_method()
        if self.start_method == "fork" and max_tasks_per_worker is not None:
            raise ValueError(
                "max_tasks_per_worker is incompatible with the 'fork' start method: each "
                "replacement worker would be forked from this process while it runs threads, "
                "which can deadlock; use start_method='forkserver' or 'spawn'"
            )
        if self.start_method == "forkserver":
            _preload_in_fork_server(self._context)
        self._max_tasks = max_tasks_per_worker
        self._setup: bytes | None = None
        self._initializer_name = ""
        if initializer is not None:
            self._initializer_name = task_name(initializer)
            self._setup = _pickling.dumps_callable(
                (initializer, tuple(initargs)), f"the initializer {self._initializer_name}"
            )
        self._reset()
        _live.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[tuple[Job, bytes]] = deque()
        self._workers: list[_Worker] = []
        self._leaving: list[_Worker] = []
        self._manager: threading.Thread | None = None
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._woken = False
        self._closing = False
        self._broken: BaseException | None = None
        self._ids = itertools.count()
        self._numbers = itertools.count(1)
        self._functions: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()

    # -- the Runner protocol ---------------------------------------------------

    @property
    def n(self) -> int:
        """How many worker processes may run at once."""
        return self._n

    @n.setter
    def n(self, value: int) -> None:
        with self._lock:
            self._n = value
            active = [w for w in self._workers if not w.retiring]
            surplus = len(active) - value
            # Idle workers first: they retire at once; busy ones after their calls.
            for worker in sorted(active, key=lambda w: len(w.inflight))[: max(surplus, 0)]:
                worker.retiring = True
            sends = self._assign_locked() if surplus < 0 else []
        self._send(sends)
        self._wake()

    @property
    def threads(self) -> int:
        """How many worker processes are alive now."""
        return len(self._workers)

    def start(self, job: Job) -> None:
        """Pickle *job* and send it to a worker with room, or queue it.

        Raises:
            pickle.PicklingError: the function or an argument cannot be pickled.
            ImportError: it needs cloudpickle, which is not installed.
        """
        body = self._pack(job)
        with self._lock:
            error = self._broken
            if error is None:
                if self._closing and self._manager is None:
                    raise RuntimeError(f"cannot submit {job.name}: {self._name} is shut down")
                self._open_locked()
                if self.start_method == "fork" and self._manager is None:
                    # Fork every worker now, before the manager thread exists:
                    # forking a process that runs threads risks deadlocks.
                    while len(self._workers) < self._n:
                        self._spawn_locked()
                error = self._start_manager_locked()
            if error is None:
                self._queue.append((job, body))
                sends = self._assign_locked()
        if error is not None:
            if job.start():
                job.set_exception(error)
            return
        self._send(sends)
        if job.timeout is not None:
            self._wake()  # the manager must watch the new deadline

    def shutdown(self, wait: bool, cancel_futures: bool) -> None:
        """Finish (or cancel) the queued calls, then stop the workers; join if *wait*."""
        with self._lock:
            self._closing = True
            cancelled = list(self._queue) if cancel_futures else []
            if cancel_futures:
                self._queue.clear()
            manager = self._manager
        for job, _ in cancelled:
            job.cancel()
        if manager is None:
            self._close_wake_pipe()
            return
        self._wake()
        if wait and manager is not threading.current_thread():
            manager.join()

    def cancel_queued(self) -> int:
        """Cancel every call not sent to a worker yet; return how many."""
        with self._lock:
            jobs = list(self._queue)
            self._queue.clear()
        for job, _ in jobs:
            job.cancel()
        return len(jobs)

    # -- pickling -------------------------------------------------------------

    def _function_bytes(self, fn: Any, name: str) -> bytes:
        if isinstance(fn, _Batch):
            if fn.payload is None:
                fn.payload = _pickling.dumps_callable(fn, name)
            return fn.payload
        try:
            cached = self._functions.get(fn)
        except TypeError:  # not hashable or no weak reference: pickle every time
            return _pickling.dumps_callable(fn, name)
        if cached is not None:
            return cached
        data = _pickling.dumps_callable(fn, name)
        if _pickling.is_by_reference(data):  # by value captures globals: never reuse
            try:
                self._functions[fn] = data
            except TypeError:
                pass
        return data

    def _pack(self, job: Job) -> bytes:
        fn = _unwrap_task(job.fn)
        name = job.name
        fn_bytes = self._function_bytes(fn, name)
        try:
            return _pickling.dumps((fn_bytes, job.args, job.kwargs))
        except Exception as error:
            try:  # a class from __main__ or a doctest, say: send it by value
                return _pickling.by_value((fn_bytes, job.args, job.kwargs), name)
            except Exception:
                pass
            raise pickle.PicklingError(
                f"cannot send the arguments of {name} to a worker process: "
                f"{_pickling.offender(_labelled_arguments(fn, job))} cannot be pickled "
                f"({type(error).__name__}: {error})"
            ) from error

    # -- workers --------------------------------------------------------------

    def _open_locked(self) -> None:
        if self._wake_r is None:
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_w, False)

    def _close_wake_pipe(self) -> None:
        with self._lock:
            fds = (self._wake_r, self._wake_w)
            self._wake_r = self._wake_w = None
        for fd in fds:
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass

    def _wake(self) -> None:
        fd = self._wake_w
        if fd is None or self._woken:  # no manager yet, or a wake-up is pending
            return
        self._woken = True
        try:
            os.write(fd, b"\0")
        except OSError:  # pragma: no cover - full (so the manager wakes anyway)
            pass

    def _spawn_locked(self) -> _Worker:
        parent_end, child_end = self._context.Pipe(duplex=True)
        inherited: tuple[int, ...] = ()
        if self.start_method == "fork":  # the child must not hold the parent's ends
            inherited = tuple(
                fd
                for fd in (
                    parent_end.fileno(),
                    self._wake_r,
                    self._wake_w,
                    *(w.conn.fileno() for w in self._workers + self._leaving if not w.gone),
                )
                if fd is not None
            )
        process = self._context.Process(
            target=_worker_main,
            args=(child_end, self._setup, inherited),
            name=f"{self._name}-{next(self._numbers)}",
            daemon=False,
        )
        process.start()
        child_end.close()
        worker = _Worker(process, parent_end)
        self._workers.append(worker)
        self._wake()  # the manager must watch the new worker's pipe
        return worker

    def _idle_worker_locked(self) -> _Worker | None:
        """A worker that is up and holds no call, if any."""
        limit = self._max_tasks
        for worker in self._workers:
            if (
                worker.ready
                and not worker.inflight
                and not worker.retiring
                and (limit is None or worker.sent < limit)
            ):
                return worker
        return None

    def _grow_locked(self) -> None:
        """Start workers for the queued calls that no starting worker will take."""
        if self._closing_idle_locked():
            return
        active = [w for w in self._workers if not w.retiring]
        starting = sum(1 for w in active if not w.ready)
        wanted = min(len(self._queue) - starting, self._n - len(active))
        for _ in range(max(wanted, 0)):
            self._spawn_locked()

    def _assign_locked(self) -> list[tuple[_Worker, bytes]]:
        """Give queued calls to idle workers, one each, starting workers as allowed.

        A worker is sent a call only once it is up and idle, so a call marked
        running really is running (or about to be: it is in the worker's pipe
        with nothing ahead of it), and every call not started yet can be
        cancelled. Start-up time never counts against a call's time limit.
        """
        sends: list[tuple[_Worker, bytes]] = []
        queue = self._queue
        while queue:
            worker = self._idle_worker_locked()
            if worker is None:
                self._grow_locked()
                break
            job, body = queue.popleft()
            if not job.start():
                continue
            task_id = next(self._ids)
            worker.inflight[task_id] = (job, job.timeout)
            worker.sent += 1
            if job.timeout is not None:
                worker.deadline = time.monotonic() + job.timeout
                worker.timed = task_id
            sends.append((worker, _HEADER.pack(task_id, _CALL) + body))
        return sends

    def _closing_idle_locked(self) -> bool:
        return self._closing and not self._queue

    def _send(self, sends: list[tuple[_Worker, bytes]]) -> None:
        for worker, data in sends:
            with worker.send_lock:
                try:
                    worker.conn.send_bytes(data)
                except (OSError, ValueError):  # it died: the manager fails its calls
                    pass

    def _start_manager_locked(self) -> BaseException | None:
        """Start the manager thread if it is not running; the error if it cannot start."""
        if self._manager is not None:
            return None
        manager = threading.Thread(target=self._manage, name=f"{self._name}-manager", daemon=True)
        try:
            manager.start()
        except RuntimeError as error:  # interpreter shutting down, or out of threads
            failure = BrokenProcessPool(
                f"{self._name} could not start its manager thread ({error}); the call cannot run"
            )
            failure.__cause__ = error
            return failure
        self._manager = manager
        return None

    # -- the manager thread ---------------------------------------------------

    def _manage(self) -> None:
        selector = selectors.DefaultSelector()
        wake_r = self._wake_r
        assert wake_r is not None
        selector.register(wake_r, selectors.EVENT_READ, None)
        watched: set[_Worker] = set()
        stop_sent_at: float | None = None
        try:
            while True:
                with self._lock:
                    everyone = self._workers + self._leaving
                    deadlines = [w.deadline for w in self._workers if w.deadline is not None]
                    finished = (
                        self._closing
                        and not self._queue
                        and not any(w.inflight for w in self._workers)
                    )
                    stops: list[tuple[_Worker, bytes]] = []
                    if finished:
                        for worker in self._workers:
                            self._leaving.append(worker)
                            stops.append((worker, _STOP))
                        self._workers.clear()
                        if not self._leaving:
                            return
                self._send(stops)
                if finished and stop_sent_at is None:
                    stop_sent_at = time.monotonic()
                if stop_sent_at is not None and time.monotonic() - stop_sent_at > 10:
                    for worker in list(self._leaving):  # hung in an atexit hook, say
                        _kill(worker)
                for worker in everyone:
                    if worker not in watched and not worker.gone:
                        selector.register(worker.conn, selectors.EVENT_READ, (True, worker))
                        selector.register(
                            worker.process.sentinel, selectors.EVENT_READ, (False, worker)
                        )
                        watched.add(worker)
                timeout = None
                if deadlines:
                    timeout = max(0.0, min(deadlines) - time.monotonic())
                if stop_sent_at is not None:
                    timeout = 0.5 if timeout is None else min(timeout, 0.5)
                for key, _ in selector.select(timeout):
                    if key.data is None:
                        try:
                            os.read(wake_r, 4096)
                        except OSError:  # pragma: no cover
                            pass
                        # Only after draining: a wake-up written meanwhile is
                        # either drained with this one (and its change seen
                        # below) or finds the flag clear and writes again.
                        self._woken = False
                        continue
                    is_conn, worker = key.data
                    if worker.gone:
                        continue
                    if is_conn:
                        self._receive(worker)
                    else:
                        self._drain(worker)
                        self._lost(worker)
                    if worker.gone and worker in watched:
                        watched.discard(worker)
                        selector.unregister(worker.conn)
                        selector.unregister(worker.process.sentinel)
                        worker.conn.close()
                self._expire()
                with self._lock:
                    sends = self._retire_locked() + self._assign_locked()
                self._send(sends)
        except BaseException:  # pragma: no cover - a bug here must not hang the pool
            from ._future import logger

            logger.exception("background process pool %s: manager thread failed", self._name)
            with self._lock:
                self._broken = BrokenProcessPool(f"{self._name}: its manager thread failed")
            self._fail_everything(self._broken)
            raise
        finally:
            selector.close()
            for worker in watched:
                try:
                    worker.conn.close()
                except OSError:  # pragma: no cover
                    pass
            self._close_wake_pipe()

    def _retire_locked(self) -> list[tuple[_Worker, bytes]]:
        stops: list[tuple[_Worker, bytes]] = []
        limit = self._max_tasks
        for worker in list(self._workers):
            spent = limit is not None and worker.sent >= limit
            if (worker.retiring or spent) and not worker.inflight:
                self._workers.remove(worker)
                self._leaving.append(worker)
                stops.append((worker, _STOP))
        return stops

    def _drain(self, worker: _Worker) -> None:
        """Read what a worker sent before it exited."""
        try:
            while not worker.gone and worker.conn.poll():
                self._receive(worker)
        except (OSError, EOFError, ValueError):
            pass

    def _receive(self, worker: _Worker) -> None:
        try:
            data = worker.conn.recv_bytes()
        except (EOFError, OSError):
            self._lost(worker)
            return
        task_id, kind = _HEADER.unpack_from(data)
        payload = memoryview(data)[_HEADER.size :]
        if kind == _READY:
            worker.ready = True
            return
        if kind == _INIT_FAILED:
            self._initializer_failed(worker, _pickling.loads(payload))
            return
        with self._lock:
            job, _ = worker.inflight.pop(task_id, (None, None))
            if worker.timed == task_id:
                worker.deadline = worker.timed = None
        if job is not None:
            _settle(job, kind, payload)

    def _lost(self, worker: _Worker) -> None:
        """A worker's pipe closed or its process ended: reap it, fail its calls."""
        process = worker.process
        process.join(5)
        if process.exitcode is None:  # pragma: no cover - closed its pipe but lives on
            process.kill()
            process.join(5)
        code = process.exitcode
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
            if worker in self._leaving:
                self._leaving.remove(worker)
            worker.gone = True
            held = list(worker.inflight.values())
            worker.inflight.clear()
            worker.deadline = worker.timed = None
        for job, _ in held:
            job.set_exception(
                WorkerDied(
                    f"the worker process running {job.name} died ({_exit_reason(code)}) "
                    f"before returning; the pool {self._name} replaced it and "
                    "goes on with the other tasks",
                    job.name,
                    code,
                )
            )

    def _expire(self) -> None:
        """Kill the workers whose call ran over its time limit."""
        now = time.monotonic()
        expired: list[tuple[_Worker, Job | None, float | None]] = []
        with self._lock:
            for worker in list(self._workers):
                if worker.deadline is not None and worker.deadline <= now:
                    timed = worker.timed
                    job, timeout = (None, None)
                    if timed is not None:
                        job, timeout = worker.inflight.pop(timed, (None, None))
                    worker.deadline = worker.timed = None
                    self._workers.remove(worker)
                    self._leaving.append(worker)
                    expired.append((worker, job, timeout))
        for worker, job, timeout in expired:
            _kill(worker)
            if job is not None:
                job.set_exception(
                    FuturesTimeoutError(
                        f"{job.name} did not finish within its timeout of {timeout:g} s; "
                        "its worker process was killed and replaced"
                    )
                )

    def _initializer_failed(self, worker: _Worker, description: str) -> None:
        error = BrokenProcessPool(
            f"the initializer {self._initializer_name} failed in a worker process of "
            f"{self._name}: {description}; the pool cannot run tasks"
        )
        with self._lock:
            if self._broken is None:
                self._broken = error
            held = [job for job, _ in worker.inflight.values()]
            worker.inflight.clear()
        for job in held:
            job.set_exception(error)
        self._fail_everything(error)

    def _fail_everything(self, error: BaseException) -> None:
        with self._lock:
            queued = [job for job, _ in self._queue]
            self._queue.clear()
        for job in queued:
            if job.start():
                job.set_exception(error)

    # -- interpreter exit and fork ----------------------------------------------

    def _terminate(self, grace: float) -> None:
        """Cancel queued calls, stop the manager, kill any worker left."""
        with self._lock:
            self._closing = True
            queued = [job for job, _ in self._queue]
            self._queue.clear()
            manager = self._manager
            workers = self._workers + self._leaving
            busy = any(w.inflight for w in workers)
        for job in queued:
            job.cancel()
        if busy:  # interrupted at exit: what still runs is abandoned
            for worker in workers:
                _kill(worker)
        if manager is not None:
            self._wake()
            manager.join(grace)
        for worker in workers:
            _kill(worker)


def _labelled_arguments(fn: Any, job: Job) -> dict[str, Any]:
    """The call's arguments by the names a user knows them by, for error messages."""
    if isinstance(fn, _Batch):  # a map's batch: name the input items
        items, start = job.args
        return {
            f"item {start + i} of the input" + ("" if len(args) == 1 else f", argument {j}"): value
            for i, args in enumerate(items)
            for j, value in enumerate(args)
        }
    values = {f"argument {i}": value for i, value in enumerate(job.args)}
    values.update({f"keyword argument {k!r}": v for k, v in job.kwargs.items()})
    return values


def _unwrap_task(fn: Any) -> Any:
    """What a worker runs for *fn*: for a ``@background.task`` wrapper, its call.

    Calling the wrapper in the worker would submit the call again there.
    """
    if isinstance(fn, types.FunctionType):
        return fn.__dict__.get("_background_call", fn)
    return fn


def _kill(worker: _Worker) -> None:
    try:
        if worker.process.exitcode is None:
            worker.process.kill()
    except (OSError, ValueError, AssertionError):  # pragma: no cover - already reaped
        pass


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:  # pragma: no cover
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def _with_remote_traceback(error: BaseException, text: str | None) -> BaseException:
    if text:
        error.__cause__ = _RemoteTraceback(text)
    return error


def _settle(job: Job, kind: int, payload: memoryview) -> None:
    name = job.name
    try:
        value = _pickling.loads(payload)
    except BaseException as error:  # SystemExit from a __reduce__ too: fail this call only
        failure = pickle.UnpicklingError(
            f"the result of {name} came back from the worker process but cannot be "
            f"unpickled here: {_describe(error)}"
        )
        failure.__cause__ = error
        job.set_exception(failure)
        return
    if kind == _OK:
        job.set_result(value)
    elif kind == _RAISED:
        raised, text = value
        job.set_exception(_with_remote_traceback(raised, text))
    elif kind == _RESULT_UNPICKLABLE:
        kind_name, description = value
        job.set_exception(
            pickle.PicklingError(
                f"{name} returned a {kind_name}, which cannot be pickled to send it "
                f"back from the worker process ({description})"
            )
        )
    else:
        job.set_exception(
            pickle.UnpicklingError(
                f"the worker process could not load the call to {name}: {value}"
            )
        )


# -- the worker process -------------------------------------------------------


def _describe(error: BaseException) -> str:
    """``Type: message``, even for an exception whose ``__str__`` raises or recurses."""
    try:
        text = str(error)
    except BaseException:
        text = "(its message cannot be shown: str() failed)"
    return f"{type(error).__name__}: {text}"


def _sendable(error: BaseException, name: str) -> BaseException:
    """*error* if it survives the trip to the parent, else a RuntimeError describing it."""
    try:
        _pickling.loads(_dumps_back(error))  # some exceptions pickle but cannot be rebuilt
    except BaseException:
        return RuntimeError(f"{name} raised {_describe(error)}, which cannot be pickled")
    return error


def _format_traceback(error: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(type(error), error, error.__traceback__))
    except BaseException:
        return f"{_describe(error)}\n(the traceback cannot be formatted)\n"


def _type_name(value: object) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _dumps_back(value: object) -> bytes:
    """Pickle for the parent: plain pickle, else cloudpickle if installed."""
    try:
        return _pickling.dumps(value)
    except Exception:
        try:
            return _pickling.by_value(value, "the result")
        except ImportError:
            pass
        raise


def _run_one(data: bytes, cache: dict[bytes, Any]) -> bytes:
    header = _HEADER
    task_id = header.unpack_from(data)[0]
    try:
        fn_bytes, args, kwargs = _pickling.loads(memoryview(data)[header.size :])
        fn = cache.get(fn_bytes)
        if fn is None:
            fn = _pickling.loads(fn_bytes)
            if len(cache) >= 256:
                cache.clear()
            cache[fn_bytes] = fn
    except BaseException as error:
        return header.pack(task_id, _CALL_UNPICKLABLE) + _pickling.dumps(_describe(error))
    del data
    try:
        result = fn(*args, **kwargs)
    except BaseException as error:
        text = _format_traceback(error)
        back = _dumps_back((_sendable(error, task_name(fn)), text))
        return header.pack(task_id, _RAISED) + back
    try:
        return header.pack(task_id, _OK) + _dumps_back(result)
    except BaseException as error:
        return header.pack(task_id, _RESULT_UNPICKLABLE) + _pickling.dumps(
            (_type_name(result), _describe(error))
        )


def _worker_main(
    conn: multiprocessing.connection.Connection, setup: bytes | None, inherited: tuple[int, ...]
) -> None:
    """The worker's loop: read a call, run it, send back its outcome."""
    for fd in inherited:
        try:
            os.close(fd)
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    send, recv = conn.send_bytes, conn.recv_bytes
    if setup is not None:
        try:
            initializer, initargs = _pickling.loads(setup)
            initializer(*initargs)
        except BaseException as error:
            send(_HEADER.pack(-1, _INIT_FAILED) + _pickling.dumps(_describe(error)))
            return
    send(_HEADER.pack(-1, _READY))
    cache: dict[bytes, Any] = {}
    try:
        while True:
            try:
                data = recv()
            except (EOFError, OSError):  # the parent is gone
                return
            if not data:
                return
            try:
                reply = _run_one(data, cache)
            except BaseException as error:  # out of memory while reporting, say
                failure = RuntimeError(
                    "the worker could not report the outcome: " + _describe(error)
                )
                reply = _HEADER.pack(_HEADER.unpack_from(data)[0], _RAISED) + _pickling.dumps(
                    (failure, "")
                )
            del data
            try:
                send(reply)
            except OSError:  # the parent is gone
                return
    finally:
        # Process pools that the tasks made here: multiprocessing would wait
        # for their idle workers for ever as this worker exits.
        _stop_all_at_exit()


# -- map ------------------------------------------------------------------------


class _Batch:
    """Calls a function on each argument tuple of a batch, inside a worker.

    Returns ``(seconds, results, error, traceback)``: what ran before a call
    raised is kept, and the time taken sizes the next batches.
    """

    __slots__ = ("__weakref__", "fn", "payload")

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.payload: bytes | None = None

    def __getstate__(self) -> Callable[..., Any]:
        return self.fn

    def __setstate__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.payload = None

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
            text = _format_traceback(error)
            return time.perf_counter() - started, results, _sendable(error, task_name(fn)), text
        return time.perf_counter() - started, results, None, None

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        return self.fn


class _BatchSizer:
    """Grows batches while calls are quick, to about :attr:`TARGET` seconds each."""

    TARGET = 0.02
    LARGEST = 10_000
    GROWTH = 8

    def __init__(self, fixed: int | None) -> None:
        self.size = fixed or 1
        self.fixed = fixed is not None

    def record(self, count: int, seconds: float) -> None:
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
    deadline = None if timeout is None else time.monotonic() + timeout
    calls: Iterator[tuple[Any, ...]] = zip(*iterables)
    if call_timeout is not None:
        chunksize = 1  # a time limit is per call: batches of one
    sizer = _BatchSizer(chunksize)
    batch = _Batch(_unwrap_task(fn))
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
    return _drain_in_order(in_flight, submit_next, sizer, deadline)


def _drain_in_order(
    in_flight: deque[tuple[int, Future[Any]]],
    submit_next: Callable[[], bool],
    sizer: _BatchSizer,
    deadline: float | None,
) -> Iterator[Any]:
    try:
        while in_flight:
            count, future = in_flight.popleft()
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            seconds, results, error, text = future.result(remaining)
            sizer.record(count, seconds)
            submit_next()
            yield from results
            if error is not None:
                raise _with_remote_traceback(error, text)
    finally:
        for _, future in in_flight:
            future.cancel()
            future._retrieved()


# -- interpreter exit and fork ------------------------------------------------------


def _stop_all_at_exit() -> None:
    """Runs before multiprocessing joins its children: no worker outlives us."""
    for runner in list(_live):
        runner._terminate(grace=5.0)


# Registered after multiprocessing.util's own exit function, so it runs first.
atexit.register(_stop_all_at_exit)


def _after_fork_in_child() -> None:
    for runner in list(_live):
        runner._reset()
    _forget_parents_fork_server()
    # The parent's worker processes are not this child's: without this,
    # multiprocessing's exit hook tries to join them and fails.
    multiprocessing.process._children.clear()  # type: ignore[attr-defined]


def _forget_parents_fork_server() -> None:
    """Let a forked child start a fork server of its own when it needs one.

    multiprocessing keeps its fork server's pid and socket in a module-level
    object that a forked child inherits; the child then asks the parent's
    server for workers and fails to wait on a process that is not its child
    (CPython 3.9 to 3.13 alike). Forgetting that state in the child makes it
    start its own server, as a fresh program does.
    """
    forkserver = sys.modules.get("multiprocessing.forkserver")
    server = getattr(forkserver, "_forkserver", None)
    if server is None or getattr(server, "_forkserver_pid", None) is None:
        return
    alive = server._forkserver_alive_fd
    server._forkserver_address = None
    server._forkserver_alive_fd = None
    server._forkserver_pid = None
    server._lock = threading.Lock()
    if alive is not None:
        try:
            os.close(alive)  # the parent keeps its own copy, and its server
        except OSError:
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

__all__ = ["ProcessRunner", "process_map", "start_methods"]
_ = multiprocessing.util  # imported for its exit hook's order, see above
