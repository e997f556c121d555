// ---- mlbook/js/draw_digit.js: draw a digit, the chapter's CNN reads it (mlbook.digits.DrawDigit)
// rasterise, preprocess and cnnForward mirror mlbook/digits.py operation for operation, in
// float64; tests/test_digits.py checks them against it and against PyTorch.

const SIDE = 28;
const BOX = 20; // MNIST scaled each digit to fit a 20 × 20 box (LeCun et al. 1998)
const CLASSES = 10;

/**
 * Lay down ink for the segment from (ax, ay) to (bx, by) with a round pen of `radius`: a pixel
 * whose centre lies at distance d gets ink r + ½ − d, clipped to [0, 1]; the darker ink wins.
 * Returns the rectangle [x0, y0, x1, y1] it touched, or null.
 */
export function paintSegment(ink, size, radius, ax, ay, bx, by) {
  const reach = radius + 1;
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - reach));
  const x1 = Math.min(size - 1, Math.ceil(Math.max(ax, bx) + reach));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - reach));
  const y1 = Math.min(size - 1, Math.ceil(Math.max(ay, by) + reach));
  if (x0 > x1 || y0 > y1) return null;
  const dx = bx - ax;
  const dy = by - ay;
  const length2 = dx * dx + dy * dy;
  for (let y = y0; y <= y1; y++) {
    const py = y + 0.5;
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5;
      let t = length2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / length2 : 0;
      t = Math.min(1, Math.max(0, t));
      const ex = px - (ax + t * dx);
      const ey = py - (ay + t * dy);
      const cover = Math.min(1, Math.max(0, radius + 0.5 - Math.sqrt(ex * ex + ey * ey)));
      if (cover > ink[y * size + x]) ink[y * size + x] = cover;
    }
  }
  return [x0, y0, x1, y1];
}

/** The ink of a drawing (strokes of [x, y] points) on a size × size grid, row by row. */
export function rasterise(strokes, size, radius) {
  const ink = new Float64Array(size * size);
  for (const stroke of strokes) {
    if (stroke.length === 1) paintSegment(ink, size, radius, ...stroke[0], ...stroke[0]);
    for (let i = 1; i < stroke.length; i++) {
      paintSegment(ink, size, radius, ...stroke[i - 1], ...stroke[i]);
    }
  }
  return ink;
}

/**
 * For each of the ceil(n · scale) output pixels i, the source pixels k that overlap it and by
 * how much, when source pixel k spans [k · scale, (k + 1) · scale) and output pixel i [i, i + 1).
 */
function overlaps(n, scale) {
  return Array.from({ length: Math.ceil(n * scale) }, (_, i) => {
    const list = [];
    for (let k = 0; k < n; k++) {
      const w = Math.max(0, Math.min((k + 1) * scale, i + 1) - Math.max(k * scale, i));
      if (w > 0) list.push([k, w]);
    }
    return list;
  });
}

/**
 * MNIST's recipe for a drawing (as mlbook.digits.preprocess): crop to the ink's bounding box;
 * scale it so that its longer side is 20 pixels, each new pixel the mean ink over its area;
 * place it in a 28 × 28 field, shifted by whole pixels so that its centre of mass lies nearest
 * pixel (14, 14), counting from 0, and clipped to stay inside. Returns 784 values in [0, 1], or
 * null.
 */
export function preprocess(ink, size) {
  let [top, bottom, left, right] = [size, -1, size, -1];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (ink[y * size + x] > 0) {
        top = Math.min(top, y);
        bottom = y;
        left = Math.min(left, x);
        right = Math.max(right, x);
      }
    }
  }
  if (bottom < 0) return null;
  const [height, width] = [bottom - top + 1, right - left + 1];
  const scale = BOX / Math.max(height, width);
  const across = overlaps(width, scale);
  const down = overlaps(height, scale);
  const [rows, columns] = [down.length, across.length];
  const narrowed = new Float64Array(height * columns); // each source row, resampled across
  for (let y = 0; y < height; y++) {
    const start = (top + y) * size + left;
    for (let j = 0; j < columns; j++) {
      let total = 0;
      for (const [x, w] of across[j]) total += ink[start + x] * w;
      narrowed[y * columns + j] = total;
    }
  }
  const box = new Float64Array(rows * columns);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < columns; j++) {
      let total = 0;
      for (const [y, w] of down[i]) total += w * narrowed[y * columns + j];
      box[i * columns + j] = total;
    }
  }
  let [mass, alongY, alongX] = [0, 0, 0];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < columns; j++) {
      const value = box[i * columns + j];
      mass += value;
      alongY += value * i;
      alongX += value * j;
    }
  }
  const shift = (offset, most) => Math.min(most, Math.max(0, Math.floor(offset + 0.5)));
  const dy = shift(SIDE / 2 - alongY / mass, SIDE - rows);
  const dx = shift(SIDE / 2 - alongX / mass, SIDE - columns);
  const image = new Float64Array(SIDE * SIDE);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < columns; j++) image[(i + dy) * SIDE + j + dx] = box[i * columns + j];
  }
  return image;
}

/** The exported CNN (mlbook.digits.ExportedCNN.to_bytes: float32, little-endian), in float64. */
export function decodeWeights(base64, [c1, c2], mean, std) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  let offset = 0;
  const take = (count) => {
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, true);
    offset += 4 * count;
    return out;
  };
  const net = { c1, c2, mean, std, conv1Weight: take(c1 * 9), conv1Bias: take(c1),
    conv2Weight: take(c2 * c1 * 9), conv2Bias: take(c2),
    linearWeight: take(CLASSES * c2 * 49), linearBias: take(CLASSES) };
  if (offset !== bytes.length) {
    throw new Error(`the weights hold ${bytes.length} bytes, not ${offset} for channels ` +
      `(${c1}, ${c2})`);
  }
  return net;
}

/**
 * A 3 × 3 convolution with padding 1 (cross-correlation, as PyTorch), then ReLU, then 2 × 2 max
 * pooling: `input` is channelsIn × side × side; returns channelsOut × side/2 × side/2.
 */
function convReluPool(input, channelsIn, side, weight, bias, channelsOut) {
  const wide = side + 2;
  const padded = new Float64Array(channelsIn * wide * wide);
  for (let c = 0; c < channelsIn; c++) {
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        padded[(c * wide + y + 1) * wide + x + 1] = input[(c * side + y) * side + x];
      }
    }
  }
  const half = side / 2;
  const conv = new Float64Array(side * side);
  const out = new Float64Array(channelsOut * half * half);
  for (let k = 0; k < channelsOut; k++) {
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        let total = 0;
        for (let c = 0; c < channelsIn; c++) {
          const w = (k * channelsIn + c) * 9;
          const p = (c * wide + y) * wide + x;
          total += weight[w] * padded[p] + weight[w + 1] * padded[p + 1]
            + weight[w + 2] * padded[p + 2] + weight[w + 3] * padded[p + wide]
            + weight[w + 4] * padded[p + wide + 1] + weight[w + 5] * padded[p + wide + 2]
            + weight[w + 6] * padded[p + 2 * wide] + weight[w + 7] * padded[p + 2 * wide + 1]
            + weight[w + 8] * padded[p + 2 * wide + 2];
        }
        conv[y * side + x] = Math.max(0, total + bias[k]);
      }
    }
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < half; j++) {
        const p = 2 * i * side + 2 * j;
        out[(k * half + i) * half + j] = Math.max(conv[p], conv[p + 1], conv[p + side],
          conv[p + side + 1]);
      }
    }
  }
  return out;
}

/** The CNN's ten probabilities for a 28 × 28 image in [0, 1] (as mlbook.digits.cnn_forward). */
export function cnnForward(net, image) {
  const x = new Float64Array(SIDE * SIDE);
  for (let i = 0; i < x.length; i++) x[i] = (image[i] - net.mean) / net.std;
  const first = convReluPool(x, 1, SIDE, net.conv1Weight, net.conv1Bias, net.c1);
  const features = convReluPool(first, net.c1, SIDE / 2, net.conv2Weight, net.conv2Bias,
    net.c2);
  const scores = new Float64Array(CLASSES);
  for (let k = 0; k < CLASSES; k++) {
    let total = 0;
    for (let j = 0; j < features.length; j++) {
      total += net.linearWeight[k * features.length + j] * features[j];
    }
    scores[k] = total + net.linearBias[k];
  }
  const top = Math.max(...scores);
  let sum = 0;
  for (let k = 0; k < CLASSES; k++) sum += Math.exp(scores[k] - top);
  return scores.map((v) => Math.exp(v - top) / sum);
}

/** Probabilities for many uint8 images (base64, N × 784), in one call (for the tests). */
export function predictImages(weights, channels, mean, std, imagesBase64) {
  const net = decodeWeights(weights, channels, mean, std);
  const bytes = Uint8Array.from(atob(imagesBase64), (c) => c.charCodeAt(0));
  const out = [];
  for (let start = 0; start < bytes.length; start += SIDE * SIDE) {
    const image = Float64Array.from(bytes.subarray(start, start + SIDE * SIDE), (v) => v / 255);
    out.push(Array.from(cnnForward(net, image)));
  }
  return out;
}

/** Rasterise and preprocess a drawing: the 28 × 28 image (or null), for the tests. */
export function drawingToImage(strokes, size, radius) {
  const image = preprocess(rasterise(strokes, size, radius), size);
  return image && Array.from(image);
}

/** Paint grey levels (0 paper … 1 ink) of a `width`-wide grid into a canvas region. */
function paintGrey(context, values, width, [x0, y0, x1, y1]) {
  const image = context.createImageData(x1 - x0 + 1, y1 - y0 + 1);
  const { data } = image;
  let o = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++, o += 4) {
      const grey = 255 - Math.round(255 * values[y * width + x]);
      data[o] = grey;
      data[o + 1] = grey;
      data[o + 2] = grey;
      data[o + 3] = 255;
    }
  }
  context.putImageData(image, x0, y0);
}

/** Ten bars, the predicted digit's highlighted (colour, bold label and its percentage). */
function barChart(probabilities) {
  const [width, height, top, bottom] = [300, 170, 22, 24];
  const step = width / CLASSES;
  const best = probabilities ? probabilities.indexOf(Math.max(...probabilities)) : -1;
  const percent = (p) => `${(100 * p).toFixed(2)} %`;
  const label = probabilities
    ? `The model's probabilities: ${probabilities.map((p, d) => `${d}: ${percent(p)}`)
      .join(", ")}.` : "No probabilities yet: nothing is drawn.";
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
    "aria-label": label, class: "mlbook-plot", style: { maxWidth: "340px" } });
  const base = height - bottom;
  svg.append(s("line", { x1: 0, x2: width, y1: base, y2: base, stroke: "#444" }));
  for (let d = 0; d < CLASSES; d++) {
    const p = probabilities ? probabilities[d] : 0;
    const barHeight = (base - top) * p;
    const chosen = d === best;
    svg.append(s("rect", { x: d * step + 4, y: base - barHeight, width: step - 8,
      height: barHeight, fill: chosen ? COLORS.vermillion : COLORS.blue, class: "mlbook-bar",
      "data-digit": d, "data-probability": p }, s("title", {}, `${d}: ${percent(p)}`)),
    s("text", { x: (d + 0.5) * step, y: height - 7, "text-anchor": "middle",
      "font-size": chosen ? 15 : 13, "font-weight": chosen ? 700 : 400, fill: "#222" },
    String(d)));
    if (chosen) {
      svg.append(s("text", { x: (d + 0.5) * step, y: base - barHeight - 6,
        "text-anchor": "middle", "font-size": 12, fill: "#222" }, percent(p)));
    }
  }
  return svg;
}

function render({ model, el }) {
  const root = h("div", { class: "mlbook-widget mlbook-draw-digit" });
  el.append(root);
  const size = model.get("size");
  const radius = model.get("brush");
  let ink = new Float64Array(size * size);
  let strokes = [];
  let current = null; // the stroke being drawn
  let saved = null; // the strokes this view last saved (their change event needs no redraw)
  let pending = null; // the animation frame that will classify the drawing
  let net = null;
  let prompting = false; // the status line asks the reader to draw

  const pad = h("canvas", { width: size, height: size, role: "img", "data-bench": "stroke",
    "aria-label": "Drawing area: draw a digit here with the mouse, a pen or a finger.",
    style: { width: `min(${size}px, 100%)`, display: "block", background: "#fff",
      touchAction: "none", cursor: "crosshair", outline: "1px solid #8a8a8a" } });
  const padContext = pad.getContext("2d");
  const seen = h("canvas", { width: SIDE, height: SIDE, role: "img",
    "aria-label": "The 28 × 28 image the model sees.", style: { width: "112px",
      height: "112px", imageRendering: "pixelated", outline: "1px solid #8a8a8a",
      display: "block" } });
  const seenContext = seen.getContext("2d");
  const bars = h("div", {});
  const readout = h("div", { class: "mlbook-readout", "aria-live": "polite" });
  const controls = buttons(root, [["clear", () => {
    strokes = [];
    current = null;
    redraw();
    store();
  }, "clear the drawing"]]);
  controls.querySelector("button").dataset.bench = "click";
  const column = (...children) => h("div", { style: { display: "flex", gap: "6px",
    flexDirection: "column", alignItems: "flex-start", flex: "0 1 auto" } }, children);
  root.append(h("div", { class: "mlbook-row", style: { alignItems: "flex-start" } },
    column(h("span", {}, "Draw a digit:"), pad, controls),
    column(h("span", {}, "What the model sees:"), seen),
    h("div", { style: { flex: "1 1 260px", minWidth: "0" } },
      h("span", {}, "Its probabilities:"), bars, readout)));

  /** The drawing's point under a pointer, in its own pixels (a tenth of one is enough). */
  function point(event) {
    const box = pad.getBoundingClientRect();
    const at = (client, start, length) => Math.round(
      10 * Math.min(size, Math.max(0, ((client - start) * size) / length))) / 10;
    return [at(event.clientX, box.left, box.width), at(event.clientY, box.top, box.height)];
  }

  function paint(rectangle) {
    if (rectangle) paintGrey(padContext, ink, size, rectangle);
  }

  function store() {
    saved = strokes.map((stroke) => stroke.slice());
    save(model, { strokes: saved });
  }

  /** Preprocess, classify and show; every redraw ends here. */
  const predict = guard(root, () => {
    if (pending !== null) cancelAnimationFrame(pending);
    pending = null;
    const image = preprocess(ink, size);
    if (!image) {
      seenContext.fillStyle = "#fff";
      seenContext.fillRect(0, 0, SIDE, SIDE);
      bars.replaceChildren(barChart(null));
      readout.textContent = "Nothing drawn yet.";
      delete root.dataset.prediction;
      say(root, "Draw a digit in the box: with the mouse, a pen or a finger.");
      prompting = true;
      rendered(root);
      return;
    }
    const probabilities = cnnForward(net, image);
    const best = probabilities.indexOf(Math.max(...probabilities));
    paintGrey(seenContext, image, SIDE, [0, 0, SIDE - 1, SIDE - 1]);
    bars.replaceChildren(barChart(Array.from(probabilities)));
    readout.textContent = `The model reads a ${best} (probability ${fmt(probabilities[best], 3)}).`;
    root.dataset.prediction = String(best);
    if (prompting) say(root, "");
    prompting = false;
    rendered(root);
  });

  /** Classify at the next frame: at most once a frame while the pen moves. */
  function schedule() {
    if (pending === null) pending = requestAnimationFrame(predict);
  }

  function redraw() {
    ink = rasterise(strokes, size, radius);
    paint([0, 0, size - 1, size - 1]);
    predict();
  }

  /** True, with a message, once the drawing holds as many points as it may. */
  function full() {
    if (strokes.reduce((total, stroke) => total + stroke.length, 0) < model.get("max_points")) {
      return false;
    }
    say(root, "The drawing is full: press clear to start again.", "warning");
    rendered(root);
    return true;
  }

  pad.addEventListener("pointerdown", guard(root, (event) => {
    if (!event.isPrimary || event.button !== 0 || !net) return;
    event.preventDefault();
    if (full()) return;
    try {
      pad.setPointerCapture(event.pointerId);
    } catch (_) {
      // a synthetic pointer (tests, benchmarks) cannot be captured; drawing works without it
    }
    const at = point(event);
    current = [at];
    strokes.push(current);
    paint(paintSegment(ink, size, radius, ...at, ...at));
    schedule();
  }));
  pad.addEventListener("pointermove", guard(root, (event) => {
    if (!current || !event.isPrimary) return;
    const at = point(event);
    const last = current[current.length - 1];
    if ((at[0] === last[0] && at[1] === last[1]) || full()) return;
    current.push(at);
    paint(paintSegment(ink, size, radius, ...last, ...at));
    schedule();
  }));
  const finish = guard(root, (event) => {
    if (!current || !event.isPrimary) return;
    current = null;
    store();
    predict(); // at once: the stroke is finished
  });
  pad.addEventListener("pointerup", finish);
  pad.addEventListener("pointercancel", finish);

  model.on("change:strokes", guard(root, () => {
    if (model.get("strokes") === saved) return;
    strokes = model.get("strokes").map((stroke) => stroke.map((p) => p.slice()));
    current = null;
    redraw();
  }));

  guard(root, () => {
    try {
      net = decodeWeights(model.get("weights"), model.get("channels"), model.get("mean"),
        model.get("std"));
    } catch (err) {
      say(root, `The model's weights could not be read (${err.message}).`, "error");
      rendered(root);
      return;
    }
    strokes = model.get("strokes").map((stroke) => stroke.map((p) => p.slice()));
    redraw();
  })();
}

export default { render };
