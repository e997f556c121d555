"""The calculus chapter's maths, checked and reusable, and the drawing behind its figures.

* ``gradient_descent``: the loop the chapter derives, with Polyak's heavy-ball momentum, input
  checks and a divergence rule. Later chapters reuse it.
* Loss surfaces of two parameters (``Quadratic``, ``Rosenbrock``, ``Saddle``, ``TwoMinima``), each
  with its value, gradient and Hessian.
* The rates and limits the chapter derives for a quadratic: ``stability_limit``,
  ``convergence_rate``, ``best_plain``, ``tuned_heavy_ball``.
* ``DescentExplorer``: the gradient-descent widget. It computes in the reader's browser
  (``mlbook/js/descent.js``), with the same formulas in the same order of operations as this
  module, so its iterates equal this module's (the tests compare them).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import matplotlib.pyplot as plt
import numpy as np
import traitlets
from matplotlib.colors import ListedColormap

from mlbook.plotting import CYCLE, PALETTE
from mlbook.widgets import BookWidget, figure_fallback

# A learning rate this large overshoots on any loss the book meets; it is a typo, not an experiment.
MAX_LEARNING_RATE = 100.0
MAX_STEPS = 10_000  # the explorer's longest run


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
                         "steps never fade.")
    return beta


def _check_steps(steps, largest: float = math.inf) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be a whole number ≥ 0, got {steps!r}.")
    if steps > largest:
        raise ValueError(f"steps must be at most {largest:g}, got {steps}.")
    return int(steps)


def gradient_descent(grad: Callable[[np.ndarray], np.ndarray], start: Sequence[float],
                     learning_rate: float, steps: int, momentum: float = 0.0,
                     bound: float = 1e6) -> Descent:
    """Run ``steps`` steps of gradient descent with heavy-ball momentum from ``start``.

    The update (Polyak 1964) is θ_{t+1} = θ_t − η ∇L(θ_t) + β (θ_t − θ_{t−1}), with θ_{−1} = θ_0;
    β = 0 is plain gradient descent. It is PyTorch's ``SGD`` with momentum, written without the
    velocity. The run stops early and reports ``diverged`` when an iterate has a coordinate
    beyond ``bound`` in size, or is not finite.
    """
    eta = check_learning_rate(learning_rate)
    beta = check_momentum(momentum)
    steps = _check_steps(steps)
    theta = np.array([_number(value, "Each coordinate of the start") for value in start],
                     dtype=float)
    if theta.size == 0:
        raise ValueError("The start needs at least one coordinate, e.g. (1.0, 2.0).")
    previous = theta
    path = [theta]
    # Overflow on the way to divergence is expected and detected below; it needs no warning.
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            gradient = np.asarray(grad(theta), dtype=float)
            if gradient.shape != theta.shape:
                raise ValueError(f"The gradient has shape {gradient.shape}, but the parameters "
                                 f"have shape {theta.shape}: they must match.")
            # The same operations, in the same order, as heavyBall in mlbook/js/descent.js.
            theta, previous = theta - eta * gradient + beta * (theta - previous), theta
            if not np.all(np.isfinite(theta)):
                return Descent(np.array(path), diverged=True)
            path.append(theta)
            if np.max(np.abs(theta)) > bound:
                return Descent(np.array(path), diverged=True)
    return Descent(np.array(path), diverged=False)


# --- Loss surfaces of two parameters --------------------------------------------------------------
# Each formula is written as mlbook/js/descent.js writes it (t1 * t1, not t1 ** 2), so that the
# browser's numbers equal these to the last bit.

@dataclass(frozen=True, kw_only=True)
class Surface:
    """A loss L(θ₁, θ₂) with its gradient and Hessian, and how the explorer shows it.

    ``extent`` is the plotted box (θ₁ from, θ₁ to, θ₂ from, θ₂ to); ``start``, ``learning_rate``
    and ``steps`` are the explorer's defaults for this surface.
    """

    kind: ClassVar[str] = ""
    name: str
    extent: tuple[float, float, float, float]
    start: tuple[float, float]
    learning_rate: float
    steps: int = 60

    def loss(self, t1, t2):
        raise NotImplementedError

    def gradient(self, t1, t2) -> tuple:
        raise NotImplementedError

    def hessian(self, t1, t2) -> np.ndarray:
        raise NotImplementedError

    def params(self) -> dict:
        return {}

    def critical_seeds(self) -> list[tuple[float, float]]:
        """Starting points from which Newton's method finds every critical point in the box."""
        raise NotImplementedError

    def grad(self, theta) -> np.ndarray:
        """∇L at θ = (θ₁, θ₂), as an array (the form ``gradient_descent`` takes)."""
        t1, t2 = theta
        return np.array(self.gradient(t1, t2), dtype=float)

    def critical_points(self) -> list[np.ndarray]:
        """The points where ∇L = 0, found by Newton's method from ``critical_seeds``."""
        points = []
        for seed in self.critical_seeds():
            theta = np.array(seed, dtype=float)
            for _ in range(100):
                step = np.linalg.solve(self.hessian(*theta), self.grad(theta))
                theta = theta - step
                if np.max(np.abs(step)) < 1e-15:
                    break
            if not any(np.allclose(theta, p, atol=1e-9) for p in points):
                points.append(theta)
        return points

    def minima(self) -> list[np.ndarray]:
        """The critical points where the Hessian is positive definite."""
        return [p for p in self.critical_points()
                if np.linalg.eigvalsh(self.hessian(*p)).min() > 0]

    def min_value(self) -> float:
        """L* = the lowest value of L at a minimum."""
        return min(float(self.loss(*p)) for p in self.minima())

    def bound(self) -> float:
        """Divergence: an iterate beyond this in either coordinate (ten times the plot)."""
        return 10.0 * max(abs(v) for v in self.extent)

    def run(self, start, learning_rate, steps, momentum=0.0) -> Descent:
        """Heavy-ball gradient descent on this surface, with the explorer's divergence rule."""
        return gradient_descent(self.grad, start, learning_rate, steps, momentum,
                                bound=self.bound())

    def grid(self, n: int = 121):
        """The loss on an n × n grid over the plotted box: (θ₁ grid, θ₂ grid, L grid)."""
        x0, x1, y0, y1 = self.extent
        grid_1, grid_2 = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
        return grid_1, grid_2, self.loss(grid_1, grid_2)

    def levels(self, count: int = 12) -> list[float]:
        """Contour levels of L − L*, evenly spaced on a log scale over the plotted box."""
        gap = self.grid()[2] - self.min_value()
        low, high = np.quantile(gap, [0.01, 0.9])
        low = max(low, high * 1e-4)
        return [float(v) for v in np.geomspace(low, high, count)]

    def describe(self, key: str) -> dict:
        """What the browser needs to compute and draw this surface (the explorer's data)."""
        minima = self.minima()
        limit = min(stability_limit(self.hessian(*p)) for p in minima)
        return {"key": key, "kind": self.kind, "name": self.name, "params": self.params(),
                "extent": list(self.extent), "start": list(self.start),
                "learning_rate": self.learning_rate, "steps": self.steps,
                "minima": [[float(v) for v in p] for p in minima],
                "min_value": self.min_value(), "levels": self.levels(), "bound": self.bound(),
                "eta_range": [10.0 ** math.floor(math.log10(limit) - 2.5),
                              10.0 ** math.ceil(math.log10(limit) + 0.5)]}


@dataclass(frozen=True, kw_only=True)
class Quadratic(Surface):
    """L = a θ₁² + c θ₁θ₂ + b θ₂²: a bowl whose Hessian, [[2a, c], [c, 2b]], is the same
    everywhere."""

    kind: ClassVar[str] = "quadratic"
    a: float
    b: float
    c: float = 0.0
    name: str = "quadratic bowl"
    extent: tuple[float, float, float, float] = (-5.0, 5.0, -5.0, 5.0)
    start: tuple[float, float] = (-4.0, 3.0)
    learning_rate: float = 0.3

    def loss(self, t1, t2):
        return self.a * t1 * t1 + self.c * t1 * t2 + self.b * t2 * t2

    def gradient(self, t1, t2):
        return (2 * self.a * t1 + self.c * t2, self.c * t1 + 2 * self.b * t2)

    def hessian(self, t1=0.0, t2=0.0):
        return np.array([[2 * self.a, self.c], [self.c, 2 * self.b]], dtype=float)

    def params(self):
        return {"a": self.a, "b": self.b, "c": self.c}

    def critical_seeds(self):
        return [(0.0, 0.0)]

    def eigenvalues(self) -> np.ndarray:
        """The Hessian's eigenvalues, smallest first: the bowl's principal curvatures."""
        return np.linalg.eigvalsh(self.hessian())


@dataclass(frozen=True, kw_only=True)
class Rosenbrock(Surface):
    """Rosenbrock's banana valley, L = (a − θ₁)² + b (θ₂ − θ₁²)², minimum 0 at (a, a²)."""

    kind: ClassVar[str] = "rosenbrock"
    a: float = 1.0
    b: float = 100.0
    name: str = "Rosenbrock's valley"
    extent: tuple[float, float, float, float] = (-2.0, 2.0, -1.0, 3.0)
    start: tuple[float, float] = (-1.2, 1.0)
    learning_rate: float = 0.001
    steps: int = 2000

    def loss(self, t1, t2):
        d1 = self.a - t1
        d2 = t2 - t1 * t1
        return d1 * d1 + self.b * d2 * d2

    def gradient(self, t1, t2):
        d1 = self.a - t1
        d2 = t2 - t1 * t1
        return (-2 * d1 - 4 * self.b * t1 * d2, 2 * self.b * d2)

    def hessian(self, t1, t2):
        d2 = t2 - t1 * t1
        return np.array([[2 - 4 * self.b * d2 + 8 * self.b * t1 * t1, -4 * self.b * t1],
                         [-4 * self.b * t1, 2 * self.b]], dtype=float)

    def params(self):
        return {"a": self.a, "b": self.b}

    def critical_seeds(self):
        return [(self.a, self.a * self.a)]


@dataclass(frozen=True, kw_only=True)
class Saddle(Surface):
    """L = θ₁²/2 + (θ₂² − 1)²/4: a saddle at the origin between minima at (0, ±1)."""

    kind: ClassVar[str] = "saddle"
    name: str = "a saddle between two minima"
    extent: tuple[float, float, float, float] = (-2.0, 2.0, -2.0, 2.0)
    start: tuple[float, float] = (-1.8, 0.001)
    learning_rate: float = 0.1
    steps: int = 120

    def loss(self, t1, t2):
        w = t2 * t2 - 1
        return 0.5 * t1 * t1 + 0.25 * w * w

    def gradient(self, t1, t2):
        return (t1, t2 * (t2 * t2 - 1))

    def hessian(self, t1, t2):
        return np.array([[1.0, 0.0], [0.0, 3 * t2 * t2 - 1]], dtype=float)

    def critical_seeds(self):
        return [(0.0, -1.0), (0.0, 0.0), (0.0, 1.0)]


@dataclass(frozen=True, kw_only=True)
class TwoMinima(Surface):
    """L = θ₁⁴/4 − θ₁²/2 + s θ₁ + (θ₂ − θ₁/2)²/2: a tilted double well, a deep, sharp minimum
    on the left and a shallow, flat one on the right."""

    kind: ClassVar[str] = "two-minima"
    tilt: float = 0.25
    name: str = "two minima"
    extent: tuple[float, float, float, float] = (-2.0, 2.0, -2.0, 2.0)
    start: tuple[float, float] = (1.5, -1.0)
    learning_rate: float = 0.1
    steps: int = 200

    def loss(self, t1, t2):
        q = t1 * t1
        d = t2 - 0.5 * t1
        return 0.25 * q * q - 0.5 * q + self.tilt * t1 + 0.5 * d * d

    def gradient(self, t1, t2):
        d = t2 - 0.5 * t1
        return (t1 * t1 * t1 - t1 + self.tilt - 0.5 * d, d)

    def hessian(self, t1, t2):
        return np.array([[3 * t1 * t1 - 0.75, -0.5], [-0.5, 1.0]], dtype=float)

    def params(self):
        return {"tilt": self.tilt}

    def critical_seeds(self):
        return [(-1.1, -0.55), (0.27, 0.13), (0.84, 0.42)]


def explorer_surfaces() -> dict[str, Surface]:
    """The explorer's surfaces, by key: two bowls, Rosenbrock's valley, a saddle, two minima."""
    return {
        "bowl": Quadratic(a=1.0, b=1.0, name="round bowl θ₁² + θ₂²", steps=40),
        "valley": Quadratic(a=0.1, b=1.0, name="ill-conditioned valley 0.1θ₁² + θ₂²"),
        "rosenbrock": Rosenbrock(),
        "saddle": Saddle(),
        "two-minima": TwoMinima(),
    }


# --- What the Hessian says about a run --------------------------------------------------------

def _eigenvalues(hessian) -> np.ndarray:
    values = np.linalg.eigvalsh(np.asarray(hessian, dtype=float))
    if values.min() <= 0:
        raise ValueError(f"The Hessian's eigenvalues {values} are not all positive: rates and "
                         "limits are defined at a minimum only.")
    return values


def stability_limit(hessian, momentum: float = 0.0) -> float:
    """The largest stable learning rate near a minimum with this Hessian: 2(1 + β)/λ_max."""
    beta = check_momentum(momentum)
    return 2 * (1 + beta) / float(_eigenvalues(hessian).max())


def convergence_rate(eigenvalues: Sequence[float], learning_rate: float,
                     momentum: float = 0.0) -> float:
    """The factor by which the error of heavy-ball descent on a quadratic shrinks per step, in
    the long run: the largest |z| over the roots of z² − (1 + β − ηλ) z + β = 0, for each
    curvature λ. Below 1, the run converges; above 1, it diverges.

    The same formula, in the same order, as ``convergenceRate`` in mlbook/js/descent.js.
    """
    eta, beta = check_learning_rate(learning_rate), check_momentum(momentum)
    worst = 0.0
    for curvature in eigenvalues:
        p = 1 + beta - eta * curvature
        discriminant = p * p - 4 * beta
        if discriminant >= 0:
            root = math.sqrt(discriminant)
            size = max(abs(p + root), abs(p - root)) / 2
        else:
            size = math.sqrt(beta)  # complex roots, |z|² = their product = β
        worst = max(worst, size)
    return worst


def best_plain(eigenvalues: Sequence[float]) -> dict:
    """Plain gradient descent's best learning rate on a quadratic, and its rate (κ−1)/(κ+1)."""
    low, high = min(eigenvalues), max(eigenvalues)
    kappa = high / low
    return {"learning_rate": 2 / (low + high), "momentum": 0.0,
            "rate": (kappa - 1) / (kappa + 1), "kappa": kappa}


def tuned_heavy_ball(eigenvalues: Sequence[float]) -> dict:
    """Polyak's tuned heavy ball on a quadratic, and its rate (√κ−1)/(√κ+1)."""
    low, high = min(eigenvalues), max(eigenvalues)
    root_kappa = math.sqrt(high / low)
    rate = (root_kappa - 1) / (root_kappa + 1)
    return {"learning_rate": 4 / (math.sqrt(high) + math.sqrt(low)) ** 2,
            "momentum": rate * rate, "rate": rate, "kappa": high / low}


def running_median(values, width: int) -> np.ndarray:
    """The median of each window of ``width`` neighbouring values (shorter at the ends): the
    typical value, where single values scatter."""
    values = np.asarray(values, dtype=float)
    half = width // 2
    return np.array([np.median(values[max(0, i - half):i + half + 1])
                     for i in range(len(values))])


def sci(value: float, digits: int = 2) -> str:
    """A number in scientific notation for prose: sci(16300000.0) == "1.6 × 10⁷"."""
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    power = str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{mantissa} × 10{power}"


def fitted_rate(path: np.ndarray, minimum: Sequence[float], skip: int = 10) -> float:
    """The measured rate: exp of the slope of log ‖θ_t − θ*‖ against t, fitted after ``skip``."""
    error = np.linalg.norm(np.asarray(path) - np.asarray(minimum), axis=1)[skip:]
    steps = np.arange(len(error))
    return float(np.exp(np.polyfit(steps, np.log(error), 1)[0]))


# --- The gradient-descent explorer --------------------------------------------------------------

class DescentExplorer(BookWidget):
    """Gradient descent with momentum on a surface of two parameters, computed in the browser.

    The reader picks a surface, sets η (log slider or typed), β and the start (click or drag on
    the contour plot), and steps, plays or resets the run. ``step`` is the iterate shown; a change
    of any other setting shows the whole new run.
    """

    _module = "descent"
    surfaces = traitlets.List(traitlets.Dict()).tag(sync=True)
    surface = traitlets.Unicode("valley").tag(sync=True)
    learning_rate = traitlets.Float(0.3).tag(sync=True)
    momentum = traitlets.Float(0.0).tag(sync=True)
    start = traitlets.List(traitlets.Float(), minlen=2, maxlen=2).tag(sync=True)
    steps = traitlets.Int(60).tag(sync=True)
    step = traitlets.Int(60).tag(sync=True)

    def __init__(self, surface: str = "valley", learning_rate=None, momentum: float = 0.0,
                 start=None, steps=None, step=None):
        self._surfaces = explorer_surfaces()
        if surface not in self._surfaces:
            raise traitlets.TraitError(f"surface must be one of {list(self._surfaces)}, "
                                       f"got {surface!r}.")
        chosen = self._surfaces[surface]
        steps = chosen.steps if steps is None else steps
        super().__init__(
            surfaces=[s.describe(key) for key, s in self._surfaces.items()], surface=surface,
            learning_rate=chosen.learning_rate if learning_rate is None else learning_rate,
            momentum=momentum, start=list(chosen.start if start is None else start),
            steps=steps, step=steps if step is None else step)

    @traitlets.validate("surface")
    def _valid_surface(self, proposal):
        keys = [s["key"] for s in self.surfaces] or list(explorer_surfaces())
        if proposal.value not in keys:
            raise traitlets.TraitError(f"surface must be one of {keys}, got {proposal.value!r}.")
        return proposal.value

    @traitlets.validate("learning_rate")
    def _valid_learning_rate(self, proposal):
        return _trait(check_learning_rate, proposal.value)

    @traitlets.validate("momentum")
    def _valid_momentum(self, proposal):
        return _trait(check_momentum, proposal.value)

    @traitlets.validate("start")
    def _valid_start(self, proposal):
        start = [_trait(_number, v, "Each coordinate of the start") for v in proposal.value]
        if max(abs(v) for v in start) > 1e3:
            raise traitlets.TraitError(f"The start {start} is far off the plot: choose "
                                       "coordinates of size at most 1000.")
        return start

    @traitlets.validate("steps")
    def _valid_steps(self, proposal):
        if not 1 <= proposal.value <= MAX_STEPS:
            raise traitlets.TraitError(f"steps must be a whole number from 1 to {MAX_STEPS}, "
                                       f"got {proposal.value}.")
        return proposal.value

    @traitlets.validate("step")
    def _valid_step(self, proposal):
        if proposal.value < 0:
            raise traitlets.TraitError(f"step must be 0 or more, got {proposal.value}.")
        return proposal.value

    def chosen(self) -> Surface:
        return self._surfaces[self.surface]

    def run(self) -> Descent:
        """The run the widget shows, computed in Python (the reference for the browser)."""
        return self.chosen().run(self.start, self.learning_rate, self.steps, self.momentum)

    def fallback(self) -> str:
        surface, descent = self.chosen(), self.run()
        fig = explorer_figure(surface, descent)
        alt = (f"Contours of the {surface.name} with the path of {descent.steps} steps of "
               f"gradient descent (η = {self.learning_rate:g}, β = {self.momentum:g}) from "
               f"({self.start[0]:g}, {self.start[1]:g}), and the loss against the step on a "
               "log scale.")
        return figure_fallback(fig, alt)


def _trait(check, *args):
    try:
        return check(*args)
    except ValueError as error:
        raise traitlets.TraitError(str(error)) from None


# --- Figures for the chapter (the chapter shows the maths; these draw it) -----------------------

# Cividis without its pale yellow end, so that the highest contour stays visible on white paper.
CONTOUR_COLORS = ListedColormap(plt.get_cmap("cividis")(np.linspace(0.0, 0.72, 256)))

def _finished(fig, layout: bool = True):
    """Lay out and close a figure that a cell shows by returning it (if open, it shows twice);
    ``use_book_style`` shows it as a compact PNG."""
    if layout:
        fig.tight_layout()
    plt.close(fig)
    return fig


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


def difference_error_figure(steps, errors: dict, models: dict, optima: dict):
    """Log-log plot of the errors of finite differences against the step h.

    ``errors`` maps a label to the measured errors (dots), ``models`` the same label to the error
    model (a dashed line) and ``optima`` to the model's best step (a marker on the h axis).
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.9))
    for (label, error), color in zip(errors.items(), (PALETTE["orange"], PALETTE["blue"]),
                                     strict=False):
        ax.loglog(steps, error, "o", ms=2.5, alpha=0.6, color=color, label=f"{label}: measured")
        ax.loglog(steps, models[label], "--", lw=1.5, color=color, label=f"{label}: model")
        ax.axvline(optima[label], color=color, lw=1, ls=":")
    ax.set(xlabel="step h", ylabel="|error|", ylim=(1e-15, 10))
    ax.legend(loc="lower left", fontsize=8.5, ncols=2)
    return _finished(fig)


def taylor_figure(f, df, d2f, x0: float):
    """``f`` near x0 with its first-order (tangent) and second-order (parabola) Taylor models."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    xs = np.linspace(x0 - 2.0, x0 + 2.0, 300)
    dx = xs - x0
    ax.plot(xs, f(xs), color=PALETTE["black"], label="f(x)")
    ax.plot(xs, f(x0) + df(x0) * dx, "--", color=PALETTE["blue"], label="first order")
    ax.plot(xs, f(x0) + df(x0) * dx + 0.5 * d2f(x0) * dx * dx, "-.", color=PALETTE["vermillion"],
            label="second order")
    ax.plot([x0], [f(x0)], "o", color=PALETTE["black"], ms=6)
    ax.set(xlabel="x", ylabel="f(x)", ylim=(f(xs).min() - 1, f(xs).max() + 1))
    ax.legend(loc="upper left", fontsize=9)
    return _finished(fig)


def gradient_field_figure(loss, grad, points, arrow_scale: float):
    """Contours of ``loss`` through each of ``points``, and the gradient ``grad`` there as an arrow
    ``arrow_scale`` times its length. The axes hold every arrow whole; the figure remembers the
    arrow tips and the axes' half-width (``arrow_tips``, ``axes_limit``) for the chapter's check."""
    points = np.asarray(points, dtype=float)
    tips = points + arrow_scale * np.array([grad(p) for p in points])
    lim = 1.15 * float(np.max(np.abs(np.vstack([points, tips]))))
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    xs = np.linspace(-lim, lim, 241)
    grid_1, grid_2 = np.meshgrid(xs, xs)
    levels = np.unique(np.round([loss(*p) for p in points], 10))
    contours = ax.contour(grid_1, grid_2, loss(grid_1, grid_2), levels=levels, cmap=CONTOUR_COLORS,
                          linewidths=1.2)
    ax.clabel(contours, fontsize=8, fmt="%g")
    for point, tip in zip(points, tips, strict=True):
        ax.annotate("", xy=tip, xytext=point,
                    arrowprops=dict(arrowstyle="->", color=PALETTE["vermillion"], lw=2))
        ax.plot(*point, "o", color=PALETTE["vermillion"], ms=4)
    ax.plot([0], [0], "*", color=PALETTE["black"], ms=9)
    ax.set(xlabel="θ₁", ylabel="θ₂", aspect="equal", xlim=(-lim, lim), ylim=(-lim, lim))
    ax.grid(False)
    shown = _finished(fig)
    shown.arrow_tips, shown.axes_limit = tips, lim
    return shown


def graph_figure(nodes: dict, edges: Sequence[tuple[str, str, str]]):
    """A computational graph. ``nodes`` maps a name to (x, y, label, forward value, adjoint);
    ``edges`` are (from, to, local derivative). Forward values show above each node (blue), the
    adjoints ∂L/∂node below it (vermillion), each local derivative beside its edge."""
    fig, ax = plt.subplots(figsize=(8.8, 3.6))
    boxes = {}
    for name, (x, y, label, value, adjoint) in nodes.items():
        boxes[name] = ax.text(x, y, label, ha="center", va="center", fontsize=11, zorder=3,
                              bbox=dict(boxstyle="round,pad=0.4", fc="white",
                                        ec=PALETTE["blue"], lw=1.5))
        ax.text(x, y + 0.38, f"{value:.4f}", ha="center", va="bottom", fontsize=10,
                color=PALETTE["blue"])
        ax.text(x, y - 0.38, f"{adjoint:.4f}", ha="center", va="top", fontsize=10,
                color=PALETTE["vermillion"])
    for source, target, derivative in edges:
        (x0, y0), (x1, y1) = nodes[source][:2], nodes[target][:2]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), zorder=2,
                    arrowprops=dict(arrowstyle="-|>", color="#444", lw=1.3, shrinkA=3,
                                    shrinkB=3, patchA=boxes[source], patchB=boxes[target]))
        # The label sits beside the middle of its edge, on the side facing down the page (the
        # values above the nodes are in the way upwards); level edges: just above them.
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        if abs(y1 - y0) < 1e-9:
            ax.text(mx, my + 0.1, derivative, fontsize=9.5, color="#222", ha="center",
                    va="bottom")
        else:
            nx, ny = -(y1 - y0), x1 - x0
            nx, ny = (nx, ny) if ny < 0 else (-nx, -ny)
            norm = math.hypot(nx, ny)
            ax.text(mx + 0.22 * nx / norm, my + 0.22 * ny / norm, derivative, fontsize=9.5,
                    color="#222", ha="left" if nx > 0 else "right", va="top")
    xs = [v[0] for v in nodes.values()]
    ys = [v[1] for v in nodes.values()]
    ax.text(min(xs) - 0.7, max(ys) + 0.38, "forward", ha="right", va="bottom",
            fontsize=9, color=PALETTE["blue"])
    ax.text(min(xs) - 0.7, max(ys) - 0.38, "adjoint\n∂L/∂node", ha="right", va="top",
            fontsize=9, color=PALETTE["vermillion"])
    ax.set(xlim=(min(xs) - 1.9, max(xs) + 0.9), ylim=(min(ys) - 0.8, max(ys) + 0.8))
    ax.axis("off")
    return _finished(fig)


def iterates_figure(runs: dict[str, np.ndarray]):
    """θ_t against t for several one-dimensional runs (label → iterates), and log₁₀|θ_t| beside
    it, where the closed form θ_t = (1 − 2η)^t θ_0 is a straight line."""
    fig, (ax, ax_log) = plt.subplots(1, 2, figsize=(8.6, 3.6))
    for (label, thetas), color in zip(runs.items(), CYCLE, strict=False):
        steps = np.arange(len(thetas))
        ax.plot(steps, thetas, "o-", ms=3, color=color, label=label)
        with np.errstate(divide="ignore"):
            ax_log.plot(steps, np.log10(np.abs(thetas)), "o-", ms=3, color=color)
    ax.axhline(0, color="#888", lw=1)
    ax.set(xlabel="step t", ylabel=r"$\theta_t$", ylim=(-3.5, 3.5))
    ax_log.set(xlabel="step t", ylabel=r"$\log_{10}|\theta_t|$")
    fig.legend(loc="lower center", ncols=4, fontsize=9, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return _finished(fig, layout=False)


def _contours(ax, surface: Surface, extent=None, levels=None):
    x0, x1, y0, y1 = extent or surface.extent
    grid_1, grid_2 = np.meshgrid(np.linspace(x0, x1, 161), np.linspace(y0, y1, 161))
    gap = surface.loss(grid_1, grid_2) - surface.min_value()
    ax.contour(grid_1, grid_2, gap, levels=levels or surface.levels(), cmap=CONTOUR_COLORS,
               linewidths=0.9)
    for point in surface.minima():  # above the paths that end on them
        ax.plot(*point, "*", color=PALETTE["black"], ms=10, zorder=5)
    ax.set(xlabel="θ₁", ylabel="θ₂", xlim=(x0, x1), ylim=(y0, y1), aspect="equal")
    ax.grid(False)


def momentum_figure(surface: Surface, runs: dict[str, np.ndarray], rates: dict[str, float]):
    """Paths of several runs (label → iterates) on ``surface``, and beside them L − L* against
    the step on a log scale, each with the dashed line (L₀ − L*) ρ^2t of its predicted rate ρ."""
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(9.0, 3.9),
                                      gridspec_kw={"width_ratios": [1.1, 1]})
    _contours(ax, surface)
    colors = (PALETTE["vermillion"], PALETTE["blue"], PALETTE["green"], PALETTE["purple"])
    lowest = np.inf
    for (label, path), color in zip(runs.items(), colors, strict=False):
        ax.plot(path[:, 0], path[:, 1], "o-", ms=2.5, lw=1.3, color=color, label=label)
        gap = surface.loss(path[:, 0], path[:, 1]) - surface.min_value()
        lowest = min(lowest, gap[gap > 0].min())
        steps = np.arange(len(path))
        ax_loss.semilogy(steps, gap, "o-", ms=2.5, lw=1.3, color=color)
        ax_loss.semilogy(steps, gap[0] * rates[label] ** (2 * steps), "--", lw=1, color=color)
    ax_loss.set(xlabel="step t", ylabel=r"$L(\theta_t) - L^*$",
                ylim=(max(lowest / 10, 1e-16), None))
    fig.legend(loc="lower center", ncols=len(runs), fontsize=9, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return _finished(fig, layout=False)


def landscape_figure(panels: Sequence[tuple[Surface, dict[str, np.ndarray]]]):
    """Side by side, each surface with its critical points (minima ★, saddles ✕) and the paths
    of a few runs (label → iterates)."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 4.0))
    for ax, (surface, runs) in zip(np.atleast_1d(axes), panels, strict=True):
        _contours(ax, surface)
        for point in surface.critical_points():
            if np.linalg.eigvalsh(surface.hessian(*point)).min() < 0:
                ax.plot(*point, "X", color=PALETTE["black"], ms=9, zorder=5)
        colors = (PALETTE["vermillion"], PALETTE["blue"], PALETTE["green"])
        for i, ((label, path), color) in enumerate(zip(runs.items(), colors, strict=False)):
            # Earlier runs on top: where two paths share a stretch, both stay visible.
            ax.plot(path[:, 0], path[:, 1], "o-", ms=2, lw=1.2, color=color, label=label,
                    zorder=4 - i)
            ax.plot(*path[0], "o", ms=6, mfc="white", color=color, zorder=4 - i)
        ax.set_title(surface.name, fontsize=11)
        ax.legend(loc="lower left", fontsize=8.5, framealpha=0.9, frameon=True)
    return _finished(fig)


def explorer_figure(surface: Surface, descent: Descent):
    """The explorer's default view as a picture: the path on the contours, and L − L* against the
    step (the widget's fallback where JavaScript is off)."""
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(8.0, 3.6))
    _contours(ax, surface)
    path = descent.path
    inside = np.all((path[:, 0:1] >= surface.extent[0]) & (path[:, 0:1] <= surface.extent[1]),
                    axis=1)
    ax.plot(path[:, 0], path[:, 1], "-", lw=1.4, color=PALETTE["vermillion"])
    ax.plot(path[inside, 0], path[inside, 1], "o", ms=2.5, color=PALETTE["vermillion"])
    ax.plot(*path[0], "o", ms=7, mfc="white", color=PALETTE["vermillion"])
    gap = surface.loss(path[:, 0], path[:, 1]) - surface.min_value()
    ax_loss.semilogy(np.arange(len(path)), np.maximum(gap, 1e-300), "-",
                     color=PALETTE["vermillion"])
    ax_loss.set(xlabel="step t", ylabel=r"$L(\theta_t) - L^*$")
    return _finished(fig)
