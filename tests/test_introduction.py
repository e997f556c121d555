"""The introduction's line-fitting stepper: Play and browser-side links step precomputed frames."""

import re

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
