"""One measurement, in the fresh interpreter that run.py starts for it.

Usage: ``python measure.py "<spec>"``, the spec a Python dict literal (parsing
JSON would load ``json`` and ``re``). Once done, it writes the answer as JSON,
``{"value": ..., "ok": true|false, "detail": "..."}``, to the spec's "answer" file.

Before the clock this process loads only the adapter's own *before* statements
(the library under test): the harness (this file, adapters.py, work.py) imports
nothing that a bare interpreter has not loaded at start-up, so the measured
code pays for every module it needs, as in a user's script. It checks that:
a measurement whose harness loaded more fails.
"""

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing must not load at run time
    from typing import Any

STARTUP = frozenset(sys.modules)  # what a bare interpreter has loaded
HARNESS = frozenset({"__main__", "adapters", "work"})


def trivial_in_main(i: int) -> int:
    """W3: a call defined in ``__main__``, as in a user's script."""
    return i + 1


def main(spec: "dict[str, Any]") -> "dict[str, Any]":
    workload = spec["workload"]
    if workload == "calibrate":
        return calibrate()
    import work
    from adapters import ADAPTERS
    from work import spin_expected

    adapter = ADAPTERS[spec["key"]]
    p = spec["params"]
    preloaded = sorted(set(sys.modules) - STARTUP - HARNESS)
    if preloaded:
        return failed(f"the harness preloaded {', '.join(preloaded)}")
    if "sleep" in p:
        work.SLEEP = p["sleep"]
    for statement in adapter.before:  # a module name, or statements
        exec(statement if " " in statement else f"import {statement}", {})
    later: list[Any] = []
    if workload == "W6":
        return memory(adapter, p, later)
    timed = adapter.timed(p)
    start = time.perf_counter()
    results = timed(later)
    seconds = time.perf_counter() - start
    cleanup(later)
    calls = p["calls"]
    if workload == "W1":
        expected: list[Any] = list(range(calls))
    elif workload == "W4":
        expected = [spin_expected(p["spin"])] * calls
    else:
        expected = [i + 1 for i in range(calls)]
    if list(results) != expected:
        return failed("wrong results")
    return {"value": seconds, "ok": True, "detail": ""}


def failed(detail: str) -> "dict[str, Any]":
    return {"value": float("nan"), "ok": False, "detail": detail}


def cleanup(later: "list[Any]") -> None:
    for step in later:
        step()


def calibrate() -> "dict[str, Any]":
    """How many spin() steps take 0.5 s here (best of three)."""
    from work import spin

    steps = 1_000_000
    best = min(_timed(spin, steps) for _ in range(3))
    return {"value": round(steps * 0.5 / best), "ok": True, "detail": f"{best:.3f}s per 1e6"}


def _timed(fn: "Any", arg: "Any") -> float:
    start = time.perf_counter()
    fn(arg)
    return time.perf_counter() - start


def _status(field: str) -> int:
    """A field of /proc/self/status, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)


def memory(adapter: "Any", p: "dict[str, Any]", later: "list[Any]") -> "dict[str, Any]":
    """Peak RSS growth while p["tasks"] calls run and their futures are dropped."""
    import gc

    warm = dict(p, tasks=2 * p["window"])
    adapter.run(warm, later)  # threads started, caches filled
    cleanup(later)
    later.clear()
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak (VmHWM) to the current RSS
    before = _status("VmRSS")
    totals = adapter.run(p, later)
    peak = _status("VmHWM")
    gc.collect()
    after = _status("VmRSS")
    cleanup(later)
    n = p["tasks"]
    if totals != [n, n * (n + 1) // 2]:
        return failed(f"totals {totals}")
    return {
        "value": (peak - before) / 1e6,
        "ok": True,
        "detail": f"kept {(after - before) / 1e6:.2f} MB after",
    }


if __name__ == "__main__":
    spec = eval(sys.argv[1], {"__builtins__": {}})  # a literal written by run.py
    try:
        outcome = main(spec)
    except BaseException as error:  # reported as a failed measurement
        outcome = failed(repr(error))
    import json  # the clock has stopped: the harness may load what it likes
    import os

    with open(spec["answer"], "w") as answer:
        json.dump(outcome, answer)
    # Some peers' exit hooks wait on pools we already shut down: leave now.
    os._exit(0)
