"""A call's time limit counts from the moment it starts running, on every kind of pool."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

import pytest
from support import WAIT

import background

KINDS = ["threads", "processes", "thread-executor", "process-executor"]
LIMIT = 0.5
#: How long the first call holds the only worker: well past the second call's limit.
HOLD = 3 * LIMIT


@pytest.fixture(params=KINDS)
def pool(request: pytest.FixtureRequest) -> Iterator[background.Pool]:
    kind = request.param
    if kind.endswith("executor"):
        executor_type = (
            concurrent.futures.ThreadPoolExecutor
            if kind == "thread-executor"
            else concurrent.futures.ProcessPoolExecutor
        )
        with executor_type(1) as executor, background.Pool(1, executor=executor) as pool:
            yield pool
    else:
        with background.Pool(1, process=kind == "processes") as pool:
            yield pool


def test_time_waiting_in_the_queue_does_not_count_against_the_limit(
    pool: background.Pool, request: pytest.FixtureRequest
) -> None:
    holding = pool.submit(time.sleep, HOLD)
    queued_at = time.monotonic()
    quick = background.task(pool=pool, timeout=LIMIT)(abs)
    second, third = quick(-7), quick(-8)
    # Each waited HOLD seconds or more for the one worker, then ran at once.
    assert third.result(WAIT) == 8
    assert time.monotonic() - queued_at >= HOLD
    if request.node.callspec.params["pool"] == "process-executor":
        # A ProcessPoolExecutor hands one call per worker over ahead of time,
        # to its own queue: the clock of a call handed over starts then.
        with pytest.raises(concurrent.futures.TimeoutError):
            second.result(WAIT)
    else:
        assert second.result(WAIT) == 7
    holding.result(WAIT)


def test_a_call_that_runs_over_its_limit_still_fails(pool: background.Pool) -> None:
    over = background.task(pool=pool, timeout=LIMIT)(time.sleep)(HOLD)
    with pytest.raises(concurrent.futures.TimeoutError):
        over.result(WAIT)
