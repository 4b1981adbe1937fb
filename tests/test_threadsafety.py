"""Many submitters while n changes: no task lost, none run twice, no deadlock."""

from __future__ import annotations

import collections
import os
import random
import subprocess
import sys
import textwrap
import threading

import pytest
from support import run_bare_python

import background

TIMEOUT = 60


def test_concurrent_submitters_and_a_resizer_lose_nothing() -> None:
    calls: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()

    @background.task
    def record(i: int) -> int:
        with lock:
            calls[i] += 1
        return i

    futures: list[list[background.Future[int]]] = [[] for _ in range(8)]
    stop = threading.Event()

    def submit(k: int) -> None:
        for i in range(k * 1000, k * 1000 + 1000):
            futures[k].append(record(i))

    def resize() -> None:
        rng = random.Random(1)
        while not stop.is_set():
            background.n = rng.randint(1, 40)

    resizer = threading.Thread(target=resize)
    submitters = [threading.Thread(target=submit, args=(k,)) for k in range(8)]
    resizer.start()
    for thread in submitters:
        thread.start()
    for thread in submitters:
        thread.join(TIMEOUT)
    stop.set()
    resizer.join(TIMEOUT)
    assert not any(t.is_alive() for t in [resizer, *submitters]), "deadlock"
    everything = [f for chunk in futures for f in chunk]
    assert background.results(everything, timeout=TIMEOUT) == list(range(8000))
    assert calls == collections.Counter(range(8000))  # each exactly once


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_after_fork_the_child_gets_a_fresh_working_pool() -> None:
    script = textwrap.dedent(
        """
        import os, sys, threading, warnings
        import background

        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
        background.n = 3
        release = threading.Event()
        held = background.run(release.wait, 30)
        assert background.results([background.run(abs, -i) for i in range(5)]) == [0, 1, 2, 3, 4]
        pid = os.fork()
        if pid == 0:
            ok = background.results([background.run(pow, 2, i) for i in range(4)], timeout=30)
            os._exit(0 if ok == [1, 2, 4, 8] and background.n == 3 else 1)
        _, status = os.waitpid(pid, 0)
        release.set()
        assert held.result(30) is True
        sys.exit(status >> 8 if os.WIFEXITED(status) else 1)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr


#: Program text: wait 30 s at most for the forked child *pid*, leaving its
#: *status*; kill it and exit if it hangs.
REAP_THE_CHILD = """\
deadline = time.monotonic() + 30
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        sys.exit("the child hung")
    time.sleep(0.01)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_fork_while_another_thread_is_inside_submit_leaves_the_child_a_working_pool() -> None:
    """Pool locks held by another thread at the fork, and places of max_pending
    held by the parent's calls, are not the child's."""
    script = textwrap.dedent(
        """
        import os, signal, sys, threading, time, warnings
        import background

        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
        inside = threading.Event()
        forked = threading.Event()

        class SlowToPickle:
            def __reduce__(self):  # runs inside pool.submit(), under the pool's lock
                inside.set()
                forked.wait(30)
                return (int, (7,))

        procs = background.Pool(1, process=True, name="procs")
        assert procs.submit(abs, -1).result(30) == 1
        gated = background.Pool(1, max_pending=1, name="gated")
        release = threading.Event()
        held = gated.submit(release.wait, 30)  # holds gated's only place
        submitter = threading.Thread(target=lambda: procs.submit(abs, SlowToPickle()))
        submitter.start()
        assert inside.wait(30)
        pid = os.fork()
        if pid == 0:
            ok = (
                procs.submit(abs, -3).result(10) == 3
                and gated.submit(abs, -4).result(10) == 4
            )
            os._exit(0 if ok else 1)
        forked.set()
        REAP_THE_CHILD
        submitter.join()
        release.set()
        assert held.result(30) is True
        sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
        """
    ).replace("REAP_THE_CHILD\n", REAP_THE_CHILD)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=2 * TIMEOUT
    )
    assert done.returncode == 0, done.stdout + done.stderr


#: The program of the test below: another thread's import is held in the middle
#: (by a finder in front of the others) while the main thread forks.
FORK_DURING_AN_IMPORT = """
import os, signal, sys, threading, time, warnings
import background

warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
PAUSED, TRIGGER = {paused!r}, {trigger!r}
assert PAUSED not in sys.modules, PAUSED
parent = os.getpid()
inside, forked = threading.Event(), threading.Event()


class PauseOnce:
    def find_spec(self, name, path, target=None):
        if name != PAUSED or os.getpid() != parent:
            return None
        sys.meta_path.remove(self)
        spec = next(s for f in sys.meta_path if (s := f.find_spec(name, path, target)))
        run_body = spec.loader.exec_module

        def exec_module(module):
            inside.set()  # the module's import lock is held, its body not yet run
            forked.wait(30)
            run_body(module)

        spec.loader.exec_module = exec_module
        return spec


def use():
    if TRIGGER == "map":
        return list(background.Pool(2).map(abs, [-2, -3])) == [2, 3]
    return callable(background.wait)


background.run(abs, -1).result(30)  # first use done: its threads run
sys.meta_path.insert(0, PauseOnce())
importer = threading.Thread(target=use)
importer.start()
assert inside.wait(30)
pid = os.fork()
if pid == 0:
    os._exit(0 if use() else 1)  # imports what the parent's thread is importing
forked.set()
REAP_THE_CHILD
importer.join(30)
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
@pytest.mark.parametrize(
    ("paused", "trigger"),
    [("background._map", "map"), ("typing", "wait")],
    ids=["backgrounds-module", "a-module-backgrounds-imports"],
)
def test_a_fork_while_another_thread_imports_leaves_the_child_able_to_import_it(
    paused: str, trigger: str
) -> None:
    """The first map imports ``background._map``; ``background.wait`` imports
    ``background._waiting``, which imports :mod:`typing`. A fork in the middle
    of either import left the child waiting for ever for the module's import
    lock, held there by a thread that does not exist in the child."""
    try:
        program = FORK_DURING_AN_IMPORT.replace("REAP_THE_CHILD\n", REAP_THE_CHILD)
        run_bare_python(program.format(paused=paused, trigger=trigger))
    except subprocess.CalledProcessError as failed:
        pytest.fail(f"exit {failed.returncode}: {failed.stderr}")
