"""Bad input fails at once with an error that names what was wrong, and breaks nothing.

The worker-count checks of ``background.n`` and ``Pool(n)`` live in test_n.py;
this file covers what can be decorated or submitted, and the numbers given to
``map`` and to the waiting helpers. After every refusal the pool still works.
"""

from __future__ import annotations

import concurrent.futures
import functools
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable

import pytest

import background

TIMEOUT = 30


class Plain:
    """A class: decorating it is refused (its methods would not run in the background)."""


async def fetch() -> int:
    return 1


async def stream() -> AsyncIterator[int]:
    yield 1


def numbers() -> Iterator[int]:
    yield 1


def _still_works(pool: background.Pool | None = None) -> None:
    """The pool that just refused something runs a task correctly."""
    if pool is None:
        assert background.run(divmod, 7, 2).result(TIMEOUT) == (3, 1)
    else:
        assert pool.submit(divmod, 7, 2).result(TIMEOUT) == (3, 1)


UNFIT: list[tuple[object, str]] = [
    (Plain, r"decorates functions, not classes: got Plain; .*background\.run\(Plain, \.\.\.\)"),
    (fetch, r"cannot run the coroutine function fetch: .*await it"),
    (stream, r"cannot run the coroutine function stream"),
    (numbers, r"cannot run the generator function numbers: .*return a list"),
    (42, r"expects a callable, got 42 \(int\)"),
    ("print", r"expects a callable, got 'print' \(str\)"),
]


@pytest.mark.parametrize(("target", "message"), UNFIT)
def test_decorating_what_cannot_run_as_a_task_is_refused_clearly(
    target: Any, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        background.task(target)
    with pytest.raises(TypeError, match=message):
        background.task(retries=1)(target)
    _still_works()


@pytest.mark.parametrize(("target", "message"), UNFIT)
def test_a_pools_own_decorator_refuses_the_same_things(target: Any, message: str) -> None:
    with background.Pool(2) as pool:
        with pytest.raises(TypeError, match=message):
            pool.task(target)
        _still_works(pool)


@pytest.mark.parametrize(("target", "message"), [u for u in UNFIT if u[0] is not Plain])
def test_run_refuses_the_same_things_before_anything_is_queued(target: Any, message: str) -> None:
    pool = background.default_pool()
    with pytest.raises(TypeError, match=message):
        background.run(target)
    assert pool.outstanding() == []
    _still_works()


def test_run_takes_a_class_as_any_other_callable() -> None:
    assert isinstance(background.run(Plain).result(TIMEOUT), Plain)
    assert background.run(dict, a=1).result(TIMEOUT) == {"a": 1}


def test_refusal_names_the_entry_point_that_was_used() -> None:
    with pytest.raises(TypeError, match=r"^background\.run\(\) cannot run the coroutine"):
        background.run(fetch)
    with pytest.raises(TypeError, match=r"^background\.task cannot run the generator"):
        background.task(numbers)


def test_a_pools_decorator_names_itself_when_it_refuses() -> None:
    with background.Pool(2) as pool:
        with pytest.raises(TypeError, match=r"^Pool\.task\(\) cannot run the generator"):
            pool.task(numbers)
        _still_works(pool)


def _double(x: int) -> int:
    return 2 * x


@pytest.mark.parametrize(
    "decorate",
    [
        pytest.param(lambda fn, pool: background.task(fn), id="bare"),
        pytest.param(lambda fn, pool: background.task(retries=2, timeout=5)(fn), id="options"),
        pytest.param(lambda fn, pool: pool.task(fn), id="pool"),
        pytest.param(lambda fn, pool: pool.task(max_pending=1)(fn), id="pool-options"),
    ],
)
@pytest.mark.parametrize("inner", ["plain", "retries"])
def test_decorating_a_task_again_is_refused_instead_of_a_future_of_a_future(
    decorate: Callable[[Any, background.Pool], Any], inner: str
) -> None:
    # Its calls would return a future whose result is another future.
    already = background.task(_double) if inner == "plain" else background.task(retries=1)(_double)
    with background.Pool(2) as pool:
        with pytest.raises(TypeError) as refused:
            decorate(already, pool)
        message = str(refused.value)
        assert "_double, which is already a background task" in message
        assert "futures of futures" in message
        assert "_double.__wrapped__" in message
        # What the message suggests works, and the task itself still does.
        assert decorate(already.__wrapped__, pool)(4).result(TIMEOUT) == 8
        assert pool.submit(already, 5).result(TIMEOUT) == 10
        assert list(pool.map(already, [1, 2])) == [2, 4]
        assert already(6).result(TIMEOUT) == 12
        _still_works(pool)


@pytest.mark.parametrize("target", [42, None, "print"])
def test_submit_and_map_refuse_a_non_callable(target: Any) -> None:
    with background.Pool(2) as pool:
        with pytest.raises(TypeError, match=r"submit\(\) expects a callable, got "):
            pool.submit(target)
        with pytest.raises(TypeError, match=r"map\(\) expects a callable, got "):
            pool.map(target, [1])
        assert pool.outstanding() == []
        _still_works(pool)


def test_a_callable_instance_and_a_builtin_are_accepted() -> None:
    class Adder:
        def __call__(self, x: int) -> int:
            return x + 1

    assert background.task(Adder())(1).result(TIMEOUT) == 2
    assert background.task(abs)(-3).result(TIMEOUT) == 3


BAD_COUNTS: list[tuple[object, type[Exception], str]] = [
    (0, ValueError, r"must be at least 1, got 0"),
    (-1, ValueError, r"must be at least 1, got -1"),
    (1.5, TypeError, r"must be an int of at least 1, got 1\.5 \(float\)"),
    (True, TypeError, r"must be an int of at least 1, got True \(bool\)"),
    ("8", TypeError, r"must be an int of at least 1, got '8' \(str\)"),
]


@pytest.mark.parametrize("option", ["chunksize", "buffersize"])
@pytest.mark.parametrize(("value", "error", "message"), BAD_COUNTS)
def test_map_refuses_bad_chunk_and_buffer_sizes_before_submitting(
    option: str, value: object, error: type[Exception], message: str
) -> None:
    @background.task
    def double(x: int) -> int:
        return 2 * x

    pool = background.default_pool()
    with pytest.raises(error, match=f"^{option} {message}"):
        double.map(range(5), **{option: value})
    with pytest.raises(error, match=f"^{option} {message}"):
        pool.map(abs, range(5), **{option: value})
    assert pool.outstanding() == []
    assert list(double.map(range(5), **{option: 2})) == [0, 2, 4, 6, 8]


BAD_TIMEOUTS: list[tuple[object, type[Exception], str]] = [
    (-1, ValueError, r"timeout must be at least 0 seconds, got -1"),
    (float("nan"), ValueError, r"timeout must be a finite number of seconds, got nan"),
    (float("inf"), ValueError, r"timeout must be a finite number of seconds, got inf"),
    ("5", TypeError, r"timeout must be a number of seconds, got '5' \(str\)"),
    (True, TypeError, r"timeout must be a number of seconds, got True \(bool\)"),
]


def _map(timeout: Any) -> object:
    return background.default_pool().map(abs, [1, -2], timeout=timeout)


def _wait(timeout: Any) -> object:
    return background.wait([background.run(abs, -1)], timeout)


def _results(timeout: Any) -> object:
    return background.results([background.run(abs, -1)], timeout)


def _as_completed(timeout: Any) -> object:
    return background.as_completed([background.run(abs, -1)], timeout)


@pytest.mark.parametrize("call", [_map, _wait, _results, _as_completed])
@pytest.mark.parametrize(("value", "error", "message"), BAD_TIMEOUTS)
def test_bad_timeouts_are_refused_before_waiting(
    call: Callable[[Any], object], value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"^{message}"):
        call(value)
    background.wait(timeout=TIMEOUT)
    _still_works()


def test_a_zero_timeout_is_allowed_and_means_do_not_wait() -> None:
    done, not_done = background.wait([background.run(abs, -1)], 0)
    assert len(done) + len(not_done) == 1
    assert background.wait(timeout=TIMEOUT).not_done == set()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"retries": -1}, ValueError, r"retries must be at least 0, got -1"),
        ({"retries": 1.0}, TypeError, r"retries must be an int of at least 0, got 1\.0"),
        ({"backoff": -0.5}, ValueError, r"backoff must be at least 0 seconds, got -0\.5"),
        ({"max_pending": 0}, ValueError, "max_pending must be at least 1, got 0"),
        ({"callback": 3}, TypeError, r"callback must be callable, got 3 \(int\)"),
        ({"pool": "default"}, TypeError, r"pool must be a background\.Pool, got 'default'"),
    ],
)
def test_bad_task_options_are_refused_when_decorating(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        background.task(**kwargs)  # type: ignore[call-overload]
    _still_works()


def test_a_single_future_where_a_list_is_expected_says_to_wrap_it() -> None:
    future = background.run(abs, -1)
    with pytest.raises(TypeError, match=r"got a single Future; wrap it in \[\.\.\.\]"):
        background.wait(future)  # type: ignore[arg-type]
    assert future.result(TIMEOUT) == 1


@pytest.mark.parametrize(("target", "message"), [u for u in UNFIT if u[0] is not Plain])
def test_pool_submit_and_map_refuse_what_run_refuses(target: Any, message: str) -> None:
    with background.Pool(2) as pool:
        with pytest.raises(TypeError, match=r"^Pool\.submit\(\) "):
            pool.submit(target)
        with pytest.raises(TypeError, match=message):
            pool.submit(target)
        with pytest.raises(TypeError, match=message):
            pool.map(target, [1])
        assert pool.outstanding() == []
        _still_works(pool)


class _Handler:
    async def handle(self) -> None:
        return None

    def numbers(self) -> Iterator[int]:
        yield 1


def _sync_decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


WRAPPED: list[tuple[object, str]] = [
    (functools.partial(fetch), "coroutine function"),
    (functools.partial(functools.partial(numbers)), "generator function"),
    (_Handler().handle, "coroutine function"),
    (_Handler().numbers, "generator function"),
    (_sync_decorator(fetch), "coroutine function"),
    (_sync_decorator(stream), "coroutine function"),
]


@pytest.mark.parametrize(("target", "kind"), WRAPPED, ids=repr)
def test_coroutine_and_generator_functions_are_seen_through_wrappers(
    target: Any, kind: str
) -> None:
    with pytest.raises(TypeError, match=f"cannot run the {kind}"):
        background.run(target)
    _still_works()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="inspect.markcoroutinefunction is 3.12+")
def test_a_function_marked_as_a_coroutine_function_is_refused() -> None:
    import inspect

    def looks_sync() -> Any:
        return fetch()

    marked = inspect.markcoroutinefunction(looks_sync)  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="cannot run the coroutine function"):
        background.task(marked)


def test_checking_what_is_submitted_does_not_import_inspect() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules.pop("inspect", None)  # loaded at start-up by coverage, if it measures us
        import background

        @background.task
        def double(x):
            return 2 * x

        assert double(2).result() == 4
        assert background.run(abs, -1).result() == 1
        print("inspect" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["False"]


def test_remove_callback_refuses_a_non_callable() -> None:
    with pytest.raises(TypeError, match=r"^background\.remove_callback expects a callable, got 5"):
        background.remove_callback(5)  # type: ignore[arg-type]
    background.remove_callback(print)  # not registered: nothing to do


REAL_SECONDS: list[object] = [
    Fraction(1, 20),
    Decimal("0.05"),
    1,
    0.05,
]


@pytest.mark.parametrize("seconds", REAL_SECONDS, ids=repr)
def test_a_timeout_may_be_any_real_number(seconds: object) -> None:
    release = threading.Event()
    pool = background.Pool(2, timeout=seconds)  # type: ignore[arg-type]
    try:
        slow = pool.submit(release.wait, TIMEOUT)  # over its time limit: fails
        assert isinstance(slow.exception(TIMEOUT), concurrent.futures.TimeoutError)
        assert background.wait([slow], timeout=seconds).not_done == set()  # type: ignore[arg-type]
        task = background.task(timeout=seconds, backoff=seconds)(abs)  # type: ignore[call-overload]
        assert task(-2).result(TIMEOUT) == 2
        assert list(task.map([-3], timeout=seconds + TIMEOUT)) == [3]  # type: ignore[operator]
    finally:
        release.set()
        pool.shutdown()


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (Decimal("-1"), ValueError, r"timeout must be at least 0 seconds, got -1"),
        (Decimal("NaN"), ValueError, r"timeout must be a finite number of seconds, got NaN"),
        (Decimal("sNaN"), ValueError, r"timeout must be a finite number of seconds, got sNaN"),
        (Fraction(10**400), ValueError, r"timeout must be a finite number of seconds"),
        (1j, TypeError, r"timeout must be a number of seconds, got 1j \(complex\)"),
    ],
    ids=repr,
)
def test_a_timeout_that_is_no_usable_real_number_is_refused(
    value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"^{message}"):
        background.wait([], timeout=value)  # type: ignore[arg-type]
