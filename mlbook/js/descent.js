// ---- mlbook/js/descent.js: the gradient-descent explorer (mlbook.calculus.DescentExplorer) -------
// Python (mlbook/calculus.py) sets the surfaces and the settings; this module runs gradient
// descent with heavy-ball momentum and draws it. The numerics below are the Python reference's
// formulas, in the same order of operations, so the iterates agree to the last bit (the tests
// check them against Python).

const MAX_LEARNING_RATE = 100; // as mlbook.calculus.MAX_LEARNING_RATE
const MAX_STEPS = 10000; // as mlbook.calculus.MAX_STEPS

// --- Numerics -------------------------------------------------------------------------------------

/** The loss L(θ₁, θ₂) of a surface (as mlbook.calculus.<Surface>.loss). */
export function lossAt(surface, t1, t2) {
  const p = surface.params;
  if (surface.kind === "quadratic") return p.a * t1 * t1 + p.c * t1 * t2 + p.b * t2 * t2;
  if (surface.kind === "rosenbrock") {
    const d1 = p.a - t1;
    const d2 = t2 - t1 * t1;
    return d1 * d1 + p.b * d2 * d2;
  }
  if (surface.kind === "saddle") {
    const w = t2 * t2 - 1;
    return 0.5 * t1 * t1 + 0.25 * w * w;
  }
  if (surface.kind === "two-minima") {
    const q = t1 * t1;
    const d = t2 - 0.5 * t1;
    return 0.25 * q * q - 0.5 * q + p.tilt * t1 + 0.5 * d * d;
  }
  throw new Error(`unknown surface kind ${surface.kind}`);
}

/** The gradient ∇L(θ₁, θ₂) as [∂L/∂θ₁, ∂L/∂θ₂] (as <Surface>.gradient). */
export function gradientAt(surface, t1, t2) {
  const p = surface.params;
  if (surface.kind === "quadratic") return [2 * p.a * t1 + p.c * t2, p.c * t1 + 2 * p.b * t2];
  if (surface.kind === "rosenbrock") {
    const d1 = p.a - t1;
    const d2 = t2 - t1 * t1;
    return [-2 * d1 - 4 * p.b * t1 * d2, 2 * p.b * d2];
  }
  if (surface.kind === "saddle") return [t1, t2 * (t2 * t2 - 1)];
  if (surface.kind === "two-minima") {
    const d = t2 - 0.5 * t1;
    return [t1 * t1 * t1 - t1 + p.tilt - 0.5 * d, d];
  }
  throw new Error(`unknown surface kind ${surface.kind}`);
}

/** The Hessian at (θ₁, θ₂) as [[h11, h12], [h21, h22]] (as <Surface>.hessian). */
export function hessianAt(surface, t1, t2) {
  const p = surface.params;
  if (surface.kind === "quadratic") return [[2 * p.a, p.c], [p.c, 2 * p.b]];
  if (surface.kind === "rosenbrock") {
    const d2 = t2 - t1 * t1;
    return [[2 - 4 * p.b * d2 + 8 * p.b * t1 * t1, -4 * p.b * t1], [-4 * p.b * t1, 2 * p.b]];
  }
  if (surface.kind === "saddle") return [[1, 0], [0, 3 * t2 * t2 - 1]];
  if (surface.kind === "two-minima") return [[3 * t1 * t1 - 0.75, -0.5], [-0.5, 1]];
  throw new Error(`unknown surface kind ${surface.kind}`);
}

/** The eigenvalues [smallest, largest] of a symmetric 2 × 2 matrix: the principal curvatures. */
export function eigenvalues(matrix) {
  const [[a, b], [, d]] = matrix;
  const mean = (a + d) / 2;
  const radius = Math.hypot((a - d) / 2, b);
  return [mean - radius, mean + radius];
}

/**
 * Heavy-ball gradient descent, θ_{t+1} = θ_t − η ∇L(θ_t) + β (θ_t − θ_{t−1}), θ_{−1} = θ_0, for
 * `steps` steps (mlbook.calculus.gradient_descent). The run stops, diverged, when an iterate is
 * not finite (it is left out) or has a coordinate beyond surface.bound (it is kept).
 * Returns {path: [[θ₁, θ₂], ...], diverged}.
 */
export function heavyBall(surface, start, eta, beta, steps) {
  let [t1, t2] = start;
  let [p1, p2] = start;
  const path = [[t1, t2]];
  for (let i = 0; i < steps; i++) {
    const [g1, g2] = gradientAt(surface, t1, t2);
    const n1 = t1 - eta * g1 + beta * (t1 - p1);
    const n2 = t2 - eta * g2 + beta * (t2 - p2);
    if (!Number.isFinite(n1) || !Number.isFinite(n2)) return { path, diverged: true };
    [p1, p2, t1, t2] = [t1, t2, n1, n2];
    path.push([t1, t2]);
    if (Math.max(Math.abs(t1), Math.abs(t2)) > surface.bound) return { path, diverged: true };
  }
  return { path, diverged: false };
}

/** The largest stable η near each minimum: 2(1 + β)/λ_max of the Hessian there. */
export function stabilityLimits(surface, beta) {
  return surface.minima.map(([m1, m2]) =>
    (2 * (1 + beta)) / eigenvalues(hessianAt(surface, m1, m2))[1]);
}

/**
 * The long-run factor by which the error shrinks per step on a quadratic with these curvatures:
 * the largest |z| over the roots of z² − (1 + β − ηλ) z + β = 0
 * (mlbook.calculus.convergence_rate).
 */
export function convergenceRate(curvatures, eta, beta) {
  let worst = 0;
  for (const curvature of curvatures) {
    const p = 1 + beta - eta * curvature;
    const discriminant = p * p - 4 * beta;
    let size;
    if (discriminant >= 0) {
      const root = Math.sqrt(discriminant);
      size = Math.max(Math.abs(p + root), Math.abs(p - root)) / 2;
    } else {
      size = Math.sqrt(beta); // complex roots: |z|² is their product, β
    }
    worst = Math.max(worst, size);
  }
  return worst;
}

/** Plain descent's best η on a quadratic, 2/(λ_min + λ_max), and its rate (κ − 1)/(κ + 1). */
export function bestPlain([low, high]) {
  const kappa = high / low;
  return { learning_rate: 2 / (low + high), momentum: 0, rate: (kappa - 1) / (kappa + 1),
    kappa };
}

/** Polyak's tuned heavy ball on a quadratic, and its rate (√κ − 1)/(√κ + 1). */
export function tunedHeavyBall([low, high]) {
  const rootKappa = Math.sqrt(high / low);
  const rate = (rootKappa - 1) / (rootKappa + 1);
  return { learning_rate: 4 / (Math.sqrt(high) + Math.sqrt(low)) ** 2, momentum: rate * rate,
    rate, kappa: high / low };
}

/** Line segments where a grid of values crosses `level` (marching squares), in data units. */
export function contourSegments(xs, ys, values, level) {
  const segments = [];
  const cut = (xa, ya, va, xb, yb, vb) => {
    const f = (level - va) / (vb - va);
    return [xa + f * (xb - xa), ya + f * (yb - ya)];
  };
  for (let j = 0; j + 1 < ys.length; j++) {
    for (let i = 0; i + 1 < xs.length; i++) {
      const corners = [[xs[i], ys[j], values[j][i]], [xs[i + 1], ys[j], values[j][i + 1]],
        [xs[i + 1], ys[j + 1], values[j + 1][i + 1]], [xs[i], ys[j + 1], values[j + 1][i]]];
      const points = [];
      for (let k = 0; k < 4; k++) {
        const a = corners[k];
        const b = corners[(k + 1) % 4];
        if ((a[2] > level) !== (b[2] > level)) points.push(cut(...a, ...b));
      }
      if (points.length === 2) segments.push(points);
      if (points.length === 4) segments.push([points[0], points[1]], [points[2], points[3]]);
    }
  }
  return segments;
}

// --- Drawing ---------------------------------------------------------------------------------------

const GRID = 90; // contour grid points per side
const PLOT_WIDTH = 340;
const PLOT_HEIGHT = 320;
const PLOT_MARGIN = [10, 12, 40, 46]; // top, right, bottom, left
const PLAY_MS = 40; // one tick of play
const PLAY_TICKS = 120; // a whole run plays in about this many ticks
const CIVIDIS = ["#00224e", "#35456c", "#666970", "#948e77", "#c8b866", "#fee838"];
// The contours use cividis without its pale yellow end, so the highest stays visible on white
// (as mlbook.calculus.CONTOUR_COLORS).
const CONTOUR_SPAN = 0.72;

function cividis(fraction) {
  const x = Math.min(1, Math.max(0, fraction)) * (CIVIDIS.length - 1);
  const i = Math.min(CIVIDIS.length - 2, Math.floor(x));
  const mix = (k) => {
    const a = parseInt(CIVIDIS[i].slice(k, k + 2), 16);
    const b = parseInt(CIVIDIS[i + 1].slice(k, k + 2), 16);
    return Math.round(a + (x - i) * (b - a)).toString(16).padStart(2, "0");
  };
  return `#${mix(1)}${mix(3)}${mix(5)}`;
}

const contourCache = new Map(); // surface key → path data per level (the plot never moves)

/** One SVG path per contour level of L − L*, in the plot's pixels (computed once per surface). */
function contourPaths(surface, xs, ys) {
  const key = JSON.stringify([surface.key, surface.kind, surface.params, surface.extent,
    surface.levels, xs.range, ys.range]);
  if (!contourCache.has(key)) contourCache.set(key, contourData(surface, xs, ys));
  const n = surface.levels.length;
  return contourCache.get(key).map((d, k) => s("path", { d: d || "M0,0", fill: "none",
    stroke: cividis(CONTOUR_SPAN * k / Math.max(1, n - 1)), "stroke-width": 1 }));
}

function contourData(surface, xs, ys) {
  const [x0, x1, y0, y1] = surface.extent;
  const gx = Array.from({ length: GRID }, (_, i) => x0 + ((x1 - x0) * i) / (GRID - 1));
  const gy = Array.from({ length: GRID }, (_, j) => y0 + ((y1 - y0) * j) / (GRID - 1));
  const values = gy.map((t2) => gx.map((t1) => lossAt(surface, t1, t2) - surface.min_value));
  return surface.levels.map((level) => {
    let d = "";
    for (const [[ax, ay], [bx, by]] of contourSegments(gx, gy, values, level)) {
      d += `M${xs(ax).toFixed(1)},${ys(ay).toFixed(1)}L${xs(bx).toFixed(1)},${ys(by).toFixed(1)}`;
    }
    return d;
  });
}

/**
 * Fill a read-out with [text, width in characters] fields. Each field keeps its width whatever
 * its number, so the read-out wraps the same way at every step and never changes height: a
 * changing height would reflow the whole page below the widget.
 */
function fields(element, parts) {
  element.replaceChildren(...parts.flatMap(([text, width]) => [h("span", { style: {
    display: "inline-block", minWidth: `${width}ch`, marginRight: "1ch", whiteSpace: "nowrap" } },
  text), " "]));
}

/** A linear slider next to a number box; `check(v)` returns an error message or "". */
function linearSlider(root, { label, value, min, max, step, onValue, check }) {
  const range = h("input", { type: "range", min, max, step, value,
    "aria-label": `${label} (slider)`, "data-bench": `value:${min}|${(min + max) / 2}` });
  const box = numberBox(root, { label, value, onValue: (v) => {
    const problem = check(v);
    if (problem) {
      say(root, problem, "error");
      box.input.setAttribute("aria-invalid", "true");
      return;
    }
    onValue(v);
  } });
  range.addEventListener("input", guard(root, () => {
    const v = Number(range.value);
    box.set(v);
    say(root, "");
    onValue(v);
  }));
  const control = h("div", { class: "mlbook-control" },
    h("div", { class: "mlbook-slider" }, range), box);
  control.set = (v) => {
    range.value = String(Math.min(max, Math.max(min, v)));
    box.set(v);
  };
  control.input = box.input;
  return control;
}

function render({ model, el }) {
  const root = h("div", { class: "mlbook-widget mlbook-descent" });
  el.append(root);
  const view = { key: null, timer: null, dragging: false, pending: false };

  const surfaceOf = () => {
    const list = model.get("surfaces");
    return list.find((x) => x.key === model.get("surface")) || list[0];
  };
  const runNow = () => heavyBall(surfaceOf(), model.get("start"), model.get("learning_rate"),
    model.get("momentum"), model.get("steps"));
  const stop = () => {
    if (view.timer !== null) clearInterval(view.timer);
    view.timer = null;
  };
  function schedule() {
    if (view.pending) return;
    view.pending = true;
    queueMicrotask(draw);
  }
  // A change of any setting but the step shows the whole new run.
  const change = (values) => {
    stop();
    save(model, { ...values, step: values.steps ?? model.get("steps") });
    schedule(); // redraw even when nothing changed: the status line must be restored
  };
  const showStep = (step) => {
    save(model, { step });
    schedule(); // redraw even when the step stays (the last step, or step 0 again)
  };

  const build = (surface) => {
    view.key = surface.key;
    const [x0, x1, y0, y1] = surface.extent;
    const select = h("select", { "aria-label": "surface", "data-bench": "value:bowl|valley",
      onchange: guard(root, () => {
        const chosen = model.get("surfaces").find((x) => x.key === select.value);
        say(root, "");
        change({ surface: chosen.key, learning_rate: chosen.learning_rate, momentum: 0,
          start: chosen.start.slice(), steps: chosen.steps });
      }) }, model.get("surfaces").map((x) => h("option", { value: x.key,
      selected: x.key === surface.key }, x.name)));
    const stepsBox = numberBox(root, { label: "steps", value: model.get("steps"), integer: true,
      min: 1, max: MAX_STEPS, width: "5em", onValue: (v) => change({ steps: v }) });
    stepsBox.input.dataset.bench = `value:${surface.steps}|${2 * surface.steps}`;
    const eta = logSlider(root, { label: "learning rate η", value: model.get("learning_rate"),
      min: surface.eta_range[0], max: surface.eta_range[1], onValue: (v) => {
        if (v > MAX_LEARNING_RATE) {
          say(root, `The learning rate η = ${fmt(v)} is too large (at most ` +
            `${MAX_LEARNING_RATE}): every step would overshoot.`, "error");
          eta.input.setAttribute("aria-invalid", "true");
          return;
        }
        change({ learning_rate: v });
      } });
    eta.range.dataset.bench = "value:400|700";
    eta.input.dataset.bench = `value:${surface.learning_rate}|${fmt(surface.learning_rate / 3)}`;
    const beta = linearSlider(root, { label: "momentum β", value: model.get("momentum"), min: 0,
      max: 0.99, step: 0.01, onValue: (v) => change({ momentum: v }),
      check: (v) => (v < 0 || v >= 1 ? `The momentum β must satisfy 0 ≤ β < 1, got ${fmt(v)}: ` +
        "with β ≥ 1 old steps never fade." : "") });
    beta.input.dataset.bench = "value:0.5|0";
    for (const control of [eta, beta]) {
      control.querySelector(".mlbook-slider").style.width = "min(360px, 70vw)";
    }
    const startBox = (index, name, low, high) => numberBox(root, { label: name,
      value: model.get("start")[index], min: low, max: high, width: "5em",
      onValue: (v) => {
        const start = model.get("start").slice();
        start[index] = v;
        change({ start });
      } });
    const start1 = startBox(0, "θ₁ start", x0, x1);
    const start2 = startBox(1, "θ₂ start", y0, y1);
    start1.input.dataset.bench = `value:${fmt(x0 / 2, 3)}|${fmt(x1 / 2, 3)}`;

    const play = h("button", { type: "button", class: "mlbook-button", "data-bench": "click",
      title: "play the run from the start, or pause it" }, "play");
    const tick = () => {
      const last = runNow().path.length - 1;
      const next = Math.min(last, model.get("step") + Math.max(1, Math.ceil(last / PLAY_TICKS)));
      if (next >= last) stop();
      showStep(next);
    };
    play.addEventListener("click", guard(root, () => {
      if (view.timer !== null) {
        stop();
        schedule();
        return;
      }
      if (model.get("step") >= runNow().path.length - 1) save(model, { step: 0 });
      view.timer = setInterval(guard(root, tick), PLAY_MS);
      tick();
    }));
    const controls = buttons(root, [
      ["step", () => {
        stop();
        showStep(Math.min(runNow().path.length - 1, model.get("step") + 1));
      }, "one more step"],
      ["reset", () => {
        stop();
        showStep(0);
      }, "back to the start, step 0"],
    ]);
    controls.prepend(play);
    let presets = "";
    if (surface.kind === "quadratic") {
      const curvatures = eigenvalues(hessianAt(surface, 0, 0));
      const use = (tuned) => () => change({ learning_rate: tuned.learning_rate,
        momentum: tuned.momentum });
      presets = buttons(root, [
        ["best plain η", use(bestPlain(curvatures)), "η = 2/(λmin + λmax), β = 0"],
        ["tuned heavy ball", use(tunedHeavyBall(curvatures)),
          "η = 4/(√λmax + √λmin)², β = ((√κ − 1)/(√κ + 1))²"],
      ]);
    }
    for (const button of [...controls.children, ...(presets ? presets.children : [])]) {
      button.dataset.bench = "click";
    }

    // The contour plot stays while the surface does, so a drag keeps its pointer. The path is
    // drawn on a second, transparent SVG on top: each redraw repaints only that layer, never the
    // thousands of contour segments underneath.
    const [top, right, bottom, left] = PLOT_MARGIN;
    const contour = plot({ width: PLOT_WIDTH, height: PLOT_HEIGHT, margin: PLOT_MARGIN,
      x: [x0, x1], y: [y0, y1], xlabel: "θ₁", ylabel: "θ₂",
      label: `Contours of the ${surface.name}` });
    contour.layer.append(...contourPaths(surface, contour.x, contour.y));
    surface.minima.forEach(([m1, m2], i) => {
      contour.layer.append(s("text", { x: contour.x(m1), y: contour.y(m2) + 5,
        "text-anchor": "middle", "font-size": 15, fill: COLORS.black }, "★"));
      if (surface.minima.length > 1) {
        contour.layer.append(s("text", { x: contour.x(m1) + 9, y: contour.y(m2) - 6,
          "font-size": 11, fill: COLORS.black }, String(i + 1)));
      }
    });
    const clip = `mlbook-clip-${Math.random().toString(36).slice(2)}`;
    const pathLayer = s("g", { "clip-path": `url(#${clip})` });
    const overlay = s("svg", { viewBox: `0 0 ${PLOT_WIDTH} ${PLOT_HEIGHT}`, width: "100%",
      height: "100%", class: "mlbook-plot", "aria-hidden": "true",
      preserveAspectRatio: "xMidYMid meet",
      style: { position: "absolute", left: 0, top: 0, background: "transparent",
        willChange: "transform" } },
    s("defs", {}, s("clipPath", { id: clip }, s("rect", { x: left, y: top,
      width: PLOT_WIDTH - left - right, height: PLOT_HEIGHT - top - bottom }))), pathLayer);
    contour.svg.style.willChange = "transform";
    const board = h("div", { "data-bench": "drag", style: { position: "relative",
      cursor: "crosshair" } }, contour.svg, overlay);
    const moveStart = guard(root, (event) => {
      const [px, py] = pointerIn(contour.svg, event);
      const t1 = contour.x.invert(px);
      const t2 = contour.y.invert(py);
      if (!(t1 >= x0 && t1 <= x1 && t2 >= y0 && t2 <= y1)) return;
      say(root, "");
      change({ start: [Number(t1.toPrecision(4)), Number(t2.toPrecision(4))] });
    });
    board.addEventListener("pointerdown", (event) => {
      view.dragging = true;
      try {
        board.setPointerCapture(event.pointerId);
      } catch (_) {
        // a synthetic pointer cannot be captured; the drag still works inside the plot
      }
      moveStart(event);
    });
    board.addEventListener("pointermove", (event) => view.dragging && moveStart(event));
    for (const kind of ["pointerup", "pointercancel"]) {
      board.addEventListener(kind, () => {
        view.dragging = false;
      });
    }
    const lossBox = h("div", {});
    const readout = h("div", { class: "mlbook-readout", "aria-live": "polite" });
    const rates = h("div", { class: "mlbook-readout mlbook-rates" });
    root.replaceChildren(
      h("div", { style: { fontWeight: 600 } }, "Gradient-descent explorer"),
      h("div", { class: "mlbook-row" }, h("label", { class: "mlbook-field" },
        h("span", {}, "surface"), select), stepsBox),
      h("div", { class: "mlbook-row" }, eta),
      h("div", { class: "mlbook-row" }, beta),
      h("div", { class: "mlbook-row" }, start1, start2, h("span", {}, "or click the contours")),
      h("div", { class: "mlbook-row" }, controls, presets),
      h("div", { class: "mlbook-figures" }, board, lossBox),
      readout, rates);
    Object.assign(view, { select, stepsBox, eta, beta, start1, start2, play, contour,
      pathLayer, lossBox, readout, rates });
  };

  const draw = guard(root, () => {
    view.pending = false;
    const surface = surfaceOf();
    if (view.key !== surface.key) build(surface);
    const eta = model.get("learning_rate");
    const beta = model.get("momentum");
    const start = model.get("start");
    const steps = model.get("steps");
    view.select.value = surface.key;
    view.stepsBox.set(steps);
    view.eta.set(eta);
    view.beta.set(beta);
    view.start1.set(start[0]);
    view.start2.set(start[1]);
    view.play.textContent = view.timer === null ? "play" : "pause";
    const quadratic = surface.kind === "quadratic";
    const limits = stabilityLimits(surface, beta);
    const distinct = limits.filter((limit, i) => limits.findIndex(
      (other) => Math.abs(other - limit) <= 1e-9 * limit) === i);
    view.eta.marks(distinct.map((limit) => {
      const i = limits.indexOf(limit);
      const where = distinct.length > 1 ? ` at the minimum ★${i + 1}` : " at the minimum";
      const rule = beta > 0 ? "2(1+β)/λmax" : "2/λmax";
      return { value: limit, label: distinct.length > 1 ? `★${i + 1}` : rule,
        title: quadratic
          ? `2(1 + β)/λmax(H) = ${fmt(limit)}: above it, gradient descent diverges`
          : `2(1 + β)/λmax(H) = ${fmt(limit)}${where}: above it, a run cannot settle there` };
    }));

    const run = heavyBall(surface, start, eta, beta, steps);
    const last = run.path.length - 1;
    const t = Math.min(model.get("step"), last);
    const shown = run.path.slice(0, t + 1);
    const [t1, t2] = run.path[t];
    const { x, y } = view.contour;
    view.pathLayer.replaceChildren(
      line(x, y, shown, { stroke: COLORS.vermillion, "stroke-width": 1.6 }),
      shown.length <= 150 ? shown.map(([a, b]) => s("circle", { cx: x(a), cy: y(b), r: 2,
        fill: COLORS.vermillion })) : [],
      s("circle", { cx: x(start[0]), cy: y(start[1]), r: 6, fill: "#fff",
        stroke: COLORS.vermillion, "stroke-width": 2 }),
      s("circle", { cx: x(t1), cy: y(t2), r: 4.5, fill: COLORS.orange, stroke: COLORS.black }));
    view.contour.svg.setAttribute("aria-label", `Contours of the ${surface.name}, with the ` +
      `path of ${t} steps from (${fmt(start[0])}, ${fmt(start[1])}) to (${fmt(t1)}, ` +
      `${fmt(t2)}). Click or drag to move the start.`);

    // L − L* against the step on a log axis; values at or below the floor sit on it.
    const gaps = run.path.map(([a, b]) => lossAt(surface, a, b) - surface.min_value);
    const positive = gaps.filter((g) => g > 0 && Number.isFinite(g));
    const top = positive.length ? Math.min(1e300, Math.max(...positive)) : 1;
    const floor = Math.max(positive.length ? Math.min(...positive) : top * 1e-16, top * 1e-32,
      1e-300);
    let low = 10 ** Math.floor(Math.log10(floor));
    let high = 10 ** Math.ceil(Math.log10(top));
    if (!(high > low)) [low, high] = [low / 10, high * 10];
    const at = (g) => (g > low ? Math.min(g, high) : low);
    const lossPlot = plot({ width: PLOT_WIDTH, height: PLOT_HEIGHT, margin: [10, 12, 40, 58],
      x: [0, steps], y: [low, high], logY: true, xlabel: "step t", ylabel: "L(θₜ) − L*",
      label: `The loss above its minimum against the step, on a log scale, up to step ${t}` });
    const everyPoint = gaps.map((g, i) => [i, at(g)]);
    lossPlot.layer.append(line(lossPlot.x, lossPlot.y, everyPoint, { stroke: "#bbb",
      "stroke-width": 1.2 }));
    let rate;
    if (quadratic) {
      const curvatures = eigenvalues(hessianAt(surface, 0, 0));
      rate = convergenceRate(curvatures, eta, beta);
      const predicted = Array.from({ length: last + 1 }, (_, i) => [i, gaps[0] * rate ** (2 * i)])
        .filter(([, g]) => g >= low && g <= high);
      lossPlot.layer.append(line(lossPlot.x, lossPlot.y, predicted, { stroke: COLORS.blue,
        "stroke-width": 1.3, "stroke-dasharray": "5 4" }));
      const plain = bestPlain(curvatures);
      const tuned = tunedHeavyBall(curvatures);
      fields(view.rates, [[`rate per step (κ = ${fmt(plain.kappa, 4)}):`, 24],
        [`this η and β ρ = ${fmt(rate, 4)} (dashed)`, 32],
        [`best plain (κ−1)/(κ+1) = ${fmt(plain.rate, 4)}`, 32],
        [`tuned heavy ball (√κ−1)/(√κ+1) = ${fmt(tuned.rate, 4)}`, 40]]);
    } else {
      const distance = (m) => Math.hypot(m[0] - t1, m[1] - t2);
      const nearest = surface.minima.reduce((a, b) => (distance(b) < distance(a) ? b : a));
      const curvatures = eigenvalues(hessianAt(surface, ...nearest));
      rate = convergenceRate(curvatures, eta, beta);
      fields(view.rates, [[`near the minimum (${nearest.map((v) => fmt(v, 3)).join(", ")}):`, 34],
        [`κ = ${fmt(curvatures[1] / curvatures[0], 4)}`, 12],
        [`rate per step for this η and β ρ = ${fmt(rate, 4)}`, 42]]);
    }
    view.rates.dataset.rate = String(rate);
    lossPlot.layer.append(
      line(lossPlot.x, lossPlot.y, everyPoint.slice(0, t + 1), { stroke: COLORS.vermillion,
        "stroke-width": 1.8 }),
      s("circle", { cx: lossPlot.x(t), cy: lossPlot.y(at(gaps[t])), r: 4, fill: COLORS.orange,
        stroke: COLORS.black }));
    view.lossBox.replaceChildren(lossPlot.svg);

    const [g1, g2] = gradientAt(surface, t1, t2);
    fields(view.readout, [[`step ${t} of ${last}`, 19], [`θ = (${fmt(t1, 6)}, ${fmt(t2, 6)})`, 30],
      [`L − L* = ${gaps[t] > 0 ? fmt(gaps[t], 4) : "0"}`, 18],
      [`‖∇L‖ = ${fmt(Math.hypot(g1, g2), 4)}`, 16]]);
    Object.assign(view.readout.dataset, { step: String(t), steps: String(last),
      theta1: String(t1), theta2: String(t2), diverged: String(run.diverged) });

    const status = root.querySelector(":scope .mlbook-status");
    const typedError = status && status.classList.contains("mlbook-error");
    if (run.diverged) {
      const above = limits.some((limit) => eta > limit)
        ? ` η = ${fmt(eta)} is above the stability limit ${fmt(Math.min(...limits))} for ` +
          `β = ${fmt(beta)}.`
        : " Far from the minimum the curvature is larger than at it: a smaller η is needed.";
      say(root, `Diverged: at step ${last} the iterate left the box |θ₁|, |θ₂| ≤ ` +
        `${fmt(surface.bound)} (ten times the plot), so the run stops there.${above}`,
      "warning");
    } else if (!typedError) {
      say(root, "");
    }
    rendered(root);
  });

  model.on("change", schedule);
  draw();
  return () => stop();
}

export default { render };
