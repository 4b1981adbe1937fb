"""Background's exit wait, registered first among threading's exit hooks.

Tiny on purpose: ``import background`` imports it, so that a pool made while
the interpreter exits still finds the wait in place (see :mod:`._exit`).
"""

import atexit
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

#: How many threading exit hooks there were when background last registered
#: one; ``-1`` while it never has.
_hooks_seen = -1
#: Set when the main thread ends, before any pool's work is waited for.
main_thread_has_ended = False


def register_first(hook: "Callable[[], object]") -> bool:
    """Have *hook* run when the main thread ends, before every hook registered so far.

    Threading runs its exit hooks in the reverse order of registration, so the
    hook is registered again whenever another one came after it (whoever runs
    first does the work; *hook* must return at once the other times).
    ``False`` if the main thread has ended already.
    """
    global _hooks_seen
    hooks = getattr(threading, "_threading_atexits", None)
    if hooks is not None and len(hooks) == _hooks_seen:
        return True
    register = getattr(threading, "_register_atexit", None) or atexit.register
    try:
        register(hook)
    except RuntimeError:  # the main thread has ended already
        return False
    _hooks_seen = len(hooks) if hooks is not None else 0
    return True


def ever_registered() -> bool:
    """``True`` once a hook was registered: the exit wait will run."""
    return _hooks_seen >= 0
