"""Interrupts and interpreter exit, in real subprocesses with a hard timeout.

* Ctrl-C while the main thread is in ``background.wait()`` cancels the tasks
  that have not started, re-raises at once, and the program exits cleanly.
* A program that ends with tasks still queued runs them before it exits,
  whichever pool they are on, even one dropped or shut down without waiting.
* Ctrl-C while the exit waits cancels what is queued and exits, even when a
  task never ends (worker threads are daemons; worker processes are killed).
* ``os.fork()`` in a program that used background: the child works and exits
  without waiting for the parent's tasks.

* Calls submitted while the exit waits, by a task, a callback or a
  non-daemon thread, to any pool (one made then too, of threads or of
  processes), run before the program exits; a daemon thread's are refused,
  so a heartbeat thread cannot keep the program alive; once the wait is over
  (an atexit hook), every call is refused with a clear error.

Each script marks the moment it is inside the wait with a line on stdout,
printed by a thread that looks at the main thread's stack, so the signal is
sent exactly while the main thread waits; tasks that must be running by then
say so first: no sleeping and hoping.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import process_gone, unmeasured_environment

ROOT = Path(__file__).resolve().parent.parent
HARD_TIMEOUT = 60

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and fork")

#: Prepended to every script: a real Ctrl-C handler (a child started from a
#: background shell job inherits SIGINT ignored) and a way to announce that the
#: main thread is blocked inside a given function of background.
PRELUDE = textwrap.dedent(
    """
    import atexit, json, os, signal, sys, threading, time, warnings
    signal.signal(signal.SIGINT, signal.default_int_handler)
    warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
    import background

    def _main_blocked_in(function, module):
        frame = sys._current_frames().get(threading.main_thread().ident)
        if frame is None or not frame.f_code.co_filename.endswith("threading.py"):
            return False  # not blocked on a lock (yet)
        while frame is not None:
            code = frame.f_code
            if code.co_name == function and code.co_filename.endswith(module):
                return True
            frame = frame.f_back
        return False

    def announce_when_main_waits_in(function, module, line):
        def watch():
            while not _main_blocked_in(function, module):
                time.sleep(0.002)
            print(line, flush=True)
        threading.Thread(target=watch, daemon=True).start()
    """
)


class Child:
    """A Python subprocess running *script*, killed if it outlives HARD_TIMEOUT.

    Its stdout is read through one buffered stream only (lines that
    :meth:`expect` read ahead stay there for :meth:`finish`); its stderr is
    read all along by a thread, so that the child never blocks on a full pipe.
    """

    def __init__(self, script: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", PRELUDE + textwrap.dedent(script)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.killed = False
        self.watchdog = threading.Timer(HARD_TIMEOUT, self._kill)
        self.watchdog.start()
        self._stderr: list[str] = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        with self.process.stderr as stderr:
            self._stderr.append(stderr.read())

    def _kill(self) -> None:
        self.killed = True
        self.process.kill()

    def expect(self, line: str) -> None:
        assert self.process.stdout is not None
        got = self.process.stdout.readline().strip()
        if got != line:
            _, err = self.finish()
            raise AssertionError(f"expected {line!r}, got {got!r}; stderr:\n{err}")

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    def finish(self) -> tuple[str, str]:
        assert self.process.stdout is not None
        try:
            with self.process.stdout as stdout:
                out = stdout.read()  # until the child exits (or is killed)
            self.process.wait()
            self._reader.join(HARD_TIMEOUT)
        finally:
            self.watchdog.cancel()
        err = "".join(self._stderr)
        assert not self.killed, f"the program hung and was killed; stderr:\n{err}"
        return out, err


def _last_json(out: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


#: Python 3.12.0 and 3.12.1 refuse to start any thread once the main thread has
#: ended (gh-104690; 3.12.2 allows it until the non-daemon threads are joined,
#: gh-113964): a call that needs a new worker thread then is refused instead.
NO_NEW_THREADS_AT_EXIT = (3, 12, 0) <= sys.version_info[:3] < (3, 12, 2)


WAITING_SCRIPT = """
    background.n = 2
    ran = []
    go = threading.Event()
    started = threading.Semaphore(0)

    @background.task
    def step(i):
        started.release()
        go.wait(60)
        ran.append(i)

    futures = [step(i) for i in range(100)]
    started.acquire(); started.acquire()  # both workers run a step; 98 are queued
    atexit.register(lambda: print(json.dumps({
        "ran": len(ran),
        "cancelled": sum(f.cancelled() for f in futures),
        "done": sum(f.done() for f in futures),
    }), flush=True))
    announce_when_main_waits_in("wait", "_waiting.py", "waiting")
"""


def test_ctrl_c_in_wait_cancels_the_queued_tasks_and_the_program_exits_cleanly() -> None:
    child = Child(
        WAITING_SCRIPT
        + """
    try:
        background.wait()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    go.set()
    """
    )
    child.expect("waiting")
    child.interrupt()
    child.expect("interrupted")
    out, err = child.finish()
    assert child.process.returncode == 0, err
    # The two running at Ctrl-C finished before exit; the rest were cancelled, none lost.
    assert _last_json(out) == {"ran": 2, "cancelled": 98, "done": 100}


def test_an_uncaught_ctrl_c_in_wait_ends_the_program_as_python_does() -> None:
    child = Child(
        WAITING_SCRIPT
        + """
    try:
        background.wait()
    finally:
        go.set()
    """
    )
    child.expect("waiting")
    child.interrupt()
    out, err = child.finish()
    assert child.process.returncode in (-signal.SIGINT, 128 + signal.SIGINT), err
    assert "KeyboardInterrupt" in err
    assert _last_json(out) == {"ran": 2, "cancelled": 98, "done": 100}


@pytest.mark.parametrize(
    "ending",
    [
        "pass  # simply fall off the end",
        "background.shutdown(wait=False)",
        "own.shutdown(wait=False)",
        "del own",
        "sys.exit(0)",
    ],
)
def test_a_program_that_ends_with_tasks_queued_runs_them_all_first(ending: str) -> None:
    child = Child(
        f"""
        background.n = 2
        ran = []

        def step(i):
            time.sleep(0.005)
            ran.append(i)

        own = background.Pool(2, name="own")
        for i in range(40):
            background.run(step, i)
            own.submit(step, 100 + i)
        atexit.register(lambda: print(json.dumps(sorted(ran)), flush=True))
        {ending}
        import gc; gc.collect()  # a pool nobody refers to any more is gone now
        """
    )
    out, err = child.finish()
    assert child.process.returncode == 0, err
    assert _last_json(out) == [*range(40), *range(100, 140)]  # type: ignore[comparison-overlap]


def test_ctrl_c_while_exit_waits_for_a_task_that_never_ends_cancels_the_rest_and_exits() -> None:
    child = Child(
        """
        import logging
        logging.basicConfig(format="%(name)s %(levelname)s %(message)s")
        background.n = 1
        ran = []
        started = threading.Event()

        def forever():
            started.set()
            while True:
                time.sleep(0.01)

        background.run(forever)
        started.wait()  # it holds the only worker: the next ten stay queued
        queued = [background.run(ran.append, i) for i in range(10)]
        atexit.register(lambda: print(json.dumps({
            "ran": len(ran), "cancelled": sum(f.cancelled() for f in queued),
        }), flush=True))
        announce_when_main_waits_in("finish_outstanding", "_exit.py", "exit waits")
        """
    )
    child.expect("exit waits")
    child.interrupt()
    out, err = child.finish()
    assert child.process.returncode == 0, err
    assert "interrupted at exit: 10 background tasks cancelled, 1 left running" in err
    assert _last_json(out) == {"ran": 0, "cancelled": 10}


def test_ctrl_c_while_exit_waits_for_a_retry_cancels_it_and_exits() -> None:
    child = Child(
        """
        import logging
        logging.basicConfig(format="%(name)s %(levelname)s %(message)s")
        failed = threading.Event()

        @background.task(retries=1, backoff=3600)
        def flaky():
            failed.set()
            raise ConnectionError("try again in an hour")

        waiting = flaky()
        failed.wait()
        while waiting.running():  # until its first attempt has ended: it waits now
            time.sleep(0.001)
        atexit.register(lambda: print(json.dumps({"cancelled": waiting.cancelled()}), flush=True))
        announce_when_main_waits_in("finish_outstanding", "_exit.py", "exit waits")
        """
    )
    child.expect("exit waits")
    child.interrupt()
    out, err = child.finish()
    assert child.process.returncode == 0, err
    assert "interrupted at exit: 1 background tasks cancelled, 0 left running" in err
    assert _last_json(out) == {"cancelled": True}


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_ctrl_c_while_exit_waits_for_a_process_task_that_never_ends_kills_the_worker() -> None:
    child = Child(
        """
        def forever():
            while True:
                time.sleep(0.01)

        pool = background.Pool(1, process=True, name="stuck")
        print(pool.submit(os.getpid).result(30), flush=True)
        pool.submit(forever)
        queued = [pool.submit(abs, -i) for i in range(5)]
        announce_when_main_waits_in("finish_outstanding", "_exit.py", "exit waits")
        """
    )
    assert child.process.stdout is not None
    worker = int(child.process.stdout.readline())
    child.expect("exit waits")
    assert not process_gone(worker)
    child.interrupt()
    _, err = child.finish()
    assert child.process.returncode == 0, err
    deadline = time.monotonic() + HARD_TIMEOUT
    while not process_gone(worker) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process_gone(worker), "the worker process outlived its program"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_forked_child_works_and_exits_without_waiting_for_the_parents_tasks() -> None:
    child = Child(
        """
        background.n = 1
        release = threading.Event()
        held = background.run(release.wait, 30)       # the parent's only worker is busy
        queued = [background.run(abs, -i) for i in range(5)]
        procs = background.Pool(1, process=True)
        assert procs.submit(pow, 2, 5).result(30) == 32
        pid = os.fork()
        if pid == 0:
            ok = (
                background.results([background.run(pow, 3, i) for i in range(4)], timeout=30)
                == [1, 3, 9, 27]
                and procs.submit(pow, 2, 6).result(30) == 64
            )
            sys.exit(0 if ok else 3)  # a normal exit, atexit and all: must not hang
        _, status = os.waitpid(pid, 0)
        release.set()
        parent = background.results([held, *queued], timeout=30) == [True, 0, 1, 2, 3, 4]
        print(json.dumps({"child": os.waitstatus_to_exitcode(status)
                          if hasattr(os, "waitstatus_to_exitcode") else status >> 8,
                          "parent": parent}), flush=True)
        """
    )
    out, err = child.finish()
    assert child.process.returncode == 0, err
    assert _last_json(out) == {"child": 0, "parent": True}


def test_the_calls_of_a_dropped_pool_stay_in_view_of_the_exit_wait() -> None:
    """In-process view of the dropped-pool case above: its work is adopted, then waited for."""
    import gc

    import background
    from background import _exit

    release = threading.Event()
    pool = background.Pool(1, name="dropped")
    running = pool.submit(release.wait, HARD_TIMEOUT)
    queued = pool.submit(abs, -1)
    del pool
    gc.collect()
    adopted = [work for work, _ in _exit._orphans if running in work and queued in work]
    assert len(adopted) == 1
    release.set()
    # What the exit does with it: wait until both calls have left.
    assert adopted[0].wait_gone([running, queued], time.monotonic() + HARD_TIMEOUT)
    assert running.done()
    assert queued.result() == 1


# --- calls submitted while the exit waits, and after ------------------------------


def test_calls_a_non_daemon_thread_submits_after_the_main_thread_ended_all_run() -> None:
    child = Child(
        """
        from background import _exit
        ran = []

        def work(i):
            time.sleep(0.01)
            ran.append(i)

        def late():
            while _exit.phase == _exit.RUNNING:  # until the main thread has ended
                time.sleep(0.002)
            for i in range(10):
                background.run(work, i)
            made_now = background.Pool(2, name="made-now")  # a pool made during the exit
            for i in range(10, 20):
                made_now.submit(work, i)

        threading.Thread(target=late).start()  # a plain, non-daemon thread
        atexit.register(lambda: print(json.dumps(sorted(ran)), flush=True))
        """
    )
    out, err = child.finish()
    assert child.process.returncode == 0, err
    if NO_NEW_THREADS_AT_EXIT:  # refused at once, loudly: never accepted and dropped
        assert "background could not start a worker thread" in err
        assert _last_json(out) == []  # type: ignore[comparison-overlap]
        return
    assert _last_json(out) == list(range(20))  # type: ignore[comparison-overlap]


def test_work_handed_from_pool_to_pool_while_the_exit_waits_all_runs() -> None:
    """Each step hands on only once the pool it came from is idle, whichever
    pool the exit looks at first: a wait that drains one pool after the other
    loses a step."""
    child = Child(
        """
        pools = {"a": background.Pool(1, name="a"), "b": background.Pool(1, name="b")}
        ran = []

        def step(i, here, there):
            while pools[there].outstanding():  # until the other pool is idle
                time.sleep(0.002)
            time.sleep(0.2)  # lost work would not finish before the interpreter does
            ran.append(i)
            if i < 4:
                pools[there].submit(step, i + 1, there, here)

        for pool in pools.values():  # each pool's worker thread is up before the exit
            pool.submit(abs, 0).result(30)
        pools["a"].submit(step, 1, "a", "b")
        atexit.register(lambda: print(json.dumps(ran), flush=True))
        """
    )
    out, err = child.finish()
    assert child.process.returncode == 0, err
    assert _last_json(out) == [1, 2, 3, 4]  # type: ignore[comparison-overlap]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_a_process_pool_first_made_while_the_exit_waits_runs_its_calls(method: str) -> None:
    child = Child(
        f"""
        from background import _exit

        def use_processes():
            while _exit.phase == _exit.RUNNING:  # until the exit waits for this call
                time.sleep(0.002)
            pool = background.Pool(2, process=True, start_method={method!r})
            return pool.submit(pow, 2, 10).result(30)

        if __name__ == "__main__":
            future = background.run(use_processes)
            future.add_done_callback(lambda f: print(json.dumps(f.result()), flush=True))
        """
    )
    out, err = child.finish()
    assert child.process.returncode == 0, err
    if NO_NEW_THREADS_AT_EXIT:  # its manager thread cannot start: the call fails, saying so
        assert "can't create new thread at interpreter shutdown" in err
        return
    assert _last_json(out) == 1024  # type: ignore[comparison-overlap]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("kind", ["threads", "fork", "forkserver", "spawn"])
def test_a_call_submitted_from_an_atexit_hook_is_refused_clearly(kind: str) -> None:
    child = Child(
        f"""
        def submit_at_exit():
            try:
                pool.submit(abs, -1)
            except RuntimeError as error:
                print(json.dumps(str(error)), flush=True)

        if __name__ == "__main__":
            atexit.register(submit_at_exit)  # runs once background's exit wait is over
            if {kind!r} == "threads":
                pool = background.Pool(2)
            else:
                pool = background.Pool(2, process=True, start_method={kind!r})
            assert pool.submit(abs, -42).result(30) == 42
        """
    )
    out, err = child.finish()
    assert child.process.returncode == 0, err
    assert _last_json(out) == "cannot submit builtins.abs: the interpreter is exiting"  # type: ignore[comparison-overlap]


# --- a first pool made while the interpreter exits ---------------------------------
#
# ``import background`` does not load threading, and the exit wait loads with the
# first pool: these programs make their first pool only at exit, with threading
# loaded before background, after it, or never. They run as files, from an empty
# folder, without ``site`` (``-S``: a coverage hook in a ``.pth`` file would load
# threading). Each prints first what was loaded when its main code ended, so that
# none tests another case than it says.

LOADING = {
    "threading imported first": ("import threading", ""),
    "threading imported after background": ("", "import threading"),
    "threading never imported": ("", ""),
}

REGISTERED = {
    "hook registered after import background": (
        "import background",
        "atexit.register(submit_at_exit)",
    ),
    "hook registered before import background": (
        "atexit.register(submit_at_exit)",
        "import background",
    ),
}

SUBMIT_AT_EXIT = {
    "default pool": "background.task(slow)()",
    "explicit pool": "background.Pool(2, name='at-exit').submit(slow)",  # dropped at once
}

#: Prints a line in one write: two threads' lines never mix.
SAY = """
def say(line):
    sys.stdout.write(f"{line}\\n")
    sys.stdout.flush()
"""

ATEXIT_PROGRAM = """
import atexit, sys, time
{loading_first}
{say}
def slow():
    time.sleep(0.2)  # a lost call could not end before the interpreter does
    say("ran")

def submit_at_exit():
    try:
        {submit}
    except RuntimeError as error:
        say(f"refused: {{error}}")
    else:
        say("accepted")

{first}
{second}
{loading_after}
print("threading" in sys.modules, "background._exit" in sys.modules, flush=True)
"""


def _atexit_program(loading: str, registered: str, submit: str) -> str:
    loading_first, loading_after = LOADING[loading]
    first, second = REGISTERED[registered]
    return ATEXIT_PROGRAM.format(
        loading_first=loading_first,
        loading_after=loading_after,
        first=first,
        second=second,
        submit=SUBMIT_AT_EXIT[submit],
        say=SAY,
    )


def _run_program(folder: Path, source: str) -> subprocess.CompletedProcess[str]:
    """Run *source* saved as ``program.py`` in the empty *folder*."""
    (folder / "program.py").write_text(source)
    environment = unmeasured_environment()
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-S", "program.py"],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=HARD_TIMEOUT,
    )


def _cleanly(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines a program printed, once it is sure that it ended well.

    No "Exception ignored in ..." either: a finalizer that runs while the
    interpreter tears itself down must not fail.
    """
    assert done.returncode == 0, done.stderr
    assert "Exception ignored" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize(
    ("loading", "registered"),
    [
        (loading, registered)
        for loading in LOADING
        for registered in REGISTERED
        # The one case that is waited for instead: see the next test.
        if (loading, registered)
        != ("threading never imported", "hook registered after import background")
    ],
)
@pytest.mark.parametrize("submit", SUBMIT_AT_EXIT)
def test_a_first_pool_made_in_an_atexit_hook_refuses_its_calls_clearly(
    tmp_path: Path, loading: str, registered: str, submit: str
) -> None:
    """As a pool made earlier does: background's exit hook has run already."""
    lines = _cleanly(_run_program(tmp_path, _atexit_program(loading, registered, submit)))
    threading_loaded = loading != "threading never imported"
    assert lines == [
        f"{threading_loaded} False",  # no pool before the exit
        "refused: cannot submit __main__.slow: the interpreter is exiting",
    ]


@pytest.mark.parametrize("submit", SUBMIT_AT_EXIT)
def test_without_threading_a_hook_registered_after_import_background_has_its_calls_waited_for(
    tmp_path: Path, submit: str
) -> None:
    """A program that never loads threading skips threading's exit step, where
    background's exit hook moves before every atexit hook: the hook that
    ``import background`` registered waits for the calls of the atexit hooks
    registered after it, which run before it (none is lost)."""
    program = _atexit_program(
        "threading never imported", "hook registered after import background", submit
    )
    lines = _cleanly(_run_program(tmp_path, program))
    if NO_NEW_THREADS_AT_EXIT:  # 3.12.0 and 3.12.1 start no thread at exit: refused, saying so
        assert lines == [
            "False False",
            "refused: background could not start a worker thread: "
            "can't create new thread at interpreter shutdown",
        ]
        return
    assert lines[0] == "False False"
    assert sorted(lines[1:]) == ["accepted", "ran"]


TEARDOWN_PROGRAM = f"""
import atexit, gc, sys
gc.disable()  # as some programs do: the pool's reference cycle outlives every module
import background
{SAY}
class Holder:
    def __init__(self):
        self.me = self  # a cycle: only the interpreter's last collection frees the pool
        self.pool = background.Pool(1, name="in-a-cycle")

def submit_at_exit():
    try:
        Holder().pool.submit(say, "ran")
    except RuntimeError as error:
        say(f"refused: {{error}}")
    else:
        say("accepted")

atexit.register(submit_at_exit)
"""


def test_a_pool_collected_while_the_interpreter_tears_itself_down_neither_fails_nor_hangs(
    tmp_path: Path,
) -> None:
    """Its finalizer runs when the modules' globals are gone and no thread can
    start: it must do nothing (it shut the pool's runner down in place, which
    hung the exit on Python 3.9 to 3.11)."""
    lines = _cleanly(_run_program(tmp_path, TEARDOWN_PROGRAM))  # a hang times out
    if NO_NEW_THREADS_AT_EXIT:
        assert lines == [
            "refused: background could not start a worker thread: "
            "can't create new thread at interpreter shutdown"
        ]
        return
    assert sorted(lines) == ["accepted", "ran"]


LATE_SUBMIT = {
    "default pool": "for i in range(4): background.run(work, i)",
    "explicit pool": "pool = background.Pool(2, name='late')\n    "
    "for i in range(4): pool.submit(work, i)",
}

NON_DAEMON_PROGRAM = """
import atexit, json, sys, time
{loading_first}
import background
{loading_after}
ran = []

def work(i):
    time.sleep(0.2)  # a lost call could not end before the interpreter does
    ran.append(i)

def late():
    while threading.main_thread().is_alive():  # until Python joins this thread
        time.sleep(0.002)
    {submit}

threading.Thread(target=late).start()  # a plain, non-daemon thread
atexit.register(lambda: print(json.dumps(sorted(ran)), flush=True))
print("background._exit" in sys.modules, flush=True)
"""


@pytest.mark.parametrize("submit", LATE_SUBMIT)
@pytest.mark.parametrize(
    "loading", ["threading imported first", "threading imported after background"]
)
def test_a_first_pool_made_by_a_non_daemon_thread_while_python_joins_it_runs_its_calls(
    tmp_path: Path, loading: str, submit: str
) -> None:
    loading_first, loading_after = LOADING[loading]
    program = NON_DAEMON_PROGRAM.format(
        loading_first=loading_first, loading_after=loading_after, submit=LATE_SUBMIT[submit]
    )
    done = _run_program(tmp_path, program)
    if NO_NEW_THREADS_AT_EXIT:  # refused at once, loudly: never accepted and dropped
        assert "background could not start a worker thread" in done.stderr
        assert done.stdout.splitlines() == ["False", "[]"]
        return
    assert _cleanly(done) == ["False", "[0, 1, 2, 3]"]  # no pool before the exit; all ran


def test_a_daemon_thread_that_keeps_submitting_does_not_keep_the_program_alive() -> None:
    child = Child(
        """
        accepted = []
        ran = []
        refused = []
        some_ran = threading.Event()

        def beat(i):
            time.sleep(0.02)
            ran.append(i)
            if len(ran) >= 3:
                some_ran.set()

        def heartbeat():
            for i in range(1_000_000):
                try:
                    background.run(beat, i)
                except RuntimeError as error:
                    refused.append(str(error))
                    return
                accepted.append(i)
                time.sleep(0.005)

        threading.Thread(target=heartbeat, daemon=True).start()
        some_ran.wait()
        atexit.register(lambda: print(json.dumps({
            "every accepted call ran": sorted(ran) == accepted, "refused": refused,
        }), flush=True))
        """
    )
    out, err = child.finish()
    assert child.process.returncode == 0, err
    result = _last_json(out)
    assert result["every accepted call ran"] is True
    [refusal] = result["refused"]
    assert refusal.startswith("cannot submit __main__.beat: the interpreter is exiting")
    assert "daemon thread" in refusal


def test_ctrl_c_stops_a_task_that_resubmits_itself_while_the_exit_waits() -> None:
    """Such a task keeps the program alive, as a non-daemon thread that loops does."""
    child = Child(
        """
        import logging
        logging.basicConfig(format="%(name)s %(levelname)s %(message)s")

        def tick():
            time.sleep(0.01)
            background.run(tick)

        background.run(tick)
        announce_when_main_waits_in("finish_outstanding", "_exit.py", "exit waits")
        """
    )
    child.expect("exit waits")
    child.interrupt()
    _, err = child.finish()
    assert child.process.returncode == 0, err
    assert "interrupted at exit" in err


@pytest.mark.parametrize("where", ["wait", "results", "as_completed", "exit"])
def test_ctrl_c_taken_by_another_thread_still_interrupts_the_waiting_main_thread(
    where: str,
) -> None:
    """The signal lands in a thread other than the blocked main thread (as when
    it comes just before the main thread blocks): the wait still ends at once."""
    waits = {
        "wait": "background.wait([never])",
        "results": "background.results([never])",
        "as_completed": "list(background.as_completed([never]))",
        "exit": "pass  # the exit waits for it",
    }
    function, module = {
        "exit": ("finish_outstanding", "_exit.py"),
        "as_completed": ("_as_completed", "_waiting.py"),
    }.get(where, (where, "_waiting.py"))
    child = Child(
        f"""
        import logging
        logging.basicConfig(format="%(name)s %(levelname)s %(message)s")
        release = threading.Event()
        never = background.run(release.wait)

        def interrupt_from_here():
            while not _main_blocked_in({function!r}, {module!r}):
                time.sleep(0.002)
            signal.raise_signal(signal.SIGINT)  # handled by this thread, not the main one

        threading.Thread(target=interrupt_from_here, daemon=True).start()
        try:
            {waits[where]}
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            release.set()
        """
    )
    out, err = child.finish()
    assert child.process.returncode == 0, err
    if where == "exit":
        assert "interrupted at exit: 0 background tasks cancelled, 1 left running" in err
    else:
        assert out.splitlines() == ["interrupted"]
