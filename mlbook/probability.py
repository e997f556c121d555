"""Plumbing for the probability chapter: likelihoods, the losses they give, calibration bins and
the likelihood explorer widget. The chapter derives each formula; this module only computes it.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from mlbook.plotting import PALETTE, png_data_uri
from mlbook.svg import Canvas
from mlbook.widgets import Stepper, is_static_build, message, noscript_image

MAX_FLIPS = 100_000  # live explorer: beyond this the curve is a spike narrower than one pixel


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
    """The maximum-likelihood estimate k/n and its standard error sqrt(p̂(1-p̂)/n)."""
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


def softmax(scores, axis: int = -1) -> np.ndarray:
    """exp(s) / Σ exp(s), computed after subtracting the largest score so exp cannot overflow."""
    scores = np.asarray(scores, float)
    if scores.size == 0:
        raise ValueError("softmax needs at least one score; got an empty array.")
    shifted = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def categorical_nll(probabilities, labels) -> float:
    """Mean of -log p(label) over examples, with one row of class probabilities per example."""
    probabilities = np.asarray(probabilities, float)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or len(labels) != len(probabilities):
        raise ValueError(f"categorical_nll needs one row of probabilities per label: got shape "
                         f"{probabilities.shape} for {len(labels)} labels.")
    if labels.size and not (0 <= labels.min() and labels.max() < probabilities.shape[1]):
        raise ValueError(f"labels must be class indices 0 … {probabilities.shape[1] - 1}.")
    chosen = probabilities[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.mean(np.log(chosen)))


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


def natural_frequency_grid(ax, prevalence: float, sensitivity: float,
                           false_positive_rate: float, side: int = 100) -> None:
    """Draw ``side``² people as squares coloured by their test outcome, one block per outcome."""
    counts = natural_frequencies(prevalence, sensitivity, false_positive_rate, side * side)
    colors = [PALETTE["vermillion"], PALETTE["purple"], PALETTE["orange"], "#e6e6e6"]
    outcome = np.repeat(np.arange(4), list(counts.values())).reshape(side, side)
    ax.imshow(outcome, cmap=ListedColormap(colors), vmin=-0.5, vmax=3.5, interpolation="nearest")
    ax.set_axis_off()
    handles = [Patch(color=color, label=f"{name}: {count:,}")
               for color, (name, count) in zip(colors, counts.items(), strict=True)]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.02, 0.5))


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


def reliability_diagram(ax, confidence, correct, label: str, color: str, n_bins: int = 10) -> float:
    """Draw accuracy against confidence per bin on ``ax``; returns the calibration error."""
    mean_confidence, accuracy, counts, ece = reliability_bins(confidence, correct, n_bins)
    filled = counts > 0
    ax.plot([0, 1], [0, 1], color=PALETTE["black"], lw=1, ls="--", label="perfect calibration")
    ax.plot(mean_confidence[filled], accuracy[filled], "o-", color=color,
            label=f"{label} (ECE {ece:.3f})")
    ax.set(xlabel="confidence (largest softmax probability)", ylabel="accuracy in bin",
           xlim=(0, 1), ylim=(0, 1), aspect="equal")
    return ece


# --- The likelihood explorer ----------------------------------------------------------------

GRID = np.linspace(0.0, 1.0, 201)
_W, _H = 560, 250
# Frames, legend and notes are light cards like the figures, so they read in either site theme.
_CARD = "background:white;color:#222;border-radius:4px;padding:2px 8px;max-width:640px"


def sample_sizes(n_max: int) -> list[int]:
    """1, 2, 4, ... up to ``n_max``, ending at ``n_max`` itself."""
    sizes = [2**k for k in range(int(math.log2(n_max)) + 1)]
    return sizes if sizes[-1] == n_max else sizes + [n_max]


def likelihood_frame(flips: np.ndarray, n: int, true_p: float) -> str:
    """One frame: the likelihood of the first ``n`` flips, scaled so its maximum is 1."""
    heads = int(flips[:n].sum())
    p_hat, se = coin_mle(heads, n)
    log_lik = coin_log_likelihood(GRID, heads, n)
    curve = np.exp(log_lik - log_lik.max())
    low, high = max(p_hat - 1.96 * se, 0.0), min(p_hat + 1.96 * se, 1.0)
    canvas = Canvas(_W, _H, xlim=(0, 1), ylim=(0, 1.12))
    canvas.axes(xlabel="coin's probability of heads p", ylabel="likelihood (max = 1)",
                xticks=[0, 0.25, 0.5, 0.75, 1], yticks=[0, 0.5, 1])
    canvas.polyline([true_p, true_p], [0, 1.12], PALETTE["black"], width=1.5, dash="5 4")
    canvas.polyline([low, high], [0.04, 0.04], PALETTE["vermillion"], width=5)
    canvas.polyline(GRID, curve, PALETTE["blue"], width=2.5)
    canvas.circle(p_hat, 1.0, 6, PALETTE["orange"], edge=PALETTE["black"])
    label = (f"Likelihood of p after {n} flips with {heads} heads: a curve peaking at the "
             f"estimate {p_hat:.3f}; the true p is {true_p:g}; the 95% interval runs from "
             f"{low:.3f} to {high:.3f}.")
    readout = (f'<div class="mlbook-readout">n = <b>{n}</b> flips · heads k = {heads} · '
               f"MLE p̂ = k/n = <b>{p_hat:.3f}</b> · standard error {se:.3f} · "
               f"95% interval [{low:.3f}, {high:.3f}] · true p = {true_p:g}</div>")
    return (f'<div class="mlbook-frame" style="{_CARD}" data-step="{n}" data-n="{n}" '
            f'data-heads="{heads}" '
            f'data-mle="{p_hat:.6f}" data-true-p="{true_p:g}">'
            f"{canvas.to_svg(label)}{readout}</div>")


def likelihood_run(flips: np.ndarray, true_p: float) -> list[str]:
    """Frames for one experiment: the likelihood after the first 1, 2, 4, ... of ``flips``."""
    return [likelihood_frame(flips, n, true_p) for n in sample_sizes(len(flips))]


def _legend() -> str:
    swatch = ('<span style="display:inline-block;width:1.6em;height:0;border-top:{} {};'
              'vertical-align:middle;margin:0 .3em 0 .8em"></span>')
    items = [("3px solid", PALETTE["blue"], "likelihood"),
             ("5px solid", PALETTE["vermillion"], "95% interval"),
             ("2px dashed", PALETTE["black"], "true p")]
    return (f'<div class="mlbook-readout" style="{_CARD}">' + "".join(
        swatch.format(style, color) + text for style, color, text in items)
        + f'<span style="color:{PALETTE["orange"]};margin-left:.8em">●</span> estimate p̂</div>')


def _noscript(flips: np.ndarray, true_p: float) -> str:
    fig, ax = plt.subplots(figsize=(5.6, 2.5))
    colors = (PALETTE["sky"], PALETTE["blue"], PALETTE["black"])
    for n, color in zip((4, 64, len(flips)), colors, strict=True):
        log_lik = coin_log_likelihood(GRID, int(flips[:n].sum()), n)
        ax.plot(GRID, np.exp(log_lik - log_lik.max()), color=color, label=f"n = {n}")
    ax.axvline(true_p, color=PALETTE["black"], ls="--", lw=1)
    ax.set(xlabel="p", ylabel="likelihood (max = 1)")
    ax.legend()
    fig.tight_layout()
    uri = png_data_uri(fig, dpi=72)
    plt.close(fig)
    return noscript_image(uri, f"Likelihood curves of a coin with p = {true_p:g} after 4, 64 and "
                               f"{len(flips)} flips, each narrower than the last.")


def coin_experiments(true_ps, n_max: int, rng: np.random.Generator) -> dict[float, np.ndarray]:
    """``n_max`` flips (True = heads) of a coin for each true p, drawn in the order given."""
    return {p: rng.random(n_max) < p for p in true_ps}


def likelihood_explorer(true_ps, n_max: int, seed: int = 0) -> widgets.VBox:
    """A stepper over growing samples of coin flips, one run per true p in ``true_ps``.

    In a live kernel it also offers inputs for any true p and sample size.
    """
    rng = np.random.default_rng(seed)
    experiments = coin_experiments(true_ps, n_max, rng)
    runs = {(f"{p:g}",): likelihood_run(flips, p) for p, flips in experiments.items()}
    fallback = widgets.HTML(_noscript(experiments[true_ps[0]], true_ps[0]))
    legend = widgets.HTML(_legend())
    explorer = widgets.VBox([legend, _stepper(runs), fallback])
    if is_static_build():
        note = message("Open this chapter on Binder or Colab (rocket icon above) to flip a coin "
                       "with any true p and any number of flips.")
        explorer.children += (widgets.HTML(f'<div style="{_CARD}">{note}</div>'),)
    else:
        explorer.children += (_live_controls(explorer, runs, rng),)
    return explorer


def _stepper(runs: dict) -> Stepper:
    return Stepper(runs, dims=["true p"], step_label="sample")


def validate_flip_settings(true_p, n) -> str | None:
    """Why these settings cannot be run, or None when they can."""
    if true_p is None or not math.isfinite(true_p) or not 0.0 <= true_p <= 1.0:
        return f"The true p must be a probability between 0 and 1; got {true_p}."
    if n is None or n < 1:
        return f"The number of flips must be at least 1; got {n}."
    if n > MAX_FLIPS:
        return (f"Use at most {MAX_FLIPS:,} flips (the curve is then narrower than a pixel); "
                f"got {n:,}.")
    return None


def _live_controls(explorer: widgets.VBox, runs: dict, rng: np.random.Generator) -> widgets.VBox:
    """Inputs for a new run; a valid one rebuilds the stepper with the new run chosen."""
    style = {"description_width": "initial"}
    p_box = widgets.FloatText(value=0.5, description="true p", style=style)
    n_box = widgets.IntText(value=1000, description="flips", style=style)
    button = widgets.Button(description="flip the coin", button_style="primary")
    status = widgets.HTML()

    def on_click(_):
        problem = validate_flip_settings(p_box.value, n_box.value)
        if problem:
            status.value = message(problem, "error")
            return
        key = (f"{p_box.value:g}, n = {n_box.value}",)
        runs[key] = likelihood_run(rng.random(n_box.value) < p_box.value, p_box.value)
        stepper = _stepper(runs)
        stepper.dropdowns[0].value = key[0]
        children = list(explorer.children)
        children[1] = stepper
        explorer.children = tuple(children)
        status.value = message(f"Showing the new run (true p {key[0]}).")

    button.on_click(on_click)
    return widgets.VBox([widgets.HBox([p_box, n_box, button]), status])
