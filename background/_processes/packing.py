"""Pickling calls for worker processes: each function once per pool, by value or by name."""

from __future__ import annotations

import itertools
import pickle
import weakref
from typing import Any

from background import _pickling
from background._batch import Batch
from background._job import Job
from background._wrapper import unwrap

from .workers import Pending


class Packer:
    """Pickles a pool's calls, keeping each function's pickle (and an id for it).

    A function sent by value carries the values of the globals it uses as they
    were when it was first sent, as a worker's own globals would be.
    """

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._functions: weakref.WeakKeyDictionary[Any, tuple[int, bytes]] = (
            weakref.WeakKeyDictionary()
        )

    def pack(self, job: Job) -> Pending:
        """The call of *job*, ready to send.

        Raises:
            pickle.PicklingError: the function or an argument cannot be pickled.
            ImportError: it needs cloudpickle, which is not installed.
        """
        fn = unwrap(job.fn)
        fn_id, fn_bytes = self._function(fn, job)
        call = (job.args, job.kwargs)
        try:
            arguments = _pickling.dumps(call)
        except Exception as error:
            name = job.name
            try:  # a class from __main__ or a doctest, say: send it by value
                arguments = _pickling.by_value(call, name)
            except Exception:
                raise pickle.PicklingError(
                    f"cannot send the arguments of {name} to a worker process: "
                    f"{_pickling.offender(_labelled_arguments(fn, job))} cannot be pickled "
                    f"({type(error).__name__}: {error})"
                ) from error
        return Pending(job, fn_id, fn_bytes, arguments)

    def _function(self, fn: Any, job: Job) -> tuple[int, bytes]:
        """*fn*'s id (0: not kept) and pickle."""
        try:
            cached = self._functions.get(fn)
        except TypeError:  # not hashable
            return 0, _pickling.dumps_callable(fn, job.name)
        if cached is not None:
            return cached
        entry = (next(self._ids), _pickling.dumps_callable(fn, job.name))
        try:
            self._functions[fn] = entry
        except TypeError:  # no weak reference to it: pickle it every time
            return 0, entry[1]
        return entry


def _labelled_arguments(fn: Any, job: Job) -> dict[str, Any]:
    """The call's arguments by the names a user knows them by, for error messages."""
    if isinstance(fn, Batch):  # a map's batch: name the input items
        items, start = job.args
        return {
            f"item {start + i} of the input" + ("" if len(args) == 1 else f", argument {j}"): value
            for i, args in enumerate(items)
            for j, value in enumerate(args)
        }
    values = {f"argument {i}": value for i, value in enumerate(job.args)}
    values.update({f"keyword argument {k!r}": v for k, v in job.kwargs.items()})
    return values
