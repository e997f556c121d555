"""The linear algebra chapter: its maths (PCA, least squares, eigenvalues and singular values), the
linear-map explorer's closed forms against NumPy, the explorer as a reader drives it (alone, with
no kernel, and in the built page)."""

import math
import re

import numpy as np
import pytest
import traitlets
from conftest import SITE, call_js, load_module, open_page, renders, show_widgets, wait_rendered

from mlbook import load_mnist
from mlbook.linalg import (
    LETTER_F,
    MAX_ENTRY,
    LinearMapExplorer,
    check_matrix,
    eigen_kind,
    least_squares_gradient_descent,
    map_summary,
    pca,
    real_eigenpairs,
    reconstruct,
    reconstruction_error,
)

DOC = "chapters/linear_algebra"
PRESETS = {
    "rotation by 30°": [[math.cos(math.pi / 6), -math.sin(math.pi / 6)],
                        [math.sin(math.pi / 6), math.cos(math.pi / 6)]],
    "shear": [[1, 1], [0, 1]],
    "reflection": [[0, 1], [1, 0]],
    "scaling": [[1.5, 0], [0, 0.5]],
    "singular": [[1, 2], [0.5, 1]],
    "symmetric, not PSD": [[0.5, 1.5], [1.5, 0.5]],
}
TOLERANCE = 1e-9  # relative parity between the browser's closed forms and NumPy


def _pixels(dataset, count=None):
    images = dataset.data[:count] if count else dataset.data
    return images.reshape(len(images), -1).numpy() / 255.0


@pytest.fixture(scope="module")
def mnist_pca():
    train = _pixels(load_mnist(train=True))
    return pca(train), _pixels(load_mnist(train=False), 2000)


# --- PCA ------------------------------------------------------------------------------------------

def test_pca_components_are_orthonormal_and_ordered_by_variance(mnist_pca):
    (mean, W, variances), _ = mnist_pca
    assert W.shape == (784, 784) and mean.shape == (784,)
    np.testing.assert_allclose(W.T @ W, np.eye(784), atol=1e-10)
    assert np.all(np.diff(variances) <= 1e-12), "variances must come largest first"
    assert variances[0] > 10 * variances[50] > 0


def test_pca_variances_are_the_variances_along_the_components(mnist_pca):
    (mean, W, variances), _ = mnist_pca
    train = _pixels(load_mnist(train=True))
    along_first = (train - mean) @ W[:, 0]
    assert along_first.var(ddof=1) == pytest.approx(variances[0], rel=1e-9)


def test_reconstruction_error_falls_monotonically_with_k(mnist_pca):
    (mean, W, _), test_images = mnist_pca
    ks = [0, 1, 2, 5, 10, 20, 50, 100, 200, 400, 784]
    errors = reconstruction_error(test_images, mean, W, ks)
    assert np.all(np.diff(errors) < 0), f"errors must fall with every k: {errors}"
    assert errors[-1] < 1e-12 * errors[0], "with all 784 components the reconstruction is exact"
    assert errors[0] == pytest.approx(np.mean((test_images - mean) ** 2)), "k = 0 is the mean"


def test_reconstruction_error_matches_explicit_reconstructions(mnist_pca):
    (mean, W, _), test_images = mnist_pca
    ks = [1, 10, 100]
    explicit = [np.mean((reconstruct(test_images, mean, W, k) - test_images) ** 2) for k in ks]
    np.testing.assert_allclose(reconstruction_error(test_images, mean, W, ks), explicit,
                               rtol=1e-9)


def test_reconstruction_is_the_orthogonal_projection(mnist_pca):
    (mean, W, _), test_images = mnist_pca
    residual = test_images - reconstruct(test_images, mean, W, 30)
    # What a projection leaves out is perpendicular to every component it kept.
    assert np.abs(residual @ W[:, :30]).max() < 1e-10


def test_training_error_is_the_sum_of_the_dropped_variances(mnist_pca):
    """Eckart–Young on the training set: keeping k components loses exactly λ_{k+1} + … ."""
    (mean, W, variances), _ = mnist_pca
    train = _pixels(load_mnist(train=True))
    n = len(train)
    for k in (5, 50):
        error = reconstruction_error(train, mean, W, [k])[0] * 784
        assert error == pytest.approx(variances[k:].sum() * (n - 1) / n, rel=1e-9)


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


# --- Eigenvalues, singular values and input checking ----------------------------------------------

def test_eigen_kinds_of_the_presets():
    assert eigen_kind(PRESETS["rotation by 30°"]) == "complex"
    assert real_eigenpairs(PRESETS["rotation by 30°"]) is None, "a rotation keeps no direction"
    assert eigen_kind(np.eye(2)) == "scalar" and real_eigenpairs(np.eye(2)) == []
    assert eigen_kind(PRESETS["shear"]) == "defective"
    (value, vector), = real_eigenpairs(PRESETS["shear"])
    assert value == pytest.approx(1) and vector == pytest.approx([1, 0], abs=1e-8)
    for name in ("reflection", "scaling", "singular", "symmetric, not PSD"):
        assert eigen_kind(PRESETS[name]) == "distinct", name
        A = np.array(PRESETS[name], dtype=float)
        for value, vector in real_eigenpairs(A):
            np.testing.assert_allclose(A @ vector, value * np.array(vector), atol=1e-12)


@pytest.mark.parametrize("name", PRESETS)
def test_singular_values_bound_the_eigenvalues(name):
    """|det A| = σ₁σ₂ = |λ₁λ₂|, σ₂ ≤ |λ| ≤ σ₁, and U diag(σ) Vᵀ = A."""
    info = map_summary(PRESETS[name])
    A = np.array(PRESETS[name], dtype=float)
    sigma1, sigma2 = info["sigma"]
    assert sigma1 * sigma2 == pytest.approx(abs(info["det"]), abs=1e-12)
    U, V = np.array(info["u"]).T, np.array(info["v"]).T
    np.testing.assert_allclose(U @ np.diag(info["sigma"]) @ V.T, A, atol=1e-12)
    if info["kind"] in ("distinct", "defective"):
        for value in info["eigenvalues"]:
            assert sigma2 - 1e-12 <= abs(value) <= sigma1 + 1e-12


def test_shear_reflection_and_symmetric_matrices_reconcile_eigen_and_singular_values():
    shear = map_summary(PRESETS["shear"])
    golden = (1 + math.sqrt(5)) / 2
    assert shear["eigenvalues"] == pytest.approx([1])
    assert shear["sigma"] == pytest.approx([golden, 1 / golden])
    # Symmetric: σ = |λ|; with a negative eigenvalue U ≠ V, so the SVD is no eigendecomposition.
    for name in ("reflection", "symmetric, not PSD"):
        info = map_summary(PRESETS[name])
        assert sorted(info["sigma"]) == pytest.approx(sorted(abs(v) for v in info["eigenvalues"]))
        assert min(info["eigenvalues"]) < 0
        U = np.array(info["u"]).T
        # U Σ Uᵀ is positive semidefinite, so it cannot be A: no SVD of A has U = V.
        assert not np.allclose(U @ np.diag(info["sigma"]) @ U.T, PRESETS[name])


@pytest.mark.parametrize("entries", [[math.nan, 0, 0, 1], [1, math.inf, 0, 1],
                                     [1, 0, -math.inf, 1], [1e9, 0, 0, 1], [1, 2, 3],
                                     [[1, 2], [3]], ["a", 0, 0, 1]])
def test_check_matrix_rejects_what_cannot_be_drawn(entries):
    with pytest.raises(ValueError, match="2×2|finite|between"):
        check_matrix(entries)


def test_the_explorer_refuses_a_bad_matrix_from_python():
    explorer = LinearMapExplorer(PRESETS["shear"])
    assert explorer.matrix == [1, 1, 0, 1]
    for bad in ([1, math.nan, 0, 1], [MAX_ENTRY + 1, 0, 0, 1], [1, 2, 3]):
        with pytest.raises(traitlets.TraitError, match="finite|between|four"):
            explorer.matrix = bad
    assert explorer.matrix == [1, 1, 0, 1], "a refused value leaves the matrix as it was"
    with pytest.raises(ValueError, match="2×2"):
        LinearMapExplorer(presets={"bad": [[1, 2], [3]]})


def test_the_fallback_shows_the_default_state():
    html = LinearMapExplorer(PRESETS["reflection"]).fallback()
    assert html.startswith('<img src="data:image/png;base64,')
    assert "A = [[0, 1], [1, 0]]" in html and "det A = −1" in html


# --- The browser's closed forms against NumPy -----------------------------------------------------

def _test_matrices():
    rng = np.random.default_rng(7)
    matrices = [np.ravel(m).tolist() for m in PRESETS.values()]
    matrices += [[2, 0, 0, 2], [0, 0, 0, 0], [0, 1, 0, 0], [1e-3, 2e-3, 0.5e-3, 1e-3]]
    matrices += [list(np.clip(rng.normal(size=4) * scale, -10, 10))
                 for scale in (0.01, 1, 4) for _ in range(40)]
    near = rng.normal(size=(20, 2))  # nearly singular: columns nearly parallel
    matrices += [[x, 2 * x + 1e-6, y, 2 * y] for x, y in near]
    return matrices


def _close(js, py, scale):
    return abs(js - py) <= TOLERANCE * scale


def _same_direction(js, py):
    return abs(abs(np.dot(js, py)) - 1) <= TOLERANCE


@pytest.fixture
def module_page(sandbox_page, sandbox):
    sandbox_page.goto(sandbox[1] + "/require-config.js")
    load_module(sandbox_page, "linear_map")
    return sandbox_page


def test_closed_forms_match_numpy(module_page):
    for m in _test_matrices():
        js, py = call_js(module_page, "summary", m), map_summary(m)
        scale = max(map(abs, m)) or 1.0
        where = f"matrix {m}"
        assert _close(js["det"], py["det"], scale**2), where
        assert js["singular"] == py["singular"] and js["kind"] == py["kind"], where
        assert all(_close(a, b, scale) for a, b in zip(js["sigma"], py["sigma"], strict=True)), \
            f"{where}: σ {js['sigma']} vs {py['sigma']}"
        assert len(js["eigenvalues"]) == len(py["eigenvalues"]), where
        assert all(_close(a, b, scale)
                   for a, b in zip(js["eigenvalues"], py["eigenvalues"], strict=True)), \
            f"{where}: λ {js['eigenvalues']} vs {py['eigenvalues']}"
        gap = abs(np.diff(py["eigenvalues"])[0]) if py["kind"] == "distinct" else scale
        if gap > 1e-3 * scale:  # only well-separated eigenvalues fix their directions
            assert all(_same_direction(a, b) for a, b in
                       zip(js["eigenvectors"], py["eigenvectors"], strict=True)), where
        A = np.reshape(m, (2, 2))
        U, V = np.array(js["u"]).T, np.array(js["v"]).T
        np.testing.assert_allclose(U @ np.diag(js["sigma"]) @ V.T, A, atol=TOLERANCE * scale,
                                   err_msg=where)
        np.testing.assert_allclose(U.T @ U, np.eye(2), atol=1e-12, err_msg=where)
        if py["sigma"][0] - py["sigma"][1] > 1e-3 * scale:  # distinct σ fix u and v up to sign
            for name in ("u", "v"):
                assert all(_same_direction(a, b)
                           for a, b in zip(js[name], py[name], strict=True)), f"{where}: {name}"


def test_the_browser_draws_the_same_letter_f(module_page):
    shape = module_page.evaluate("() => window.mlbookModule.LETTER_F")
    assert shape == [list(p) for p in LETTER_F]


# --- The widget alone, set up in Python, driven as a reader drives it -----------------------------

def _readout(root) -> dict:
    """The numbers the reader sees, parsed from the read-out, and the full-precision values."""
    text = root.locator(".mlbook-readout").inner_text().replace("−", "-")
    return {"text": text, "det": float(root.get_attribute("data-det")),
            "kind": root.get_attribute("data-kind"),
            "eigenvalues": [float(v) for v in re.findall(r"[-\d.e]+", root.get_attribute(
                "data-eigenvalues"))],
            "sigma": [float(v) for v in re.findall(r"[-\d.e]+", root.get_attribute(
                "data-sigma"))]}


def _shown(text: str, label: str) -> float:
    """The number after ``label =`` in the read-out text (4 significant digits)."""
    match = re.search(r"(?:^|[\s,(])" + re.escape(label) + r" = (-?[\d.]+(?:e-?\d+)?)", text)
    assert match, f"no '{label} =' in {text!r}"
    return float(match.group(1))


def assert_readout_matches_python(root, matrix):
    shown, py = _readout(root), map_summary(matrix)
    scale = max(abs(v) for v in np.ravel(matrix))
    assert shown["kind"] == py["kind"]
    det = 0.0 if py["singular"] else py["det"]
    assert shown["det"] == pytest.approx(det, abs=TOLERANCE * scale**2)
    assert shown["sigma"] == pytest.approx(py["sigma"], abs=TOLERANCE * scale)
    assert shown["eigenvalues"] == pytest.approx(py["eigenvalues"], abs=TOLERANCE * scale)
    # What the reader reads: four significant digits of the same numbers.
    assert _shown(shown["text"], "det A") == pytest.approx(det, rel=5e-4, abs=1e-12)
    assert _shown(shown["text"], "σ₁") == pytest.approx(py["sigma"][0], rel=5e-4)
    assert _shown(shown["text"], "σ₂") == pytest.approx(py["sigma"][1], rel=5e-4, abs=1e-12)
    if py["kind"] == "distinct":
        assert _shown(shown["text"], "λ₁") == pytest.approx(py["eigenvalues"][0], rel=5e-4)
        assert _shown(shown["text"], "λ₂") == pytest.approx(py["eigenvalues"][1], rel=5e-4,
                                                             abs=1e-12)


def _eigenlines(root) -> int:
    """How many eigenvector directions the plot draws."""
    return root.locator(".mlbook-eigenline").evaluate_all(
        "lines => lines.filter(line => line.style.display !== 'none').length")


def _entries(root):
    return [root.get_by_label(f"entry {name} of A", exact=False) for name in "abcd"]


def _entry_values(root) -> list[float]:
    return [float(box.input_value().replace("−", "-")) for box in _entries(root)]


def _type_matrix(root, values):
    for box, value in zip(_entries(root), values, strict=True):
        before = renders(root)
        box.fill(str(value))
        box.press("Enter")
        wait_rendered(root, before)


def test_the_default_matrix_reads_out_as_python_computes_it(sandbox_page, sandbox):
    explorer = LinearMapExplorer(presets=PRESETS)
    root = show_widgets(sandbox_page, sandbox, explorer).first
    assert_readout_matches_python(root, explorer.matrix)
    assert [box.input_value() for box in _entries(root)] == ["1.5", "0.5", "0.25", "1"]
    assert not sandbox_page.mlbook_log.errors and not sandbox_page.mlbook_log.console_errors


def test_a_matrix_set_in_python_shows_in_the_page(sandbox_page, sandbox):
    explorer = LinearMapExplorer(PRESETS["reflection"])
    root = show_widgets(sandbox_page, sandbox, explorer).first
    assert_readout_matches_python(root, PRESETS["reflection"])
    text = root.locator(".mlbook-readout").inner_text()
    assert "orientation flipped" in text and "λ₂ = −1" in text and "σ₂ = 1" in text


def test_typing_the_shear_reconciles_its_eigen_and_singular_values(sandbox_page, sandbox):
    root = show_widgets(sandbox_page, sandbox, LinearMapExplorer()).first
    _type_matrix(root, [1, 1, 0, 1])
    assert_readout_matches_python(root, PRESETS["shear"])
    text = root.locator(".mlbook-readout").inner_text()
    assert "λ = 1 twice" in text and "σ₁ = 1.618" in text and "σ₂ = 0.618" in text
    assert _eigenlines(root) == 1, "a shear has one eigenvector direction"


def test_presets_set_the_matrix(sandbox_page, sandbox):
    root = show_widgets(sandbox_page, sandbox, LinearMapExplorer(presets=PRESETS)).first
    for name, matrix in PRESETS.items():
        before = renders(root)
        root.get_by_role("button", name=name).click()
        wait_rendered(root, before)
        assert_readout_matches_python(root, matrix)


def test_a_rotation_has_no_eigenvector_line(sandbox_page, sandbox):
    root = show_widgets(sandbox_page, sandbox, LinearMapExplorer(PRESETS["rotation by 30°"])).first
    assert "complex, so no real direction is kept" in root.locator(".mlbook-readout").inner_text()
    assert _eigenlines(root) == 0


def _screen_point(root, x, y):
    """Where the data point (x, y) of the explorer's plot is on the screen."""
    return root.locator("svg.mlbook-plot").evaluate("""(svg, [x, y]) => {
        const VIEW = 3.5, left = 36, top = 10, size = 314;
        const u = left + (x + VIEW) / (2 * VIEW) * size, v = top + (VIEW - y) / (2 * VIEW) * size;
        const p = new DOMPoint(u, v).matrixTransform(svg.getScreenCTM());
        return [p.x, p.y]; }""", [x, y])


@pytest.mark.parametrize(("column", "target"), [(0, (2.0, -0.5)), (1, (0.75, 1.25))])
def test_dragging_a_tip_sets_that_column(sandbox_page, sandbox, column, target):
    root = show_widgets(sandbox_page, sandbox, LinearMapExplorer()).first
    handle = root.locator("circle[data-column]").nth(column)
    box = handle.bounding_box()
    mouse = sandbox_page.mouse
    mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    mouse.down()
    mouse.move(*_screen_point(root, *target), steps=6)
    mouse.up()
    expected = [1.5, 0.5, 0.25, 1.0]
    expected[column], expected[column + 2] = target
    assert _entry_values(root) == expected
    assert_readout_matches_python(root, expected)
    assert not sandbox_page.mlbook_log.console_errors


def test_arrow_keys_move_a_focused_tip(sandbox_page, sandbox):
    root = show_widgets(sandbox_page, sandbox, LinearMapExplorer()).first
    handle = root.locator("circle[data-column='1']")
    handle.focus()
    before = renders(root)
    handle.press("ArrowUp")
    wait_rendered(root, before)
    assert _entry_values(root) == [1.5, 0.5, 0.25, 1.1]


def test_a_singular_matrix_is_explained_not_refused(sandbox_page, sandbox):
    root = show_widgets(sandbox_page, sandbox, LinearMapExplorer()).first
    _type_matrix(root, [1, 2, 0.5, 1])
    assert_readout_matches_python(root, PRESETS["singular"])
    status = root.locator(".mlbook-status")
    assert "mlbook-info" in status.get_attribute("class")
    assert "collapses onto a line" in status.inner_text() and "no inverse" in status.inner_text()
    text = root.locator(".mlbook-readout").inner_text()
    assert "det A = 0" in text and "σ₂ = 0" in text and "κ = σ₁/σ₂ = ∞" in text
    _type_matrix(root, [0, 0, 0, 0])
    assert "rank 0" in status.inner_text()
    assert not sandbox_page.mlbook_log.console_errors


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Type a number for entry b"), ("abc", '"abc" is not a number'),
    ("nan", '"nan" is not a number'), ("NaN", "is not a number"), ("inf", "is not a number"),
    ("Infinity", "must be finite"), ("1e9", "at most 10"), ("-11", "at least −10")])
def test_bad_entries_show_a_message_and_change_nothing(sandbox_page, sandbox, typed, message):
    explorer = LinearMapExplorer(PRESETS["shear"])
    root = show_widgets(sandbox_page, sandbox, explorer).first
    before = _readout(root)
    box = _entries(root)[1]
    box.fill(typed)
    box.press("Enter")
    status = root.locator(".mlbook-status")
    assert message in status.inner_text()
    assert "mlbook-error" in status.get_attribute("class")
    assert box.get_attribute("aria-invalid") == "true"
    assert _readout(root) == before, "a refused entry leaves the map as it was"
    assert not sandbox_page.mlbook_log.errors and not sandbox_page.mlbook_log.console_errors


# --- The built page -------------------------------------------------------------------------------

def _explorers(page):
    roots = page.locator(".mlbook-linear-map")
    page.wait_for_function("() => [...document.querySelectorAll('.mlbook-linear-map')]"
                           ".every(el => Number(el.dataset.renders) > 0)")
    return roots


def test_the_chapters_explorer_reads_out_what_python_computes(page, server):
    open_page(page, server, DOC)
    roots = _explorers(page)
    assert roots.count() >= 1
    root = roots.first
    root.scroll_into_view_if_needed()
    start = _entry_values(root)
    assert_readout_matches_python(root, start)
    before = renders(root)
    root.get_by_role("button", name="shear").click()
    wait_rendered(root, before)
    text = root.locator(".mlbook-readout").inner_text()
    assert "λ = 1 twice" in text and "σ₁ = 1.618" in text and "σ₂ = 0.618" in text
    handle = root.locator("circle[data-column='1']")
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(*_screen_point(root, 2.0, 0.0), steps=6)
    page.mouse.up()
    assert _entry_values(root) == [1, 2, 0, 0]
    assert_readout_matches_python(root, [1, 2, 0, 0])
    assert not page.mlbook_log.errors and not page.mlbook_log.console_errors


def test_without_javascript_the_explorers_show_their_default_state(page_without_javascript):
    page = page_without_javascript(DOC)
    pictures = page.locator("noscript.mlbook-fallback img[alt^='The map A = [[']")
    assert pictures.count() == 2, "one picture per explorer"
    first, second = (pictures.nth(i) for i in range(2))
    assert "[[1.5, 0.5], [0.25, 1]]" in first.get_attribute("alt")
    assert "[[1, 1], [0, 1]]" in second.get_attribute("alt"), "the second starts at the shear"
    first.scroll_into_view_if_needed()
    assert first.is_visible() and first.evaluate("img => img.naturalWidth > 100")


def test_page_weighs_at_most_one_megabyte(site):
    page = SITE / f"{DOC}.html"
    text = page.read_text()
    images = {src for src in re.findall(r'<img[^>]+src="([^"]+)"', text)
              if not src.startswith(("data:", "http"))}
    weight = page.stat().st_size + sum((page.parent / src).resolve().stat().st_size
                                       for src in images)
    assert images, "the chapter's figures should be image files next to the page"
    assert weight <= 1e6, f"page and its images weigh {weight / 1e6:.2f} MB"
