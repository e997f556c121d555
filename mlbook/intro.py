"""Drawing for the introduction's line-fitting stepper (the maths lives in the chapter)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from mlbook.plotting import PALETTE, png_data_uri
from mlbook.svg import Canvas
from mlbook.widgets import Stepper


def _scatter(x, y, xlabel, ylabel):
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    ax.scatter(x, y, s=22, color=PALETTE["blue"], zorder=3, label="measurements")
    ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(0, 1.05), ylim=(-0.2, 1.6))
    fig.tight_layout()
    return fig, ax


def line_fit_stepper(x, y, runs: dict[str, list[tuple[float, float, float]]],
                     xlabel: str, ylabel: str) -> Stepper:
    """A stepper over gradient-descent runs of a straight-line fit.

    ``runs`` maps a learning-rate label to a list of ``(slope, intercept, loss)`` per step.
    """
    fig, ax = _scatter(x, y, xlabel, ylabel)
    backdrop = png_data_uri(fig)
    alt = f"Scatter plot of {len(x)} measurements of {ylabel} against {xlabel}."
    frames = {}
    for label, path in runs.items():
        frames[(label,)] = [_frame(fig, ax, x, y, step, w, b, loss)
                            for step, (w, b, loss) in enumerate(path)]
    plt.close(fig)
    html = f'<img src="{backdrop}" alt="{alt}" style="width:100%;max-width:600px;display:block">'
    return Stepper(frames, dims=["learning rate η"], backdrops={k[0]: html for k in frames})


def _frame(fig, ax, x, y, step, w, b, loss) -> str:
    canvas = Canvas.over_axes(fig, ax)
    grid = np.array(ax.get_xlim())
    for xi, yi in zip(x, y):
        canvas.polyline([xi, xi], [yi, w * xi + b], PALETTE["vermillion"], width=1, opacity=0.6)
    canvas.polyline(grid, w * grid + b, PALETTE["orange"], width=3)
    label = (f"Step {step}: the line y = {w:.3f} x + {b:.3f} over the measurements, "
             f"with residuals; loss {loss:.4g}.")
    readout = (f'<div class="mlbook-readout">step <b>{step}</b> · slope w = {w:.4f} · '
               f"intercept b = {b:.4f} · loss L = {loss:.5g}</div>")
    return (f'<div class="mlbook-frame" data-step="{step}" data-loss="{loss:.6g}">'
            f"{canvas.to_svg(label)}{readout}</div>")
