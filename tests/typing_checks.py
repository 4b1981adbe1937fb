"""Checked by mypy --strict and pyright --strict (tox -e type), not run.

The decorator must keep types. Each `# type: ignore[...]` (mypy) and
`# pyright: ignore[...]` marks a line that must be a type error: both
checkers fail on an ignore comment that is no longer needed.
"""

from __future__ import annotations

import concurrent.futures
import sys
from collections.abc import Iterator

import background

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type


@background.task
def describe(x: int, *, unit: str = "s") -> str:
    return f"{x} {unit}"


@background.task(retries=2, backoff=0.1)
def total(values: list[float]) -> float:
    return sum(values)


def checks() -> None:
    assert_type(describe(1), background.Future[str])
    assert_type(describe(1, unit="ms"), background.Future[str])
    assert_type(total([1.0]), background.Future[float])
    assert_type(describe.__wrapped__(3), str)
    assert_type(describe.map([1, 2]), Iterator[str])
    future: concurrent.futures.Future[str] = describe(2)
    assert_type(future.result(), str)

    describe("one")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    describe(1, unit=2)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    describe(x="1")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    total()  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]

    pool = background.Pool(4)
    assert_type(pool.submit(len, "abc"), background.Future[int])

    @pool.task
    def on_pool(flag: bool) -> bytes:
        return b"x" if flag else b""

    assert_type(on_pool(True), background.Future[bytes])
    assert_type(background.run(len, "abc"), background.Future[int])
    assert_type(background.results([describe(1)]), list[str])
    assert_type(
        background.results([describe(1)], return_exceptions=True), list[str | BaseException]
    )
    assert_type(background.results([describe(1)], return_exceptions=False), list[str])

    @background.task(retries=3, backoff=0.1, backoff_max=2.0, jitter=0.5, retry_timeout=30)
    def patient(x: int) -> int:
        return x

    assert_type(patient(1), background.Future[int])
    with background.eager():
        assert_type(patient(2), background.Future[int])
    background.eager(False)
    assert_type(background.n, int)
    background.n = 110
    background.n = "8"  # type: ignore[assignment]  # (pyright allows module attribute writes)


async def awaiting() -> None:
    text = await describe(5)
    assert_type(text, str)
