"""`import background` stays cheap: optional and heavy modules load only when used."""

from __future__ import annotations

import sys
import textwrap

import pytest
from support import run_bare_python

import background

HEAVY = ["asyncio", "multiprocessing", "cloudpickle", "tqdm", "distributed", "dask"]


def _modules_after(code: str) -> set[str]:
    script = textwrap.dedent(code) + "\nimport sys\nprint(' '.join(sorted(sys.modules)))\n"
    return set(run_bare_python(script).stdout.split())


def test_import_background_loads_neither_executors_nor_optional_extras() -> None:
    loaded = _modules_after("import background")
    assert "background" in loaded
    assert not {"concurrent.futures", "logging", *HEAVY} & loaded


def test_running_thread_tasks_loads_nothing_optional() -> None:
    loaded = _modules_after(
        """
        import background

        @background.task
        def work(x):
            return x + 1

        assert background.results([work(1), work(2)]) == [2, 3]
        assert background.n >= 1
        """
    )
    assert "concurrent.futures" in loaded
    assert not set(HEAVY) & loaded


def test_import_background_loads_only_the_facade_and_its_exit_hook() -> None:
    """No typing, no concurrent.futures, none of the pools: ``import background`` is cheap."""
    loaded = _modules_after("import background")
    ours = {name for name in loaded if name.startswith("background")}
    assert ours == {"background", "background._exithook"}
    assert not {"typing", "__future__"} & loaded


def test_import_background_loads_nothing_but_the_facade_its_exit_hooks_and_atexit() -> None:
    """Not even threading, which is most of what an import of it would cost.

    What ``sys.modules`` holds afterwards, minus what it held before, in a bare
    interpreter (one that has not loaded threading at start-up, checked first).
    ``atexit`` is built into the interpreter: there is no file to read.
    """
    script = """
        import sys
        before = set(sys.modules)
        assert "threading" not in before, "threading is loaded at start-up here"
        import background
        print(" ".join(sorted(set(sys.modules) - before)))
        """
    added = set(run_bare_python(textwrap.dedent(script)).stdout.split())
    assert added - {"atexit"} == {"background", "background._exithook"}
    assert "atexit" in sys.builtin_module_names


def test_the_first_call_of_a_task_loads_neither_typing_nor_inspect_nor_retries() -> None:
    loaded = _modules_after(
        """
        import background

        @background.task
        def work(x):
            return x + 1

        assert work(1).result() == 2
        """
    )
    assert not {"typing", "inspect", "background._types"} & loaded
    # Nor what only some pools need: the queue module and eager mode.
    assert not {"queue", "background._eager"} & loaded
    # Retries load when first used.
    assert not {"background._launch", "background._retries", "background._retry"} & loaded


def test_background_task_as_a_type_still_works_once_asked_for() -> None:
    loaded = _modules_after(
        """
        import background

        assert background.Task.__name__ == "Task"
        """
    )
    assert "background._types" in loaded


def test_public_names_are_all_importable_and_documented() -> None:
    for name in background.__all__:
        if name == "n":
            assert isinstance(background.n, int)
            continue
        value = getattr(background, name)
        assert value.__doc__, f"background.{name} has no docstring"


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="does_not_exist"):
        background.does_not_exist  # type: ignore[attr-defined]


def test_package_ships_its_type_marker() -> None:
    from importlib.resources import files

    assert files("background").joinpath("py.typed").is_file()
