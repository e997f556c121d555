"""The book's widgets: every interactive figure is a :class:`BookWidget`.

A book widget is an anywidget, an ES module plus Python traits. Python holds the data and the
parameters; the module, ``mlbook/js/<name>.js`` after the shared helpers in
``mlbook/js/common.js``, computes and draws in the reader's browser. The module travels in the
saved widget state, so the same widget works in the static page with no kernel, in JupyterLab,
in VS Code and on Colab. Where JavaScript is off (and in the PDF), its place shows
:meth:`BookWidget.fallback`, a picture or text of its default state.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import ClassVar

import anywidget

from mlbook.plotting import png_data_uri

JS_DIR = Path(__file__).resolve().parent / "js"
FALLBACK_NOTE = "Interactive in the online book and in a live notebook."


def bundle(name: str) -> str:
    """The ES module of the widget ``name``: ``js/common.js`` followed by ``js/<name>.js``."""
    path = JS_DIR / f"{name}.js"
    if not path.is_file():
        raise ValueError(f"no widget module {path.name} in {JS_DIR}")
    return (JS_DIR / "common.js").read_text() + "\n" + path.read_text()


class BookWidget(anywidget.AnyWidget):
    """Base class of the book's widgets: set ``_module`` to the name of the file in ``mlbook/js``.

    Subclasses declare their inputs as synced traits (validated in Python, so bad values raise a
    clear ``TraitError``) and implement :meth:`fallback`. Displaying the widget also displays the
    fallback inside ``<noscript>``: invisible wherever JavaScript runs.
    """

    _module: ClassVar[str] = ""
    _css = (JS_DIR / "widgets.css").read_text()

    def __init_subclass__(cls, **kwargs):
        if cls.__dict__.get("_module"):
            cls._esm = bundle(cls._module)
        super().__init_subclass__(**kwargs)

    def __repr__(self) -> str:
        # The widget's plain-text form: no memory address (a page must never show one).
        return f"<{type(self).__name__} widget>"

    def fallback(self) -> str:
        """HTML for the widget's default state, shown where JavaScript is off and in the PDF."""
        raise NotImplementedError(f"{type(self).__name__} must say what to show without "
                                  "JavaScript: implement fallback()")

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        data, metadata = self._repr_mimebundle_()
        display(data, metadata=metadata, raw=True)
        display(HTML(f'<noscript class="mlbook-fallback">{self.fallback()}'
                     f'<p class="mlbook-fallback-note">{FALLBACK_NOTE}</p></noscript>'))


def figure_fallback(fig, alt: str, **png) -> str:
    """A matplotlib figure as fallback HTML (an image with ``alt`` text); closes the figure.
    ``png`` (``dpi``, ``colors``) goes to :func:`mlbook.plotting.png_data_uri`."""
    import matplotlib.pyplot as plt

    uri = png_data_uri(fig, **png)
    plt.close(fig)
    return f'<img src="{uri}" alt="{html.escape(alt)}" style="max-width:100%">'


def check_learning_rate(value, largest: float, suggestion: float) -> float:
    """A widget's learning rate η as a float, if 0 < η ≤ ``largest``; otherwise a ValueError
    that says what to use (``suggestion``, a rate that works in that widget)."""
    import math
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"the learning rate η must be a number, got {value!r}.")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"the learning rate η must be a positive, finite number, got {value}.")
    if value > largest:
        raise ValueError(f"a learning rate η of {value:g} is far too large here: use a value "
                         f"of at most {largest:g} (try {suggestion:g}).")
    return float(value)
