"""Sphinx configuration of xpnet's site. Build it with ``nox -s docs`` (a clean build with ``-W`` plus the
browser test) or, in an environment with the ``docs`` dependency group, ``sphinx-build -W -n docs docs/_build/html``.

Why these choices:

* **Sphinx with myst-parser and myst-nb**: the tool of the scientific Python sites the books' learners already
  read (NumPy, SciPy, scikit-learn, CuPy, PyTorch). Pages are Markdown like README.md, BENCHMARKS.md and
  CHANGELOG.md, which are *included*, not copied; the example notebooks are executed when the site is built.
* **pydata-sphinx-theme** rather than furo: it is the theme of NumPy, SciPy, pandas and scikit-learn, so a learner
  finds the API reference, the search box and the page contents where those sites put them. Both work offline;
  nothing here depends on the difference.
* **Nothing from another host**: MathJax (for the notebooks' formulas) is served from ``_static``, copied from the
  ``django-static-mathjax`` wheel (MathJax 3.2.2 as a Python package, no Django needed); ipywidgets' CDN scripts
  are switched off. The site works offline and the browser test sees no failed request.
* **nitpicky = True** and ``-W``: every cross-reference to an xpnet name resolves. Names of other libraries
  (NumPy, the standard library, ...) cannot: no intersphinx inventory is reachable offline, so they are listed in
  ``nitpick_ignore_regex`` below, each pattern an outside library, never an xpnet name.

What is generated when the site is built (``docs/_ext``, written under ``docs/generated/``, never committed):
the API reference from the package itself (``xpnet_api``), the notebooks at their quick size, the example gallery
and one plot per benchmark case from ``benchmarks/results/*.json`` (``xpnet_site``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))  # this checkout's xpnet first (nox installs it editable anyway)

import xpnet  # noqa: E402

# Progress bars are no use on a static page, and without ipywidgets tqdm.auto prints a warning instead of a widget.
os.environ["TQDM_DISABLE"] = "1"  # read by tqdm in the notebooks' kernels, which inherit this environment

project = "xpnet"
author = "xpnet developers"
copyright = "2026, xpnet developers"
release = xpnet.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_nb",
    "xpnet_api",
    "xpnet_site",
]

exclude_patterns = [
    "_build",
    "generated/_static",
    "generated/benchmarks",
    "generated/kernels.md",
    "**.ipynb_checkpoints",
    "test_site.py",
]
nitpicky = True

# Names of other libraries: no intersphinx inventory can be fetched offline, so these cannot resolve.
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|cupy|torch|array_api_strict|array_api_compat|matplotlib|mpi4py|tqdm|platformdirs)(\..*)?"),
    (r"py:.*", r"(collections|collections\.abc|typing|pathlib|os|io|types|contextlib|argparse|zipfile)\..*"),
    (r"py:.*", r"(Path|PathLike|Callable|Iterable|Iterator|Sequence|Mapping|Generator|Any|Self|ModuleType)"),
    (r"py:.*", r"(ndarray|Generator|Axes|Figure|TextIO|BinaryIO|Namespace|ArgumentParser)"),
]


# -- autodoc -----------------------------------------------------------------------------------------------
autodoc_default_options = {"show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autosummary_generate = False
autosummary_ignore_module_all = False
add_module_names = False

# -- MyST / notebooks ----------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# executed at every build, at the quick size (xpnet_site writes the copies); XPNET_DOCS_EXECUTE=off to write faster
nb_execution_mode = os.environ.get("XPNET_DOCS_EXECUTE", "force")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = False
nb_merge_streams = True
nb_ipywidgets_js = {}  # no CDN scripts: widget views fall back to their text
suppress_warnings = ["mystnb.unknown_mime_type"]

# -- HTML ----------------------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"xpnet {release}"
html_static_path = ["_static", "generated/_static"]
html_favicon = "_static/xpnet.svg"  # else the browser asks for /favicon.ico and logs a 404
html_logo = "_static/xpnet.svg"
html_context = {"default_mode": "auto"}  # else pydata-sphinx-theme logs "invalid theme mode" on a first visit
mathjax_path = "mathjax/tex-svg.js"
html_theme_options = {
    "navigation_with_keys": False,
    "header_links_before_dropdown": 7,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting_started": []}
html_last_updated_fmt = None
html_show_sourcelink = False
