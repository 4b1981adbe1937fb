"""Sphinx configuration of the docs site: ``sphinx-build -c conf docs docs/_build/html``.

The pages are MyST Markdown under ``docs/``; this folder holds only configuration
and the Python inventory used for offline intersphinx.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# autodoc imports the package from the checkout, installed or not.
sys.path.insert(0, str(ROOT))

import background  # noqa: E402

project = "background"
author = "The background developers"
copyright = "the background developers"
release = background.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx_copybutton",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/.pytest_cache"]
templates_path: list[str] = []
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
myst_enable_extensions = ["colon_fence", "deflist", "smartquotes"]
myst_heading_anchors = 3

# -- autodoc + napoleon (Google style docstrings) ----------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- intersphinx: Python's inventory is committed, so no network is needed ---
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", (str(HERE / "objects.inv"), None)),
}

# -- copybutton: copying a ">>> " example gives code that runs as pasted -----
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_remove_prompts = True
copybutton_copy_empty_lines = True

# -- HTML: furo ---------------------------------------------------------------
html_theme = "furo"
html_title = f"background {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "sidebar_hide_name": False,
    "top_of_page_buttons": [],
    "navigation_with_keys": True,
}


def _hide_protocol_signature(app, what, name, obj, options, signature, return_annotation):
    """``background.Task`` is a Protocol: its ``(*args, **kwargs)`` is noise."""
    if what == "class" and name == "background.Task":
        return "", return_annotation
    return None


def setup(app):
    app.connect("autodoc-process-signature", _hide_protocol_signature)
