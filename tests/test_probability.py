"""The probability chapter: its estimators, intervals and losses against closed forms and
independent references, and its likelihood explorer, in the browser against the Python reference,
driven as a reader would (in a kernel-free sandbox page and on the built chapter)."""

import math
import re

import numpy as np
import pytest
import torch
from conftest import call_js, load_module, open_page, renders, show_widgets, wait_rendered

from mlbook import probability as prob

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
    ours = prob.gaussian_log_likelihood(x, closed_mean, closed_std)
    reference = torch.distributions.Normal(closed_mean, closed_std).log_prob(data).sum().item()
    assert ours == pytest.approx(reference)


# --- Losses as negative log-likelihoods, and information ---------------------------------------

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


def test_cross_entropy_from_scores_matches_torch_and_the_categorical_nll():
    generator = torch.Generator().manual_seed(3)
    logits = 4 * torch.randn(16, 10, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 10, (16,), generator=generator)
    expected = torch.nn.functional.cross_entropy(logits, labels).item()
    assert prob.cross_entropy_loss(logits.numpy(), labels.numpy()) == pytest.approx(
        expected, rel=1e-12)
    assert prob.categorical_nll(prob.softmax(logits.numpy()), labels.numpy()) == pytest.approx(
        expected, rel=1e-12)
    assert np.allclose(prob.log_softmax(logits.numpy()),
                       torch.log_softmax(logits, dim=1).numpy(), rtol=1e-12)


def test_scores_stay_finite_where_the_probability_underflows():
    scores, labels = np.array([[0.0, 800.0]]), np.array([0])
    assert prob.categorical_nll(prob.softmax(scores), labels) == math.inf
    assert prob.cross_entropy_loss(scores, labels) == pytest.approx(800.0)
    assert torch.nn.functional.cross_entropy(torch.tensor(scores),
                                             torch.tensor(labels)).item() == pytest.approx(800.0)


def test_softmax_is_a_distribution_unchanged_by_shifts():
    scores = np.array([[2.0, 1.0, -1.0], [1000.0, 999.0, 990.0]])
    p = prob.softmax(scores)
    assert np.all(p > 0) and np.allclose(p.sum(axis=1), 1)
    assert np.allclose(prob.softmax(scores + 50), p)
    assert np.allclose(p, torch.softmax(torch.tensor(scores), dim=1).numpy())


def test_entropy_cross_entropy_and_kl_agree_with_torch():
    q = np.array([0.5, 0.25, 0.125, 0.125, 0.0])
    p = np.array([0.2, 0.2, 0.2, 0.2, 0.2])
    assert prob.entropy(q) == pytest.approx(1.75 * math.log(2))  # 1.75 bits
    assert prob.cross_entropy(q, p) == pytest.approx(math.log(5))
    reference = torch.distributions.kl_divergence(
        torch.distributions.Categorical(probs=torch.tensor(q)),
        torch.distributions.Categorical(probs=torch.tensor(p))).item()
    assert prob.kl_divergence(q, p) == pytest.approx(reference)
    assert prob.kl_divergence(q, p) > 0 and prob.kl_divergence(p, p) == pytest.approx(0, abs=1e-15)
    assert prob.kl_divergence(p, q) == math.inf  # q gives 0 to an outcome p allows


# --- Bayes and calibration --------------------------------------------------------------------

def test_natural_frequencies_reproduce_bayes_rule():
    counts = prob.natural_frequencies(0.01, 0.9, 0.05, people=10_000)
    assert sum(counts.values()) == 10_000
    assert (counts["sick, positive"], counts["healthy, positive"]) == (90, 495)
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


# --- Intervals and their coverage -----------------------------------------------------------

@pytest.mark.parametrize(("heads", "n"), [(0, 10), (3, 10), (7, 10), (10, 10), (18, 100)])
def test_wilson_interval_solves_its_defining_quadratic(heads, n):
    p_hat = heads / n
    for p in prob.wilson_interval(heads, n):
        assert (p_hat - p) ** 2 == pytest.approx(prob.Z95**2 * p * (1 - p) / n, abs=1e-14)


def test_wald_interval_is_the_estimate_plus_minus_196_standard_errors():
    low, high = prob.wald_interval(18, 100)
    p_hat, se = prob.coin_mle(18, 100)
    assert (low, high) == pytest.approx((p_hat - 1.959964 * se, p_hat + 1.959964 * se))
    assert prob.wald_interval(0, 10) == (0.0, 0.0)  # the plug-in se is 0: a point, not certainty


@pytest.mark.parametrize("method", prob.METHODS)
def test_exact_coverage_matches_a_simulation(method):
    n, p = 10, 0.7
    heads = np.random.default_rng(5).binomial(n, p, size=200_000)
    intervals = {k: prob.interval(method, k, n) for k in range(n + 1)}
    simulated = np.mean([intervals[k][0] <= p <= intervals[k][1] for k in heads])
    assert prob.coverage(method, n, p) == pytest.approx(simulated, abs=0.004)


def test_wald_coverage_at_ten_flips_is_084():
    # Brown, Cai & DasGupta (2001): the textbook interval's coverage at n = 10, p = 0.7.
    assert round(prob.coverage("wald", 10, 0.7), 2) == 0.84


def test_log_gamma_matches_the_standard_library():
    for x in [0.05, 0.3, 0.5, 1, 2.5, 10, 123.4, 1e4, 1e6]:
        assert prob.log_gamma(x) == pytest.approx(math.lgamma(x), rel=1e-13, abs=1e-14)


@pytest.mark.parametrize(("a", "b"), [(1, 1), (3, 8), (19, 83), (1, 101), (240, 260)])
def test_beta_cdf_is_a_binomial_tail(a, b):
    # For whole a and b, P(Beta(a, b) ≤ x) = P(at least a successes in a + b - 1 trials).
    n = a + b - 1
    for x in [0.001, 0.05, 0.3, 0.5, 0.77, 0.999]:
        tail = sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a, n + 1))
        assert prob.beta_cdf(x, a, b) == pytest.approx(tail, rel=1e-10, abs=1e-300)


@pytest.mark.parametrize(("a", "b"), [(0.5, 0.5), (1, 1), (19, 83), (1, 10_001), (0.1, 3)])
def test_beta_quantile_inverts_the_cdf(a, b):
    for q in [0.025, 0.5, 0.975]:
        x = prob.beta_quantile(q, a, b)
        assert prob.beta_cdf(x, a, b) == pytest.approx(q, rel=1e-9)


def test_beta_posterior_is_likelihood_times_prior():
    heads, n, a, b = 7, 20, 2.0, 5.0
    grid = np.linspace(0, 1, 400_001)
    unnormalised = np.exp(prob.coin_log_likelihood(grid, heads, n)
                          + prob.coin_log_likelihood(grid, a - 1, a + b - 2))
    posterior = unnormalised / np.trapezoid(unnormalised, grid)
    mean = np.trapezoid(grid * posterior, grid)
    assert mean == pytest.approx((a + heads) / (a + b + n), rel=1e-6)
    low, high = prob.credible_interval(heads, n, a, b)
    inside = (grid >= low) & (grid <= high)
    assert np.trapezoid(posterior * inside, grid) == pytest.approx(0.95, abs=1e-4)


# --- Reproducible flips -----------------------------------------------------------------------

def _mulberry32_loop(seed, count):
    """mulberry32 as its author writes it, one draw at a time, with Python integers."""
    state, out = seed, []
    for _ in range(count):
        state = (state + 0x6D2B79F5) & 0xFFFFFFFF
        t = ((state ^ (state >> 15)) * (state | 1)) & 0xFFFFFFFF
        t ^= (t + ((t ^ (t >> 7)) * (t | 61))) & 0xFFFFFFFF
        out.append((t ^ (t >> 14)) / 2**32)
    return out


@pytest.mark.parametrize("seed", [0, 1, 200, 2**32 - 1])
def test_vectorised_mulberry32_equals_the_loop(seed):
    assert prob.uniforms(seed, 500).tolist() == _mulberry32_loop(seed, 500)


def test_uniforms_look_uniform():
    u = prob.uniforms(7, 200_000)
    assert 0 <= u.min() and u.max() < 1
    assert u.mean() == pytest.approx(0.5, abs=0.003) and u.var() == pytest.approx(1 / 12, abs=0.001)
    counts = np.bincount((u * 10).astype(int), minlength=10)
    chi2 = np.sum((counts - u.size / 10) ** 2 / (u.size / 10))
    assert chi2 < 27.9  # 99.9% point of χ² with 9 degrees of freedom


def test_the_repeats_never_share_draws():
    # Stream s + d is stream s shifted by d / 0x6D2B79F5 (mod 2³²) draws: far beyond MAX_FLIPS.
    inverse = pow(0x6D2B79F5, -1, 2**32)
    shifts = [d * inverse % 2**32 for d in range(1, prob.REPEATS)]
    assert min(min(s, 2**32 - s) for s in shifts) > prob.MAX_FLIPS


@pytest.mark.parametrize("method", prob.METHODS)
def test_summary_counts_the_covering_intervals(method):
    shown = prob.explorer_summary(0.3, 100, 2, method=method)
    heads = shown["repeat_heads"]
    assert heads[0] == shown["heads"] == int(prob.coin_flips(200, 100, 0.3).sum())
    # counted from the interval's end points (the summary uses the posterior's CDF for
    # the credible interval: the two must agree)
    hits = [prob.interval(method, k, 100)[0] <= 0.3 <= prob.interval(method, k, 100)[1]
            for k in heads]
    assert shown["covered"][method] == sum(hits)
    assert shown["repeat_hits"] == hits


def test_fallback_shows_the_default_run():
    text = prob.LikelihoodExplorer(seed=18).fallback()  # the chapter's run
    shown = prob.explorer_summary(0.3, 100, 18)
    assert text.startswith("<img src=\"data:image/png;base64,")
    assert f"{shown['covered']['wald']} of them cover" in text


# --- The widget in the browser: numerics against Python ---------------------------------------

@pytest.fixture
def module_page(sandbox_page, sandbox):
    sandbox_page.goto(sandbox[1] + "/require-config.js")
    load_module(sandbox_page, "likelihood")
    return sandbox_page


def test_browser_draws_the_same_uniforms(module_page):
    for seed in [0, 1, 4_294_967_295]:
        drawn = module_page.evaluate(
            "([seed, n]) => Array.from(window.mlbookModule.uniforms(seed, n))", [seed, 2_000])
        assert drawn == prob.uniforms(seed, 2_000).tolist()  # bit for bit


def _close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def test_browser_and_python_share_the_limits(module_page):
    limits = module_page.evaluate(
        "() => [window.mlbookModule.REPEATS, window.mlbookModule.MAX_FLIPS, "
        "window.mlbookModule.MAX_SEED]")
    assert limits == [prob.REPEATS, prob.MAX_FLIPS, prob.MAX_SEED]


def test_browser_view_range_matches_python(module_page):
    for true_p, flips in [(0.3, 1), (0.3, 100), (0.02, 5_000), (0.99, 10_000), (0.5, 400)]:
        assert call_js(module_page, "viewRange", true_p, flips) == pytest.approx(
            prob.view_range(true_p, flips), rel=1e-12)


def test_browser_beta_and_gamma_match_python(module_page):
    for x in [0.05, 0.5, 7.3, 1e4]:
        assert _close(call_js(module_page, "logGamma", x), prob.log_gamma(x))
    for a, b in [(1, 1), (19, 83), (0.5, 0.5), (1, 10_001), (3001, 7001)]:
        for x in [1e-5, 0.2, 0.3, 0.9]:
            assert _close(call_js(module_page, "betaCdf", x, a, b), prob.beta_cdf(x, a, b))
        for q in [0.025, 0.975]:
            assert _close(call_js(module_page, "betaQuantile", q, a, b),
                          prob.beta_quantile(q, a, b))


@pytest.mark.parametrize(("true_p", "flips", "seed", "a", "b", "method"), [
    (0.3, 100, 2, 1, 1, "wald"), (0.7, 10, 0, 1, 1, "wilson"),
    (0.5, 1, 3, 0.5, 0.5, "credible"), (0.01, 2_000, 9, 20, 20, "credible"),
    (1.0, 50, 1, 1, 1, "wald"), (0.0, 50, 1, 1, 1, "credible"),
    (0.3, prob.MAX_FLIPS, 0, 1, 1, "wald"), (0.5, 300, 4, prob.MAX_PRIOR, 0.01, "credible")])
def test_browser_summary_matches_python(module_page, true_p, flips, seed, a, b, method):
    shown = call_js(module_page, "summary", {"trueP": true_p, "flips": flips, "seed": seed,
                                             "priorA": a, "priorB": b, "method": method})
    expected = prob.explorer_summary(true_p, flips, seed, a, b, method)
    assert shown["repeat_heads"] == expected["repeat_heads"]
    assert shown["covered"] == expected["covered"]
    assert shown["repeat_hits"] == expected["repeat_hits"]
    for got, want in zip(shown["repeat_intervals"], expected["repeat_intervals"], strict=True):
        assert all(_close(g, w) or abs(g - w) < 1e-300 for g, w in zip(got, want, strict=True))
    for key in ("mle", "se", "posterior_mean"):
        assert _close(shown[key], expected[key]), key
    for method in prob.METHODS:
        for got, want in zip(shown["intervals"][method], expected["intervals"][method],
                             strict=True):
            assert _close(got, want) or abs(got - want) < 1e-300, (method, got, want)


# --- The widget as a reader drives it ----------------------------------------------------------

def _readout(root) -> dict:
    """The numbers the reader sees in the explorer's read-outs."""
    text = " ".join(root.locator(".mlbook-readout").all_inner_texts()).replace("−", "-")
    coverage = root.locator(".mlbook-coverage").inner_text()
    heads, flips = re.search(r"(\d+) heads in (\d+) flips", text).groups()
    found = {"heads": int(heads), "flips": int(flips),
             "mle": float(re.search(r"MLE p̂ = k/n = ([\d.e-]+)", text).group(1)),
             "covered": {m.lower(): int(c) for m, c in re.findall(r"(Wald|Wilson|credible) (\d+)",
                                                                  coverage)}}
    for name in ("Wald", "Wilson", "credible"):
        low, high = re.search(name + r" \[([\d.e-]+), ([\d.e-]+)\]", text).groups()
        found[name.lower()] = (float(low), float(high))
    found["verdict"] = re.search(r"interval (covers|misses) the true p", text).group(1)
    return found


def _assert_shows(root, true_p, flips, seed, a=1.0, b=1.0, method="wald"):
    shown = _readout(root)
    expected = prob.explorer_summary(true_p, flips, seed, a, b, method)
    assert (shown["heads"], shown["flips"]) == (expected["heads"], flips)
    assert shown["mle"] == pytest.approx(expected["mle"], rel=5e-4, abs=1e-12)
    assert shown["covered"] == expected["covered"]
    for m in prob.METHODS:
        assert shown[m] == pytest.approx(tuple(expected["intervals"][m]), rel=5e-4, abs=1e-12)
    assert shown["verdict"] == ("covers" if expected["repeat_hits"][0] else "misses")
    assert float(root.get_attribute("data-mle")) == pytest.approx(expected["mle"], rel=1e-12)
    assert int(root.get_attribute("data-covered")) == expected["covered"][method]
    misses = root.locator("svg line.miss, svg path.miss").count()
    assert misses == prob.REPEATS - expected["covered"][method]


def _assert_quiet(page):
    """No uncaught error and nothing in the console, but the sandbox's missing favicon."""
    log = page.mlbook_log
    assert not log.errors, log.errors
    missing = [url for url in log.failed if not url.split(" ")[0].endswith("/favicon.ico")]
    assert not missing, missing
    others = [m for m in log.console_errors if not m.startswith("Failed to load resource")]
    assert not others, others


def _type(root, label, text):
    box = root.get_by_label(label, exact=True)
    before = renders(root)
    box.fill(text)
    box.press("Enter")
    return before


def test_the_default_shows_the_python_reference(sandbox_page, sandbox):
    root = show_widgets(sandbox_page, sandbox, prob.LikelihoodExplorer(seed=18)).first
    _assert_shows(root, 0.3, 100, 18)
    assert _readout(root)["verdict"] == "misses"  # the chapter's 1-in-20 run
    _assert_quiet(sandbox_page)


def test_a_reader_changes_p_and_n_adds_flips_and_reruns(sandbox_page, sandbox):
    root = show_widgets(sandbox_page, sandbox, prob.LikelihoodExplorer(seed=2)).first
    wait_rendered(root, _type(root, "the coin's true probability of heads", "0.7"))
    _assert_shows(root, 0.7, 100, 2)
    wait_rendered(root, _type(root, "flips n", "10"))
    _assert_shows(root, 0.7, 10, 2)
    before = renders(root)
    root.get_by_role("button", name="add a flip").click()
    wait_rendered(root, before)
    _assert_shows(root, 0.7, 11, 2)
    before = renders(root)
    root.get_by_role("button", name="new experiment").click()
    wait_rendered(root, before)
    _assert_shows(root, 0.7, 11, 3)
    before = renders(root)
    root.get_by_label("interval", exact=True).select_option("wilson")
    wait_rendered(root, before)
    _assert_shows(root, 0.7, 11, 3, method="wilson")
    wait_rendered(root, _type(root, "prior Beta(a, b): a", "20"))
    _assert_shows(root, 0.7, 11, 3, a=20, method="wilson")
    _assert_quiet(sandbox_page)


def test_the_slider_sets_the_number_of_flips(sandbox_page, sandbox):
    root = show_widgets(sandbox_page, sandbox, prob.LikelihoodExplorer(seed=2)).first
    before = renders(root)
    root.get_by_label("flips n (log scale)").fill("1000")  # the slider's right end
    wait_rendered(root, before)
    _assert_shows(root, 0.3, prob.MAX_FLIPS, 2)


@pytest.mark.parametrize(("label", "typed", "says"), [
    ("the coin's true probability of heads", "", "Type a number"),
    ("the coin's true probability of heads", "heads", "not a number"),
    ("the coin's true probability of heads", "nan", "not a number"),
    ("the coin's true probability of heads", "inf", "not a number"),
    ("the coin's true probability of heads", "-0.2", "at least 0"),
    ("the coin's true probability of heads", "1.5", "at most 1"),
    ("the coin's true probability of heads", "1e9", "at most 1"),
    ("flips n", "0", "greater than 0"),
    ("flips n", "-3", "greater than 0"),
    ("flips n", "2.5", "whole number"),
    ("flips n", "1e9", "at most 10000"),
    ("flips n", "Infinity", "finite"),
    ("seed of the random flips", "-1", "at least 0"),
    ("seed of the random flips", "1e12", "at most"),
    ("prior Beta(a, b): a", "0", "greater than 0"),
    ("prior Beta(a, b): a", "1e6", "at most 10000"),
    ("prior Beta(a, b): b", "NaN", "not a number"),
])
def test_bad_input_shows_a_message_and_keeps_the_run(sandbox_page, sandbox, label, typed, says):
    root = show_widgets(sandbox_page, sandbox, prob.LikelihoodExplorer(seed=2)).first
    before = root.locator(".mlbook-readout").all_inner_texts()
    box = root.get_by_label(label, exact=True)
    box.fill(typed)
    box.press("Enter")
    status = root.locator(".mlbook-status")
    assert "mlbook-error" in status.get_attribute("class")
    assert says in status.inner_text()
    assert root.locator(".mlbook-readout").all_inner_texts() == before
    _assert_quiet(sandbox_page)


def test_values_set_from_python_show_in_the_page(sandbox_page, sandbox):
    explorer = prob.LikelihoodExplorer(seed=5)
    explorer.true_p, explorer.flips, explorer.interval = 0.7, 10, "credible"
    explorer.prior_a = explorer.prior_b = 2.0
    root = show_widgets(sandbox_page, sandbox, explorer).first
    _assert_shows(root, 0.7, 10, 5, a=2.0, b=2.0, method="credible")
    assert root.get_by_label("flips n", exact=True).input_value() == "10"
    assert root.get_by_label("interval", exact=True).input_value() == "credible"


# --- The built chapter --------------------------------------------------------------------------

def test_page_weighs_at_most_one_megabyte(site):
    page = site / f"{DOC}.html"
    text = page.read_text()
    images = set(re.findall(r'src="(?:\.\./)?(_images/[^"]+)"', text))
    total = page.stat().st_size + sum((site / image).stat().st_size for image in images)
    assert total <= 1e6, f"{DOC}.html and its images weigh {total / 1e6:.2f} MB"


def _chapter_settings(page) -> dict:
    root = page.locator(".mlbook-likelihood").first
    value = lambda label: root.get_by_label(label, exact=True).input_value()  # noqa: E731
    return {"true_p": float(value("the coin's true probability of heads")),
            "flips": int(value("flips n")), "seed": int(value("seed of the random flips"))}


def test_the_chapters_explorer_shows_the_run_its_prose_describes(page, server):
    open_page(page, server, DOC)
    root = page.locator(".mlbook-likelihood").first
    root.scroll_into_view_if_needed()
    settings = _chapter_settings(page)
    _assert_shows(root, **settings)
    shown = prob.explorer_summary(settings["true_p"], settings["flips"], settings["seed"])
    low, high = shown["intervals"]["wald"]
    prose = page.locator("article").inner_text()
    assert f"[{low:.3f}, {high:.3f}]" in prose, "the prose quotes another interval"
    assert _readout(root)["verdict"] == "misses"
    before = renders(root)
    root.get_by_role("button", name="add a flip").click()
    wait_rendered(root, before)
    _assert_shows(root, settings["true_p"], settings["flips"] + 1, settings["seed"])
    _assert_quiet(page)


def test_without_javascript_the_explorer_shows_its_fallback_picture(page_without_javascript):
    page = page_without_javascript(DOC)
    pictures = page.locator("noscript.mlbook-fallback img")
    alts = [pictures.nth(i).get_attribute("alt") for i in range(pictures.count())]
    shown = prob.explorer_summary(0.3, 100, 18)  # the chapter's run
    matching = [i for i, alt in enumerate(alts)
                if f"{shown['covered']['wald']} of them cover" in alt]
    assert len(matching) == 1, alts  # one explorer, one picture of its default run
    picture = pictures.nth(matching[0])
    picture.scroll_into_view_if_needed()
    assert picture.is_visible() and picture.evaluate("img => img.naturalWidth > 100")
