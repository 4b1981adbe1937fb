"""The built docs site, checked in a real browser: headless Chromium via Playwright.

Runs in ``tox -e docs`` right after the build (which points
``BACKGROUND_DOCS_HTML`` at ``docs/_build/html``); elsewhere it builds the site
into a temporary folder if Sphinx is installed. It serves the site on
127.0.0.1, opens the home page, the tutorial and the search page in Debian's
``/usr/bin/chromium``, and saves screenshots to ``docs/_build/screenshots/``.

Without Chromium or Playwright the tests skip, unless
``BACKGROUND_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where they fail.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "_build" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 30_000


def _unavailable(reason: str) -> None:
    """Skip, or fail where the browser test is required (CI)."""
    if os.environ.get("BACKGROUND_REQUIRE_BROWSER") == "1":
        pytest.fail(f"BACKGROUND_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"{reason} (the browser test runs in `tox -e docs`)")


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )
    if found is None:
        _unavailable("Chromium is not installed (apt-get install chromium)")
    return str(found)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of the built HTML site: tox's build, else a fresh one."""
    built = os.environ.get("BACKGROUND_DOCS_HTML")
    if built:
        folder = Path(built)
        if not (folder / "index.html").is_file():
            pytest.fail(f"BACKGROUND_DOCS_HTML={built} holds no built site", pytrace=False)
        return folder
    if importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("furo") is None:
        _unavailable("Sphinx and furo are not installed, so the site cannot be built")
    folder = tmp_path_factory.mktemp("html")
    subprocess.run(
        [sys.executable, "-m", "sphinx", "-c", "conf", "-b", "html", "-q", "docs", str(folder)],
        cwd=ROOT,
        check=True,
        timeout=600,
    )
    return folder


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    """The site, served over HTTP on 127.0.0.1 (search needs http://, not file://)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium context with a fresh profile, allowed to use the clipboard."""
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
            timeout=TIMEOUT_MS,
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        try:
            yield context
        finally:
            context.close()


def _open(browser: Any, url: str) -> Any:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="load")
    page.errors = errors
    return page


def _screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def test_home_page_renders_furo_layout_with_sidebar_navigation(
    browser: Any, base_url: str
) -> None:
    page = _open(browser, f"{base_url}/index.html")
    _screenshot(page, "home")
    assert page.title().startswith("background")
    heading = page.locator("article h1").first.inner_text()
    assert heading.strip().rstrip("¶").strip() == "background"
    sidebar = page.locator(".sidebar-drawer .sidebar-tree")
    assert sidebar.is_visible()
    entries = [text.strip() for text in sidebar.locator("a.reference").all_inner_texts()]
    for expected in ["Background tasks in Python", "Recipes", "API reference", "Changelog"]:
        assert expected in entries, entries
    assert page.locator(".theme-toggle").count() >= 1  # furo's light/dark switch
    assert page.errors == []


def test_tutorial_has_a_copy_button_on_every_code_block(browser: Any, base_url: str) -> None:
    page = _open(browser, f"{base_url}/tutorial.html")
    _screenshot(page, "tutorial")
    assert page.title().startswith("Background tasks in Python")
    blocks = page.locator("div.highlight pre").count()
    buttons = page.locator("button.copybtn").count()
    assert blocks >= 10
    assert buttons == blocks
    assert page.errors == []


def test_copying_a_doctest_gives_runnable_code_without_prompts_or_output(
    browser: Any, base_url: str
) -> None:
    page = _open(browser, f"{base_url}/index.html")
    block = page.locator("div.highlight", has_text=">>> future = slow_square(7)").first
    block.hover()
    block.locator("button.copybtn").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert ">>>" not in copied
    assert "..." not in copied
    lines = copied.rstrip().splitlines()
    assert "49" not in lines  # the printed output is left out
    assert "[0, 1, 4, 9, 16]" not in lines
    assert "def slow_square(x):" in lines
    assert lines[-1].startswith("background.results([slow_square(x) for x in range(5)])")
    compile(copied, "copied", "exec")


def test_search_finds_the_tutorial_for_callback(browser: Any, base_url: str) -> None:
    page = _open(browser, f"{base_url}/search.html?q=callback")
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(state="visible")
    _screenshot(page, "search")
    targets = [results.nth(i).get_attribute("href") or "" for i in range(results.count())]
    assert any(target.startswith("tutorial.html") for target in targets), targets
    assert page.errors == []
