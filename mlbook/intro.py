"""The introduction's line-fit widget: gradient descent on a straight line, run in the browser.

The chapter shows the algorithm (its own ``loss``, ``gradient`` and ``gradient_descent``); this
module holds what the reader need not read: :class:`LineFitExplorer`, a book widget whose
numerics live in ``mlbook/js/line_fit.js``, and :func:`descent_path`, :func:`least_squares` and
:func:`stability_limit`, the Python references that module mirrors (the tests check the browser's
numbers against them, and the chapter checks them against its own code).
"""

from __future__ import annotations

import numpy as np
import traitlets

from mlbook.plotting import PALETTE
from mlbook.widgets import BookWidget, check_learning_rate, figure_fallback

MAX_LEARNING_RATE = 10.0  # far beyond any stable rate for data on the scale of one
MAX_STEPS = 1000
DIVERGED = 1e3  # a run has diverged once its loss exceeds this many times its starting loss
LINE_COLOR, RESIDUAL_COLOR, EXACT_COLOR = PALETTE["blue"], PALETTE["orange"], "#6b6b6b"


def _points(x, y) -> tuple[np.ndarray, np.ndarray]:
    try:
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("x and y must be sequences of numbers.") from None
    if x.ndim != 1 or y.ndim != 1 or x.size != y.size:
        raise ValueError(f"x and y must be flat sequences of the same size; got shapes "
                         f"{x.shape} and {y.shape}.")
    if x.size < 2:
        raise ValueError("a line needs at least two points.")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite numbers (no NaN or infinity).")
    if np.ptp(x) == 0:
        raise ValueError("the x values are all equal: no line through them is the best one; "
                         "give points at two or more different x.")
    return x, y


def _learning_rate(value) -> float:
    return check_learning_rate(value, MAX_LEARNING_RATE, suggestion=0.3)


def descent_path(x, y, learning_rate: float, steps: int) -> list[tuple[float, float, float]]:
    """Gradient descent on the mean squared error of the line ``y ≈ w x + b``, from w = b = 0.

    Returns ``(w, b, loss)`` before the first step and after each step, the chapter's
    ``gradient_descent`` exactly, except that a run stops at the first step whose loss exceeds
    ``DIVERGED`` times the starting loss (or is not finite): it has diverged.
    """
    x, y = _points(x, y)
    eta = _learning_rate(learning_rate)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be a whole number from 0 to {MAX_STEPS}, got {steps!r}.")
    w = b = 0.0
    residual = w * x + b - y
    path = [(w, b, float(np.mean(residual**2)))]
    for _ in range(steps):
        dw, db = 2 * np.mean(residual * x), 2 * np.mean(residual)
        w, b = float(w - eta * dw), float(b - eta * db)
        residual = w * x + b - y
        path.append((w, b, float(np.mean(residual**2))))
        if not path[-1][2] <= DIVERGED * path[0][2]:
            break
    return path


def least_squares(x, y) -> tuple[float, float]:
    """The slope and intercept that minimise the mean squared error (the normal equations)."""
    x, y = _points(x, y)
    slope, intercept = np.polyfit(x, y, deg=1)
    return float(slope), float(intercept)


def stability_limit(x) -> float:
    """2/λ_max: the largest stable learning rate for fitting a line to points at ``x``.

    The loss's Hessian is H = (2/n) Σ [[x², x], [x, 1]], the same at every (w, b); gradient
    descent converges for every start exactly when 0 < η < 2/λ_max(H).
    """
    x, _ = _points(x, np.zeros(np.size(x)))
    features = np.column_stack([x, np.ones_like(x)])
    hessian = 2 * features.T @ features / len(x)
    return float(2 / np.linalg.eigvalsh(hessian).max())


class LineFitExplorer(BookWidget):
    """Fit a line by gradient descent in the reader's browser: step, play, reset, choose η.

    The page shows the points, the line after the current step with its residuals, the
    least-squares line (dashed), a read-out (step, w, b, loss) and the loss against the step on a
    log axis; the learning-rate slider marks the stability limit 2/λ_max. A run whose loss
    exceeds ``DIVERGED`` times its start stops there and says so.
    """

    _module = "line_fit"
    x = traitlets.List(traitlets.Float()).tag(sync=True)
    y = traitlets.List(traitlets.Float()).tag(sync=True)
    learning_rate = traitlets.Float(0.1).tag(sync=True)
    steps = traitlets.Int(100).tag(sync=True)
    step = traitlets.Int(0).tag(sync=True)
    xlabel = traitlets.Unicode("x").tag(sync=True)
    ylabel = traitlets.Unicode("y").tag(sync=True)
    diverged_factor = traitlets.Float(DIVERGED, read_only=True).tag(sync=True)
    max_learning_rate = traitlets.Float(MAX_LEARNING_RATE, read_only=True).tag(sync=True)

    def __init__(self, x, y, learning_rate: float = 0.1, steps: int = 100, step: int = 0,
                 xlabel: str = "x", ylabel: str = "y"):
        x, y = _points(x, y)
        super().__init__(x=x.tolist(), y=y.tolist(), learning_rate=learning_rate, steps=steps,
                         step=step, xlabel=xlabel, ylabel=ylabel)

    @traitlets.validate("x", "y")
    def _check_points(self, proposal):
        changed = proposal["trait"].name
        x = proposal["value"] if changed == "x" else self.x
        y = proposal["value"] if changed == "y" else self.y
        try:
            _points(x, y)
        except ValueError as err:
            raise traitlets.TraitError(f"{err} To change both x and y, set them inside "
                                       "`with widget.hold_trait_notifications():`.") from None
        return proposal["value"]

    @traitlets.validate("learning_rate")
    def _check_learning_rate(self, proposal):
        try:
            return _learning_rate(proposal["value"])
        except ValueError as err:
            raise traitlets.TraitError(str(err)) from None

    @traitlets.validate("steps")
    def _check_steps(self, proposal):
        if not 1 <= proposal["value"] <= MAX_STEPS:
            raise traitlets.TraitError(f"steps must be from 1 to {MAX_STEPS}, "
                                       f"got {proposal['value']}.")
        return proposal["value"]

    @traitlets.validate("step")
    def _check_step(self, proposal):
        if not 0 <= proposal["value"] <= self.steps:
            raise traitlets.TraitError(f"step must be from 0 to steps = {self.steps}, "
                                       f"got {proposal['value']}.")
        return proposal["value"]

    def __repr__(self) -> str:  # the plain-text view: no memory address
        return (f"LineFitExplorer({len(self.x)} points, learning rate {self.learning_rate:g}, "
                f"step {self.step} of {self.steps})")

    def fallback(self) -> str:
        """The default state as a picture: the line at the current step, and the loss curve."""
        import matplotlib.pyplot as plt

        x, y = np.asarray(self.x), np.asarray(self.y)
        path = descent_path(x, y, self.learning_rate, self.steps)
        shown = min(self.step, len(path) - 1)
        w, b, current = path[shown]
        exact_w, exact_b = least_squares(x, y)
        fig, (fit, curve) = plt.subplots(1, 2, figsize=(7.6, 2.9), width_ratios=(3, 2))
        grid = np.array([min(0.0, x.min()), x.max()])
        fit.vlines(x, y, w * x + b, color=RESIDUAL_COLOR, linewidth=1.5, label="residuals")
        fit.plot(grid, exact_w * grid + exact_b, "--", color=EXACT_COLOR, linewidth=1.5,
                 label="least squares")
        fit.plot(grid, w * grid + b, color=LINE_COLOR, label=f"step {shown}")
        fit.plot(x, y, "o", color="black", markersize=4, label="measurements")
        fit.set(xlabel=self.xlabel, ylabel=self.ylabel)
        fit.legend(fontsize=8, loc="upper left")
        losses = [loss for _, _, loss in path]
        curve.semilogy(losses, color=LINE_COLOR)
        curve.axhline(np.mean((exact_w * x + exact_b - y) ** 2), ls="--", color=EXACT_COLOR,
                      linewidth=1.5)
        curve.plot([shown], [current], "o", color="black", markersize=5)
        curve.set(xlabel="step", ylabel="loss L (log scale)")
        fig.tight_layout()
        alt = (f"Left: {len(x)} measurements of {self.ylabel} against {self.xlabel}, the line "
               f"w = {w:.4f}, b = {b:.4f} after step {shown} with its residuals, and the "
               f"least-squares line dashed. Right: the loss over {len(path) - 1} steps at "
               f"learning rate {self.learning_rate:g}, on a log axis, from {losses[0]:.3g} to "
               f"{losses[-1]:.3g}.")
        return figure_fallback(fig, alt=alt)
