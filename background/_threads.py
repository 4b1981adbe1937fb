"""Worker threads whose number can change at any time."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time

try:  # the C queue, without the rest of the queue module (heapq and all)
    from _queue import Empty, SimpleQueue
except ImportError:  # pragma: no cover - CPython always has it
    from queue import Empty, SimpleQueue

from ._compat import SIMPLE_QUEUE_TIMED_GET_CAN_HANG, daemon_thread, executor_module
from ._diagnostics import task_name
from ._future import _worker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from queue import Queue
    from typing import Any, Callable

    from ._future import Future
    from ._job import Job

_STOP = None


class _Shrink:
    """Queued when ``n`` is lowered: the worker that takes it retires if still surplus.

    Unlike the stop that :meth:`ThreadRunner.shutdown` queues behind the last job,
    it may sit ahead of jobs queued later, so it must never stop a worker that
    those jobs need, even once the pool is shutting down.
    """


_SHRINK = _Shrink()


class ThreadRunner:
    """Runs jobs on up to ``n`` daemon threads, started as work arrives.

    Raising ``n`` starts threads at once for queued work; lowering it lets
    running jobs finish and retires the surplus threads as they come free.
    A thread that blocks on another task's future lends its place meanwhile.
    """

    def __init__(
        self,
        n: int,
        name: str,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        idle_timeout: float | None = None,
    ) -> None:
        self._n = n
        self._name = name
        #: Seconds a worker waits for a job before it ends (a new one starts on demand).
        self._idle_timeout = idle_timeout
        self._initializer = initializer
        self._initargs = initargs
        self.forget_parent_in_child()

    def forget_parent_in_child(self) -> None:
        """Start afresh: at creation, and in a forked child (the parent's threads are not its)."""
        self._queue: SimpleQueue[Job | _Shrink | None] | Queue[Job | _Shrink | None]
        if self._idle_timeout is not None and SIMPLE_QUEUE_TIMED_GET_CAN_HANG:
            from queue import Queue  # loaded with the first such pool

            self._queue = Queue()  # its timed get ends on time: idle workers do retire
        else:
            self._queue = SimpleQueue()
        self._idle = 0
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()
        self._alive = 0
        self._lent = 0
        self._closing = False
        self._broken: tuple[str, BaseException] | None = None
        self._numbers = itertools.count(1)

    @property
    def n(self) -> int:
        """How many jobs may run at once."""
        return self._n

    @n.setter
    def n(self, value: int) -> None:
        with self._lock:
            self._n = value
            surplus = self._alive - value - self._lent
        for _ in range(surplus):
            self._queue.put(_SHRINK)
        self._start_for_backlog()

    @property
    def threads(self) -> int:
        """How many worker threads are alive now."""
        return self._alive

    def start(self, job: Job) -> None:
        """Queue *job*; start a thread for it when no worker is idle."""
        if self._broken is not None:
            self._fail(job)
            return
        self._queue.put(job)
        if self._is_broken():  # broken meanwhile, maybe after its queue was failed
            self._fail_queued_broken()
        elif self._alive < self._n + self._lent and self._queue.qsize() > self._idle:
            failure = self._add_thread(fail_queued=False)
            if failure is not None:  # no worker will ever take it: refuse it, now
                for queued in self._drain():
                    if queued is not job and queued.start():
                        queued.set_exception(failure)
                raise failure

    def _start_for_backlog(self) -> None:
        wanted = min(self._queue.qsize(), self._n + self._lent - self._alive)
        for _ in range(wanted):
            self._add_thread()

    def _add_thread(self, fail_queued: bool = True) -> RuntimeError | None:
        """Start a worker; if none can start and none is alive, the error (queued calls failed).

        With *fail_queued* false the queued calls are left to the caller.
        """
        with self._lock:
            if self._closing or self._alive >= self._n + self._lent:
                return None
            self._alive += 1
            thread = daemon_thread(self._work, f"{self._name}-{next(self._numbers)}")
            self._threads.add(thread)
        try:
            thread.start()
        except RuntimeError as error:  # interpreter shutting down, or out of threads
            with self._lock:
                self._alive -= 1
                self._threads.discard(thread)
                stranded = self._alive == 0
            if not stranded:
                return None
            failure = RuntimeError(f"background could not start a worker thread: {error}")
            failure.__cause__ = error
            if fail_queued:  # no worker will ever take the queued calls: fail them
                self._fail_queued(failure)
            return failure
        return None

    def _retire(self, stopping: bool) -> bool:
        with self._lock:
            if not (stopping and self._closing) and self._alive <= self._n + self._lent:
                return False
            self._alive -= 1
            self._threads.discard(threading.current_thread())
            return True

    def _work(self) -> None:
        _worker.lend = self._lend
        if not self._initialized():
            return
        get, lock, idle_timeout = self._queue.get, self._lock, self._idle_timeout
        while True:
            # Submitters read the idle count only to decide whether to start a
            # thread, which a pool at full strength never does: skip the lock then.
            # (Not counted, this worker can only make them start one too many.)
            # Workers that may retire when idle always count, as they come and go.
            counted = idle_timeout is not None or self._alive < self._n + self._lent
            if counted:
                with lock:
                    self._idle += 1
            try:
                job = get(timeout=idle_timeout)
            except Empty:  # idle for idle_timeout seconds: leave
                if self._retire_idle(counted):
                    return
                continue
            if counted:
                self._busy_again()
            if job is _STOP or isinstance(job, _Shrink):
                if self._retire(stopping=job is _STOP):
                    return
                continue
            job.run()
            del job
            if self._alive > self._n + self._lent and self._retire(stopping=False):
                return

    def _busy_again(self) -> None:
        """This worker took a job: leave the idle count."""
        with self._lock:
            self._idle -= 1
        # A submitter that looked while this thread had taken a job but not
        # yet left the idle count saw one idle worker too many and started
        # no thread: look again now that the count is right.
        if self._alive < self._n + self._lent and self._queue.qsize() > self._idle:
            self._add_thread()

    def _initialized(self) -> bool:
        """Run the pool's initializer in this new worker; ``False`` if it failed."""
        if self._initializer is None:
            return True
        try:
            self._initializer(*self._initargs)
        except BaseException as error:
            self._initializer_failed(error)
            return False
        return True

    def _retire_idle(self, counted: bool) -> bool:
        """End this idle worker, unless a job came meanwhile; ``True`` if it ends.

        *counted*: the worker was in the idle count.
        """
        with self._lock:
            if counted:
                self._idle -= 1
            if self._queue.qsize():  # queued just now, counting on this worker: stay
                return False
            self._alive -= 1
            self._threads.discard(threading.current_thread())
        # A submitter that queued a job after the check above, but looked at
        # the idle count before it dropped, started no thread: look again.
        if self._queue.qsize() > self._idle:
            self._add_thread()
        return True

    @contextlib.contextmanager
    def _lend(self) -> Iterator[None]:
        with self._lock:
            self._lent += 1
        self._start_for_backlog()
        try:
            yield
        finally:
            with self._lock:
                self._lent -= 1

    def _initializer_failed(self, error: BaseException) -> None:
        """Break the pool, as the standard library does: fail every call, now and later."""
        assert self._initializer is not None
        description = (
            f"the initializer {task_name(self._initializer)} failed in a worker thread of "
            f"{self._name}: {type(error).__name__}: {error}; the pool cannot run tasks"
        )
        with self._lock:
            if self._broken is None:
                self._broken = (description, error)
            self._closing = True  # no more threads; the idle ones stop
            self._alive -= 1
            self._threads.discard(threading.current_thread())
            others = len(self._threads)
        self._fail_queued_broken()
        for _ in range(others):
            self._queue.put(_STOP)

    def _is_broken(self) -> bool:
        return self._broken is not None

    def _fail(self, job: Job) -> None:
        assert self._broken is not None
        description, cause = self._broken

        broken = executor_module("concurrent.futures.thread").BrokenThreadPool(description)
        broken.__cause__ = cause
        if job.start():
            job.set_exception(broken)

    def _fail_queued_broken(self) -> None:
        for job in self._drain():
            self._fail(job)

    def _fail_queued(self, error: BaseException) -> None:
        for job in self._drain():
            if job.start():
                job.set_exception(error)

    def _drain(self) -> list[Job]:
        """Take every queued job; the workers' stop and shrink tokens stay queued."""
        jobs: list[Job] = []
        tokens: list[_Shrink | None] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except Empty:
                break
            if item is _STOP or isinstance(item, _Shrink):
                tokens.append(item)
            else:
                jobs.append(item)
        for token in tokens:
            self._queue.put(token)
        return jobs

    def shutdown(self, wait: bool, cancel_futures: bool) -> None:
        """Stop once queued jobs are done (or cancelled); join if *wait*."""
        if cancel_futures:
            for job in list(self._drain()):
                job.cancel()
        with self._lock:
            self._closing = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(_STOP)
        if wait:
            me = threading.current_thread()
            for thread in threads:
                if thread is not me:
                    self._join(thread)

    def _join(self, thread: threading.Thread) -> None:
        """Join *thread*, which :meth:`_add_thread` may be about to start."""
        while True:
            try:
                thread.join()
                return
            except RuntimeError:  # counted but not started yet: it will be in a moment
                with self._lock:
                    if thread not in self._threads:
                        return  # it could not start
                time.sleep(0.001)

    def kill(self, unfinished: list[Future[Any]]) -> None:
        """Cancel the queued jobs; ask the running ones to stop (a thread
        cannot be stopped: see :func:`background.cancelled`)."""
        self.shutdown(wait=False, cancel_futures=True)
        for future in unfinished:
            future.cancel()

    def cancel_queued(self) -> int:
        """Cancel every job not started yet; return how many."""
        jobs = list(self._drain())
        for job in jobs:
            job.cancel()
        return len(jobs)
