// ---- mlbook/js/likelihood.js: the likelihood explorer (mlbook.probability.LikelihoodExplorer) ---
// Flip a coin in the reader's browser: the likelihood and the Beta posterior of its p, the MLE and
// a 95% interval, and the experiment repeated REPEATS times with how many intervals cover p.
// The numerics mirror mlbook/probability.py line for line (tests/test_probability.py checks that
// both agree); change both together.

export const REPEATS = 100;
export const MAX_FLIPS = 10000;
export const MAX_SEED = 99999; // experiment r of seed s flips with the stream REPEATS·s + r
export const MAX_PRIOR = 10000; // a Beta prior's a and b: beyond this its quantiles take too long
const Z95 = 1.959963984540054; // the 97.5% point of the standard Gaussian (1.96, rounded)
const METHODS = ["wald", "wilson", "credible"];
const METHOD_NAMES = { wald: "Wald", wilson: "Wilson", credible: "credible" };

/**
 * `count` uniform numbers in [0, 1) from mulberry32 (Tommy Ettinger, 2017) seeded with `seed`:
 * each draw adds 0x6D2B79F5 to a 32-bit state and scrambles it with two multiply-xorshift rounds
 * into an integer t; the draw is t / 2^32. Identical to mlbook.probability.uniforms.
 */
export function uniforms(seed, count) {
  const out = new Float64Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return out;
}

/** Heads in `n` flips of a coin with P(heads) = p: draw i is heads when u_i < p. */
export function countHeads(seed, n, p) {
  let heads = 0;
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) { // the steps of uniforms(), without storing the draws
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    if (((t ^ (t >>> 14)) >>> 0) / 4294967296 < p) heads += 1;
  }
  return heads;
}

/** Heads in each of REPEATS experiments: experiment r flips with the stream REPEATS·seed + r. */
export function experimentHeads(seed, n, p) {
  const heads = [];
  for (let r = 0; r < REPEATS; r++) heads.push(countHeads(REPEATS * seed + r, n, p));
  return heads;
}

/** p̂ ± 1.96 sqrt(p̂(1 − p̂)/n), clipped to [0, 1]: the textbook (Wald) 95% interval. */
export function waldInterval(heads, n) {
  const pHat = heads / n;
  const half = Z95 * Math.sqrt((pHat * (1 - pHat)) / n);
  return [Math.max(0, pHat - half), Math.min(1, pHat + half)];
}

/** Wilson's (1927) 95% interval: the p with |p̂ − p| ≤ 1.96 sqrt(p(1 − p)/n), solved for p. */
export function wilsonInterval(heads, n) {
  const pHat = heads / n;
  const shrink = 1 + Z95 ** 2 / n;
  const centre = (pHat + Z95 ** 2 / (2 * n)) / shrink;
  const half = (Z95 / shrink) * Math.sqrt((pHat * (1 - pHat)) / n + Z95 ** 2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028,
  771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7];

/** log Γ(x) for x > 0, by Lanczos' approximation (g = 7, nine terms; ~15 digits). */
export function logGamma(x) {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let series = LANCZOS[0];
  for (let i = 1; i < 9; i++) series += LANCZOS[i] / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(series);
}

const TINY = 1e-300;

/** The continued fraction of the incomplete beta function (modified Lentz's method). */
function betaFraction(x, a, b) {
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) > TINY ? d : TINY);
  let result = d;
  for (let m = 1; m <= 10000; m++) {
    const even = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    const odd = (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    for (let term = 0; term < 2; term++) {
      const numerator = term === 0 ? even : odd;
      d = 1 + numerator * d;
      d = 1 / (Math.abs(d) > TINY ? d : TINY);
      c = 1 + numerator / c;
      c = Math.abs(c) > TINY ? c : TINY;
      result *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-15) break;
  }
  return result;
}

/** P(X ≤ x) for X ~ Beta(a, b): the regularised incomplete beta function I_x(a, b). */
export function betaCdf(x, a, b) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const logFront = a * Math.log(x) + b * Math.log1p(-x)
    - (logGamma(a) + logGamma(b) - logGamma(a + b));
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betaFraction(x, a, b)) / a;
  return 1 - (Math.exp(logFront) * betaFraction(1 - x, b, a)) / b;
}

/**
 * The x with P(X ≤ x) = q for X ~ Beta(a, b): halve [0, 1] until its ends are neighbouring
 * floating-point numbers (about 55 halvings, more for quantiles near 0).
 */
export function betaQuantile(q, a, b) {
  let low = 0;
  let high = 1;
  let middle = 0.5;
  while (low < middle && middle < high) {
    if (betaCdf(middle, a, b) < q) low = middle;
    else high = middle;
    middle = 0.5 * (low + high);
  }
  return middle;
}

/** The central 95% of the posterior Beta(a + k, b + n − k) after k heads in n flips. */
export function credibleInterval(heads, n, priorA, priorB) {
  const a = priorA + heads;
  const b = priorB + n - heads;
  return [betaQuantile(0.025, a, b), betaQuantile(0.975, a, b)];
}

/** The 95% interval `method` ("wald", "wilson" or "credible") after k heads in n flips. */
export function interval(method, heads, n, priorA, priorB) {
  if (method === "wald") return waldInterval(heads, n);
  if (method === "wilson") return wilsonInterval(heads, n);
  return credibleInterval(heads, n, priorA, priorB);
}

/**
 * Whether the 95% interval `method` after k heads in n flips holds p. For the credible interval
 * that is 0.025 ≤ P(X ≤ p) ≤ 0.975 for the posterior X: one value of its CDF, no quantiles.
 */
export function covers(method, heads, n, p, priorA, priorB) {
  if (method === "credible") {
    const cdf = betaCdf(p, priorA + heads, priorB + n - heads);
    return cdf >= 0.025 && cdf <= 0.975;
  }
  const [low, high] = interval(method, heads, n, priorA, priorB);
  return low <= p && p <= high;
}

/**
 * What the explorer shows for these settings (`method`: the interval drawn for each repeat), as
 * mlbook.probability.explorer_summary computes it. Repeats with the same k share one computation.
 */
export function summary({ trueP, flips, seed, priorA, priorB, method = "wald" }) {
  const repeatHeads = experimentHeads(seed, flips, trueP);
  const distinct = [...new Set(repeatHeads)];
  const heads = repeatHeads[0];
  const mle = heads / flips;
  const covered = {};
  for (const m of METHODS) {
    const hits = new Map(distinct.map((k) => [k, covers(m, k, flips, trueP, priorA, priorB)]));
    covered[m] = repeatHeads.filter((k) => hits.get(k)).length;
  }
  const drawn = new Map(distinct.map((k) => [k, interval(method, k, flips, priorA, priorB)]));
  const hits = new Map(distinct.map((k) => [k, covers(method, k, flips, trueP, priorA, priorB)]));
  const a = priorA + heads;
  const b = priorB + flips - heads;
  return {
    heads, mle, se: Math.sqrt((mle * (1 - mle)) / flips),
    intervals: Object.fromEntries(METHODS.map((m) => [m,
      interval(m, heads, flips, priorA, priorB)])),
    posterior_mean: a / (a + b),
    repeat_heads: repeatHeads,
    covered,
    repeat_intervals: repeatHeads.map((k) => drawn.get(k)),
    repeat_hits: repeatHeads.map((k) => hits.get(k)),
  };
}

// ---- drawing ----------------------------------------------------------------------------------

/** k log p + (n − k) log(1 − p) with 0 log 0 = 0, scaled so that its largest value is 1. */
function scaledCurve(grid, k, n) {
  const log = grid.map((p) => (k ? k * Math.log(p) : 0) + (n - k ? (n - k) * Math.log1p(-p) : 0));
  const top = Math.max(...log.filter(Number.isFinite));
  return log.map((v) => Math.exp(v - top));
}

/** The p axis: all of [0, 1] up to 100 flips, then ±5/√n around the true p (±10 standard
 *  errors or more), so that the curves stay wider than a few pixels. */
export function viewRange(trueP, flips) {
  const half = Math.min(0.5, 5 / Math.sqrt(flips));
  const low = Math.min(Math.max(0, trueP - half), 1 - 2 * half);
  return [low, low + 2 * half];
}

function curvePanel(settings, shown) {
  const { trueP, flips, priorA, priorB, method } = settings;
  const [from, to] = viewRange(trueP, flips);
  // About one point per pixel of the plot's width: a smooth curve, a short path.
  const GRID = Array.from({ length: 321 }, (_, i) => from + ((to - from) * i) / 320);
  const [low, high] = shown.intervals[method];
  const hit = shown.repeat_hits[0]; // the run shown is experiment 0
  const label = `Likelihood of p after ${shown.heads} heads in ${flips} flips, peaking at the `
    + `estimate ${fmt(shown.mle)}; the ${METHOD_NAMES[method]} 95% interval runs from `
    + `${fmt(low)} to ${fmt(high)} and ${hit ? "covers" : "misses"} the true p = ${fmt(trueP)}.`;
  const { svg, x, y, layer } = plot({ width: 380, height: 270, x: [from, to], y: [0, 1.12],
    xlabel: "coin's probability of heads p", ylabel: "likelihood, posterior (max = 1)", label });
  const likelihood = scaledCurve(GRID, shown.heads, flips);
  // The posterior Beta(a + k, b + n − k) is the likelihood of k + a − 1 heads in n + a + b − 2.
  const posterior = scaledCurve(GRID, shown.heads + priorA - 1, flips + priorA + priorB - 2);
  layer.append(
    line(x, y, [[trueP, 0], [trueP, 1.12]], { stroke: COLORS.black, "stroke-width": 1.5,
      "stroke-dasharray": "5 4", class: "true-p" }),
    line(x, y, GRID.map((p, i) => [p, posterior[i]]), { stroke: COLORS.green,
      "stroke-width": 2.5, "stroke-dasharray": "7 4", class: "posterior" }),
    line(x, y, GRID.map((p, i) => [p, likelihood[i]]), { stroke: COLORS.blue,
      "stroke-width": 2, class: "likelihood" }),
    line(x, y, [[low, 0.04], [high, 0.04]], { stroke: hit ? COLORS.blue : COLORS.vermillion,
      "stroke-width": 6, class: "interval" }),
    s("circle", { cx: x(shown.mle), cy: y(1), r: 5.5, fill: COLORS.orange, stroke: COLORS.black,
      class: "mle" }));
  return svg;
}

function repeatsPanel(settings, shown) {
  const { trueP, flips, method } = settings;
  const count = shown.covered[method];
  const label = `${REPEATS} repeats of the experiment, one ${METHOD_NAMES[method]} interval `
    + `each: ${count} cover the true p = ${fmt(trueP)}, ${REPEATS - count} miss it.`;
  const { svg, x, y, layer } = plot({ width: 380, height: 270, x: viewRange(trueP, flips),
    y: [0, REPEATS + 1],
    xlabel: "p", ylabel: "experiment", label });
  shown.repeat_intervals.forEach(([low, high], r) => {
    const hit = shown.repeat_hits[r];
    layer.append(line(x, y, [[low, r + 1], [high, r + 1]], {
      stroke: hit ? COLORS.blue : COLORS.vermillion, "stroke-width": r === 0 ? 3.5 : 1.6,
      class: hit ? "hit" : "miss" }));
  });
  layer.append(line(x, y, [[trueP, 0], [trueP, REPEATS + 1]], { stroke: COLORS.black,
    "stroke-width": 1.5, "stroke-dasharray": "5 4" }));
  return svg;
}

function legend() {
  const swatch = (color, dash, width = 3) => s("svg", { width: 26, height: 10,
    "aria-hidden": "true" }, s("line", { x1: 1, x2: 25, y1: 5, y2: 5, stroke: color,
    "stroke-width": width, "stroke-dasharray": dash }));
  return h("div", { class: "mlbook-legend" },
    swatch(COLORS.blue), " likelihood ", swatch(COLORS.green, "7 4"), " posterior ",
    swatch(COLORS.black, "5 4", 1.5), " true p ",
    h("span", { style: { color: COLORS.orange } }, "●"), " MLE p̂ ",
    swatch(COLORS.blue, null, 6), " interval covers p ", swatch(COLORS.vermillion, null, 6),
    " misses p");
}

function render({ model, el }) {
  // contain: a redraw lays out this card only, not the long page of formulas around it.
  const root = h("div", { class: "mlbook-widget mlbook-likelihood",
    style: { contain: "content" } });
  // The book's theme answers every click on the page with a search of the whole document (to
  // close its menus); a click on this card's buttons needs none of it.
  root.addEventListener("click", (event) => event.stopPropagation());
  el.append(root);
  const settings = () => ({ trueP: model.get("true_p"), flips: model.get("flips"),
    seed: model.get("seed"), priorA: model.get("prior_a"), priorB: model.get("prior_b"),
    method: model.get("interval") });

  const pBox = numberBox(root, { label: "true p", value: model.get("true_p"), min: 0, max: 1,
    title: "the coin's true probability of heads", onValue: (v) => save(model, { true_p: v }) });
  const flipsControl = logSlider(root, { label: "flips n", value: model.get("flips"), min: 1,
    max: MAX_FLIPS, integer: true, onValue: (v) => {
      if (v > MAX_FLIPS) {
        say(root, `flips n must be at most ${MAX_FLIPS} (the ${REPEATS} repeats would take `
          + "too long to redraw).", "error");
        return;
      }
      save(model, { flips: Math.max(1, Math.round(v)) });
    } });
  const seedBox = numberBox(root, { label: "seed", value: model.get("seed"), min: 0,
    max: MAX_SEED, integer: true, width: "7em", title: "seed of the random flips",
    onValue: (v) => save(model, { seed: v }) });
  const aBox = numberBox(root, { label: "prior a", value: model.get("prior_a"), positive: true,
    max: MAX_PRIOR, width: "4.5em", title: "prior Beta(a, b): a", onValue: (v) => save(model,
      { prior_a: v }) });
  const bBox = numberBox(root, { label: "b", value: model.get("prior_b"), positive: true,
    max: MAX_PRIOR, width: "4.5em", title: "prior Beta(a, b): b", onValue: (v) => save(model,
      { prior_b: v }) });
  const select = h("select", { "aria-label": "interval", "data-bench": "value:wilson|credible|wald",
    onchange: guard(root, () => save(model, { interval: select.value })) },
  METHODS.map((m) => h("option", { value: m }, m === "credible" ? "credible (Beta posterior)"
    : `${METHOD_NAMES[m]} confidence`)));
  const addFlip = buttons(root, [["add a flip", () => {
    if (model.get("flips") >= MAX_FLIPS) {
      say(root, `At most ${MAX_FLIPS} flips: the repeats would take too long to redraw.`,
        "warning");
      return;
    }
    save(model, { flips: model.get("flips") + 1 });
  }, "flip the coin once more (every repeat flips once more too)"]]);
  const newRun = buttons(root, [["new experiment",
    () => save(model, { seed: (model.get("seed") + 1) % (MAX_SEED + 1) }),
    "the next seed: new flips for the experiment and its repeats"]]);
  for (const row of [addFlip, newRun]) row.querySelector("button").dataset.bench = "click";
  pBox.input.dataset.bench = "value:0.7|0.3";
  flipsControl.input.dataset.bench = "value:10|100";
  flipsControl.range.dataset.bench = "value:700|500";
  seedBox.input.dataset.bench = "value:1|0";
  aBox.input.dataset.bench = "value:20|1";
  bBox.input.dataset.bench = "value:20|1";

  const figures = h("div", { class: "mlbook-figures" });
  const estimate = h("div", { class: "mlbook-readout" });
  const intervalsLine = h("div", { class: "mlbook-readout" });
  const coverage = h("div", { class: "mlbook-readout mlbook-coverage" });
  root.append(
    h("div", { class: "mlbook-row" }, pBox, flipsControl, addFlip),
    h("div", { class: "mlbook-row" }, h("label", { class: "mlbook-field" }, "interval", select),
      aBox, bBox, seedBox, newRun),
    legend(), figures, estimate, intervalsLine, coverage);

  const draw = guard(root, () => {
    const now = settings();
    const shown = summary(now);
    pBox.set(now.trueP);
    flipsControl.set(now.flips);
    seedBox.set(now.seed);
    aBox.set(now.priorA);
    bBox.set(now.priorB);
    select.value = now.method;
    figures.replaceChildren(curvePanel(now, shown), repeatsPanel(now, shown));
    const [low, high] = shown.intervals[now.method];
    const hit = shown.repeat_hits[0];
    const intervals = METHODS.map((m) => `${METHOD_NAMES[m]} [${fmt(shown.intervals[m][0])}, `
      + `${fmt(shown.intervals[m][1])}]`).join(" · ");
    estimate.textContent = `${shown.heads} heads in ${now.flips} flips · MLE p̂ = k/n = `
      + `${fmt(shown.mle)} · standard error ${fmt(shown.se)} · posterior `
      + `Beta(${fmt(now.priorA + shown.heads)}, ${fmt(now.priorB + now.flips - shown.heads)}), `
      + `mean ${fmt(shown.posterior_mean)}`;
    intervalsLine.textContent = `95% intervals: ${intervals}. This run's `
      + `${METHOD_NAMES[now.method]} interval ${hit ? "covers" : "misses"} the true `
      + `p = ${fmt(now.trueP)}.`;
    coverage.textContent = `Repeated ${REPEATS} times (bottom row: this run), the interval `
      + "covers p in: " + METHODS.map((m) => `${METHOD_NAMES[m]} ${shown.covered[m]}`)
      .join(" · ") + ` of ${REPEATS}.`;
    Object.assign(root.dataset, { heads: shown.heads, mle: shown.mle, low, high,
      covered: shown.covered[now.method], hit });
    rendered(root);
  });
  draw();
  for (const name of ["true_p", "flips", "seed", "prior_a", "prior_b", "interval"]) {
    model.on(`change:${name}`, draw);
  }
}

export default { render };
