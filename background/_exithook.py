"""The hooks that put background's exit wait in place: when the main thread ends, and at exit.

Tiny on purpose, and it imports neither :mod:`threading` nor anything of
background's: ``import background`` runs :func:`install`, so that a pool
made while the interpreter exits still finds the wait in place (see
:mod:`._exit`, which every pool loads and which does the waiting).

Two hooks:

* :func:`main_thread_ended`, registered first among threading's exit hooks,
  which run when the main thread ends, before Python joins the other
  threads. ``import background`` registers it if threading is loaded; the
  first pool does otherwise (it loads threading).
* :func:`exit_hooks_begin`, an :mod:`atexit` hook that waits for what was
  submitted since, then marks the point after which every call is refused.
  ``import background`` registers it, so that it runs even in a program that
  never loaded threading; when the main thread ends it is registered again,
  so that it runs before every other :mod:`atexit` hook.
"""

import atexit
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

#: How many threading exit hooks there were when background last registered
#: one; ``-1`` while it never has.
_hooks_seen = -1
#: Set when the main thread ends, before any pool's work is waited for.
main_thread_has_ended = False
#: Set when :func:`exit_hooks_begin` runs: from then on every call is refused.
exit_hooks_began = False


def install() -> None:
    """Register the exit hooks at ``import background``, without importing threading."""
    atexit.register(exit_hooks_begin)
    if "threading" in sys.modules:
        register_first(main_thread_ended)


def register_first(hook: "Callable[[], object]") -> bool:
    """Have *hook* run when the main thread ends, before every hook registered so far.

    Threading runs its exit hooks in the reverse order of registration, so the
    hook is registered again whenever another one came after it (whoever runs
    first does the work; *hook* must return at once the other times).
    ``False`` if the main thread has ended already.
    """
    global _hooks_seen
    import threading

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


def run_exit_hook_first() -> None:
    """Register :func:`exit_hooks_begin` again: it runs before every :mod:`atexit` hook so far.

    Does nothing useful once the :mod:`atexit` hooks run: Python runs none
    registered then.
    """
    atexit.unregister(exit_hooks_begin)
    atexit.register(exit_hooks_begin)


def main_thread_ended() -> None:
    """Threading calls this when the main thread ends: wait for every pool's work.

    Without a pool (:mod:`._exit` not loaded) there is nothing to wait for:
    a pool made from now on finds :data:`main_thread_has_ended` set.
    """
    global main_thread_has_ended
    if main_thread_has_ended:
        return
    main_thread_has_ended = True
    run_exit_hook_first()
    exit_wait = sys.modules.get("background._exit")
    if exit_wait is not None:
        exit_wait.main_thread_ended()


def exit_hooks_begin() -> None:
    """The :mod:`atexit` hook: wait for what was submitted meanwhile, then refuse every call."""
    global exit_hooks_began
    exit_hooks_began = True
    exit_wait = sys.modules.get("background._exit")
    if exit_wait is not None:
        exit_wait.last_wait()
