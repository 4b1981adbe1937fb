"""How the API reference renders: a local Sphinx extension that conf.py loads.

- **One signature per callable.** An ``@overload``-ed function shows its
  implementation's signature once (conf.py puts no types in signatures), and
  the types its overloads declare go into its parameter descriptions.
- **No garbled or leaked internals.** ``Callable[P, R]`` stays ``Callable[P, R]``
  (Sphinx prints ``Callable[[P], R]`` for a ParamSpec), ``*args: P.args`` gets
  no type, a generic base such as ``Future[T]`` shows as ``Future``, and a
  NamedTuple field without a ``#:`` comment fails the build instead of
  reading "Alias for field number 0".
- **"Added in" markers.** Each public name gets ``Added in version 1.0`` unless
  its docstring says otherwise. Something documented that 1.0 did not have
  (listed in ``IN_1_0``) must carry ``.. versionadded:: 1.1`` (a name) or
  ``.. versionchanged:: 1.1`` naming it (a parameter), else the build fails:
  see docs/contributing.md.
"""

from __future__ import annotations

import inspect
import re
import sys
import typing
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.inspect import evaluate_signature
from sphinx.util.inspect import signature as sphinx_signature
from sphinx.util.typing import stringify_annotation

logger = logging.getLogger(__name__)

#: What background 1.0.0 documented: each name, with its parameters.
#: Never edit an entry; a later addition is marked in its docstring instead.
IN_1_0: dict[str, str] = {
    "background.task": "fn pool process callback retries retry_on backoff max_pending timeout",
    "background.Task": "",
    "background.Task.__call__": "args kwargs",
    "background.Task.map": "iterables timeout chunksize buffersize",
    "background.run": "fn args kwargs",
    "background.n": "",
    "background.results": "futures timeout progress",
    "background.wait": "futures timeout return_when progress",
    "background.as_completed": "futures timeout progress",
    "background.DoneAndNotDone": "done not_done",
    "background.DoneAndNotDone.done": "",
    "background.DoneAndNotDone.not_done": "",
    "background.Future": "",
    "background.Future.result": "timeout",
    "background.Future.exception": "timeout",
    "background.WorkerDied": "message task exitcode",
    "background.WorkerDied.task": "",
    "background.WorkerDied.exitcode": "",
    "background.Pool": "n process executor name max_pending initializer initargs "
    "start_method max_tasks_per_worker timeout",
    "background.Pool.n": "",
    "background.Pool.process": "",
    "background.Pool.name": "",
    "background.Pool.closed": "",
    "background.Pool.outstanding": "",
    "background.Pool.submit": "fn args kwargs",
    "background.Pool.map": "fn iterables timeout chunksize buffersize",
    "background.Pool.task": "fn options",
    "background.Pool.shutdown": "wait cancel_futures",
    "background.Pool.cancel_queued": "",
    "background.dask_pool": "cluster name max_pending timeout client_kwargs",
    "background.default_pool": "process",
    "background.use": "pool process",
    "background.shutdown": "wait cancel_futures",
    "background.callback": "fn",
    "background.remove_callback": "fn",
}

_ADDED = re.compile(r"^\s*\.\. versionadded::")
_CHANGED = re.compile(r"^\s*\.\. versionchanged::")
_ALIAS = re.compile(r"^Alias for field number \d+$")

# The overloads taken away from Sphinx's module analyzers, so that it shows
# one signature; kept here for rebuilds, which ask again.
_overloads: dict[tuple[str, str], list[inspect.Signature]] = {}


def _take_overloads(obj: Any) -> list[inspect.Signature]:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return []
    key = (module, qualname)
    if key not in _overloads:
        try:
            analyzer = ModuleAnalyzer.for_module(module)
            analyzer.analyze()
        except Exception:  # no source (a C module): nothing to merge
            return []
        found = analyzer.overloads.pop(qualname, None)
        if found is None:
            return []
        _overloads[key] = found
    return _overloads[key]


def _stringify(annotation: Any, namespace: dict[str, Any]) -> str | None:
    """Sphinx's rendering of a type hint, with its Callable mistakes fixed."""
    if isinstance(annotation, (typing.ParamSpecArgs, typing.ParamSpecKwargs)):
        return None  # ``*args: P.args``: the wrapped function's own arguments
    if isinstance(annotation, typing.TypeVar) and annotation.__bound__ is not None:
        annotation = annotation.__bound__  # ``fn: C``: say what C stands for
    text = stringify_annotation(annotation, "smart")
    text = text.replace("[[...], ", "[..., ")  # Callable[..., R]
    for value in namespace.values():
        if isinstance(value, typing.ParamSpec):
            spec = re.escape(stringify_annotation(value, "smart"))  # "~P"
            text = re.sub(rf"\[\[{spec}\], ", f"[{value.__name__}, ", text)
            text = re.sub(rf"(?<![\w.]){spec}\b", value.__name__, text)
    return text


def _types(signature: inspect.Signature, namespace: dict[str, Any]) -> dict[str, str]:
    out = {}
    for parameter in signature.parameters.values():
        if parameter.annotation is not parameter.empty:
            text = _stringify(parameter.annotation, namespace)
            if text is not None:
                out[parameter.name] = text
    if signature.return_annotation is not signature.empty:
        text = _stringify(signature.return_annotation, namespace)
        if text is not None:
            out["return"] = text
    return out


def _record_types(
    app: Sphinx,
    what: str,
    name: str,
    obj: Any,
    options: Any,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str, str] | None:
    """autodoc-process-signature: one signature; the types for the descriptions."""
    if what == "class" and name == "background.Task":
        return "", ""  # a Protocol: its ``(*args, **kwargs)`` is noise
    if what not in {"function", "method", "class", "exception", "decorator"}:
        return None
    is_class = what in {"class", "exception"}
    constructor = obj.__init__ if is_class else obj
    module = sys.modules.get(getattr(obj, "__module__", ""), None)
    namespace = getattr(constructor, "__globals__", None) or vars(module or sys)
    aliases = app.config.autodoc_type_aliases
    try:
        types = _types(sphinx_signature(obj, type_aliases=aliases), namespace)
    except (TypeError, ValueError):
        return None
    merged: dict[str, list[str]] = {}
    for overload in _take_overloads(constructor):
        overload = evaluate_signature(overload, namespace, aliases)
        for key, text in _types(overload, namespace).items():
            if text not in merged.setdefault(key, []):
                merged[key].append(text)
    for key, texts in merged.items():
        types[key] = " | ".join(texts)
    if types.get("return") == "None" or is_class:
        types.pop("return", None)
    if _is_namedtuple(obj):
        types.clear()  # its fields are documented, with their types, as attributes
    app.env.current_document.autodoc_annotations[name] = types
    return None


def _check_docstring(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """autodoc-process-docstring: no leaked NamedTuple filler; "Added in" markers."""
    if what in {"function", "method", "class", "exception", "decorator"}:
        _list_every_parameter(obj, lines)
    if len(lines) == 1 and _ALIAS.match(lines[0].strip()):
        logger.warning(
            "%s has no description: add a '#:' comment above the field", name, type="reference"
        )
        lines.clear()
    if not name.startswith("background."):
        return
    added = any(_ADDED.match(line) for line in lines)
    if name not in IN_1_0:
        if not added:
            logger.warning(
                "%s is new since 1.0: add '.. versionadded:: 1.1' to its docstring",
                name,
                type="reference",
            )
        return
    _check_new_parameters(name, obj, lines)
    if not added and name.count(".") == 1:  # a public name; its members came with it
        lines.extend(["", ".. versionadded:: 1.0"])


_FIELD = re.compile(r"^:(param|type|returns?|rtype|raises?)\b")


def _list_every_parameter(obj: Any, lines: list[str]) -> None:
    """Give each undescribed parameter an empty ``:param:``, where its type goes.

    Sphinx would append their types after the whole docstring, below its
    examples; this puts them in the docstring's field list, before Returns.
    """
    if getattr(obj, "_is_protocol", False) or _is_namedtuple(obj):
        return
    try:
        parameters = sphinx_signature(obj).parameters.values()
    except (TypeError, ValueError):
        return
    described = {
        line[1:].split(":", 1)[0].split()[-1].replace("\\", "").lstrip("*")
        for line in lines
        if line.startswith(":param ")
    }
    missing = []
    for parameter in parameters:
        if parameter.name in {"self", "cls"} or parameter.name in described:
            continue
        if isinstance(parameter.annotation, (typing.ParamSpecArgs, typing.ParamSpecKwargs)):
            continue
        stars = {parameter.VAR_POSITIONAL: "\\*", parameter.VAR_KEYWORD: "\\*\\*"}
        missing.append(f":param {stars.get(parameter.kind, '')}{parameter.name}:")
    if not missing:
        return
    fields = [i for i, line in enumerate(lines) if _FIELD.match(line)]
    params = [i for i in fields if lines[i].startswith((":param", ":type"))]
    if params:
        at = params[-1] + 1
        while at < len(lines) and lines[at].startswith(" "):
            at += 1  # the last description's continuation lines
        lines[at:at] = missing
        return
    ends = [i for i, line in enumerate(lines) if line.startswith(".. ")]
    at = min(fields + ends + [len(lines)])
    lines[at:at] = ["", *missing, ""]


def _is_namedtuple(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")


def _check_new_parameters(name: str, obj: Any, lines: list[str]) -> None:
    if getattr(obj, "_is_protocol", False):
        return  # a Protocol such as Task: it has no constructor to speak of
    try:
        parameters = list(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return
    changes = "\n".join(
        line for i, line in enumerate(lines) if any(_CHANGED.match(x) for x in lines[: i + 1])
    )
    for parameter in parameters:
        if parameter in {"self", "cls"} or parameter in IN_1_0[name].split():
            continue
        if not re.search(rf"\b{re.escape(parameter)}\b", changes):
            logger.warning(
                "%s: parameter %r is new since 1.0: add '.. versionchanged:: 1.1' "
                "naming it to the docstring",
                name,
                parameter,
                type="reference",
            )


def _plain_bases(app: Sphinx, name: str, obj: Any, options: Any, bases: list[Any]) -> None:
    """autodoc-process-bases: ``Future[T]`` shows as ``concurrent.futures.Future``,
    and a private base (``Pool``'s ``_stopping.Stopping``) is not shown."""
    public = set(getattr(sys.modules.get("background"), "__all__", ()))
    bases[:] = [
        base
        for base in bases
        if not (
            isinstance(base, type)
            and base.__module__.startswith("background._")
            and base.__name__ not in public
        )
    ]
    for i, base in enumerate(bases):
        base = typing.get_origin(base) or base
        if isinstance(base, type):
            base = f":py:class:`{base.__module__}.{base.__qualname__}`"
        bases[i] = base


def _source_module(app: Sphinx, modname: str, attribute: str) -> str | None:
    """viewcode-follow-imported: a member's source is where its class is defined.

    (A NamedTuple field would otherwise send viewcode to ``collections``.)
    """
    module = sys.modules.get(modname)
    top = getattr(module, attribute.split(".")[0], None)
    home = getattr(top, "__module__", None) if callable(top) else None
    return home if isinstance(home, str) else modname


def _inherited_sources(app: Sphinx, doctree: nodes.document) -> None:
    """doctree-read, before viewcode: an inherited member's source link goes to
    the class that defines it (``Pool.kill`` is ``_stopping.Stopping.kill``)."""
    for signode in doctree.findall(addnodes.desc_signature):
        module, fullname = signode.get("module"), signode.get("fullname")
        if not module or not fullname or "." not in fullname:
            continue
        owner_path, _, member = fullname.rpartition(".")
        owner: Any = sys.modules.get(module)
        for part in owner_path.split("."):
            owner = getattr(owner, part, None)
        if not isinstance(owner, type):
            continue
        home = next((c for c in owner.__mro__ if member in vars(c)), owner)
        if home is not owner and home.__module__.startswith("background."):
            signode["module"] = home.__module__
            signode["fullname"] = f"{home.__qualname__}.{member}"


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", _inherited_sources, priority=400)
    app.connect("viewcode-follow-imported", _source_module)
    app.connect("autodoc-process-signature", _record_types)
    app.connect("autodoc-process-docstring", _check_docstring)
    app.connect("autodoc-process-bases", _plain_bases)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
