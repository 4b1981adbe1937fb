"""Process pools under faults: each test here once failed (see ../shared/repro)."""

from __future__ import annotations

import concurrent.futures
import gc
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import weakref
from pathlib import Path
from typing import Any

import pytest
import test_processes_helpers as helpers

import background

WAIT = 60
ROOT = Path(__file__).resolve().parent.parent
METHODS = ["fork", "spawn", "forkserver"]

pytestmark = [
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]


def _run(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run *code* as a program in a fresh interpreter that imports this checkout."""
    return _run_command(["-c", textwrap.dedent(code), *args], cwd)


def _run_command(command: list[str], cwd: Path | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    paths = [str(ROOT), str(ROOT / "tests"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        timeout=WAIT * 2,
        check=False,
        env=env,
        cwd=str(cwd) if cwd else None,
    )


@pytest.fixture(scope="module", params=METHODS)
def pool(request: pytest.FixtureRequest) -> Any:
    """A pool of one worker per start method."""
    one = background.Pool(1, process=True, start_method=request.param, name=f"one-{request.param}")
    yield one
    one.shutdown(wait=True, cancel_futures=True)


# -- results that cannot be rebuilt in the parent ------------------------------------


@pytest.mark.parametrize("interrupt", [False, True], ids=["SystemExit", "KeyboardInterrupt"])
def test_a_result_whose_unpickling_raises_a_base_exception_fails_only_its_call(
    pool: background.Pool, interrupt: bool
) -> None:
    other = pool.submit(helpers.square, 3)
    bad = pool.submit(helpers.make_exits_when_unpickled, interrupt)
    with pytest.raises(pickle.UnpicklingError, match="make_exits_when_unpickled") as caught:
        bad.result(WAIT)
    assert isinstance(caught.value.__cause__, (SystemExit, KeyboardInterrupt))
    assert other.result(WAIT) == 9
    assert pool.submit(helpers.square, 4).result(WAIT) == 16


def test_a_program_whose_result_cannot_be_rebuilt_settles_every_call_and_exits() -> None:
    done = _run(
        """
        import time, background, test_processes_helpers as helpers
        pool = background.Pool(2, process=True)
        other = pool.submit(time.sleep, 0.5)
        bad = pool.submit(helpers.make_exits_when_unpickled)
        print(type(bad.exception(60)).__name__, other.result(60), pool.submit(abs, -3).result(60))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["UnpicklingError", "None", "3"]


# -- a manager thread that cannot start ------------------------------------------------


def test_a_manager_thread_that_cannot_start_fails_the_calls_instead_of_stranding_them() -> None:
    done = _run(
        """
        import threading, background
        pool = background.Pool(2, process=True)
        def refuse(self):
            raise RuntimeError("can't create new thread at interpreter shutdown")
        start, threading.Thread.start = threading.Thread.start, refuse
        try:
            for attempt in (1, 2):
                error = pool.submit(abs, -1).exception(30)
                print(attempt, type(error).__name__, "manager thread" in str(error))
        finally:
            threading.Thread.start = start
        print("after", pool.submit(abs, -5).result(30))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "1 BrokenProcessPool True",
        "2 BrokenProcessPool True",
        "after 5",
    ]


# -- exceptions that break the error path ---------------------------------------------


@pytest.mark.parametrize(
    ("raiser", "described"),
    [
        (helpers.raise_two_args_bad_str, "TwoArgsBadStr"),
        (helpers.raise_self_referencing, "ValueError"),
    ],
    ids=["cannot-rebuild-nor-print", "args-contain-itself"],
)
def test_an_exception_that_cannot_be_sent_back_nor_printed_is_described_and_the_worker_lives(
    pool: background.Pool, raiser: Any, described: str
) -> None:
    worker = pool.submit(os.getpid).result(WAIT)
    failing = pool.submit(raiser)
    neighbour = pool.submit(os.getpid)
    error = failing.exception(WAIT)
    assert not isinstance(error, background.WorkerDied), error
    if type(error).__name__ != described:  # tblib (loaded by dask) may make it round-trip
        assert isinstance(error, RuntimeError)
        assert described in str(error)
        assert raiser.__name__ in str(error)
    assert neighbour.result(WAIT) == worker  # the same worker carried on


# -- start methods ---------------------------------------------------------------------


def test_the_default_start_method_stays_after_a_spawn_pool_started_a_worker() -> None:
    done = _run(
        """
        import multiprocessing, background
        with background.Pool(1, process=True, start_method="spawn") as spawned:
            spawned.submit(abs, -1).result(60)
        with background.Pool(1, process=True) as pool:
            pool.submit(abs, -1).result(60)
            print(pool.start_method)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "forkserver"


def test_fork_with_max_tasks_per_worker_is_refused_as_the_standard_library_does() -> None:
    with pytest.raises(ValueError, match=r"max_tasks_per_worker.*fork"):
        background.Pool(1, process=True, start_method="fork", max_tasks_per_worker=1)


# -- a call waiting for a busy worker has not started -----------------------------------


def test_a_call_waiting_for_a_busy_worker_is_not_running_and_can_be_cancelled(
    pool: background.Pool, tmp_path: Path
) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    running = pool.submit(helpers.signal_then_wait, str(started), str(release), WAIT)
    waiting = pool.submit(helpers.square, 5)
    behind = pool.submit(helpers.square, 6)
    assert helpers.wait_for(str(started), WAIT)
    assert running.running()
    assert not waiting.running()
    assert waiting.cancel()
    release.touch()
    assert running.result(WAIT) == int(started.read_text())
    assert waiting.cancelled()
    assert behind.result(WAIT) == 36


# -- what cannot be pickled is named ---------------------------------------------------


def test_an_unpicklable_callable_is_a_pickling_error_with_or_without_cloudpickle(
    pool: background.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = threading.Lock()
    with pytest.raises(pickle.PicklingError, match=r"acquire"):
        pool.submit(lock.acquire)
    from background import _pickling

    monkeypatch.setattr(_pickling, "_by_value_pickler", None)
    monkeypatch.setitem(sys.modules, "cloudpickle", None)  # import fails
    with pytest.raises(pickle.PicklingError, match=r"acquire") as caught:
        pool.submit(lock.acquire)
    assert "__main__" not in str(caught.value)
    assert pool.submit(helpers.square, 2).result(WAIT) == 4


def test_an_unpicklable_item_in_a_process_map_is_named_by_its_position(
    pool: background.Pool,
) -> None:
    items = [1, 2, threading.Lock(), 4]
    with pytest.raises(pickle.PicklingError, match=r"item 2 of the input.*_thread\.lock"):
        list(pool.map(helpers.square, items, chunksize=4))


def test_an_unpicklable_argument_in_a_map_over_two_iterables_is_named_by_its_place(
    pool: background.Pool,
) -> None:
    with pytest.raises(pickle.PicklingError, match=r"item 1 of the input, argument 1 .*lock"):
        list(pool.map(pow, [2, 3], [1, threading.Lock()], chunksize=2))


# -- finished calls keep nothing -------------------------------------------------------


_Big = helpers.Big


class _KeepingExecutor(concurrent.futures.ThreadPoolExecutor):
    """Keeps every future it returned, as a cluster's client keeps its futures."""

    def __init__(self) -> None:
        super().__init__(1)
        self.kept: list[concurrent.futures.Future[Any]] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        self.kept.append(future)
        return future


@pytest.mark.parametrize("kind", ["threads", "processes", "executor"])
def test_a_finished_call_keeps_no_reference_to_its_arguments(kind: str) -> None:
    options: dict[str, Any] = {
        "threads": {},
        "processes": {"process": True},
        "executor": {"executor": _KeepingExecutor()},
    }[kind]
    with background.Pool(1, **options) as pool:
        argument = _Big()
        alive = weakref.ref(argument)
        # The call ends after submit() has returned, as a call usually does.
        future = pool.submit(helpers.after_a_while, argument)
        assert future.result(WAIT) == "Big"
        del argument
        for _ in range(50):
            gc.collect()
            if alive() is None:
                break
            threading.Event().wait(0.02)  # a worker may still be finishing its bookkeeping
        assert alive() is None
        assert future.done()


def test_a_function_sent_by_value_may_use_the_background_module(pool: background.Pool) -> None:
    def uses_background() -> str:
        return background.__name__ + str(callable(background.task))

    assert pool.submit(uses_background).result(WAIT) == "backgroundTrue"
    assert pickle.loads(pickle.dumps(background)) is background


# -- scripts without a __main__ guard ----------------------------------------------------

UNGUARDED = """\
import multiprocessing
import os
import sys

import background

print("top of the script", os.getpid(), flush=True)
if sys.argv[1] != "default":
    multiprocessing.set_start_method(sys.argv[1])


@background.task(process=True)
def square(x):
    return x * x


def cube(x):
    return x * x * x


pool = background.Pool(2, process=True)
print("task", square(7).result(60))
print("map", list(square.map(range(5))))
print("pool", pool.submit(cube, 3).result(60), list(pool.map(cube, [1, 2])))
background.use(pool)
elsewhere = background.run(os.getpid).result(60) != os.getpid()
print("run", background.run(cube, 4).result(60), elsewhere)
print("method", pool.start_method)
"""


@pytest.mark.parametrize("method", ["default", *METHODS])
def test_a_script_without_a_main_guard_runs_its_top_level_once(
    method: str, tmp_path: Path
) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED)
    done = _run_command([str(script), method], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines if line.startswith("top")] == ["top"]
    assert lines[1:] == [
        "task 49",
        "map [0, 1, 4, 9, 16]",
        "pool 27 [1, 8]",
        "run 64 True",
        f"method {'forkserver' if method == 'default' else method}",
    ]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_without_pidfds_a_pipe_tells_that_a_worker_ended(
    method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from background._processes import launch

    monkeypatch.setattr(launch, "_PIDFD", False)  # as on macOS, or an old Linux kernel
    with background.Pool(1, process=True, start_method=method) as pool:
        with pytest.raises(background.WorkerDied, match="exit code 3") as caught:
            pool.submit(helpers.exit_now, 3).result(WAIT)
        assert caught.value.exitcode == 3
        assert pool.submit(helpers.square, 5).result(WAIT) == 25


# -- quick calls share messages ------------------------------------------------------


def test_quick_calls_travel_together_and_slow_ones_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from background._processes.workers import Worker

    counts: list[int] = []
    send = Worker.send

    def counting(self: Worker, *parts: bytes) -> None:
        if parts and len(parts[0]) >= 4:
            counts.append(int.from_bytes(parts[0][:4], "little"))
        send(self, *parts)

    monkeypatch.setattr(Worker, "send", counting)
    with background.Pool(1, process=True) as pool:
        assert pool.submit(helpers.square, 1).result(WAIT) == 1  # measured: quick
        futures = [pool.submit(helpers.square, i) for i in range(2000)]
        assert [f.result(WAIT) for f in futures] == [i * i for i in range(2000)]
        quick = len(counts)
        slow = [pool.submit(helpers.slow_pid, 0.01) for _ in range(4)]
        assert all(f.result(WAIT) for f in slow)
    assert quick < 200  # 2,001 calls in far fewer messages
    assert counts[quick + 1 :] == [1, 1, 1]  # slow calls: one per message


def test_a_worker_dying_in_a_message_of_quick_calls_fails_only_the_call_it_ran() -> None:
    with background.Pool(1, process=True) as pool:
        assert pool.submit(helpers.exit_at, 1, -1).result(WAIT) == 1  # measured: quick
        futures = [pool.submit(helpers.exit_at, i, 50) for i in range(200)]
        outcomes = [f.exception(WAIT) for f in futures]
    assert isinstance(outcomes[50], background.WorkerDied)
    assert [i for i, error in enumerate(outcomes) if error is not None] == [50]
    assert [f.result() for i, f in enumerate(futures) if i != 50] == [
        i for i in range(200) if i != 50
    ]


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "pipe"])
@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_workers_dying_again_and_again_never_break_the_pool(
    method: str, pidfd: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker's end is seen on its exit sentinel and on its reply pipe, in
    # either order; handling it twice once closed file descriptors that new
    # workers had been given (the manager thread then failed).
    from background._processes import launch

    monkeypatch.setattr(launch, "_PIDFD", pidfd and launch._PIDFD)
    with background.Pool(1, process=True, start_method=method) as pool:
        for _ in range(15):
            with pytest.raises(background.WorkerDied):
                pool.submit(helpers.exit_now, 3).result(WAIT)
            assert pool.submit(helpers.square, 4).result(WAIT) == 16
