"""The API reference, generated from the package itself: no hand-kept list of names.

Every public module of ``xpnet`` (every module whose dotted path has no ``_`` part, found by walking the package)
gets a page with its docstring and a table of the names it exports (its ``__all__``; without one, the functions and
classes it defines). Every exported object gets one page, at its *home*: the public module its code lives in (its
``__module__`` with the private parts dropped), or, for plain values, the most specific module that exports it.
A name that several modules export (``xpnet.TwoLayerNet``, ``xpnet.models.TwoLayerNet``, ``xpnet.book2....``) is
documented once; its page lists the other import paths, and the module pages link to it.

Cross-references follow the same map: ``:class:`xpnet.TwoLayerNet``` or a short ``:func:`set_backend``` inside a
docstring of ``xpnet`` resolves to the home page (``missing-reference``), so docstrings may name an object by any
of its public paths. What still does not resolve is reported by Sphinx (``nitpicky``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "xpnet"
OUT = "generated/api"
# classes whose methods a subclass's page does not repeat (ParamDict is a MutableMapping: its page is not dict's manual)
BUILTINS = "object, dict, list, tuple, set, str, int, float, Exception, BaseException, Mapping, MutableMapping"


@dataclass
class Entry:
    """One object and every public path it is exported under."""

    obj: object
    paths: list[tuple[str, str]] = field(default_factory=list)  # (module, name)
    home: tuple[str, str] | None = None

    @property
    def fullname(self) -> str:
        return ".".join(self.home)


def public_modules(package: str = PACKAGE) -> list[str]:
    """Dotted names of the package's public modules (no part starting with ``_``), the package first."""
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, package + "."):
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            names.append(info.name)
    return sorted(set(names), key=lambda n: (n != package, n))


def exports(module) -> list[str]:
    """The names a module exports: its ``__all__`` (what ``import *`` takes), plus the public functions and classes
    it defines (public by their names: ``Dataset``, whose instances fill ``DATASETS``), and without an
    ``__all__`` the public names it assigns at its top level (its constants)."""
    defined = [
        n
        for n, o in vars(module).items()
        if (inspect.isfunction(o) or inspect.isclass(o)) and getattr(o, "__module__", None) == module.__name__
    ]
    if hasattr(module, "__all__"):
        names = [*module.__all__, *defined]
    else:
        tree = ast.parse(inspect.getsource(module))
        assigned = [
            t.id
            for node in tree.body
            if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(t, ast.Name)
        ]
        names = [*defined, *assigned]
    return [n for n in dict.fromkeys(names) if not n.startswith("_") and hasattr(module, n)]


def _key(obj, name: str):
    # plain values (floats, ints, tuples) may be shared by unrelated names: key them by name too
    if inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
        return id(obj)
    return (id(obj), name)


def _home(entry: Entry, modules: set[str]) -> tuple[str, str]:
    exporters = {m for m, _ in entry.paths}
    obj = entry.obj
    if inspect.ismodule(obj):
        return obj.__name__.rsplit(".", 1)[0], obj.__name__.rsplit(".", 1)[1]
    where = getattr(obj, "__module__", None) or ""
    parts = where.split(".")
    candidates = []
    while parts:
        candidates.append(".".join(p for p in parts if not p.startswith("_")))
        parts.pop()
    home = next((m for m in candidates if m in exporters), None)
    if home is None:  # a value: the most specific exporter, the flat lists (xpnet, xpnet.book2) last
        home = max(sorted(exporters), key=lambda m: (m not in (PACKAGE, f"{PACKAGE}.book2"), m.count(".")))
    own = getattr(obj, "__name__", None)
    names = [n for m, n in entry.paths if m == home]
    return home, own if own in names else names[0]


def collect() -> tuple[list[str], dict[str, list[Entry]], dict[str, str], dict[int, str]]:
    """Public modules, the entries whose home is each module, every public path -> its documented name, and
    the id of every documented class and function -> its documented name."""
    modules = public_modules()
    entries: dict[object, Entry] = {}
    for modname in modules:
        module = importlib.import_module(modname)
        for name in exports(module):
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue  # a submodule has its own page
            entries.setdefault(_key(obj, name), Entry(obj)).paths.append((modname, name))
    by_home: dict[str, list[Entry]] = {m: [] for m in modules}
    alias: dict[str, str] = {}
    by_id: dict[int, str] = {}
    for entry in entries.values():
        entry.home = _home(entry, set(modules))
        by_home[entry.home[0]].append(entry)
        for m, n in entry.paths:
            alias[f"{m}.{n}"] = entry.fullname
        if inspect.isclass(entry.obj) or inspect.isroutine(entry.obj):
            by_id[id(entry.obj)] = entry.fullname
        qual = getattr(entry.obj, "__qualname__", None)
        where = getattr(entry.obj, "__module__", None)
        if qual and where:
            alias.setdefault(f"{where}.{qual}", entry.fullname)
    return modules, by_home, alias, by_id


def _title(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def _directive(obj) -> str:
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return "autoexception"
        return "autoclass"
    if inspect.isroutine(obj):
        return "autofunction"
    return "autodata"


def summary(obj) -> str:
    """The first paragraph of an object's docstring on one line (a whole paragraph: no literal is cut in two)."""
    if not (inspect.isclass(obj) or inspect.isroutine(obj)):
        return ""
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def object_page(entry: Entry) -> str:
    module, name = entry.home
    body = [_title(entry.fullname), f".. currentmodule:: {module}\n", f".. {_directive(entry.obj)}:: {name}"]
    if inspect.isclass(entry.obj) and not issubclass(entry.obj, BaseException):
        # a learner looks for TwoLayerNet.gradient on TwoLayerNet's page, wherever the method is written
        body.append(f"   :members:\n   :inherited-members: {BUILTINS}\n   :show-inheritance:")
        body.append("   :special-members: __call__")
    elif inspect.isclass(entry.obj):
        body.append("   :members:\n   :show-inheritance:")
    body.append("")
    others = sorted(f"``{m}.{n}``" for m, n in entry.paths if (m, n) != entry.home)
    if others:
        body.append("Also importable as " + ", ".join(others) + ".\n")
    return "\n".join(body)


def module_page(modname: str, homed: list[Entry], reexported: list[tuple[str, str]]) -> str:
    out = [_title(modname), f".. automodule:: {modname}\n"]
    if homed:
        ordered = sorted(homed, key=lambda e: e.home[1].lower())
        out += [_title("Documented here", "-"), ".. list-table::\n   :widths: 30 70\n"]
        for e in ordered:
            out += [f"   * - :py:obj:`~{e.fullname}`", f"     - {summary(e.obj)}"]
        out += ["", ".. toctree::\n   :hidden:\n"]
        out += [f"   {e.fullname}" for e in ordered]
        out.append("")
    if reexported:
        out += [_title("Also importable from here", "-")]
        out += ["Documented at their home:\n"]
        out += [f"* ``{name}``: :py:obj:`{target}`" for name, target in sorted(reexported, key=lambda p: p[0].lower())]
        out.append("")
    return "\n".join(out)


def plain_roles(text: str) -> str:
    """``:class:`~a.b.C``` -> ````C````: a cross-reference shown as code, for text taken out of its module."""

    def code(m: re.Match) -> str:
        return f"``{m[2].split('.')[-1] if m[1] else m[2]}``"

    return re.sub(r":[\w:]+:`(~?)([^`<]*?)(?: <[^>]*>)?`", code, text)


def book_paths() -> list[str]:
    """The books' module paths (``xpnet.functions``, ...) with the module that holds each, from ``xpnet.BOOK_PATHS``."""
    package = importlib.import_module(PACKAGE)
    paths = package.BOOK_PATHS
    rows = [
        _title("The books' module paths", "-"),
        "Each is the very module object of its home, so ``from xpnet.functions import sigmoid`` and "
        "``from xpnet.layers.functions import sigmoid`` give one function, documented once.\n",
        ".. list-table::\n   :header-rows: 1\n\n   * - the book's path\n     - the module",
    ]
    rows += [f"   * - ``{PACKAGE}.{k}``\n     - :py:mod:`{PACKAGE}.{v}`" for k, v in sorted(paths.items())]
    return [*rows, ""]


def write(srcdir: Path) -> tuple[dict[str, str], dict[int, str]]:
    """Write the API pages under ``srcdir/generated/api``; return the maps that cross-references use."""
    modules, by_home, alias, by_id = collect()
    out = srcdir / OUT
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.rst"):
        old.unlink()
    reexported: dict[str, list[tuple[str, str]]] = {m: [] for m in modules}
    for entries in by_home.values():
        for e in entries:
            for m, n in e.paths:
                if (m, n) != e.home:
                    reexported[m].append((n, e.fullname))
    for modname in modules:
        (out / f"{modname}.rst").write_text(module_page(modname, by_home[modname], reexported[modname]))
        for e in by_home[modname]:
            (out / f"{e.fullname}.rst").write_text(object_page(e))
    rows = []
    for modname in modules:
        doc = (inspect.getdoc(importlib.import_module(modname)) or "").strip().split("\n")[0]
        doc = plain_roles(doc)  # the index has no module context for a docstring's short references
        rows.append(f"   * - :py:mod:`{modname}`\n     - {doc}")
    index = [
        _title("API reference"),
        "Generated from the package when the site is built: every public module of ``xpnet``, every name it exports. "
        "An object exported by several modules (the book's flat lists ``xpnet`` and ``xpnet.book2`` re-export most) "
        "is documented once, at the module its code lives in; its page lists the other paths. Shapes and dtypes are "
        "stated in each docstring.\n",
        ".. list-table::\n   :header-rows: 1\n   :widths: 25 75\n\n   * - module\n     - what it holds",
        *rows,
        "",
        *book_paths(),
        ".. toctree::\n   :hidden:\n",
        *[f"   {m}" for m in modules],
        "",
    ]
    (out / "index.rst").write_text("\n".join(index))
    return alias, by_id


def _reach(path: str):
    """The object a dotted ``xpnet...`` path reaches (a module, or an attribute of one), else None."""
    if path.split(".")[0] != PACKAGE:
        return None
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj
    return None


def documented(path: str, alias: dict[str, str], by_id: dict[int, str]) -> str | None:
    """The documented name for any public path of an object (``xpnet.functions.sigmoid`` -> its home page)."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        home = alias.get(prefix)
        if home is None:
            obj = _reach(prefix)
            if inspect.ismodule(obj):
                home = obj.__name__  # a module served under another path is documented under its own name
            elif obj is not None:
                home = by_id.get(id(obj))
        if home is not None:
            return ".".join([home, *parts[cut:]])
    return None


def _resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    alias, by_id = getattr(app, "xpnet_alias", ({}, {}))
    target = node["reftarget"].lstrip("~")
    module, cls = node.get("py:module"), node.get("py:class")
    relative = target.startswith(".")
    target = target.lstrip(".")
    candidates = [] if relative else [target]
    if module:
        if cls:
            candidates.append(f"{module}.{cls}.{target}")
        # the module, then its packages: an inherited method's docstring was written next to its base class
        parts = module.split(".")
        candidates += [".".join([*parts[:cut], target]) for cut in range(len(parts), 0, -1)]
    domain = env.get_domain("py")
    for cand in candidates:
        full = documented(cand, alias, by_id)
        if full is not None and (full in domain.objects or full in domain.modules):
            new = node.deepcopy()
            new["reftarget"] = full
            new["refspecific"] = False
            return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], full, new, contnode)
    return None


def _public_bases(app, name, obj, options, bases) -> None:
    """Show a class's public bases: a private base (``_Recurrent``) is replaced by its own bases."""

    def expand(base):
        if base.__name__.startswith("_") and base is not object:
            return [b for parent in base.__bases__ for b in expand(parent)]
        return [base]

    public = list(dict.fromkeys(b for base in bases for b in expand(base)))
    bases[:] = [b for b in public if b is not object] or [object]


def _drop_type_docstring(app, what, name, obj, options, lines) -> None:
    """A constant without its own ``#:`` comment would show its type's docstring (``dict``'s): show none."""
    if what in ("data", "attribute") and not inspect.isclass(obj) and not inspect.isroutine(obj):
        own = inspect.getdoc(type(obj))
        if own and lines and lines[0].strip() == own.strip().split("\n")[0].strip():
            lines.clear()


def _generate(app, config) -> None:
    app.xpnet_alias = write(Path(app.srcdir))


def setup(app):
    app.connect("config-inited", _generate)
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("autodoc-process-docstring", _drop_type_docstring)
    app.connect("missing-reference", lambda app, env, node, contnode: _resolve(app, env, node, contnode))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
