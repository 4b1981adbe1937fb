"""A call's time limit counts from the moment it starts running, on every kind of pool."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
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
        executor: concurrent.futures.Executor
        if kind == "thread-executor":
            executor = concurrent.futures.ThreadPoolExecutor(1)
        else:  # not forked from this process, which runs threads
            context = multiprocessing.get_context("forkserver")
            executor = concurrent.futures.ProcessPoolExecutor(1, mp_context=context)
        with executor, background.Pool(1, executor=executor) as pool:
            yield pool
    else:
        with background.Pool(1, process=kind == "processes") as pool:
            yield pool


# Not a ProcessPoolExecutor: it takes calls over to its own queue ahead of time
# (how many depends on the Python version), and their clock starts then, the
# last moment this process sees (the guarantees page says so).
@pytest.mark.parametrize("pool", ["threads", "processes", "thread-executor"], indirect=True)
def test_time_waiting_in_the_queue_does_not_count_against_the_limit(
    pool: background.Pool,
) -> None:
    holding = pool.submit(time.sleep, HOLD)
    queued_at = time.monotonic()
    quick = background.task(pool=pool, timeout=LIMIT)(abs)(-7)
    assert quick.result(WAIT) == 7  # it waited HOLD seconds for the worker, then ran at once
    assert time.monotonic() - queued_at >= HOLD - 0.05
    holding.result(WAIT)


def test_a_call_that_runs_over_its_limit_still_fails(pool: background.Pool) -> None:
    over = background.task(pool=pool, timeout=LIMIT)(time.sleep)(HOLD)
    with pytest.raises(concurrent.futures.TimeoutError):
        over.result(WAIT)
