"""The manager thread of a process pool: it reads replies and keeps the workers going."""

from __future__ import annotations

import os
import selectors
import threading
import time
from concurrent.futures import TimeoutError as FuturesTimeoutError

from background._diagnostics import logger

from . import outcome, worker
from .workers import Worker, to_retire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import deque
    from typing import Any, Protocol

    from background._job import Job

    from .workers import Durations, Pending

    class ProcessRunner(Protocol):
        """The state a manager shares with its :class:`~.runner.ProcessRunner`, under ``lock``."""

        name: str
        lock: threading.Lock
        queue: deque[Pending]
        workers: list[Worker]
        leaving: list[Worker]
        closing: bool
        broken: BaseException | None
        durations: Durations
        max_tasks: int | None
        max_memory: int | None
        idle_timeout: float | None

        def assign_locked(self) -> list[tuple[Worker, tuple[bytes, ...]]]: ...
        def requeue_locked(self, calls: list[Pending]) -> None: ...
        def after_assigning(self) -> None: ...
        def send(self, sends: list[tuple[Worker, tuple[bytes, ...]]]) -> None: ...
        def fail_queued(self, error: BaseException) -> None: ...
        def initializer_failed(self, description: str) -> None: ...


#: Seconds a stopped worker may take to exit (an atexit hook of its own, say) before it is killed.
STOP_GRACE = 10.0


class Manager:
    """Waits on every worker's replies and exit at once, and on a wake-up pipe.

    Each round of :meth:`run` is a list of named steps; submitting threads
    wake it when there is something new to watch (a worker, a time limit).
    """

    def __init__(self, runner: ProcessRunner) -> None:
        self.runner = runner
        self.thread = threading.Thread(target=self.run, name=f"{runner.name}-manager", daemon=True)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._woken = False
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._watched: set[Worker] = set()

    # -- used by other threads -------------------------------------------------------

    def wake(self) -> None:
        """Have the manager look at the pool's state again."""
        if self._woken:  # a wake-up is pending already
            return
        self._woken = True
        try:
            os.write(self._wake_w, b"\0")
        except OSError:  # full (so it wakes anyway), or closed: it has ended
            pass

    def descriptors(self) -> list[int]:
        """The file descriptors that a forked worker must close."""
        return [self._wake_r, self._wake_w, self._selector.fileno()]

    def close(self) -> None:
        """Release the wake-up pipe and the selector."""
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    # -- the loop --------------------------------------------------------------------

    def run(self) -> None:
        """Until the pool is shut down and every worker has left."""
        try:
            while self._stop_idle_workers():
                self._watch_new_workers()
                for key, _ in self._selector.select(self._timeout()):
                    self._handle(key.data)
                self._expire_calls()
                self._kill_stragglers()
                self._refill()
        except BaseException:  # a bug here must not leave calls pending for ever
            logger.exception("background process pool %s: manager thread failed", self.runner.name)
            self._break()
        finally:
            for each in self._watched:
                each.close()
            self.close()
            # The runner holds this manager: a pool dropped after shutdown is then
            # freed at once, not when the garbage collector finds the cycle.
            del self.runner

    def _stop_idle_workers(self) -> bool:
        """Stop the workers that are done; ``False`` once the pool is done and all have left."""
        runner = self.runner
        spent = runner.max_tasks
        idle_since = self._idle_deadline()
        if not runner.closing and not any(
            w.retiring
            or (spent is not None and w.sent >= spent)
            or (idle_since is not None and not w.busy and w.idle_since <= idle_since)
            for w in runner.workers
        ):
            return True  # the common case, seen without the lock: nothing to stop
        with runner.lock:
            finished = (
                runner.closing and not runner.queue and not any(w.busy for w in runner.workers)
            )
            stopping = (
                list(runner.workers)
                if finished
                else to_retire(runner.workers, spent, None if runner.queue else idle_since)
            )
            for each in stopping:
                runner.workers.remove(each)
                runner.leaving.append(each)
                each.kill_at = time.monotonic() + STOP_GRACE
            if finished and not runner.leaving:
                return False
        for each in stopping:
            each.send()  # an empty message: stop
        return True

    def _watch_new_workers(self) -> None:
        runner = self.runner
        if len(self._watched) >= len(runner.workers) + len(runner.leaving):
            return  # nobody new (a new worker also wakes the manager)
        with runner.lock:
            everyone = runner.workers + runner.leaving
        for each in everyone:
            if each not in self._watched and not each.gone:
                self._selector.register(each.channel.reader, selectors.EVENT_READ, (True, each))
                self._selector.register(each.process.sentinel, selectors.EVENT_READ, (False, each))
                self._watched.add(each)

    def _idle_deadline(self) -> float | None:
        """Workers idle since before this moment stop (with ``idle_timeout``)."""
        seconds = self.runner.idle_timeout
        return None if seconds is None else time.monotonic() - seconds

    def _timeout(self) -> float | None:
        """Until the next time limit, kill or idle worker's end, if any (read
        without the lock: a change comes with a wake-up)."""
        runner = self.runner
        moments = [w.deadline for w in runner.workers if w.deadline is not None]
        moments += [w.kill_at for w in runner.leaving if w.kill_at is not None]
        if runner.idle_timeout is not None:
            moments += [
                w.idle_since + runner.idle_timeout
                for w in runner.workers
                if w.ready and not w.busy and not w.retiring
            ]
        return None if not moments else max(0.0, min(moments) - time.monotonic())

    def _handle(self, data: Any) -> None:
        if data is None:
            try:
                os.read(self._wake_r, 4096)
            except OSError:  # pragma: no cover
                pass
            # Only after draining: a wake-up written meanwhile is either drained
            # with this one (its change seen in this round) or writes again.
            self._woken = False
            return
        is_reply, each = data
        if each.gone:
            return
        if is_reply:
            self._receive(each)
        elif each.process.ended():
            self._drain(each)
            self._lost(each)
        else:  # its exit pipe closed while it lives on: its reply pipe tells instead
            self._forget(each.process.sentinel)

    def _receive(self, each: Worker) -> None:
        """Handle what the worker sent: one read may bring several replies."""
        channel = each.channel
        while True:
            try:
                data = channel.recv()
            except (OSError, EOFError):
                data = None
            if data is None:  # it closed its pipe: it is exiting
                self._lost(each)
                return
            self._reply(each, data)
            if each.gone or not channel.has_message():
                return

    def _reply(self, each: Worker, data: bytes | bytearray) -> None:
        task_id, kind, _, _ = worker.REPLY_HEADER.unpack_from(data)
        payload = memoryview(data)[worker.REPLY_HEADER.size :]
        if kind == worker.READY:
            each.process.pid = task_id
            each.ready = True
        elif kind == worker.INIT_FAILED:
            self.runner.initializer_failed(self._loads(payload))
        else:
            _, _, resident, seconds = worker.REPLY_HEADER.unpack_from(data)
            limit = self.runner.max_memory
            with self.runner.lock:
                pending = each.finish(task_id)
                if limit is not None and resident > limit:
                    each.retiring = True  # replaced once its calls are done
            if pending is not None:
                self.runner.durations.measured(pending, seconds)
                outcome.settle(pending.job, kind, payload)

    @staticmethod
    def _loads(payload: memoryview) -> Any:
        from background import _pickling

        return _pickling.loads(payload)

    def _drain(self, each: Worker) -> None:
        """Read what a worker sent before it ended."""
        try:
            while not each.gone and (each.channel.has_message() or _readable(each.channel.reader)):
                self._receive(each)
        except (OSError, EOFError, ValueError):
            pass

    def _lost(self, each: Worker) -> None:
        """A worker's pipe closed or its process ended: reap it, fail its call."""
        if each.gone:  # lost already (its last replies were drained, say)
            return
        process = each.process
        deadline = time.monotonic() + 5
        while not process.ended() and time.monotonic() < deadline:
            time.sleep(0.01)  # it closed its pipe and is on its way out
        if not process.ended():  # pragma: no cover - closed its pipe but lives on
            process.signal(9)
        runner = self.runner
        with runner.lock:
            for group in (runner.workers, runner.leaving):
                if each in group:
                    group.remove(each)
            held = [pending for _, pending in each.calls]
            each.calls.clear()
            # Only the first was running; those behind it never started.
            runner.requeue_locked(held[1:])
        if each in self._watched:
            self._watched.discard(each)
            self._forget(each.channel.reader)
            self._forget(process.sentinel)
        each.close()
        if held:
            job = held[0].job
            job.hand_over(outcome.died(job, process.exitcode, runner.name), failed=True)

    def _forget(self, fd: int) -> None:
        try:
            self._selector.unregister(fd)
        except (KeyError, ValueError):  # not watched (any more)
            pass

    def _expire_calls(self) -> None:
        """Stop the workers whose call ran over its time limit; fail those calls."""
        now = time.monotonic()
        runner = self.runner
        if not any(w.deadline is not None and w.deadline <= now for w in runner.workers):
            return
        expired: list[Job] = []
        with runner.lock:
            for each in list(runner.workers):
                if each.deadline is not None and each.deadline <= now and each.calls:
                    expired.append(each.calls.popleft()[1].job)  # alone: see Worker.take
                    each.deadline = None
                    runner.workers.remove(each)
                    runner.leaving.append(each)
                    each.terminate()
        for job in expired:
            error = FuturesTimeoutError(
                f"{job.name} did not finish within its timeout of {job.timeout:g} s; "
                "its worker process (and the processes it started) was stopped and replaced"
            )
            job.hand_over(error, failed=True)

    def _kill_stragglers(self) -> None:
        """SIGKILL the leaving workers whose grace is over."""
        if not self.runner.leaving:
            return
        now = time.monotonic()
        with self.runner.lock:
            late = [w for w in self.runner.leaving if w.kill_at is not None and w.kill_at <= now]
        for each in late:
            each.kill()
            each.kill_at = None  # once: its exit is watched as any other

    def _refill(self) -> None:
        runner = self.runner
        if not runner.queue:
            return
        with runner.lock:
            sends = runner.assign_locked()
        runner.send(sends)
        runner.after_assigning()

    def _break(self) -> None:
        runner = self.runner
        error = outcome.broken(f"{runner.name}: its manager thread failed")
        with runner.lock:
            runner.broken = error
            everyone = runner.workers + runner.leaving
            held = [pending.job for w in everyone for _, pending in w.calls]
            for each in everyone:
                each.calls.clear()
        for each in everyone:
            each.kill()
        for job in held:
            job.set_exception(error)
        runner.fail_queued(error)


def _readable(fd: int) -> bool:
    import select

    return bool(select.select([fd], [], [], 0)[0])
