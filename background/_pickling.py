"""Sending functions to worker processes: by reference when possible, else by value.

Pickle sends a function *by reference* (its module and qualified name) and the
worker imports it. Two cases break that:

* the function was decorated with ``@background.task``: the module attribute
  is the wrapper, not the function, so pickle refuses it. It goes as "the
  ``__wrapped__`` of that module attribute" instead, which needs nothing but
  pickle;
* the function lives in ``__main__`` (a script, the REPL, a notebook) or in no
  importable module at all (a lambda, a closure, a doctest): a worker started
  with spawn or forkserver cannot import it. It goes *by value*, with
  cloudpickle (the ``background[process]`` extra), loaded only then.
"""

from __future__ import annotations

# _pickle, the C module that pickle re-exports: pickle.py itself imports re,
# which would cost every worker process's start (and the fork server's) 3 ms.
import _pickle as pickle
import io
import sys
import types

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: workers start faster
    from typing import Any

PROTOCOL = 5  # pickle.HIGHEST_PROTOCOL on every supported Python

_INSTALL = "pip install 'background[process]'"


def _wrapper_of(fn: types.FunctionType) -> Any:
    """The module attribute that wraps *fn* (a ``@background.task``), if any."""
    module_name = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", "")
    if not module_name or module_name == "__main__" or "<" in qualname:
        return None
    module = sys.modules.get(module_name)
    if module is None:
        return None
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
        if found is None:
            return None
    if found is not fn and getattr(found, "__wrapped__", None) is fn:
        return found
    return None


def _unwrap(wrapper: Any) -> Any:
    """In the worker: the function behind a ``@background.task`` wrapper."""
    return wrapper.__wrapped__


class _ByReference(pickle.Pickler):
    """Plain pickle, plus decorated functions as ``__wrapped__`` of their wrapper."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.FunctionType):
            if obj.__module__ == "__main__":
                raise _NeedsValue
            wrapper = _wrapper_of(obj)
            if wrapper is not None:
                return _unwrap, (wrapper,)
        elif isinstance(obj, type) and obj.__module__ == "__main__":
            raise _NeedsValue
        return NotImplemented


class _NeedsValue(Exception):
    """Raised inside the pickler: this object must go by value."""


_by_value_pickler: type[pickle.Pickler] | None = None


def _cloudpickler() -> type[pickle.Pickler]:
    global _by_value_pickler
    if _by_value_pickler is None:
        import importlib

        base: Any = importlib.import_module("cloudpickle").Pickler

        class ByValue(base):  # type: ignore[misc]
            def reducer_override(self, obj: Any) -> Any:
                if isinstance(obj, types.FunctionType):
                    wrapper = _wrapper_of(obj)
                    if wrapper is not None:
                        return _unwrap, (wrapper,)
                return super().reducer_override(obj)

        _by_value_pickler = ByValue
    return _by_value_pickler


def by_reference(obj: Any) -> bytes | None:
    """*obj* pickled with plain pickle, or ``None`` if it must go by value.

    Raises:
        TypeError: *obj* holds something that no pickler can send (a lock, a
            socket, a generator...), so sending it by value would not help.
    """
    buffer = io.BytesIO()
    try:
        _ByReference(buffer, PROTOCOL).dump(obj)
    except _NeedsValue:
        return None
    except (pickle.PicklingError, AttributeError):  # not importable by name (a lambda...)
        return None
    return buffer.getvalue()


def by_value(obj: Any, what: str) -> bytes:
    """*obj* pickled with cloudpickle; a clear ImportError if it is missing."""
    try:
        pickler = _cloudpickler()
    except ImportError:
        raise ImportError(
            f"{what} cannot be sent to a worker process by reference (it is defined in "
            "__main__, a notebook, a doctest or inside a function, or is a lambda), and "
            f"sending it by value needs cloudpickle: {_INSTALL}"
        ) from None
    buffer = io.BytesIO()
    pickler(buffer, PROTOCOL).dump(obj)
    return buffer.getvalue()


def dumps_callable(fn: Any, what: str) -> bytes:
    """Pickle a function (or any callable) for a worker process.

    By reference when the worker can import it, else by value with cloudpickle.

    Raises:
        ImportError: it must go by value and cloudpickle is not installed.
        pickle.PicklingError: it cannot be pickled at all.
    """
    try:
        data = by_reference(fn)
    except TypeError as error:
        raise pickle.PicklingError(
            f"{what} cannot be sent to a worker process: {type(error).__name__}: {error}"
        ) from error
    if data is not None:
        return data
    try:
        return by_value(fn, what)
    except ImportError:
        raise
    except Exception as error:
        raise pickle.PicklingError(
            f"{what} cannot be sent to a worker process: {type(error).__name__}: {error}"
        ) from error


def is_by_reference(data: bytes) -> bool:
    """``True`` if *data* needs no cloudpickle to load (cheap heuristic, for caching)."""
    return b"cloudpickle" not in data


def loads(data: bytes | bytearray | memoryview) -> Any:
    """Unpickle what :func:`dumps_callable` or :func:`dumps` made."""
    return pickle.loads(data)


def dumps(obj: Any) -> bytes:
    """Plain pickle, newest protocol: for arguments and results."""
    return pickle.dumps(obj, PROTOCOL)


def offender(values: dict[str, Any]) -> str:
    """Name the first value that cannot be pickled: ``"argument 1 (a _thread.lock)"``."""
    for label, value in values.items():
        try:
            dumps(value)
        except Exception:
            return f"{label} (a {type(value).__module__}.{type(value).__qualname__})"
    return "a value"
