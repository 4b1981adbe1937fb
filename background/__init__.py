"""Run Python functions in the background: one decorator, a Future back.

>>> import background
>>> @background.task
... def double(x):
...     return 2 * x
>>> double(21).result()
42

Everything public is listed in ``__all__``. The submodules load on first use,
so ``import background`` costs next to nothing.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._api import callback, default_pool, remove_callback, run, shutdown, use
    from ._dask import dask_pool
    from ._errors import WorkerDied
    from ._future import Future, cancelled
    from ._pool import Pool
    from ._task import Task, task
    from ._waiting import DoneAndNotDone, as_completed, results, wait

__version__ = "1.0.0"

__all__ = [
    "DoneAndNotDone",
    "Future",
    "Pool",
    "Task",
    "WorkerDied",
    "as_completed",
    "callback",
    "cancelled",
    "dask_pool",
    "default_pool",
    "n",
    "remove_callback",
    "results",
    "run",
    "shutdown",
    "task",
    "use",
    "wait",
]

#: How many tasks the default pool runs at once (the number of CPUs unless set).
#: Assigning it (``background.n = 110``) resizes the default pool at once.
n: int

_homes = {
    "callback": "_api",
    "default_pool": "_api",
    "remove_callback": "_api",
    "run": "_api",
    "shutdown": "_api",
    "use": "_api",
    "dask_pool": "_dask",
    "Future": "_future",
    "cancelled": "_future",
    "Pool": "_pool",
    "Task": "_task",
    "WorkerDied": "_errors",
    "task": "_task",
    "DoneAndNotDone": "_waiting",
    "as_completed": "_waiting",
    "results": "_waiting",
    "wait": "_waiting",
}


def __getattr__(name: str) -> Any:
    home = _homes.get(name)
    if home is None:
        raise AttributeError(f"module 'background' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Module(types.ModuleType):
    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # By name, as pickle sends any module: a function sent to a worker
        # process by value may use ``background`` as a global.
        import importlib

        return importlib.import_module, (self.__name__,)

    @property
    def n(self) -> int:
        from . import _default

        return _default.get_n()

    @n.setter
    def n(self, value: int) -> None:
        from . import _default

        _default.set_n(value)


sys.modules[__name__].__class__ = _Module


def _wait_for_tasks_at_exit() -> None:
    # When the main thread ends, background waits for every pool's work:
    # see background/_exit.py. The module is light.
    from . import _exit

    _exit.stay_first_at_exit()


_wait_for_tasks_at_exit()
del _wait_for_tasks_at_exit
