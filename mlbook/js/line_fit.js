// ---- mlbook/js/line_fit.js: fit a line by gradient descent (mlbook.intro.LineFitExplorer) -------
// The numerics are the introduction's three equations, written out plainly; they mirror
// mlbook/intro.py (descent_path, least_squares, stability_limit) and the chapter's own
// gradient_descent, and tests/test_introduction.py checks them against both.

const PLAY_MS = 80; // one step per 80 ms while playing: 100 steps in 8 s

/** The mean of f(0), ..., f(n - 1). */
function mean(n, f) {
  let total = 0;
  for (let i = 0; i < n; i++) total += f(i);
  return total / n;
}

/** L(w, b): the mean squared vertical distance from the points to the line y = w x + b. */
export function loss(x, y, w, b) {
  return mean(x.length, (i) => (w * x[i] + b - y[i]) ** 2);
}

/** [∂L/∂w, ∂L/∂b] at (w, b): twice the mean residual, weighted by x for the slope. */
export function gradient(x, y, w, b) {
  const residual = x.map((xi, i) => w * xi + b - y[i]);
  return [2 * mean(x.length, (i) => residual[i] * x[i]), 2 * mean(x.length, (i) => residual[i])];
}

/**
 * Gradient descent from w = b = 0: `steps` updates w ← w − η ∂L/∂w, b ← b − η ∂L/∂b.
 * Returns {path, diverged}: path holds [w, b, loss] before the first step and after each step.
 * The run stops after the first step whose loss exceeds `divergedFactor` times the starting
 * loss, or is not finite; `diverged` is then true.
 */
export function descend(x, y, learningRate, steps, divergedFactor) {
  let w = 0;
  let b = 0;
  const path = [[w, b, loss(x, y, w, b)]];
  for (let t = 0; t < steps; t++) {
    const [dw, db] = gradient(x, y, w, b);
    w -= learningRate * dw;
    b -= learningRate * db;
    const current = loss(x, y, w, b);
    path.push([w, b, current]);
    if (!(current <= divergedFactor * path[0][2])) return { path, diverged: true };
  }
  return { path, diverged: false };
}

/** The least-squares line [w, b]: the slope is cov(x, y) / var(x), the line passes the means. */
export function leastSquares(x, y) {
  const n = x.length;
  const mx = mean(n, (i) => x[i]);
  const my = mean(n, (i) => y[i]);
  const w = mean(n, (i) => (x[i] - mx) * (y[i] - my)) / mean(n, (i) => (x[i] - mx) ** 2);
  return [w, my - w * mx];
}

/**
 * 2 / λ_max, the largest stable learning rate. The loss's Hessian is the same at every (w, b):
 * H = 2 [[mean x², mean x], [mean x, 1]]; the larger eigenvalue of a symmetric 2 × 2 matrix
 * [[a, c], [c, d]] is (a + d) / 2 + √(((a − d) / 2)² + c²).
 */
export function stabilityLimit(x) {
  const a = 2 * mean(x.length, (i) => x[i] * x[i]);
  const c = 2 * mean(x.length, (i) => x[i]);
  const d = 2;
  return 2 / ((a + d) / 2 + Math.sqrt(((a - d) / 2) ** 2 + c * c));
}

/** A problem with the data, as a sentence, or "" when a line can be fitted. */
function checkData(x, y) {
  if (x.length !== y.length) return `x has ${x.length} values but y has ${y.length}.`;
  if (x.length < 2) return "A line needs at least two points.";
  if (![...x, ...y].every(Number.isFinite)) return "The data hold a value that is not finite.";
  if (Math.min(...x) === Math.max(...x)) return "All x values are equal: no best line exists.";
  return "";
}

/** A round number (1, 2 or 5 times a power of ten) at or below (or above, `up`) v. */
function round125(v, up) {
  const power = 10 ** Math.floor(Math.log10(v));
  const options = [1, 2, 5, 10].map((m) => m * power);
  return up ? options.find((o) => o >= v) : options.reverse().find((o) => o <= v);
}

function padded(lo, hi, fraction) {
  const pad = (hi - lo) * fraction;
  return [lo - pad, hi + pad];
}

function legend(items) {
  return h("div", { class: "mlbook-row", style: { fontSize: "0.85em", gap: "4px 14px" } },
    items.map(([mark, text]) => h("span", {}, mark, " ", text)));
}

function swatch(color, dashed = false) {
  return h("span", { "aria-hidden": "true", style: { display: "inline-block", width: "18px",
    verticalAlign: "middle", borderTop: `${dashed ? "2px dashed" : "3px solid"} ${color}` } });
}

function render({ model, el }) {
  const root = h("div", { class: "mlbook-widget mlbook-line-fit" });
  el.append(root);
  let run = null; // the current run and everything drawn from it
  let timer = null;
  let noted = false; // the status line shows our note (not a reader's input error)

  const last = () => run.path.length - 1;
  const shownStep = () => Math.min(model.get("step"), last());

  // Widths in proportion to the two plots' viewBoxes (420 and 300), so their text matches.
  const fitBox = h("div", { style: { flex: "7 1 330px" } });
  const lossBox = h("div", { style: { flex: "5 1 236px" } });
  const readout = h("div", { class: "mlbook-readout", "aria-live": "polite" });
  const rate = logSlider(root, { label: "learning rate η", value: model.get("learning_rate"),
    min: 0.01, max: 2, onValue: (v) => {
      const most = model.get("max_learning_rate");
      if (v > most) {
        rate.input.setAttribute("aria-invalid", "true");
        say(root, `η = ${fmt(v)} is far too large for this fit: type at most ${fmt(most)}.`,
          "error");
        return;
      }
      if (v === model.get("learning_rate")) draw(); // the box cleared the status: redo notes
      else save(model, { learning_rate: v });
    } });
  const controls = buttons(root, [
    ["step", () => { stop(); setStep(shownStep() + 1); }, "one gradient-descent step"],
    ["play", () => (timer ? stop() : play()), "play the steps one after another"],
    ["reset", () => { stop(); setStep(0); }, "back to step 0, w = b = 0"],
  ]);
  const [stepButton, playButton, resetButton] = controls.querySelectorAll("button");
  stepButton.dataset.bench = "click";
  resetButton.dataset.bench = "click";
  rate.range.dataset.bench = "value:300|700";
  rate.input.dataset.bench = "value:0.3|0.5";

  function setStep(n) {
    const target = Math.max(0, Math.min(n, last()));
    if (target === model.get("step")) draw();
    else save(model, { step: target });
  }

  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    playButton.textContent = "play";
    playButton.setAttribute("aria-pressed", "false");
  }

  function play() {
    if (shownStep() >= last()) setStep(0);
    playButton.textContent = "pause";
    playButton.setAttribute("aria-pressed", "true");
    timer = setInterval(guard(root, () => {
      if (shownStep() >= last()) stop();
      else setStep(shownStep() + 1);
    }), PLAY_MS);
  }

  /** Recompute the run for the model's data and learning rate, redraw the plots, then the step. */
  const compute = guard(root, () => {
    const x = model.get("x");
    const y = model.get("y");
    const problem = checkData(x, y);
    if (problem) {
      run = null;
      stop();
      say(root, `${problem} Give the widget at least two points at different x.`, "error");
      rendered(root);
      return;
    }
    const eta = model.get("learning_rate");
    const { path, diverged } = descend(x, y, eta, model.get("steps"),
      model.get("diverged_factor"));
    const [w, b] = leastSquares(x, y);
    const limit = stabilityLimit(x);
    run = { x, y, eta, path, diverged, exact: [w, b], minimum: loss(x, y, w, b), limit };
    run.figure = figure(run);
    rate.set(eta);
    rate.marks([{ value: limit, label: "2/λmax", title: `stability limit 2/λmax = ${fmt(limit)}` }]);
    if (model.get("step") > last()) save(model, { step: last() });
    else draw();
  });

  /**
   * The two plots of a run: what stays (axes, points, least squares, the loss curve) is drawn
   * here once; draw() moves the line, its residuals and the marker on the loss curve.
   */
  function figure({ x, y, path, exact, minimum, eta }) {
    const xr = padded(Math.min(0, ...x), Math.max(...x), 0.04);
    const yr = padded(Math.min(0, ...y), Math.max(...y), 0.08);
    const fit = plot({ x: xr, y: yr, xlabel: model.get("xlabel"), ylabel: model.get("ylabel") });
    const along = (slope, intercept) => xr.map((v) => [v, slope * v + intercept]);
    const residuals = x.map(() => s("path", { stroke: COLORS.orange, "stroke-width": 2,
      class: "residual" }));
    const fitted = s("path", { stroke: COLORS.blue, "stroke-width": 2.5, fill: "none",
      class: "fitted" });
    fit.layer.append(...residuals,
      line(fit.x, fit.y, along(...exact), { stroke: COLORS.grey, "stroke-width": 1.5,
        "stroke-dasharray": "6 4" }),
      fitted,
      ...x.map((xi, i) => s("circle", { cx: fit.x(xi), cy: fit.y(y[i]), r: 3.5,
        fill: COLORS.black })));
    const losses = path.map((p) => p[2]);
    const finite = losses.filter(Number.isFinite);
    const lo = round125(Math.min(minimum, ...finite) / 2, false);
    const hi = round125(Math.max(...finite) * 2, true);
    const steps = model.get("steps");
    const chart = plot({ width: 300, x: [0, steps], y: [lo, hi], logY: true, xlabel: "step",
      ylabel: "loss L (log scale)", margin: [12, 12, 42, 58],
      label: `The loss over ${losses.length - 1} steps at η = ${fmt(eta)}, on a log axis, ` +
        `from ${fmt(losses[0])} to ${fmt(losses[losses.length - 1])}; the minimum ` +
        `${fmt(minimum)} dashed.` });
    const marker = s("circle", { r: 4, fill: COLORS.black });
    chart.layer.append(
      line(chart.x, chart.y, [[0, minimum], [steps, minimum]],
        { stroke: COLORS.grey, "stroke-width": 1.5, "stroke-dasharray": "6 4" }),
      line(chart.x, chart.y, losses.map((v, i) => [i, v]), { stroke: COLORS.blue,
        "stroke-width": 2 }),
      marker);
    fitBox.replaceChildren(fit.svg);
    lossBox.replaceChildren(chart.svg);
    return { fit, chart, xr, residuals, fitted, marker };
  }

  /** An SVG path's outline from (x0, y0) to (x1, y1), data coordinates; empty if not finite. */
  const segment = (plotted, x0, y0, x1, y1) => {
    const ends = [plotted.x(x0), plotted.y(y0), plotted.x(x1), plotted.y(y1)];
    if (!ends.every(Number.isFinite)) return "M0,0";
    const [a, b, c, d] = ends.map((v) => v.toFixed(1));
    return `M${a},${b}L${c},${d}`;
  };

  /** Show the current step: the line, its residuals, the marker and the read-out. */
  const draw = guard(root, () => {
    if (!run) return;
    const { x, y, path } = run;
    const { fit, chart, xr, residuals, fitted, marker } = run.figure;
    const step = shownStep();
    const [w, b, current] = path[step];
    residuals.forEach((el, i) => el.setAttribute("d", segment(fit, x[i], y[i], x[i],
      w * x[i] + b)));
    fitted.setAttribute("d", segment(fit, xr[0], w * xr[0] + b, xr[1], w * xr[1] + b));
    fit.svg.setAttribute("aria-label", `${x.length} measurements of ${model.get("ylabel")} ` +
      `against ${model.get("xlabel")}, the line after step ${step} (w = ${fmt(w)}, ` +
      `b = ${fmt(b)}) with its residuals, and the least-squares line, dashed.`);
    marker.setAttribute("cx", chart.x(step).toFixed(1));
    marker.setAttribute("cy", chart.y(current).toFixed(1));
    readout.textContent = `step ${step} of ${model.get("steps")} · w = ${fmt(w, 5)} · ` +
      `b = ${fmt(b, 5)} · loss L = ${fmt(current, 5)}`;
    Object.assign(readout.dataset, { step, w, b, loss: current });
    note(step);
    rendered(root);
  });

  /** Say that the run diverged (at its last step) or that η is past the stability limit. */
  function note(step) {
    const { eta, limit, diverged } = run;
    const status = root.querySelector(":scope > .mlbook-status");
    if (status && status.classList.contains("mlbook-error")) return; // the reader's input error
    let text = "";
    if (diverged && step === last()) {
      stop();
      text = `The run diverged: at step ${step} the loss passed ` +
        `${fmt(model.get("diverged_factor"))} times its starting value` +
        `${eta > limit ? `, because η = ${fmt(eta)} is above the stability limit ` +
          `2/λmax = ${fmt(limit)}` : ""}. Lower η, or press reset.`;
    } else if (eta > limit) {
      text = `η = ${fmt(eta)} is above the stability limit 2/λmax = ${fmt(limit)}: ` +
        "each step overshoots further than the last.";
    }
    if (text) {
      say(root, text, diverged && step === last() ? "warning" : "info");
      noted = true;
    } else if (noted) {
      say(root, "");
      noted = false;
    }
  }

  root.append(
    h("div", { class: "mlbook-row" }, rate, controls),
    h("div", { class: "mlbook-figures" }, fitBox, lossBox),
    legend([[h("span", { style: { color: COLORS.black } }, "●"), "measurements"],
      [swatch(COLORS.blue), "the line after this step"],
      [swatch(COLORS.orange), "residuals"], [swatch(COLORS.grey, true), "least squares"]]),
    readout);
  stop();
  compute();
  const events = ["change:x", "change:y", "change:learning_rate", "change:steps",
    "change:xlabel", "change:ylabel"];
  for (const name of events) model.on(name, compute);
  model.on("change:step", () => draw());
  return () => stop(); // anywidget removes this view's model listeners itself
}

export default { render };
