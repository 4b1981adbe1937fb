"""``map`` on every kind of pool: lazy, ordered or not, with or without exceptions in place."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_processes_helpers as helpers
from support import WAIT

import background

KINDS = ["threads", "processes", "executor"]


@pytest.fixture(params=KINDS)
def pool(request: pytest.FixtureRequest) -> Iterator[background.Pool]:
    if request.param == "executor":
        with (
            concurrent.futures.ThreadPoolExecutor(4) as executor,
            background.Pool(4, executor=executor) as pool,
        ):
            yield pool
    else:
        with background.Pool(4, process=request.param == "processes") as pool:
            yield pool


def test_an_unordered_map_yields_each_result_as_it_finishes(
    pool: background.Pool, tmp_path: Path
) -> None:
    """The first call finishes only after the others were yielded: in input order, this hangs."""
    release = tmp_path / "release"
    results = pool.map(
        helpers.last_waits_for,
        range(4),
        [0] * 4,
        [str(release)] * 4,
        ordered=False,
        timeout=WAIT,
    )
    first_three = [next(results) for _ in range(3)]
    release.touch()
    assert sorted(first_three) == [1, 2, 3]
    assert list(results) == [0]


@pytest.mark.parametrize("chunksize", [None, 1, 3])
def test_return_exceptions_yields_each_error_in_its_place_and_goes_on(
    pool: background.Pool, chunksize: int | None
) -> None:
    outcomes = list(
        pool.map(helpers.odd_fails, range(7), chunksize=chunksize, return_exceptions=True)
    )
    assert [o if isinstance(o, int) else str(o) for o in outcomes] == [
        0,
        "odd 1",
        2,
        "odd 3",
        4,
        "odd 5",
        6,
    ]
    assert all(isinstance(o, ValueError) for o in outcomes[1::2])


@pytest.mark.parametrize("ordered", [True, False])
def test_return_exceptions_unordered_still_gives_every_outcome(
    pool: background.Pool, ordered: bool
) -> None:
    outcomes = list(
        pool.map(helpers.odd_fails, range(20), ordered=ordered, return_exceptions=True)
    )
    assert sorted(o for o in outcomes if isinstance(o, int)) == list(range(0, 20, 2))
    assert sorted(str(o) for o in outcomes if isinstance(o, ValueError)) == sorted(
        f"odd {i}" for i in range(1, 20, 2)
    )


@pytest.mark.parametrize("chunksize", [None, 4])
def test_a_map_yields_the_results_before_a_failing_call_then_raises(
    pool: background.Pool, chunksize: int | None
) -> None:
    results = pool.map(helpers.fail_at, range(10), [5] * 10, chunksize=chunksize)
    assert [next(results) for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="item 5 is bad"):
        next(results)


def test_return_exceptions_gives_a_cancelled_call_its_cancelled_error() -> None:
    started, release = threading.Event(), threading.Event()

    def first_blocks(x: int) -> int:
        if x == 0:
            started.set()
            release.wait(WAIT)
        return x

    with background.Pool(1) as pool:
        results = pool.map(first_blocks, range(4), return_exceptions=True)
        assert started.wait(WAIT)
        assert pool.cancel_queued() == 3
        release.set()
        outcomes = list(results)
    assert outcomes[0] == 0
    assert all(isinstance(o, concurrent.futures.CancelledError) for o in outcomes[1:])


def test_an_unordered_map_stays_lazy_and_bounded() -> None:
    read = []

    def items() -> Iterator[int]:
        for i in range(1000):
            read.append(i)
            yield i

    with background.Pool(2) as pool:
        results = pool.map(abs, items(), ordered=False, buffersize=3)
        first = next(results)
        assert len(read) <= 4  # three in flight, and one sent when the first came back
        assert sorted([first, *results]) == list(range(1000))


def test_a_map_past_its_timeout_raises_timeout_error_unordered_too() -> None:
    release = threading.Event()
    with background.Pool(1) as pool:
        results = pool.map(release.wait, [WAIT], ordered=False, timeout=0.05)
        with pytest.raises(concurrent.futures.TimeoutError):
            next(results)
        release.set()


@pytest.mark.parametrize("option", ["ordered", "return_exceptions"])
def test_map_options_must_be_true_or_false(option: str) -> None:
    with (
        background.Pool(1) as pool,
        pytest.raises(TypeError, match=f"{option} must be True or False"),
    ):
        pool.map(abs, [1], **{option: "yes"})  # type: ignore[arg-type]


def test_every_pool_runs_a_task_wrapper_it_is_handed(pool: background.Pool) -> None:
    """The wrapper's call runs; submitting it from the worker again would nest a Future."""
    assert pool.submit(helpers.cube, 3).result(WAIT) == 27
    assert list(pool.map(helpers.cube, [1, 2])) == [1, 8]


def test_a_task_map_takes_the_new_options() -> None:
    @background.task
    def half(x: int) -> float:
        if x == 3:
            raise ValueError("three")
        return x / 2

    outcomes = list(half.map(range(5), return_exceptions=True, ordered=True))
    assert outcomes[:3] == [0, 0.5, 1]
    assert isinstance(outcomes[3], ValueError)
    assert outcomes[4] == 2


@pytest.mark.parametrize(
    ("n", "options", "in_flight"),
    [
        (2, {}, 64),  # calls one by one: at least 64
        (40, {}, 80),  # twice n
        (2, {"chunksize": 1}, 64),
        (2, {"chunksize": 5}, 4 * 5),  # batches: twice n, at least 4
    ],
)
def test_map_sends_twice_n_calls_at_once_and_at_least_64_one_by_one(
    n: int, options: dict[str, int], in_flight: int
) -> None:
    read: list[int] = []
    release = threading.Event()

    def items() -> Iterator[int]:
        for i in range(1000):
            read.append(i)
            yield i

    def hold(i: int) -> int:
        release.wait(WAIT)
        return i

    with background.Pool(n) as pool:
        results = pool.map(hold, items(), **options)  # type: ignore[arg-type]
        assert len(read) == in_flight  # sent before the first result is asked for
        release.set()
        assert list(results) == list(range(1000))
