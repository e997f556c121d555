"""The calculus chapter: its maths (mlbook.calculus), the gradient-descent explorer computed in the
browser (mlbook/js/descent.js) against the Python reference, the explorer as a reader drives it,
and the built page."""

from __future__ import annotations

import math
import re
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from conftest import SITE, call_js, load_module, open_page, renders, show_widgets, wait_rendered
from matplotlib.figure import Figure
from traitlets import TraitError

from mlbook import calculus
from mlbook.calculus import (
    DescentExplorer,
    Quadratic,
    Rosenbrock,
    Saddle,
    TwoMinima,
    check_learning_rate,
    check_momentum,
    convergence_rate,
    explorer_surfaces,
    gradient_descent,
    stability_limit,
)

SURFACES = explorer_surfaces()
VALLEY = Quadratic(a=0.1, b=1.0)


def _close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


# --- Gradient descent ----------------------------------------------------------------------------

@pytest.mark.parametrize("eta", [0.05, 0.3, 0.7, 0.95])
def test_steps_equal_the_closed_form_on_a_quadratic(eta):
    run = gradient_descent(VALLEY.grad, (-4.0, 3.0), eta, steps=25)
    t = np.arange(26)
    np.testing.assert_allclose(run.path[:, 0], (1 - 2 * 0.1 * eta) ** t * -4.0, rtol=1e-12)
    np.testing.assert_allclose(run.path[:, 1], (1 - 2 * 1.0 * eta) ** t * 3.0, rtol=1e-12,
                               atol=1e-300)
    assert not run.diverged and run.steps == 25


def test_heavy_ball_update_by_hand():
    eta, beta = 0.3, 0.6
    theta0 = np.array([-4.0, 3.0])
    theta1 = theta0 - eta * VALLEY.grad(theta0)
    theta2 = theta1 - eta * VALLEY.grad(theta1) + beta * (theta1 - theta0)
    theta3 = theta2 - eta * VALLEY.grad(theta2) + beta * (theta2 - theta1)
    run = gradient_descent(VALLEY.grad, theta0, eta, steps=3, momentum=beta)
    np.testing.assert_array_equal(run.path, [theta0, theta1, theta2, theta3])


def test_heavy_ball_is_torch_sgd_with_momentum():
    run = gradient_descent(VALLEY.grad, (-4.0, 3.0), 0.3, steps=20, momentum=0.6)
    theta = torch.tensor([-4.0, 3.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=0.3, momentum=0.6)
    for step in range(1, 21):
        optimizer.zero_grad()
        VALLEY.loss(*theta).backward()
        optimizer.step()
        np.testing.assert_allclose(theta.detach().numpy(), run.path[step], rtol=1e-12,
                                   atol=1e-15)


def test_zero_momentum_is_plain_gradient_descent():
    plain = gradient_descent(VALLEY.grad, (1.0, 2.0), 0.2, steps=10)
    with_zero = gradient_descent(VALLEY.grad, (1.0, 2.0), 0.2, steps=10, momentum=0.0)
    np.testing.assert_array_equal(plain.path, with_zero.path)


def test_divergence_stops_at_the_bound_without_warnings():
    bowl = Quadratic(a=1.0, b=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = gradient_descent(bowl.grad, (-4.0, 3.0), 1.1, steps=1000, bound=10.0)
    assert run.diverged
    assert np.max(np.abs(run.path[-1])) > 10.0
    assert np.all(np.max(np.abs(run.path[:-1]), axis=1) <= 10.0)
    # The iterates grow by a factor |1 - 2η| = 1.2 until they pass the bound.
    assert run.steps == math.ceil(math.log(10 / 4) / math.log(1.2))


def test_non_finite_iterates_stop_the_run_without_warnings():
    def explosive_grad(theta):
        return theta * 1e200

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = gradient_descent(explosive_grad, (1.0, 1.0), 1.0, steps=50, bound=math.inf)
    assert run.diverged
    assert np.all(np.isfinite(run.path))
    assert run.steps < 50


def test_a_converging_run_is_not_flagged():
    run = gradient_descent(Quadratic(a=1.0, b=1.0).grad, (-4.0, 3.0), 0.9, steps=100)
    assert not run.diverged and run.steps == 100


@pytest.mark.parametrize(("value", "expected"), [
    (0, "must be positive"), (-0.1, "must be positive"), (float("nan"), "finite"),
    (float("inf"), "finite"), (1e9, "too large"), ("abc", "must be a number"),
    (None, "must be a number"),
])
def test_bad_learning_rates_are_refused_with_a_clear_message(value, expected):
    with pytest.raises(ValueError, match=expected):
        check_learning_rate(value)
    with pytest.raises(ValueError, match="learning rate η"):
        gradient_descent(lambda theta: theta, (1.0,), value, steps=3)


def test_learning_rates_given_as_text_are_read():
    assert check_learning_rate(" 0.25 ") == 0.25


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_momentum_is_refused(value):
    with pytest.raises(ValueError, match="momentum β"):
        check_momentum(value)


@pytest.mark.parametrize("steps", [-1, 2.5, True])
def test_bad_step_counts_are_refused(steps):
    with pytest.raises(ValueError, match="steps"):
        gradient_descent(lambda theta: theta, (1.0,), 0.1, steps=steps)


def test_a_gradient_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="shape"):
        gradient_descent(lambda theta: np.ones(3), (1.0, 2.0), 0.1, steps=2)


def test_a_non_finite_start_is_refused():
    with pytest.raises(ValueError, match="start"):
        gradient_descent(lambda theta: theta, (float("nan"), 0.0), 0.1, steps=3)


# --- Surfaces, and what their Hessians say ------------------------------------------------------

POINTS = [(-1.3, 0.7), (0.4, -1.1), (1.7, 2.2)]


@pytest.mark.parametrize("key", list(SURFACES))
def test_gradients_and_hessians_match_finite_differences(key):
    surface, h = SURFACES[key], 1e-6
    for theta in map(np.array, POINTS):
        central = [(surface.loss(*(theta + h * e)) - surface.loss(*(theta - h * e))) / (2 * h)
                   for e in np.eye(2)]
        np.testing.assert_allclose(surface.grad(theta), central, rtol=1e-6, atol=1e-6)
        columns = [(surface.grad(theta + h * e) - surface.grad(theta - h * e)) / (2 * h)
                   for e in np.eye(2)]
        np.testing.assert_allclose(surface.hessian(*theta), np.array(columns).T, rtol=1e-6,
                                   atol=1e-5)


def test_critical_points_are_found_and_classified():
    assert [tuple(p) for p in Rosenbrock().minima()] == [(1.0, 1.0)]
    saddle = Saddle()
    kinds = [np.sign(np.linalg.eigvalsh(saddle.hessian(*p))).tolist()
             for p in saddle.critical_points()]
    assert sorted(map(tuple, saddle.critical_points())) == [(0, -1), (0, 0), (0, 1)]
    assert sorted(kinds) == [[-1, 1], [1, 1], [1, 1]]
    wells = TwoMinima()
    deep, flat = wells.minima()
    assert wells.loss(*deep) < wells.loss(*flat) and wells.min_value() == wells.loss(*deep)
    for point in wells.critical_points():
        assert np.allclose(wells.grad(point), 0, atol=1e-12)


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_the_stability_limit_separates_convergence_from_divergence(beta):
    limit = stability_limit(VALLEY.hessian(), beta)
    assert limit == pytest.approx(2 * (1 + beta) / 2.0)
    assert not VALLEY.run((-4.0, 3.0), 0.98 * limit, 2000, beta).diverged
    assert VALLEY.run((-4.0, 3.0), 1.02 * limit, 2000, beta).diverged


@pytest.mark.parametrize(("eta", "beta"), [(0.3, 0.0), (0.909, 0.0), (0.3, 0.6), (1.1544, 0.27)])
def test_the_predicted_rate_is_the_measured_one(eta, beta):
    curvatures = np.linalg.eigvalsh(VALLEY.hessian())
    predicted = convergence_rate(curvatures, eta, beta)
    path = VALLEY.run((-4.0, 3.0), eta, 200, beta).path
    measured = calculus.fitted_rate(path[:120], (0.0, 0.0), skip=40)
    assert measured == pytest.approx(predicted, abs=0.02)


def test_tuned_rates_are_the_textbook_formulas():
    curvatures = [0.2, 2.0]
    plain, tuned = calculus.best_plain(curvatures), calculus.tuned_heavy_ball(curvatures)
    kappa = 10.0
    assert plain["rate"] == pytest.approx((kappa - 1) / (kappa + 1))
    assert tuned["rate"] == pytest.approx((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1))
    assert convergence_rate(curvatures, plain["learning_rate"]) == pytest.approx(plain["rate"])
    assert convergence_rate(curvatures, tuned["learning_rate"], tuned["momentum"]) == \
        pytest.approx(tuned["rate"])
    # With complex roots the rate is √β, whatever η is (the chapter's exercise 5).
    assert convergence_rate(curvatures, 0.05, 0.9) == pytest.approx(math.sqrt(0.9))


def test_rates_and_limits_need_a_minimum():
    with pytest.raises(ValueError, match="not all positive"):
        stability_limit(Saddle().hessian(0.0, 0.0))


def test_running_median_and_fitted_rate():
    assert calculus.running_median([1, 100, 2, 3, 4], 3).tolist() == [50.5, 2, 3, 3, 3.5]
    path = np.array([[0.5**t, 0.0] for t in range(30)])
    assert calculus.fitted_rate(path, (0, 0)) == pytest.approx(0.5)


def test_figures_are_closed_matplotlib_figures():
    """A chapter shows a figure by returning it: closed (else it would show twice), and shown as
    a compact PNG by use_book_style like every other figure of the book."""
    figure = calculus.taylor_figure(np.sin, np.cos, lambda x: -np.sin(x), 0.5)
    assert isinstance(figure, Figure) and not plt.fignum_exists(figure.number)
    assert repr(figure).startswith("<Figure size") and " at 0x" not in repr(figure)
    assert not hasattr(calculus, "compact_png"), "one compact_png: mlbook.plotting's"


# --- The explorer, set up in Python --------------------------------------------------------------

@pytest.mark.parametrize(("change", "match"), [
    ({"learning_rate": 0.0}, "must be positive"), ({"learning_rate": math.nan}, "finite"),
    ({"learning_rate": 1e9}, "too large"), ({"momentum": 1.0}, "0 ≤ β < 1"),
    ({"momentum": -0.1}, "0 ≤ β < 1"), ({"start": [math.inf, 0.0]}, "finite"),
    ({"start": [1e5, 0.0]}, "far off the plot"), ({"steps": 0}, "steps must be"),
    ({"steps": 10**6}, "steps must be"), ({"step": -1}, "step must be"),
    ({"surface": "moon"}, "surface must be one of"),
])
def test_the_explorer_refuses_bad_values_from_python(change, match):
    widget = DescentExplorer()
    with pytest.raises(TraitError, match=match):
        widget.set_trait(*next(iter(change.items())))


def test_an_unknown_surface_is_refused_when_built():
    with pytest.raises(TraitError, match="surface must be one of"):
        DescentExplorer("moon")


def test_each_surface_opens_with_its_own_defaults():
    for key, surface in SURFACES.items():
        widget = DescentExplorer(key)
        assert widget.learning_rate == surface.learning_rate
        assert widget.start == list(surface.start) and widget.step == widget.steps
        assert not widget.run().diverged, f"the {key} default run diverges"


def test_the_fallback_pictures_the_default_run():
    text = DescentExplorer().fallback()
    assert text.startswith('<img src="data:image/png;base64,')
    assert "path of 60 steps of gradient descent (η = 0.3, β = 0) from (-4, 3)" in text
    assert len(text) < 60_000, "the fallback image is part of the page's weight"


# --- The browser's numerics equal Python's ----------------------------------------------------

@pytest.fixture
def module_page(sandbox_page, sandbox):
    sandbox_page.goto(sandbox[1] + "/require-config.js")
    load_module(sandbox_page, "descent")
    return sandbox_page


RUNS = [("bowl", (-4.0, 3.0), 0.3, 0.0, 40), ("valley", (-4.0, 3.0), 1.1544, 0.27, 80),
        ("valley", (-4.0, 3.0), 1.3, 0.0, 60), ("rosenbrock", (-1.2, 1.0), 0.001, 0.9, 2000),
        ("rosenbrock", (-2.0, -1.0), 0.0018, 0.0, 100), ("saddle", (-1.8, 0.001), 0.1, 0.0, 120),
        ("two-minima", (-1.5, 1.0), 1.0, 0.0, 300), ("two-minima", (1.5, -1.0), 0.3, 0.5, 200)]


@pytest.mark.parametrize(("key", "start", "eta", "beta", "steps"), RUNS)
def test_browser_iterates_equal_pythons(module_page, key, start, eta, beta, steps):
    surface = SURFACES[key]
    shown = call_js(module_page, "heavyBall", surface.describe(key), list(start), eta, beta, steps)
    expected = surface.run(start, eta, steps, beta)
    assert shown["diverged"] == expected.diverged
    assert len(shown["path"]) == len(expected.path)
    worst = max(abs(a - b) / max(abs(a), abs(b), 1e-300)
                for row, reference in zip(shown["path"], expected.path)
                for a, b in zip(row, reference))
    assert worst <= 1e-9, f"relative difference {worst:.1e}"


@pytest.mark.parametrize("key", list(SURFACES))
def test_browser_loss_gradient_hessian_and_limits_equal_pythons(module_page, key):
    surface = SURFACES[key]
    described = surface.describe(key)
    for point in POINTS:
        assert _close(call_js(module_page, "lossAt", described, *point), surface.loss(*point))
        for a, b in zip(call_js(module_page, "gradientAt", described, *point),
                        surface.gradient(*point)):
            assert _close(a, b)
        hessian = call_js(module_page, "hessianAt", described, *point)
        np.testing.assert_allclose(hessian, surface.hessian(*point), rtol=1e-12)
        low, high = call_js(module_page, "eigenvalues", hessian)
        np.testing.assert_allclose([low, high], np.linalg.eigvalsh(surface.hessian(*point)),
                                   rtol=1e-9, atol=1e-12)
    for beta in (0.0, 0.6):
        limits = call_js(module_page, "stabilityLimits", described, beta)
        expected = [stability_limit(surface.hessian(*m), beta) for m in surface.minima()]
        assert all(_close(a, b) for a, b in zip(limits, expected, strict=True))


def test_browser_rates_equal_pythons(module_page):
    curvatures = [0.2, 2.0]
    for eta, beta in [(0.3, 0.0), (0.9, 0.0), (1.15, 0.27), (0.05, 0.9), (1.5, 0.0)]:
        assert _close(call_js(module_page, "convergenceRate", curvatures, eta, beta),
                      convergence_rate(curvatures, eta, beta))
    for name, reference in [("bestPlain", calculus.best_plain),
                            ("tunedHeavyBall", calculus.tuned_heavy_ball)]:
        shown, expected = call_js(module_page, name, curvatures), reference(curvatures)
        assert all(_close(shown[k], expected[k]) for k in expected)


def test_browser_contours_cross_the_level(module_page):
    segments = call_js(module_page, "contourSegments", [0, 1, 2], [0, 1],
                       [[0, 1, 2], [0, 1, 2]], 1.5)
    assert segments == [[[1.5, 0], [1.5, 1]]]


# --- A reader drives the explorer --------------------------------------------------------------

def _readout(root) -> dict:
    """What the read-out says, and the full-precision values it carries."""
    readout = root.locator(".mlbook-readout").first
    text = readout.inner_text().replace("−", "-")
    match = re.search(r"step (\d+) of (\d+)\s+θ = \((-?[\d.e+-]+), (-?[\d.e+-]+)\)", text)
    assert match, text
    data = {key: readout.get_attribute(f"data-{key}") for key in
            ("step", "steps", "theta1", "theta2", "diverged")}
    return {"step": int(match[1]), "last": int(match[2]),
            "shown": (float(match[3]), float(match[4])),
            "exact": (float(data["theta1"]), float(data["theta2"])),
            "diverged": data["diverged"] == "true", "data_step": int(data["step"])}


def _matches(root, surface, start, eta, beta, steps, step=None):
    """The read-out shows the Python reference's iterate (all of the run if step is None)."""
    run = surface.run(start, eta, steps, beta)
    shown = _readout(root)
    step = run.steps if step is None else step
    assert shown["step"] == shown["data_step"] == step
    assert shown["last"] == run.steps and shown["diverged"] == run.diverged
    for a, b in zip(shown["exact"], run.path[step]):
        assert _close(a, b), (shown, run.path[step])
    for a, b in zip(shown["shown"], run.path[step]):
        assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-9), (shown, run.path[step])
    return run


def _box(root, label):
    return root.get_by_label(label, exact=True)


def _value(root, label) -> float:
    """The number a box shows (the page writes minus signs as −)."""
    return float(_box(root, label).input_value().replace("−", "-"))


def _type(root, label, text):
    box = _box(root, label)
    before = renders(root)
    box.fill(text)
    box.press("Enter")
    return before


def _click(root, name, times=1):
    for _ in range(times):
        before = renders(root)
        root.get_by_role("button", name=name, exact=True).click()
        wait_rendered(root, before)


def _status(root) -> str:
    return root.locator(".mlbook-status").inner_text()


def _clean(page):
    log = page.mlbook_log
    # The kernel-free sandbox page has no favicon; the browser's request for it is not ours.
    missing = [url for url in log.failed if not url.split(" ")[0].endswith("/favicon.ico")]
    console = [text for text in log.console_errors
               if not (text.startswith("Failed to load resource") and not missing)]
    assert not log.errors and not console and not missing, (log.errors, console, missing)


@pytest.fixture
def explorer(sandbox_page, sandbox):
    return show_widgets(sandbox_page, sandbox, DescentExplorer()).first


def test_the_default_view_is_the_python_run(explorer, sandbox_page):
    _matches(explorer, VALLEY, (-4.0, 3.0), 0.3, 0.0, 60)
    assert explorer.locator(".mlbook-mark").inner_text() == "2/λmax"
    assert explorer.locator(".mlbook-mark").get_attribute("title").startswith(
        "2(1 + β)/λmax(H) = 1:")
    rates = explorer.locator(".mlbook-rates").inner_text()
    assert "κ = 10" in rates and "0.8182" in rates and "0.5195" in rates
    plots = explorer.locator("svg[role=img]")
    assert plots.count() == 2
    assert "on a log scale" in plots.nth(1).get_attribute("aria-label")
    _clean(sandbox_page)


def test_step_reset_and_play_show_pythons_iterates(explorer, sandbox_page):
    _click(explorer, "reset")
    _matches(explorer, VALLEY, (-4.0, 3.0), 0.3, 0.0, 60, step=0)
    _click(explorer, "step", 3)
    _matches(explorer, VALLEY, (-4.0, 3.0), 0.3, 0.0, 60, step=3)
    explorer.get_by_role("button", name="play").click()
    sandbox_page.wait_for_function(
        "el => el.querySelector('.mlbook-readout').dataset.step === '60'",
        arg=explorer.element_handle())
    explorer.get_by_role("button", name="play").wait_for()  # play stops at the end by itself
    _matches(explorer, VALLEY, (-4.0, 3.0), 0.3, 0.0, 60)
    _clean(sandbox_page)


def test_typing_a_learning_rate_and_momentum(explorer, sandbox_page):
    wait_rendered(explorer, _type(explorer, "learning rate η", "0.5"))
    _matches(explorer, VALLEY, (-4.0, 3.0), 0.5, 0.0, 60)
    wait_rendered(explorer, _type(explorer, "momentum β", "0.4"))
    _matches(explorer, VALLEY, (-4.0, 3.0), 0.5, 0.4, 60)
    assert explorer.locator(".mlbook-mark").inner_text() == "2(1+β)/λmax"
    assert "= 1.4:" in explorer.locator(".mlbook-mark").get_attribute("title")
    wait_rendered(explorer, _type(explorer, "steps", "25"))
    _matches(explorer, VALLEY, (-4.0, 3.0), 0.5, 0.4, 25)
    _clean(sandbox_page)


def test_sliding_the_learning_rate(explorer, sandbox_page):
    slider = explorer.get_by_label("learning rate η (log scale)")
    before = renders(explorer)
    slider.focus()
    slider.press("ArrowRight")
    wait_rendered(explorer, before)
    eta = _value(explorer, "learning rate η")
    assert eta != 0.3
    _matches(explorer, VALLEY, (-4.0, 3.0), eta, 0.0, 60)
    _clean(sandbox_page)


def test_clicking_and_dragging_on_the_contours_move_the_start(explorer, sandbox_page):
    plot = explorer.locator("[data-bench=drag]")
    box = plot.bounding_box()
    before = renders(explorer)
    sandbox_page.mouse.click(box["x"] + 0.7 * box["width"], box["y"] + 0.3 * box["height"])
    wait_rendered(explorer, before)
    start = (_value(explorer, "θ₁ start"),
             _value(explorer, "θ₂ start"))
    assert start[0] > 0 and start[1] > 0, start
    _matches(explorer, VALLEY, start, 0.3, 0.0, 60)
    before = renders(explorer)
    sandbox_page.mouse.move(box["x"] + 0.2 * box["width"], box["y"] + 0.6 * box["height"])
    sandbox_page.mouse.down()
    sandbox_page.mouse.move(box["x"] + 0.25 * box["width"], box["y"] + 0.7 * box["height"],
                            steps=4)
    sandbox_page.mouse.up()
    wait_rendered(explorer, before)
    dragged = (_value(explorer, "θ₁ start"),
               _value(explorer, "θ₂ start"))
    assert dragged[0] < 0 and dragged[1] < 0 and dragged != start
    _matches(explorer, VALLEY, dragged, 0.3, 0.0, 60)
    _clean(sandbox_page)


def test_the_presets_reach_the_textbook_rates(explorer, sandbox_page):
    curvatures = [0.2, 2.0]
    for button, tuned in [("tuned heavy ball", calculus.tuned_heavy_ball(curvatures)),
                          ("best plain η", calculus.best_plain(curvatures))]:
        _click(explorer, button)
        eta = _value(explorer, "learning rate η")
        beta = _value(explorer, "momentum β")
        assert eta == pytest.approx(tuned["learning_rate"], rel=1e-5)
        assert beta == pytest.approx(tuned["momentum"], rel=1e-5, abs=1e-12)
        rate = float(explorer.locator(".mlbook-rates").get_attribute("data-rate"))
        assert rate == pytest.approx(tuned["rate"], rel=1e-4)
    _clean(sandbox_page)


def test_a_diverging_run_stops_and_says_so(explorer, sandbox_page):
    wait_rendered(explorer, _type(explorer, "learning rate η", "1.2"))
    run = _matches(explorer, VALLEY, (-4.0, 3.0), 1.2, 0.0, 60)
    assert run.diverged and run.steps < 60
    assert "Diverged" in _status(explorer) and "above the stability limit 1" in _status(explorer)
    assert "mlbook-warning" in explorer.locator(".mlbook-status").get_attribute("class")
    path = explorer.locator("[data-bench=drag] path[stroke='#D55E00']").first
    assert len(path.get_attribute("d")) > 20, "the path is drawn, not a blank plot"
    _click(explorer, "reset")
    explorer.get_by_role("button", name="play").click()
    explorer.get_by_role("button", name="play").wait_for()  # play stops where the run stopped
    assert _readout(explorer)["step"] == run.steps
    _click(explorer, "step")  # no step beyond the divergence
    assert _readout(explorer)["step"] == run.steps
    _clean(sandbox_page)


@pytest.mark.parametrize(("label", "typed", "says"), [
    ("learning rate η", "", "Type a number"), ("learning rate η", "fast", "not a number"),
    ("learning rate η", "nan", "not a number"), ("learning rate η", "inf", "not a number"),
    ("learning rate η", "1e999", "finite"), ("learning rate η", "0", "greater than 0"),
    ("learning rate η", "-0.5", "greater than 0"), ("learning rate η", "1e9", "too large"),
    ("momentum β", "1", "0 ≤ β < 1"), ("momentum β", "-0.2", "0 ≤ β < 1"),
    ("momentum β", "x", "not a number"), ("steps", "0", "at least 1"),
    ("steps", "2.5", "whole number"), ("steps", "1e9", "at most 10000"),
    ("θ₁ start", "9", "at most 5"), ("θ₂ start", "", "Type a number"),
])
def test_bad_input_shows_a_message_in_the_widget(explorer, sandbox_page, label, typed, says):
    before = _readout(explorer)
    _type(explorer, label, typed)
    status = explorer.locator(".mlbook-status")
    status.wait_for()
    assert says in status.inner_text()
    assert "mlbook-error" in status.get_attribute("class")
    assert _readout(explorer) == before, "bad input must not change the run"
    _click(explorer, "step")  # the widget still works
    _clean(sandbox_page)


def test_values_set_from_python_show_in_the_page(sandbox_page, sandbox):
    explorer = DescentExplorer("rosenbrock", learning_rate=0.0015, momentum=0.5,
                               start=(-1.0, 2.0), steps=300, step=120)
    root = show_widgets(sandbox_page, sandbox, explorer).first
    _matches(root, Rosenbrock(), (-1.0, 2.0), 0.0015, 0.5, 300, step=120)
    assert _box(root, "learning rate η").input_value() == "0.0015"
    assert _box(root, "momentum β").input_value() == "0.5"
    assert root.locator("select").input_value() == "rosenbrock"
    assert root.get_by_role("button", name="tuned heavy ball").count() == 0
    assert "near the minimum (1, 1)" in root.locator(".mlbook-rates").inner_text()
    _clean(sandbox_page)


def test_switching_surface_loads_its_defaults(explorer, sandbox_page):
    for key in ("two-minima", "saddle", "bowl"):
        before = renders(explorer)
        explorer.locator("select").select_option(key)
        wait_rendered(explorer, before)
        surface = SURFACES[key]
        _matches(explorer, surface, surface.start, surface.learning_rate, 0.0, surface.steps)
    _clean(sandbox_page)


def test_two_minima_have_two_marks(sandbox_page, sandbox):
    root = show_widgets(sandbox_page, sandbox, DescentExplorer("two-minima")).first
    marks = root.locator(".mlbook-mark")
    assert marks.all_inner_texts() == ["★1", "★2"]
    deep, flat = TwoMinima().minima()
    titles = [marks.nth(i).get_attribute("title") for i in range(2)]
    assert "cannot settle there" in titles[0]
    limit = float(re.search(r"= ([\d.]+)", titles[0])[1])
    assert limit == pytest.approx(stability_limit(TwoMinima().hessian(*deep)), rel=1e-3)
    _clean(sandbox_page)


# --- The built chapter -------------------------------------------------------------------------

DOC = "chapters/calculus"


def test_page_weight_is_within_budget(site):
    page_html = (SITE / f"{DOC}.html").read_text()
    total = len(page_html.encode())
    for src in set(re.findall(r'<img[^>]*src="([^"]+)"', page_html)):
        if not src.startswith(("data:", "http")):
            total += (SITE / "chapters" / src).resolve().stat().st_size
    assert total <= 1_000_000, f"the page weighs {total / 1e6:.2f} MB"


def test_the_books_explorer_shows_the_chapters_run(page, server):
    open_page(page, server, DOC)
    root = page.locator(".mlbook-descent")
    root.scroll_into_view_if_needed()
    _matches(root, VALLEY, (-4.0, 3.0), 0.3, 0.0, 60)
    _click(root, "tuned heavy ball")
    tuned = calculus.tuned_heavy_ball([0.2, 2.0])
    _matches(root, VALLEY, (-4.0, 3.0), tuned["learning_rate"], tuned["momentum"], 60)
    sentence = page.locator("article p", has_text="The measured rates").first
    assert f"{tuned['rate']:.3f}" in sentence.inner_text()
    _clean(page)


def test_without_javascript_the_page_shows_the_fallback_picture(page_without_javascript):
    page = page_without_javascript(DOC)
    pictures = page.locator("noscript.mlbook-fallback img")
    alts = [pictures.nth(i).get_attribute("alt") for i in range(pictures.count())]
    assert any("path of 60 steps of gradient descent" in alt for alt in alts), alts
    assert pictures.first.is_visible()
