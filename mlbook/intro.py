"""Drawing for the introduction's line-fitting stepper (the maths lives in the chapter)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from mlbook.plotting import PALETTE, png_data_uri
from mlbook.svg import Canvas
from mlbook.widgets import Stepper, is_static_build, message

Path = list[tuple[float, float, float]]  # (slope, intercept, loss) per step
LIVE_CHOICE = "your own (type it below)"


def line_fit_explorer(x, y, descend: Callable[[float], Path], learning_rates: Sequence[float],
                      xlabel: str, ylabel: str) -> widgets.Widget:
    """Step through gradient-descent fits of a line, one run per learning rate.

    ``descend(eta)`` returns the run for learning rate ``eta``. In a live kernel a text box also
    accepts any learning rate; in the static book the precomputed runs are the choices.
    """
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    ax.scatter(x, y, s=22, color=PALETTE["blue"], zorder=3)
    ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(0, 1.05), ylim=(-0.2, 1.6))
    fig.tight_layout()
    alt = f"Scatter plot of {len(x)} measurements of {ylabel} against {xlabel}."
    backdrop = (f'<img src="{png_data_uri(fig)}" alt="{alt}" '
                f'style="width:100%;max-width:600px;display:block">')

    # Frames overlay the figure's axes; keep their geometry and let the figure go.
    axes = Canvas.over_axes(fig, ax)
    plt.close(fig)

    def frames(path: Path) -> list[str]:
        return [_frame(axes, x, y, step, w, b, loss) for step, (w, b, loss) in enumerate(path)]

    runs = {(f"{eta}",): frames(descend(_checked(eta))) for eta in learning_rates}
    if is_static_build():
        return Stepper(runs, dims=["learning rate η"], backdrops={k[0]: backdrop for k in runs})

    runs[(LIVE_CHOICE,)] = runs[next(iter(runs))]
    stepper = Stepper(runs, dims=["learning rate η"], backdrops={k[0]: backdrop for k in runs})
    entry = widgets.Text(description="your η", placeholder="e.g. 0.3, then Enter",
                         continuous_update=False)
    status = widgets.HTML()

    def run_typed(change) -> None:
        try:
            eta = _learning_rate(change["new"])
        except ValueError as err:
            status.value = message(str(err), "error")
            return
        with np.errstate(over="ignore", invalid="ignore"):
            path = descend(eta)
        stepper.set_run((LIVE_CHOICE,), frames(path))
        stepper.dropdowns[0].value = LIVE_CHOICE
        diverged = not math.isfinite(path[-1][2]) or path[-1][2] > 10 * path[0][2]
        status.value = message(f"η = {eta:g}: " + ("the fit blew up." if diverged else
                                                   "press play to watch the fit."),
                               "warning" if diverged else "info")

    entry.observe(run_typed, names="value")
    return widgets.VBox([stepper, widgets.HBox([entry, status])])


def _learning_rate(text: str) -> float:
    try:
        eta = float(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a number: type a learning rate such as 0.3.") from None
    return _checked(eta, text)


def _checked(eta: float, text: str | None = None) -> float:
    text = text if text is not None else f"{eta:g}"
    if not math.isfinite(eta) or eta <= 0:
        raise ValueError(f"η = {text} cannot work: the learning rate must be a positive, finite "
                         "number.")
    if eta > 10:
        raise ValueError(f"A learning rate of {eta:g} is far too large for this fit: "
                         "try a value below 1.")
    return eta


def _frame(axes: Canvas, x, y, step, w, b, loss) -> str:
    canvas = Canvas(axes.width, axes.height, axes.xlim, axes.ylim, box=axes.box, background=None)
    grid = np.array(axes.xlim)
    for xi, yi in zip(x, y):
        canvas.polyline([xi, xi], [yi, w * xi + b], PALETTE["vermillion"], width=1, opacity=0.6)
    canvas.polyline(grid, w * grid + b, PALETTE["orange"], width=3)
    label = (f"Step {step}: the line y = {w:.3f} x + {b:.3f} over the measurements, "
             f"with residuals; loss {loss:.4g}.")
    readout = (f'<div class="mlbook-readout">step <b>{step}</b> · slope w = {w:.4f} · '
               f"intercept b = {b:.4f} · loss L = {loss:.5g}</div>")
    return (f'<div class="mlbook-frame" data-step="{step}" data-loss="{loss:.6g}">'
            f"{canvas.to_svg(label)}{readout}</div>")
