"""Plumbing for the probability chapter: likelihoods, intervals, the losses they give, calibration
bins, and the likelihood explorer widget. The chapter derives each formula; this module only
computes it.

The explorer's numerics (the coin flips, the intervals, the Beta posterior) are computed twice:
here, in Python, and in the reader's browser by ``mlbook/js/likelihood.js``. The two are written
line for line alike and tested against each other, so that the chapter can state facts about the
very run the widget shows.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import traitlets
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from mlbook.plotting import PALETTE
from mlbook.widgets import BookWidget, figure_fallback

# --- Likelihoods and their maxima -----------------------------------------------------------------


def _xlogy(x, y):
    """x log y, with 0 log 0 = 0 (the convention that makes 0 heads out of n a valid sample)."""
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    out = np.zeros_like(y)
    nonzero = x != 0
    with np.errstate(divide="ignore"):
        out[nonzero] = x[nonzero] * np.log(y[nonzero])
    return out


def coin_log_likelihood(p, heads: int, n: int) -> np.ndarray:
    """log p(data | p): ``heads`` heads in ``n`` independent flips of a coin with P(heads) = p."""
    p = np.asarray(p, float)
    return _xlogy(heads, p) + _xlogy(n - heads, 1 - p)


def coin_mle(heads: int, n: int) -> tuple[float, float]:
    """The maximum-likelihood estimate k/n and its plug-in standard error sqrt(p̂(1-p̂)/n)."""
    if n < 1:
        raise ValueError(f"coin_mle needs at least one flip, got n = {n}.")
    if not 0 <= heads <= n:
        raise ValueError(f"The number of heads must be between 0 and n = {n}, got {heads}.")
    p_hat = heads / n
    return p_hat, math.sqrt(p_hat * (1 - p_hat) / n)


def gaussian_log_likelihood(x, mean, std) -> np.ndarray:
    """Total log-density of the samples ``x`` under N(mean, std²); broadcasts over mean and std."""
    x = np.asarray(x, float)
    mean, std = np.asarray(mean, float)[..., None], np.asarray(std, float)[..., None]
    return np.sum(-0.5 * np.log(2 * np.pi * std**2) - (x - mean) ** 2 / (2 * std**2), axis=-1)


def gaussian_nll(y, prediction, std: float) -> float:
    """Mean negative log-likelihood of targets ``y`` when y ~ N(prediction, std²)."""
    if not (math.isfinite(std) and std > 0):
        raise ValueError(f"The noise std must be positive and finite, got {std}.")
    residual = np.asarray(y, float) - np.asarray(prediction, float)
    return float(np.mean(0.5 * np.log(2 * np.pi * std**2) + residual**2 / (2 * std**2)))


def mean_squared_error(y, prediction) -> float:
    return float(np.mean((np.asarray(y, float) - np.asarray(prediction, float)) ** 2))


# --- Scores, probabilities and information ------------------------------------------------------

def softmax(scores, axis: int = -1) -> np.ndarray:
    """exp(s) / Σ exp(s), computed after subtracting the largest score so exp cannot overflow."""
    scores = np.asarray(scores, float)
    if scores.size == 0:
        raise ValueError("softmax needs at least one score; got an empty array.")
    shifted = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def log_softmax(scores, axis: int = -1) -> np.ndarray:
    """log softmax(s) = s - logsumexp(s), with logsumexp(s) = m + log Σ exp(s - m), m = max s.

    Never takes the log of a probability, so it stays finite where softmax underflows to 0.
    """
    scores = np.asarray(scores, float)
    if scores.size == 0:
        raise ValueError("log_softmax needs at least one score; got an empty array.")
    largest = scores.max(axis=axis, keepdims=True)
    return scores - largest - np.log(np.exp(scores - largest).sum(axis=axis, keepdims=True))


def _check_labels(rows: np.ndarray, labels: np.ndarray, name: str) -> None:
    if rows.ndim != 2 or len(labels) != len(rows):
        raise ValueError(f"{name} needs one row per label: got shape {rows.shape} for "
                         f"{len(labels)} labels.")
    if labels.size and not (0 <= labels.min() and labels.max() < rows.shape[1]):
        raise ValueError(f"labels must be class indices 0 … {rows.shape[1] - 1}.")


def categorical_nll(probabilities, labels) -> float:
    """Mean of -log p(label) over examples, with one row of class probabilities per example."""
    probabilities, labels = np.asarray(probabilities, float), np.asarray(labels)
    _check_labels(probabilities, labels, "categorical_nll")
    with np.errstate(divide="ignore"):
        return float(-np.mean(np.log(probabilities[np.arange(len(labels)), labels])))


def cross_entropy_loss(scores, labels) -> float:
    """The cross-entropy loss from scores (logits), as PyTorch's ``cross_entropy`` computes it:
    the mean of -log_softmax(scores)[label], finite however confident and wrong a score is."""
    scores, labels = np.asarray(scores, float), np.asarray(labels)
    _check_labels(scores, labels, "cross_entropy_loss")
    return float(-np.mean(log_softmax(scores)[np.arange(len(labels)), labels]))


def _distribution(values, name: str) -> np.ndarray:
    values = np.asarray(values, float)
    if values.ndim != 1 or values.size == 0 or np.any(values < 0) or not np.all(
            np.isfinite(values)) or abs(values.sum() - 1) > 1e-9:
        raise ValueError(f"{name} must be a list of probabilities ≥ 0 that sum to 1; got "
                         f"{values.tolist()}.")
    return values


def entropy(q) -> float:
    """H(q) = -Σ q log q in nats (0 log 0 = 0)."""
    q = _distribution(q, "q")
    return float(-_xlogy(q, q).sum())


def cross_entropy(q, p) -> float:
    """H(q, p) = -Σ q log p in nats: the mean code length of draws from q in a code built for p."""
    q, p = _distribution(q, "q"), _distribution(p, "p")
    if len(q) != len(p):
        raise ValueError(f"q and p need the same outcomes; got {len(q)} and {len(p)}.")
    return float(-_xlogy(q, p).sum())


def kl_divergence(q, p) -> float:
    """KL(q ‖ p) = Σ q log(q / p) ≥ 0 in nats, over the outcomes with q > 0 (∞ where p = 0)."""
    q, p = _distribution(q, "q"), _distribution(p, "p")
    if len(q) != len(p):
        raise ValueError(f"q and p need the same outcomes; got {len(q)} and {len(p)}.")
    seen = q > 0
    with np.errstate(divide="ignore"):
        return float(np.sum(q[seen] * np.log(q[seen] / p[seen])))


# --- Bayes' rule in natural frequencies ------------------------------------------------------

def natural_frequencies(prevalence: float, sensitivity: float, false_positive_rate: float,
                        people: int = 10_000) -> dict[str, int]:
    """Expected head counts of the four outcomes of a diagnostic test among ``people``."""
    sick = round(prevalence * people)
    sick_positive = round(sensitivity * sick)
    healthy_positive = round(false_positive_rate * (people - sick))
    return {"sick, positive": sick_positive, "sick, negative": sick - sick_positive,
            "healthy, positive": healthy_positive,
            "healthy, negative": people - sick - healthy_positive}


_OUTCOME_COLORS = [PALETTE["vermillion"], PALETTE["purple"], PALETTE["orange"], "#e6e6e6"]


def _squares(ax, counts: list[int], colors: list[str], columns: int,
             outlined: bool = False) -> None:
    """``sum(counts)`` squares in rows of ``columns``, coloured in blocks, row by row
    (``outlined``: a white edge round each square, so that they can be counted)."""
    outcome = np.repeat(np.arange(len(counts)), counts).astype(float)
    rows = -(-outcome.size // columns)
    outcome = np.concatenate([outcome, np.full(rows * columns - outcome.size, np.nan)])
    cmap = ListedColormap(colors)
    cmap.set_bad("white")
    ax.pcolormesh(outcome.reshape(rows, columns), cmap=cmap, vmin=-0.5,
                  vmax=len(colors) - 0.5, edgecolors="white" if outlined else "face",
                  linewidth=0.5 if outlined else 0)
    ax.set(xlim=(0, columns), ylim=(rows, 0), aspect="equal")
    ax.set_axis_off()


def natural_frequency_figure(prevalence: float, sensitivity: float, false_positive_rate: float,
                             side: int = 100, columns: int = 45):
    """Left: ``side``² people coloured by test outcome. Right: the positives alone, sick first."""
    counts = natural_frequencies(prevalence, sensitivity, false_positive_rate, side * side)
    fig, (everyone, positives) = plt.subplots(
        1, 2, figsize=(9.0, 4.2), gridspec_kw={"width_ratios": [1, 1.25]})
    _squares(everyone, list(counts.values()), _OUTCOME_COLORS, side)
    everyone.set_title(f"all {side * side:,} people")
    sick, healthy = counts["sick, positive"], counts["healthy, positive"]
    _squares(positives, [sick, healthy], _OUTCOME_COLORS[::2], columns, outlined=True)
    positives.set_title(f"the {sick + healthy:,} who test positive:\n"
                        f"{sick:,} sick ({sick / (sick + healthy):.0%}), {healthy:,} healthy")
    handles = [Patch(color=color, label=f"{name}: {count:,}")
               for color, (name, count) in zip(_OUTCOME_COLORS, counts.items(), strict=True)]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=9)
    fig.tight_layout(rect=(0, 0.08, 1, 0.96))
    return fig


# --- Calibration --------------------------------------------------------------------------------

def reliability_bins(confidence, correct, n_bins: int = 10):
    """Per equal-width confidence bin: mean confidence, accuracy and count (empty bins are NaN).

    Also returns the expected calibration error: the count-weighted mean |accuracy - confidence|.
    """
    confidence, correct = np.asarray(confidence, float), np.asarray(correct, float)
    index = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        mean_confidence = np.bincount(index, confidence, n_bins) / counts
        accuracy = np.bincount(index, correct, n_bins) / counts
    gaps = np.nan_to_num(np.abs(accuracy - mean_confidence))
    ece = float(np.sum(counts * gaps) / counts.sum())
    return mean_confidence, accuracy, counts, ece


def reliability_diagram(ax, count_ax, confidence, correct, label: str, color: str,
                        n_bins: int = 10) -> float:
    """Accuracy against confidence per bin on ``ax``, the bins' counts on ``count_ax`` below it;
    returns the expected calibration error."""
    mean_confidence, accuracy, counts, ece = reliability_bins(confidence, correct, n_bins)
    filled = counts > 0
    ax.plot([0, 1], [0, 1], color=PALETTE["black"], lw=1, ls="--", label="perfect calibration")
    ax.plot(mean_confidence[filled], accuracy[filled], "o-", color=color,
            label=f"{label} (ECE {ece:.3f})")
    ax.set(ylabel="accuracy in bin", xlim=(0, 1), ylim=(0, 1.02))
    ax.tick_params(labelbottom=False)
    edges = np.linspace(0, 1, n_bins + 1)
    count_ax.bar(edges[:-1], counts, width=1 / n_bins, align="edge", color=color,
                 edgecolor="white")
    for left, count in zip(edges[:-1], counts, strict=True):
        if count:
            count_ax.text(left + 0.5 / n_bins, count, f"{count:,}", ha="center", va="bottom",
                          fontsize=7)
    count_ax.set(xlim=(0, 1), yscale="log", ylim=(0.8, 4 * max(counts.max(), 1)),
                 xlabel="confidence (largest softmax probability)", ylabel="images")
    return ece


# --- Intervals for a coin ------------------------------------------------------------------------
# Everything from here to the explorer is mirrored in mlbook/js/likelihood.js: change both.

Z95 = 1.959963984540054  # the 97.5% point of the standard Gaussian (1.96, rounded)


def wald_interval(heads: int, n: int) -> tuple[float, float]:
    """p̂ ± 1.96 sqrt(p̂(1-p̂)/n), clipped to [0, 1]: the textbook (Wald) 95% interval."""
    p_hat = heads / n
    half = Z95 * math.sqrt(p_hat * (1 - p_hat) / n)
    return max(0.0, p_hat - half), min(1.0, p_hat + half)


def wilson_interval(heads: int, n: int) -> tuple[float, float]:
    """Wilson's (1927) 95% interval: the p with |p̂ - p| ≤ 1.96 sqrt(p(1-p)/n), solved for p."""
    p_hat = heads / n
    shrink = 1 + Z95**2 / n
    centre = (p_hat + Z95**2 / (2 * n)) / shrink
    half = Z95 / shrink * math.sqrt(p_hat * (1 - p_hat) / n + Z95**2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012,
            9.9843695780195716e-6, 1.5056327351493116e-7)


def log_gamma(x: float) -> float:
    """log Γ(x) for x > 0, by Lanczos' approximation (g = 7, nine terms; ~15 digits)."""
    if x < 0.5:  # reflection: Γ(x) Γ(1 - x) = π / sin(πx)
        return math.log(math.pi / math.sin(math.pi * x)) - log_gamma(1 - x)
    x -= 1
    series = _LANCZOS[0]
    for i in range(1, 9):
        series += _LANCZOS[i] / (x + i)
    t = x + 7.5
    return 0.5 * math.log(2 * math.pi) + (x + 0.5) * math.log(t) - t + math.log(series)


_TINY = 1e-300


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz's method)."""
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, 10_001):
        even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        for numerator in (even, odd):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > _TINY else _TINY)
            c = 1 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            result *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return result


def beta_cdf(x: float, a: float, b: float) -> float:
    """P(X ≤ x) for X ~ Beta(a, b): the regularised incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (a * math.log(x) + b * math.log1p(-x)
                 - (log_gamma(a) + log_gamma(b) - log_gamma(a + b)))
    if x < (a + 1) / (a + b + 2):  # where the fraction converges fast; else use the mirror
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1 - math.exp(log_front) * _beta_fraction(1 - x, b, a) / b


def beta_quantile(q: float, a: float, b: float) -> float:
    """The x with P(X ≤ x) = q for X ~ Beta(a, b): halve [0, 1] until its ends are neighbouring
    floating-point numbers (about 55 halvings, more for quantiles near 0)."""
    low, high = 0.0, 1.0
    middle = 0.5
    while low < middle < high:
        if beta_cdf(middle, a, b) < q:
            low = middle
        else:
            high = middle
        middle = 0.5 * (low + high)
    return middle


def credible_interval(heads: int, n: int, prior_a: float = 1.0,
                      prior_b: float = 1.0) -> tuple[float, float]:
    """The central 95% of the posterior Beta(a + k, b + n - k) after k heads in n flips."""
    a, b = prior_a + heads, prior_b + n - heads
    return beta_quantile(0.025, a, b), beta_quantile(0.975, a, b)


def interval(method: str, heads: int, n: int, prior_a: float = 1.0,
             prior_b: float = 1.0) -> tuple[float, float]:
    """The 95% interval ``method`` ("wald", "wilson" or "credible") after k heads in n flips."""
    if method == "wald":
        return wald_interval(heads, n)
    if method == "wilson":
        return wilson_interval(heads, n)
    if method == "credible":
        return credible_interval(heads, n, prior_a, prior_b)
    raise ValueError(f"interval method must be one of {METHODS}; got {method!r}.")


METHODS = ("wald", "wilson", "credible")


def coverage(method: str, n: int, p, prior_a: float = 1.0, prior_b: float = 1.0):
    """The exact probability that the 95% interval ``method`` covers p: the sum, over the k
    whose interval holds p, of the binomial probability of k heads in n flips. ``p`` may be an
    array (the n + 1 intervals are computed once)."""
    p = np.asarray(p, float)
    heads = np.arange(n + 1)
    bounds = np.array([interval(method, int(k), n, prior_a, prior_b) for k in heads])
    log_choose = np.array([math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                           for k in heads])
    probability = np.exp(log_choose + coin_log_likelihood(p[..., None], heads, n))
    covered = (bounds[:, 0] <= p[..., None]) & (p[..., None] <= bounds[:, 1])
    total = np.sum(probability * covered, axis=-1)
    return float(total) if total.ndim == 0 else total


# --- Reproducible coin flips --------------------------------------------------------------------

REPEATS = 100            # the explorer repeats each experiment this many times
MAX_FLIPS = 10_000       # flips per experiment: beyond this a redraw takes too long
MAX_SEED = 99_999        # experiment r of seed s flips with the stream 100 s + r (below 10⁷)
MAX_PRIOR = 10_000       # a Beta prior's a and b: beyond this its quantiles take too long
_STEP = 0x6D2B79F5       # mulberry32's increment (odd, so the state visits all 2³² values)
_MASK = 0xFFFFFFFF


def _imul(a, b):
    """The low 32 bits of a·b, as JavaScript's Math.imul (a, b: uint64 arrays below 2³²)."""
    return (a * b) & _MASK


def uniforms(seed: int, count: int) -> np.ndarray:
    """``count`` uniform numbers in [0, 1) from the generator mulberry32 seeded with ``seed``.

    mulberry32 (Tommy Ettinger, 2017) keeps one 32-bit state. Each draw adds 0x6D2B79F5 to it,
    scrambles the sum with two multiply-xorshift rounds into a 32-bit integer t, and returns
    t / 2³². Draw i depends only on seed + (i + 1)·0x6D2B79F5 (mod 2³²), so NumPy computes all
    draws at once. The browser runs the same steps (``uniforms`` in mlbook/js/likelihood.js):
    the same seed gives the same numbers, bit for bit.
    """
    if not (isinstance(seed, (int, np.integer)) and 0 <= seed <= _MASK):
        raise ValueError(f"the seed must be a whole number from 0 to 2³² - 1; got {seed!r}.")
    if count < 0:
        raise ValueError(f"count must be ≥ 0; got {count}.")
    with np.errstate(over="ignore"):  # uint64 products wrap; only their low 32 bits are kept
        state = (int(seed) + np.arange(1, count + 1, dtype=np.uint64) * np.uint64(_STEP)) & _MASK
        t = _imul(state ^ (state >> 15), state | 1)
        t = t ^ ((t + _imul(t ^ (t >> 7), t | 61)) & _MASK)
        t = t ^ (t >> 14)
    return t.astype(float) / 2.0**32


def coin_flips(seed: int, n: int, p: float) -> np.ndarray:
    """``n`` flips (True = heads) of a coin with P(heads) = p: draw i is heads when u_i < p."""
    return uniforms(seed, n) < p


def experiment_heads(seed: int, n: int, p: float) -> list[int]:
    """Heads in each of the explorer's ``REPEATS`` experiments of ``n`` flips: experiment r
    flips with the stream ``REPEATS * seed + r``. Experiment 0 is the one the explorer shows."""
    return [int(coin_flips(REPEATS * seed + r, n, p).sum()) for r in range(REPEATS)]


def covers(method: str, heads: int, n: int, p: float, prior_a: float = 1.0,
           prior_b: float = 1.0) -> bool:
    """Whether the 95% interval ``method`` after k heads in n flips holds p. For the credible
    interval that is 0.025 ≤ P(X ≤ p) ≤ 0.975 for the posterior X: one value of its CDF, no
    quantiles."""
    if method == "credible":
        return 0.025 <= beta_cdf(p, prior_a + heads, prior_b + n - heads) <= 0.975
    low, high = interval(method, heads, n)
    return low <= p <= high


def explorer_summary(true_p: float, flips: int, seed: int, prior_a: float = 1.0,
                     prior_b: float = 1.0, method: str = "wald") -> dict:
    """What the likelihood explorer shows for these settings (``method``: the interval drawn for
    each repeat), computed as the browser does. Repeats with the same k share one computation."""
    heads = experiment_heads(seed, flips, true_p)
    distinct = sorted(set(heads))
    p_hat, se = coin_mle(heads[0], flips)
    a, b = prior_a + heads[0], prior_b + flips - heads[0]
    covered = {}
    for m in METHODS:
        hits = {k: covers(m, k, flips, true_p, prior_a, prior_b) for k in distinct}
        covered[m] = sum(hits[k] for k in heads)
    drawn = {k: interval(method, k, flips, prior_a, prior_b) for k in distinct}
    hits = {k: covers(method, k, flips, true_p, prior_a, prior_b) for k in distinct}
    return {"heads": heads[0], "mle": p_hat, "se": se,
            "intervals": {m: list(interval(m, heads[0], flips, prior_a, prior_b))
                          for m in METHODS},
            "posterior_mean": a / (a + b),
            "repeat_heads": heads,
            "covered": covered,
            "repeat_intervals": [list(drawn[k]) for k in heads],
            "repeat_hits": [hits[k] for k in heads]}


# --- The likelihood explorer -------------------------------------------------------------------

_METHOD_NAMES = {"wald": "Wald", "wilson": "Wilson", "credible": "credible"}


class LikelihoodExplorer(BookWidget):
    """Flip a coin of any true p any number of times, in the reader's browser: the likelihood and
    the Beta posterior with the MLE and a 95% interval, and the same experiment repeated
    ``REPEATS`` times, with how many of its intervals cover the true p.

    Python sets the traits; ``mlbook/js/likelihood.js`` computes and draws. :meth:`summary` is
    what the widget shows, computed in Python.
    """

    _module = "likelihood"
    true_p = traitlets.Float(0.3).tag(sync=True)
    flips = traitlets.Int(100).tag(sync=True)
    seed = traitlets.Int(0).tag(sync=True)
    prior_a = traitlets.Float(1.0).tag(sync=True)
    prior_b = traitlets.Float(1.0).tag(sync=True)
    interval = traitlets.Unicode("wald").tag(sync=True)

    @traitlets.validate("true_p")
    def _check_p(self, proposal):
        value = proposal["value"]
        if not (math.isfinite(value) and 0 <= value <= 1):
            raise traitlets.TraitError(f"true_p must be a probability between 0 and 1; "
                                       f"got {value}.")
        return value

    @traitlets.validate("flips", "seed")
    def _check_whole_number(self, proposal):
        value, name = proposal["value"], proposal["trait"].name
        low, high = {"flips": (1, MAX_FLIPS), "seed": (0, MAX_SEED)}[name]
        if not low <= value <= high:
            raise traitlets.TraitError(f"{name} must be a whole number from {low} to "
                                       f"{high:,}; got {value}.")
        return value

    @traitlets.validate("prior_a", "prior_b")
    def _check_prior(self, proposal):
        value, name = proposal["value"], proposal["trait"].name
        if not (math.isfinite(value) and 0 < value <= MAX_PRIOR):
            raise traitlets.TraitError(f"{name} must be a number above 0 and at most "
                                       f"{MAX_PRIOR} (a Beta prior's pseudo-counts); got {value}.")
        return value

    @traitlets.validate("interval")
    def _check_interval(self, proposal):
        if proposal["value"] not in METHODS:
            raise traitlets.TraitError(f"interval must be one of {', '.join(METHODS)}; "
                                       f"got {proposal['value']!r}.")
        return proposal["value"]

    def summary(self) -> dict:
        return explorer_summary(self.true_p, self.flips, self.seed, self.prior_a, self.prior_b,
                                self.interval)

    def fallback(self) -> str:
        shown = self.summary()
        fig = explorer_figure(self, shown)
        method = _METHOD_NAMES[self.interval]
        low, high = shown["intervals"][self.interval]
        alt = (f"Left: the likelihood of p after {shown['heads']} heads in {self.flips} flips, "
               f"peaking at {shown['mle']:.3f}, with the {method} 95% interval from {low:.3f} "
               f"to {high:.3f}; the true p is {self.true_p:g}. Right: the intervals of "
               f"{REPEATS} repeats of the experiment; {shown['covered'][self.interval]} of them "
               "cover the true p.")
        return figure_fallback(fig, alt)


def view_range(true_p: float, flips: int) -> tuple[float, float]:
    """The explorer's p axis: all of [0, 1] up to 100 flips, then ±5/√n around the true p."""
    half = min(0.5, 5 / math.sqrt(flips))
    low = min(max(0.0, true_p - half), 1 - 2 * half)
    return low, low + 2 * half


def explorer_figure(explorer: LikelihoodExplorer, shown: dict):
    """The explorer's default view as a matplotlib figure (its fallback without JavaScript)."""
    xlim = view_range(explorer.true_p, explorer.flips)
    grid = np.linspace(*xlim, 1001)
    k, n = shown["heads"], explorer.flips
    method = explorer.interval
    fig, (curve, repeats) = plt.subplots(1, 2, figsize=(8.0, 3.0))
    log_lik = coin_log_likelihood(grid, k, n)
    curve.plot(grid, np.exp(log_lik - log_lik.max()), color=PALETTE["blue"], label="likelihood")
    curve.axvline(explorer.true_p, color=PALETTE["black"], ls="--", lw=1, label="true p")
    low, high = shown["intervals"][method]
    hit = shown["repeat_hits"][0]  # the run shown is experiment 0
    curve.plot([low, high], [0.05, 0.05], lw=5,
               color=PALETTE["blue"] if hit else PALETTE["vermillion"],
               label=f"{_METHOD_NAMES[method]} 95% interval")
    curve.plot(shown["mle"], 1, "o", color=PALETTE["orange"], markeredgecolor="black")
    curve.set(xlabel="p", ylabel="likelihood (max = 1)", xlim=xlim, ylim=(0, 1.1),
              title=f"{k} heads in {n} flips")
    curve.legend(fontsize=8, loc="upper right")
    for r, ((low, high), hit) in enumerate(zip(shown["repeat_intervals"], shown["repeat_hits"],
                                               strict=True)):
        repeats.plot([low, high], [r + 1, r + 1], lw=2.5 if r == 0 else 1.2,
                     color=PALETTE["blue"] if hit else PALETTE["vermillion"])
    repeats.axvline(explorer.true_p, color=PALETTE["black"], ls="--", lw=1)
    repeats.set(xlabel="p", ylabel="experiment", xlim=xlim, ylim=(0, REPEATS + 1),
                title=f"{shown['covered'][method]} of {REPEATS} intervals cover p")
    fig.tight_layout()
    return fig
