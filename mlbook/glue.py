"""``glue``: hand a value computed in a notebook to the prose around it.

In the book's build, myst-nb stores the value and ``{glue:text}`name``` in a markdown cell shows
it. Where myst-nb is absent (Colab, a plain Jupyter), the value is printed instead, so a reader
running the notebook sees the number the prose refers to; nothing of the build's tool chain has to
be installed for a chapter to run.
"""

from __future__ import annotations


def glue(name: str, value) -> None:
    """Make ``value`` available to the page's prose as ``{glue:text}`name```."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"glue name {name!r} must be a Python identifier such as 'calc_best_h'.")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        print(f"{name} = {value}")
        return
    myst_glue(name, value, display=False)
