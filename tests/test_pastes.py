"""Every page's copied examples run when pasted into an interactive interpreter.

A reader following a page copies each block with its copy button and pastes it
into ``python``, then presses Enter (and Enter once more where the paste ends
inside a ``def``, a ``for`` or a ``with``). The copied text comes from
``page_code.copy_text``, the copy button's own algorithm fed with the site's
settings (``tests/test_copy_button.py`` checks it against the real button).

- The classic interpreter of Python 3.9 to 3.12, and 3.13's when its input is
  not a terminal, reads a paste line by line, exactly as it reads piped input:
  the blocks go, one after the other, to ``python -i`` on standard input.
- Python 3.13's new interpreter runs only in a terminal, where it turns on
  bracketed paste: on 3.13 and later the blocks are also pasted into it through
  a pseudo-terminal.

Either fails on a SyntaxError, or on any error the page does not show on purpose.
"""

from __future__ import annotations

import sys
from pathlib import Path

import page_code
import page_runs
import pytest

SETTINGS = page_code.CopyButton.from_conf()
PAGES = [page for page in page_code.pages() if page_code.runnable_blocks(page)]


def _check(page: Path, ran: page_runs.Run) -> None:
    report = f"{page_code.page_id(page)}, pasted block after block:\n{ran.report()}"
    problems = page_code.unexpected_errors(
        page_code.errors_shown(ran.stderr), page_code.expected_errors(page)
    )
    assert not problems, f"{page_code.listing(problems)}\n{report}"
    assert ran.returncode == 0, report


@pytest.mark.parametrize("page", PAGES, ids=page_code.page_id)
def test_the_page_pastes_into_the_interactive_interpreter(page: Path) -> None:
    _check(page, page_runs.run(["-i", "-q"], stdin=page_code.paste_input(page, SETTINGS)))


if sys.version_info >= (3, 13) and sys.platform != "win32":  # a pty: POSIX only

    @pytest.mark.parametrize("page", PAGES, ids=page_code.page_id)
    def test_the_page_pastes_into_the_new_interactive_interpreter(page: Path) -> None:
        pastes = [page_code.copy_text(b.text, SETTINGS) for b in page_code.runnable_blocks(page)]
        _check(page, page_runs.run_in_terminal(pastes))


def _page(tmp_path: Path, markdown: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(markdown, encoding="utf-8")
    return page


def test_a_function_not_closed_by_an_empty_line_is_a_syntax_error_when_pasted(
    tmp_path: Path,
) -> None:
    page = _page(tmp_path, "```python\n>>> def f():\n...     return 1\n>>> f()\n1\n```\n")
    ran = page_runs.run(["-i", "-q"], stdin=page_code.paste_input(page, SETTINGS))
    assert page_code.errors_shown(ran.stderr) == ["SyntaxError: invalid syntax"], ran.report()


def test_an_empty_line_after_the_function_makes_it_paste(tmp_path: Path) -> None:
    page = _page(tmp_path, "```python\n>>> def f():\n...     return 1\n\n>>> f()\n1\n```\n")
    ran = page_runs.run(["-i", "-q"], stdin=page_code.paste_input(page, SETTINGS))
    assert page_code.errors_shown(ran.stderr) == [], ran.report()
    assert ran.stdout == "1\n"


if sys.version_info >= (3, 13) and sys.platform != "win32":  # a pty: POSIX only

    def test_the_new_interpreter_reports_errors_in_a_paste() -> None:
        ran = page_runs.run_in_terminal(["x = 1", "print(x + 1)", "1 / 0", "def f(:"])
        assert ran.returncode == 0, ran.report()
        assert "\n2\n" in ran.stdout
        shown = page_code.errors_shown(ran.stdout)
        assert shown == ["ZeroDivisionError: division by zero", "SyntaxError: invalid syntax"], (
            ran.report()
        )
