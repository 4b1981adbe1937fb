"""Benchmark background against its peers; write the docs' Benchmarks page.

Run it with ``tox -e bench`` (or ``python tests/bench/run.py`` in an
environment with the peers installed). Every measurement runs in a fresh
interpreter that has loaded nothing the measured code could load: W5 times
``python -c "<statement>"`` itself, against a bare ``python -c pass``; the
other workloads run measure.py, which checks that it preloaded nothing but
the library under test. The repeats are interleaved: each round measures
every peer once, in a rotated order, so that a burst of load on a shared
machine hits all peers alike. Ratios are taken within a round, then the
median [min-max] over rounds is reported.

Options: ``--quick`` (fewer repeats, skips the slow W1 cases; does not touch
the docs unless ``--docs`` is given), ``--only W2,W5``, ``--repeats N``,
``--render`` (redraw the page from the saved results.json).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DOCS_PAGE = ROOT / "docs" / "benchmarks.md"
IMAGES = ROOT / "docs" / "_static" / "benchmarks"
#: The figures that other pages quote (MyST substitutions, see conf/conf.py).
FIGURES = IMAGES / "figures.json"
ORIGINAL = "background==0.2.1"
# Where every measured interpreter starts: a folder with nothing to import.
_EMPTY = tempfile.TemporaryDirectory(prefix="bench-cwd-")
EMPTY = Path(_EMPTY.name)

sys.path.insert(0, str(HERE))
from adapters import ADAPTERS, PEERS  # noqa: E402


@dataclass
class Case:
    """One workload with one set of parameters, measured for several adapters."""

    id: str
    workload: str
    title: str
    params: dict[str, Any]
    repeats: int
    baseline: str | None = None  # adapter key the ratios are taken against
    keys: list[str] = field(default_factory=list)


def adapters_for(workload: str, peers: list[str] | None = None) -> list[str]:
    keys = [a.key for a in ADAPTERS.values() if a.workload == workload]
    if peers is not None:
        keys = [k for k in keys if k.split("|")[1] in peers]
    return keys


#: W1 on few workers runs 50 rounds of sleeps (100 serially): shorter ones.
SHORT_SLEEP = 0.2


def cases(quick: bool, repeats: int | None) -> list[Case]:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    many = repeats or (3 if quick else 9)
    some = repeats or (2 if quick else 5)
    tpe = "concurrent.futures|ThreadPoolExecutor.submit"
    out = [
        Case(
            "W1-110",
            "W1",
            "W1: 100 calls sleeping 1 s, 110 workers (the blog post's experiment)",
            {"calls": 100, "workers": 110, "sleep": 1.0},
            many,
            keys=[k for k in adapters_for("W1") if "serial" not in k],
        ),
    ]
    if not quick:
        out += [
            Case(
                "W1-cpu",
                "W1",
                f"W1: 100 calls sleeping {SHORT_SLEEP:g} s, {cpus} workers (CPU count)",
                {"calls": 100, "workers": cpus, "sleep": SHORT_SLEEP},
                repeats or 2,
                keys=[
                    "W1|background|@task call, n set inside the clock",
                    "W1|background 0.2.1|@task call, n set inside the clock",
                    "W1|concurrent.futures|ThreadPoolExecutor.submit",
                ],
            ),
            Case(
                "W1-serial",
                "W1",
                f"W1: 100 calls sleeping {SHORT_SLEEP:g} s, serial",
                {"calls": 100, "workers": 1, "sleep": SHORT_SLEEP},
                1,
                keys=["W1|serial|loop"],
            ),
        ]
    out += [
        Case(
            "W2",
            "W2",
            "W2: 20,000 trivial calls on 4 threads",
            {"calls": 20_000, "workers": 4},
            many,
            baseline=f"W2|{tpe}",
            keys=adapters_for("W2"),
        ),
        Case(
            "W3",
            "W3",
            "W3: 20,000 trivial calls on 2 processes, start-up included",
            {"calls": 20_000, "workers": 2},
            some,
            baseline="W3|concurrent.futures|ProcessPoolExecutor.submit",
            keys=adapters_for("W3"),
        ),
        Case(
            "W4",
            "W4",
            "W4: 8 pure-Python calls of about 0.5 s on 2 processes",
            {"calls": 8, "workers": 2, "spin": 0},  # spin set by calibration
            some,
            baseline="W4|serial|loop",
            keys=adapters_for("W4"),
        ),
        Case(
            "W5",
            "W5",
            "W5: import and first use, over a bare interpreter",
            {},
            repeats or (7 if quick else 25),
            baseline=W5_BARE,
            keys=list(STATEMENTS),
        ),
        Case(
            "W6",
            "W6",
            "W6: 200,000 trivial calls on 4 threads, futures dropped as they complete",
            {"tasks": 200_000, "workers": 4, "window": 1000},
            some,
            baseline=f"W6|{tpe}",
            keys=adapters_for("W6"),
        ),
        Case(
            "W7",
            "W7",
            "W7: a new pool's first result, start-up included",
            {"calls": 1, "workers": 1},
            many,
            baseline="W7|concurrent.futures|ProcessPoolExecutor(1).submit",
            keys=adapters_for("W7"),
        ),
    ]
    return out


#: W5: adapter key -> the program that ``python -c`` runs. Each is timed from
#: the start of the interpreter to its exit, and the bare one subtracted.
#: Each round runs every program W5_TRIES times and keeps the fastest.
FIRST_USE = "import background\n@background.task\ndef one():\n    return 1\none().result()"
FIRST_USE_LABEL = "import background, then one `@task` function called and its `result()`"
W5_BARE = "W5|python|python -c pass"
#: What background's fork server imports before it forks a worker (W7 reads it).
W5_SERVER = "W5|background|import background._processes.server, what its fork server loads"
W5_TRIES = 3
#: The least that any pool of daemon threads behind a concurrent.futures.Future
#: does for one call: the floor under W5's first use, for background and for any design.
W5_FLOOR = (
    "W5|python|the least a thread pool does: a daemon thread and a SimpleQueue behind a Future"
)
LEAST_THREAD_POOL = """\
import concurrent.futures, contextvars, threading
from _queue import SimpleQueue
calls = SimpleQueue()
def work():
    while True:
        future, fn = calls.get()
        if future.set_running_or_notify_cancel():
            future.set_result(contextvars.copy_context().run(fn))
threading.Thread(target=work, daemon=True).start()
future = concurrent.futures.Future()
calls.put((future, int))
future.result()"""
STATEMENTS = {
    W5_BARE: "pass",
    W5_FLOOR: LEAST_THREAD_POOL,
    "W5|concurrent.futures|import concurrent.futures": "import concurrent.futures",
    "W5|concurrent.futures|import concurrent.futures, then one `submit()` and its `result()`": (
        "import concurrent.futures\nconcurrent.futures.ThreadPoolExecutor().submit(int).result()"
    ),
    "W5|background|import background": "import background",
    f"W5|background|{FIRST_USE_LABEL}": FIRST_USE,
    W5_SERVER: "import background._processes.server",
    "W5|background 0.2.1|import background": "import background",
    f"W5|background 0.2.1|{FIRST_USE_LABEL}": FIRST_USE,
    "W5|pebble|import pebble": "import pebble",
    "W5|loky|import loky": "import loky",
    "W5|joblib|import joblib": "import joblib",
    "W5|mpire|import mpire": "import mpire",
}


def original_dir(explicit: str | None) -> Path:
    """Where background 0.2.1 is installed (apart: it clashes with ours)."""
    target = Path(explicit or Path(tempfile.gettempdir()) / "bench-background-0.2.1")
    if not (target / "background.py").exists():
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        subprocess.run(
            [*pip, "--target", str(target), ORIGINAL],
            check=True,
        )
    return target


def child_env(peer: str, original: Path) -> dict[str, str]:
    # No development mode, no coverage, and bytecode caches as users have them.
    unwanted = ("PYTHONDEV", "COVERAGE", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(unwanted)}
    env.pop("PYTHONPATH", None)
    env["PYTHONPATH"] = str(original if peer == "background 0.2.1" else ROOT)
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def measure(case: Case, key: str, original: Path) -> dict[str, Any]:
    peer = key.split("|")[1]
    if case.workload == "W5":
        return bare(STATEMENTS[key], peer, original)
    return _child({"workload": case.workload, "key": key, "params": case.params}, peer, original)


def bare(statement: str, peer: str, original: Path) -> dict[str, Any]:
    """Seconds from starting ``python -c statement`` to its exit: nothing preloaded.

    The fastest of W5_TRIES runs. The interpreter starts in an empty folder,
    so that ``-c``'s first sys.path entry (the current folder) holds no package.
    """
    env = child_env(peer, original)
    best = math.inf
    for _ in range(W5_TRIES):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", statement],
            cwd=EMPTY,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
            check=False,
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            detail = f"exit {done.returncode}: {done.stderr.decode(errors='replace')[-300:]}"
            print(f"  FAILED {statement!r}: {detail}", file=sys.stderr)
            return {"value": math.nan, "ok": False, "detail": detail}
        best = min(best, seconds)
    return {"value": best, "ok": True, "detail": ""}


def _child(spec: dict[str, Any], peer: str, original: Path) -> dict[str, Any]:
    """Run measure.py on *spec* in a fresh interpreter, in its own session.

    The answer comes back in a file, not a pipe: worker processes that a peer
    leaves behind would hold a pipe open. Whatever is left of the session
    afterwards is killed.
    """
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        answer, log = Path(tmp) / "answer.json", Path(tmp) / "stderr.txt"
        spec = dict(spec, answer=str(answer))
        with open(log, "w") as stderr:
            child = subprocess.Popen(
                [sys.executable, str(HERE / "measure.py"), repr(spec)],
                cwd=EMPTY,
                env=child_env(peer, original),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
            try:
                child.wait(timeout=600)
            except subprocess.TimeoutExpired:
                pass
            finally:
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                child.wait()
        try:
            outcome: dict[str, Any] = json.loads(answer.read_text())
        except (OSError, ValueError):
            tail = log.read_text()[-1500:]
            outcome = {"value": math.nan, "ok": False, "detail": f"no answer: {tail}"}
    if not outcome["ok"]:
        print(f"  FAILED {spec['key']}: {outcome['detail']}", file=sys.stderr)
    return outcome


def warm_bytecode(original: Path) -> None:
    """Write the bytecode caches first, as an installed library has them.

    Otherwise the first round would pay for compiling: inside the clock where
    code is imported there (worker processes, W1's first use, W5).
    """
    import compileall
    import importlib.util

    folders = [ROOT / "background", original]
    for name in ("pebble", "loky", "joblib", "mpire", "cloudpickle"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            folders += [Path(folder) for folder in spec.submodule_search_locations]
    for folder in folders:
        compileall.compile_dir(folder, quiet=1, workers=1)


def calibrate(original: Path) -> int:
    outcome = _child({"workload": "calibrate", "key": "calibrate", "params": {}}, "", original)
    if not outcome["ok"]:
        raise SystemExit("calibration failed")
    return int(outcome["value"])


def machine() -> dict[str, Any]:
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "system": f"{platform.system()} {platform.release()}",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }


def versions(original: Path) -> dict[str, str]:
    from importlib import metadata

    out = {}
    for name in ("pebble", "loky", "joblib", "mpire", "cloudpickle"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    dists = list(metadata.distributions(path=[str(original)]))
    out["original background"] = dists[0].version if dists else "missing"
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    original = original_dir(args.original)
    chosen = cases(args.quick, args.repeats)
    if args.only:
        wanted = set(args.only.split(","))
        chosen = [c for c in chosen if c.workload in wanted or c.id in wanted]
    info = machine()
    started = time.monotonic()
    if any(c.workload == "W4" for c in chosen):
        steps = calibrate(original)
        for c in chosen:
            if c.workload == "W4":
                c.params["spin"] = steps
        print(f"W4: spin({steps:,}) takes about 0.5 s here", file=sys.stderr)
    warm_bytecode(original)
    values: dict[str, dict[str, list[float]]] = {c.id: {k: [] for k in c.keys} for c in chosen}
    failures: list[str] = []
    rounds = max(c.repeats for c in chosen)
    for r in range(rounds):
        for c in chosen:
            if r >= c.repeats:
                continue
            shift = r % len(c.keys)
            order = c.keys[shift:] + c.keys[:shift]
            if r % 2:
                order.reverse()
            for key in order:
                outcome = measure(c, key, original)
                values[c.id][key].append(outcome["value"] if outcome["ok"] else math.nan)
                if not outcome["ok"]:
                    failures.append(f"{c.id} {key}: {outcome['detail'][:300]}")
            print(
                f"round {r + 1}/{rounds} {c.id} done ({time.monotonic() - started:.0f} s)",
                file=sys.stderr,
            )
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    info["seconds"] = round(time.monotonic() - started)
    info["versions"] = versions(original)
    info["quick"] = args.quick
    return {
        "machine": info,
        "cases": [
            {
                "id": c.id,
                "workload": c.workload,
                "title": c.title,
                "params": c.params,
                "baseline": c.baseline,
                "values": values[c.id],
            }
            for c in chosen
        ],
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, fewer cases")
    parser.add_argument("--repeats", type=int, help="rounds per case (overrides the defaults)")
    parser.add_argument("--only", help="comma-separated workloads or case ids, e.g. W2,W5")
    parser.add_argument("--original", help="folder holding background 0.2.1 (else installed)")
    parser.add_argument("--docs", action="store_true", help="write the docs page even if --quick")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs alone")
    parser.add_argument("--render", action="store_true", help="redraw docs from results.json")
    parser.add_argument("--json", type=Path, help="where to save the raw results")
    args = parser.parse_args()
    import report

    saved = IMAGES / "results.json"
    if args.render:
        data = json.loads(saved.read_text())
    else:
        data = run(args)
        out = args.json or (saved if (not args.quick or args.docs) and not args.no_docs else None)
        if out is None:
            out = Path(tempfile.gettempdir()) / "bench-results.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=1) + "\n")
        print(f"raw results: {out}", file=sys.stderr)
    tables = report.markdown(data, PEERS)
    print(tables)
    if (not data["machine"]["quick"] or args.docs or args.render) and not args.no_docs:
        report.plots(data, IMAGES)
        report.write_page(DOCS_PAGE, tables)
        report.write_figures(FIGURES, data)
        written = f"{DOCS_PAGE.relative_to(ROOT)}, {IMAGES.relative_to(ROOT)}/*.svg"
        print(f"wrote {written} and {FIGURES.name}")
    if data["failures"]:
        print("\n".join(["FAILURES:", *data["failures"]]), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
