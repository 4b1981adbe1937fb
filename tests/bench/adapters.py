"""One small adapter per peer and workload: how that library does that job.

Each adapter is a function ``run(p, later)``: *p* holds the workload's
parameters, *later* collects clean-ups (pool shutdowns) that run after the
clock stops. It returns the results, which the runner checks. The clock runs
from just before the pool is created until the last result is in hand. The
adapter's *before* statements (importing the library, say) run before the
clock; an adapter with a *prepare* step also does that much of its work
before the clock: ``prepare(p)`` returns the ``run(later)`` that is timed.

The harness itself preloads nothing that the measured code could load: this
module and work.py import no more than a bare interpreter has loaded already
(no typing, no dataclasses, no threading), and measure.py checks it.

Adding a peer is one block of ``@adapter`` functions below, and its name in
``PEERS`` (run.py picks up every adapter registered for a workload).
"""

import sys

from work import nap, spin, trivial

TYPE_CHECKING = False
if TYPE_CHECKING:  # for the type checker only: typing must not load at run time
    from typing import Any, Callable

    Run = Callable[[dict[str, Any], list[Callable[[], object]]], Any]
    Prepare = Callable[[dict[str, Any]], Callable[[list[Callable[[], object]]], Any]]

#: Peer name -> one-line description shown in the docs.
PEERS = {
    "background": "this project (the working tree)",
    "concurrent.futures": "the standard library's executors, used bare",
    "background 0.2.1": "the original background, from PyPI",
    "pebble": "pebble",
    "loky": "loky",
    "joblib": "joblib",
    "mpire": "mpire",
    "serial": "a plain loop, no concurrency",
}


class Adapter:
    """How *peer* does *workload*: *before* runs before the clock, then *run*."""

    __slots__ = ("before", "label", "peer", "prepare", "run", "workload")

    def __init__(
        self,
        workload: str,
        peer: str,
        label: str,
        before: "tuple[str, ...]",
        run: "Run | None" = None,
        prepare: "Prepare | None" = None,
    ) -> None:
        self.workload, self.peer, self.label = workload, peer, label
        self.before = before  # statements, or module names to import
        self.run, self.prepare = run, prepare

    @property
    def key(self) -> str:
        return f"{self.workload}|{self.peer}|{self.label}"

    def timed(self, p: "dict[str, Any]") -> "Callable[[list[Callable[[], object]]], Any]":
        """Do what comes before the clock; return the call that the clock times."""
        if self.prepare is not None:
            return self.prepare(p)
        run = self.run
        assert run is not None
        return lambda later: run(p, later)


ADAPTERS: "dict[str, Adapter]" = {}


def adapter(workload: str, peer: str, label: str, *before: str) -> "Callable[[Run], Run]":
    """Register *run* as how *peer* does *workload* (*before* runs before the clock)."""

    def register(run: "Run") -> "Run":
        a = Adapter(workload, peer, label, before, run=run)
        ADAPTERS[a.key] = a
        return run

    return register


def prepared(workload: str, peer: str, label: str, *before: str) -> "Callable[[Prepare], Prepare]":
    """Register *prepare*: its own body runs before the clock, the call it returns is timed."""

    def register(prepare: "Prepare") -> "Prepare":
        a = Adapter(workload, peer, label, before, prepare=prepare)
        ADAPTERS[a.key] = a
        return prepare

    return register


def results_of(futures: "list[Any]") -> "list[Any]":
    return [f.result() for f in futures]


def in_main() -> "Callable[[int], int]":
    """W3's trivial call defined in ``__main__``, as in a user's script (measure.py)."""
    return sys.modules["__main__"].trivial_in_main  # type: ignore[no-any-return]


# --------------------------------------------------------------------- serial
@adapter("W1", "serial", "loop")
def w1_serial(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    return [nap(i) for i in range(p["calls"])]


@adapter("W4", "serial", "loop")
def w4_serial(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    return [spin(p["spin"]) for _ in range(p["calls"])]


# ------------------------------------------------- background (this project)
# background loads its machinery on first use; that cost is W5's, not the clock's,
# except in W1's "n set inside the clock", which times what a script pays. The
# process pool's machinery is loaded before the clock as the standard library's
# is (`from concurrent.futures import ProcessPoolExecutor` loads multiprocessing).
USE_TASK = "import background; background.task"
USE_POOL = "from background import Pool, task"
USE_PROCESSES = "from background import Pool; import background._processes.runner"


# "background 0.2.1" runs the same code: the runner puts the old package first
# on sys.path for that peer, so `import background` is the old one there.
def _decorated_call(fn: "Callable[[int], Any]") -> "Run":
    def run(p: "dict[str, Any]", later: "list[Any]") -> "Any":
        import background as bg

        bg.n = p["workers"]
        task = bg.task(fn)
        return results_of([task(i) for i in range(p["calls"])])

    return run


def _set_before_the_clock(p: "dict[str, Any]") -> "Callable[[list[Any]], Any]":
    """As the README's script: n set and the function decorated, then the clock."""
    import background as bg

    bg.n = p["workers"]
    task = bg.task(nap)
    return lambda later: results_of([task(i) for i in range(p["calls"])])


for _peer in ("background", "background 0.2.1"):
    prepared("W1", _peer, "@task call, n set before the clock", "import background")(
        _set_before_the_clock
    )
    adapter("W1", _peer, "@task call, n set inside the clock", "import background")(
        _decorated_call(nap)
    )
    adapter("W2", _peer, "@task call", USE_TASK)(_decorated_call(trivial))


@adapter("W1", "background", "Pool.submit", USE_POOL)
@adapter("W2", "background", "Pool.submit", USE_POOL)
def bg_pool_submit(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    import background as bg

    fn = nap if p.get("sleep") else trivial
    pool = bg.Pool(p["workers"])
    later.append(pool.shutdown)
    return results_of([pool.submit(fn, i) for i in range(p["calls"])])


@adapter("W2", "background", "Pool.map", USE_POOL)
def bg_pool_map(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    import background as bg

    pool = bg.Pool(p["workers"])
    later.append(pool.shutdown)
    return list(pool.map(trivial, range(p["calls"])))


@adapter("W2", "background", "@task .map", USE_POOL)
def bg_task_map(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    import background as bg

    bg.n = p["workers"]
    return list(bg.task(trivial).map(range(p["calls"])))


@adapter("W3", "background", "Pool.map", USE_PROCESSES)
def bg_process_map(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    import background as bg

    pool = bg.Pool(p["workers"], process=True)
    later.append(pool.shutdown)
    return list(pool.map(trivial, range(p["calls"])))


def _process_submit(fn: "Callable[[], Callable[[int], int]]") -> "Run":
    def run(p: "dict[str, Any]", later: "list[Any]") -> "Any":
        import background as bg

        call = fn()
        pool = bg.Pool(p["workers"], process=True)
        later.append(pool.shutdown)
        return results_of([pool.submit(call, i) for i in range(p["calls"])])

    return run


adapter("W3", "background", "Pool.submit", USE_PROCESSES)(_process_submit(lambda: trivial))
adapter("W3", "background", "Pool.submit, function in __main__", USE_PROCESSES)(
    _process_submit(in_main)
)


@adapter("W4", "background", "Pool.submit", USE_PROCESSES)
def bg_process_spin(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    import background as bg

    pool = bg.Pool(p["workers"], process=True)
    later.append(pool.shutdown)
    return results_of([pool.submit(spin, p["spin"]) for _ in range(p["calls"])])


@adapter("W6", "background", "@task call", USE_TASK)
@adapter("W6", "background 0.2.1", "@task call", USE_TASK)
def bg_drop(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    import background as bg

    bg.n = p["workers"]
    return drop_as_completed(bg.task(trivial), p)


@adapter("W6", "background", "Pool.submit", USE_POOL)
def bg_pool_drop(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    import background as bg

    pool = bg.Pool(p["workers"])
    later.append(pool.shutdown)
    return drop_as_completed(lambda i: pool.submit(trivial, i), p)


# ------------------------------------------------------- concurrent.futures
PPE = "from concurrent.futures import ProcessPoolExecutor"


@adapter("W1", "concurrent.futures", "ThreadPoolExecutor.submit", "concurrent.futures")
@adapter("W2", "concurrent.futures", "ThreadPoolExecutor.submit", "concurrent.futures")
def tpe_submit(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    from concurrent.futures import ThreadPoolExecutor

    fn = nap if p.get("sleep") else trivial
    executor = ThreadPoolExecutor(p["workers"])
    later.append(executor.shutdown)
    return results_of([executor.submit(fn, i) for i in range(p["calls"])])


@adapter("W2", "concurrent.futures", "ThreadPoolExecutor.map", "concurrent.futures")
def tpe_map(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(p["workers"])
    later.append(executor.shutdown)
    return list(executor.map(trivial, range(p["calls"])))


@adapter("W3", "concurrent.futures", "ProcessPoolExecutor.submit", PPE)
@adapter("W4", "concurrent.futures", "ProcessPoolExecutor.submit", PPE)
def ppe_submit(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(p["workers"])
    later.append(executor.shutdown)
    if "spin" in p:
        return results_of([executor.submit(spin, p["spin"]) for _ in range(p["calls"])])
    return results_of([executor.submit(trivial, i) for i in range(p["calls"])])


@adapter("W3", "concurrent.futures", "ProcessPoolExecutor.map(chunksize=500)", PPE)
def ppe_map_500(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    from concurrent.futures import ProcessPoolExecutor

    executor = ProcessPoolExecutor(p["workers"])
    later.append(executor.shutdown)
    return list(executor.map(trivial, range(p["calls"]), chunksize=500))


@adapter("W6", "concurrent.futures", "ThreadPoolExecutor.submit", "concurrent.futures")
def tpe_drop(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(p["workers"])
    later.append(executor.shutdown)
    return drop_as_completed(lambda i: executor.submit(trivial, i), p)


# ------------------------------------------------------------------- pebble
@adapter("W1", "pebble", "ThreadPool.schedule", "pebble")
@adapter("W2", "pebble", "ThreadPool.schedule", "pebble")
def pebble_threads(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    from pebble import ThreadPool

    fn = nap if p.get("sleep") else trivial
    pool = ThreadPool(max_workers=p["workers"])
    later.append(lambda: (pool.close(), pool.join()))
    return results_of([pool.schedule(fn, args=(i,)) for i in range(p["calls"])])


def _pebble_processes(fn: "Callable[[], Callable[[int], int]]") -> "Run":
    def run(p: "dict[str, Any]", later: "list[Any]") -> "Any":
        from pebble import ProcessPool

        pool = ProcessPool(max_workers=p["workers"])
        later.append(lambda: (pool.close(), pool.join()))
        if "spin" in p:
            return results_of([pool.schedule(spin, args=(p["spin"],)) for _ in range(p["calls"])])
        call = fn()
        return results_of([pool.schedule(call, args=(i,)) for i in range(p["calls"])])

    return run


adapter("W3", "pebble", "ProcessPool.schedule", "pebble")(_pebble_processes(lambda: trivial))
adapter("W3", "pebble", "ProcessPool.schedule, function in __main__", "pebble")(
    _pebble_processes(in_main)
)
adapter("W4", "pebble", "ProcessPool.schedule", "pebble")(_pebble_processes(lambda: trivial))


@adapter("W6", "pebble", "ThreadPool.schedule", "pebble")
def pebble_drop(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    from pebble import ThreadPool

    pool = ThreadPool(max_workers=p["workers"])
    later.append(lambda: (pool.close(), pool.join()))
    return drop_as_completed(lambda i: pool.schedule(trivial, args=(i,)), p)


# --------------------------------------------------------------------- loky
@adapter("W4", "loky", "get_reusable_executor().submit", "loky")
def loky_spin(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    from loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=p["workers"])
    later.append(executor.shutdown)
    return results_of([executor.submit(spin, p["spin"]) for _ in range(p["calls"])])


@adapter("W3", "loky", "get_reusable_executor().map(chunksize=500)", "loky")
def loky_map(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    from loky import get_reusable_executor

    executor = get_reusable_executor(max_workers=p["workers"])
    later.append(executor.shutdown)
    return list(executor.map(trivial, range(p["calls"]), chunksize=500))


# ------------------------------------------------------------------- joblib
def _joblib(
    fn: "Callable[..., Any]", args: "list[Any]", p: "dict[str, Any]", backend: str
) -> "Any":
    from joblib import Parallel, delayed

    return Parallel(n_jobs=p["workers"], backend=backend)(delayed(fn)(a) for a in args)


def _joblib_shutdown() -> None:
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


@adapter("W1", "joblib", "Parallel(backend='threading')", "joblib")
@adapter("W2", "joblib", "Parallel(backend='threading')", "joblib")
def joblib_threads(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    return _joblib(nap if p.get("sleep") else trivial, list(range(p["calls"])), p, "threading")


@adapter("W3", "joblib", "Parallel()", "joblib")
@adapter("W4", "joblib", "Parallel()", "joblib")
def joblib_processes(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    later.append(_joblib_shutdown)
    if "spin" in p:
        return _joblib(spin, [p["spin"]] * p["calls"], p, "loky")
    return _joblib(trivial, list(range(p["calls"])), p, "loky")


# -------------------------------------------------------------------- mpire
def _mpire(fn: "Callable[..., Any]", args: "list[Any]", p: "dict[str, Any]", method: str) -> "Any":
    from mpire import WorkerPool

    with WorkerPool(n_jobs=p["workers"], start_method=method) as pool:
        return pool.map(fn, args, progress_bar=False)


@adapter("W1", "mpire", "WorkerPool(start_method='threading').map", "mpire")
@adapter("W2", "mpire", "WorkerPool(start_method='threading').map", "mpire")
def mpire_threads(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    return _mpire(nap if p.get("sleep") else trivial, list(range(p["calls"])), p, "threading")


@adapter("W3", "mpire", "WorkerPool().map", "mpire")
@adapter("W4", "mpire", "WorkerPool().map", "mpire")
def mpire_processes(p: "dict[str, Any]", later: "list[Any]") -> "Any":
    if "spin" in p:
        return _mpire(spin, [p["spin"]] * p["calls"], p, "fork")
    return _mpire(trivial, list(range(p["calls"])), p, "fork")


# ---------------------------------------------------------------------- W7
def _first_result(make: "Callable[[], Any]") -> "Run":
    """W7: a new pool (or executor) from its creation to its first result."""

    def run(p: "dict[str, Any]", later: "list[Any]") -> "Any":
        pool = make()
        later.append(pool.shutdown)
        return [pool.submit(trivial, 0).result()]

    return run


def _bg_pool(**options: "Any") -> "Callable[[], Any]":
    def make() -> "Any":
        import background

        return background.Pool(1, **options)

    return make


def _executor(name: str) -> "Callable[[], Any]":
    def make() -> "Any":
        import concurrent.futures

        return getattr(concurrent.futures, name)(1)

    return make


adapter("W7", "background", "Pool(1).submit, threads", USE_POOL)(_first_result(_bg_pool()))
adapter("W7", "background", "Pool(1, process=True).submit, fork server", USE_PROCESSES)(
    _first_result(_bg_pool(process=True))
)
adapter("W7", "background", "Pool(1, process=True, start_method='fork').submit", USE_PROCESSES)(
    _first_result(_bg_pool(process=True, start_method="fork"))
)
adapter("W7", "concurrent.futures", "ThreadPoolExecutor(1).submit", "concurrent.futures")(
    _first_result(_executor("ThreadPoolExecutor"))
)
adapter("W7", "concurrent.futures", "ProcessPoolExecutor(1).submit", PPE)(
    _first_result(_executor("ProcessPoolExecutor"))
)


# ---------------------------------------------------------------------- W6
def drop_as_completed(submit: "Callable[[int], Any]", p: "dict[str, Any]") -> "Any":
    """Submit p["tasks"] calls, keeping no future: each is dropped as it completes.

    At most p["window"] calls are unfinished at once (a semaphore released by
    each future's done-callback), so the peak measures what a library keeps
    per task, not how far the submitter ran ahead of the workers.
    """
    import threading

    window = threading.Semaphore(p["window"])
    lock = threading.Lock()
    totals = [0, 0]  # completed, sum of results
    finished = threading.Event()
    tasks = p["tasks"]

    def on_done(future: "Any") -> None:
        value = future.result()
        with lock:
            totals[0] += 1
            totals[1] += value
            if totals[0] == tasks:
                finished.set()
        window.release()

    for i in range(tasks):
        window.acquire()
        submit(i).add_done_callback(on_done)
    if not finished.wait(300):
        raise TimeoutError(f"only {totals[0]} of {tasks} tasks completed")
    return totals
