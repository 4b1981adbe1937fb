"""Every page's code runs saved as a file: ``python example.py`` in an empty folder.

The file is what a reader copies from the page, block after block (see
``page_code.script``), run by this test environment's Python in a fresh process.
It fails on a non-zero exit, on an error the page does not show (a traceback, or
an exception logged on standard error), and on output printed more often than
the page's code prints it: that is what worker processes do when they import the
script and run its top level again. (How often the code prints a line is what
the same code prints when run with ``python -c``, where there is no script file
that a worker could import.)
"""

from __future__ import annotations

from pathlib import Path

import page_code
import page_runs
import pytest

SETTINGS = page_code.CopyButton.from_conf()
PAGES = [page for page in page_code.pages() if page_code.runnable_blocks(page)]


@pytest.mark.parametrize("page", PAGES, ids=page_code.page_id)
def test_the_page_runs_saved_as_a_file(page: Path) -> None:
    code = page_code.script(page, SETTINGS)
    ran = page_runs.run(["example.py"], files={"example.py": code})
    report = f"{page_code.page_id(page)} saved as example.py:\n{ran.report()}"

    problems = page_code.unexpected_errors(
        page_code.errors_shown(ran.stderr), page_code.expected_errors(page)
    )
    assert not problems, f"{page_code.listing(problems)}\n{report}"
    assert ran.returncode == 0, report

    if page_runs.repeated_lines(ran.stdout, reference=""):
        reference = page_runs.run(
            ["-c", "exec(open('example.py').read())"], files={"example.py": code}
        )
        repeated = page_runs.repeated_lines(ran.stdout, reference.stdout)
        assert not repeated, (
            "printed more often than the code prints it (workers running the script's top "
            f"level again?): {repeated}\n{report}"
        )


def test_a_traceback_the_page_does_not_show_fails_the_run() -> None:
    ran = page_runs.run(["example.py"], files={"example.py": "print('one')\n1 / 0\n"})
    shown = page_code.errors_shown(ran.stderr)
    assert shown == ["ZeroDivisionError: division by zero"]
    assert page_code.unexpected_errors(shown, expected=[]) == [
        "unexpected error: ZeroDivisionError: division by zero"
    ]
    assert ran.returncode == 1


def test_an_error_the_page_shows_must_be_the_one_raised(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\n"
        ">>> import math\n"
        ">>> math.sqrt(-1)\n"
        "Traceback (most recent call last):\n"
        "  ...\n"
        "ValueError: math domain error\n"
        ">>> print('after')\n"
        "after\n"
        "```\n"
        "```python\n"
        ">>> int('x')\n"
        "Traceback (most recent call last):\n"
        "  ...\n"
        "KeyError: 'x'\n"
        "```\n",
        encoding="utf-8",
    )
    code = page_code.script(page, SETTINGS)
    ran = page_runs.run(["example.py"], files={"example.py": code})
    assert ran.returncode == 0, ran.report()
    assert ran.stdout == "after\n"  # the run went on after the error it shows
    problems = page_code.unexpected_errors(
        page_code.errors_shown(ran.stderr), page_code.expected_errors(page)
    )
    assert problems == [
        "unexpected error: ValueError: invalid literal for int() with base 10: 'x'",
        "the page shows this error, but it was not raised: KeyError: 'x'",
    ]


def test_output_repeated_by_workers_that_import_the_script_is_caught() -> None:
    # A script without a main guard, whose process pool starts workers with
    # "spawn": each worker imports the script and prints its first line again.
    code = (
        "import concurrent.futures, multiprocessing\n"
        "print('starting')\n"
        "context = multiprocessing.get_context('spawn')\n"
        "try:\n"
        "    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:\n"
        "        print(list(pool.map(abs, [-1, -2])))\n"
        "except Exception as error:\n"
        "    print(type(error).__name__)\n"
    )
    ran = page_runs.run(["example.py"], files={"example.py": code})
    reference = page_runs.run(
        ["-c", "exec(open('example.py').read())"], files={"example.py": code}
    )
    assert reference.stdout.splitlines().count("starting") == 1, reference.report()
    assert page_runs.repeated_lines(ran.stdout, reference.stdout), ran.report()
