"""@background.task: what the decorated function keeps and what its call returns."""

from __future__ import annotations

import concurrent.futures
import inspect
import re
import threading
import types

import pytest

import background

TIMEOUT = 30


def test_call_returns_a_future_at_once_while_the_body_still_runs() -> None:
    release = threading.Event()

    @background.task
    def blocked() -> str:
        release.wait(TIMEOUT)
        return "done"

    future = blocked()
    assert isinstance(future, concurrent.futures.Future)
    assert isinstance(future, background.Future)
    assert not future.done()
    release.set()
    assert future.result(TIMEOUT) == "done"


def test_decorator_keeps_name_docstring_signature_and_wrapped() -> None:
    def greet(name: str, *, punctuation: str = "!") -> str:
        """Say hello."""
        return f"hello {name}{punctuation}"

    task = background.task(greet)
    assert task.__name__ == "greet"
    assert task.__qualname__ == greet.__qualname__
    assert task.__doc__ == "Say hello."
    assert task.__module__ == __name__
    assert str(inspect.signature(task)) == str(inspect.signature(greet))
    assert task.__wrapped__ is greet
    assert task.__wrapped__("ada") == "hello ada!"  # in the foreground
    assert task("bob", punctuation="?").result(TIMEOUT) == "hello bob?"


def test_decorated_function_is_a_real_function_for_help_and_autodoc() -> None:
    @background.task
    def documented(x: int) -> int:
        """Return x."""
        return x

    assert isinstance(documented, types.FunctionType)
    import pydoc

    text = pydoc.render_doc(documented, renderer=pydoc.plaintext)
    # The original signature; Python 3.14 shows annotations unquoted.
    assert re.search(r"documented\(x: '?int'?\) -> '?int'?", text), text
    assert "Return x." in text


def test_decorator_with_options_and_without_are_the_same_kind() -> None:
    @background.task()
    def one() -> int:
        return 1

    @background.task(retries=1)
    def two() -> int:
        return 2

    assert (one().result(TIMEOUT), two().result(TIMEOUT)) == (1, 2)


def test_methods_can_be_tasks() -> None:
    class Counter:
        def __init__(self) -> None:
            self.value = 10

        @background.task
        def add(self, amount: int) -> int:
            self.value += amount
            return self.value

    counter = Counter()
    assert counter.add(5).result(TIMEOUT) == 15
    assert counter.value == 15


def test_arguments_and_keyword_arguments_reach_the_function() -> None:
    @background.task
    def collect(*args: object, **kwargs: object) -> tuple[object, ...]:
        return args, kwargs

    assert collect(1, "two", three=3).result(TIMEOUT) == ((1, "two"), {"three": 3})


def test_task_exception_lands_on_the_future_with_its_traceback() -> None:
    @background.task
    def explode() -> None:
        raise ZeroDivisionError("boom")

    future = explode()
    with pytest.raises(ZeroDivisionError, match="boom") as caught:
        future.result(TIMEOUT)
    frames = [tb.name for tb in caught.traceback]
    assert "explode" in frames


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_base_exceptions_land_on_the_future_and_workers_survive(
    error: type[BaseException],
) -> None:
    @background.task
    def leave() -> None:
        raise error

    with pytest.raises(error):
        leave().result(TIMEOUT)
    assert background.run(lambda: "still working").result(TIMEOUT) == "still working"


def test_run_submits_any_callable() -> None:
    assert background.run(divmod, 17, 5).result(TIMEOUT) == (3, 2)
    assert background.run(sorted, [3, 1, 2], reverse=True).result(TIMEOUT) == [3, 2, 1]


def test_task_map_keeps_input_order() -> None:
    @background.task
    def square(x: int) -> int:
        return x * x

    assert list(square.map(range(10))) == [x * x for x in range(10)]
    assert list(square.map(range(10), chunksize=3)) == [x * x for x in range(10)]


def test_pool_task_runs_on_that_pool() -> None:
    with background.Pool(1, name="solo") as pool:

        @pool.task
        def where() -> str:
            return threading.current_thread().name

        @pool.task(retries=0)
        def where_too() -> str:
            return threading.current_thread().name

        assert where().result(TIMEOUT).startswith("solo-")
        assert where_too().result(TIMEOUT).startswith("solo-")


def test_task_follows_the_default_pool_at_call_time() -> None:
    @background.task
    def where() -> str:
        return threading.current_thread().name

    assert where().result(TIMEOUT).startswith("background-")
    special = background.Pool(1, name="special")
    previous = background.use(special)
    try:
        assert where().result(TIMEOUT).startswith("special-")
    finally:
        background.use(previous)
        special.shutdown()
    assert where().result(TIMEOUT).startswith("background-")


def test_default_pool_is_created_again_after_shutdown() -> None:
    first = background.default_pool()
    background.shutdown()
    assert first.closed
    second = background.default_pool()
    assert second is not first
    assert background.run(len, "abc").result(TIMEOUT) == 3


def test_run_builds_a_class_in_the_background_but_task_refuses_to_decorate_one() -> None:
    assert background.run(int, "42").result(TIMEOUT) == 42
    assert background.run(dict, a=1).result(TIMEOUT) == {"a": 1}
    with pytest.raises(TypeError, match=r"decorates functions, not classes: got dict"):
        background.task(dict)
