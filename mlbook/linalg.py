"""Plumbing for the linear algebra chapter: least squares, PCA, their figures, and the linear-map
explorer.

The explorer (:class:`LinearMapExplorer`) is a book widget: Python holds the matrix and the
presets, ``mlbook/js/linear_map.js`` computes the determinant, eigenvalues and singular values of
the 2×2 matrix in closed form and draws the map in the reader's browser. :func:`map_summary` is
the NumPy reference those closed forms are tested against. The numerical routines are small on
purpose: the chapter shows them and the tests check them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import traitlets

from mlbook.calculus import check_learning_rate
from mlbook.plotting import DIVERGING_CMAP, PALETTE, SEQUENTIAL_CMAP
from mlbook.widgets import BookWidget, figure_fallback

MAX_ENTRY = 10.0  # the explorer takes entries in [-MAX_ENTRY, MAX_ENTRY] (as linear_map.js)
VIEW = 3.5  # the explorer shows the square [-VIEW, VIEW]² (as linear_map.js)
GRID = np.arange(-2, 3)  # the grid lines x = k and y = k that the map moves
# An asymmetric shape, the letter F, so that a reflection shows as a mirror image (as
# linear_map.js draws it).
LETTER_F = [(-1.4, 0.3), (-1.15, 0.3), (-1.15, 0.85), (-0.7, 0.85), (-0.7, 1.1), (-1.15, 1.1),
            (-1.15, 1.4), (-0.5, 1.4), (-0.5, 1.65), (-1.4, 1.65)]
DEFAULT_MATRIX = ((1.5, 0.5), (0.25, 1.0))


# --- Least squares and PCA ------------------------------------------------------------------------

def least_squares_gradient_descent(X, y, learning_rate: float, steps: int):
    """Minimise L(θ) = ‖Xθ − y‖² / N by gradient descent from θ = 0.

    Returns the final θ and the loss before each step.
    """
    learning_rate = check_learning_rate(learning_rate)
    X, y = np.asarray(X, float), np.asarray(y, float)
    if X.ndim != 2 or y.shape != (len(X),):
        raise ValueError("X must be N × d and y have N entries: got shapes "
                         f"{X.shape} and {y.shape}.")
    if len(y) == 0:
        raise ValueError("least squares needs at least one example; "
                         "X and y are empty.")
    n_examples = len(y)
    theta = np.zeros(X.shape[1])
    losses = []
    for _ in range(steps):
        residual = X @ theta - y
        losses.append(residual @ residual / n_examples)
        gradient = (2 / n_examples) * X.T @ residual      # ∇L(θ)
        theta = theta - learning_rate * gradient
    return theta, np.array(losses)


def pca(X):
    """Principal components of the rows of X (N × d), largest variance first.

    Returns the mean (d,), the components as orthonormal columns of a
    d × d matrix W, and their variances (d,): the eigenvectors and
    eigenvalues of the covariance matrix of the centred data.
    """
    X = np.asarray(X, float)
    if X.ndim != 2:
        raise ValueError("pca needs a 2-D data matrix (one example per row), "
                         f"got shape {X.shape}.")
    if len(X) < 2:
        raise ValueError("pca needs at least two examples to measure "
                         f"variance, got {len(X)}.")
    mean = X.mean(axis=0)
    centred = X - mean
    covariance = centred.T @ centred / (len(X) - 1)
    variances, W = np.linalg.eigh(covariance)   # ascending order
    order = np.argsort(variances)[::-1]
    # Round-off can leave the variance of a blank pixel a hair below 0.
    return mean, W[:, order], np.clip(variances[order], 0, None)


def reconstruct(X, mean, W, k: int):
    """Project the rows of X onto the first k components (columns of W) and map back."""
    W_k = W[:, :k]
    return mean + (X - mean) @ W_k @ W_k.T


def reconstruction_error(X, mean, W, ks: Sequence[int]) -> np.ndarray:
    """Mean squared error per pixel of the reconstruction with k components, for each k in ks.

    The components are an orthonormal basis, so by Pythagoras the squared error of keeping the first
    k coordinates is the squared length of the centred image minus that of its first k coordinates:
    one projection serves every k.
    """
    centred = X - mean
    kept = np.cumsum(np.mean((centred @ W) ** 2, axis=0))  # kept[k - 1]: first k
    total = np.mean(np.sum(centred**2, axis=1))
    kept = np.concatenate([[0.0], kept])
    return np.clip(total - kept[list(ks)], 0, None) / X.shape[1]


# --- Figures --------------------------------------------------------------------------------------

def plot_similarity(similarity, labels):
    """A heatmap of a square matrix of cosine similarities on the scale 0 to 1, each cell
    annotated."""
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    image = ax.imshow(similarity, cmap=SEQUENTIAL_CMAP, vmin=0, vmax=1)
    ticks = np.arange(len(labels))
    ax.set(xticks=ticks, yticks=ticks, xticklabels=labels, yticklabels=labels,
           xlabel="digit", ylabel="digit")
    ax.grid(False)
    for (i, j), value in np.ndenumerate(similarity):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7.5,
                color="black" if value > 0.5 else "white")
    fig.colorbar(image, ax=ax, label="cosine similarity", shrink=0.85)
    fig.tight_layout()
    return fig


def _tile(image, diverging: bool) -> np.ndarray:
    """A 28×28 image as RGB: grey ink for pixels, PuOr around white zero for signed values."""
    image = np.asarray(image, dtype=float).reshape(28, 28)
    if diverging:
        limit = np.abs(image).max() or 1.0
        return mpl.colormaps[DIVERGING_CMAP]((image / limit + 1) / 2)[..., :3]
    return mpl.colormaps["gray_r"](np.clip(image, 0, 1))[..., :3]


def plot_digits(images, titles=None, row_labels=None, diverging=False, columns=None):
    """28×28 images in a grid of ``columns``, with a title over each or a label before each row.

    ``diverging`` (one flag, or one per image) draws signed images such as principal components.
    The grid is one mosaic image, so even dozens of digits draw quickly.
    """
    count, size, gap, band = len(images), 28, 4, 10
    columns = columns or count
    rows = -(-count // columns)
    flags = np.broadcast_to(diverging, count)
    left_margin = 2 * size if row_labels else gap
    pitch_x, pitch_y = size + gap, size + (band if titles else gap)
    # A gap on every side, so that no tile's frame touches the figure's edge.
    mosaic = np.ones((rows * pitch_y + gap, left_margin + columns * pitch_x, 3))
    fig, ax = plt.subplots(figsize=(mosaic.shape[1] / 32, mosaic.shape[0] / 32))
    for index, (image, flag) in enumerate(zip(images, flags, strict=True)):
        row, column = divmod(index, columns)
        top, left = row * pitch_y + pitch_y - size, left_margin + column * pitch_x
        mosaic[top:top + size, left:left + size] = _tile(image, flag)
        ax.add_patch(mpl.patches.Rectangle((left - 0.5, top - 0.5), size, size, fill=False,
                                           edgecolor="#999999", linewidth=0.6))
        if titles:
            ax.text(left + size / 2, top - 2, titles[index], ha="center", va="bottom", fontsize=11)
    for row, label in enumerate(row_labels or []):
        ax.text(left_margin - gap, row * pitch_y + pitch_y - size / 2, label, ha="right",
                va="center", fontsize=11)
    ax.imshow(mosaic, interpolation="nearest")
    ax.axis("off")
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1)
    return fig


def _density(points, x_edges, y_edges) -> np.ndarray:
    """A 2-D histogram of ``points``, smoothed twice with a 3×3 binomial kernel, summing to 1
    (rows: y, columns: x, as contour plots want)."""
    counts, _, _ = np.histogram2d(*np.asarray(points).T, bins=[x_edges, y_edges])
    kernel = np.outer([1, 2, 1], [1, 2, 1]) / 16
    for _ in range(2):
        padded = np.pad(counts, 1)
        counts = sum(kernel[i, j] * padded[i:i + counts.shape[0], j:j + counts.shape[1]]
                     for i in range(3) for j in range(3))
    return counts.T / counts.sum()


def _mass_levels(density, masses) -> list[float]:
    """The density levels whose regions above them hold the given fractions of the mass."""
    values = np.sort(density.ravel())[::-1]
    cumulative = np.cumsum(values)
    return sorted(float(values[np.searchsorted(cumulative, mass)]) for mass in masses)


def plot_pca_panels(points, labels, bins: int = 40):
    """Points in the plane of the first two principal components, one small panel per digit:
    the regions holding the densest 50 % and 90 % of that digit's points (dark and light blue)
    over the region holding 95 % of all points (grey)."""
    points, labels = np.asarray(points), np.asarray(labels)
    low, high = points.min(axis=0) - 0.5, points.max(axis=0) + 0.5
    x_edges, y_edges = np.linspace(low[0], high[0], bins + 1), np.linspace(low[1], high[1],
                                                                            bins + 1)
    x_mid, y_mid = (x_edges[:-1] + x_edges[1:]) / 2, (y_edges[:-1] + y_edges[1:]) / 2
    everyone = _density(points, x_edges, y_edges)
    (outline,) = _mass_levels(everyone, [0.95])
    fig, axes = plt.subplots(2, 5, figsize=(9.6, 4.2), sharex=True, sharey=True)
    for digit, ax in enumerate(axes.flat):
        ax.contourf(x_mid, y_mid, everyone, levels=[outline, everyone.max()], colors=["#e3e3e3"])
        ax.contour(x_mid, y_mid, everyone, levels=[outline], colors=["#8a8a8a"], linewidths=0.8)
        mine = _density(points[labels == digit], x_edges, y_edges)
        ax.contourf(x_mid, y_mid, mine, levels=[*_mass_levels(mine, [0.9, 0.5]), mine.max()],
                    colors=[PALETTE["sky"], PALETTE["blue"]])
        ax.set_title(f"digit {digit}", fontsize=11)
        ax.set_aspect("equal", adjustable="box")
        ax.grid(False)
    for ax in axes[1]:
        ax.set_xlabel("$z_1$")
    for ax in axes[:, 0]:
        ax.set_ylabel("$z_2$")
    fig.tight_layout()
    return fig


# --- The linear-map explorer ----------------------------------------------------------------------

def check_matrix(entries) -> np.ndarray:
    """The 2×2 matrix from [[a, b], [c, d]] or [a, b, c, d]; a ValueError says what is wrong."""
    try:
        values = np.asarray(entries, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("A 2×2 matrix needs four numbers, [[a, b], [c, d]] or [a, b, c, d]; "
                         f"got {entries!r}.") from None
    if values.shape not in {(4,), (2, 2)}:
        raise ValueError("A 2×2 matrix needs exactly four entries, [[a, b], [c, d]] or "
                         f"[a, b, c, d]; got shape {values.shape}.")
    if not np.all(np.isfinite(values)):
        raise ValueError("Every entry must be a finite number: NaN and infinity have no place in "
                         "a linear map you can draw.")
    if np.any(np.abs(values) > MAX_ENTRY):
        raise ValueError(f"Keep every entry between −{MAX_ENTRY:g} and {MAX_ENTRY:g}, "
                         "so that the picture stays readable.")
    return values.reshape(2, 2)


def eigen_kind(matrix) -> str:
    """How a 2×2 matrix's eigenvalues λ = m ± √(p² + bc) (m, p the mean and half-difference of
    the diagonal) come: "distinct" (two real directions), "defective" (a double root with one
    direction, as in a shear), "scalar" (A = λI: every direction) or "complex" (none).
    linear_map.js uses the same rule and tolerances."""
    (a, b), (c, d) = check_matrix(matrix)
    scale = max(abs(a), abs(b), abs(c), abs(d))
    half_difference = (a - d) / 2
    discriminant = half_difference**2 + b * c
    tolerance = 1e-14 * scale**2
    if discriminant < -tolerance:
        return "complex"
    if discriminant <= tolerance:
        flat = max(abs(b), abs(c), abs(half_difference)) <= 1e-12 * scale
        return "scalar" if flat else "defective"
    return "distinct"


def _unit(vector) -> list[float]:
    """A unit vector, signed so that its largest entry is positive (one convention for all)."""
    vector = np.real(np.asarray(vector, dtype=complex)) / np.linalg.norm(vector)
    if vector[np.argmax(np.abs(vector))] < 0:
        vector = -vector
    return [float(v) for v in vector]


def real_eigenpairs(matrix) -> list[tuple[float, list[float]]] | None:
    """The real eigenvalues, largest first, with one unit eigenvector per distinct direction;
    None if they are complex, an empty list if every vector is an eigenvector (A = λI)."""
    A = check_matrix(matrix)
    kind = eigen_kind(A)
    if kind == "complex":
        return None
    if kind == "scalar":
        return []
    values, vectors = np.linalg.eig(A)
    if kind == "defective":  # both columns of eig point (nearly) along the one direction
        return [(float(np.mean(values.real)), _unit(vectors[:, 0]))]
    order = np.argsort(values.real)[::-1]
    return [(float(values.real[i]), _unit(vectors[:, i])) for i in order]


def map_summary(matrix) -> dict:
    """What the explorer reads out for a 2×2 matrix, computed with NumPy: the reference for the
    closed forms in linear_map.js. Vectors are lists [x, y]; u and v hold the singular vectors
    (the columns of U and V in A = UΣVᵀ)."""
    A = check_matrix(matrix)
    scale = np.abs(A).max()
    det = float(np.linalg.det(A))
    U, sigma, Vt = np.linalg.svd(A)
    summary = {"det": det, "singular": abs(det) <= 1e-12 * scale**2,
               "kind": eigen_kind(A), "sigma": [float(s) for s in sigma],
               "u": [list(map(float, U[:, i])) for i in range(2)],
               "v": [list(map(float, Vt[i])) for i in range(2)]}
    summary["condition"] = (float("inf") if summary["singular"] or sigma[1] == 0
                            else float(sigma[0] / sigma[1]))
    if summary["kind"] == "complex":
        value = np.linalg.eigvals(A)[0]
        summary["eigenvalues"] = [float(value.real), float(abs(value.imag))]
        summary["eigenvectors"] = []
    elif summary["kind"] == "scalar":
        summary["eigenvalues"], summary["eigenvectors"] = [float(A[0, 0])], []
    else:
        pairs = real_eigenpairs(A)
        summary["eigenvalues"] = [value for value, _ in pairs]
        summary["eigenvectors"] = [vector for _, vector in pairs]
    return summary


def _num(value: float) -> str:
    text = f"{value:.3g}"
    return "0" if text in ("-0", "0") else text.replace("-", "−")


def describe(matrix) -> str:
    """One sentence on what the map does, for alt text."""
    A = check_matrix(matrix)
    info = map_summary(A)
    (a, b), (c, d) = A
    if info["kind"] == "complex":
        re, im = info["eigenvalues"]
        eigen = f"complex eigenvalues {_num(re)} ± {_num(im)}i, so no real direction is kept"
    elif info["kind"] == "scalar":
        eigen = f"every direction an eigenvector with λ = {_num(info['eigenvalues'][0])}"
    else:
        eigen = "eigenvalues " + " and ".join(_num(v) for v in info["eigenvalues"])
    return (f"The map A = [[{_num(a)}, {_num(b)}], [{_num(c)}, {_num(d)}]] applied to a square "
            "grid, the unit circle and the letter F: the grid becomes parallelograms, the circle "
            f"an ellipse with semi-axes σ₁ = {_num(info['sigma'][0])} and σ₂ = "
            f"{_num(info['sigma'][1])}; det A = {_num(0.0 if info['singular'] else info['det'])}"
            f"; {eigen}.")


def draw_linear_map(ax, matrix) -> None:
    """Draw what the map does (as the explorer does): grid, unit circle → ellipse, the letter F,
    the columns, the real eigenvector directions (dashed) and the ellipse's semi-axes σᵢuᵢ."""
    A = check_matrix(matrix)
    info = map_summary(A)
    span = np.array([GRID[0], GRID[-1]], dtype=float)
    for k in GRID:
        for ends in (np.array([[k, k], span]), np.array([span, [k, k]])):
            ax.plot(*ends, color="#d0d0d0", lw=0.8)
            ax.plot(*(A @ ends), color=PALETTE["sky"], lw=1.2)
    angles = np.linspace(0, 2 * np.pi, 97)
    circle = np.vstack([np.cos(angles), np.sin(angles)])
    ax.plot(*circle, color="#8a8a8a", lw=1, ls="--")
    ax.plot(*(A @ circle), color=PALETTE["vermillion"], lw=2.2)
    shape = np.array(LETTER_F).T
    ax.fill(*shape, facecolor="none", edgecolor="#8a8a8a", lw=1, ls="--")
    ax.fill(*(A @ shape), facecolor=PALETTE["green"], alpha=0.35, edgecolor=PALETTE["green"])
    for direction in info["eigenvectors"]:
        ends = np.outer([-2 * VIEW, 2 * VIEW], direction)
        ax.plot(ends[:, 0], ends[:, 1], color="black", lw=1.2, ls=(0, (6, 4)))
    for sigma, u in zip(info["sigma"], info["u"], strict=True):
        ax.plot([0, sigma * u[0]], [0, sigma * u[1]], color=PALETTE["purple"], lw=2.5)
    for column, color, name in ((0, PALETTE["blue"], "$A\\mathbf{e}_1$"),
                                (1, PALETTE["orange"], "$A\\mathbf{e}_2$")):
        x, y = A[:, column]
        ax.annotate("", xy=(x, y), xytext=(0, 0),
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": 2.2})
        ax.text(x + 0.12, y + 0.12, name, color=color, fontsize=12)
    ax.set(xlim=(-VIEW, VIEW), ylim=(-VIEW, VIEW), aspect="equal")
    ax.grid(False)


def _flat(matrix) -> list[float]:
    return [float(v) for v in check_matrix(matrix).ravel()]


class LinearMapExplorer(BookWidget):
    """A 2×2 matrix A as a map of the plane, computed and drawn in the reader's browser.

    The reader drags the tips of the columns Ae₁ and Ae₂, types the four entries or presses a
    preset; the widget redraws the grid, the unit circle's image (an ellipse), the letter F, the
    real eigenvector directions and the singular vectors, and reads out det A, the eigenvalues, the
    singular values and the condition number. ``matrix`` is [[a, b], [c, d]] (stored row by row);
    ``presets`` maps a button's name to a matrix.
    """

    _module = "linear_map"
    matrix = traitlets.List(traitlets.Float(), default_value=_flat(DEFAULT_MATRIX)).tag(sync=True)
    presets = traitlets.List(traitlets.Dict()).tag(sync=True)

    def __init__(self, matrix=DEFAULT_MATRIX,
                 presets: Mapping[str, Sequence[Sequence[float]]] | None = None, **kwargs):
        listed = [{"name": str(name), "matrix": _flat(entries)}
                  for name, entries in (presets or {}).items()]
        super().__init__(matrix=_flat(matrix), presets=listed, **kwargs)

    @traitlets.validate("matrix")
    def _valid_matrix(self, proposal):
        try:
            return _flat(proposal["value"])
        except ValueError as err:
            raise traitlets.TraitError(str(err)) from None

    def fallback(self) -> str:
        fig, ax = plt.subplots(figsize=(4.0, 4.0))
        draw_linear_map(ax, self.matrix)
        fig.tight_layout()
        return figure_fallback(fig, alt=describe(self.matrix))
