"""``ProcessRunner``: what a ``Pool(process=True)`` hands its calls to."""

from __future__ import annotations

import atexit
import functools
import itertools
import threading
import weakref
from collections import deque
from typing import Any, Callable

from background import _pickling
from background._compat import after_fork_in_child
from background._diagnostics import task_name
from background._job import Job

from . import launch, worker
from .manager import Manager
from .outcome import broken
from .packing import Packer
from .workers import (
    GRACE,
    Durations,
    Pending,
    Worker,
    bundle,
    choose_surplus,
    descriptors,
    idle,
    to_start,
)

_live: weakref.WeakSet[ProcessRunner] = weakref.WeakSet()


class ProcessRunner:
    """Runs jobs in up to ``n`` worker processes, started as work arrives.

    A dead worker fails only the call it held (with :class:`WorkerDied`) and is
    replaced; ``n`` can change at any time (more workers start at once for
    queued work; surplus ones retire when idle). The state below is guarded by
    :attr:`lock` and shared with the pool's :class:`~.manager.Manager` thread.
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
        max_memory_per_worker: int | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        launch.check_platform()
        # Decided before any worker starts, as multiprocessing's own default may
        # be fixed by then, which would look like the program's choice.
        default = launch.default_start_method()
        self.start_method: str = start_method or default
        if self.start_method == "fork" and max_tasks_per_worker is not None:
            raise ValueError(
                "max_tasks_per_worker is incompatible with the 'fork' start method: each "
                "replacement worker would be forked from this process while it runs threads, "
                "which can deadlock; use start_method='forkserver' or 'spawn'"
            )
        self._n = n
        self.name = name
        self.max_tasks = max_tasks_per_worker
        #: Resident bytes past which a worker is replaced after its call.
        self.max_memory = max_memory_per_worker
        #: Seconds after which an idle worker stops (another starts when work comes).
        self.idle_timeout = idle_timeout
        self.initializer_name = ""
        setup: bytes | None = None
        if initializer is not None:
            self.initializer_name = task_name(initializer)
            setup = _pickling.dumps_callable(
                (initializer, tuple(initargs)), f"the initializer {self.initializer_name}"
            )
        self._initializer = setup
        self._packer = Packer()
        self.durations = Durations()
        self.reset()
        _live.add(self)
        if self.start_method == "forkserver":  # it boots while the program prepares calls
            launch.start_fork_server()

    def reset(self) -> None:
        """Start afresh: at creation, and in a forked child (the parent's workers are not its)."""
        self.lock = threading.Lock()
        self.queue: deque[Pending] = deque()
        self.workers: list[Worker] = []
        self.leaving: list[Worker] = []
        self.closing = False
        self.broken: BaseException | None = None
        self.manager: Manager | None = None
        #: Why the last worker could not start, until one does.
        self.launch_failure: BaseException | None = None
        self._task_ids = itertools.count()

    def forget_parent_in_child(self) -> None:
        """In a forked child: done for every live runner by this module's at-fork hook."""
        self.reset()

    # -- the Runner protocol ---------------------------------------------------

    @property
    def n(self) -> int:
        """How many worker processes may run at once."""
        return self._n

    @n.setter
    def n(self, value: int) -> None:
        with self.lock:
            self._n = value
            surplus = len([w for w in self.workers if not w.retiring]) - value
            choose_surplus(self.workers, surplus)
            sends = self.assign_locked() if surplus < 0 else []
            manager = self.manager
        self.send(sends)
        if manager is not None:
            manager.wake()

    @property
    def threads(self) -> int:
        """How many worker processes are alive now."""
        return len(self.workers)

    def start(self, job: Job) -> None:
        """Pickle *job* and send it to an idle worker, or queue it.

        Raises:
            pickle.PicklingError: the function or an argument cannot be pickled.
            ImportError: it needs cloudpickle, which is not installed.
        """
        pending = self._packer.pack(job)
        job.future._stop = functools.partial(self.stop, job)  # see Future.cancel
        sends: list[tuple[Worker, tuple[bytes, ...]]] = []
        with self.lock:
            error = self.broken
            if error is None:
                if self.closing and self.manager is None:
                    raise RuntimeError(f"cannot submit {job.name}: {self.name} is shut down")
                sends, error = self._start_manager_locked()
            if error is None:
                self.queue.append(pending)
                sends += self.assign_locked()
            manager = self.manager
        self.send(sends)
        if error is not None:
            if job.start():
                job.set_exception(error)
            return
        self.after_assigning()
        if job.timeout is not None and manager is not None:
            manager.wake()  # it must watch the new deadline

    def shutdown(self, wait: bool, cancel_futures: bool) -> None:
        """Finish (or cancel) the queued calls, then stop the workers; join if *wait*."""
        with self.lock:
            self.closing = True
            cancelled = list(self.queue) if cancel_futures else []
            if cancel_futures:
                self.queue.clear()
            manager = self.manager
        for pending in cancelled:
            pending.job.cancel()
        if manager is None:
            return
        manager.wake()
        if wait and manager.thread is not threading.current_thread():
            manager.thread.join()

    def cancel_queued(self) -> int:
        """Cancel every call not sent to a worker yet; return how many."""
        with self.lock:
            queued = list(self.queue)
            self.queue.clear()
        for pending in queued:
            pending.job.cancel()
        return len(queued)

    def stop(self, job: Job) -> bool:
        """Stop *job*'s call while it runs: terminate its worker (and the processes
        it started), which is then replaced; its future ends cancelled.

        Only a call that runs alone in its worker can be stopped (every call
        that is not quick, see :func:`~.workers.bundle`); ``False`` otherwise,
        or if the call is not running here.
        """
        with self.lock:
            manager = self.manager
            requeued = [p for p in self.queue if p.job is job]  # see requeue_locked
            for pending in requeued:
                self.queue.remove(pending)
            chosen = [w for w in self.workers if len(w.calls) == 1 and w.calls[0][1].job is job]
            for each in chosen:
                each.calls.clear()
                each.deadline = None
                self.workers.remove(each)
                self.leaving.append(each)
                each.terminate()
        if not (requeued or chosen):
            return False
        if manager is not None:
            manager.wake()
        job.cancel_running()
        return True

    def kill(self, unfinished: object) -> None:
        """Shut down now: cancel the queued calls, terminate every worker.

        The running calls' futures end cancelled. Returns once the workers
        are gone, within about :data:`~.workers.GRACE` seconds, plus the time
        to reap them. (The pool's *unfinished* futures need nothing more.)
        """
        with self.lock:
            self.closing = True
            queued = list(self.queue)
            self.queue.clear()
            running = [pending.job for each in self.workers for _, pending in each.calls]
            stopping = list(self.workers)
            self.workers.clear()
            self.leaving += stopping
            for each in stopping:
                each.calls.clear()
                each.deadline = None
                each.terminate()
            manager = self.manager
        for pending in queued:
            pending.job.cancel()
        for job in running:
            job.cancel_running()
        if manager is not None:
            manager.wake()
            if manager.thread is not threading.current_thread():
                manager.thread.join(GRACE + 5)

    # -- placing calls (under the lock) -------------------------------------------

    def assign_locked(self) -> list[tuple[Worker, tuple[bytes, ...]]]:
        """Give queued calls to idle workers, starting workers as needed."""
        sends: list[tuple[Worker, tuple[bytes, ...]]] = []
        queue = self.queue
        while queue:
            chosen = idle(self.workers, self.max_tasks)
            if chosen is None:
                for _ in range(to_start(self.workers, len(queue), self._n)):
                    if not self._spawn_or_note_locked(sends):
                        break
                break
            calls = bundle(self.queue, self.durations)
            parts = [worker.BUNDLE_HEADER.pack(len(calls))]
            for pending in calls:
                task_id = next(self._task_ids)
                chosen.take(task_id, pending)
                known = pending.fn_id and chosen.function_sent(pending.fn_id)
                fn_bytes = b"" if known else pending.fn_bytes
                size = len(pending.arguments)
                parts += (
                    worker.CALL_HEADER.pack(task_id, pending.fn_id, len(fn_bytes), size),
                    fn_bytes,
                    pending.arguments,
                )
            if calls:
                sends.append((chosen, (b"".join(parts),)))
        return sends

    def requeue_locked(self, calls: list[Pending]) -> None:
        """Put calls that a dead worker never started back at the head of the queue."""
        self.queue.extendleft(call._replace(started=True) for call in reversed(calls))

    def spawn_locked(self) -> tuple[Worker, tuple[bytes, ...]]:
        """Start a worker; return it with its setup message, to send outside the lock."""
        manager = self.manager
        close = descriptors(self.workers + self.leaving)
        if manager is not None:
            close += manager.descriptors()
        channel, process = launch.launch(self.start_method, tuple(close))
        started = Worker(channel, process)
        self.workers.append(started)
        if manager is not None:
            manager.wake()  # it must watch the new worker
        setup = launch.setup_message(self._initializer, self.max_memory is not None)
        return started, (setup,)

    def _spawn_or_note_locked(self, sends: list[tuple[Worker, tuple[bytes, ...]]]) -> bool:
        try:
            sends.append(self.spawn_locked())
        except (OSError, RuntimeError) as error:  # out of processes or descriptors, say
            self.launch_failure = error
            return False
        self.launch_failure = None
        return True

    def after_assigning(self) -> None:
        """If no worker could start and none is left, fail the queued calls (outside the lock)."""
        if self.launch_failure is None:
            return
        with self.lock:
            error = self.launch_failure
            stranded = error is not None and not any(not w.retiring for w in self.workers)
        if stranded:
            self.fail_queued(
                broken(f"{self.name} could not start a worker process: {error}", error)
            )

    def send(self, sends: list[tuple[Worker, tuple[bytes, ...]]]) -> None:
        """Write the messages that :meth:`assign_locked` prepared."""
        for target, parts in sends:
            target.send(*parts)

    def _start_manager_locked(
        self,
    ) -> tuple[list[tuple[Worker, tuple[bytes, ...]]], BaseException | None]:
        """Start the manager thread unless it runs; the error if it cannot start."""
        sends: list[tuple[Worker, tuple[bytes, ...]]] = []
        if self.manager is not None:
            return sends, None
        if self.start_method == "fork":
            # Fork every worker now, before the manager thread exists:
            # forking a process that runs threads risks deadlocks.
            while len(self.workers) < self._n and self.launch_failure is None:
                self._spawn_or_note_locked(sends)
        manager = Manager(self)
        try:
            manager.thread.start()
        except RuntimeError as error:  # interpreter shutting down, or out of threads
            manager.close()
            message = (
                f"{self.name} could not start its manager thread ({error}); the call cannot run"
            )
            return sends, broken(message, error)
        self.manager = manager
        return sends, None

    # -- failures (called by the manager) ------------------------------------------

    def fail_queued(self, error: BaseException) -> None:
        """Fail every call that is queued (the pool cannot run them)."""
        with self.lock:
            queued = list(self.queue)
            self.queue.clear()
        for pending in queued:
            if pending.job.start():
                pending.job.set_exception(error)

    def initializer_failed(self, description: str) -> None:
        """A worker's initializer raised: the pool is broken for good."""
        error = broken(
            f"the initializer {self.initializer_name} failed in a worker process of "
            f"{self.name}: {description}; the pool cannot run tasks"
        )
        with self.lock:
            if self.broken is None:
                self.broken = error
        self.fail_queued(error)

    # -- interpreter exit and fork ------------------------------------------------

    def terminate(self, grace: float) -> None:
        """Cancel queued calls, stop the manager, kill any worker left."""
        with self.lock:
            self.closing = True
            queued = list(self.queue)
            self.queue.clear()
            manager = self.manager
            workers = self.workers + self.leaving
        for pending in queued:
            pending.job.cancel()
        if any(w.busy for w in workers):  # interrupted at exit: abandon them
            for each in workers:
                each.kill()
        if manager is not None:
            manager.wake()
            manager.thread.join(grace)
        for each in workers:
            each.kill()


def _stop_all_at_exit() -> None:
    """At exit, after background waited for the outstanding calls: no worker outlives us."""
    for runner in list(_live):
        runner.terminate(grace=5.0)
    launch.stop_fork_server()


atexit.register(_stop_all_at_exit)


def _after_fork_in_child() -> None:
    for runner in list(_live):
        runner.reset()
    launch.forget_in_child()


after_fork_in_child(_after_fork_in_child)
