"""Sphinx configuration of skreg's documentation.

Build (from the repository root; -W turns every warning into an error):

    python -m pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

The examples run and put their output, figures and thumbnails in the gallery (about 5
minutes on 2 cores); add ``-D plot_gallery=0`` to skip running them. Nothing is downloaded
at build time: no intersphinx, and the PyData theme ships its assets.
"""

import os
import re
import sys
from pathlib import Path

# Quiet TensorFlow's C++ logging; autodoc and the gallery import skreg, hence Keras.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # document the checkout even if skreg is not installed

import skreg  # noqa: E402

# -- Project -----------------------------------------------------------------------------

project = "skreg"
author = "skreg developers"
copyright = "skreg developers"
release = skreg.__version__
version = ".".join(release.split(".")[:2])

# -- Extensions --------------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "README.md",  # how to build these docs, for readers of the repository
]

# Single backticks render as code, as numpydoc docstrings use them (`n_features_in_`).
default_role = "literal"

# -- autodoc / autosummary / numpydoc ----------------------------------------------------

autosummary_generate = True
autodoc_typehints = "none"  # the numpydoc sections already give every type
autodoc_member_order = "bysource"

# The class template (_templates/class.rst) lists the methods itself; numpydoc's own member
# tables would duplicate them and point at stubs that are never generated.
numpydoc_show_class_members = False

# -- MyST (the Markdown pages) -----------------------------------------------------------

myst_heading_anchors = 3  # GitHub-style anchors, so links like user_guide.md#backends work

# -- sphinx-gallery ----------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skreg",),
    "backreferences_dir": "generated/backreferences",
    "remove_config_comments": True,
    "download_all_examples": False,
    "min_reported_time": 1,
}

# -- HTML --------------------------------------------------------------------------------

# The PyData theme, as scikit-learn, NumPy and pandas use. No external links or icons: the
# build must not need the network.
html_theme = "pydata_sphinx_theme"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
}
html_title = f"skreg {release}"
html_static_path = []
html_show_sourcelink = False


# -- Docstrings inherited from scikit-learn ----------------------------------------------

# Inherited methods (score, get_params, set_output, ...) carry scikit-learn's docstrings, whose
# :ref: and :term: roles point at labels of scikit-learn's own documentation. Without
# intersphinx they cannot resolve, so they become plain text.
_TITLED_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*<[^`>]*>`")
_BARE_REF = re.compile(r":ref:`[^`]*`")
_BARE_TERM = re.compile(r":term:`([^`]*)`")


def _unlink_foreign_references(app, what, name, obj, options, lines):
    module = getattr(obj, "__module__", None) or ""
    if module == "skreg" or module.startswith("skreg."):
        return
    for i, line in enumerate(lines):
        line = _TITLED_ROLE.sub(r"\1", line)
        line = _BARE_REF.sub("scikit-learn's documentation", line)
        lines[i] = _BARE_TERM.sub(r"\1", line)


def setup(app):
    app.connect("autodoc-process-docstring", _unlink_foreign_references)
