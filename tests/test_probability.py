"""The probability chapter: its estimators and losses against closed forms and independent
references, its live-kernel controls, and its likelihood explorer as a reader drives it."""

import math
import re

import numpy as np
import pytest
import torch
from conftest import choose, open_page, press_play, step_forward, stepper, visible_frame

from mlbook import probability as prob
from mlbook.widgets import BUILD_ENV

DOC = "chapters/probability"


# --- Maximum likelihood -----------------------------------------------------------------------

@pytest.mark.parametrize(("heads", "n"), [(0, 1), (1, 1), (3, 10), (13, 50), (512, 512)])
def test_coin_log_likelihood_peaks_at_the_closed_form_mle(heads, n):
    grid = np.linspace(0, 1, 200_001)
    peak = grid[np.argmax(prob.coin_log_likelihood(grid, heads, n))]
    p_hat, se = prob.coin_mle(heads, n)
    assert p_hat == heads / n
    assert peak == pytest.approx(p_hat, abs=1e-5)
    assert se == pytest.approx(math.sqrt(p_hat * (1 - p_hat) / n))


def test_coin_log_likelihood_is_the_log_of_the_bernoulli_product():
    flips = np.array([1, 0, 0, 1, 1, 1, 0])
    p = 0.37
    product = np.prod(p**flips * (1 - p) ** (1 - flips))
    assert prob.coin_log_likelihood(p, flips.sum(), flips.size) == pytest.approx(np.log(product))


def test_gaussian_mle_found_by_optimisation_matches_the_closed_form():
    x = np.random.default_rng(1).normal(3.0, 0.7, size=40)
    mean = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    log_std = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([mean, log_std], max_iter=500, tolerance_grad=1e-12,
                                  tolerance_change=1e-15, line_search_fn="strong_wolfe")
    data = torch.tensor(x)

    def closure():
        optimiser.zero_grad()
        nll = -torch.distributions.Normal(mean, log_std.exp()).log_prob(data).sum()
        nll.backward()
        return nll

    optimiser.step(closure)
    closed_mean, closed_std = x.mean(), np.sqrt(np.mean((x - x.mean()) ** 2))
    assert mean.item() == pytest.approx(closed_mean, abs=1e-6)
    assert log_std.exp().item() == pytest.approx(closed_std, abs=1e-6)
    # and our log-likelihood agrees with PyTorch's at the optimum
    ours = prob.gaussian_log_likelihood(x, closed_mean, closed_std)
    reference = torch.distributions.Normal(closed_mean, closed_std).log_prob(data).sum().item()
    assert ours == pytest.approx(reference)


# --- Losses as negative log-likelihoods -------------------------------------------------------

def test_mse_equals_gaussian_nll_up_to_the_constant():
    rng = np.random.default_rng(2)
    y = rng.normal(size=30)
    std = 0.3
    constant = 0.5 * np.log(2 * np.pi * std**2)
    for prediction in (y, y + 0.1, rng.normal(size=30)):
        mse = prob.mean_squared_error(y, prediction)
        nll = prob.gaussian_nll(y, prediction, std)
        reference = -torch.distributions.Normal(torch.tensor(prediction), std).log_prob(
            torch.tensor(y)).mean().item()
        assert nll == pytest.approx(reference)
        assert nll == pytest.approx(constant + mse / (2 * std**2))


def test_cross_entropy_equals_categorical_nll():
    generator = torch.Generator().manual_seed(3)
    logits = 4 * torch.randn(16, 10, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 10, (16,), generator=generator)
    expected = torch.nn.functional.cross_entropy(logits, labels).item()
    assert prob.categorical_nll(prob.softmax(logits.numpy()), labels.numpy()) == pytest.approx(
        expected, rel=1e-12)


def test_softmax_is_a_distribution_unchanged_by_shifts():
    scores = np.array([[2.0, 1.0, -1.0], [1000.0, 999.0, 990.0]])
    p = prob.softmax(scores)
    assert np.all(p > 0) and np.allclose(p.sum(axis=1), 1)
    assert np.allclose(prob.softmax(scores + 50), p)
    assert np.allclose(p, torch.softmax(torch.tensor(scores), dim=1).numpy())


# --- Bayes and calibration --------------------------------------------------------------------

def test_natural_frequencies_reproduce_bayes_rule():
    counts = prob.natural_frequencies(0.01, 0.9, 0.05, people=10_000)
    assert sum(counts.values()) == 10_000
    positives = counts["sick, positive"] + counts["healthy, positive"]
    posterior = 0.9 * 0.01 / (0.9 * 0.01 + 0.05 * 0.99)
    assert counts["sick, positive"] / positives == pytest.approx(posterior, abs=1e-3)


def test_reliability_bins_and_calibration_error():
    confidence = np.array([0.95, 0.95, 0.55, 0.65])
    correct = np.array([1, 0, 1, 1])
    mean_confidence, accuracy, counts, ece = prob.reliability_bins(confidence, correct, n_bins=10)
    assert counts.tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0, 2]
    assert accuracy[9] == 0.5 and mean_confidence[9] == pytest.approx(0.95)
    assert ece == pytest.approx((0.45 + 0.35 + 2 * 0.45) / 4)
    # Outcomes drawn with exactly the stated confidence are calibrated; sharper claims are not.
    rng = np.random.default_rng(4)
    stated = rng.uniform(0.1, 1.0, size=200_000)
    outcomes = rng.random(stated.size) < stated
    assert prob.reliability_bins(stated, outcomes)[3] < 0.01
    assert prob.reliability_bins(np.sqrt(stated), outcomes)[3] > 0.05


# --- The explorer's Python side ---------------------------------------------------------------

def test_sample_sizes_double_and_end_at_the_maximum():
    assert prob.sample_sizes(512) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert prob.sample_sizes(1000)[-2:] == [512, 1000]


def test_frame_shows_the_mle_of_the_flips_it_was_given():
    flips = np.array([1, 1, 0, 1, 0, 0, 0, 1, 1, 1], dtype=bool)
    frame = prob.likelihood_frame(flips, 8, true_p=0.5)
    assert 'data-n="8"' in frame and 'data-heads="4"' in frame
    assert 'data-mle="0.500000"' in frame and "<b>0.500</b>" in frame


@pytest.mark.parametrize(("p", "n"), [(-0.1, 10), (1.5, 10), (float("nan"), 10),
                                      (float("inf"), 10), (0.5, 0), (0.5, -3),
                                      (0.5, prob.MAX_FLIPS + 1)])
def test_bad_settings_are_explained(p, n):
    assert prob.validate_flip_settings(p, n)


def _find(widget, kind):
    found = [widget] if isinstance(widget, kind) else []
    for child in getattr(widget, "children", ()):
        found += _find(child, kind)
    return found


def test_live_controls_report_bad_input_and_add_good_runs(monkeypatch):
    import ipywidgets as widgets

    monkeypatch.delenv(BUILD_ENV, raising=False)
    explorer = prob.likelihood_explorer([0.3, 0.7], n_max=16)
    (p_box,), (n_box,) = _find(explorer, widgets.FloatText), _find(explorer, widgets.IntText)
    (button,) = _find(explorer, widgets.Button)
    status = [w for w in _find(explorer, widgets.HTML) if w.value == ""][0]

    p_box.value, n_box.value = 1.5, 100
    button.click()
    assert "mlbook-error" in status.value and "between 0 and 1" in status.value

    p_box.value, n_box.value = 0.55, 100
    button.click()
    assert "mlbook-error" not in status.value
    (new_stepper,) = [w for w in explorer.children if isinstance(w, prob.Stepper)]
    assert new_stepper.dropdowns[0].value == "0.55, n = 100"
    assert new_stepper.n_frames == len(prob.sample_sizes(100))


def test_static_build_leaves_out_live_controls(monkeypatch):
    import ipywidgets as widgets

    monkeypatch.setenv(BUILD_ENV, "static")
    explorer = prob.likelihood_explorer([0.3, 0.7], n_max=16)
    assert not _find(explorer, widgets.Button)
    assert any("Binder or Colab" in w.value for w in _find(explorer, widgets.HTML))


# --- The built page ---------------------------------------------------------------------------

def _shown(frame):
    return {key: frame.get_attribute(f"data-{key}") for key in ("n", "heads", "mle", "true-p")}


def test_page_weighs_at_most_one_and_a_half_megabytes(site):
    page = site / f"{DOC}.html"
    text = page.read_text()
    images = set(re.findall(r'src="(?:\.\./)?(_images/[^"]+)"', text))
    total = page.stat().st_size + sum((site / image).stat().st_size for image in images)
    assert total <= 1.5e6, f"{DOC}.html and its images weigh {total / 1e6:.2f} MB"


def test_stepping_grows_the_sample_and_shows_the_python_mle(page, server):
    open_page(page, server, DOC)
    widget = stepper(page)
    options = widget.locator(".widget-dropdown select option").all_inner_texts()
    true_ps = [float(option) for option in options]
    last_step = int(widget.locator(".widget-text input").first.get_attribute("max"))
    step_forward(widget, last_step)  # the last step shows the whole experiment
    n_max = int(visible_frame(widget).get_attribute("data-n"))
    flips = prob.coin_experiments(true_ps, n_max, np.random.default_rng(0))
    step_forward(widget, -last_step)

    for option in options:
        choose(widget, "true p", option)
        seen = []
        for expected_n in prob.sample_sizes(n_max)[:4]:
            frame = visible_frame(widget)
            shown = _shown(frame)
            heads = int(flips[float(option)][:expected_n].sum())
            assert shown["true-p"] == option
            assert int(shown["n"]) == expected_n
            assert int(shown["heads"]) == heads
            assert float(shown["mle"]) == pytest.approx(heads / expected_n)
            assert f"{heads / expected_n:.3f}" in frame.inner_text()
            seen.append(shown["n"])
            step_forward(widget)
        assert len(set(seen)) == len(seen)
        step_forward(widget, -len(seen))


def test_play_runs_to_the_full_sample(page, server):
    open_page(page, server, DOC)
    widget = stepper(page)
    press_play(widget)
    page.wait_for_function(
        """() => { const f = [...document.querySelectorAll('.mlbook-stepper .mlbook-frame')]
                     .filter(e => e.offsetParent !== null);
                   return f.length === 1 && Number(f[0].dataset.n) >= 256; }""",
        timeout=20_000)
    frame = visible_frame(widget)
    n, heads = int(frame.get_attribute("data-n")), int(frame.get_attribute("data-heads"))
    assert float(frame.get_attribute("data-mle")) == pytest.approx(heads / n)


def test_static_page_tells_the_reader_where_any_value_works(page, server):
    open_page(page, server, DOC)
    assert page.get_by_text("Binder or Colab", exact=False).first.is_visible()
