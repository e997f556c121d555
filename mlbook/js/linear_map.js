// ---- mlbook/js/linear_map.js: the linear-map explorer (mlbook.linalg.LinearMapExplorer) ---------
// A 2×2 matrix A = [[a, b], [c, d]] (the trait `matrix`, row by row) drawn as a map of the plane:
// a square grid, the unit circle and the letter F before and after the map, the columns
// Ae₁ = (a, c) and Ae₂ = (b, d) as arrows whose tips the reader drags, the real eigenvector
// directions, and the singular vectors. The numerics are closed forms for 2×2 matrices;
// tests/test_linear_algebra.py checks them against NumPy (mlbook.linalg.map_summary).

const VIEW = 3.5; // the plot shows the square [−VIEW, VIEW]², as mlbook.linalg.VIEW
const LIMIT = 10; // typed entries must lie in [−LIMIT, LIMIT], as mlbook.linalg.MAX_ENTRY
const SNAP = 0.05; // dragged tips snap to multiples of this, so exact matrices are easy to reach
const KEY_STEP = 0.1; // an arrow key moves a focused tip this far
const GRID = [-2, -1, 0, 1, 2]; // the grid lines x = k and y = k that the map moves
/** The letter F: asymmetric, so a reflection shows as a mirror image (as mlbook.linalg). */
export const LETTER_F = [[-1.4, 0.3], [-1.15, 0.3], [-1.15, 0.85], [-0.7, 0.85], [-0.7, 1.1],
  [-1.15, 1.1], [-1.15, 1.4], [-0.5, 1.4], [-0.5, 1.65], [-1.4, 1.65]];
const CIRCLE = Array.from({ length: 97 }, (_, i) => [Math.cos((i * Math.PI) / 48),
  Math.sin((i * Math.PI) / 48)]);

// --- Numerics: closed forms for a 2×2 matrix m = [a, b, c, d] ------------------------------------

/** det A = ad − bc: A multiplies areas by |det A| and flips orientation when det A < 0. */
export function determinant([a, b, c, d]) {
  return a * d - b * c;
}

/** The size of the largest entry: the scale that the tolerances below are relative to. */
function scaleOf(m) {
  return Math.max(...m.map(Math.abs));
}

/** Is det A zero, up to round-off (relative to the entries' scale)? */
export function isSingular(m) {
  return Math.abs(determinant(m)) <= 1e-12 * scaleOf(m) ** 2;
}

/** A unit vector, signed so that its larger entry is positive (the convention of mlbook.linalg). */
function unit([x, y]) {
  const length = Math.hypot(x, y);
  const sign = (Math.abs(x) >= Math.abs(y) ? x : y) < 0 ? -1 : 1;
  return [(sign * x) / length, (sign * y) / length];
}

/**
 * The eigenvalues of A, roots of λ² − (a + d)λ + (ad − bc) = 0, written λ = m ± √(p² + bc) with
 * m = (a + d)/2 and p = (a − d)/2, and one unit eigenvector per real direction. Returns
 * {kind, values, vectors}; kind is "distinct" (two real directions, values largest first),
 * "defective" (a double root with one direction, as in a shear), "scalar" (A = λI: every
 * direction) or "complex" (values = [re, im] of re ± im·i: no real direction).
 */
export function eigen(m) {
  const [a, b, c, d] = m;
  const scale = scaleOf(m);
  const mean = (a + d) / 2;
  const half = (a - d) / 2;
  const disc = half * half + b * c;
  const tolerance = 1e-14 * scale * scale;
  if (disc < -tolerance) return { kind: "complex", values: [mean, Math.sqrt(-disc)], vectors: [] };
  if (disc <= tolerance) {
    if (Math.max(Math.abs(b), Math.abs(c), Math.abs(half)) <= 1e-12 * scale) {
      return { kind: "scalar", values: [a], vectors: [] };
    }
    return { kind: "defective", values: [mean], vectors: [direction(m, mean)] };
  }
  // The root of larger size first, the other from λ₁λ₂ = det A: no cancellation.
  const root = Math.sqrt(disc);
  const big = mean + (mean >= 0 ? root : -root);
  const small = determinant(m) / big;
  const values = big >= small ? [big, small] : [small, big];
  return { kind: "distinct", values, vectors: values.map((value) => direction(m, value)) };
}

/** A unit vector v with (A − λI)v = 0: of the two candidates (b, λ − a) and (λ − d, c), the longer. */
function direction([a, b, c, d], value) {
  const first = [b, value - a];
  const second = [value - d, c];
  return unit(Math.hypot(...first) >= Math.hypot(...second) ? first : second);
}

/**
 * The singular value decomposition A = U diag(σ₁, σ₂) Vᵀ. Split A into a rotation-scaling part
 * and a reflection-scaling part, A = [[E, −H], [H, E]] + [[F, G], [G, −F]] with E = (a + d)/2,
 * F = (a − d)/2, G = (c + b)/2, H = (c − b)/2; then A = R(φ) diag(Q + R, Q − R) R(θ), where R(α)
 * rotates by α, Q = |(E, H)|, R = |(F, G)|, θ and φ half the difference and sum of the angles of
 * (F, G) and (E, H). σ₂ = |det A|/σ₁ (as (Q + R)(Q − R) = det A) avoids cancellation; det A < 0
 * flips u₂. Returns {sigma: [σ₁, σ₂], u: [u₁, u₂], v: [v₁, v₂]}, the columns of U and V.
 */
export function svd(m) {
  const [a, b, c, d] = m;
  const E = (a + d) / 2;
  const F = (a - d) / 2;
  const G = (c + b) / 2;
  const H = (c - b) / 2;
  const first = Math.hypot(E, H) + Math.hypot(F, G);
  const det = determinant(m);
  const second = first > 0 ? Math.abs(det) / first : 0;
  const reflect = Math.atan2(G, F);
  const rotate = Math.atan2(H, E);
  const theta = (rotate - reflect) / 2;
  const phi = (rotate + reflect) / 2;
  const flip = det < 0 ? -1 : 1;
  return {
    sigma: [first, second],
    u: [[Math.cos(phi), Math.sin(phi)], [-flip * Math.sin(phi), flip * Math.cos(phi)]],
    v: [[Math.cos(theta), -Math.sin(theta)], [Math.sin(theta), Math.cos(theta)]],
  };
}

/** Everything the explorer reads out, with the fields of mlbook.linalg.map_summary. */
export function summary(m) {
  const { kind, values, vectors } = eigen(m);
  const { sigma, u, v } = svd(m);
  const singular = isSingular(m);
  return { det: determinant(m), singular, kind, eigenvalues: values, eigenvectors: vectors,
    sigma: singular ? [sigma[0], 0] : sigma, u, v,
    condition: singular ? Infinity : sigma[0] / sigma[1] };
}

// --- Text ----------------------------------------------------------------------------------------

const SUB = ["₁", "₂"];

function vectorText([x, y]) {
  return `(${fmt(x, 3)}, ${fmt(y, 3)})`;
}

function detText(info) {
  if (info.singular) return "det A = 0: every area collapses to 0";
  const orientation = info.det > 0 ? "orientation kept" : "orientation flipped (the F is mirrored)";
  return `det A = ${fmt(info.det)}: areas scale by |det A| = σ₁σ₂ = ${fmt(Math.abs(info.det))}; `
    + orientation;
}

function eigenText(info) {
  const [first] = info.eigenvalues;
  if (info.kind === "complex") {
    return `eigenvalues ${fmt(first)} ± ${fmt(info.eigenvalues[1])}i: complex, so no real `
      + "direction is kept";
  }
  if (info.kind === "scalar") return `every vector is an eigenvector, λ = ${fmt(first)}`;
  if (info.kind === "defective") {
    return `eigenvalue λ = ${fmt(first)} twice, but only one eigenvector direction, `
      + `${vectorText(info.eigenvectors[0])}: A is not diagonalisable`;
  }
  return "eigenvalues " + info.eigenvalues.map((value, i) =>
    `λ${SUB[i]} = ${fmt(value)} along ${vectorText(info.eigenvectors[i])}`).join(", ");
}

function sigmaText(info) {
  return `singular values σ₁ = ${fmt(info.sigma[0])}, σ₂ = ${fmt(info.sigma[1])}: `
    + "the ellipse's semi-axes";
}

function conditionText(info) {
  if (info.sigma[0] === 0) return "condition number undefined: A = 0";
  return `condition number κ = σ₁/σ₂ = ${info.singular ? "∞: A has no inverse" : fmt(info.condition)}`;
}

function statusText(info) {
  if (!info.singular) return "";
  if (info.sigma[0] === 0) return "A = 0 sends every vector to the origin: rank 0.";
  return "det A = 0 and σ₂ = 0: the plane collapses onto a line, the column space of A. The "
    + "null space (the dashed line with λ = 0) goes to the origin, and A has no inverse.";
}

// --- Drawing -------------------------------------------------------------------------------------

function apply([a, b, c, d], [x, y]) {
  return [a * x + b * y, c * x + d * y];
}

function render({ model, el }) {
  const root = h("div", { class: "mlbook-widget mlbook-linear-map" });
  el.append(root);
  const { svg, x: xs, y: ys, layer } = plot({ width: 360, height: 360, margin: [10, 10, 36, 36],
    x: [-VIEW, VIEW], y: [-VIEW, VIEW], xlabel: "x₁", ylabel: "x₂",
    label: "A linear map of the plane" });
  const px = ([x, y]) => `${xs(x).toFixed(1)},${ys(y).toFixed(1)}`;
  const path = (points, close = false) => `M${points.map(px).join("L")}${close ? "Z" : ""}`;
  const segments = (pairs) => pairs.map(([p, q]) => `M${px(p)}L${px(q)}`).join("");
  const gridLines = GRID.flatMap((k) => [[[k, -2], [k, 2]], [[-2, k], [2, k]]]);
  const label = (color) => s("text", { fill: color, "font-size": 13, "font-weight": "bold",
    stroke: "#fff", "stroke-width": 3, "paint-order": "stroke" });

  const grid = s("path", { fill: "none", stroke: COLORS.sky, "stroke-width": 1.3 });
  const ellipse = s("path", { fill: "none", stroke: COLORS.vermillion, "stroke-width": 2.5 });
  const shape = s("path", { fill: COLORS.green, "fill-opacity": 0.35, stroke: COLORS.green,
    "stroke-width": 1.5 });
  const eigenLines = [0, 1].map(() => s("path", { class: "mlbook-eigenline", stroke: COLORS.black,
    "stroke-width": 1.3,
    "stroke-dasharray": "6 4" }));
  const eigenLabels = [0, 1].map(() => label(COLORS.black));
  const axes = [0, 1].map(() => s("path", { stroke: COLORS.purple, "stroke-width": 3.5 }));
  const axisLabels = [0, 1].map(() => label("#9a4a7a"));
  const inputs = [0, 1].map(() => s("path", { stroke: COLORS.purple, "stroke-width": 1.5,
    "stroke-dasharray": "2 3" }));
  const inputLabels = [0, 1].map(() => label("#9a4a7a"));
  const arrowColors = [COLORS.blue, COLORS.orange];
  const arrows = arrowColors.map((color) => s("path", { stroke: color, fill: color,
    "stroke-width": 3, "stroke-linejoin": "round" }));
  const tipLabels = [label(COLORS.blue), label("#a86f00")];
  const handles = arrowColors.map((color, column) => s("circle", { r: 9, fill: color,
    "fill-opacity": 0.25, stroke: color, "stroke-width": 2, tabindex: 0, role: "button",
    "data-column": column, "data-bench": "drag", style: "cursor: grab" }));
  layer.append(
    s("path", { d: segments(gridLines), stroke: "#cfcfcf", "stroke-width": 1 }),
    s("path", { d: path(CIRCLE), fill: "none", stroke: "#8a8a8a", "stroke-dasharray": "4 3" }),
    s("path", { d: path(LETTER_F, true), fill: "none", stroke: "#8a8a8a",
      "stroke-dasharray": "4 3" }),
    grid, shape, ellipse, ...eigenLines, ...inputs, ...axes, ...arrows, ...eigenLabels,
    ...inputLabels, ...axisLabels, ...tipLabels, ...handles);

  const matrix = () => model.get("matrix").map(Number);
  const setMatrix = (next) => {
    const now = matrix();
    if (next.every((value, i) => value === now[i])) update(); // nothing changes: redraw anyway
    else save(model, { matrix: next });
  };

  // The entries: a 2×2 grid of boxes in brackets. A bad entry shows its error and changes nothing.
  const names = ["a", "b", "c", "d"];
  const places = ["row 1, column 1", "row 1, column 2", "row 2, column 1", "row 2, column 2"];
  const bench = ["value:2|0.5", "value:-1|0.75", "value:0.5|-0.5", "value:1|-1.5"];
  const boxes = names.map((name, i) => {
    const box = numberBox(root, { label: name, name: `entry ${name}`, value: matrix()[i],
      title: `entry ${name} of A (${places[i]})`, width: "4.6em", min: -LIMIT, max: LIMIT,
      onValue: (value) => {
        const next = matrix();
        next[i] = value;
        setMatrix(next);
      } });
    box.input.setAttribute("data-bench", bench[i]);
    return box;
  });
  const entries = h("div", { class: "mlbook-row" }, h("span", {}, "A ="),
    h("div", { style: { display: "grid", gridTemplateColumns: "auto auto", gap: "4px 6px",
      padding: "2px 6px", borderLeft: "2px solid #444", borderRight: "2px solid #444",
      borderRadius: "4px" } }, boxes));

  const lines = ["det", "eigen", "sigma", "condition"].map((name) =>
    h("div", { class: `mlbook-la-${name}` }));
  const readout = h("div", { class: "mlbook-readout", "aria-live": "polite" }, lines);
  const presetRow = h("div", { class: "mlbook-row" });
  const drawPresets = () => {
    const list = model.get("presets") || [];
    const row = buttons(root, list.map((preset) => [preset.name,
      () => setMatrix(preset.matrix.map(Number)), `A = ${JSON.stringify(preset.matrix)}`]));
    row.style.flexWrap = "wrap";
    row.querySelectorAll("button").forEach((button) => button.setAttribute("data-bench", "click"));
    presetRow.replaceChildren(...(list.length ? ["Try:", row] : []));
  };
  const swatch = (color, text, dash = false) => h("span", { style: { whiteSpace: "nowrap" } },
    h("span", { style: { display: "inline-block", width: "18px", height: "0",
      borderTop: `3px ${dash ? "dashed" : "solid"} ${color}`, verticalAlign: "middle",
      marginRight: "4px" } }), text);
  const legend = h("div", { class: "mlbook-row", style: { fontSize: "0.85em", color: "#333" } },
    swatch(COLORS.sky, "grid after A"), swatch(COLORS.vermillion, "unit circle after A"),
    swatch(COLORS.green, "F after A"), swatch(COLORS.black, "eigenvector directions", true),
    swatch(COLORS.purple, "σᵢuᵢ = Avᵢ (dotted: vᵢ)"), swatch("#8a8a8a", "before A", true));
  // The status line sits beside the plot, not below the widget: a message that comes and goes
  // (a singular A) then leaves the widget's height alone, and the page below need not move.
  const status = h("div", { class: "mlbook-status", role: "status", "aria-live": "polite" });
  root.append(h("div", { class: "mlbook-figures" }, h("div", {}, svg),
    h("div", {}, entries, readout, status)), presetRow, legend);

  function update() {
    const m = matrix();
    const info = summary(m);
    grid.setAttribute("d", segments(gridLines.map(([p, q]) => [apply(m, p), apply(m, q)])));
    ellipse.setAttribute("d", path(CIRCLE.map((p) => apply(m, p))));
    shape.setAttribute("d", path(LETTER_F.map((p) => apply(m, p)), true));
    const far = 2 * VIEW;
    eigenLines.forEach((line, i) => {
      const vector = info.eigenvectors[i];
      line.style.display = vector ? "" : "none";
      eigenLabels[i].style.display = vector ? "" : "none";
      if (!vector) return;
      line.setAttribute("d", segments([[[-far * vector[0], -far * vector[1]],
        [far * vector[0], far * vector[1]]]]));
      const reach = (0.82 * VIEW) / Math.max(Math.abs(vector[0]), Math.abs(vector[1]));
      const [lx, ly] = [reach * vector[0], reach * vector[1]];
      eigenLabels[i].setAttribute("x", xs(lx) + (lx > 0 ? -6 : 6));
      eigenLabels[i].setAttribute("y", ys(ly) - 6);
      eigenLabels[i].setAttribute("text-anchor", lx > 0 ? "end" : "start");
      eigenLabels[i].textContent = `λ = ${fmt(info.eigenvalues[i], 3)}`;
    });
    axes.forEach((line, i) => {
      const [ux, uy] = info.u[i];
      const tip = [info.sigma[i] * ux, info.sigma[i] * uy];
      line.setAttribute("d", segments([[[0, 0], tip]]));
      axisLabels[i].setAttribute("x", xs(tip[0]) + 5);
      axisLabels[i].setAttribute("y", ys(tip[1]) + 14);
      axisLabels[i].textContent = `σ${SUB[i]}`;
      inputs[i].setAttribute("d", segments([[[0, 0], info.v[i]]]));
      inputLabels[i].setAttribute("x", xs(info.v[i][0]) + 4);
      inputLabels[i].setAttribute("y", ys(info.v[i][1]) + 12);
      inputLabels[i].textContent = `v${SUB[i]}`;
    });
    [[m[0], m[2]], [m[1], m[3]]].forEach((column, i) => {
      const [tx, ty] = [xs(column[0]), ys(column[1])];
      const [ox, oy] = [xs(0), ys(0)];
      const length = Math.hypot(tx - ox, ty - oy);
      let d = `M${ox.toFixed(1)},${oy.toFixed(1)}L${tx.toFixed(1)},${ty.toFixed(1)}`;
      if (length > 1) { // an arrowhead, 11 px long and 10 px wide, in screen units
        const [dx, dy] = [(tx - ox) / length, (ty - oy) / length];
        const [bx, by] = [tx - 11 * dx, ty - 11 * dy];
        d += `M${tx.toFixed(1)},${ty.toFixed(1)}L${(bx - 5 * dy).toFixed(1)},`
          + `${(by + 5 * dx).toFixed(1)}L${(bx + 5 * dy).toFixed(1)},${(by - 5 * dx).toFixed(1)}Z`;
      }
      arrows[i].setAttribute("d", d);
      handles[i].setAttribute("cx", tx.toFixed(1));
      handles[i].setAttribute("cy", ty.toFixed(1));
      handles[i].setAttribute("aria-label", `tip of Ae${SUB[i]}, now ${vectorText(column)}: `
        + "drag it, or focus it and use the arrow keys");
      tipLabels[i].setAttribute("x", tx + 9);
      tipLabels[i].setAttribute("y", ty - 9);
      tipLabels[i].textContent = `Ae${SUB[i]}`;
    });
    lines[0].textContent = detText(info);
    lines[1].textContent = eigenText(info);
    lines[2].textContent = sigmaText(info);
    lines[3].textContent = conditionText(info);
    boxes.forEach((box, i) => {
      box.set(m[i]);
      if (document.activeElement !== box.input) box.input.removeAttribute("aria-invalid");
    });
    const status = statusText(info);
    if (status || !root.querySelector(".mlbook-error")) say(root, status, "info");
    const [a, b, c, d] = m.map((value) => fmt(value, 3));
    svg.setAttribute("aria-label", `The map A = [[${a}, ${b}], [${c}, ${d}]] applied to a grid, `
      + `the unit circle and the letter F. ${detText(info)}; ${eigenText(info)}; `
      + `${sigmaText(info)}.`);
    Object.assign(root.dataset, { det: String(info.singular ? 0 : info.det), kind: info.kind,
      eigenvalues: JSON.stringify(info.eigenvalues), sigma: JSON.stringify(info.sigma) });
    rendered(root);
  }

  // Dragging a tip sets a column of A; the pointer is captured so the drag may leave the tip.
  let dragging = null;
  svg.addEventListener("pointerdown", guard(root, (event) => {
    const handle = event.target.closest && event.target.closest("[data-column]");
    if (!handle) return;
    dragging = Number(handle.dataset.column);
    try {
      svg.setPointerCapture(event.pointerId);
    } catch (_) {
      // a synthetic event has no pointer to capture; the drag still works
    }
    event.preventDefault();
  }));
  const snap = (value) => {
    const inside = Math.max(-VIEW, Math.min(VIEW, value));
    return Number((Math.round(inside / SNAP) * SNAP).toFixed(2));
  };
  const moveTip = (column, [x, y]) => {
    const next = matrix();
    next[column] = x;
    next[column + 2] = y;
    say(root, "");
    setMatrix(next);
  };
  svg.addEventListener("pointermove", guard(root, (event) => {
    if (dragging === null) return;
    const [x, y] = pointerIn(svg, event);
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    moveTip(dragging, [snap(xs.invert(x)), snap(ys.invert(y))]);
  }));
  const stop = () => {
    dragging = null;
  };
  svg.addEventListener("pointerup", stop);
  svg.addEventListener("pointercancel", stop);
  const keys = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
  handles.forEach((handle, column) => handle.addEventListener("keydown", guard(root, (event) => {
    const move = keys[event.key];
    if (!move) return;
    event.preventDefault();
    const m = matrix();
    moveTip(column, [snap(m[column] + KEY_STEP * move[0]),
      snap(m[column + 2] + KEY_STEP * move[1])]);
  })));

  const redraw = guard(root, update);
  drawPresets();
  redraw();
  model.on("change:matrix", redraw);
  model.on("change:presets", guard(root, drawPresets));
}

export default { render };
