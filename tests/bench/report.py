"""Turn run.py's raw results into the docs' tables and plots."""

# The page is typeset: the multiplication sign and the en dash are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import math
import re
import statistics
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START = "<!-- benchmarks:start (written by tests/bench/run.py: do not edit by hand) -->"
END = "<!-- benchmarks:end -->"
OURS = "background"
W5_BARE = "W5|python|python -c pass"
W5_IMPORT = "W5|concurrent.futures|import concurrent.futures"
W5_SUBMIT = (
    "W5|concurrent.futures|import concurrent.futures, then one `submit()` and its `result()`"
)
W5_FIRST_USE = (
    "W5|background|import background, then one `@task` function called and its `result()`"
)
W5_SERVER = "W5|background|import background._processes.server, what its fork server loads"
W5_FLOOR = (
    "W5|python|the least a thread pool does: a daemon thread and a SimpleQueue behind a Future"
)
W7_SERVER = "W7|background|Pool(1, process=True).submit, fork server"
W1_BEFORE = "W1|background|@task call, n set before the clock"
ORDER = ["background", "concurrent.futures", "background 0.2.1", "pebble", "loky", "joblib"]
ORDER += ["mpire", "serial", "python"]
RANGE = "–\u2060"  # an en dash that a narrow column does not break after (a word joiner)
#: Labels too long for a plot, shortened there.
SHORT = {
    W5_SUBMIT.split("|")[2]: "import, one submit() and its result()",
    W5_FIRST_USE.split("|")[2]: "first use: one @task call and its result()",
    W5_FLOOR.split("|")[2]: "the least a thread pool does",
}


def limit(case: dict[str, Any]) -> float:
    """W1's physical limit: rounds of sleeps, one task's duration each."""
    p = case["params"]
    return math.ceil(p["calls"] / p["workers"]) * p["sleep"]


def shown(case: dict[str, Any], key: str) -> list[float]:
    """The per-round values of *key* in the table's unit (NaN where missing)."""
    w, values = case["workload"], case["values"]
    if w == "W5":  # ms over the bare interpreter of the same round
        bare = values.get(W5_BARE, [])
        return [(v - b) * 1e3 if key != W5_BARE else v * 1e3 for v, b in zip(values[key], bare)]
    if w in ("W2", "W3"):
        return [v / case["params"]["calls"] * 1e6 for v in values[key]]
    if w == "W7":
        return [v * 1e3 for v in values[key]]
    return list(values[key])


def relation(case: dict[str, Any], key: str, against: str | None = None) -> list[float]:
    """Per-round relation of *key* to *against* (default: the case's reference)."""
    w = case["workload"]
    mine = shown(case, key)
    if w == "W1" and against is None:
        return [v / limit(case) for v in mine]
    against = against or case["baseline"]
    if against not in case["values"]:
        return [math.nan] * len(mine)
    theirs = shown(case, against)
    if w == "W4":
        return [b / v for v, b in zip(mine, theirs)]
    if w == "W6":
        return [v - b for v, b in zip(mine, theirs)]
    return [v / b for v, b in zip(mine, theirs)]


def header(case: dict[str, Any]) -> list[str]:
    """The value and relation columns' headings."""
    w = case["workload"]
    if w == "W1":
        rounds = math.ceil(case["params"]["calls"] / case["params"]["workers"])
        sleep = case["params"]["sleep"]
        what = (
            f"one task's {sleep:g} s"
            if rounds == 1
            else f"{rounds} × {sleep:g} s = {limit(case):g} s"
        )
        return ["seconds", f"× the limit ({what})"]
    return {
        "W2": ["µs per task", "× bare `ThreadPoolExecutor.submit`"],
        "W3": ["µs per task", "× bare `ProcessPoolExecutor.submit`"],
        "W4": ["seconds", "speed-up over serial (limit 2.0)"],
        "W5": ["ms over a bare `python -c pass`", "× `import concurrent.futures`",
               "× `concurrent.futures` and one `submit`"],
        "W6": ["peak RSS growth, MB", "MB more than bare `ThreadPoolExecutor`"],
        "W7": ["ms", "× bare `ProcessPoolExecutor(1)`"],
    }[w]  # fmt: skip


def relations(case: dict[str, Any], key: str) -> list[list[float]]:
    """The relation columns of *key*'s row (none for W5's bare interpreter)."""
    if case["workload"] == "W5":
        if key == W5_BARE:
            return []
        return [relation(case, key, W5_IMPORT), relation(case, key, W5_SUBMIT)]
    return [relation(case, key)]


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
    return f"{fmt(m)} [{fmt(lo)}{RANGE}{fmt(hi)}]"


def rows(case: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(peer, label, key) for each adapter, ours first, then in ORDER."""
    out = []
    for key in case["values"]:
        _, peer, label = key.split("|")
        out.append((peer, label, key))
    out.sort(key=lambda r: ORDER.index(r[0]) if r[0] in ORDER else 99)
    return out


def name(peer: str, label: str) -> str:
    """A row's first cell: the library in bold if ours, then how it was called."""
    library = f"**{peer}**" if peer == OURS else peer
    code, rest = _split(label)  # "Pool.submit, function in __main__"
    rest = rest.replace("__main__", "`__main__`")
    return f"{library}: `{code}`" + (f", {rest}" if rest else "")


def _split(label: str) -> tuple[str, str]:
    """A label's code, and the words after its first comma outside brackets."""
    depth = 0
    for i, char in enumerate(label):
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0 and label.startswith(", ", i):
            return label[:i], label[i + 2 :]
    return label, ""


def case_table(case: dict[str, Any]) -> str:
    heads = header(case)
    lines = [
        "| library: how | " + " | ".join(heads) + " |",
        "| --- |" + " ---: |" * len(heads),
    ]
    for peer, label, key in rows(case):
        cells = [cell(shown(case, key))] + [cell(r) for r in relations(case, key)]
        cells += ["–"] * (len(heads) - len(cells))
        lines.append(f"| {name(peer, label)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def find(data: dict[str, Any], case_id: str) -> dict[str, Any] | None:
    return next((c for c in data["cases"] if c["id"] == case_id), None)


@dataclass(frozen=True)
class Target:
    """One line of the page's first table: a comparison, and its bound if it has one."""

    case: str
    text: str
    key: str
    against: str | None = None  # another row (a ratio per round); None: the case's relation
    bound: tuple[str, float] | None = None  # ("<=", 1.05): the median must hold it
    unit: str = "×"
    per_task: bool = False  # the value itself (µs per task), not a relation


#: The comparisons the issues name, with their bounds: issue 8's, and issue 16's
#: (W1 either way, W2 no worse than it was, W3's process calls against the peers,
#: W5's import and first use).
TARGETS = [
    Target("W1-110", "W1, 110 workers, n set before the clock: × the limit",
           "W1|background|@task call, n set before the clock", bound=("<=", 1.05)),
    Target("W1-110", "W1, 110 workers, n set inside the clock: × the limit",
           "W1|background|@task call, n set inside the clock", bound=("<=", 1.05)),
    Target("W2", "W2: `@task` call × bare submit", "W2|background|@task call",
           bound=("<=", 0.75)),
    Target("W2", "W2: `Pool.map` × bare submit", "W2|background|Pool.map", bound=("<=", 1.0)),
    Target("W3", "W3: process `Pool.map`, µs per task", "W3|background|Pool.map",
           bound=("<=", 5), unit=" µs", per_task=True),
    Target("W3", "W3: process `Pool.map` × `ProcessPoolExecutor.map(chunksize=500)`",
           "W3|background|Pool.map",
           against="W3|concurrent.futures|ProcessPoolExecutor.map(chunksize=500)",
           bound=("<=", 1.5)),
    Target("W3", "W3: process `Pool.submit` × pebble's `schedule`", "W3|background|Pool.submit",
           against="W3|pebble|ProcessPool.schedule", bound=("<=", 1.0)),
    Target("W3", "W3: process `Pool.submit` × pebble's `schedule`, both with a function in "
           "`__main__`", "W3|background|Pool.submit, function in __main__",
           against="W3|pebble|ProcessPool.schedule, function in __main__", bound=("<=", 0.6)),
    Target("W4", "W4: speed-up over serial", "W4|background|Pool.submit", bound=(">=", 1.9)),
    Target("W5", "W5: `import background` × `import concurrent.futures`",
           "W5|background|import background", against=W5_IMPORT, bound=("<=", 0.25)),
    Target("W5", "W5: `import background` × `concurrent.futures` and one `submit`",
           "W5|background|import background", against=W5_SUBMIT),
    Target("W5", "W5: first use × `import concurrent.futures`",
           W5_FIRST_USE, against=W5_IMPORT),
    Target("W5", "W5: first use × `concurrent.futures` and one `submit`",
           W5_FIRST_USE, against=W5_SUBMIT, bound=("<=", 1.0)),
    Target("W5", "W5: the least a thread pool does × `concurrent.futures` and one `submit`",
           W5_FLOOR, against=W5_SUBMIT),
    Target("W5", "W5: first use × the least a thread pool does", W5_FIRST_USE, against=W5_FLOOR),
    Target("W6", "W6: peak RSS over bare `ThreadPoolExecutor`", "W6|background|@task call",
           bound=("<=", 1.0), unit=" MB"),
]  # fmt: skip


def targets(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(comparison, measured, target and verdict) for each target whose case ran."""
    out = []
    for t in TARGETS:
        case = find(data, t.case)
        if case is None or t.key not in case["values"]:
            continue
        xs = shown(case, t.key) if t.per_task else relation(case, t.key, t.against)
        m, lo, hi = stats(xs)
        if math.isnan(m):
            out.append((t.text, "failed", "–"))
            continue
        measured = f"{fmt(m)}{t.unit} [{fmt(lo)}{RANGE}{fmt(hi)}]"
        verdict = "–"
        if t.bound is not None:
            op, value = t.bound
            holds = {"<=": m <= value, ">=": m >= value, "<": m < value}[op]
            sign = {"<=": "≤", ">=": "≥", "<": "<"}[op]
            verdict = f"{sign} {fmt(value)}{t.unit}: " + ("holds" if holds else "**missed**")
        out.append((t.text, measured, verdict))
    return out


def rounds_sentence(case: dict[str, Any]) -> str:
    n = max((len(v) for v in case["values"].values()), default=0)
    return f"Median [min–max] of {n} round{'s' if n != 1 else ''}."


def markdown(data: dict[str, Any], peers: dict[str, str]) -> str:
    m = data["machine"]
    v = m["versions"]
    peers_line = ", ".join(f"{k} {v[k]}" for k in sorted(v))
    parts = [
        f"Measured {m['date']} on {m['cpu']}, {m['usable_cores']} cores, "
        f"{m['memory_gb']} GB, {m['system']}, {m['python']}, by "
        f"`tox -e bench{' -- --quick' if m['quick'] else ''}` in "
        f"{m['seconds'] // 60} min {m['seconds'] % 60} s. The machine is shared: its load "
        f"average was {m['load_before'][0]} at the start and {m['load_after'][0]} at the "
        "end, so read the ratios, each taken within one round, rather than the absolute "
        "times.",
        "",
        f"Versions: {peers_line}.",
        "",
        "### Comparisons",
        "",
        "Each ratio is taken within a round, then summarised as the median [min–max] "
        "over the rounds. A target is the project's goal, where it has set one.",
        "",
        "| comparison | measured | target |",
        "| --- | ---: | --- |",
    ]
    parts += [f"| {t} | {measured} | {verdict} |" for t, measured, verdict in targets(data)]
    for case in data["cases"]:
        parts += ["", f"### {case['title']}", "", rounds_sentence(case), "", case_table(case)]
        parts += notes(case, data)
        if case["id"] != "W1-serial":
            parts += ["", f"![{case['title']}](_static/benchmarks/{image_name(case)})"]
    if data["failures"]:
        parts += ["", "Failed measurements:", ""]
        parts += [f"- `{f[:200]}`" for f in data["failures"]]
    return "\n".join(parts)


def notes(case: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """Sentences under a table that read a figure out of it."""
    if case["id"] == "W1-110" and W1_BEFORE in case["values"]:
        over = [(v - limit(case)) * 1e3 for v in case["values"][W1_BEFORE]]
        m, lo, hi = stats(over)
        return [
            "",
            f"With `n` set before the clock, `@background.task` took {fmt(m)} ms "
            f"[{fmt(lo)}{RANGE}{fmt(hi)}] more than one task's {limit(case):g} s: what "
            "starting 100 threads, waking them as their sleeps end, and the sleeps' own "
            "overshoot, cost here.",
        ]
    imports = find(data, "W5")
    if case["id"] == "W7" and W7_SERVER in case["values"] and imports is not None:
        first = stats(shown(case, W7_SERVER))[0]
        interpreter = stats(shown(imports, W5_BARE))[0]
        loading = (
            stats(shown(imports, W5_SERVER))[0] if W5_SERVER in imports["values"] else math.nan
        )
        if math.isnan(first + interpreter + loading):
            return []
        rest = first - interpreter - loading
        return [
            "",
            f"Where the fork server's {fmt(first)} ms go, read from W5 in the same run: "
            f"about {fmt(interpreter)} ms start an interpreter (a bare `python -c pass`), "
            f"{fmt(loading)} ms import what the server and its workers run, and the "
            f"remaining {fmt(rest)} ms fork the worker, set it up and run the call. A pool "
            "starts the server when it is made, and it is shared by every pool of the "
            "program: the next pools' workers are forked from it at once.",
        ]
    return []


def figures(data: dict[str, Any]) -> dict[str, str]:
    """The medians that other pages quote, rounded to two significant digits.

    Keyed by MyST substitution names (``{{ bench_fork_server_ms }}`` on a page);
    a case that did not run leaves its figures out.
    """
    wanted = {
        "bench_thread_call_us": ("W2", "W2|background|@task call", False),
        "bench_threads_100_ms": ("W1-110", W1_BEFORE, True),
        "bench_fork_server_ms": ("W7", W7_SERVER, False),
        "bench_fork_ms": (
            "W7",
            "W7|background|Pool(1, process=True, start_method='fork').submit",
            False,
        ),
        "bench_process_submit_us": ("W3", "W3|background|Pool.submit", False),
        "bench_process_map_us": ("W3", "W3|background|Pool.map", False),
    }
    out = {}
    for name, (case_id, key, over_limit) in wanted.items():
        case = find(data, case_id)
        if case is None or key not in case["values"]:
            continue
        values = shown(case, key)
        if over_limit:  # ms over the sleeps
            values = [(v - limit(case)) * 1e3 for v in values]
        m = stats(values)[0]
        if not math.isnan(m):
            out[name] = about(m)
    return out


def about(x: float) -> str:
    """*x* to two significant digits: 28.8 -> "29", 1.76 -> "1.8", 0.0123 -> "0.012"."""
    if x == 0:
        return "0"
    digits = max(0, 1 - math.floor(math.log10(abs(x))))
    return f"{round(x, digits):.{digits}f}"


def write_figures(path: Path, data: dict[str, Any]) -> None:
    """Update the figures file with this run's (keeping those of cases it did not run)."""
    import json

    known = json.loads(path.read_text()) if path.exists() else {}
    known.update(figures(data))
    path.write_text(json.dumps(dict(sorted(known.items())), indent=1) + "\n")


def image_name(case: dict[str, Any]) -> str:
    return case["id"].lower() + ".svg"


# The plots are drawn narrow, with each bar's label above it rather than beside
# it, so that on a phone they show near their full size and stay readable.
WIDTH_IN = 4.6
FONT = 9


def plots(data: dict[str, Any], folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.fonttype": "none",  # text stays text: crisp, searchable, small files
            "svg.hashsalt": "background-benchmarks",  # the same ids on every run
            "font.family": ["DejaVu Sans", "sans-serif"],
            "font.size": FONT,
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()  # the former, wide raster plots
    for case in data["cases"]:
        if case["id"] == "W1-serial":
            continue
        fig = _plot(plt, case)
        fig.savefig(folder / image_name(case), metadata={"Date": None, "Creator": None})
        plt.close(fig)


def _plot(plt: Any, case: dict[str, Any]) -> Any:
    w = case["workload"]
    table = [r for r in rows(case) if not (w == "W4" and r[0] == "serial")]
    if w == "W5":
        table = [r for r in table if r[2] != W5_BARE]
    use_relation = w in ("W1", "W4")
    series = [relation(case, key) if use_relation else shown(case, key) for *_, key in table]
    med = [stats(s)[0] for s in series]
    clean = [0.0 if math.isnan(x) else x for x in med]
    lo = [0.0 if math.isnan(m) else m - stats(s)[1] for m, s in zip(med, series)]
    hi = [0.0 if math.isnan(m) else stats(s)[2] - m for m, s in zip(med, series)]
    colors = ["#2a7ab9" if peer == OURS else "#a8a8a8" for peer, *_ in table]
    step = 1.0  # one bar and its label above it
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.5 * len(table) + 0.95))
    y = [-i * step for i in range(len(table))]
    ax.barh(y, clean, height=0.42, color=colors, xerr=[lo, hi], capsize=2.5, ecolor="#444")
    log = w in ("W3", "W5", "W6", "W7") and min(clean) > 0 and min(clean) * 20 < max(clean)
    if log:
        ax.set_xscale("log")
    import matplotlib.transforms

    left = matplotlib.transforms.blended_transform_factory(ax.transAxes, ax.transData)
    for yy, (peer, label, _), x, up in zip(y, table, med, hi):
        text = f"{peer}: {SHORT.get(label, label)}".replace("`", "")
        ax.text(0, yy + 0.3, text, fontsize=FONT - 0.5, transform=left)
        if not math.isnan(x):
            ax.text(x + up, yy, f" {fmt(x)}", va="center", fontsize=FONT - 1)
    ax.set_yticks([])
    ax.set_ylim(y[-1] - 0.45, 0.75)
    if w == "W1":
        ax.axvline(1.0, color="#c33", lw=1, ls="--")
        ax.set_xlabel("× the limit (1.0 is the limit; lower is better)")
    elif w == "W4":
        ax.axvline(2.0, color="#c33", lw=1, ls="--")
        ax.set_xlabel("speed-up over serial (2.0 is the limit; higher is better)")
    else:
        ax.set_xlabel(f"{header(case)[0].replace('`', '')} (lower is better)")
    ax.margins(x=0.18)
    title = textwrap.fill(case["title"].split(": ", 1)[1], 52)
    ax.set_title(title, fontsize=FONT + 1, loc="left")
    ax.spines[["top", "right", "left"]].set_visible(False)
    fig.tight_layout()
    return fig


def write_page(page: Path, tables: str) -> None:
    text = page.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{page}: markers {START!r} ... {END!r} not found")
    page.write_text(pattern.sub(lambda _: f"{START}\n\n{tables}\n\n{END}", text))
