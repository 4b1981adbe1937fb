"""An exception that nobody retrieved is logged, never silently lost."""

from __future__ import annotations

import gc
import logging
import subprocess
import sys
import textwrap

import pytest

import background

TIMEOUT = 30


def failing_job() -> None:
    raise ValueError("nobody looked at me")


def test_unretrieved_exception_is_logged_when_the_future_is_collected(
    caplog: pytest.LogCaptureFixture,
) -> None:
    future = background.run(failing_job)
    background.wait([future], timeout=TIMEOUT)
    with caplog.at_level(logging.ERROR, logger="background"):
        del future
        gc.collect()
    messages = [r.getMessage() for r in caplog.records if r.name == "background"]
    assert len(messages) == 1
    assert messages[0].startswith("Task exception was never retrieved: ")
    assert messages[0].endswith("test_unretrieved.failing_job raised ValueError")
    assert "nobody looked at me" in caplog.text
    assert "failing_job" in caplog.text  # the traceback from inside the task


@pytest.mark.parametrize("look", ["result", "exception"])
def test_retrieved_exception_is_not_logged(caplog: pytest.LogCaptureFixture, look: str) -> None:
    future = background.run(failing_job)
    with caplog.at_level(logging.ERROR, logger="background"):
        if look == "result":
            with pytest.raises(ValueError, match="nobody"):
                future.result(TIMEOUT)
        else:
            assert isinstance(future.exception(TIMEOUT), ValueError)
        del future
        gc.collect()
    assert not [r for r in caplog.records if r.name == "background"]


def test_results_retrieves_the_exception_it_raises(caplog: pytest.LogCaptureFixture) -> None:
    futures = [background.run(failing_job)]
    with caplog.at_level(logging.ERROR, logger="background"):
        with pytest.raises(ValueError, match="nobody"):
            background.results(futures, timeout=TIMEOUT)
        del futures
        gc.collect()
    assert not [r for r in caplog.records if r.name == "background"]


def test_successful_futures_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="background"):
        background.wait([background.run(abs, -1) for _ in range(10)], timeout=TIMEOUT)
        gc.collect()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_unretrieved_exception_of_a_future_kept_until_exit_is_logged_at_exit() -> None:
    script = textwrap.dedent(
        """
        import logging
        import background

        logging.basicConfig(format="%(name)s %(levelname)s %(message)s")

        def fails_quietly():
            raise KeyError("kept until exit")

        keep = background.run(fails_quietly)
        background.wait([keep])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr
    assert "background ERROR Task exception was never retrieved" in done.stderr
    assert "__main__.fails_quietly raised KeyError" in done.stderr
    assert "kept until exit" in done.stderr
    assert done.stderr.count("never retrieved") == 1
