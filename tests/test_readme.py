"""The README works where people read it (PyPI, GitHub) and installs this library.

Its links into the docs are absolute, to pages that exist; its install commands
name this project's source repository and extras as ``pyproject.toml`` does.
(CI runs the install itself, from a git URL, in a clone that sees one Python:
``.ci/run``.)
"""

from __future__ import annotations

import re

from page_code import DOCS, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
SITE = "https://background.readthedocs.io/en/latest/"


def _pyproject_value(key: str) -> str:
    match = re.search(rf'^{key} = "([^"]+)"$', PYPROJECT, re.MULTILINE)
    assert match, f"pyproject.toml has no {key} = ..."
    return match.group(1)


def _extras() -> set[str]:
    section = PYPROJECT.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"^(\w+) = ", section, re.MULTILINE))


def _install_section() -> str:
    return README.split("<!-- install-start -->", 1)[1].split("<!-- install-end -->", 1)[0]


def test_links_into_the_docs_are_absolute_and_lead_to_pages_that_exist() -> None:
    targets = re.findall(r"\]\(([^)]+)\)", README)
    assert targets
    relative = [t for t in targets if not re.match(r"https?://", t)]
    assert relative == [], "relative links break on PyPI"
    pages = [t[len(SITE) :] for t in targets if t.startswith(SITE)]
    assert pages
    for page in pages:
        assert page.endswith(".html"), page
        assert (DOCS / page).with_suffix(".md").is_file(), f"no docs page for {SITE}{page}"
    assert _pyproject_value("Documentation") in README


def test_the_install_commands_name_this_repository_and_its_extras() -> None:
    install = _install_section()
    source = _pyproject_value("Source")
    assert f'pip install "background @ git+{source}"' in install
    assert f"git clone {source}" in install
    assert "pip install .\n" in install
    named = set(re.findall(r"^- `(\w+)`:", install, re.MULTILINE))
    assert named == _extras()
    for command in re.findall(r'pip install "[^"]*\[([\w,]+)\][^"]*"', install):
        assert set(command.split(",")) <= _extras(), command


def test_the_install_section_says_what_pypi_has_until_the_release() -> None:
    install = _install_section()
    assert "0.2.1" in install
    assert "not on PyPI yet" in install


def test_the_home_page_shows_the_same_install_section() -> None:
    home = (DOCS / "index.md").read_text(encoding="utf-8")
    assert ":start-after: <!-- install-start -->" in home
    assert ":end-before: <!-- install-end -->" in home
