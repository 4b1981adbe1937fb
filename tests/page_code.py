"""What a reader copies from the docs: each page's code blocks, as the copy button gives them.

The pages are ``docs/**/*.md`` and ``README.md``. A page's *blocks* are the code
blocks its built HTML shows, in page order: MyST fenced blocks (including those
of an ``{include}``-d file, such as the README's pitch on the home page) and the
doctest blocks of the docstrings that ``{eval-rst}`` autodoc directives render
on the API reference. Hidden code (``% invisible-code-block: python``, Sybil's
setup and checks) is a MyST comment: the site does not show it, so it is no
block. A block after ``% skip: next`` (or between ``% skip: start`` and
``% skip: end``) is shown but marked ``skipped``; it is left out of what runs.

:func:`copy_text` gives what the copy button copies from a block: a port of
sphinx-copybutton's ``formatCopyText`` (``copybutton_funcs.js``, version 0.5.2),
fed with the ``copybutton_*`` settings of ``conf/conf.py``. For ``>>>`` examples it
keeps the prompt lines without their prompts and drops the output:

>>> settings = CopyButton(prompt_text=r">>> |\\.\\.\\. ", prompt_is_regexp=True)
>>> copy_text(">>> x = 1\\n>>> x\\n1\\n\\n>>> def f():\\n...     return x\\n", settings)
'x = 1\\nx\\n\\ndef f():\\n    return x'

``tests/test_copy_button.py`` clicks the real buttons of the built site and
checks that this derivation matches them, block for block, on every page.
``python tests/page_code.py docs/tutorial.md`` prints a page's :func:`script`.

From the copied blocks of one page, in order, come

- :func:`paste_input`: what a reader following the page types into
  ``python -i``: each block's copied text, then Enter, then Enter once more
  (which closes a compound statement that ends the block, and does nothing
  at the ``>>>`` prompt);
- :func:`script`: the file a reader saves. A ``>>>`` example that the page shows
  raising (its expected output is a traceback) would stop a file at that point,
  where the interpreter shows the traceback and goes on. So in the file, and
  only there, each such example is wrapped in ``try:`` ... ``except
  BaseException: traceback.print_exc()``: it prints the traceback, as the REPL
  does, and the run goes on with the following code, as the reader's would.
  The tests then require that the tracebacks on standard error are exactly the
  page's (:func:`expected_errors`, compared by :func:`unexpected_errors`): the
  shown exception must be the one raised there, and any other is a failure.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PYTHON_LANGUAGES = {"python", "py", "python3", "pycon", "default", ""}
# Languages that Sphinx and sphinx-copybutton render with a copy button but that
# nothing runs, e.g. ```console (shell commands) and ```text.


@dataclass(frozen=True)
class CopyButton:
    """sphinx-copybutton's settings, with its defaults (``setup()`` in its ``__init__``)."""

    prompt_text: str = ""
    prompt_is_regexp: bool = False
    only_copy_prompt_lines: bool = True
    remove_prompts: bool = True
    copy_empty_lines: bool = True
    line_continuation_character: str = ""
    here_doc_delimiter: str = ""
    exclude: str = ".linenos"

    @classmethod
    def from_conf(cls, conf: Path = ROOT / "conf" / "conf.py") -> CopyButton:
        """The ``copybutton_*`` settings of the Sphinx configuration, read without running it."""
        values: dict[str, Any] = {}
        for node in ast.parse(conf.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and target.id.startswith("copybutton_"):
                    values[target.id.removeprefix("copybutton_")] = ast.literal_eval(node.value)
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{conf}: copybutton settings this port does not know: {unknown}")
        settings = cls(**values)
        if settings.exclude != ".linenos":
            raise ValueError(
                f"{conf}: copybutton_exclude={settings.exclude!r} removes nodes from the "
                "highlighted HTML before copying; tests/page_code.py derives the copied text "
                "from the source and supports only the default '.linenos'"
            )
        return settings


@dataclass(frozen=True)
class Block:
    """One code block as the built page shows it."""

    text: str  # the block's text as the HTML <pre> holds it: its lines, each ending in "\n"
    language: str  # "python", "console", ... ("" when the fence names none)
    origin: str  # where it comes from: "docs/tutorial.md:42" or "docstring of background.task"
    skipped: bool = False  # shown, but Sybil skips it: left out of what runs

    @property
    def is_python(self) -> bool:
        return self.language in PYTHON_LANGUAGES

    @property
    def is_doctest(self) -> bool:
        """Sybil's rule: a Python block that starts with ``>>>`` is a doctest."""
        return self.text.startswith(">>>")


# -- What the copy button copies ----------------------------------------------------------


def copied_lines(text: str, settings: CopyButton) -> list[tuple[int, str]] | None:
    """``formatCopyText``'s kept lines as (index of the source line, text), or None.

    None means that no line had a prompt: the button then copies the text as it is.
    """
    prompt = settings.prompt_text if settings.prompt_is_regexp else re.escape(settings.prompt_text)
    regexp = re.compile(f"^({prompt})(.*)")
    use_line_continuation = bool(settings.line_continuation_character)
    use_here_doc = bool(settings.here_doc_delimiter)
    kept: list[tuple[int, str]] = []
    any_prompt = False
    got_line_continuation = got_here_doc = False
    for index, line in enumerate(text.split("\n")):
        match = regexp.match(line)
        if match or got_line_continuation or got_here_doc:
            prompt_found = match is not None
            any_prompt = any_prompt or prompt_found
            if settings.remove_prompts and match is not None:
                kept.append((index, match.group(2)))
            else:
                kept.append((index, line))
            got_line_continuation = use_line_continuation and line.endswith(
                settings.line_continuation_character
            )
            if use_here_doc and settings.here_doc_delimiter in line:
                got_here_doc = not got_here_doc
        elif not settings.only_copy_prompt_lines or (
            settings.copy_empty_lines and line.strip() == ""
        ):
            kept.append((index, line))
    return kept if any_prompt else None


def copy_text(text: str, settings: CopyButton) -> str:
    """What the copy button puts on the clipboard for a block showing *text*."""
    kept = copied_lines(text, settings)
    if kept is not None:
        text = "\n".join(line for _, line in kept)
    # The button removes one trailing newline, so that a paste does not run at once.
    return text[:-1] if text.endswith("\n") else text


# -- The blocks of a page -------------------------------------------------------------------

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_SKIP = re.compile(r"^[ \t]*%[ \t]*skip:[ \t]*(?P<action>\w+)")
_DIRECTIVE = re.compile(r"^\{(?P<name>[\w:-]+)\}\s*(?P<arguments>.*)$")
_CODE_DIRECTIVES = {"code-block", "code", "sourcecode", "code-cell"}
_AUTODOC = re.compile(
    r"^\.\. auto(?P<kind>function|class|exception|data|method|attribute|property)::"
    r"\s*(?P<name>\S+)"
)


def pages() -> list[Path]:
    """Every page whose code readers copy: the docs pages and the README."""
    found = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.relative_to(DOCS).parts)
    return [*found, ROOT / "README.md"]


def page_id(page: Path) -> str:
    """The page's path from the project's root ("docs/tutorial.md"), or its full path."""
    try:
        return page.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return page.as_posix()


def blocks(page: Path) -> list[Block]:
    """Every code block that the built *page* shows, in order."""
    return _markdown_blocks(page.read_text(encoding="utf-8"), page, first_line=1)


def _split_options(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """A MyST directive's ``:key: value`` options (or ``---`` YAML block) and its content."""
    options: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
        for line in lines[1:end]:
            key, _, value = line.partition(":")
            options[key.strip()] = value.strip()
        return options, lines[end + 1 :]
    while lines and re.match(r"^\s*:[\w-]+:", lines[0]):
        _, key, value = lines[0].split(":", 2)
        options[key.strip()] = value.strip()
        lines = lines[1:]
    return options, lines


def _markdown_blocks(source: str, page: Path, first_line: int) -> list[Block]:
    lines = source.split("\n")
    found: list[Block] = []
    skip_next = skipping = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("<!--"):
            while "-->" not in lines[i]:
                i += 1
            i += 1
            continue
        skip = _SKIP.match(line)
        if skip:
            action = skip["action"]
            skip_next = action == "next"
            skipping = {"start": True, "end": False}.get(action, skipping)
            i += 1
            continue
        fence = _FENCE.match(line)
        if not fence:
            i += 1
            continue
        mark, indent, info = fence["fence"], len(fence["indent"]), fence["info"].strip()
        end = i + 1
        while end < len(lines) and not re.match(
            rf"^[ \t]*{re.escape(mark[0])}{{{len(mark)},}}[ \t]*$", lines[end]
        ):
            end += 1
        content = [_dedent(text, indent) for text in lines[i + 1 : end]]
        origin_line = first_line + i + 1
        directive = _DIRECTIVE.match(info)
        if directive is None:
            language = info.split()[0] if info else ""
            found.append(_block(content, language, page, origin_line, skip_next or skipping))
            skip_next = False
        else:
            name, arguments = directive["name"], directive["arguments"].strip()
            options, body = _split_options(content)
            if name in _CODE_DIRECTIVES:
                found.append(_block(body, arguments, page, origin_line, skip_next or skipping))
                skip_next = False
            elif name == "include":
                found += _included(page, arguments, options)
            elif name == "eval-rst":
                found += _autodoc_blocks(body)
            elif name not in {"toctree", "raw", "math"}:
                # Admonitions and the like hold Markdown, which may hold code blocks.
                found += _markdown_blocks(
                    "\n".join(body), page, origin_line + len(content) - len(body)
                )
        i = end + 1
    return found


def _dedent(line: str, indent: int) -> str:
    """A fenced block's line without the fence's indentation (or as much of it as it has)."""
    return line[min(indent, len(line) - len(line.lstrip())) :]


def _block(content: list[str], language: str, page: Path, line: int, skipped: bool) -> Block:
    return Block("\n".join(content) + "\n", language, f"{page_id(page)}:{line}", skipped)


def _included(page: Path, argument: str, options: dict[str, str]) -> list[Block]:
    included = (page.parent / argument).resolve()
    text = included.read_text(encoding="utf-8")
    offset = 0
    if "start-after" in options:
        offset = text.index(options["start-after"]) + len(options["start-after"])
    end = text.index(options["end-before"], offset) if "end-before" in options else len(text)
    first_line = text.count("\n", 0, offset) + 1
    return _markdown_blocks(text[offset:end], included, first_line)


# -- Docstrings on the API reference ------------------------------------------------------


def _autodoc_blocks(rst: list[str]) -> list[Block]:
    """The doctest blocks of the docstrings that autodoc directives render, in page order."""
    found: list[Block] = []
    i = 0
    while i < len(rst):
        directive = _AUTODOC.match(rst[i].strip())
        i += 1
        if directive is None:
            continue
        options: dict[str, str] = {}
        while i < len(rst) and re.match(r"^\s+:[\w-]+:", rst[i]):
            _, key, value = rst[i].split(":", 2)
            options[key.strip()] = value.strip()
            i += 1
        name = directive["name"]
        obj = _resolve(name)
        documented = [(name, obj)]
        if directive["kind"] in {"class", "exception"}:
            members = [m.strip() for m in options.get("members", "").split(",") if m.strip()]
            members += [
                m.strip() for m in options.get("special-members", "").split(",") if m.strip()
            ]
            documented += sorted(
                ((f"{name}.{m}", inspect.getattr_static(obj, m)) for m in members),
                key=lambda item: _source_line(item[1]),
            )
        if directive["kind"] == "data":
            continue  # module data is documented by #: comments, which hold no examples here
        for qualified, member in documented:
            found += _docstring_blocks(inspect.getdoc(_unwrap(member)) or "", qualified)
    return found


def _resolve(name: str) -> Any:
    module_name, _, attribute = name.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


def _unwrap(member: Any) -> Any:
    if isinstance(member, property):
        return member.fget
    if isinstance(member, (staticmethod, classmethod)):
        return member.__func__
    return member


def _source_line(member: Any) -> int:
    try:
        return inspect.getsourcelines(_unwrap(member))[1]
    except (OSError, TypeError):
        return 0


def _docstring_blocks(docstring: str, qualified: str) -> list[Block]:
    """reST doctest blocks: paragraphs that start with ``>>>``, up to the next blank line."""
    found: list[Block] = []
    lines = docstring.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith(">>>"):
            start = i
            while i < len(lines) and lines[i].strip():
                i += 1
            text = textwrap.dedent("\n".join(lines[start:i])) + "\n"
            found.append(Block(text, "pycon", f"docstring of {qualified}"))
        i += 1
    return found


# -- What runs ------------------------------------------------------------------------------


def runnable_blocks(page: Path) -> list[Block]:
    """The Python blocks a reader copies from *page*, in order (skipped ones left out)."""
    return [block for block in blocks(page) if block.is_python and not block.skipped]


def paste_input(page: Path, settings: CopyButton) -> str:
    """What a reader types into ``python -i`` to follow *page*: paste, Enter, Enter, per block."""
    return "".join(copy_text(block.text, settings) + "\n\n" for block in runnable_blocks(page))


def _doctest_examples(block: Block) -> list[doctest.Example]:
    return doctest.DocTestParser().get_examples(block.text, block.origin)


def expected_errors(page: Path) -> list[str]:
    """The exception lines of the tracebacks that *page* shows on purpose, in order."""
    return [
        example.exc_msg.rstrip("\n")
        for block in runnable_blocks(page)
        if block.is_doctest
        for example in _doctest_examples(block)
        if example.exc_msg is not None
    ]


def script(page: Path, settings: CopyButton) -> str:
    """The file a reader saves from *page* (see the module's docstring for the one change)."""
    chunks: list[str] = []
    for block in runnable_blocks(page):
        kept = copied_lines(block.text, settings)
        if kept is None:
            chunks.append(copy_text(block.text, settings))
            continue
        raising = [
            range(example.lineno, example.lineno + example.source.count("\n"))
            for example in _doctest_examples(block)
            if example.exc_msg is not None
        ]
        out: list[str] = []
        for index, line in kept:
            inside = next((lines for lines in raising if index in lines), None)
            if inside is None:
                out.append(line)
                continue
            if index == inside.start:
                out.append("try:")
            out.append(f"    {line}")
            if index == inside.stop - 1:
                out += ["except BaseException:", '    __import__("traceback").print_exc()']
        chunks.append("\n".join(out).rstrip("\n"))
    return "\n\n\n".join(chunks) + "\n" if chunks else ""


# -- Reading what the interpreter printed ---------------------------------------------------

_CHAINED = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
# A line that names an exception: "ValueError: ...", "background.WorkerDied: ...",
# "SyntaxError: invalid syntax" (which the interpreter prints with no "Traceback"
# header), or an exception logged without a traceback.
_EXCEPTION_LINE = re.compile(
    r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt|Died|Group)\b(?::|$)"
)


def errors_shown(stderr: str) -> list[str]:
    """The exception line of each error printed on *stderr*, in order.

    A traceback counts once, with its last exception (chained ones belong to it).
    So does a line that names an exception outside a traceback: a SyntaxError,
    which the interpreter prints without a "Traceback" header, or an exception
    logged without one.
    """
    lines = [
        line.lstrip(">. ") if line.startswith((">>> ", "... ")) else line
        for line in stderr.splitlines()
    ]
    shown: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("Traceback (most recent call last):"):
            exception = ""
            i += 1
            while i < len(lines):
                current = lines[i]
                if current.strip() in _CHAINED or current.startswith("Traceback ("):
                    i += 1
                    continue
                if current and not current[0].isspace():
                    exception = current
                    if current.endswith((":", ": ")):
                        # The message starts on the next lines (multiprocessing's do).
                        detail = next((f.strip() for f in lines[i + 1 : i + 4] if f.strip()), "")
                        exception = f"{current.rstrip()} {detail}"
                    following = lines[i + 1 : i + 3]
                    if not any(f.strip() in _CHAINED for f in following):
                        break
                i += 1
            shown.append(exception)
        elif _EXCEPTION_LINE.match(line):
            shown.append(line)
        i += 1
    return shown


def unexpected_errors(shown: list[str], expected: list[str]) -> list[str]:
    """What is wrong with the errors *shown*, given the page's *expected* ones (empty: all fine).

    The expected errors must appear in order, each matched as doctest does (``...``
    matches anything); any other error shown is unexpected.
    """
    checker = doctest.OutputChecker()
    problems: list[str] = []
    waiting = [line.split("\n")[0] for line in expected]
    for got in shown:
        if waiting and checker.check_output(waiting[0] + "\n", got + "\n", doctest.ELLIPSIS):
            waiting.pop(0)
        else:
            problems.append(f"unexpected error: {got}")
    problems += [f"the page shows this error, but it was not raised: {want}" for want in waiting]
    return problems


def listing(problems: list[str], most: int = 12) -> str:
    """*problems*, one a line, the first *most* of them (a failing page may print thousands)."""
    shown = problems[:most]
    if len(problems) > most:
        shown.append(f"... and {len(problems) - most} more")
    return "\n".join(shown)


if __name__ == "__main__":
    # python tests/page_code.py PAGE: print the file a reader saves from PAGE.
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python tests/page_code.py PAGE.md  (prints the page's code as a file)")
    print(script(Path(sys.argv[1]).resolve(), CopyButton.from_conf()), end="")
