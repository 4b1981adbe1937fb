"""Worker processes: every start method, crashes, pickling, timeouts, map, recycling."""

from __future__ import annotations

import concurrent.futures
import doctest
import io
import itertools
import math
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
import test_processes_helpers as helpers
from support import process_gone, run_bare_python, wait_until, worker_threads

import background
from background._batch import BatchSizer
from background._processes import launch

METHODS = ["fork", "spawn", "forkserver"]
WAIT = 60  # seconds: generous bound on any single wait, so a hang fails instead of stalling

pytestmark = [
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]


@pytest.fixture(scope="module", params=METHODS)
def method(request: pytest.FixtureRequest) -> str:
    """Each start method in turn."""
    return str(request.param)


@pytest.fixture(scope="module")
def pool(method: str) -> Iterator[background.Pool]:
    """A two-worker process pool per start method, shared by the module's tests."""
    shared = background.Pool(2, process=True, start_method=method, name=f"shared-{method}")
    yield shared
    shared.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def as_default(pool: background.Pool) -> Iterator[background.Pool]:
    """Make the shared pool the default process pool during one test."""
    previous = background.use(pool, process=True)
    yield pool
    background.use(previous, process=True)


# -- where calls run, and what can be sent -----------------------------------------


def test_calls_run_in_other_processes(pool: background.Pool) -> None:
    pids = {f.result(WAIT) for f in [pool.submit(helpers.slow_pid, 0.2) for _ in range(4)]}
    assert os.getpid() not in pids
    assert 1 <= len(pids) <= 2
    assert pool.process
    assert "processes" in repr(pool)


def test_decorated_module_function_runs_in_a_worker(as_default: background.Pool) -> None:
    assert helpers.cube(3).result(WAIT) == 27
    assert helpers.cube_twice(2).result(WAIT) == 512
    assert list(helpers.cube.map(range(5))) == [0, 1, 8, 27, 64]


def test_submitting_the_wrapper_itself_calls_the_function(pool: background.Pool) -> None:
    # The worker must not call the wrapper (that would submit again and return a Future).
    assert pool.submit(helpers.cube, 4).result(WAIT) == 64
    assert list(pool.map(helpers.cube, [1, 2])) == [1, 8]


def test_lambdas_and_closures_go_by_value(pool: background.Pool) -> None:
    offset = 10

    def add(x: int) -> int:
        return x + offset

    assert pool.submit(lambda x: x * 3, 5).result(WAIT) == 15
    assert pool.submit(add, 1).result(WAIT) == 11
    assert list(pool.map(add, range(3))) == [10, 11, 12]


def test_contextvars_do_not_travel_to_processes(pool: background.Pool) -> None:
    token = helpers.VAR.set("parent")
    try:
        assert pool.submit(helpers.read_var).result(WAIT) == "default"
    finally:
        helpers.VAR.reset(token)


def test_exceptions_come_back_with_the_remote_traceback(pool: background.Pool) -> None:
    future = pool.submit(helpers.raise_value_error, 7)
    with pytest.raises(ValueError, match="bad value 7") as caught:
        future.result(WAIT)
    assert "raise_value_error" in str(caught.value.__cause__)


def test_an_exception_that_cannot_come_back_is_described(pool: background.Pool) -> None:
    with pytest.raises(RuntimeError, match=r"raise_unpicklable raised HoldsALock: locked up"):
        pool.submit(helpers.raise_unpicklable).result(WAIT)
    assert pool.submit(helpers.square, 3).result(WAIT) == 9


def test_unpicklable_argument_fails_at_submission_naming_function_and_type(
    pool: background.Pool,
) -> None:
    with pytest.raises(pickle.PicklingError, match=r"helpers\.square.*argument 0.*_thread\.lock"):
        pool.submit(helpers.square, threading.Lock())
    with pytest.raises(pickle.PicklingError, match=r"keyword argument 'x'.*_thread\.lock"):
        pool.submit(helpers.square, x=threading.Lock())
    assert pool.submit(helpers.square, 4).result(WAIT) == 16
    assert not pool.outstanding() or all(f.done() for f in pool.outstanding())


def test_unpicklable_result_fails_that_future_only(pool: background.Pool) -> None:
    bad = pool.submit(helpers.make_lock)
    good = pool.submit(helpers.square, 5)
    with pytest.raises(pickle.PicklingError, match=r"make_lock returned a _thread\.lock"):
        bad.result(WAIT)
    assert good.result(WAIT) == 25
    assert pool.submit(helpers.square, 6).result(WAIT) == 36


def test_missing_cloudpickle_gives_a_clear_error(
    pool: background.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from background import _pickling

    monkeypatch.setattr(_pickling, "_by_value_pickler", None)
    monkeypatch.setitem(sys.modules, "cloudpickle", None)  # import fails
    with pytest.raises(ImportError, match=r"pip install 'background\[process\]'"):
        pool.submit(lambda: 1)
    assert pool.submit(helpers.square, 2).result(WAIT) == 4  # by reference: no cloudpickle


# -- crashes ----------------------------------------------------------------------------


def test_worker_exit_fails_only_its_task_and_the_pool_heals(pool: background.Pool) -> None:
    slow = pool.submit(helpers.slow_pid, 0.5)
    crash = pool.submit(helpers.exit_now, 3)
    with pytest.raises(background.WorkerDied) as caught:
        crash.result(WAIT)
    error = caught.value
    assert "test_processes_helpers.exit_now" in str(error)
    assert "exit code 3" in str(error)
    assert error.task == "test_processes_helpers.exit_now"
    assert error.exitcode == 3
    assert isinstance(error, BrokenProcessPool)
    assert isinstance(slow.result(WAIT), int)
    assert [f.result(WAIT) for f in [pool.submit(helpers.square, i) for i in range(4)]] == [
        0,
        1,
        4,
        9,
    ]


def test_sigkill_from_outside_fails_only_the_task_it_held(
    pool: background.Pool, tmp_path: Path
) -> None:
    marker = tmp_path / "pid"
    victim = pool.submit(helpers.write_pid_and_sleep, str(marker), 30)
    assert wait_until(marker.exists)
    assert wait_until(lambda: marker.read_text() != "")
    pid = int(marker.read_text())
    os.kill(pid, 9)
    with pytest.raises(background.WorkerDied, match=r"write_pid_and_sleep.*killed by SIGKILL"):
        victim.result(WAIT)
    assert wait_until(lambda: process_gone(pid))  # reaped: no zombie left
    assert pool.submit(helpers.square, 9).result(WAIT) == 81


def test_sigkill_from_inside(pool: background.Pool) -> None:
    with pytest.raises(background.WorkerDied, match="killed by SIGKILL") as caught:
        pool.submit(helpers.kill_myself).result(WAIT)
    assert caught.value.exitcode == -9
    assert pool.submit(helpers.square, 3).result(WAIT) == 9


def test_worker_died_pickles() -> None:
    error = background.WorkerDied("gone", "mod.fn", -9)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.task, copy.exitcode) == ("gone", "mod.fn", -9)


# -- timeouts ---------------------------------------------------------------------------


def test_timeout_kills_and_replaces_the_worker(method: str, tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    with background.Pool(1, process=True, start_method=method, timeout=0.5) as pool:
        started = time.monotonic()
        future = pool.submit(helpers.write_pid_and_sleep, str(marker), 30)
        with pytest.raises(concurrent.futures.TimeoutError, match=r"write_pid_and_sleep.*0\.5 s"):
            future.result(WAIT)
        assert time.monotonic() - started < WAIT / 2
        pid = int(marker.read_text())
        assert wait_until(lambda: process_gone(pid))
        assert pool.submit(helpers.square, 7).result(WAIT) == 49  # a new worker


def test_task_timeout_overrides_and_quick_calls_pass(pool: background.Pool) -> None:
    quick = background.task(pool=pool, timeout=20)(helpers.square)
    assert quick(8).result(WAIT) == 64
    slow = background.task(pool=pool, timeout=0.3)(helpers.slow_pid)
    with pytest.raises(concurrent.futures.TimeoutError):
        slow(30).result(WAIT)
    assert pool.submit(helpers.square, 2).result(WAIT) == 4


def test_thread_timeout_fails_the_future_while_the_thread_runs_on() -> None:
    finished = threading.Event()
    release = threading.Event()

    @background.task(timeout=0.2)
    def stuck() -> str:
        release.wait(WAIT)
        finished.set()
        return "late"

    future = stuck()
    with pytest.raises(concurrent.futures.TimeoutError, match="a thread cannot be stopped"):
        future.result(WAIT)
    assert not finished.is_set()
    release.set()
    assert finished.wait(WAIT)
    assert future.exception() is not None  # the late result does not replace the timeout


def test_thread_pool_timeout_applies_to_each_call() -> None:
    with background.Pool(2, timeout=5) as pool:
        assert pool.submit(pow, 2, 5).result(WAIT) == 32
        assert list(pool.map(abs, [-1, -2])) == [1, 2]


@pytest.mark.parametrize("bad", [0, -1, float("inf"), float("nan")])
def test_timeout_must_be_positive_and_finite(bad: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        background.task(timeout=bad)
    with pytest.raises(ValueError, match="timeout"):
        background.Pool(1, timeout=bad)


@pytest.mark.parametrize("bad", ["1", True, [1]])
def test_timeout_must_be_a_number(bad: object) -> None:
    with pytest.raises(TypeError, match="timeout"):
        background.task(timeout=bad)  # type: ignore[arg-type]


# -- map ----------------------------------------------------------------------------------


def test_map_keeps_order(pool: background.Pool) -> None:
    assert list(pool.map(helpers.square, range(100))) == [x * x for x in range(100)]
    assert list(pool.map(pow, [2, 3, 4], [5, 2, 1])) == [32, 9, 4]
    assert list(pool.map(helpers.square, [])) == []


def test_map_is_lazy_over_an_endless_iterable(pool: background.Pool) -> None:
    taken = itertools.count()
    consumed = 0

    def numbers() -> Iterator[int]:
        nonlocal consumed
        for n in taken:
            consumed += 1
            yield n

    results = pool.map(helpers.square, numbers(), chunksize=3, buffersize=4)
    first = list(itertools.islice(results, 10))
    assert first == [n * n for n in range(10)]
    assert consumed <= 10 + 4 * 3 + 3  # the window, not the whole (endless) input
    results.close()  # cancels what is in flight


def test_map_automatic_batches_are_few_and_bounded(
    pool: background.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes: list[int] = []
    submit = pool._submit

    def counting(fn: Any, args: tuple[Any, ...], *rest: Any, **options: Any) -> Any:
        sizes.append(len(args[0]))
        return submit(fn, args, *rest, **options)

    monkeypatch.setattr(pool, "_submit", counting)
    count = 20_000
    assert list(pool.map(abs, range(-count, 0))) == list(range(count, 0, -1))
    assert sum(sizes) == count
    assert len(sizes) < count / 50  # tiny calls travel in large batches
    assert sizes[0] == 1  # it starts small...
    assert max(sizes) > 100  # ...and grows while calls are quick
    assert max(sizes) <= BatchSizer.LARGEST


def test_map_explicit_chunksize(pool: background.Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    submit = pool._submit

    def counting(fn: Any, args: tuple[Any, ...], *rest: Any, **options: Any) -> Any:
        sizes.append(len(args[0]))
        return submit(fn, args, *rest, **options)

    monkeypatch.setattr(pool, "_submit", counting)
    assert list(pool.map(helpers.square, range(10), chunksize=4)) == [x * x for x in range(10)]
    assert sizes == [4, 4, 2]


def test_batch_sizer_grows_for_quick_calls_and_shrinks_for_slow_ones() -> None:
    sizer = BatchSizer(None)
    sizes = []
    for _ in range(8):
        sizer.record(sizer.size, sizer.size * 1e-7)
        sizes.append(sizer.size)
    assert sizes == sorted(sizes)
    assert sizes[0] == BatchSizer.GROWTH
    assert sizes[-1] == BatchSizer.LARGEST
    sizer.record(sizer.size, sizer.size * 0.01)  # 10 ms a call: 2 per batch
    assert sizer.size == 2
    sizer.record(2, 2.0)
    assert sizer.size == 1
    fixed = BatchSizer(7)
    fixed.record(7, 1e-9)
    assert fixed.size == 7


def test_map_failure_yields_what_came_before_then_raises(pool: background.Pool) -> None:
    seen: list[int] = []
    results = pool.map(helpers.fail_at, range(10), [5] * 10, chunksize=4)
    with pytest.raises(ValueError, match="item 5 is bad") as caught:
        seen.extend(results)
    assert seen == [0, 1, 2, 3, 4]
    assert "fail_at" in str(caught.value.__cause__)


def test_leaving_map_early_cancels_the_rest(pool: background.Pool) -> None:
    for value in pool.map(helpers.slow_pid, [0.05] * 50, chunksize=1, buffersize=2):
        assert isinstance(value, int)
        break
    assert wait_until(lambda: all(f.done() for f in pool.outstanding()))


def test_map_timeout_bounds_the_iteration(pool: background.Pool, tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    results = pool.map(helpers.wait_for, [str(flag)] * 2, [WAIT] * 2, timeout=0.2)
    try:
        with pytest.raises(concurrent.futures.TimeoutError):
            next(results)
    finally:
        flag.touch()  # let the calls end, so that the workers are free again
    assert wait_until(lambda: all(f.done() for f in pool.outstanding()))


def test_task_map_with_a_timeout_runs_calls_one_by_one(pool: background.Pool) -> None:
    limited = background.task(pool=pool, timeout=20)(helpers.square)
    assert list(limited.map(range(6))) == [0, 1, 4, 9, 16, 25]


# -- the primes example of the concurrent.futures documentation -------------------------

PRIMES_SCRIPT = """\
import concurrent.futures
import math
import sys

import background

PRIMES = [NUMBERS]

def is_prime(n):
    if n < 2:
        return False
    if n == 2:
        return True
    if n % 2 == 0:
        return False

    sqrt_n = int(math.floor(math.sqrt(n)))
    for i in range(3, sqrt_n + 1, 2):
        if n % i == 0:
            return False
    return True

def main():
    with background.Pool(process=True, start_method=sys.argv[1]) as executor:
        for number, prime in zip(PRIMES, executor.map(is_prime, PRIMES)):
            print('%d is prime: %s' % (number, prime))

if __name__ == '__main__':
    main()
"""

#: The documentation's numbers (seconds of CPU: run by `tox -e stress`), and smaller ones.
DOCUMENTED_PRIMES = """
    112272535095293,
    112582705942171,
    112272535095293,
    115280095190773,
    115797848077099,
    1099726899285419"""
DOCUMENTED_OUTPUT = """\
112272535095293 is prime: True
112582705942171 is prime: True
112272535095293 is prime: True
115280095190773 is prime: True
115797848077099 is prime: True
1099726899285419 is prime: False
"""
SMALLER_PRIMES = "1000000007, 1000000008, 998244353, 999999999989, 999999999991"
SMALLER_OUTPUT = """\
1000000007 is prime: True
1000000008 is prime: False
998244353 is prime: True
999999999989 is prime: True
999999999991 is prime: False
"""


def _run_script(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        timeout=WAIT * 2,
        check=False,
        cwd=str(path.parent),
    )


@pytest.mark.parametrize(
    ("start", "primes", "output"),
    [
        ("spawn", SMALLER_PRIMES, SMALLER_OUTPUT),
        ("fork", SMALLER_PRIMES, SMALLER_OUTPUT),
        ("forkserver", SMALLER_PRIMES, SMALLER_OUTPUT),
        pytest.param("spawn", DOCUMENTED_PRIMES, DOCUMENTED_OUTPUT, marks=pytest.mark.stress),
    ],
    ids=["spawn", "fork", "forkserver", "spawn-documented-numbers"],
)
def test_primes_example_from_a_plain_script(
    start: str, primes: str, output: str, tmp_path: Path
) -> None:
    script = tmp_path / "primes.py"
    script.write_text(PRIMES_SCRIPT.replace("NUMBERS", primes))
    done = _run_script(script, start)
    assert done.returncode == 0, done.stderr
    assert done.stdout == output
    assert "Traceback" not in done.stderr


PRIMES_DOCTEST = """\
>>> import math, background
>>> PRIMES = [1000000007, 1000000008, 998244353, 999999999989, 999999999991]
>>> def is_prime(n):
...     if n < 2:
...         return False
...     if n == 2:
...         return True
...     if n % 2 == 0:
...         return False
...     sqrt_n = int(math.floor(math.sqrt(n)))
...     for i in range(3, sqrt_n + 1, 2):
...         if n % i == 0:
...             return False
...     return True
>>> with background.Pool(2, process=True, start_method=METHOD) as executor:
...     for number, prime in zip(PRIMES, executor.map(is_prime, PRIMES)):
...         print('%d is prime: %s' % (number, prime))
1000000007 is prime: True
1000000008 is prime: False
998244353 is prime: True
999999999989 is prime: True
999999999991 is prime: False
"""


@pytest.mark.parametrize("start", METHODS)
@pytest.mark.parametrize("module_name", ["__main__", "a_doctest"])
def test_primes_example_from_a_doctest(start: str, module_name: str) -> None:
    globs = {"__name__": module_name, "METHOD": start}
    test = doctest.DocTestParser().get_doctest(PRIMES_DOCTEST, globs, "primes", None, 0)
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=out.write)
    assert result.failed == 0, out.getvalue()
    assert result.attempted == 4
    assert [is_prime_here(n) for n in (1000000007, 999999999991)] == [True, False]


def is_prime_here(n: int) -> bool:
    """The reference answer, computed here."""
    return n > 1 and all(n % i for i in range(2, math.isqrt(n) + 1))


MAIN_SCRIPT = """\
import os
import sys

import background

def double(x):
    return 2 * x

@background.task(process=True)
def triple(x):
    return 3 * x

def main():
    pool = background.Pool(2, process=True, start_method=sys.argv[1])
    background.use(pool, process=True)
    offset = 100
    assert pool.submit(double, 21).result(60) == 42
    assert pool.submit(lambda x: x + offset, 1).result(60) == 101
    assert list(pool.map(lambda x: -x, range(4))) == [0, -1, -2, -3]
    assert triple(5).result(60) == 15
    assert pool.submit(os.getpid).result(60) != os.getpid()
    print("ok", pool.submit(os.getpid).result(60))
    # No shutdown: the exit must neither hang nor leave the worker running.

if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("start", ["spawn", "forkserver"])
def test_script_run_as_main_sends_its_own_functions_and_lambdas(
    start: str, tmp_path: Path
) -> None:
    script = tmp_path / "main_script.py"
    script.write_text(MAIN_SCRIPT)
    done = _run_script(script, start)
    assert done.returncode == 0, done.stderr
    word, pid = done.stdout.split()
    assert word == "ok"
    assert wait_until(lambda: process_gone(int(pid)), 10)  # the worker did not outlive its parent


EXIT_SCRIPT = """\
import sys
import time

import background

def touch(path):
    time.sleep(0.5)
    open(path, "w").write("done")

if __name__ == "__main__":
    pool = background.Pool(1, process=True, start_method=sys.argv[1])
    pool.submit(touch, sys.argv[2])  # fire and forget, then exit at once
"""


def test_exit_waits_for_outstanding_process_tasks(tmp_path: Path) -> None:
    script = tmp_path / "exit_script.py"
    script.write_text(EXIT_SCRIPT)
    marker = tmp_path / "marker"
    done = _run_script(script, "spawn", str(marker))
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "done"


# -- initializer, recycling, resizing, shutdown -------------------------------------------


def test_initializer_runs_in_every_worker(method: str) -> None:
    with background.Pool(
        2, process=True, start_method=method, initializer=helpers.set_setting, initargs=("on",)
    ) as pool:
        assert [f.result(WAIT) for f in [pool.submit(helpers.get_setting) for _ in range(4)]] == [
            "on"
        ] * 4


def test_failing_initializer_breaks_the_pool_clearly(method: str) -> None:
    with background.Pool(
        1, process=True, start_method=method, initializer=helpers.broken_initializer
    ) as pool:
        future = pool.submit(helpers.square, 2)
        with pytest.raises(BrokenProcessPool, match=r"broken_initializer.*no database"):
            future.result(WAIT)
        with pytest.raises(BrokenProcessPool):
            pool.submit(helpers.square, 3).result(WAIT)


@pytest.mark.parametrize("method", ["spawn", "forkserver"])  # fork refuses it
def test_max_tasks_per_worker_recycles_workers(method: str) -> None:
    with background.Pool(1, process=True, start_method=method, max_tasks_per_worker=2) as pool:
        pids = [f.result(WAIT) for f in [pool.submit(helpers.pid) for _ in range(6)]]
    assert len(set(pids)) == 3
    assert all(pids.count(p) == 2 for p in pids)
    assert wait_until(lambda: all(process_gone(p) for p in pids))


def test_growing_n_starts_workers_at_once_and_shrinking_retires_them(method: str) -> None:
    with background.Pool(1, process=True, start_method=method) as pool:
        first = {pool.submit(helpers.pid).result(WAIT)}
        pool.n = 2
        futures = [pool.submit(helpers.slow_pid, 0.15) for _ in range(4)]
        assert len({f.result(WAIT) for f in futures}) == 2
        pool.n = 1
        assert wait_until(lambda: worker_threads(pool) == 1)
        futures = [pool.submit(helpers.slow_pid, 0.05) for _ in range(4)]
        assert len({f.result(WAIT) for f in futures}) == 1
        assert first


def test_default_process_pool_follows_background_n() -> None:
    background.n = 1
    pool = background.default_pool(process=True)
    assert pool.process
    assert pool.n == 1
    background.n = 2
    assert pool.n == 2
    assert helpers.cube(2).result(WAIT) == 8


def test_shutdown_finishes_queued_calls_then_stops_the_workers(method: str) -> None:
    pool = background.Pool(1, process=True, start_method=method)
    pids = [pool.submit(helpers.slow_pid, 0.05) for _ in range(5)]
    pool.shutdown(wait=True)
    assert all(f.done() and not f.cancelled() for f in pids)
    assert all(process_gone(f.result()) for f in pids)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(helpers.pid)


def test_shutdown_can_cancel_queued_calls(method: str) -> None:
    pool = background.Pool(1, process=True, start_method=method)
    futures = [pool.submit(helpers.slow_pid, 0.15) for _ in range(6)]
    assert wait_until(futures[0].running)
    pool.shutdown(wait=True, cancel_futures=True)
    assert futures[0].result(WAIT)  # held by the worker: it ran
    assert all(f.cancelled() for f in futures[1:])  # only the running call was sent
    assert pool.cancel_queued() == 0


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"start_method": "bogus"}, ValueError, "start_method must be one of"),
        ({"max_tasks_per_worker": 0}, ValueError, "max_tasks_per_worker must be at least 1"),
        ({"max_tasks_per_worker": 1.5}, TypeError, "max_tasks_per_worker"),
    ],
)
def test_process_options_are_validated(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        background.Pool(1, process=True, **options)


@pytest.mark.parametrize("option", [{"start_method": "spawn"}, {"max_tasks_per_worker": 2}])
def test_process_options_need_process_true(option: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="give process=True too"):
        background.Pool(1, **option)


def test_unpicklable_initializer_is_refused_at_once() -> None:
    lock = threading.Lock()
    with pytest.raises(pickle.PicklingError, match="initializer"):
        background.Pool(1, process=True, initializer=print, initargs=(lock,))


def test_thread_pools_never_load_multiprocessing_or_cloudpickle() -> None:
    code = textwrap.dedent(
        """
        import sys, background
        with background.Pool(2) as pool:
            assert pool.submit(abs, -1).result() == 1
        print(sorted(m for m in ("multiprocessing", "cloudpickle") if m in sys.modules))
        """
    )
    assert run_bare_python(code, timeout=WAIT).stdout.strip() == "[]"


def test_default_start_method_never_forks_unless_the_program_chose_fork(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import multiprocessing

    monkeypatch.setattr(launch, "_default_method", None)
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: None)
    assert launch.default_start_method() == "forkserver"
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "spawn")
    assert launch.default_start_method() == "forkserver"  # decided once, at the first pool
    monkeypatch.setattr(launch, "_default_method", None)
    assert launch.default_start_method() == "spawn"  # the program's explicit choice wins
    monkeypatch.setattr(launch, "_default_method", None)
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "fork")
    assert launch.default_start_method() == "fork"


def test_a_default_process_pool_uses_the_default_start_method() -> None:
    with background.Pool(1, process=True) as pool:
        assert pool.submit(abs, -3).result(WAIT) == 3
        assert pool.start_method == launch.default_start_method()


def test_one_fork_server_forks_the_workers_of_every_pool() -> None:
    with (
        background.Pool(1, process=True, start_method="forkserver") as one,
        background.Pool(1, process=True, start_method="forkserver") as two,
    ):
        parents = {pool.submit(os.getppid).result(WAIT) for pool in (one, two)}
    assert len(parents) == 1
    assert parents != {os.getpid()}  # the fork server's, not this process's
