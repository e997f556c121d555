"""Stepping widgets that work in the static HTML, with no kernel.

Every frame a reader can see is computed in Python when the book is built and stored in the page as
widget state. Browser-side links (``jslink``) connect a ``Play`` button, a slider and a step box to
stacks of frames, and drop-downs to the choice of run, so stepping needs no kernel. In a live kernel
the chapters add controls that compute new runs; on Colab, where ``jslink`` is unreliable, the same
links are made in the kernel instead.
"""

from __future__ import annotations

import html
import itertools
import os
import sys
from collections.abc import Mapping, Sequence

import ipywidgets as widgets

BUILD_ENV = "MLBOOK_BUILD"


def is_static_build() -> bool:
    """True while the book's build executes the notebook for the static HTML.

    Controls that need a running kernel are left out then: they could not work on the page.
    """
    return os.environ.get(BUILD_ENV) == "static"


def on_colab() -> bool:
    return "google.colab" in sys.modules


def link(source: tuple[widgets.Widget, str], target: tuple[widgets.Widget, str]):
    """Keep ``target`` equal to ``source``: in the browser, or in the kernel on Colab."""
    if on_colab():
        return widgets.link(source, target)
    return widgets.jslink(source, target)


def message(text: str, kind: str = "info") -> str:
    """HTML for a short message shown inside a widget (``kind``: info, warning or error)."""
    return f'<div class="mlbook-message mlbook-{kind}" role="status">{html.escape(text)}</div>'


def noscript_image(data_uri: str, alt: str) -> str:
    """HTML that shows an image only where JavaScript is off, as the widget's static fallback."""
    return (f'<noscript><img src="{data_uri}" alt="{html.escape(alt)}" '
            f'style="max-width:100%"></noscript>')


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
        n_frames = max(len(frames) for frames in runs.values())
        self.play = widgets.Play(value=0, min=0, max=n_frames - 1, interval=interval_ms,
                                 description="play", show_repeat=False)
        self.slider = widgets.IntSlider(value=0, min=0, max=n_frames - 1, description=step_label,
                                        readout=False, continuous_update=True,
                                        layout=widgets.Layout(width="min(360px, 60%)"))
        self.step_box = widgets.BoundedIntText(
            value=0, min=0, max=n_frames - 1, layout=widgets.Layout(width="5.5em"),
            continuous_update=True, tooltip="Step forward or back with the arrows")
        self.dropdowns = [
            widgets.Dropdown(options=choices, value=choices[0], description=name,
                             style={"description_width": "initial"})
            for name, choices in zip(self.dims, self.choices)
        ]
        self._links = [link((self.play, "value"), (self.slider, "value")),
                       link((self.slider, "value"), (self.step_box, "value"))]
        self._leaves: dict[tuple[str, ...], widgets.Stack] = {}
        self._backdrops: dict[str, widgets.HTML] = {}  # one widget per distinct backdrop
        self._frames: dict[tuple[str, ...], list[widgets.HTML]] = {}
        view = self._build(level=0, prefix=(), runs=runs, n_frames=n_frames, backdrops=backdrops)
        controls = widgets.HBox([self.play, self.slider, self.step_box],
                                layout=widgets.Layout(align_items="center", flex_flow="row wrap"))
        choosers = widgets.HBox(self.dropdowns, layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([choosers, controls, view])
        self.add_class("mlbook-stepper")

    @property
    def n_frames(self) -> int:
        return self.slider.max + 1

    def set_run(self, key: tuple[str, ...], frames: Sequence[str]) -> None:
        """Replace one run's frames (used by live-kernel controls); the step range follows."""
        if key not in self._leaves:
            raise KeyError(f"no run {key!r}; runs are keyed by one choice of each of {self.dims}")
        if not frames:
            raise ValueError("a run needs at least one frame")
        self._frames[key] = [_html(f) for f in frames]
        n_frames = max(len(f) for f in self._frames.values())
        for widget in (self.play, self.slider, self.step_box):
            widget.max = n_frames - 1
        for leaf_key, leaf in self._leaves.items():
            leaf.children = _padded(self._frames[leaf_key], n_frames)
        self.slider.value = 0

    def _build(self, level, prefix, runs, n_frames, backdrops):
        if level == len(self.dims):
            frames = runs[prefix]
            if not frames:
                raise ValueError(f"run {prefix!r} has no frames")
            self._frames[prefix] = [_html(f) for f in frames]
            leaf = widgets.Stack(_padded(self._frames[prefix], n_frames), selected_index=0)
            self._leaves[prefix] = leaf
            self._links.append(link((self.slider, "value"), (leaf, "selected_index")))
            return leaf
        children = []
        for choice in self.choices[level]:
            child = self._build(level + 1, prefix + (choice,), runs, n_frames, backdrops)
            if level == 0 and backdrops is not None:
                html = backdrops[choice]
                if html not in self._backdrops:
                    self._backdrops[html] = _html(html)
                child = _overlay(self._backdrops[html], child)
            children.append(child)
        stack = widgets.Stack(children, selected_index=0)
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


def _html(content: str) -> widgets.HTML:
    # Full width: HTML widgets default to a fixed inline width, which would shrink an overlay.
    return widgets.HTML(content, layout=widgets.Layout(width="100%", margin="0"))


def _padded(frames: list[widgets.HTML], n_frames: int) -> list[widgets.HTML]:
    # A repeated widget costs nothing in the page: a run that ended early holds its last frame.
    return frames + [frames[-1]] * (n_frames - len(frames))


def _overlay(backdrop: widgets.Widget, front: widgets.Widget) -> widgets.Box:
    cell = "1 / 1 / 2 / 2"
    backdrop.layout.grid_area = cell
    front.layout.grid_area = cell
    return widgets.Box([backdrop, front], layout=widgets.Layout(
        display="grid", grid_template_columns="minmax(0, 1fr)", width="100%", max_width="640px"))
