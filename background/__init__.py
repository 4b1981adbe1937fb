"""Run Python functions in the background: one decorator, a Future back.

>>> import background
>>> @background.task
... def double(x):
...     return 2 * x
>>> double(21).result()
42

Everything public is listed in ``__all__``. ``import background`` loads only
this module and the hooks that make the exit wait for running tasks (no
:mod:`threading`, no :mod:`typing`, no pool); the rest loads on first use.
The package is layered: each module imports only modules of the layers below
it, as the ``[tool.importlinter]`` contract in ``pyproject.toml`` lists them,
from the functions users call down to the leaves that import nothing of
background's.
"""

# No ``from __future__ import annotations`` here: it would import the
# ``__future__`` module, and ``import background`` loads only what it needs.
import _thread
import sys

from . import _exithook

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: ``import background`` stays cheap
    from types import ModuleType as _ModuleType
    from typing import Any

    from ._api import callback, default_pool, remove_callback, run, shutdown, use
    from ._dask import dask_pool
    from ._eager import eager
    from ._errors import WorkerDied
    from ._future import Future
    from ._pool import Pool
    from ._stopping import cancelled
    from ._task import task
    from ._types import Task
    from ._waiting import DoneAndNotDone, as_completed, results, wait
else:
    _ModuleType = type(sys)  # types.ModuleType, without importing types

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
    "eager",
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
    "eager": "_eager",
    "Future": "_future",
    "cancelled": "_stopping",
    "Pool": "_pool",
    "Task": "_types",
    "WorkerDied": "_errors",
    "task": "_task",
    "DoneAndNotDone": "_waiting",
    "as_completed": "_waiting",
    "results": "_waiting",
    "wait": "_waiting",
}


def __getattr__(name: str) -> "Any":
    home = _homes.get(name)
    if home is None:
        raise AttributeError(f"module 'background' has no attribute {name!r}")
    __import__(f"{__name__}.{home}")
    value = getattr(sys.modules[f"{__name__}.{home}"], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Module(_ModuleType):
    def __reduce__(self) -> "tuple[Any, tuple[str]]":
        # By name, as pickle sends any module: a function sent to a worker
        # process by value may use ``background`` as a global.
        import importlib

        return importlib.import_module, (self.__name__,)

    @property
    def n(self) -> int:
        from ._defaults import defaults

        return defaults.n

    @n.setter
    def n(self, value: int) -> None:
        from ._defaults import defaults

        defaults.n = value


sys.modules[__name__].__class__ = _Module


def _forget_imports_cut_short() -> None:
    """In a forked child: forget the imports that other threads of the parent
    were in the middle of, so that the child makes them afresh.

    A thread's first call imports some of background's modules, and they
    import others. Their import locks came through the fork held by threads
    that do not exist in the child: its next import of such a module would
    wait for ever, and the module itself is half made. importlib keeps no
    public record of these locks; where its private one is missing or
    different, nothing is done.
    """
    locks = getattr(sys.modules.get("_frozen_importlib"), "_module_locks", None)
    if not isinstance(locks, dict):
        return
    me = _thread.get_ident()
    for name in list(locks):
        ref = locks[name]
        lock = ref() if callable(ref) else None
        if lock is None or not _held_by_another_thread(lock, me):
            continue
        del locks[name]  # the next import makes a new lock
        module = sys.modules.get(name)
        if getattr(getattr(module, "__spec__", None), "_initializing", False):
            del sys.modules[name]


def _held_by_another_thread(lock: "Any", me: int) -> bool:
    """Whether a module lock is held by a thread other than *me*, or its own
    guard is (a thread was inside its ``acquire`` or ``release``)."""
    if getattr(lock, "owner", None) not in (None, me):
        return True
    guard = getattr(lock, "lock", None)
    if guard is None:
        return False
    if not guard.acquire(False):
        return True
    guard.release()
    return False


try:  # os.register_at_fork, without importing os (a bare interpreter has posix only)
    from posix import register_at_fork as _register_at_fork
except ImportError:  # no fork here
    pass
else:
    _register_at_fork(after_in_child=_forget_imports_cut_short)

_exithook.install()
