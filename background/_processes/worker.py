"""The worker process: read a call, run it, send back its outcome.

This is all a worker runs besides the calls themselves, so it stays light: it
never imports the parent program's ``__main__`` (functions from there arrive by
value), nor the parent's side of the pool.

The wire: a :class:`Channel` carries length-prefixed messages, one pipe each
way. The parent's first message sets the worker up (its ``sys.path``, working
directory and initializer); the worker answers :data:`READY` with its pid in
the task id field, then one reply for every call, in order. A message of
calls holds one call, or a few quick ones that run one after the other; each
call is a :data:`CALL_HEADER`, the function's pickle (only the first time a
function goes to this worker: after that its id is enough) and the pickled
arguments. An empty message tells the worker to stop.
"""

from __future__ import annotations

import os
import struct
import sys
import time
from collections import OrderedDict

from background import _pickling

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: workers start faster
    from typing import Any, Callable

#: The C module behind :mod:`signal`, without the enum wrappers that would cost
#: every worker process's start (and the fork server's) 4 ms to import.
signals: Any = __import__("_signal")

#: A message's length, before the message.
LENGTH = struct.Struct("<Q")
#: How many calls a message of calls holds (they run one after the other).
BUNDLE_HEADER = struct.Struct("<I")
#: Before each call: task id, function id (0: not cached), length of the
#: function's pickle (0: the id is enough), length of the arguments' pickle.
CALL_HEADER = struct.Struct("<qIII")
#: task id, kind of reply, resident bytes after the call (0: not measured),
#: seconds the call took (with its unpickling and pickling).
REPLY_HEADER = struct.Struct("<qBQd")
READY, OK, RAISED, RESULT_UNPICKLABLE, CALL_UNPICKLABLE, INIT_FAILED = range(1, 7)
#: The fork server's side of the wire: a request to fork a worker is one byte,
#: with the worker's three pipe ends attached (FORK_FDS: its reader, writer and
#: status pipe); a worker's exit code (as :func:`os.waitstatus_to_exitcode`
#: gives it) is written on its status pipe.
FORK_REQUEST = b"F"
FORK_FDS = struct.Struct("3i")
EXIT_CODE = struct.Struct("<i")
#: How many functions a worker keeps unpickled; the parent sends a function by
#: id only if it is among the last FUNCTIONS_SENT it sent there (fewer: both
#: caches see the same calls in the same order, so the worker still has it).
FUNCTIONS_KEPT = 256
FUNCTIONS_SENT = 128


class Channel:
    """Length-prefixed messages over two pipes, one for each direction.

    Reads are buffered: one read may bring several messages, which
    :meth:`recv` then returns one by one (:meth:`has_message` tells whether one
    is waiting in the buffer).
    """

    __slots__ = ("_buffer", "reader", "writer")

    #: How much one read asks for.
    CHUNK = 1 << 16

    def __init__(self, reader: int, writer: int) -> None:
        self.reader = reader
        self.writer = writer
        self._buffer = bytearray()

    def send(self, *parts: bytes | bytearray | memoryview) -> None:
        """Write one message made of *parts*; blocks until it is all written."""
        size = 0
        for part in parts:
            size += len(part)
        buffers = [LENGTH.pack(size), *parts]
        written = os.writev(self.writer, buffers)
        if written < size + LENGTH.size:  # a full pipe: write the rest as it drains
            views = [memoryview(b) for b in buffers]
            while views:
                while written:
                    first = views[0]
                    if written < len(first):
                        views[0] = first[written:]
                        break
                    written -= len(first)
                    del views[0]
                if views:
                    written = os.writev(self.writer, views)

    def has_message(self) -> bool:
        """``True`` if a whole message is in the buffer already."""
        buffer = self._buffer
        return len(buffer) >= LENGTH.size and (
            len(buffer) >= LENGTH.size + LENGTH.unpack_from(buffer)[0]
        )

    def recv(self) -> bytes | bytearray | None:
        """Read one message; ``None`` if the other end closed its pipe."""
        buffer = self._buffer
        while len(buffer) < LENGTH.size:
            chunk = os.read(self.reader, self.CHUNK)
            if not chunk:
                if buffer:
                    raise EOFError("the pipe closed in the middle of a message")
                return None
            buffer += chunk
        end = LENGTH.size + LENGTH.unpack_from(buffer)[0]
        if len(buffer) >= end:
            message = buffer[LENGTH.size : end]
            del buffer[:end]
            return message
        # A big message: read the rest straight into a buffer of its own.
        message = bytearray(end - LENGTH.size)
        have = len(buffer) - LENGTH.size
        message[:have] = memoryview(buffer)[LENGTH.size :]
        buffer.clear()
        with memoryview(message) as view:
            while have < len(message):
                count = os.readv(self.reader, [view[have:]])
                if count == 0:
                    raise EOFError("the pipe closed in the middle of a message")
                have += count
        return message

    def close(self) -> None:
        """Close both pipes."""
        for fd in (self.reader, self.writer):
            try:
                os.close(fd)
            except OSError:
                pass


# -- describing what went wrong ----------------------------------------------------------


def describe(error: BaseException) -> str:
    """``Type: message``, even for an exception whose ``__str__`` raises or recurses."""
    try:
        text = str(error)
    except BaseException:
        text = "(its message cannot be shown: str() failed)"
    return f"{type(error).__name__}: {text}"


def format_traceback(error: BaseException) -> str:
    """The traceback as Python prints it, or a line saying it cannot be formatted."""
    import traceback

    try:
        return "".join(traceback.format_exception(type(error), error, error.__traceback__))
    except BaseException:
        return f"{describe(error)}\n(the traceback cannot be formatted)\n"


def dumps_back(value: object) -> bytes:
    """Pickle for the parent: plain pickle, else cloudpickle if it is installed."""
    try:
        return _pickling.dumps(value)
    except Exception:
        try:
            return _pickling.by_value(value, "the result")
        except ImportError:
            pass
        raise


def sendable(error: BaseException, name: str) -> BaseException:
    """*error* if it survives the trip to the parent, else a RuntimeError describing it."""
    try:
        _pickling.loads(dumps_back(error))  # some exceptions pickle but cannot be rebuilt
    except BaseException:
        return RuntimeError(f"{name} raised {describe(error)}, which cannot be pickled")
    return error


def callable_name(fn: Any) -> str:
    """``module.qualname`` of *fn* (of the function inside a wrapper)."""
    fn = getattr(fn, "__wrapped__", fn)
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    module = getattr(fn, "__module__", None)
    return f"{module}.{qualname}" if module else qualname


# -- the loop ------------------------------------------------------------------------------


class _Functions:
    """The functions this worker has unpickled, by the ids the parent gave them."""

    def __init__(self) -> None:
        self.by_id: OrderedDict[int, Callable[..., Any]] = OrderedDict()

    def get(self, data: bytes | bytearray | memoryview, fn_id: int, start: int, size: int) -> Any:
        if size:
            fn = _pickling.loads(memoryview(data)[start : start + size])
            if fn_id:
                self.by_id[fn_id] = fn
                if len(self.by_id) > FUNCTIONS_KEPT:
                    self.by_id.popitem(last=False)
            return fn
        self.by_id.move_to_end(fn_id)
        return self.by_id[fn_id]


def run_one(
    data: bytes | bytearray | memoryview,
    offset: int,
    fn_id: int,
    fn_size: int,
    functions: _Functions,
) -> tuple[int, bytes]:
    """Run the call whose function and arguments start at *offset* of *data*.

    Returns the kind of reply and its payload.
    """
    try:
        fn = functions.get(data, fn_id, offset, fn_size)
        args, kwargs = _pickling.loads(memoryview(data)[offset + fn_size :])
    except BaseException as error:
        return CALL_UNPICKLABLE, _pickling.dumps(describe(error))
    try:
        result = fn(*args, **kwargs)
    except BaseException as error:
        text = format_traceback(error)
        return RAISED, dumps_back((sendable(error, callable_name(fn)), text))
    try:
        return OK, dumps_back(result)
    except BaseException as error:
        kind = type(result)
        what = f"{kind.__module__}.{kind.__qualname__}"
        return RESULT_UNPICKLABLE, _pickling.dumps((what, describe(error)))


def _set_up(options: dict[str, Any]) -> None:
    sys.path[:] = options["path"]
    sys.argv[:] = options["argv"]
    try:
        os.chdir(options["cwd"])
    except OSError:  # gone meanwhile: stay where the worker started
        pass


def main(reader: int, writer: int) -> int:
    """A worker's life: set up, say it is ready, serve calls until told to stop.

    Returns the exit code: 0 after a stop (or once the parent is gone), 1 if
    the initializer failed.
    """
    signals.signal(signals.SIGINT, signals.SIG_IGN)  # Ctrl-C is the parent's to handle
    channel = Channel(reader, writer)
    setup = channel.recv()
    if not setup:
        return 0
    options = _pickling.loads(setup)
    _set_up(options)
    if options["initializer"] is not None:
        try:
            initializer, initargs = _pickling.loads(options["initializer"])
            initializer(*initargs)
        except BaseException as error:
            channel.send(
                REPLY_HEADER.pack(-1, INIT_FAILED, 0, 0.0), _pickling.dumps(describe(error))
            )
            return 1
    channel.send(REPLY_HEADER.pack(os.getpid(), READY, 0, 0.0))
    _serve(channel, _memory_meter() if options["measure_memory"] else None)
    return 0


def _serve(channel: Channel, meter: Callable[[], int] | None) -> None:
    functions = _Functions()
    clock = time.perf_counter
    while True:
        try:
            data = channel.recv()
        except OSError:  # the parent is gone
            return
        if not data:  # stopped, or the parent is gone
            return
        offset = BUNDLE_HEADER.size
        for _ in range(BUNDLE_HEADER.unpack_from(data)[0]):
            task_id, fn_id, fn_size, size = CALL_HEADER.unpack_from(data, offset)
            offset += CALL_HEADER.size
            call = memoryview(data)[: offset + fn_size + size]
            started = clock()
            try:
                kind, payload = run_one(call, offset, fn_id, fn_size, functions)
            except BaseException as error:  # out of memory while reporting, say
                failure = RuntimeError(
                    "the worker could not report the outcome: " + describe(error)
                )
                kind, payload = RAISED, _pickling.dumps((failure, ""))
            del call
            header = REPLY_HEADER.pack(task_id, kind, meter() if meter else 0, clock() - started)
            try:
                channel.send(header, payload)
            except OSError:  # the parent is gone
                return
            del payload
            offset += fn_size + size
        del data


def _memory_meter() -> Callable[[], int]:
    """A function that returns this process's resident memory, in bytes."""
    try:
        statm = os.open("/proc/self/statm", os.O_RDONLY)
    except OSError:  # not Linux: the peak resident size is what is known
        import resource

        scale = 1 if sys.platform == "darwin" else 1024
        return lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    page = os.sysconf("SC_PAGE_SIZE")
    return lambda: int(os.pread(statm, 128, 0).split()[1]) * page


def run_forked(reader: int, writer: int) -> int:
    """:func:`main` in a process forked from a running one; returns the exit code.

    Non-daemon threads that the calls started are waited for, and the exit
    wait of pools that the calls made runs, as at the end of any program.
    """
    try:
        code = main(reader, writer)
    except SystemExit as leaving:
        code = leaving.code if isinstance(leaving.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    shutdown = getattr(__import__("threading"), "_shutdown", None)
    if shutdown is not None:
        try:
            shutdown()
        except BaseException:
            pass
    flush_standard_streams()
    return code


def flush_standard_streams() -> None:
    """Write out what is buffered for stdout and stderr."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # closed, or None
            pass
