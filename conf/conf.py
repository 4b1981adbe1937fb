"""Sphinx configuration of the docs site: ``sphinx-build -c conf docs docs/_build/html``.

The pages are MyST Markdown under ``docs/``; this folder holds the configuration,
the API reference's rendering rules (``reference.py``), the sidebar's project
links (``templates/``) and the Python inventory used for offline intersphinx.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# autodoc imports the package from the checkout, installed or not; the local
# extension (reference.py) lives here.
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import background  # noqa: E402

project = "background"
author = "The background developers"
copyright = "the background developers"
release = background.__version__
version = ".".join(release.split(".")[:2])

# The project's links, from pyproject.toml (the sidebar and the footer show them).
with open(ROOT / "pyproject.toml", "rb") as _file:
    _project = tomllib.load(_file)["project"]
SOURCE = _project["urls"]["Source"]
ISSUES = f"{SOURCE}/issues"
PYPI = f"https://pypi.org/project/{_project['name']}/"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "reference",  # conf/reference.py: signatures, types and "Added in" markers
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/.pytest_cache"]
templates_path = ["templates"]
nitpicky = True
# Type variables appear in signatures but are not documented objects.
nitpick_ignore_regex = [
    (r"py:(class|obj)", r"(typing\.~?|background\._\w+\.)?(P|R|R_co|T|C)(\.args|\.kwargs)?"),
]

# concurrent.futures defines its classes in a private module; document (and
# link) them under the public name that Python's own inventory uses.
import concurrent.futures  # noqa: E402

for _public in (concurrent.futures.Future, concurrent.futures.Executor):
    _public.__module__ = "concurrent.futures"

# -- MyST -------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "smartquotes", "substitution"]
myst_heading_anchors = 3
# The figures that pages quote from the Benchmarks page ({{ bench_fork_server_ms }}),
# written with it by tests/bench/run.py, so that every page shows the same run.
myst_substitutions = json.loads((ROOT / "docs/_static/benchmarks/figures.json").read_text())

# -- autodoc + napoleon (Google style docstrings) ----------------------------
# Signatures without types, which go into each parameter's description instead
# (reference.py merges an @overload-ed function's into one signature).
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "all"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- intersphinx: Python's inventory is committed, so no network is needed ---
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", (str(HERE / "objects.inv"), None)),
}

# -- copybutton: copying a ">>> " example gives code that runs as pasted -----
# Prompts are removed and output left out; empty lines and bare "..." lines
# are kept (as empty lines), since the interactive interpreter needs one to
# end a compound statement. tests/test_pastes.py pastes what this gives.
copybutton_prompt_text = r">>> |\.\.\.(?: |$)|\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_remove_prompts = True
copybutton_copy_empty_lines = True

# -- HTML: furo ---------------------------------------------------------------
html_theme = "furo"
html_title = f"background {release}"
# Only the stylesheet: the benchmark plots under docs/_static are images of
# their page, copied with it.
html_static_path = [str(ROOT / "docs" / "_static" / "css")]
html_css_files = ["background.css"]
html_show_sourcelink = False
html_copy_source = False
html_context = {"project_links": {"Source code": SOURCE, "Issue tracker": ISSUES, "PyPI": PYPI}}
html_sidebars = {
    "**": [
        "sidebar/brand.html",
        "sidebar/search.html",
        "sidebar/scroll-start.html",
        "sidebar/navigation.html",
        "sidebar/project-links.html",  # conf/templates: source code, issue tracker, PyPI
        "sidebar/ethical-ads.html",
        "sidebar/scroll-end.html",
        "sidebar/variant-selector.html",
    ]
}
_GITHUB_ICON = (
    '<svg stroke="currentColor" fill="currentColor" stroke-width="0" viewBox="0 0 16 16">'
    '<path fill-rule="evenodd" d="M8 0C3.58 0 0 3.58 0 8c0 3.54 2.29 6.53 5.47 7.59.4.07.55-.17'
    ".55-.38 0-.19-.01-.82-.01-1.49-2.01.37-2.53-.49-2.69-.94-.09-.23-.48-.94-.82-1.13-.28-.15-"
    ".68-.52-.01-.53.63-.01 1.08.58 1.23.82.72 1.21 1.87.87 2.33.66.07-.52.28-.87.51-1.07-1.78-"
    ".2-3.64-.89-3.64-3.95 0-.87.31-1.59.82-2.15-.08-.2-.36-1.02.08-2.12 0 0 .67-.21 2.2.82.64-"
    ".18 1.32-.27 2-.27.68 0 1.36.09 2 .27 1.53-1.04 2.2-.82 2.2-.82.44 1.1.16 1.92.08 2.12.51."
    "56.82 1.27.82 2.15 0 3.07-1.87 3.75-3.65 3.95.29.25.54.73.54 1.48 0 1.07-.01 1.93-.01 2.2 0"
    ' .21.15.46.55.38A8.013 8.013 0 0 0 16 8c0-4.42-3.58-8-8-8z"></path></svg>'
)
html_theme_options = {
    "sidebar_hide_name": False,
    "navigation_with_keys": True,
    # "Edit this page" and "view the source" buttons on every page, on GitHub.
    "source_repository": f"{SOURCE}/",
    "source_branch": "main",
    "source_directory": "docs/",
    "top_of_page_buttons": ["view", "edit"],
    "footer_icons": [
        {"name": "GitHub", "url": SOURCE, "html": _GITHUB_ICON, "class": ""},
    ],
}
