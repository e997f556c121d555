"""Gradient descent for the calculus chapter: a checked, reusable loop, and the drawing behind the
chapter's figures and its gradient-descent stepper (the maths is taught in the chapter).

``gradient_descent`` is the loop the chapter derives, with input checks and divergence detection,
so that later chapters (MNIST) can reuse it. ``descent_explorer`` is the stepping widget: runs
precomputed at build time for the static page, and, in a live kernel, controls for any run.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, display

from mlbook.plotting import CYCLE, PALETTE, png_data_uri
from mlbook.svg import Canvas
from mlbook.widgets import Stepper, is_static_build, message, noscript_image

# A learning rate this large overshoots on any loss the book meets; it is a typo, not an experiment.
MAX_LEARNING_RATE = 100.0


@dataclass(frozen=True)
class Descent:
    """The iterates θ_0, θ_1, ... of one run, one row each.

    If ``diverged``, the last row is the first iterate that left the allowed box (or the last finite
    one, when the next was not finite) and the run stopped there.
    """

    path: np.ndarray
    diverged: bool

    @property
    def steps(self) -> int:
        return len(self.path) - 1


def _number(value, name: str) -> float:
    """``value`` as a finite float, or a ValueError that says what was wrong with it."""
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, got {number}.")
    return number


def check_learning_rate(learning_rate) -> float:
    """The learning rate η as a float, if 0 < η ≤ MAX_LEARNING_RATE; otherwise a ValueError."""
    eta = _number(learning_rate, "The learning rate η")
    if eta <= 0:
        raise ValueError(f"The learning rate η must be positive, got {eta:g}: a step of size "
                         "η ≤ 0 does not go downhill.")
    if eta > MAX_LEARNING_RATE:
        raise ValueError(f"The learning rate η = {eta:g} is too large (at most "
                         f"{MAX_LEARNING_RATE:g}): every step would overshoot.")
    return eta


def check_momentum(momentum) -> float:
    """The momentum β as a float, if 0 ≤ β < 1; otherwise a ValueError."""
    beta = _number(momentum, "The momentum β")
    if not 0 <= beta < 1:
        raise ValueError(f"The momentum β must satisfy 0 ≤ β < 1, got {beta:g}: with β ≥ 1 old "
                         "gradients never fade.")
    return beta


def gradient_descent(grad: Callable[[np.ndarray], np.ndarray], start: Sequence[float],
                     learning_rate: float, steps: int, momentum: float = 0.0,
                     bound: float = 1e6) -> Descent:
    """Run ``steps`` steps of gradient descent with momentum from ``start``.

    The update is PyTorch's ``SGD`` with momentum β (β = 0 is plain gradient descent):
    v_{t+1} = β v_t + ∇L(θ_t),  θ_{t+1} = θ_t − η v_{t+1},  with v_0 = 0.
    The run stops early and reports ``diverged`` when an iterate has a coordinate beyond ``bound``
    in size, or is not finite.
    """
    eta = check_learning_rate(learning_rate)
    beta = check_momentum(momentum)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a whole number ≥ 0, got {steps!r}.")
    theta = np.array([_number(value, "Each coordinate of the start") for value in start],
                     dtype=float)
    if theta.size == 0:
        raise ValueError("The start needs at least one coordinate, e.g. (1.0, 2.0).")
    velocity = np.zeros_like(theta)
    path = [theta]
    # Overflow on the way to divergence is expected and detected below; it needs no warning.
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            velocity = beta * velocity + np.asarray(grad(theta), dtype=float)
            theta = theta - eta * velocity
            if not np.all(np.isfinite(theta)):
                return Descent(np.array(path), diverged=True)
            path.append(theta)
            if np.max(np.abs(theta)) > bound:
                return Descent(np.array(path), diverged=True)
    return Descent(np.array(path), diverged=False)


@dataclass(frozen=True)
class Bowl:
    """The quadratic bowl L(x, y) = a x² + b y², with its minimum at the origin."""

    name: str
    a: float
    b: float

    def loss(self, x, y):
        return self.a * np.square(x) + self.b * np.square(y)

    def grad(self, theta):
        x, y = theta
        return np.array([2 * self.a * x, 2 * self.b * y])

    def loss_at(self, path: np.ndarray) -> np.ndarray:
        return self.loss(path[:, 0], path[:, 1])

    def grad_norm_at(self, path: np.ndarray) -> np.ndarray:
        return np.hypot(2 * self.a * path[:, 0], 2 * self.b * path[:, 1])


def _finished(fig):
    """Lay out and close a figure that a cell shows by returning it (if open, it shows twice)."""
    fig.tight_layout()
    plt.close(fig)
    return fig


# --- Figures for the chapter (the chapter shows the maths; these draw it) -----------------------

def secant_figure(f, df, x0: float, steps: Sequence[float]):
    """Secant lines of ``f`` through x0 and x0 + h, for each h, closing in on the tangent."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    xs = np.linspace(x0 - 1.2, x0 + 2.2, 300)
    ax.plot(xs, f(xs), color=PALETTE["black"], label="f(x)")
    for h, color in zip(steps, CYCLE[1:], strict=False):
        slope = (f(x0 + h) - f(x0)) / h
        ax.plot(xs, f(x0) + slope * (xs - x0), color=color, lw=1.4, label=f"secant, h = {h:g}")
        ax.plot([x0 + h], [f(x0 + h)], "o", color=color, ms=5)
    ax.plot(xs, f(x0) + df(x0) * (xs - x0), color=PALETTE["blue"], lw=2.4, ls="--",
            label="tangent")
    ax.plot([x0], [f(x0)], "o", color=PALETTE["black"], ms=6)
    ax.set(xlabel="x", ylabel="f(x)", ylim=(f(xs).min() - 0.5, f(xs).max() + 0.5))
    ax.legend(loc="upper left", fontsize=9)
    return _finished(fig)


def difference_error_figure(steps, forward_error, central_error):
    """Log-log plot of the error of forward and central differences against the step h."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.loglog(steps, forward_error, "o-", ms=3, color=PALETTE["orange"], label="forward difference")
    ax.loglog(steps, central_error, "s-", ms=3, color=PALETTE["blue"], label="central difference")
    ax.set(xlabel="step h", ylabel="|error|")
    ax.legend(loc="lower left")
    return _finished(fig)


def gradient_field_figure(loss, grad, points, lim: float = 3.0):
    """Contours of ``loss`` with the gradient drawn as an arrow at each of ``points``."""
    fig, ax = plt.subplots(figsize=(5.0, 4.1))
    xs = np.linspace(-lim, lim, 201)
    grid_x, grid_y = np.meshgrid(xs, xs)
    contours = ax.contour(grid_x, grid_y, loss(grid_x, grid_y), levels=12, cmap="cividis",
                          linewidths=1.2)
    ax.clabel(contours, fontsize=8)
    for point in points:
        g = grad(np.asarray(point, dtype=float))
        ax.annotate("", xy=np.asarray(point) + 0.15 * g, xytext=point,
                    arrowprops=dict(arrowstyle="->", color=PALETTE["vermillion"], lw=2))
        ax.plot(*point, "o", color=PALETTE["vermillion"], ms=4)
    ax.set(xlabel="x", ylabel="y", aspect="equal", xlim=(-lim, lim), ylim=(-lim, lim))
    ax.grid(False)
    return _finished(fig)


def graph_figure(nodes: Sequence[str], values: Sequence[float], local: Sequence[str]):
    """A chain-shaped computational graph: ``nodes`` left to right, each with its forward value
    above it; each edge labelled below with its local derivative (``local``, one per edge)."""
    fig, ax = plt.subplots(figsize=(8.0, 2.2))
    xs = np.arange(len(nodes)) * 1.9
    for x, name, value in zip(xs, nodes, values, strict=True):
        ax.text(x, 0, name, ha="center", va="center", fontsize=12,
                bbox=dict(boxstyle="round,pad=0.4", fc="white", ec=PALETTE["blue"], lw=1.5))
        ax.text(x, 0.55, f"{value:.3f}", ha="center", fontsize=10, color=PALETTE["blue"])
    for x0, x1, derivative in zip(xs[:-1], xs[1:], local, strict=True):
        ax.annotate("", xy=(x1 - 0.45, 0), xytext=(x0 + 0.45, 0),
                    arrowprops=dict(arrowstyle="->", color=PALETTE["black"], lw=1.5))
        ax.text((x0 + x1) / 2, -0.5, derivative, ha="center", fontsize=10,
                color=PALETTE["vermillion"])
    ax.text(xs[0] - 0.9, 0.55, "forward", ha="right", fontsize=9, color=PALETTE["blue"])
    ax.text(xs[0] - 0.9, -0.5, "local\nderivative", ha="right", fontsize=9,
            color=PALETTE["vermillion"])
    ax.set(xlim=(xs[0] - 1.9, xs[-1] + 0.6), ylim=(-0.9, 0.9))
    ax.axis("off")
    return _finished(fig)


def iterates_figure(runs: dict[str, np.ndarray]):
    """θ_t against t for several one-dimensional runs (label → iterates)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for (label, thetas), color in zip(runs.items(), CYCLE, strict=False):
        ax.plot(np.arange(len(thetas)), thetas, "o-", ms=3, color=color, label=label)
    ax.axhline(0, color="#888", lw=1)
    ax.set(xlabel="step t", ylabel="θ_t", ylim=(-3.5, 3.5))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), fontsize=9, ncols=4)
    return _finished(fig)


def paths_figure(bowl: Bowl, runs: dict[str, np.ndarray], lim: float = 5.0):
    """Paths of several runs (label → iterates) on the contours of ``bowl``."""
    fig, ax = _contour_axes(plt.subplots(figsize=(6.4, 4.0))[1], bowl, lim)
    for (label, path), color in zip(runs.items(), (PALETTE["vermillion"], PALETTE["blue"],
                                                  PALETTE["green"]), strict=False):
        ax.plot(path[:, 0], path[:, 1], "o-", ms=3, lw=1.5, color=color, label=label)
    every_point = np.concatenate(list(runs.values()))
    low, high = every_point.min(axis=0) - 0.5, every_point.max(axis=0) + 0.5
    ax.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=9)
    return _finished(fig)


def _contour_axes(ax, bowl: Bowl, lim: float):
    xs = np.linspace(-lim, lim, 161)
    grid_x, grid_y = np.meshgrid(xs, xs)
    levels = np.geomspace(0.02, bowl.loss(lim, lim), 10)
    ax.contour(grid_x, grid_y, bowl.loss(grid_x, grid_y), levels=levels, cmap="cividis",
               linewidths=1)
    ax.plot([0], [0], "*", color=PALETTE["black"], ms=10)
    ax.set(xlabel="x", ylabel="y", xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
    ax.grid(False)
    return ax.figure, ax


# --- The gradient-descent stepper ---------------------------------------------------------------

LOG_LOSS_RANGE = (-6.0, 3.0)  # the loss panel shows 10^-6 ≤ L ≤ 10^3 on a log scale


class _View:
    """One bowl's backdrop (contours above, an empty loss panel below) and the geometry of its
    overlays; frames draw only the path and the loss so far."""

    def __init__(self, bowl: Bowl, lim: float, max_steps: int):
        self.bowl, self.lim = bowl, lim
        fig, (ax, ax_loss) = plt.subplots(2, 1, figsize=(6.0, 6.0),
                                          gridspec_kw={"height_ratios": [3.2, 1]})
        _contour_axes(ax, bowl, lim)
        ax.set_title(f"{bowl.name}", fontsize=11)
        ax_loss.set(xlim=(0, max_steps), ylim=LOG_LOSS_RANGE, xlabel="step t")
        ticks = np.arange(LOG_LOSS_RANGE[0], LOG_LOSS_RANGE[1] + 1, 3)
        ax_loss.set_yticks(ticks, [f"$10^{{{t:.0f}}}$" for t in ticks])
        ax_loss.set_ylabel("loss L")
        fig.tight_layout()
        # over_axes draws the figure; doing it once here keeps every frame cheap.
        self._contour = Canvas.over_axes(fig, ax)
        self._loss = Canvas.over_axes(fig, ax_loss)
        self.fig, self.ax = fig, ax
        self.backdrop_uri = png_data_uri(fig, dpi=80)  # scaled up on the page; saves bytes
        self.alt = (f"Contour lines of the {bowl.name} around its minimum at the origin, and "
                    "below them an empty panel for the loss against the step.")

    def backdrop(self) -> str:
        return (f'<img src="{self.backdrop_uri}" alt="{html.escape(self.alt)}" '
                f'style="width:100%;max-width:{self._contour.width:.0f}px;display:block">')

    def _blank(self, template: Canvas) -> Canvas:
        return Canvas(template.width, template.height, template.xlim, template.ylim,
                      box=template.box, background=None)

    def frames(self, descent: Descent) -> list[str]:
        path = descent.path
        losses = self.bowl.loss_at(path)
        grad_norms = self.bowl.grad_norm_at(path)
        with np.errstate(divide="ignore"):
            log_losses = np.log10(losses)
        return [self._frame(path, losses, log_losses, grad_norms, step,
                            diverged=descent.diverged and step == descent.steps)
                for step in range(len(path))]

    def _frame(self, path, losses, log_losses, grad_norms, step, diverged) -> str:
        x, y = path[step]
        contour = self._blank(self._contour)
        contour.polyline(path[:step + 1, 0], path[:step + 1, 1], PALETTE["vermillion"], width=2)
        contour.circle(x, y, 6, PALETTE["orange"], edge=PALETTE["black"])
        loss_panel = self._blank(self._loss)
        loss_panel.polyline(range(step + 1), log_losses[:step + 1], PALETTE["vermillion"], width=2)
        loss_panel.circle(step, log_losses[step], 4, PALETTE["orange"], edge=PALETTE["black"])
        label = (f"Step {step}: the iterate is at x = {x:.3f}, y = {y:.3f}, on the path so far; "
                 f"loss {losses[step]:.3g}.")
        layer = '<div style="grid-area:1/1">{}</div>'
        # Dark text on a light card, like the plots, so the readout reads in dark mode too.
        readout = (f'<div class="mlbook-readout" style="background:white;color:#222">'
                   f"step <b>{step}</b> · (x, y) = ({x:.4f}, {y:.4f})"
                   f" · L = {losses[step]:.4g} · ‖∇L‖ = {grad_norms[step]:.4g}</div>")
        note = ""
        if diverged:
            note = message(f"Diverged: at step {step} the iterate left the region "
                           f"|x|, |y| ≤ {self.bound:g}, so the run stops here.", "warning")
        return (f'<div class="mlbook-frame" data-step="{step}" data-x="{x:.10g}" '
                f'data-y="{y:.10g}" data-loss="{losses[step]:.10g}" '
                f'data-grad-norm="{grad_norms[step]:.10g}" '
                f'data-diverged="{str(diverged).lower()}">'
                f'<div style="display:grid;grid-template-columns:minmax(0,1fr)">'
                f'{layer.format(contour.to_svg(label))}'
                f'{layer.format(loss_panel.to_svg(f"Loss against step, up to step {step}."))}'
                f"</div>{readout}{note}</div>")

    @property
    def bound(self) -> float:
        return 2 * self.lim

    def run(self, start, learning_rate, steps: int, momentum: float = 0.0) -> Descent:
        return gradient_descent(self.bowl.grad, start, learning_rate, steps, momentum,
                                bound=self.bound)

    def noscript(self, descent: Descent) -> str:
        """A picture of one whole run, for readers without JavaScript."""
        line = self.ax.plot(descent.path[:, 0], descent.path[:, 1], "o-", ms=3,
                            color=PALETTE["vermillion"])[0]
        uri = png_data_uri(self.fig, dpi=60)
        line.remove()
        return noscript_image(uri, f"The {self.bowl.name} with the path of the default "
                                   "gradient-descent run drawn on its contours.")


def descent_explorer(bowls: Sequence[Bowl], starts: Sequence[tuple[float, float]],
                     learning_rates: Sequence[float], steps: int = 15,
                     lim: float = 5.0) -> widgets.Widget:
    """Step through gradient descent on each bowl, from each start, at each learning rate.

    In a live kernel, controls below the stepper run any learning rate, start and momentum.
    """
    for eta in learning_rates:  # before any figure is drawn, so a bad value leaves none open
        check_learning_rate(eta)
    views = {bowl.name: _View(bowl, lim, steps) for bowl in bowls}
    runs = {}
    for view in views.values():
        for start in starts:
            for eta in learning_rates:
                key = (view.bowl.name, _start_label(start), f"{eta:g}")
                runs[key] = view.frames(view.run(start, eta, steps))
    stepper = Stepper(runs, dims=["function", "start", "learning rate η"],
                      backdrops={name: view.backdrop() for name, view in views.items()})
    first = views[bowls[0].name]
    fallback = first.noscript(first.run(starts[0], learning_rates[0], steps))
    for view in views.values():
        plt.close(view.fig)
    if is_static_build():
        return DescentExplorer(stepper, fallback)
    return DescentExplorer(widgets.VBox([stepper, _LiveControls(views, steps, lim)]), fallback)


@dataclass(frozen=True)
class DescentExplorer:
    """The widget, shown after an image of the default run that only readers without JavaScript
    see (a widget needs JavaScript, so the fallback must sit outside it)."""

    widget: widgets.Widget
    noscript_html: str

    def _ipython_display_(self):
        display(HTML(self.noscript_html))
        display(self.widget)


def _start_label(start) -> str:
    return "({:g}, {:g})".format(*start)


class _LiveControls(widgets.VBox):
    """Controls for any run (live kernel only): bad input gives a message, never a traceback."""

    def __init__(self, views: dict[str, _View], steps: int, lim: float):
        self.views, self.steps, self.lim = views, steps, lim
        text = dict(layout=widgets.Layout(width="11em"), style={"description_width": "initial"})
        self.function = widgets.Dropdown(options=list(views), description="function",
                                         style={"description_width": "initial"})
        self.learning_rate = widgets.Text("0.3", description="η", **text)
        self.start_x = widgets.Text("-4", description="start x", **text)
        self.start_y = widgets.Text("3", description="start y", **text)
        self.momentum = widgets.Text("0", description="momentum β", **text)
        self.button = widgets.Button(description="Run", button_style="primary")
        self.status = widgets.HTML()
        self.result = widgets.VBox()
        self.button.on_click(lambda _: self.run())
        inputs = widgets.HBox([self.function, self.learning_rate, self.start_x, self.start_y,
                               self.momentum, self.button],
                              layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([widgets.HTML("<b>Your own run</b> (any η, start and momentum):"),
                          inputs, self.status, self.result])

    def run(self) -> None:
        try:
            view = self.views[self.function.value]
            start = (_number(self.start_x.value, "start x"), _number(self.start_y.value, "start y"))
            if max(abs(start[0]), abs(start[1])) > self.lim:
                raise ValueError(f"The start {_start_label(start)} is outside the plot: choose "
                                 f"-{self.lim:g} ≤ x, y ≤ {self.lim:g}.")
            descent = view.run(start, self.learning_rate.value, self.steps, self.momentum.value)
        except ValueError as error:
            self.status.value = message(str(error), "error")
            return
        self.status.value = (
            message(f"This run diverged at step {descent.steps}.", "warning") if descent.diverged
            else message(f"Ran {descent.steps} steps.", "info"))
        key = (view.bowl.name,)
        stepper = Stepper({key: view.frames(descent)}, dims=["function"],
                          backdrops={view.bowl.name: view.backdrop()})
        self.result.children = [stepper]
