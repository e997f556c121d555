"""Plumbing for the linear algebra chapter: the linear-map explorer, least squares and PCA.

The explorer draws, for a 2×2 matrix A, what the map x ↦ Ax does to a grid, the unit circle and
the basis vectors, as SVG frames of the straight path (1 − t)I + tA from the identity to A. The
numerical routines are small on purpose: the chapter shows them and the tests check them.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import patheffects

from mlbook.calculus import check_learning_rate
from mlbook.plotting import CYCLE, DIVERGING_CMAP, PALETTE, SEQUENTIAL_CMAP
from mlbook.svg import Canvas
from mlbook.widgets import Stepper, is_static_build, message, noscript_image

VIEW = 3.2  # the explorer shows the square [-VIEW, VIEW]²
GRID = np.arange(-2, 3)  # grid lines x = k and y = k that the map moves
MAX_ENTRY = 10.0  # larger entries would throw the whole picture off the canvas
CUSTOM = "your matrix"
_CIRCLE = np.vstack([np.cos(np.linspace(0, 2 * np.pi, 49)), np.sin(np.linspace(0, 2 * np.pi, 49))])


# --- Least squares and PCA ------------------------------------------------------------------------

def least_squares_gradient_descent(X, y, learning_rate: float, steps: int):
    """Minimise L(θ) = ‖Xθ − y‖² / N by gradient descent from θ = 0.

    Returns the final θ and the loss before each step.
    """
    learning_rate = check_learning_rate(learning_rate)
    X, y = np.asarray(X, float), np.asarray(y, float)
    if X.ndim != 2 or y.shape != (len(X),):
        raise ValueError(f"X must be N × d and y have N entries: got shapes {X.shape} and "
                         f"{y.shape}.")
    if len(y) == 0:
        raise ValueError("least squares needs at least one example; X and y are empty.")
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

    Returns the mean (d,), the components as orthonormal rows (d × d) and
    their variances (d,): the eigenvectors and eigenvalues of the covariance
    matrix of the centred data.
    """
    X = np.asarray(X, float)
    if X.ndim != 2:
        raise ValueError(f"pca needs a 2-D data matrix (one example per row), got shape {X.shape}.")
    if len(X) < 2:
        raise ValueError(f"pca needs at least two examples to measure variance, got {len(X)}.")
    mean = X.mean(axis=0)
    centred = X - mean
    covariance = centred.T @ centred / (len(X) - 1)
    variances, vectors = np.linalg.eigh(covariance)   # ascending order
    order = np.argsort(variances)[::-1]
    # Round-off can leave the variance of a blank pixel a hair below zero.
    return mean, vectors[:, order].T, np.clip(variances[order], 0, None)


def reconstruct(X, mean, components, k: int):
    """Project the rows of ``X`` onto the first ``k`` components and map back to pixel space."""
    basis = components[:k]
    return mean + (X - mean) @ basis.T @ basis


def reconstruction_error(X, mean, components, ks: Sequence[int]) -> np.ndarray:
    """Mean squared error per pixel of the reconstruction with k components, for each k in ks.

    The components are an orthonormal basis, so by Pythagoras the squared error of keeping the first
    k coordinates is the squared length of the centred image minus that of its first k coordinates:
    one projection serves every k.
    """
    centred = X - mean
    kept = np.cumsum(np.mean((centred @ components.T) ** 2, axis=0))  # kept[k - 1]: first k
    total = np.mean(np.sum(centred**2, axis=1))
    kept = np.concatenate([[0.0], kept])
    return np.clip(total - kept[list(ks)], 0, None) / X.shape[1]


# --- Figures --------------------------------------------------------------------------------------

# Ten digits, but the colour-blind-safe palette has seven colours for points (its yellow is too
# faint on white). Digits 7, 8 and 9 reuse a colour as triangles, each paired with a digit that lies
# far from it in the PCA plane (3, 1, 0), and every cluster is labelled with its digit.
DIGIT_STYLES = [(colour, "o") for colour in CYCLE] + [(CYCLE[3], "^"), (CYCLE[1], "^"),
                                                        (CYCLE[0], "^")]


def plot_similarity(similarity, labels):
    """A heatmap of a square matrix of cosine similarities, each cell annotated."""
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    image = ax.imshow(similarity, cmap=SEQUENTIAL_CMAP)
    ticks = np.arange(len(labels))
    ax.set(xticks=ticks, yticks=ticks, xticklabels=labels, yticklabels=labels,
           xlabel="digit", ylabel="digit")
    ax.grid(False)
    middle = (similarity.min() + similarity.max()) / 2
    for (i, j), value in np.ndenumerate(similarity):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7.5,
                color="black" if value > middle else "white")
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


def plot_pca_scatter(points, labels):
    """Points in the plane of the first two principal components, one style per digit."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for digit, (color, marker) in enumerate(DIGIT_STYLES):
        mine = points[labels == digit]
        ax.scatter(mine[:, 0], mine[:, 1], s=4, color=color, marker=marker, alpha=0.4,
                   linewidths=0, label=str(digit), rasterized=True)
    centres = np.array([np.median(points[labels == digit], axis=0) for digit in range(10)])
    for digit, (x, y) in enumerate(_spread_apart(centres, ax)):
        ax.text(x, y, str(digit), fontsize=15, fontweight="bold", ha="center", va="center",
                color="black", path_effects=[patheffects.withStroke(linewidth=3.5,
                                                                    foreground="white")])
    legend = ax.legend(title="digit", ncols=2, markerscale=3, loc="upper left",
                       bbox_to_anchor=(1.0, 1.0))
    for handle in legend.legend_handles:
        handle.set_alpha(1)
    ax.set(xlabel="first principal component $z_1$", ylabel="second principal component $z_2$")
    fig.tight_layout()
    return fig


def _spread_apart(positions, ax, min_distance: float = 0.06, rounds: int = 100):
    """Nudge label positions apart until none is closer than ``min_distance`` (axes fractions)."""
    scale = np.array([np.ptp(ax.get_xlim()), np.ptp(ax.get_ylim())])
    spots = positions / scale
    for _ in range(rounds):
        gaps = spots[:, None, :] - spots[None, :, :]
        distances = np.linalg.norm(gaps, axis=-1) + np.eye(len(spots))
        crowded = distances < min_distance
        if not crowded.any():
            break
        push = (gaps / distances[..., None] * crowded[..., None]).sum(axis=1)
        spots = spots + 0.01 * push
    return spots * scale


# --- The linear-map explorer ----------------------------------------------------------------------

def check_matrix(entries: Sequence[float]) -> np.ndarray:
    """The 2×2 matrix [[a, b], [c, d]] from four entries; a ValueError says what is wrong."""
    values = np.asarray(entries, dtype=float)
    if values.shape != (4,):
        raise ValueError("A 2×2 matrix needs exactly four entries a, b, c, d.")
    if not np.all(np.isfinite(values)):
        raise ValueError("Every entry must be a finite number: NaN and infinity have no place in "
                         "a linear map you can draw.")
    if np.any(np.abs(values) > MAX_ENTRY):
        raise ValueError(f"Keep every entry between −{MAX_ENTRY:g} and {MAX_ENTRY:g}, "
                         "so that the grid stays on the picture.")
    return values.reshape(2, 2)


def real_eigenpairs(matrix) -> list[tuple[float, np.ndarray]] | None:
    """The real eigenvalues with one unit eigenvector per distinct direction; None if complex.

    A multiple of the identity returns an empty list: there every vector is an eigenvector.
    """
    matrix = np.asarray(matrix, dtype=float)
    values, vectors = np.linalg.eig(matrix)
    if np.any(np.abs(values.imag) > 1e-12):
        return None
    if np.allclose(matrix, matrix[0, 0] * np.eye(2)):
        return []
    pairs: list[tuple[float, np.ndarray]] = []
    for value, vector in zip(values.real, vectors.real.T, strict=True):
        vector = vector / np.linalg.norm(vector)
        if vector[np.argmax(np.abs(vector))] < 0:  # one sign convention, so readouts are stable
            vector = -vector
        # A defective matrix (a shear) returns the same direction twice: keep it once.
        if all(abs(vector[0] * seen[1] - vector[1] * seen[0]) > 1e-8 for _, seen in pairs):
            pairs.append((float(value), vector))
    return pairs


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text.replace("-", "−")


def _matrix_text(matrix) -> str:
    (a, b), (c, d) = matrix
    return f"[[{_num(a)}, {_num(b)}], [{_num(c)}, {_num(d)}]]"


def eigen_text(matrix) -> str:
    """One line on the eigenvalues and eigenvectors of a 2×2 matrix, for the readout."""
    pairs = real_eigenpairs(matrix)
    if pairs is None:
        value = np.linalg.eigvals(np.asarray(matrix, dtype=float))[0]
        return (f"eigenvalues {_num(value.real)} ± {_num(abs(value.imag))}i: complex, "
                "so no direction is kept")
    if not pairs:
        return f"every vector is an eigenvector, λ = {_num(matrix[0][0])}"
    return "; ".join(f"λ = {_num(value)} along ({_num(vector[0])}, {_num(vector[1])})"
                     for value, vector in pairs)


def _canvas(background: str | None) -> Canvas:
    return Canvas(360, 360, xlim=(-VIEW, VIEW), ylim=(-VIEW, VIEW), box=(6, 6, 354, 354),
                  background=background)


def _grid_paths() -> list[np.ndarray]:
    """The square grid as two zig-zag paths (2 × n points each), one for each family of lines.

    The zig-zag's connecting pieces run along the grid's border, itself a grid line, so two
    polylines draw the whole grid; a linear map sends segments to segments, so corners suffice.
    """
    low, high = GRID[0], GRID[-1]
    ups = [(k, y) for i, k in enumerate(GRID) for y in ((low, high) if i % 2 == 0 else (high, low))]
    vertical = np.array(ups, dtype=float).T
    return [vertical, vertical[::-1]]  # swapping x and y gives the horizontal lines


def _draw_map(canvas: Canvas, target, current) -> None:
    """The grid, unit circle and basis vectors under ``current``, with ``target``'s eigenlines."""
    for direction in _eigen_directions(target):
        ends = np.outer([-2 * VIEW, 2 * VIEW], direction)
        canvas.polyline(ends[:, 0], ends[:, 1], PALETTE["black"], width=1.5, dash="6 4")
    ghost = target @ _CIRCLE
    canvas.polyline(ghost[0], ghost[1], PALETTE["purple"], width=1.5, dash="3 3")
    for path in _grid_paths():
        moved = current @ path
        canvas.polyline(moved[0], moved[1], PALETTE["sky"], width=1.5)
    circle = current @ _CIRCLE
    canvas.polyline(circle[0], circle[1], PALETTE["vermillion"], width=3)
    for column, color, name in ((0, PALETTE["blue"], "Ae₁"), (1, PALETTE["orange"], "Ae₂")):
        x, y = current[:, column]
        canvas.arrow(0, 0, x, y, color, width=3)
        u, v = canvas.px(x, y)
        canvas.text(u + 6, v - 6, name, size=14, color=color, weight="bold")


def _draw_reference(canvas: Canvas) -> None:
    for path in _grid_paths():
        canvas.polyline(path[0], path[1], "#c8c8c8", width=1)


def map_backdrop() -> str:
    """The unmoved grid, drawn once underneath every frame."""
    canvas = _canvas("white")
    _draw_reference(canvas)
    return canvas.to_svg("The unmoved square grid, for reference.")


def map_frame(target, t: float, step: int) -> str:
    """One explorer frame: the map (1 − t)I + tA applied to the grid, unit circle and basis."""
    target = np.asarray(target, dtype=float)
    current = (1 - t) * np.eye(2) + t * target
    canvas = _canvas(None)  # transparent: the backdrop's reference grid shows through
    _draw_map(canvas, target, current)
    det_now = np.linalg.det(current)
    label = (f"The map {_matrix_text(current)}, t = {t:.1f} of the way from the identity to "
             f"A = {_matrix_text(target)}, applied to a grid, the unit circle and the basis "
             f"vectors; area scale {_num(det_now)}.")
    readout = (f'<div class="mlbook-readout">A = <b>{_matrix_text(target)}</b> · '
               f"det A = <b>{_num(np.linalg.det(target))}</b> · {html.escape(eigen_text(target))}"
               f"<br>t = {t:.1f}: showing (1 − t)I + tA = {_matrix_text(current)}, "
               f"area scale det = {_num(det_now)}</div>")
    flat = ",".join(f"{value:.6g}" for value in target.ravel())
    return (f'<div class="mlbook-frame" data-step="{step}" data-t="{t:.2f}" '
            f'data-matrix="{flat}" data-det="{np.linalg.det(target):.6g}">'
            f"{canvas.to_svg(label)}{readout}</div>")


def _eigen_directions(matrix) -> list[np.ndarray]:
    pairs = real_eigenpairs(matrix)
    return [vector for _, vector in pairs] if pairs else []


def map_frames(target, n_steps: int = 10) -> list[str]:
    """Frames for t = 0, 1/n_steps, …, 1: the grid deforming from the identity into A."""
    return [map_frame(target, step / n_steps, step) for step in range(n_steps + 1)]


class LinearMapExplorer(widgets.VBox):
    """Pick a preset 2×2 matrix and watch the plane deform; in a live kernel, type any matrix.

    ``presets`` maps a name to a 2×2 matrix. In the static build the reader steps through
    precomputed frames; with a kernel four inputs set the entries of a further run, ``your matrix``.
    """

    def __init__(self, presets: Mapping[str, Sequence[Sequence[float]]], n_steps: int = 10,
                 live: bool | None = None):
        self.presets = {name: check_matrix(np.ravel(matrix)) for name, matrix in presets.items()}
        self.n_steps = n_steps
        live = not is_static_build() if live is None else live
        runs = {(name,): map_frames(matrix, n_steps) for name, matrix in self.presets.items()}
        if live:
            runs[(CUSTOM,)] = map_frames(np.eye(2), n_steps)
        backdrops = dict.fromkeys((name for (name,) in runs), map_backdrop())
        self.stepper = Stepper(runs, dims=["matrix"], backdrops=backdrops, interval_ms=250,
                               step_label="t")
        self.status = widgets.HTML()
        self.entries: list[widgets.FloatText] = []
        children: list[widgets.Widget] = [self.stepper]
        if live:
            self.entries = [widgets.FloatText(value=value, description=name,
                                              layout=widgets.Layout(width="10em"))
                            for name, value in zip("abcd", np.eye(2).ravel(), strict=True)]
            for entry in self.entries:
                entry.observe(self._entries_changed, names="value")
            grid = widgets.GridBox(self.entries, layout=widgets.Layout(
                grid_template_columns="repeat(2, max-content)"))
            children += [widgets.HTML("Type any matrix A = [[a, b], [c, d]]:"), grid]
        super().__init__(children + [self.status])

    def show_matrix(self, entries: Sequence[float]) -> None:
        """Draw the run for the matrix with these four entries, or say why it cannot be drawn."""
        try:
            matrix = check_matrix(entries)
        except ValueError as err:
            self.status.value = message(str(err), "error")
            return
        self.status.value = ""
        self.stepper.set_run((CUSTOM,), map_frames(matrix, self.n_steps))
        self.stepper.dropdowns[0].value = CUSTOM
        self.stepper.slider.value = self.n_steps

    def _entries_changed(self, _change) -> None:
        self.show_matrix([entry.value for entry in self.entries])

    def noscript_html(self) -> str:
        """The default preset's last frame, shown where JavaScript is off."""
        name, matrix = next(iter(self.presets.items()))
        canvas = _canvas("white")
        _draw_reference(canvas)
        _draw_map(canvas, matrix, matrix)
        svg = canvas.to_svg(f"The {name} applied to a grid, the unit circle and the basis vectors.")
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode("ascii")
        return noscript_image(uri, f"The {name} {_matrix_text(matrix)} applied to a grid, the "
                                   "unit circle and the basis vectors.")
