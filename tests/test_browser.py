"""The built docs site, checked in a real browser: headless Chromium via Playwright.

Runs in ``tox -e docs`` right after the build (which points
``BACKGROUND_DOCS_HTML`` at ``docs/_build/html``); elsewhere it builds the site
into a temporary folder if Sphinx is installed. It serves the site on
127.0.0.1 and opens it in Debian's ``/usr/bin/chromium``: the home page, the
tutorial, search, the API reference and its source pages, the sidebar's
links, and every built page (found on disk, so pages added later are checked
too) at a phone's width and a laptop's, where no page may scroll sideways.
Screenshots go to ``docs/_build/screenshots/``.

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
    sidebar = page.locator(".sidebar-drawer .sidebar-tree:not(.sidebar-project-links)")
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


# -- every page, at a phone's width and a laptop's -----------------------------

#: Boxes meant to scroll sideways on their own: code, tables, formulas, and
#: furo's sidebars (off screen on a phone until opened).
OWN_SCROLL_BOXES = (
    "pre, .highlight, .table-wrapper, .math-wrapper, "
    ".sidebar-drawer, .sidebar-scroll, .toc-drawer, .toc-scroll"
)

#: In the page: what makes it wider than the window, or unreadable there.
#: Returns one sentence per problem.
SIDEWAYS_PROBLEMS_JS = """([own, tablesMustFit]) => {
  const root = document.documentElement;
  const width = root.clientWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim()
      ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const problems = [];
  for (const el of [root, document.body]) {
    if (el.scrollWidth > el.clientWidth + 1) {
      problems.push(`the page is ${el.scrollWidth - el.clientWidth}px wider than the window`);
    }
  }
  const main = document.querySelector('[role=main]') || document.body;
  for (const el of main.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if (el.scrollWidth > el.clientWidth + 1 && style.overflowX !== 'visible' && !el.matches(own)) {
      problems.push(`${name(el)} scrolls sideways by ${el.scrollWidth - el.clientWidth}px`);
    }
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.left < -1 || box.right > width + 1) {
      const scroller = el.parentElement && el.parentElement.closest(own);
      const inside = scroller && scroller.getBoundingClientRect().left >= -1 &&
        scroller.getBoundingClientRect().right <= width + 1;
      if (!inside) {
        problems.push(`${name(el)} spans ${Math.round(box.left)} to ${Math.round(box.right)}px ` +
          `of a ${width}px window, outside any box that scrolls`);
      }
    }
  }
  for (const table of main.querySelectorAll('table.docutils')) {
    const wrapper = table.closest('.table-wrapper');
    if (!wrapper) {
      problems.push(`a table is not in a .table-wrapper: "${table.innerText.slice(0, 40)}"`);
    } else if (table.offsetWidth > wrapper.clientWidth + 1) {
      if (tablesMustFit) {
        problems.push(`a table is ${table.offsetWidth - wrapper.clientWidth}px wider than ` +
          `the text: "${table.innerText.slice(0, 40)}"`);
      } else if (!['auto', 'scroll'].includes(getComputedStyle(wrapper).overflowX)) {
        problems.push(`a wide table's box does not scroll: "${table.innerText.slice(0, 40)}"`);
      }
    }
  }
  for (const img of main.querySelectorAll('img')) {
    if (!img.complete || img.naturalWidth === 0) {
      problems.push(`image ${img.getAttribute('src')} did not load`);
    } else if (img.getBoundingClientRect().width < 0.6 * img.naturalWidth) {
      problems.push(`image ${img.getAttribute('src')} is shown at ` +
        `${Math.round(100 * img.getBoundingClientRect().width / img.naturalWidth)}% ` +
        'of its size, too small to read');
    }
  }
  return [...new Set(problems)];
}"""


def _every_page(site: Path) -> list[str]:
    pages = sorted(path.relative_to(site).as_posix() for path in site.rglob("*.html"))
    assert "index.html" in pages, pages
    return pages


@pytest.mark.parametrize(
    ("width", "height"), [(390, 844), (1280, 900)], ids=["phone-390px", "laptop-1280px"]
)
def test_no_page_scrolls_sideways_and_every_table_and_figure_fits(
    browser: Any, base_url: str, site: Path, width: int, height: int
) -> None:
    pages = _every_page(site)
    assert any(page.startswith("_modules/") for page in pages)  # the source pages too
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    problems = {}
    for name in pages:
        page.goto(f"{base_url}/{name}", wait_until="load")
        # On a laptop every table fits the text column; on a phone a wide one
        # may scroll in its own box.
        found = page.evaluate(SIDEWAYS_PROBLEMS_JS, [OWN_SCROLL_BOXES, width >= 1000])
        if found:
            problems[name] = found
        if width < 600 and name in {"index.html", "api.html", "benchmarks.html"}:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name[:-5]}-{width}px.png"), full_page=True)
    page.close()
    assert problems == {}, f"{len(problems)} of {len(pages)} pages at {width}px: {problems}"
    assert errors == []


# -- the API reference, its source pages and the project links -----------------


def test_api_reference_shows_one_readable_signature_and_a_source_link_per_object(
    browser: Any, base_url: str
) -> None:
    page = _open(browser, f"{base_url}/api.html")
    _screenshot(page, "api")
    text = page.locator("article").inner_text()
    for leak in ("~P", "~typing", "Alias for field number", "background._", "Callable[[...]"):
        assert leak not in text, leak
    # Overloads are merged: each callable has one signature (task has two overloads).
    objects = page.locator("dl.py.function, dl.py.method, dl.py.class, dl.py.exception")
    assert objects.count() >= 25
    for i in range(objects.count()):
        entry = objects.nth(i)
        signatures = entry.locator(":scope > dt.sig")
        assert signatures.count() == 1, signatures.all_inner_texts()
        assert signatures.locator("a .viewcode-link").count() == 1, signatures.inner_text()
    # Types sit in the parameter descriptions, not in the signature.
    task = page.locator("dl.py.function:has(> dt#background\\.task)")
    signature = task.locator(":scope > dt").inner_text()
    assert "pool=None" in signature
    assert ":" not in signature.split("(", 1)[1], signature
    described = task.locator(":scope > dd dl.field-list").inner_text()
    assert "pool (Pool | None)" in described, described
    assert "retries (int)" in described, described
    # "Added in" on every public name, at the top level of the page.
    top = page.locator("article section > dl.py")
    assert top.count() >= 17
    for i in range(top.count()):
        entry = top.nth(i)
        name = entry.locator(":scope > dt").first.get_attribute("id")
        added = entry.locator(":scope > dd > .versionadded").all_inner_texts()
        assert any(f"Added in version 1.{minor}" in line for line in added for minor in (0, 1)), (
            name
        )
    assert page.errors == []


def test_source_link_opens_the_highlighted_source_and_links_back(
    browser: Any, base_url: str
) -> None:
    page = _open(browser, f"{base_url}/api.html")
    page.locator("dt#background\\.task .viewcode-link").click()
    page.wait_for_load_state("load")
    assert "/_modules/background/_task.html" in page.url, page.url
    _screenshot(page, "source-task")
    assert page.locator("div.highlight").first.is_visible()
    definition = page.locator("div.viewcode-block#task")
    assert "def task(" in definition.inner_text()
    back = definition.locator("a.viewcode-back").first.get_attribute("href") or ""
    assert back.endswith("api.html#background.task"), back


def test_sidebar_and_footer_link_to_source_issues_pypi_and_changelog(
    browser: Any, base_url: str
) -> None:
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as file:
        project = tomllib.load(file)["project"]
    source = project["urls"]["Source"]
    page = _open(browser, f"{base_url}/tutorial.html")
    sidebar = page.locator(".sidebar-drawer")
    links = sidebar.locator(".sidebar-project-links a")
    found = {
        links.nth(i).inner_text().strip(): links.nth(i).get_attribute("href")
        for i in range(links.count())
    }
    assert found == {
        "Source code": source,
        "Issue tracker": f"{source}/issues",
        "PyPI": f"https://pypi.org/project/{project['name']}/",
    }
    assert links.first.is_visible()
    changelog = sidebar.locator("a.reference.internal", has_text="Changelog")
    assert changelog.get_attribute("href") == "changelog.html"
    assert page.locator(f'footer .icons a[href="{source}"]').count() == 1
    edit = page.locator(".edit-this-page a").get_attribute("href") or ""
    assert edit == f"{source}/edit/main/docs/tutorial.md", edit
    changelog.click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/changelog.html")
    assert page.locator("article h1").first.inner_text().startswith("Changelog")
