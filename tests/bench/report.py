"""Turn run.py's raw results into the docs' tables and plots."""

# The page is typeset: the multiplication sign and the en dash are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import math
import re
import statistics
from pathlib import Path
from typing import Any, Callable

from work import SLEEP

START = "<!-- benchmarks:start (written by tests/bench/run.py: do not edit by hand) -->"
END = "<!-- benchmarks:end -->"
OURS = "background"


# How each workload is shown: the value's unit and scale, and the relation
# taken within each round (against the case's baseline or the physical limit).
def _per_task(v: float, case: dict[str, Any]) -> float:
    return v / case["params"]["calls"] * 1e6


SHOW: dict[str, tuple[str, Callable[[float, dict[str, Any]], float]]] = {
    "W1": ("seconds", lambda v, c: v),
    "W2": ("µs per task", _per_task),
    "W3": ("µs per task", _per_task),
    "W4": ("seconds", lambda v, c: v),
    "W5": ("ms", lambda v, c: v * 1e3),
    "W6": ("peak RSS growth, MB", lambda v, c: v),
}
RELATION = {
    "W1": "× one task's duration (limit 1.0)",
    "W2": "× bare `ThreadPoolExecutor.submit`",
    "W3": "× bare `ProcessPoolExecutor.submit`",
    "W4": "speed-up over serial (limit 2.0)",
    "W5": "× `import concurrent.futures`",
    "W6": "MB more than bare `ThreadPoolExecutor`",
}


def limit(case: dict[str, Any]) -> float:
    p = case["params"]
    return math.ceil(p["calls"] / p["workers"]) * SLEEP


def relation(case: dict[str, Any], key: str) -> list[float]:
    """Per-round relation of *key* to the case's reference, NaN where missing."""
    values = case["values"]
    mine = values[key]
    w = case["workload"]
    if w == "W1":
        return [v / limit(case) for v in mine]
    base = values.get(case["baseline"]) if case["baseline"] else None
    if base is None:
        return [math.nan] * len(mine)
    if w == "W4":
        return [b / v for v, b in zip(mine, base)]
    if w == "W6":
        return [v - b for v, b in zip(mine, base)]
    return [v / b for v, b in zip(mine, base)]


def stats(xs: list[float]) -> tuple[float, float, float]:
    xs = [x for x in xs if not math.isnan(x)]
    if not xs:
        return (math.nan, math.nan, math.nan)
    return (statistics.median(xs), min(xs), max(xs))


def fmt(x: float) -> str:
    if math.isnan(x):
        return "–"
    a = abs(x)
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def cell(xs: list[float]) -> str:
    m, lo, hi = stats(xs)
    if math.isnan(m):
        return "failed"
    return f"{fmt(m)} [{fmt(lo)}–{fmt(hi)}]"


def rows(case: dict[str, Any]) -> list[tuple[str, str, list[float], list[float]]]:
    """(peer, label, shown values, relations) for each adapter, in a stable order."""
    _, scale = SHOW[case["workload"]]
    out = []
    for key, values in case["values"].items():
        _, peer, label = key.split("|")
        shown = [scale(v, case) for v in values]
        out.append((peer, label, shown, relation(case, key)))
    order = ["background", "concurrent.futures", "background 0.2.1", "pebble", "loky"]
    order += ["joblib", "mpire", "serial"]
    out.sort(key=lambda r: order.index(r[0]) if r[0] in order else 99)
    return out


def case_table(case: dict[str, Any]) -> str:
    unit, _ = SHOW[case["workload"]]
    rel = RELATION[case["workload"]]
    lines = [f"| library | how | {unit} | {rel} |", "| --- | --- | ---: | ---: |"]
    for peer, label, shown, related in rows(case):
        name = f"**{peer}**" if peer == OURS else peer
        lines.append(f"| {name} | `{label}` | {cell(shown)} | {cell(related)} |")
    return "\n".join(lines)


def find(data: dict[str, Any], case_id: str) -> dict[str, Any] | None:
    return next((c for c in data["cases"] if c["id"] == case_id), None)


def targets(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each of issue 8's targets present in *data*."""
    out: list[tuple[str, str, str]] = []

    def check(name: str, xs: list[float], ok: Callable[[float], bool], unit: str = "") -> None:
        m, lo, hi = stats(xs)
        if math.isnan(m):
            out.append((name, "not measured", "–"))
            return
        verdict = "holds" if ok(m) else "**missed**"
        out.append((name, f"{fmt(m)}{unit} [{fmt(lo)}–{fmt(hi)}]", verdict))

    if c := find(data, "W1-110"):
        check(
            "W1, 110 workers: at most 1.05× one task",
            relation(c, "W1|background|@task call"),
            lambda m: m <= 1.05,
            "×",
        )
    if (c := find(data, "W2")) and c["baseline"]:
        check(
            "W2: `@task` call at most 1.10× bare submit",
            relation(c, "W2|background|@task call"),
            lambda m: m <= 1.10,
            "×",
        )
        check(
            "W2: `Pool.map` no slower than bare submit",
            relation(c, "W2|background|Pool.map"),
            lambda m: m <= 1.0,
            "×",
        )
    if c := find(data, "W3"):
        calls = c["params"]["calls"]
        check(
            "W3: process `Pool.map` at most 5 µs per task",
            [v / calls * 1e6 for v in c["values"].get("W3|background|Pool.map", [])],
            lambda m: m <= 5,
            " µs",
        )
        mine = c["values"].get("W3|background|Pool.submit", [])
        theirs = c["values"].get("W3|pebble|ProcessPool.schedule", [])
        check(
            "W3: process `Pool.submit` no slower than pebble",
            [a / b for a, b in zip(mine, theirs)],
            lambda m: m <= 1.0,
            "× pebble",
        )
    if c := find(data, "W4"):
        check(
            "W4: at least 1.9× over serial",
            relation(c, "W4|background|Pool.submit"),
            lambda m: m >= 1.9,
            "×",
        )
    if c := find(data, "W5"):
        check(
            "W5: `import background` costs less than `import concurrent.futures`",
            relation(c, "W5|background|import background"),
            lambda m: m < 1.0,
            "×",
        )
    if c := find(data, "W6"):
        check(
            "W6: peak RSS within 1 MB of bare `ThreadPoolExecutor`",
            relation(c, "W6|background|@task call"),
            lambda m: m <= 1.0,
            " MB",
        )
    return out


def markdown(data: dict[str, Any], peers: dict[str, str]) -> str:
    m = data["machine"]
    v = m["versions"]
    parts = [
        f"Measured {m['date']} on a shared machine: {m['cpu']}, {m['usable_cores']} cores, "
        f"{m['memory_gb']} GB, {m['system']}, {m['python']}. Other work ran on the same "
        f"two cores meanwhile (load average {m['load_before'][0]} at the start, "
        f"{m['load_after'][0]} at the end), so read the ratios, each taken within one "
        "round of interleaved runs, rather than the absolute times. Each cell is the "
        f"median [min–max] over the rounds. The whole run took {m['seconds'] // 60} min "
        f"{m['seconds'] % 60} s.",
        "",
        "Peers: " + ", ".join(f"{k} {v[k]}" for k in sorted(v)) + ".",
        "",
        "### Targets",
        "",
        "| target | measured | verdict |",
        "| --- | ---: | --- |",
    ]
    parts += [f"| {t} | {measured} | {verdict} |" for t, measured, verdict in targets(data)]
    for case in data["cases"]:
        n = len(next(iter(case["values"].values()), []))
        parts += ["", f"### {case['title']}", "", f"{n} rounds.", "", case_table(case)]
        image = image_name(case)
        if case["id"] != "W1-serial":
            parts += ["", f"![{case['title']}](_static/benchmarks/{image})"]
    if data["failures"]:
        parts += ["", "Failed measurements:", ""]
        parts += [f"- `{f[:200]}`" for f in data["failures"]]
    return "\n".join(parts)


def image_name(case: dict[str, Any]) -> str:
    return case["id"].lower() + ".png"


def plots(data: dict[str, Any], folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    for case in data["cases"]:
        if case["id"] == "W1-serial":
            continue
        w = case["workload"]
        use_relation = w in ("W1", "W4")
        table = rows(case)
        labels = [f"{peer}: {label}" for peer, label, _, _ in table]
        series = [rel if use_relation else shown for _, _, shown, rel in table]
        if w == "W4":  # the serial loop's speed-up over itself says nothing
            keep = [i for i, (peer, *_) in enumerate(table) if peer != "serial"]
            labels = [labels[i] for i in keep]
            series = [series[i] for i in keep]
            table = [table[i] for i in keep]
        med = [stats(s)[0] for s in series]
        lo = [m - stats(s)[1] for m, s in zip(med, series)]
        hi = [stats(s)[2] - m for m, s in zip(med, series)]
        colors = ["#2a7ab9" if peer == OURS else "#b0b0b0" for peer, *_ in table]
        fig, ax = plt.subplots(figsize=(8, 0.42 * len(labels) + 1.3), dpi=110)
        y = list(range(len(labels)))[::-1]
        clean = [0 if math.isnan(x) else x for x in med]
        ax.barh(y, clean, color=colors, xerr=[lo, hi], capsize=3, ecolor="#444")
        ax.set_yticks(y, labels, fontsize=8)
        unit = SHOW[w][0]
        if w == "W1":
            ax.axvline(1.0, color="#c33", lw=1, ls="--")
            ax.set_xlabel("× one task's duration (the limit is 1.0; lower is better)")
        elif w == "W4":
            ax.axvline(2.0, color="#c33", lw=1, ls="--")
            ax.set_xlabel("speed-up over serial (the limit on 2 cores is 2.0; higher is better)")
        else:
            ax.set_xlabel(f"{unit} (lower is better)")
        if w in ("W3", "W6") and min(clean) > 0 and min(clean) * 20 < max(clean):
            ax.set_xscale("log")
        for yy, x, up in zip(y, med, hi):
            if not math.isnan(x):  # the median, right of the error bar
                ax.text(x + up, yy, f"  {fmt(x)}", va="center", fontsize=7)
        ax.set_title(case["title"], fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        fig.savefig(folder / image_name(case), metadata={"Software": None})
        plt.close(fig)


def write_page(page: Path, tables: str) -> None:
    text = page.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{page}: markers {START!r} ... {END!r} not found")
    page.write_text(pattern.sub(lambda _: f"{START}\n\n{tables}\n\n{END}", text))
