"""The calculus chapter: its gradient-descent maths, the checks on input, and its stepper as a
reader drives it in the built page."""

import math
import re
import warnings

import numpy as np
import pytest
import torch
from conftest import SITE, choose, open_page, press_play, step_forward, stepper, visible_frame

from mlbook import calculus
from mlbook.calculus import Bowl, check_learning_rate, check_momentum, gradient_descent

# The chapter's stepper: its bowls by drop-down label, its starts and learning rates.
BOWLS = {"round bowl L = x² + y²": Bowl("round bowl L = x² + y²", 1.0, 1.0),
         "long valley L = 0.1x² + y²": Bowl("long valley L = 0.1x² + y²", 0.1, 1.0)}
PAGE_WEIGHT_LIMIT = 1.5e6  # bytes: the chapter's HTML plus the images it embeds


# --- Gradient descent -------------------------------------------------------------------------

@pytest.mark.parametrize("eta", [0.05, 0.3, 0.7, 0.95])
def test_steps_equal_the_closed_form_on_a_quadratic(eta):
    bowl = Bowl("test", a=0.1, b=1.0)
    run = gradient_descent(bowl.grad, (-4.0, 3.0), eta, steps=25)
    t = np.arange(26)
    np.testing.assert_allclose(run.path[:, 0], (1 - 2 * 0.1 * eta) ** t * -4.0, rtol=1e-12)
    np.testing.assert_allclose(run.path[:, 1], (1 - 2 * 1.0 * eta) ** t * 3.0, rtol=1e-12,
                               atol=1e-300)
    assert not run.diverged and run.steps == 25


def test_momentum_update_by_hand():
    bowl = Bowl("test", a=0.1, b=1.0)
    eta, beta = 0.3, 0.6
    theta0 = np.array([-4.0, 3.0])
    v1 = bowl.grad(theta0)
    theta1 = theta0 - eta * v1
    v2 = beta * v1 + bowl.grad(theta1)
    theta2 = theta1 - eta * v2
    run = gradient_descent(bowl.grad, theta0, eta, steps=2, momentum=beta)
    np.testing.assert_allclose(run.path, [theta0, theta1, theta2], rtol=1e-14)


def test_momentum_matches_torch_sgd():
    bowl = Bowl("test", a=0.1, b=1.0)
    run = gradient_descent(bowl.grad, (-4.0, 3.0), 0.3, steps=20, momentum=0.6)
    theta = torch.tensor([-4.0, 3.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([theta], lr=0.3, momentum=0.6)
    for step in range(1, 21):
        optimizer.zero_grad()
        (0.1 * theta[0] ** 2 + theta[1] ** 2).backward()
        optimizer.step()
        np.testing.assert_allclose(theta.detach().numpy(), run.path[step], rtol=1e-12)


def test_zero_momentum_is_plain_gradient_descent():
    bowl = Bowl("test", a=1.0, b=1.0)
    plain = gradient_descent(bowl.grad, (1.0, 2.0), 0.2, steps=10)
    with_zero = gradient_descent(bowl.grad, (1.0, 2.0), 0.2, steps=10, momentum=0.0)
    np.testing.assert_array_equal(plain.path, with_zero.path)


def test_divergence_stops_at_the_bound_without_warnings():
    bowl = Bowl("test", a=1.0, b=1.0)
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
    bowl = Bowl("test", a=1.0, b=1.0)
    run = gradient_descent(bowl.grad, (-4.0, 3.0), 0.9, steps=100)
    assert not run.diverged and run.steps == 100


@pytest.mark.parametrize(("value", "expected"), [
    (0, "must be positive"),
    (-0.1, "must be positive"),
    (float("nan"), "finite"),
    (float("inf"), "finite"),
    (1e9, "too large"),
    ("abc", "must be a number"),
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


def test_a_non_finite_start_is_refused():
    with pytest.raises(ValueError, match="start"):
        gradient_descent(lambda theta: theta, (float("nan"), 0.0), 0.1, steps=3)


# --- The chapter's derivative checks ---------------------------------------------------------

def test_autograd_analytic_and_finite_difference_agree():
    x_in, y_target = 1.5, 0.5

    def loss(w):
        return (np.tanh(w * x_in) - y_target) ** 2

    for w in [-1.0, 0.0, 0.8, 2.0]:
        a = np.tanh(w * x_in)
        analytic = 2 * (a - y_target) * (1 - a**2) * x_in
        w_tensor = torch.tensor(w, dtype=torch.float64, requires_grad=True)
        ((torch.tanh(w_tensor * x_in) - y_target) ** 2).backward()
        h = 1e-5
        central = (loss(w + h) - loss(w - h)) / (2 * h)
        assert w_tensor.grad.item() == pytest.approx(analytic, abs=1e-14)
        assert central == pytest.approx(analytic, abs=1e-9)


def test_bowl_gradient_matches_central_differences():
    bowl = Bowl("test", a=0.1, b=1.0)
    theta, h = np.array([-1.3, 0.7]), 1e-6
    central = [(bowl.loss(*(theta + h * e)) - bowl.loss(*(theta - h * e))) / (2 * h)
               for e in np.eye(2)]
    np.testing.assert_allclose(bowl.grad(theta), central, rtol=1e-8)
    assert bowl.grad_norm_at(theta[None])[0] == pytest.approx(np.linalg.norm(bowl.grad(theta)))


# --- The live widget --------------------------------------------------------------------------

@pytest.fixture
def live_controls(monkeypatch):
    monkeypatch.delenv("MLBOOK_BUILD", raising=False)
    explorer = calculus.descent_explorer(list(BOWLS.values())[:1], [(-4.0, 3.0)], [0.3], steps=5)
    stepper_widget, controls = explorer.widget.children
    return controls


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("learning_rate", "0", "must be positive"),
    ("learning_rate", "-1", "must be positive"),
    ("learning_rate", "nan", "finite"),
    ("learning_rate", "inf", "finite"),
    ("learning_rate", "1e9", "too large"),
    ("learning_rate", "fast", "must be a number"),
    ("momentum", "1", "momentum β"),
    ("start_x", "12", "outside the plot"),
    ("start_y", "", "must be a number"),
])
def test_live_bad_input_shows_a_message_not_a_traceback(live_controls, field, value, expected):
    getattr(live_controls, field).value = value
    live_controls.run()
    assert "mlbook-error" in live_controls.status.value
    assert expected in live_controls.status.value
    assert live_controls.result.children == ()


def test_live_run_shows_a_stepper_and_reports_divergence(live_controls):
    live_controls.learning_rate.value = "0.2"
    live_controls.momentum.value = "0.5"
    live_controls.run()
    assert "mlbook-error" not in live_controls.status.value
    (result,) = live_controls.result.children
    assert result.n_frames == 6  # the fixture's 5 steps, and the start
    live_controls.learning_rate.value = "1.5"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        live_controls.run()
    assert "diverged" in live_controls.status.value


def test_static_build_leaves_out_live_controls(monkeypatch):
    monkeypatch.setenv("MLBOOK_BUILD", "static")
    explorer = calculus.descent_explorer(list(BOWLS.values())[:1], [(-4.0, 3.0)], [0.3], steps=3)
    assert explorer.widget.__class__.__name__ == "Stepper"
    assert "<noscript>" in explorer.noscript_html


# --- The built page, as a reader sees it ------------------------------------------------------

DOC = "chapters/calculus"
READOUT = re.compile(r"step (\d+) · \(x, y\) = \((-?[\d.]+), (-?[\d.]+)\) · L = ([-\d.e+]+)")


def _expected(bowl_label: str, start: str, eta: str, step: int) -> np.ndarray:
    # ipywidgets shows the options' spaces as non-breaking spaces.
    bowl_label, start = bowl_label.replace("\xa0", " "), start.replace("\xa0", " ")
    x, y = (float(v) for v in start.strip("()").split(","))
    run = gradient_descent(BOWLS[bowl_label].grad, (x, y), float(eta), steps=step)
    return run.path[step]


def _shown(frame) -> tuple[int, float, float]:
    match = READOUT.search(frame.locator(".mlbook-readout").inner_text())
    assert match, frame.locator(".mlbook-readout").inner_text()
    return int(match[1]), float(match[2]), float(match[3])


def _choices(widget, label):
    dropdown = widget.locator(".widget-dropdown").filter(has_text=label).locator("select")
    return dropdown.locator("option").all_inner_texts()


def test_page_weight_is_within_budget(site):
    page_html = (SITE / f"{DOC}.html").read_text()
    total = len(page_html.encode())
    for src in set(re.findall(r'<img[^>]*src="([^"]+)"', page_html)):
        if not src.startswith(("data:", "http")):
            total += (SITE / "chapters" / src).resolve().stat().st_size
    assert total <= PAGE_WEIGHT_LIMIT, f"the page weighs {total / 1e6:.2f} MB"


@pytest.mark.parametrize("eta_index", [0, 1])
def test_stepping_five_times_shows_the_fifth_iterate(page, server, eta_index):
    open_page(page, server, DOC)
    widget = stepper(page)
    bowl_label, start = _choices(widget, "function")[1], _choices(widget, "start")[1]
    eta = _choices(widget, "learning rate η")[eta_index]
    choose(widget, "function", bowl_label)
    choose(widget, "start", start)
    choose(widget, "learning rate η", eta)
    step_forward(widget, 5)
    frame = visible_frame(widget)
    step, x, y = _shown(frame)
    expected = _expected(bowl_label, start, eta, 5)
    assert step == 5 and frame.get_attribute("data-step") == "5"
    assert (x, y) == pytest.approx(tuple(expected), abs=1e-4)
    assert float(frame.get_attribute("data-x")) == pytest.approx(expected[0], rel=1e-9)
    assert float(frame.get_attribute("data-y")) == pytest.approx(expected[1], rel=1e-9)
    step_forward(widget, -2)
    assert _shown(visible_frame(widget))[0] == 3
    assert not page.mlbook_log.errors


def test_switching_learning_rate_changes_the_path(page, server):
    open_page(page, server, DOC)
    widget = stepper(page)
    step_forward(widget, 4)
    etas = _choices(widget, "learning rate η")
    paths = []
    for eta in etas[:2]:
        choose(widget, "learning rate η", eta)
        frame = visible_frame(widget)
        paths.append(frame.locator("polyline").first.get_attribute("points"))
        bowl_label = _choices(widget, "function")[0]
        start = _choices(widget, "start")[0]
        assert _shown(frame)[1:] == pytest.approx(
            tuple(_expected(bowl_label, start, eta, 4)), abs=1e-4)
    assert paths[0] != paths[1]
    assert not page.mlbook_log.errors


def test_diverging_run_stops_with_a_message(page, server):
    open_page(page, server, DOC)
    widget = stepper(page)
    choose(widget, "learning rate η", _choices(widget, "learning rate η")[-1])
    last = int(widget.locator(".widget-text input").first.get_attribute("max") or 0) or 40
    step_forward(widget, last)
    frame = visible_frame(widget)
    assert frame.get_attribute("data-diverged") == "true"
    assert "Diverged" in frame.inner_text()
    assert not page.mlbook_log.errors


def test_play_advances(page, server):
    open_page(page, server, DOC)
    widget = stepper(page)
    assert visible_frame(widget).get_attribute("data-step") == "0"
    press_play(widget)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.mlbook-stepper .mlbook-frame')]
                 .some(f => f.offsetParent !== null && Number(f.dataset.step) >= 2)""")
    assert not page.mlbook_log.errors
