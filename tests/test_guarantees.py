"""The Guarantees page points only at tests that exist, and keeps them out of the text.

Every promise section ends with a collapsed ``<details>`` list of the tests that
hold it; the prose around it names none, so the page reads as promises.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "guarantees.md"
#: The one section that is an overview of the others, and holds no tests itself.
OVERVIEW = "Where each promise holds"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")
TESTS_BLOCK = re.compile(r"<details>\n<summary>Tests</summary>\n(.*?)\n</details>", re.DOTALL)


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test_")
    }


def _sections() -> dict[str, str]:
    parts = re.split(r"^## ", PAGE.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]
    return {part.splitlines()[0]: part for part in parts}


def test_every_test_named_on_the_guarantees_page_exists() -> None:
    named = REFERENCE.findall(PAGE.read_text(encoding="utf-8"))
    assert len(named) >= 30, "the page lost its references"
    missing = []
    for file, test in named:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
        elif test and test not in _tests_in(path):
            missing.append(f"{file}::{test}")
    assert missing == []


def test_every_promise_section_ends_with_its_tests_and_names_none_in_its_text() -> None:
    sections = _sections()
    assert len(sections) >= 10
    assert OVERVIEW in sections
    for heading, section in sections.items():
        blocks = TESTS_BLOCK.findall(section)
        prose = TESTS_BLOCK.sub("", section)
        assert REFERENCE.search(prose) is None, f"{heading}: a test named outside its list"
        if heading == OVERVIEW:
            assert blocks == [], heading
            continue
        assert len(blocks) == 1, f"{heading}: needs one collapsed list of tests"
        assert REFERENCE.search(blocks[0]), f"{heading}: its list names no test"
        assert section.rstrip().endswith("</details>"), f"{heading}: the tests come last"
        assert "Where it holds\n: " in prose, f"{heading}: says nowhere where it holds"


def test_the_overview_links_every_promise_section() -> None:
    overview = _sections()[OVERVIEW]
    linked = set(re.findall(r"\]\(#([\w-]+)\)", overview))
    for heading in _sections():
        if heading == OVERVIEW or heading.startswith(("Interrupts", "Fork", "Bad input")):
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        assert slug in linked, f"the overview table does not link {heading!r}"
