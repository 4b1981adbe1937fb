"""The copy buttons of the built site copy exactly what ``page_code.copy_text`` derives.

The tests that run the pages as pastes and as files (``tests/test_pastes.py``,
``tests/test_pages_as_files.py``) derive what a reader copies from the Markdown
sources and the copy button's settings, on every Python. This test proves the
derivation right where it counts: in headless Chromium, on the built site
(``tox -e docs``), it clicks the copy button of every code block of every page
and compares the clipboard with the derived text, block for block and in order.
It uses the fixtures of ``tests/test_browser.py``, so it skips and fails as that
test does (skips without Chromium, fails then if ``BACKGROUND_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import page_code
import pytest

if importlib.util.find_spec("playwright") is None:
    pytest.skip("Playwright drives the browser in `tox -e docs`", allow_module_level=True)

from test_browser import base_url, browser, site  # noqa: F401 (fixtures)

SETTINGS = page_code.CopyButton.from_conf()
PAGES = [page for page in page_code.pages() if page.is_relative_to(page_code.DOCS)]
NOTHING = "<nothing copied>"


def _html_name(page: Path) -> str:
    return page.relative_to(page_code.DOCS).with_suffix(".html").as_posix()


@pytest.mark.parametrize("page", PAGES, ids=page_code.page_id)
def test_every_copy_button_copies_what_the_tests_derive(
    page: Path,
    browser: Any,  # noqa: F811
    base_url: str,  # noqa: F811
) -> None:
    tab = browser.new_page()
    tab.goto(f"{base_url}/{_html_name(page)}", wait_until="load")
    blocks = page_code.blocks(page)
    shown = tab.locator("div.highlight pre").count()
    assert shown == len(blocks), (
        f"{_html_name(page)} shows {shown} code blocks, tests/page_code.py finds "
        f"{len(blocks)}: {[block.origin for block in blocks]}"
    )
    buttons = tab.locator("button.copybtn")
    for index, block in enumerate(blocks):
        tab.evaluate(f"navigator.clipboard.writeText({NOTHING!r})")
        buttons.nth(index).click()
        tab.wait_for_function(f"navigator.clipboard.readText().then(t => t !== {NOTHING!r})")
        copied = tab.evaluate("navigator.clipboard.readText()")
        assert copied == page_code.copy_text(block.text, SETTINGS), (
            f"block {index + 1} of {_html_name(page)} ({block.origin}): "
            f"the button copied {copied!r}"
        )
    tab.close()
