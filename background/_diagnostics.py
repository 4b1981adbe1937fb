"""How background names callables and values in messages, and its logger."""

from __future__ import annotations

import logging

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

#: Where background logs what it cannot raise: exceptions nobody retrieved,
#: callbacks that raised, an interrupted exit.
logger = logging.getLogger("background")


def task_name(fn: Callable[..., Any]) -> str:
    """A readable name for *fn*: ``module.qualname`` when it has one."""
    fn = getattr(fn, "__wrapped__", fn)
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    module = getattr(fn, "__module__", None)
    return f"{module}.{qualname}" if module else qualname


def describe(value: object) -> str:
    """``repr`` of *value* followed by its type, for error messages."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"
