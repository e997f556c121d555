"""The introduction's line-fitting stepper: Play and browser-side links step precomputed frames."""

import re

import pytest
from conftest import choose, open_page, press_play, step_forward, stepper, visible_frame


def _shown(frame) -> dict[str, float]:
    """The step, slope, intercept and loss the readout shows."""
    text = frame.locator(".mlbook-readout").inner_text()
    numbers = dict(re.findall(r"(step|w|b|L) = ?(-?[\d.]+(?:e[+-]?\d+)?)",
                              text.replace("step ", "step = ")))
    return {key: float(value) for key, value in numbers.items()}


def test_stepping_moves_the_line_and_the_readout(page, server):
    open_page(page, server, "chapters/introduction")
    widget = stepper(page)
    start = _shown(visible_frame(widget))
    assert start["step"] == 0 and start["w"] == 0 and start["b"] == 0

    step_forward(widget, 5)
    after = _shown(visible_frame(widget))
    assert after["step"] == 5
    assert after["L"] < start["L"], "five steps at the default learning rate lower the loss"
    assert visible_frame(widget).locator("polyline").last.get_attribute("points") != \
        visible_frame(widget).locator("polyline").first.get_attribute("points")

    step_forward(widget, -2)
    assert _shown(visible_frame(widget))["step"] == 3
    assert not page.mlbook_log.errors


def test_choosing_a_large_learning_rate_shows_the_fit_blowing_up(page, server):
    open_page(page, server, "chapters/introduction")
    widget = stepper(page)
    step_forward(widget, 20)
    converging = _shown(visible_frame(widget))["L"]
    choose(widget, "learning rate", "0.85")
    diverging = _shown(visible_frame(widget))
    assert diverging["step"] == 20, "the step is kept when the learning rate changes"
    assert diverging["L"] > 10 * converging


def test_play_advances_the_steps(page, server):
    open_page(page, server, "chapters/introduction")
    widget = stepper(page)
    press_play(widget)
    page.wait_for_function(
        """el => [...el.querySelectorAll('.mlbook-frame')].some(
                  frame => frame.offsetParent !== null && Number(frame.dataset.step) >= 2)""",
        arg=widget.element_handle(), timeout=15_000)
    assert _shown(visible_frame(widget))["step"] >= 2
    assert not page.mlbook_log.errors


def _descend(eta, steps=10):
    """Gradient descent on L(w, b) = (w - 1)² + b², enough to drive the widget."""
    w = b = 0.0
    path = [(w, b, (w - 1) ** 2 + b**2)]
    for _ in range(steps):
        w, b = w - eta * 2 * (w - 1), b - eta * 2 * b
        path.append((w, b, (w - 1) ** 2 + b**2))
    return path


def _live_explorer(monkeypatch):
    from mlbook.intro import LIVE_CHOICE, line_fit_explorer

    monkeypatch.delenv("MLBOOK_BUILD", raising=False)
    explorer = line_fit_explorer([0.1, 0.5, 0.9], [0.2, 0.6, 1.0], _descend, [0.1, 0.5],
                                 xlabel="c", ylabel="A")
    stepper, (entry, status) = explorer.children[0], explorer.children[1].children
    return stepper, entry, status, LIVE_CHOICE


def test_live_learning_rate_box_runs_any_valid_rate(monkeypatch):
    stepper, entry, status, live = _live_explorer(monkeypatch)
    entry.value = "0.25"
    assert stepper.dropdowns[0].value == live
    stepper.slider.value = 3
    shown = stepper.view.value
    assert 'data-step="3"' in shown
    assert f"w = {_descend(0.25)[3][0]:.4f}" in shown
    assert "press play" in status.value


@pytest.mark.parametrize("typed", ["0", "-0.5", "nan", "inf", "1e9", "fast"])
def test_live_learning_rate_box_explains_bad_input(monkeypatch, typed):
    stepper, entry, status, live = _live_explorer(monkeypatch)
    before = list(stepper.runs[(live,)])
    entry.value = typed
    assert "mlbook-error" in status.value and "learning rate" in status.value
    assert stepper.runs[(live,)] == before, "bad input must not change the run"


def test_static_build_leaves_out_live_controls(monkeypatch):
    from mlbook.intro import line_fit_explorer
    from mlbook.widgets import Stepper

    monkeypatch.setenv("MLBOOK_BUILD", "static")
    explorer = line_fit_explorer([0.1, 0.5], [0.2, 0.6], _descend, [0.1, 0.5],
                                 xlabel="c", ylabel="A")
    assert isinstance(explorer, Stepper)
    assert explorer.dropdowns[0].options == ("0.1", "0.5")
