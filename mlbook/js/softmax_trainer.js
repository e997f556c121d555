// ---- mlbook/js/softmax_trainer.js: softmax regression trained in the browser --------------------
// (mlbook.digits.SoftmaxTrainer). The numerics mirror mlbook/digits.py (Mulberry32,
// train_softmax, loss_and_accuracy) operation for operation, in float64; tests/test_digits.py
// checks the two against each other.

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const CLASSES = 10;
const FRAME_MS = 10; // training time per animation frame while playing
// ColorBrewer's PuOr, as matplotlib's "PuOr" (the book's diverging map): orange for negative
// weights, white for zero, purple for positive ones.
const PUOR = ["#7f3b08", "#b35806", "#e08214", "#fdb863", "#fee0b6", "#f7f7f7", "#d8daeb",
  "#b2abd2", "#8073ac", "#542788", "#2d004b"];

/** Tommy Ettinger's mulberry32: a function that draws uniform numbers in [0, 1) from `seed`. */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The first `count` numbers mulberry32 draws from `seed` (for the tests). */
export function draws(seed, count) {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => random());
}

/** A shuffle of 0, ..., n − 1: Fisher–Yates, swapping each i from the end with a j ≤ i. */
export function permutation(n, random) {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** The bytes Python packed (base64 of zlib-deflated data, mlbook.digits._pack), inflated. */
export async function inflate(base64) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * n images from `bytes` (uint8 from `start` on) and their labels, as sparse rows: most pixels are
 * blank, and skipping them makes every product five times cheaper.
 */
function imageSet(bytes, labels, start, n) {
  const end = start + n * PIXELS;
  let count = 0;
  for (let i = start; i < end; i++) if (bytes[i]) count++;
  const offsets = new Int32Array(n + 1);
  const index = new Uint16Array(count);
  const value = new Float64Array(count);
  let k = 0;
  for (let image = 0; image < n; image++) {
    const base = start + image * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      if (bytes[base + p]) {
        index[k] = p;
        value[k] = bytes[base + p] / 255;
        k++;
      }
    }
    offsets[image + 1] = k;
  }
  return { n, labels, offsets, index, value };
}

/** The training and validation sets from the widget's packed sample. */
export async function unpack(sample, nTrain, nValidation) {
  const bytes = await inflate(sample);
  const labelBytes = nTrain + nValidation;
  return {
    train: imageSet(bytes, bytes.subarray(0, nTrain), labelBytes, nTrain),
    validation: nValidation ? imageSet(bytes, bytes.subarray(nTrain, labelBytes),
      labelBytes + nTrain * PIXELS, nValidation) : null,
  };
}

/** The ten scores x W + b of image i of `set`, written into `out`. */
function scores(set, i, W, b, out) {
  out.fill(0);
  for (let k = set.offsets[i]; k < set.offsets[i + 1]; k++) {
    const v = set.value[k];
    const row = set.index[k] * CLASSES;
    for (let c = 0; c < CLASSES; c++) out[c] += v * W[row + c];
  }
  for (let c = 0; c < CLASSES; c++) out[c] += b[c];
}

/** log P from scores, in place: subtracting the largest score keeps exp finite. */
function logSoftmax(s) {
  let top = -Infinity;
  for (let c = 0; c < CLASSES; c++) top = Math.max(top, s[c]);
  let total = 0;
  for (let c = 0; c < CLASSES; c++) total += Math.exp(s[c] - top);
  const logTotal = Math.log(total);
  for (let c = 0; c < CLASSES; c++) s[c] = s[c] - top - logTotal;
}

/** The index of the largest of ten numbers; ties go to the lower index, as argmax does. */
function argmax(s) {
  let best = 0;
  for (let c = 1; c < CLASSES; c++) if (s[c] > s[best]) best = c;
  return best;
}

/** [mean cross-entropy on `train`, accuracy on `held` (or on `train` when there is none)]. */
export function lossAndAccuracy(W, b, train, held) {
  const s = new Float64Array(CLASSES);
  let loss = 0;
  for (let i = 0; i < train.n; i++) {
    scores(train, i, W, b, s);
    logSoftmax(s);
    loss -= s[train.labels[i]];
  }
  const judged = held || train;
  let right = 0;
  for (let i = 0; i < judged.n; i++) {
    scores(judged, i, W, b, s);
    if (argmax(s) === judged.labels[i]) right++;
  }
  return [loss / train.n, right / judged.n];
}

/**
 * Minibatch SGD on softmax regression, as mlbook.digits.train_softmax: W = b = 0 at first; each
 * epoch shuffles with mulberry32 (one stream for the run); a step is θ ← θ − η ∇L on the batch's
 * mean cross-entropy. The loss and accuracy are measured before the first step, every
 * `checkEvery` steps and after the last; a loss above `divergedLoss` stops the run.
 */
export class SoftmaxSGD {
  constructor(train, validation, { learningRate, batchSize, seed, epochs, divergedLoss,
    chartPoints }) {
    Object.assign(this, { train, validation, learningRate, batchSize, divergedLoss });
    this.perEpoch = Math.ceil(train.n / batchSize);
    this.total = epochs * this.perEpoch;
    this.checkEvery = Math.max(1, Math.ceil(this.total / chartPoints));
    this.random = mulberry32(seed);
    this.W = new Float64Array(PIXELS * CLASSES);
    this.b = new Float64Array(CLASSES);
    this.gradW = new Float64Array(PIXELS * CLASSES);
    this.gradB = new Float64Array(CLASSES);
    this.step = 0;
    this.order = null;
    this.cursor = train.n;
    this.history = [];
    this.diverged = false;
    this.check();
  }

  get finished() {
    return this.diverged || this.step >= this.total;
  }

  /** Measure the loss and accuracy now (once per step), and stop a diverged run. */
  check() {
    const last = this.history[this.history.length - 1];
    if (last && last.step === this.step) return last;
    const [loss, accuracy] = lossAndAccuracy(this.W, this.b, this.train, this.validation);
    const point = { step: this.step, loss, accuracy };
    this.history.push(point);
    this.diverged = !(loss <= this.divergedLoss);
    return point;
  }

  /** One SGD step on the next batch. */
  sgdStep() {
    const { train, W, b, gradW, gradB } = this;
    if (this.cursor >= train.n) {
      this.order = permutation(train.n, this.random);
      this.cursor = 0;
    }
    const end = Math.min(this.cursor + this.batchSize, train.n);
    const m = end - this.cursor;
    const error = new Float64Array(CLASSES);
    gradW.fill(0);
    gradB.fill(0);
    for (let t = this.cursor; t < end; t++) {
      const i = this.order[t];
      scores(train, i, W, b, error);
      logSoftmax(error);
      for (let c = 0; c < CLASSES; c++) error[c] = Math.exp(error[c]); // P ...
      error[train.labels[i]] -= 1; // ... minus the one-hot Y
      for (let c = 0; c < CLASSES; c++) {
        error[c] /= m;
        gradB[c] += error[c];
      }
      for (let k = train.offsets[i]; k < train.offsets[i + 1]; k++) {
        const v = train.value[k];
        const row = train.index[k] * CLASSES;
        for (let c = 0; c < CLASSES; c++) gradW[row + c] += v * error[c];
      }
    }
    for (let j = 0; j < W.length; j++) W[j] -= this.learningRate * gradW[j];
    for (let c = 0; c < CLASSES; c++) b[c] -= this.learningRate * gradB[c];
    this.cursor = end;
    this.step += 1;
    if (this.step % this.checkEvery === 0 || this.step === this.total) this.check();
  }

  /** Steps for about `ms` milliseconds (at least one), until the run is finished. */
  advance(ms) {
    const start = performance.now();
    do this.sgdStep();
    while (!this.finished && performance.now() - start < ms);
  }
}

/** Train `steps` steps on the packed sample; W, b and the checkpoints (for the tests). */
export async function trainPacked(sample, nTrain, nValidation, options, steps) {
  const { train, validation } = await unpack(sample, nTrain, nValidation);
  const run = new SoftmaxSGD(train, validation, options);
  while (run.step < steps && !run.diverged) run.sgdStep();
  return { W: Array.from(run.W), b: Array.from(run.b), history: run.history,
    diverged: run.diverged };
}

/** [r, g, b] of PuOr at u in [0, 1], interpolating linearly between its eleven colours. */
function puor(u) {
  const x = Math.min(1, Math.max(0, u)) * (PUOR.length - 1);
  const i = Math.min(PUOR.length - 2, Math.floor(x));
  const rgb = (hex) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  const [a, z] = [rgb(PUOR[i]), rgb(PUOR[i + 1])];
  return a.map((v, k) => Math.round(v + (z[k] - v) * (x - i)));
}

const PUOR_TABLE = Array.from({ length: 256 }, (_, i) => puor(i / 255));

/** Draw column `digit` of W as a 28 × 28 image on its own symmetric colour scale. */
function paintTemplate(canvas, W, digit) {
  let limit = 0;
  for (let p = 0; p < PIXELS; p++) limit = Math.max(limit, Math.abs(W[p * CLASSES + digit]));
  const context = canvas.getContext("2d");
  const image = context.createImageData(SIDE, SIDE);
  for (let p = 0; p < PIXELS; p++) {
    const u = limit > 0 ? (W[p * CLASSES + digit] / limit + 1) / 2 : 0.5;
    const colour = PUOR_TABLE[Math.round(u * 255)];
    for (let c = 0; c < 3; c++) image.data[4 * p + c] = colour[c];
    image.data[4 * p + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

function render({ model, el }) {
  const root = h("div", { class: "mlbook-widget mlbook-softmax-trainer" });
  el.append(root);
  let sets = null; // the unpacked sample
  let run = null;
  let playing = false;
  let frame = null;

  const n = () => model.get("n_train");
  const accuracyName = () => (model.get("n_validation") ? "validation accuracy"
    : "training accuracy");

  const rate = logSlider(root, { label: "learning rate η", value: model.get("learning_rate"),
    min: 0.001, max: 100, onValue: (v) => {
      const most = model.get("max_learning_rate");
      if (v > most) {
        rate.input.setAttribute("aria-invalid", "true");
        say(root, `η = ${fmt(v)} is too large: type at most ${fmt(most)} (try 0.5).`, "error");
        rendered(root);
        return;
      }
      change({ learning_rate: v });
    } });
  const batch = numberBox(root, { label: "batch size", value: model.get("batch_size"),
    width: "5em", integer: true, min: 1, max: n(), onValue: (v) => change({ batch_size: v }) });
  const seed = numberBox(root, { label: "seed", value: model.get("seed"), width: "7em",
    integer: true, min: 0, max: 4294967295, onValue: (v) => change({ seed: v }) });
  const controls = buttons(root, [
    ["step", () => { stop(); stepOnce(); }, "one SGD step on the next batch"],
    ["play", () => (playing ? pause() : play()), "train until the last epoch"],
    ["reset", () => { stop(); restart(); }, "back to step 0, W = b = 0"],
  ]);
  const playButton = controls.querySelectorAll("button")[1];
  for (const button of controls.querySelectorAll("button")) button.dataset.bench = "click";
  rate.input.dataset.bench = "value:0.05|0.5|5";
  batch.input.dataset.bench = "value:16|64";

  const templateCanvases = Array.from({ length: CLASSES }, () => h("canvas", {
    width: SIDE, height: SIDE, "aria-hidden": "true",
    style: { width: "100%", imageRendering: "pixelated", display: "block" } }));
  const templates = h("div", { role: "img", style: { display: "grid", gap: "4px",
    gridTemplateColumns: `repeat(${CLASSES}, minmax(0, 1fr))`, maxWidth: "620px" } },
  templateCanvases.map((canvas, digit) => h("div", { style: { textAlign: "center" } }, canvas,
    h("span", { style: { fontSize: "0.85em" } }, String(digit)))));
  const lossBox = h("div", {});
  const accuracyBox = h("div", {});
  const readout = h("div", { class: "mlbook-readout", "aria-live": "polite" });
  root.append(h("div", { class: "mlbook-row" }, rate),
    h("div", { class: "mlbook-row" }, batch, seed, controls), templates,
    h("div", { class: "mlbook-figures" }, lossBox, accuracyBox), readout);

  /** Save new settings; the model's change events restart the run. */
  function change(values) {
    const same = Object.entries(values).every(([k, v]) => model.get(k) === v);
    if (same) draw();
    else save(model, values);
  }

  function restart() {
    if (!sets) return;
    stop();
    run = new SoftmaxSGD(sets.train, sets.validation, {
      learningRate: model.get("learning_rate"), batchSize: model.get("batch_size"),
      seed: model.get("seed"), epochs: model.get("epochs"),
      divergedLoss: model.get("diverged_loss"), chartPoints: model.get("chart_points") });
    rate.set(run.learningRate);
    batch.set(run.batchSize);
    seed.set(model.get("seed"));
    say(root, "");
    draw();
  }

  function stop() {
    playing = false;
    if (frame !== null) cancelAnimationFrame(frame);
    frame = null;
    playButton.textContent = "play";
    playButton.setAttribute("aria-pressed", "false");
  }

  function pause() {
    stop();
    draw();
  }

  /** Say why the run cannot go on, if it cannot; true when it is over. */
  function over() {
    if (!run.finished) return false;
    const last = run.history[run.history.length - 1];
    if (run.diverged) {
      say(root, `The run diverged at step ${last.step}: the training loss reached ` +
        `${fmt(last.loss)}, more than ${fmt(run.divergedLoss / Math.log(CLASSES), 3)} times ` +
        `that of the untrained model (ln 10 ≈ 2.303). Choose a smaller η or a larger batch.`,
      "warning");
    } else {
      say(root, `Done: ${model.get("epochs")} epochs. Press reset to train again, or change ` +
        "η, the batch size or the seed.");
    }
    return true;
  }

  function stepOnce() {
    if (!over()) {
      run.sgdStep();
      run.check();
      over();
    }
    draw();
  }

  function play() {
    if (over()) {
      draw();
      return;
    }
    playing = true;
    playButton.textContent = "pause";
    playButton.setAttribute("aria-pressed", "true");
    run.sgdStep(); // one step at once, so the page answers the click; frames do the rest
    tick();
  }

  const tick = guard(root, () => {
    frame = null;
    if (playing && over()) stop();
    draw();
    if (!playing) return;
    frame = requestAnimationFrame(guard(root, () => {
      if (!playing) return;
      run.advance(FRAME_MS);
      tick();
    }));
  });

  /** The two charts' axes, built again only when their ranges change. */
  let charts = null;
  function axes(epochs, low, high) {
    const key = `${epochs} ${low} ${high} ${accuracyName()}`;
    if (charts && charts.key === key) return charts;
    const loss = plot({ width: 320, height: 220, x: [0, epochs], y: [low, high], logY: true,
      xlabel: "epoch", ylabel: "training loss L (log scale)" });
    loss.layer.append(line(loss.x, loss.y, [[0, Math.log(CLASSES)], [epochs, Math.log(CLASSES)]],
      { stroke: COLORS.grey, "stroke-width": 1.2, "stroke-dasharray": "5 4" }));
    const accuracy = plot({ width: 320, height: 220, x: [0, epochs], y: [0, 1],
      xlabel: "epoch", ylabel: accuracyName() });
    lossBox.replaceChildren(loss.svg);
    accuracyBox.replaceChildren(accuracy.svg);
    charts = { key, loss, accuracy, lossLine: s("path"), accuracyLine: s("path") };
    loss.layer.append(charts.lossLine);
    accuracy.layer.append(charts.accuracyLine);
    return charts;
  }

  const draw = guard(root, () => {
    if (!run) return;
    templateCanvases.forEach((canvas, digit) => paintTemplate(canvas, run.W, digit));
    const { history, perEpoch, total } = run;
    const last = history[history.length - 1];
    const losses = history.map((p) => p.loss).filter(Number.isFinite);
    const { loss, accuracy, ...lines } = axes(total / perEpoch,
      10 ** Math.floor(Math.log10(Math.min(0.1, ...losses))),
      10 ** Math.ceil(Math.log10(Math.max(3, ...losses))));
    const curve = (plotted, value, colour) => line(plotted.x, plotted.y,
      history.map((p) => [p.step / perEpoch, p[value]]), { stroke: colour, "stroke-width": 2 });
    charts.lossLine = curve(loss, "loss", COLORS.vermillion);
    charts.accuracyLine = curve(accuracy, "accuracy", COLORS.blue);
    lines.lossLine.replaceWith(charts.lossLine);
    lines.accuracyLine.replaceWith(charts.accuracyLine);
    const epoch = fmt(run.step / perEpoch, 3);
    loss.svg.setAttribute("aria-label", `The training loss over the first ${epoch} epochs, ` +
      `now ${fmt(last.loss)}; dashed: ln 10, the untrained model's loss.`);
    accuracy.svg.setAttribute("aria-label", `The ${accuracyName()} over the first ${epoch} ` +
      `epochs, now ${fmt(last.accuracy, 3)}.`);
    templates.setAttribute("aria-label", "The ten weight templates, digits 0 to 9, after step " +
      `${run.step}: purple pixels raise a digit's score, orange pixels lower it.`);
    readout.textContent = `step ${run.step} of ${total} (epoch ${epoch}) · training loss L = ` +
      `${fmt(last.loss, 5)} · ${accuracyName()} ${fmt(last.accuracy, 4)} (at step ${last.step})`;
    Object.assign(root.dataset, { step: run.step, checkpoint: last.step, loss: last.loss,
      accuracy: last.accuracy });
    rendered(root);
  });

  for (const name of ["learning_rate", "batch_size", "seed", "epochs"]) {
    model.on(`change:${name}`, guard(root, restart));
  }
  say(root, "Unpacking the sample…");
  return (async () => {
    try {
      if (typeof DecompressionStream !== "function") {
        throw new Error("this browser cannot inflate data (it lacks DecompressionStream)");
      }
      sets = await unpack(model.get("sample"), n(), model.get("n_validation"));
    } catch (err) {
      say(root, `The sample could not be read (${err.message}). Use a recent Chrome, ` +
        "Firefox or Safari.", "error");
      rendered(root);
      return;
    }
    guard(root, restart)();
  })();
}

export default { render };
