"""The package's shape: small modules, short functions (the layers: `tox -e lint`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "background"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _code_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function without its docstring."""
    first = function.body[0]
    start = function.lineno
    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    if docstring and isinstance(first.value.value, str) and len(function.body) > 1:  # type: ignore[attr-defined]
        start = function.body[1].lineno
    return int(function.end_lineno or start) - start + 1


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_no_module_is_over_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_no_function_is_over_60_lines_of_code(path: Path) -> None:
    tree = ast.parse(path.read_text())
    long = [
        f"{node.name} ({_code_lines(node)} lines)"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _code_lines(node) > 60
    ]
    assert not long


def test_the_layers_contract_names_every_module() -> None:
    """import-linter checks the order; this checks that no module escapes it."""
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    block = text[text.index("layers = [") : text.index("]", text.index("layers = ["))]
    listed = {
        f"background.{name.strip()}"
        for line in block.splitlines()[1:]
        for name in line.strip().strip('",').split("|")
        if name.strip()
    }
    modules = {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for path in MODULES
        if path.name != "__init__.py"
    }
    assert modules == listed
