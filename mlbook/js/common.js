// ---- mlbook/js/common.js: helpers shared by the book's widgets -----------------------------------
// Every widget's ES module is this file followed by the widget's own file (see
// mlbook.widgets.bundle), so everything declared here is in scope there. It travels in the page
// with each widget: keep it small and plain.

const SVG_NS = "http://www.w3.org/2000/svg";
// Okabe & Ito's colour-blind-safe palette, as in mlbook.plotting.PALETTE.
const COLORS = {
  blue: "#0072B2", orange: "#E69F00", green: "#009E73", vermillion: "#D55E00",
  sky: "#56B4E9", purple: "#CC79A7", yellow: "#F0E442", black: "#000000", grey: "#6b6b6b",
};
const FAR = 1e4; // pixels: points far outside a plot are pulled in so the SVG stays valid

/** An HTML element: h("div", {class: "x", onclick: f}, child, "text", [more children]). */
function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, built like h(). */
function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(node, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "style" && typeof value === "object") Object.assign(node.style, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** A number for a reader: `digits` significant digits, exponent form when very small or large. */
function fmt(value, digits = 4) {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "−∞";
  if (value === 0) return "0";
  const size = Math.abs(value);
  const text = size >= 1e5 || size < 1e-3
    ? value.toExponential(digits - 1).replace(/\.?0+e/, "e")
    : String(Number(value.toPrecision(digits)));
  return text.replace("-", "−");
}

/**
 * Parse what a reader typed as a number. Returns {value} or {error: "what to type instead"}.
 * Options: name (for the message), min/max (inclusive), positive (> 0), integer.
 */
function parseNumber(text, { name = "the value", min, max, positive = false, integer = false } = {}) {
  const trimmed = String(text ?? "").trim().replace("−", "-");
  if (trimmed === "") return { error: `Type a number for ${name}.` };
  const value = Number(trimmed);
  if (Number.isNaN(value)) return { error: `"${trimmed}" is not a number: type a number for ${name}.` };
  if (!Number.isFinite(value)) return { error: `${name} must be finite.` };
  if (integer && !Number.isInteger(value)) return { error: `${name} must be a whole number.` };
  if (positive && value <= 0) return { error: `${name} must be greater than 0.` };
  if (min !== undefined && value < min) return { error: `${name} must be at least ${fmt(min)}.` };
  if (max !== undefined && value > max) return { error: `${name} must be at most ${fmt(max)}.` };
  return { value };
}

/** A linear (or base-10 log) map from data to pixels, with .invert for pointer input. */
function scale(domain, range, log = false) {
  const t = log ? Math.log10 : (v) => v;
  const [d0, d1] = domain.map(t);
  const [r0, r1] = range;
  const k = (r1 - r0) / (d1 - d0);
  const map = (v) => Math.max(-FAR, Math.min(FAR, r0 + (t(v) - d0) * k));
  map.invert = (p) => (log ? 10 ** (d0 + (p - r0) / k) : d0 + (p - r0) / k);
  map.domain = domain;
  map.range = range;
  map.log = log;
  return map;
}

/** About `count` round tick values between lo and hi (1, 2 or 5 times a power of ten apart). */
function ticks(lo, hi, count = 5) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const rough = span / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((st) => st >= rough);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

/** The powers of ten between lo and hi (at most ~6 of them). */
function logTicks(lo, hi) {
  const a = Math.ceil(Math.log10(lo));
  const b = Math.floor(Math.log10(hi));
  const every = Math.max(1, Math.ceil((b - a + 1) / 6));
  const out = [];
  for (let e = a; e <= b; e += every) out.push(10 ** e);
  return out;
}

/**
 * An SVG plot: axes with ticks and labels around a clipped drawing layer.
 * Returns {svg, x, y, layer}: x and y map data to pixels; draw data into `layer`.
 */
function plot({ width = 420, height = 300, margin = [12, 14, 42, 54], x, y, xlabel = "",
  ylabel = "", logX = false, logY = false, label }) {
  const [top, right, bottom, left] = margin;
  const xs = scale(x, [left, width - right], logX);
  const ys = scale(y, [height - bottom, top], logY);
  const clip = `mlbook-clip-${Math.random().toString(36).slice(2)}`;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
    "aria-label": label, class: "mlbook-plot", preserveAspectRatio: "xMidYMid meet" });
  svg.append(s("defs", {}, s("clipPath", { id: clip },
    s("rect", { x: left, y: top, width: width - left - right, height: height - top - bottom }))));
  const axis = s("g", { class: "mlbook-axis" });
  for (const v of logX ? logTicks(...x) : ticks(...x)) {
    axis.append(s("line", { x1: xs(v), x2: xs(v), y1: top, y2: height - bottom, class: "grid" }),
      s("text", { x: xs(v), y: height - bottom + 16, "text-anchor": "middle" }, fmt(v, 3)));
  }
  for (const v of logY ? logTicks(...y) : ticks(...y)) {
    axis.append(s("line", { x1: left, x2: width - right, y1: ys(v), y2: ys(v), class: "grid" }),
      s("text", { x: left - 6, y: ys(v) + 4, "text-anchor": "end" }, fmt(v, 3)));
  }
  axis.append(
    s("rect", { x: left, y: top, width: width - left - right, height: height - top - bottom,
      class: "frame" }),
    s("text", { x: (left + width - right) / 2, y: height - 6, "text-anchor": "middle",
      class: "label" }, xlabel),
    s("text", { transform: `translate(14 ${(top + height - bottom) / 2}) rotate(-90)`,
      "text-anchor": "middle", class: "label" }, ylabel));
  const layer = s("g", { "clip-path": `url(#${clip})` });
  svg.append(axis, layer);
  return { svg, x: xs, y: ys, layer };
}

/** An SVG path through the points [[x, y], ...] (data coordinates); gaps at non-finite points. */
function line(xs, ys, points, attrs = {}) {
  let d = "";
  let pen = "M";
  for (const [px, py] of points) {
    if (!Number.isFinite(px) || !Number.isFinite(py)) {
      pen = "M";
      continue;
    }
    d += `${pen}${xs(px).toFixed(1)},${ys(py).toFixed(1)}`;
    pen = "L";
  }
  return s("path", { d: d || "M0,0", fill: "none", ...attrs });
}

/** The point of an SVG element under a pointer event, in the SVG's own (viewBox) units. */
function pointerIn(svg, event) {
  const matrix = svg.getScreenCTM();
  if (!matrix) return [NaN, NaN];
  const point = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix.inverse());
  return [point.x, point.y];
}

/** Show a message in the widget's status line (kind: info, warning or error); "" clears it. */
function say(root, text, kind = "info") {
  let status = root.querySelector(":scope .mlbook-status");
  if (!status) {
    status = h("div", { class: "mlbook-status", role: "status", "aria-live": "polite" });
    root.append(status);
  }
  status.className = `mlbook-status${text ? ` mlbook-message mlbook-${kind}` : ""}`;
  status.textContent = text;
}

/** Wrap an event handler so that an unexpected error shows in the widget, not in the console. */
function guard(root, handler) {
  return (...args) => {
    try {
      return handler(...args);
    } catch (err) {
      say(root, `Something went wrong (${err && err.message ? err.message : err}). ` +
        "Reload the page to start again.", "error");
      return undefined;
    }
  };
}

/**
 * Set model values and send them to the kernel, if there is one. The static page has no kernel:
 * the values still change in the page (and every view of the model redraws).
 */
function save(model, changes) {
  for (const [name, value] of Object.entries(changes)) model.set(name, value);
  try {
    model.save_changes();
  } catch (_) {
    // no kernel: nothing to send
  }
}

/** Count a finished redraw on the widget's root (tests and scripts/bench_widgets.py wait on it). */
function rendered(root) {
  root.dataset.renders = String(Number(root.dataset.renders || 0) + 1);
}

/**
 * A number box with a label. onValue(number) gets each valid entry; an invalid one shows its
 * error in the widget's status line and leaves the value unchanged.
 */
function numberBox(root, { label, value, title, width = "6em", onValue, ...rules }) {
  const input = h("input", { type: "text", inputmode: "decimal", value: fmt(value, 6),
    style: { width }, "aria-label": title || label });
  const commit = guard(root, () => {
    const parsed = parseNumber(input.value, { name: label, ...rules });
    if (parsed.error) {
      say(root, parsed.error, "error");
      input.setAttribute("aria-invalid", "true");
      return;
    }
    input.removeAttribute("aria-invalid");
    say(root, "");
    onValue(parsed.value);
  });
  input.addEventListener("change", commit);
  input.addEventListener("keydown", (event) => event.key === "Enter" && commit());
  const box = h("label", { class: "mlbook-field" }, h("span", {}, label), input);
  box.set = (v) => {
    if (document.activeElement !== input) input.value = fmt(v, 6);
  };
  box.input = input;
  return box;
}

/**
 * A slider on a log scale from min to max (with optional marks, e.g. a stability limit, drawn on
 * its track) next to a number box that takes any value. onValue(number) gets each new value.
 */
function logSlider(root, { label, value, min, max, marks = [], onValue, ...rules }) {
  const steps = 1000;
  const toSlider = (v) => Math.round(steps * Math.log(v / min) / Math.log(max / min));
  const fromSlider = (i) => min * (max / min) ** (i / steps);
  const range = h("input", { type: "range", min: 0, max: steps, step: 1,
    value: toSlider(value), "aria-label": `${label} (log scale)` });
  const box = numberBox(root, { label, value, onValue, positive: true, ...rules });
  range.addEventListener("input", guard(root, () => {
    const v = Number(fromSlider(Number(range.value)).toPrecision(3));
    box.set(v);
    say(root, "");
    onValue(v);
  }));
  const track = h("div", { class: "mlbook-slider" }, range);
  const markLayer = h("div", { class: "mlbook-marks", "aria-hidden": "true" });
  track.append(markLayer);
  const control = h("div", { class: "mlbook-control" }, track, box);
  control.set = (v) => {
    range.value = String(toSlider(Math.min(max, Math.max(min, v))));
    box.set(v);
  };
  control.marks = (list) => {
    markLayer.replaceChildren(...list.filter((m) => m.value > min && m.value < max).map((m) =>
      h("span", { class: "mlbook-mark", title: m.title || "",
        style: { left: `${(100 * toSlider(m.value)) / steps}%` } }, m.label)));
  };
  control.marks(marks);
  control.range = range;
  control.input = box.input;
  return control;
}

/** A row of buttons: buttons([["step", onStep], ["reset", onReset]]). */
function buttons(root, list) {
  return h("div", { class: "mlbook-buttons" }, list.map(([text, handler, title]) =>
    h("button", { type: "button", class: "mlbook-button", title: title || text,
      onclick: guard(root, handler) }, text)));
}
