"""Checks on user input that fail early with a message naming what was wrong."""

from __future__ import annotations

import inspect
from typing import Any


def describe(value: object) -> str:
    """``repr`` of *value* followed by its type, for error messages."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def worker_count(value: object, what: str = "background.n") -> int:
    """Return *value* if it is a usable worker count, else raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int of at least 1, got {describe(value)}")
    if value < 1:
        raise ValueError(f"{what} must be at least 1, got {value}")
    return value


def optional_positive_int(value: object, what: str) -> int | None:
    """``None`` or an int of at least 1."""
    if value is None:
        return None
    return worker_count(value, what)


def non_negative_int(value: object, what: str) -> int:
    """An int of at least 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int of at least 0, got {describe(value)}")
    if value < 0:
        raise ValueError(f"{what} must be at least 0, got {value}")
    return value


def seconds(value: object, what: str, *, allow_zero: bool = True) -> float:
    """A finite, non-negative number of seconds (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, got {describe(value)}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{what} must be a finite number of seconds, got {value}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = "at least 0" if allow_zero else "more than 0"
        raise ValueError(f"{what} must be {bound} seconds, got {value}")
    return float(value)


def optional_seconds(value: object, what: str) -> float | None:
    """``None`` or a positive, finite number of seconds."""
    if value is None:
        return None
    return seconds(value, what, allow_zero=False)


def wait_seconds(value: object, what: str = "timeout") -> float | None:
    """``None`` (wait for ever) or a finite number of seconds of at least 0."""
    if value is None:
        return None
    return seconds(value, what)


def start_method(value: object) -> str:
    """A start method that :mod:`multiprocessing` offers on this platform."""
    from ._processes.launch import start_methods

    methods = start_methods()
    if not isinstance(value, str) or value not in methods:
        raise ValueError(
            f"start_method must be one of {', '.join(map(repr, methods))}, got {describe(value)}"
        )
    return value


def exception_types(value: object, what: str) -> tuple[type[BaseException], ...]:
    """An exception class or a tuple of them, as a tuple."""
    types = value if isinstance(value, tuple) else (value,)
    for kind in types:
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            raise TypeError(
                f"{what} must be an exception class or a tuple of them, got {describe(value)}"
            )
    return types


def callbacks(value: object, what: str = "callback") -> tuple[Any, ...]:
    """``None``, one callable or a sequence of callables, as a tuple."""
    if value is None:
        return ()
    items = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    for item in items:
        if not callable(item):
            raise TypeError(f"{what} must be callable, got {describe(item)}")
    return items


def task_function(fn: object, what: str = "background.task", *, decorating: bool = True) -> None:
    """Refuse what cannot sensibly run as a background task, saying why.

    A class can be *run* (built in the background) but not decorated: the
    decorator would replace the class with a function.
    """
    if decorating and isinstance(fn, type):
        raise TypeError(
            f"{what} decorates functions, not classes: got {fn.__qualname__}; "
            f"to build one in the background use background.run({fn.__qualname__}, ...)"
        )
    if not callable(fn):
        raise TypeError(f"{what} expects a callable, got {describe(fn)}")
    target: Any = fn
    if inspect.isfunction(target):
        target = inspect.unwrap(target)
    name = getattr(fn, "__qualname__", repr(fn))
    if inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target):
        raise TypeError(
            f"{what} cannot run the coroutine function {name}: it already runs "
            "concurrently in an event loop; await it, or use asyncio.create_task()"
        )
    if inspect.isgeneratorfunction(target):
        raise TypeError(
            f"{what} cannot run the generator function {name}: calling it only builds "
            "a lazy generator, so its body would not run in the background; "
            "return a list from a plain function instead"
        )
