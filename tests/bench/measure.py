"""One measurement, in the fresh interpreter that run.py starts for it.

Usage: ``python measure.py '<json spec>'``; writes the JSON answer
``{"value": ..., "ok": true|false, "detail": "..."}`` to the spec's "answer" file.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from typing import Any


def main(spec: dict[str, Any]) -> dict[str, Any]:
    workload = spec["workload"]
    if workload == "W5":
        return import_cost(spec["params"]["statement"])
    if workload == "calibrate":
        return calibrate()
    from adapters import ADAPTERS
    from work import spin_expected

    adapter = ADAPTERS[spec["key"]]
    p = spec["params"]
    for statement in adapter.imports:  # a module name, or a statement
        exec(statement if " " in statement else f"import {statement}", {})
    later: list[Any] = []
    if workload == "W6":
        return memory(adapter, p, later)
    gc.collect()
    start = time.perf_counter()
    results = adapter.run(p, later)
    seconds = time.perf_counter() - start
    cleanup(later)
    calls = p["calls"]
    if workload == "W1":
        expected: list[Any] = list(range(calls))
    elif workload == "W4":
        expected = [spin_expected(p["spin"])] * calls
    else:
        expected = [i + 1 for i in range(calls)]
    ok = list(results) == expected
    return {"value": seconds, "ok": ok, "detail": "" if ok else "wrong results"}


def cleanup(later: list[Any]) -> None:
    for step in later:
        step()


def import_cost(statement: str) -> dict[str, Any]:
    """Seconds to run *statement* (imports) in this fresh interpreter."""
    code = compile(statement, "<import>", "exec")
    start = time.perf_counter()
    exec(code, {})
    seconds = time.perf_counter() - start
    return {"value": seconds, "ok": True, "detail": ""}


def calibrate() -> dict[str, Any]:
    """How many spin() steps take 0.5 s here (best of three)."""
    from work import spin

    steps = 1_000_000
    best = min(_timed(spin, steps) for _ in range(3))
    return {"value": round(steps * 0.5 / best), "ok": True, "detail": f"{best:.3f}s per 1e6"}


def _timed(fn: Any, arg: Any) -> float:
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


def memory(adapter: Any, p: dict[str, Any], later: list[Any]) -> dict[str, Any]:
    """Peak RSS growth while p["tasks"] calls run and their futures are dropped."""
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
    ok = totals == [n, n * (n + 1) // 2]
    return {
        "value": (peak - before) / 1e6,
        "ok": ok,
        "detail": f"kept {(after - before) / 1e6:.2f} MB after" if ok else f"totals {totals}",
    }


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    try:
        outcome = main(spec)
    except BaseException as error:  # reported as a failed measurement
        outcome = {"value": float("nan"), "ok": False, "detail": repr(error)}
    with open(spec["answer"], "w") as answer:
        json.dump(outcome, answer)
    # Some peers' exit hooks wait on pools we already shut down: leave now.
    os._exit(0)
