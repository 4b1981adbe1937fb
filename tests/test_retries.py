"""retries=, retry_on= and backoff=: a failed call runs again before its future fails."""

from __future__ import annotations

import threading

import pytest

import background
from background import _retry

TIMEOUT = 30


class Flaky:
    def __init__(self, failures: int, error: type[Exception] = ConnectionError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> str:
        with self.lock:
            self.calls += 1
            if self.calls <= self.failures:
                raise self.error(f"failure {self.calls}")
        return "ok"


def test_a_failing_call_is_retried_until_it_succeeds() -> None:
    flaky = Flaky(failures=2)
    task = background.task(retries=2)(flaky)
    assert task().result(TIMEOUT) == "ok"
    assert flaky.calls == 3


def test_the_last_failure_reaches_the_future_when_retries_run_out() -> None:
    flaky = Flaky(failures=5)
    task = background.task(retries=2)(flaky)
    with pytest.raises(ConnectionError, match="failure 3"):
        task().result(TIMEOUT)
    assert flaky.calls == 3


def test_only_the_listed_exceptions_are_retried() -> None:
    flaky = Flaky(failures=1, error=KeyError)
    task = background.task(retries=3, retry_on=(ConnectionError, TimeoutError))(flaky)
    with pytest.raises(KeyError):
        task().result(TIMEOUT)
    assert flaky.calls == 1


def test_backoff_doubles_between_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []
    monkeypatch.setattr(_retry.time, "sleep", delays.append)
    flaky = Flaky(failures=3)
    task = background.task(retries=3, backoff=0.5)(flaky)
    assert task().result(TIMEOUT) == "ok"
    assert delays == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"retries": -1}, ValueError, "retries must be at least 0"),
        ({"retries": 1.5}, TypeError, "retries must be an int"),
        ({"retry_on": "ValueError"}, TypeError, "retry_on must be an exception class"),
        ({"retry_on": (ValueError, int)}, TypeError, "retry_on must be an exception class"),
        ({"backoff": -1}, ValueError, "backoff must be at least 0 seconds"),
        ({"backoff": float("inf")}, ValueError, "backoff must be a finite number"),
        ({"max_pending": 0}, ValueError, "max_pending must be at least 1"),
        ({"pool": "default"}, TypeError, "pool must be a background.Pool"),
    ],
)
def test_task_options_are_validated(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        background.task(**options)  # type: ignore[call-overload]


def test_max_pending_per_task_blocks_further_calls_of_that_task_only() -> None:
    release = threading.Event()

    @background.task(max_pending=2)
    def held() -> bool:
        return release.wait(TIMEOUT)

    background.n = 4
    first = [held(), held()]
    third: list[background.Future[bool]] = []
    caller = threading.Thread(target=lambda: third.append(held()))
    caller.start()
    caller.join(0.2)
    assert caller.is_alive()
    assert not third
    assert background.run(abs, -3).result(TIMEOUT) == 3  # other work is not blocked
    release.set()
    caller.join(TIMEOUT)
    assert background.results(first + third, timeout=TIMEOUT) == [True, True, True]
