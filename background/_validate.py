"""Checks on user input that fail early with a message naming what was wrong."""

from __future__ import annotations

import functools
import sys
import types

from ._diagnostics import describe

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

#: Code flags of generator, coroutine and async generator functions (see
#: :mod:`inspect`, which is not imported: it is slow to import).
_CO_GENERATOR = 0x20
_CO_COROUTINE = 0x80
_CO_ASYNC_GENERATOR = 0x200


def worker_count(value: object, what: str = "background.n") -> int:
    """Return *value* if it is a usable worker count, else raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int of at least 1, got {describe(value)}")
    if value < 1:
        raise ValueError(f"{what} must be at least 1, got {value}")
    return value


def flag(value: object, what: str) -> bool:
    """A bool: ``True`` or ``False`` (not a truthy value of another type)."""
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be True or False, got {describe(value)}")
    return value


def optional_positive_int(value: object, what: str) -> int | None:
    """``None`` or an int of at least 1."""
    if value is None:
        return None
    return worker_count(value, what)


def optional_bytes(value: object, what: str) -> int | None:
    """``None`` or a positive int: a number of bytes."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be a number of bytes (an int), got {describe(value)}")
    if value < 1:
        raise ValueError(f"{what} must be at least 1 byte, got {value}")
    return value


def non_negative_int(value: object, what: str) -> int:
    """An int of at least 0 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int of at least 0, got {describe(value)}")
    if value < 0:
        raise ValueError(f"{what} must be at least 0, got {value}")
    return value


def seconds(value: object, what: str, *, allow_zero: bool = True) -> float:
    """A finite, non-negative number of seconds, as a float.

    Any real number will do (an int, a float, a :class:`~fractions.Fraction`,
    a :class:`~decimal.Decimal`, a NumPy number), but not a bool.
    """
    kind = type(value)
    if kind is not float and kind is not int and (isinstance(value, bool) or not _real(value)):
        raise TypeError(f"{what} must be a number of seconds, got {describe(value)}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (ValueError, OverflowError):  # a signalling NaN, a Fraction too big for a float
        number = float("nan")
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{what} must be a finite number of seconds, got {value}")
    if number < 0 or (number == 0 and not allow_zero):
        bound = "at least 0" if allow_zero else "more than 0"
        raise ValueError(f"{what} must be {bound} seconds, got {value}")
    return number


def _real(value: object) -> bool:
    import numbers

    if isinstance(value, numbers.Real):
        return True
    decimal = sys.modules.get("decimal")  # a Decimal exists only once it is imported
    return decimal is not None and isinstance(value, decimal.Decimal)


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


def start_method(value: object, methods: Sequence[str]) -> str:
    """One of *methods*, the start methods that this platform offers."""
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


def initargs(value: object, initializer: object) -> None:
    """The arguments of a pool's initializer: a tuple, and only with an initializer."""
    if not isinstance(value, tuple):
        raise TypeError(
            f"initargs must be a tuple of arguments for initializer, got {describe(value)}"
        )
    if value and initializer is None:
        raise ValueError(
            f"initargs {describe(value)} given without an initializer to pass them to"
        )


def _code_flags(fn: object) -> int:
    """The code flags of the function that calling *fn* runs, as :mod:`inspect` finds it.

    Sees through bound methods, :func:`functools.partial` and decorators that
    set ``__wrapped__`` (``functools.wraps``); also honours
    :func:`inspect.markcoroutinefunction` (Python 3.12+).
    """
    for _ in range(100):  # a __wrapped__ cycle must not loop for ever
        if isinstance(fn, types.MethodType):
            fn = fn.__func__
        elif isinstance(fn, functools.partial):
            fn = fn.func
        elif isinstance(fn, types.FunctionType) and hasattr(fn, "__wrapped__"):
            if _marked_coroutine(fn):
                break
            fn = fn.__wrapped__
        else:
            break
    if _marked_coroutine(fn):
        return _CO_COROUTINE
    code = getattr(fn, "__code__", None) if isinstance(fn, types.FunctionType) else None
    return code.co_flags if isinstance(code, types.CodeType) else 0


def _marked_coroutine(fn: object) -> bool:
    marker = getattr(fn, "_is_coroutine_marker", None)
    if marker is None:
        return False
    inspect = sys.modules.get("inspect")  # loaded: markcoroutinefunction() was called
    return marker is getattr(inspect, "_is_coroutine_mark", None) or marker is getattr(
        inspect, "_is_coroutine_marker", None
    )


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
    flags = _code_flags(fn)
    if not flags & (_CO_GENERATOR | _CO_COROUTINE | _CO_ASYNC_GENERATOR):
        return
    name = getattr(fn, "__qualname__", repr(fn))
    if flags & (_CO_COROUTINE | _CO_ASYNC_GENERATOR):
        raise TypeError(
            f"{what} cannot run the coroutine function {name}: it already runs "
            "concurrently in an event loop; await it, or use asyncio.create_task()"
        )
    raise TypeError(
        f"{what} cannot run the generator function {name}: calling it only builds "
        "a lazy generator, so its body would not run in the background; "
        "return a list from a plain function instead"
    )
