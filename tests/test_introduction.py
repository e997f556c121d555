"""The introduction: its line-fit widget (mlbook.intro, mlbook/js/line_fit.js) and its page.

The widget's numbers are checked against the chapter's own code: the tests run the chapter's data
and algorithm cells (the ones a reader sees) and compare the browser's iterates with them.
"""

from __future__ import annotations

import contextlib
import io
import math
import re

import matplotlib
import nbformat
import numpy as np
import pytest
from conftest import ROOT, call_js, load_module, open_page, renders, show_widgets, wait_rendered
from traitlets import TraitError

from mlbook.intro import DIVERGED, LineFitExplorer, descent_path, least_squares, stability_limit

NOTEBOOK = ROOT / "chapters" / "introduction.ipynb"
DATA_CELL, ALGORITHM_CELL = "cell-02", "cell-04"  # the chapter's data and its three equations


@pytest.fixture(scope="module")
def chapter():
    """The chapter's data and functions, from running its own cells."""
    cells = {cell.get("id"): cell for cell in nbformat.read(NOTEBOOK, as_version=4).cells}
    namespace: dict = {}
    # rc_context: the chapter's use_book_style() must not restyle other tests' figures.
    with contextlib.redirect_stdout(io.StringIO()), matplotlib.rc_context():
        for cell_id in (DATA_CELL, ALGORITHM_CELL):
            exec(cells[cell_id].source, namespace)  # noqa: S102 - the book's own code
    return namespace


def _close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def _data(chapter):
    return chapter["concentration"].tolist(), chapter["absorbance"].tolist()


# --- the Python references ---------------------------------------------------------------------

@pytest.mark.parametrize("eta", [0.1, 0.7])
def test_the_widgets_reference_is_the_chapters_gradient_descent(chapter, eta):
    ours = descent_path(*_data(chapter), eta, 30)
    theirs = chapter["gradient_descent"](eta)
    assert ours == [tuple(float(v) for v in step) for step in theirs]


def test_a_diverging_run_stops_where_its_loss_passes_the_bound(chapter):
    path = descent_path(*_data(chapter), 0.85, 100)
    full = chapter["gradient_descent"](0.85, steps=100)
    assert 1 < len(path) - 1 < 100
    assert path == [tuple(float(v) for v in step) for step in full[:len(path)]]
    assert path[-1][2] > DIVERGED * path[0][2] >= path[-2][2]


def test_stability_limit_by_hand():
    # x = (0, 1): H = 2 [[1/2, 1/2], [1/2, 1]] = [[1, 1], [1, 2]], λ_max = (3 + √5) / 2.
    assert math.isclose(stability_limit([0.0, 1.0]), 4 / (3 + math.sqrt(5)), rel_tol=1e-12)


def test_least_squares_recovers_an_exact_line():
    x = np.linspace(-1, 3, 7)
    assert np.allclose(least_squares(x, 0.5 * x - 2), (0.5, -2.0))


@pytest.mark.parametrize(("change", "match"), [
    ({"learning_rate": 0.0}, "positive, finite"), ({"learning_rate": math.nan}, "positive"),
    ({"learning_rate": 1e9}, "far too large"), ({"step": 101}, "step must be"),
    ({"steps": 0}, "steps must be"), ({"y": [1.0, 2.0]}, "same size"),
])
def test_the_widget_refuses_bad_values_from_python(change, match):
    widget = LineFitExplorer([0.0, 0.5, 1.0], [0.1, 0.6, 1.1])
    with pytest.raises(TraitError, match=match):
        widget.set_trait(*next(iter(change.items())))


def test_new_data_of_another_size_is_taken_together():
    widget = LineFitExplorer([0.0, 0.5, 1.0], [0.1, 0.6, 1.1])
    with widget.hold_trait_notifications():
        widget.x, widget.y = [0.0, 1.0], [1.0, 3.0]
    assert widget.x == [0.0, 1.0] and widget.y == [1.0, 3.0]


def test_the_fallback_pictures_the_default_state(chapter):
    text = LineFitExplorer(*_data(chapter), learning_rate=0.7, step=5).fallback()
    assert text.startswith('<img src="data:image/png;base64,')
    w, b, _ = descent_path(*_data(chapter), 0.7, 100)[5]
    assert f"w = {w:.4f}, b = {b:.4f} after step 5" in text


# --- the browser's numerics equal Python's -----------------------------------------------------

@pytest.fixture
def module_page(sandbox_page, sandbox):
    sandbox_page.goto(sandbox[1] + "/require-config.js")
    load_module(sandbox_page, "line_fit")
    return sandbox_page


@pytest.mark.parametrize("eta", [0.1, 0.7, 0.85, 5.0])
def test_browser_iterates_equal_the_chapters(module_page, chapter, eta):
    x, y = _data(chapter)
    result = call_js(module_page, "descend", x, y, eta, 100, DIVERGED)
    expected = descent_path(x, y, eta, 100)
    assert len(result["path"]) == len(expected)
    assert result["diverged"] == (len(expected) < 101)
    reference = chapter["gradient_descent"](eta, steps=100)
    for shown, ours, theirs in zip(result["path"], expected, reference):
        assert all(_close(a, b) for a, b in zip(shown, ours)), (shown, ours)
        assert all(_close(a, float(b)) for a, b in zip(shown, theirs)), (shown, theirs)


def test_browser_loss_gradient_and_lines_equal_pythons(module_page, chapter):
    x, y = _data(chapter)
    for w, b in [(0.0, 0.0), (1.3, -0.2)]:
        assert _close(call_js(module_page, "loss", x, y, w, b), chapter["loss"](w, b))
        dw, db = call_js(module_page, "gradient", x, y, w, b)
        assert _close(dw, chapter["gradient"](w, b)[0]) and _close(db, chapter["gradient"](w, b)[1])
    assert all(_close(a, b) for a, b in zip(call_js(module_page, "leastSquares", x, y),
                                            least_squares(x, y)))
    assert _close(call_js(module_page, "stabilityLimit", x), stability_limit(x))


# --- a reader drives the widget ----------------------------------------------------------------

def _shown(root) -> dict[str, float]:
    """What the read-out says, and the full-precision values it carries."""
    readout = root.locator(".mlbook-readout")
    text = readout.inner_text().replace("−", "-")
    found = dict(re.findall(r"(step|w|b|L) =? ?(-?[\d.]+(?:e[+-]?\d+)?)",
                            text.replace("step ", "step = ")))
    shown = {key: float(value) for key, value in found.items()}
    exact = {key: float(readout.get_attribute(f"data-{key}")) for key in ("w", "b", "loss")}
    return shown | {"exact": exact}


def _matches(shown, expected):
    w, b, loss = expected
    for key, value in (("w", w), ("b", b), ("L", loss)):
        assert math.isclose(shown[key], value, rel_tol=1e-4, abs_tol=1e-9), (key, shown, value)
    for key, value in (("w", w), ("b", b), ("loss", loss)):
        assert _close(shown["exact"][key], value), (key, shown, value)


def _click(root, name, times=1):
    for _ in range(times):
        before = renders(root)
        root.get_by_role("button", name=name).click()
        wait_rendered(root, before)


def _type(root, text):
    box = root.get_by_label("learning rate η", exact=True)
    before = renders(root)
    box.fill(text)
    box.press("Enter")
    return before


def _status(root) -> str:
    return root.locator(".mlbook-status").inner_text()


@pytest.fixture
def widget(sandbox_page, sandbox, chapter):
    return show_widgets(sandbox_page, sandbox,
                        LineFitExplorer(*_data(chapter), learning_rate=0.7)).first


def test_stepping_typing_playing_and_reset_show_pythons_values(widget, sandbox_page, chapter):
    x, y = _data(chapter)
    assert _shown(widget)["step"] == 0
    _click(widget, "step", 5)
    shown = _shown(widget)
    assert shown["step"] == 5
    _matches(shown, descent_path(x, y, 0.7, 100)[5])
    fitted = widget.locator("path.fitted").get_attribute("d")

    wait_rendered(widget, _type(widget, "0.3"))
    _matches(_shown(widget), descent_path(x, y, 0.3, 100)[5])
    assert widget.locator("path.fitted").get_attribute("d") != fitted

    widget.get_by_role("button", name="play").click()
    sandbox_page.wait_for_function(
        "el => Number(el.querySelector('.mlbook-readout').dataset.step) >= 9",
        arg=widget.element_handle())
    widget.get_by_role("button", name="pause").click()
    step = int(_shown(widget)["step"])
    _matches(_shown(widget), descent_path(x, y, 0.3, 100)[step])

    _click(widget, "reset")
    assert _shown(widget)["step"] == 0 and _shown(widget)["exact"]["w"] == 0
    assert not sandbox_page.mlbook_log.errors and not sandbox_page.mlbook_log.console_errors


def test_a_diverging_run_stops_and_says_so(widget, sandbox_page, chapter):
    wait_rendered(widget, _type(widget, "0.85"))
    assert "above the stability limit" in _status(widget)
    widget.get_by_role("button", name="play").click()
    widget.get_by_role("button", name="play").wait_for()  # play stops by itself
    expected = descent_path(*_data(chapter), 0.85, 100)
    assert _shown(widget)["step"] == len(expected) - 1 < 100
    assert "diverged" in _status(widget)
    assert widget.locator(".mlbook-status").get_attribute("class").endswith("mlbook-warning")
    _click(widget, "step")  # no step beyond the divergence
    assert _shown(widget)["step"] == len(expected) - 1
    assert not sandbox_page.mlbook_log.errors and not sandbox_page.mlbook_log.console_errors


@pytest.mark.parametrize(("typed", "says"), [
    ("", "Type a number"), ("fast", "not a number"), ("nan", "not a number"),
    ("inf", "not a number"), ("1e999", "finite"), ("0", "greater than 0"),
    ("-0.5", "greater than 0"), ("1e9", "far too large"),
])
def test_bad_learning_rates_show_a_message_in_the_widget(widget, sandbox_page, typed, says):
    _click(widget, "step", 2)
    before = _shown(widget)
    _type(widget, typed)
    status = widget.locator(".mlbook-status")
    status.wait_for()
    assert says in status.inner_text()
    assert "mlbook-error" in status.get_attribute("class")
    assert _shown(widget) == before, "bad input must not change the run"
    _click(widget, "step")  # the widget still works, and the message stays until fixed
    assert says in status.inner_text()
    assert not sandbox_page.mlbook_log.errors and not sandbox_page.mlbook_log.console_errors


def test_values_set_from_python_show_in_the_page(sandbox_page, sandbox, chapter):
    x, y = _data(chapter)
    explorer = LineFitExplorer(x, y, learning_rate=0.3, step=12, xlabel="c", ylabel="A")
    root = show_widgets(sandbox_page, sandbox, explorer).first
    shown = _shown(root)
    assert shown["step"] == 12
    _matches(shown, descent_path(x, y, 0.3, 100)[12])
    mark = root.locator(".mlbook-mark")
    assert mark.inner_text() == "2/λmax"
    limit = float(mark.get_attribute("title").split("=")[1])
    assert math.isclose(limit, stability_limit(x), rel_tol=1e-3)
    assert root.locator("svg[role=img]").count() == 2
    assert "A against c" in root.locator("svg[role=img]").first.get_attribute("aria-label")


# --- the built chapter ---------------------------------------------------------------------------

def test_the_books_widget_reaches_the_glued_values_after_30_steps(page, server):
    open_page(page, server, "chapters/introduction")
    page.wait_for_selector(".mlbook-line-fit[data-renders]")
    root = page.locator(".mlbook-line-fit")
    root.scroll_into_view_if_needed()
    _click(root, "step", 30)
    shown = _shown(root)
    sentence = page.locator("article p", has_text="After 30 steps at").first
    slope, intercept = sentence.locator(".pasted-text").all_inner_texts()[:2]
    assert (f"{shown['exact']['w']:.3f}", f"{shown['exact']['b']:.3f}") == (slope, intercept)
    assert not page.mlbook_log.errors and not page.mlbook_log.console_errors


def test_without_javascript_the_page_shows_the_fallback_picture(page_without_javascript):
    page = page_without_javascript("chapters/introduction")
    pictures = page.locator("noscript.mlbook-fallback img")
    alts = [pictures.nth(i).get_attribute("alt") for i in range(pictures.count())]
    assert any("least-squares line dashed" in alt for alt in alts), alts
    assert pictures.first.is_visible()
