"""The linear algebra chapter: its maths (PCA, least squares, eigenvectors), the linear-map
explorer's live controls, and the built page as a reader sees it."""

import math
import re

import numpy as np
import pytest
from conftest import SITE, choose, open_page, press_play, step_forward, stepper, visible_frame

from mlbook import load_mnist
from mlbook.linalg import (
    CUSTOM,
    LinearMapExplorer,
    check_matrix,
    least_squares_gradient_descent,
    pca,
    real_eigenpairs,
    reconstruct,
    reconstruction_error,
)

DOC = "chapters/linear_algebra"
PRESETS = {
    "shear": [[1, 1], [0, 1]],
    "rotation by 30°": [[math.cos(math.pi / 6), -math.sin(math.pi / 6)],
                        [math.sin(math.pi / 6), math.cos(math.pi / 6)]],
    "projection onto y = x (singular)": [[0.5, 0.5], [0.5, 0.5]],
}


def _pixels(dataset, count=None):
    images = dataset.data[:count] if count else dataset.data
    return images.reshape(len(images), -1).numpy() / 255.0


@pytest.fixture(scope="module")
def mnist_pca():
    train = _pixels(load_mnist(train=True))
    return pca(train), _pixels(load_mnist(train=False), 2000)


# --- PCA ------------------------------------------------------------------------------------------

def test_pca_components_are_orthonormal_and_ordered_by_variance(mnist_pca):
    (mean, components, variances), _ = mnist_pca
    assert components.shape == (784, 784) and mean.shape == (784,)
    np.testing.assert_allclose(components @ components.T, np.eye(784), atol=1e-10)
    assert np.all(np.diff(variances) <= 1e-12), "variances must come largest first"
    assert variances[0] > 10 * variances[50] > 0


def test_pca_variances_are_the_variances_along_the_components(mnist_pca):
    (mean, components, variances), test_images = mnist_pca
    train = _pixels(load_mnist(train=True))
    along_first = (train - mean) @ components[0]
    assert along_first.var(ddof=1) == pytest.approx(variances[0], rel=1e-9)


def test_reconstruction_error_falls_monotonically_with_k(mnist_pca):
    (mean, components, _), test_images = mnist_pca
    ks = [0, 1, 2, 5, 10, 20, 50, 100, 200, 400, 784]
    errors = reconstruction_error(test_images, mean, components, ks)
    assert np.all(np.diff(errors) < 0), f"errors must fall with every k: {errors}"
    assert errors[-1] < 1e-12 * errors[0], "with all 784 components the reconstruction is exact"
    assert errors[0] == pytest.approx(np.mean((test_images - mean) ** 2)), "k = 0 is the mean"


def test_reconstruction_error_matches_explicit_reconstructions(mnist_pca):
    (mean, components, _), test_images = mnist_pca
    ks = [1, 10, 100]
    explicit = [np.mean((reconstruct(test_images, mean, components, k) - test_images) ** 2)
                for k in ks]
    np.testing.assert_allclose(reconstruction_error(test_images, mean, components, ks), explicit,
                               rtol=1e-9)


def test_reconstruction_is_the_orthogonal_projection(mnist_pca):
    (mean, components, _), test_images = mnist_pca
    residual = test_images - reconstruct(test_images, mean, components, 30)
    # What a projection leaves out is perpendicular to every component it kept.
    assert np.abs(residual @ components[:30].T).max() < 1e-10


# --- Least squares --------------------------------------------------------------------------------

def test_normal_equations_lstsq_and_gradient_descent_agree():
    rng = np.random.default_rng(1)
    load = rng.uniform(0.0, 5.0, size=40)
    X = np.column_stack([np.ones_like(load), load])
    y = 3.0 + 20.0 * load + rng.normal(0.0, 2.0, size=40)
    theta_normal = np.linalg.solve(X.T @ X, X.T @ y)
    theta_lstsq, *_ = np.linalg.lstsq(X, y, rcond=None)
    step = 1 / np.linalg.eigvalsh(2 * X.T @ X / len(X)).max()
    theta_gd, losses = least_squares_gradient_descent(X, y, learning_rate=step, steps=3000)
    np.testing.assert_allclose(theta_normal, theta_lstsq, rtol=1e-10)
    np.testing.assert_allclose(theta_gd, theta_lstsq, rtol=1e-6)
    assert np.all(np.diff(losses) <= 1e-12), "below 2/λmax every step lowers the loss"
    assert losses[-1] == pytest.approx(np.mean((X @ theta_lstsq - y) ** 2), rel=1e-8)


def test_gradient_descent_diverges_above_two_over_the_largest_curvature():
    X = np.column_stack([np.ones(10), np.linspace(0, 1, 10)])
    y = X @ np.array([1.0, 2.0])
    too_big = 2.2 / np.linalg.eigvalsh(2 * X.T @ X / len(X)).max()
    _, losses = least_squares_gradient_descent(X, y, learning_rate=too_big, steps=200)
    assert losses[-1] > 1e3 * losses[0]


# --- Eigenvectors and input checking --------------------------------------------------------------

def test_real_eigenpairs_of_the_presets():
    assert real_eigenpairs(PRESETS["rotation by 30°"]) is None, "a rotation keeps no direction"
    assert real_eigenpairs(np.eye(2)) == [], "for the identity every vector is an eigenvector"
    shear = real_eigenpairs(PRESETS["shear"])
    assert len(shear) == 1 and shear[0][0] == pytest.approx(1)
    np.testing.assert_allclose(shear[0][1], [1, 0], atol=1e-8)
    symmetric = np.array([[2.0, 1.0], [1.0, 2.0]])
    pairs = real_eigenpairs(symmetric)
    assert sorted(value for value, _ in pairs) == pytest.approx([1, 3])
    for value, vector in pairs:
        np.testing.assert_allclose(symmetric @ vector, value * vector, atol=1e-12)


@pytest.mark.parametrize("entries", [[math.nan, 0, 0, 1], [1, math.inf, 0, 1],
                                     [1, 0, -math.inf, 1], [1e9, 0, 0, 1], [1, 2, 3]])
def test_check_matrix_rejects_what_cannot_be_drawn(entries):
    with pytest.raises(ValueError):
        check_matrix(entries)


def test_live_explorer_reports_bad_input_and_draws_good_input():
    explorer = LinearMapExplorer(PRESETS, live=True)
    explorer.entries[0].value = math.nan
    assert "mlbook-error" in explorer.status.value and "finite" in explorer.status.value
    explorer.entries[0].value = 1e6
    assert "mlbook-error" in explorer.status.value
    for entry, value in zip(explorer.entries, [2.0, 1.0, 0.0, 3.0], strict=True):
        entry.value = value
    assert explorer.status.value == ""
    assert explorer.stepper.key == (CUSTOM,)
    shown = explorer.stepper.frame()
    assert 'data-matrix="2,1,0,3"' in shown and 'data-det="6"' in shown and 'data-t="1.00"' in shown


def test_static_explorer_offers_only_the_presets():
    explorer = LinearMapExplorer(PRESETS, live=False)
    assert not explorer.entries
    assert list(explorer.stepper.dropdowns[0].options) == list(PRESETS)


# --- The built page -------------------------------------------------------------------------------

def _shown_matrix(frame) -> list[float]:
    return [float(v) for v in frame.get_attribute("data-matrix").split(",")]


def _moved_grid(frame) -> list[str]:
    return [line.get_attribute("points") for line in frame.locator("polyline").all()]


def test_choosing_a_preset_changes_the_matrix_and_the_picture(page, server):
    open_page(page, server, DOC)
    widget = stepper(page)
    step_forward(widget, 10)
    shear = visible_frame(widget)
    assert _shown_matrix(shear) == [1, 1, 0, 1] and float(shear.get_attribute("data-det")) == 1
    shear_picture = _moved_grid(shear)

    choose(widget, "matrix", "rotation by 30°")
    rotation = visible_frame(widget)
    assert rotation.get_attribute("data-step") == "10", "the step is kept across presets"
    assert _shown_matrix(rotation) == pytest.approx(np.ravel(PRESETS["rotation by 30°"]), abs=1e-5)
    assert "complex" in rotation.locator(".mlbook-readout").inner_text()
    assert _moved_grid(rotation) != shear_picture

    choose(widget, "matrix", "projection onto y = x (singular)")
    projection = visible_frame(widget)
    assert float(projection.get_attribute("data-det")) == pytest.approx(0, abs=1e-12)
    assert re.search(r"det A = 0\b", projection.locator(".mlbook-readout").inner_text())
    assert not page.mlbook_log.errors


def test_stepping_deforms_the_grid_from_the_identity(page, server):
    open_page(page, server, DOC)
    widget = stepper(page)
    start = visible_frame(widget)
    assert float(start.get_attribute("data-t")) == 0
    readout = start.locator(".mlbook-readout").inner_text()
    assert "showing (1 − t)I + tA = [[1, 0], [0, 1]]" in readout
    before = _moved_grid(start)
    step_forward(widget, 4)
    after = visible_frame(widget)
    assert float(after.get_attribute("data-t")) == pytest.approx(0.4)
    assert _moved_grid(after) != before


def test_play_animates_the_map(page, server):
    open_page(page, server, DOC)
    widget = stepper(page)
    press_play(widget)
    page.wait_for_function(
        """el => [...el.querySelectorAll('.mlbook-frame')].some(
             f => f.offsetParent !== null && Number(f.dataset.step) >= 3)""",
        arg=widget.element_handle(), timeout=15_000)
    assert not page.mlbook_log.errors


def test_page_weighs_at_most_one_and_a_half_megabytes(site):
    page = SITE / f"{DOC}.html"
    text = page.read_text()
    images = {src for src in re.findall(r'<img[^>]+src="([^"]+)"', text)
              if not src.startswith(("data:", "http"))}
    weight = page.stat().st_size + sum((page.parent / src).resolve().stat().st_size
                                       for src in images)
    assert images, "the chapter's figures should be image files next to the page"
    assert weight <= 1.5e6, f"page and its images weigh {weight / 1e6:.2f} MB"
