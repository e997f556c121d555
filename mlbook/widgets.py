"""The book's widgets.

**BookWidget** (the layer every interactive figure uses): a widget is an anywidget, an ES module
plus Python traits. Python holds the data and the parameters; the module, ``mlbook/js/<name>.js``
after the shared helpers in ``mlbook/js/common.js``, computes and draws in the reader's browser.
The module travels in the saved widget state, so the same widget works in the static page with
no kernel, in JupyterLab, in VS Code and on Colab. Where JavaScript is off (and in the PDF), its
place shows :meth:`BookWidget.fallback`, a picture or text of its default state.

**Stepper** (being replaced by BookWidget): steps through frames precomputed at build time.
"""

from __future__ import annotations

import html
import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import anywidget
import ipywidgets as widgets

from mlbook.plotting import png_data_uri

BUILD_ENV = "MLBOOK_BUILD"


def is_static_build() -> bool:
    """True while the book's build executes the notebook for the static HTML.

    Controls that need a running kernel are left out then: they could not work on the page.
    """
    return os.environ.get(BUILD_ENV) == "static"


def link(source: tuple[widgets.Widget, str], target: tuple[widgets.Widget, str]):
    """Keep ``target`` equal to ``source``: in the browser for the static page, else in kernel."""
    if is_static_build():
        return widgets.jslink(source, target)
    return widgets.link(source, target)


def message(text: str, kind: str = "info") -> str:
    """HTML for a short message shown inside a widget (``kind``: info, warning or error)."""
    return f'<div class="mlbook-message mlbook-{kind}" role="status">{html.escape(text)}</div>'


def noscript_image(data_uri: str, alt: str) -> str:
    """HTML that shows an image only where JavaScript is off, as the widget's static fallback."""
    return (f'<noscript><img src="{data_uri}" alt="{html.escape(alt)}" '
            f'style="max-width:100%"></noscript>')


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


def figure_fallback(fig, alt: str) -> str:
    """A matplotlib figure as fallback HTML (an image with ``alt`` text); closes the figure."""
    import matplotlib.pyplot as plt

    uri = png_data_uri(fig)
    plt.close(fig)
    return f'<img src="{uri}" alt="{html.escape(alt)}" style="max-width:100%">'


class Stepper(widgets.VBox):
    """Step through precomputed frames, choosing the run with drop-downs.

    ``runs`` maps a tuple of choices, one per name in ``dims``, to that run's frames (HTML strings);
    every combination of choices must be present. Shorter runs hold their last frame. ``backdrops``,
    optional, maps each choice of the first dimension to HTML drawn underneath its frames (a plot
    the frames overlay: frames and backdrop share one grid cell).
    """

    def __init__(self, runs: Mapping[tuple[str, ...], Sequence[str]], dims: Sequence[str],
                 backdrops: Mapping[str, str] | None = None, interval_ms: int = 600,
                 step_label: str = "step"):
        self.dims = list(dims)
        self.choices = _grid_choices(runs, self.dims)
        if backdrops is not None and (not self.dims or set(backdrops) != set(self.choices[0])):
            raise ValueError("backdrops must give one backdrop for each choice of the first "
                             f"dimension {self.dims[:1]}")
        empty = [key for key, frames in runs.items() if not frames]
        if empty:
            raise ValueError(f"every run needs at least one frame; {empty[:3]} have no frames")
        self.runs = {key: list(frames) for key, frames in runs.items()}
        self.backdrops = dict(backdrops) if backdrops is not None else None
        last = self._last_step()
        self.play = widgets.Play(value=0, min=0, max=last, interval=interval_ms,
                                 description="play", show_repeat=False)
        self.slider = widgets.IntSlider(value=0, min=0, max=last, description=step_label,
                                        readout=False, continuous_update=True,
                                        layout=widgets.Layout(width="min(360px, 60%)"))
        self.step_box = widgets.BoundedIntText(value=0, min=0, max=last, continuous_update=True,
                                               layout=widgets.Layout(width="5.5em"))
        self.dropdowns = [
            widgets.Dropdown(options=choices, value=choices[0], description=name,
                             style={"description_width": "initial"})
            for name, choices in zip(self.dims, self.choices)
        ]
        self._links = [link((self.play, "value"), (self.slider, "value")),
                       link((self.slider, "value"), (self.step_box, "value"))]
        # One Layout shared by all frames and one by all stacks: the page stores each only once.
        self._full_width = widgets.Layout(width="100%", margin="0")
        if is_static_build():
            self._stack_layout = widgets.Layout(width="100%")
            self._leaves: dict[tuple[str, ...], widgets.Stack] = {}
            self._backdrop_widgets: dict[str, widgets.HTML] = {}  # one per distinct backdrop
            view = self._stacks(level=0, prefix=())
        else:
            self.view = widgets.HTML("", layout=self._full_width)
            self.slider.observe(self._show, names="value")
            for dropdown in self.dropdowns:
                dropdown.observe(self._show, names="value")
            self._show()
            view = self.view
        controls = widgets.HBox([self.play, self.slider, self.step_box],
                                layout=widgets.Layout(align_items="center", flex_flow="row wrap"))
        choosers = widgets.HBox(self.dropdowns, layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([choosers, controls, view])
        self.add_class("mlbook-stepper")

    @property
    def n_frames(self) -> int:
        return self.slider.max + 1

    @property
    def key(self) -> tuple[str, ...]:
        """The run chosen in the drop-downs now."""
        return tuple(dropdown.value for dropdown in self.dropdowns)

    def frame(self) -> str:
        """The HTML of the frame shown now (without its backdrop)."""
        frames = self.runs[self.key]
        return frames[min(self.slider.value, len(frames) - 1)]

    def set_run(self, key: tuple[str, ...], frames: Sequence[str]) -> None:
        """Replace one run's frames (used by live-kernel controls); the step range follows."""
        if key not in self.runs:
            raise KeyError(f"no run {key!r}; runs are keyed by one choice of each of {self.dims}")
        if not frames:
            raise ValueError("a run needs at least one frame")
        self.runs[key] = list(frames)
        last = self._last_step()
        for widget in (self.play, self.slider, self.step_box):
            widget.max = last
        if is_static_build():
            for leaf_key, leaf in self._leaves.items():
                leaf.children = self._frame_widgets(leaf_key)
        self.slider.value = 0
        self._show()

    def _last_step(self) -> int:
        return max(len(frames) for frames in self.runs.values()) - 1

    def _show(self, change=None) -> None:
        if is_static_build():
            return  # the browser shows frames itself
        frame = self.frame()
        if self.backdrops is not None:
            frame = _overlay_html(self.backdrops[self.key[0]], frame)
        self.view.value = frame

    def _frame_widgets(self, key) -> list[widgets.HTML]:
        frames = [widgets.HTML(f, layout=self._full_width) for f in self.runs[key]]
        # A repeated widget costs nothing in the page: a run that ended early holds its last frame.
        return frames + [frames[-1]] * (self.n_frames - len(frames))

    def _stacks(self, level: int, prefix: tuple[str, ...]) -> widgets.Widget:
        if level == len(self.dims):
            leaf = widgets.Stack(self._frame_widgets(prefix), selected_index=0,
                                 layout=self._stack_layout)
            self._leaves[prefix] = leaf
            self._links.append(link((self.slider, "value"), (leaf, "selected_index")))
            return leaf
        children = []
        for choice in self.choices[level]:
            child = self._stacks(level + 1, prefix + (choice,))
            if level == 0 and self.backdrops is not None:
                backdrop = self.backdrops[choice]
                if backdrop not in self._backdrop_widgets:
                    # Its own Layout: _overlay places it in a grid cell.
                    self._backdrop_widgets[backdrop] = widgets.HTML(
                        backdrop, layout=widgets.Layout(width="100%", margin="0"))
                child = _overlay(self._backdrop_widgets[backdrop], child)
            children.append(child)
        # Full width: a Stack inside a Stack would shrink to its content and the overlay with it.
        stack = widgets.Stack(children, selected_index=0, layout=self._stack_layout)
        self._links.append(link((self.dropdowns[level], "index"), (stack, "selected_index")))
        return stack


def _grid_choices(runs, dims) -> list[list[str]]:
    if not runs:
        raise ValueError("Stepper needs at least one run")
    for key in runs:
        if not isinstance(key, tuple) or len(key) != len(dims):
            raise ValueError(f"run key {key!r} must be a tuple with one choice for each of {dims}")
    choices = [list(dict.fromkeys(key[i] for key in runs)) for i in range(len(dims))]
    missing = [key for key in itertools.product(*choices) if key not in runs]
    if missing:
        raise ValueError(f"every combination of choices needs a run; missing {missing[:3]}")
    return choices


def _overlay(backdrop: widgets.Widget, front: widgets.Widget) -> widgets.Box:
    # The front stack's shared layout may take the grid cell too: stacks elsewhere ignore it.
    cell = "1 / 1 / 2 / 2"
    backdrop.layout.grid_area = cell
    front.layout.grid_area = cell
    return widgets.Box([backdrop, front], layout=widgets.Layout(
        display="grid", grid_template_columns="minmax(0, 1fr)", width="100%", max_width="640px"))


def _overlay_html(backdrop: str, front: str) -> str:
    cell = 'style="grid-area:1 / 1 / 2 / 2;min-width:0"'
    return (f'<div style="display:grid;grid-template-columns:minmax(0,1fr);max-width:640px">'
            f"<div {cell}>{backdrop}</div><div {cell}>{front}</div></div>")
