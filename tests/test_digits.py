"""The MNIST chapter's browser widgets (mlbook.digits): the Python references, the browser's
numerics against them and against PyTorch, and both widgets driven as a reader would, in a page
with no kernel."""

from __future__ import annotations

import base64
import json
import math

import numpy as np
import pytest
import torch
from conftest import call_js, load_module, open_page, renders, show_widgets, wait_rendered
from traitlets import TraitError

from mlbook import digits, load_mnist
from mlbook.mnist import small_cnn, split_indices

N_TRAIN, N_VALIDATION = 1000, 300
PARITY = 1e-9  # browser against Python, float64: relative difference


def train_small_cnn(epochs: int = 1, seed: int = 0):
    """A small_cnn trained briefly on the training images (a few seconds on the offline mirror),
    in evaluation mode, with the pixel mean and std it was trained with."""
    torch.manual_seed(seed)
    train = load_mnist(train=True)
    pixels = train.data.float() / 255
    mean, std = pixels.mean().item(), pixels.std().item()
    images, labels = ((pixels - mean) / std).unsqueeze(1), train.targets
    model = small_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    shuffle = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy shared machine: more threads only wait for each other
    try:
        model.train()
        for _ in range(epochs):
            for batch in torch.randperm(len(labels), generator=shuffle).split(64):
                loss = torch.nn.functional.cross_entropy(model(images[batch]), labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval(), mean, std


def torch_probabilities(model, images, mean, std) -> np.ndarray:
    """PyTorch's probabilities for 28 × 28 images in [0, 1]."""
    x = (torch.as_tensor(np.asarray(images), dtype=torch.float32) - mean) / std
    with torch.no_grad():
        return torch.softmax(model(x.reshape(-1, 1, 28, 28)), dim=1).numpy()


@pytest.fixture(scope="module")
def cnn():
    return train_small_cnn()


@pytest.fixture(scope="module")
def test_images():
    test = load_mnist(train=False)
    return test.data.numpy(), test.targets.numpy()


@pytest.fixture(scope="module")
def sample():
    train, test = load_mnist(train=True), load_mnist(train=False)
    return (train.data[:N_TRAIN].numpy(), train.targets[:N_TRAIN].numpy(),
            test.data[:N_VALIDATION].numpy(), test.targets[:N_VALIDATION].numpy())


def _trainer(sample, **settings):
    images, labels, val_images, val_labels = sample
    return digits.SoftmaxTrainer(images, labels, validation=(val_images, val_labels), **settings)


def _relative(a, b) -> float:
    """max |a − b| / max |b|: the relative difference of two arrays as a whole."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def _quiet(page) -> None:
    """No uncaught error, no console error, no failed request (the sandbox's missing favicon,
    which Chromium reports in the console without a URL, is not a request of the page's)."""
    log = page.mlbook_log
    assert not log.errors, log.errors
    assert not log.failed, log.failed
    assert not [m for m in log.console_errors if not m.startswith("Failed to load resource")]
    assert not log.off_origin(), log.off_origin()


def _status(root) -> str:
    status = root.locator(".mlbook-status")
    return status.inner_text() if status.count() else ""


# --- the random generator --------------------------------------------------------------------

def test_mulberry32_is_uniform_and_seeded():
    generator = digits.Mulberry32(7)
    values = np.array([generator.random() for _ in range(20_000)])
    assert values[0] == digits.Mulberry32(7).random() and 0 <= values.min() and values.max() < 1
    assert abs(values.mean() - 0.5) < 0.01 and abs(values.var() - 1 / 12) < 0.003
    assert sorted(digits.Mulberry32(3).permutation(50)) == list(range(50))
    assert not np.array_equal(digits.Mulberry32(3).permutation(50),
                              digits.Mulberry32(4).permutation(50))


def test_the_browser_draws_the_same_numbers(sandbox_page, sandbox):
    sandbox_page.goto(sandbox[1] + "/require-config.js")
    load_module(sandbox_page, "softmax_trainer")
    for seed in (0, 1, 42, 2**32 - 1):
        generator = digits.Mulberry32(seed)
        assert call_js(sandbox_page, "draws", seed, 2000) == [generator.random()
                                                              for _ in range(2000)]
        shuffled = sandbox_page.evaluate(
            "([seed, n]) => Array.from(window.mlbookModule.permutation(n, "
            "window.mlbookModule.mulberry32(seed)))", [seed, 1000])
        assert shuffled == digits.Mulberry32(seed).permutation(1000).tolist()


# --- softmax regression in Python ------------------------------------------------------------

def test_a_full_batch_step_from_zero_is_the_hand_gradient(sample):
    images, labels, _, _ = sample
    run = digits.train_softmax(images, labels, learning_rate=0.5, batch_size=len(labels),
                               steps=1)
    X = digits.pixels(images)
    error = np.full((len(labels), 10), 0.1)          # P = 1/10 everywhere while W = b = 0
    error[np.arange(len(labels)), labels] -= 1
    np.testing.assert_allclose(run.W, -0.5 * X.T @ error / len(labels), rtol=1e-12,
                               atol=1e-15)
    np.testing.assert_allclose(run.b, -0.5 * error.mean(axis=0), rtol=1e-12, atol=1e-15)
    assert run.history[0].loss == pytest.approx(math.log(10), rel=1e-12)


def test_training_lowers_the_loss_and_learns(sample):
    trainer = _trainer(sample)
    run = trainer.run()
    total = trainer.epochs * digits.steps_per_epoch(N_TRAIN, trainer.batch_size)
    assert run.step == total and not run.diverged
    assert run.history[-1].loss < 0.5 * run.history[0].loss
    assert run.history[-1].accuracy > 0.8
    assert [c.step for c in run.history] == list(range(0, total + 1, run.history[1].step))


def test_a_run_with_a_huge_learning_rate_stops_as_diverged(sample):
    trainer = _trainer(sample, learning_rate=50, batch_size=N_TRAIN)
    run = trainer.run()
    assert run.diverged and run.history[-1].loss > digits.DIVERGED_LOSS
    assert run.step < trainer.epochs  # one step an epoch: it stopped early


def test_a_run_with_other_settings_leaves_the_widget_alone(sample):
    trainer = _trainer(sample)
    other = trainer.run(learning_rate=50, batch_size=N_TRAIN)
    assert other.diverged and trainer.learning_rate == 0.5 and trainer.batch_size == 64
    assert not trainer.run(steps=3).diverged
    with pytest.raises(TypeError, match="not eta"):
        trainer.run(eta=0.1)
    with pytest.raises(ValueError, match="learning rate η must be a positive"):
        trainer.run(learning_rate=-1)


# --- softmax regression in the browser -------------------------------------------------------

def _browser_run(page, trainer, steps):
    options = {"learningRate": trainer.learning_rate, "batchSize": trainer.batch_size,
               "seed": trainer.seed, "epochs": trainer.epochs,
               "divergedLoss": trainer.diverged_loss, "chartPoints": trainer.chart_points}
    return call_js(page, "trainPacked", trainer.sample, trainer.n_train, trainer.n_validation,
                   options, steps)


@pytest.mark.parametrize(("settings", "step_counts"), [
    ({}, (1, 37, None)),
    ({"learning_rate": 0.5, "batch_size": 7, "seed": 5, "epochs": 2}, (1, 37, None)),
    ({"learning_rate": 5.0, "batch_size": 250, "seed": 9, "epochs": 3}, (1, 5, None)),
    # η = 2 with batches of 7 is chaotic: a rounding difference grows by about a third each
    # step, so no two float64 implementations stay within 1e-9 for long. They agree while it
    # is small.
    ({"learning_rate": 2.0, "batch_size": 7, "seed": 5, "epochs": 2}, (1, 30)),
])
def test_browser_iterates_equal_python(sandbox_page, sandbox, sample, settings, step_counts):
    sandbox_page.goto(sandbox[1] + "/require-config.js")
    load_module(sandbox_page, "softmax_trainer")
    trainer = _trainer(sample, **settings)
    for steps in step_counts:
        python = trainer.run(steps)
        browser = _browser_run(sandbox_page, trainer, python.step)
        assert _relative(np.reshape(browser["W"], (784, 10)), python.W) <= PARITY
        assert _relative(browser["b"], python.b) <= PARITY
    if steps is None:  # the whole run: the same checkpoints, losses and accuracies
        assert [p["step"] for p in browser["history"]] == [c.step for c in python.history]
        for point, checkpoint in zip(browser["history"], python.history, strict=True):
            assert point["loss"] == pytest.approx(checkpoint.loss, rel=PARITY)
            assert point["accuracy"] == checkpoint.accuracy


def test_a_reader_steps_and_plays_and_sees_pythons_numbers(sandbox_page, sandbox, sample):
    trainer = _trainer(sample)
    root = show_widgets(sandbox_page, sandbox, trainer).first
    eta = root.get_by_label("learning rate η", exact=True)
    eta.fill("0.3")
    eta.press("Enter")
    batch = root.get_by_label("batch size")
    batch.fill("32")
    batch.press("Enter")
    assert root.get_attribute("data-step") == "0"
    step = root.get_by_role("button", name="step")
    for _ in range(3):
        before = renders(root)
        step.click()
        wait_rendered(root, before)
    trainer.learning_rate, trainer.batch_size = 0.3, 32
    after_three = trainer.run(3).history[-1]
    assert root.get_attribute("data-step") == "3"
    assert float(root.get_attribute("data-loss")) == pytest.approx(after_three.loss, rel=PARITY)
    assert float(root.get_attribute("data-accuracy")) == after_three.accuracy
    assert "step 3 of 320" in root.locator(".mlbook-readout").inner_text()
    root.get_by_role("button", name="play").click()
    sandbox_page.wait_for_function("el => el.dataset.step === '320'", arg=root.element_handle())
    final = trainer.run().history[-1]
    assert float(root.get_attribute("data-loss")) == pytest.approx(final.loss, rel=PARITY)
    assert float(root.get_attribute("data-accuracy")) == final.accuracy
    assert "Done" in _status(root)
    assert root.get_by_role("button", name="play").inner_text() == "play"
    _quiet(sandbox_page)


def test_settings_from_python_show_in_the_page(sandbox_page, sandbox, sample):
    trainer = _trainer(sample)
    trainer.learning_rate, trainer.batch_size, trainer.seed, trainer.epochs = 0.05, 100, 3, 2
    root = show_widgets(sandbox_page, sandbox, trainer).first
    assert root.get_by_label("learning rate η", exact=True).input_value() == "0.05"
    assert root.get_by_label("batch size").input_value() == "100"
    assert root.get_by_label("seed").input_value() == "3"
    assert "step 0 of 20" in root.locator(".mlbook-readout").inner_text()
    assert float(root.get_attribute("data-loss")) == pytest.approx(math.log(10), rel=1e-12)
    _quiet(sandbox_page)


BAD_INPUT = {
    "learning rate η": [("", "Type a number"), ("fast", "not a number"), ("nan", "not a number"),
                        ("inf", "not a number"), ("Infinity", "finite"),
                        ("-0.1", "greater than 0"), ("0", "greater than 0"),
                        ("1e9", "at most 100")],
    "batch size": [("0", "at least 1"), ("1001", "at most 1000"), ("2.5", "whole number"),
                   ("", "Type a number"), ("1e9", "at most 1000")],
    "seed": [("-1", "at least 0"), ("1e10", "at most"), ("x", "not a number")],
}


@pytest.mark.parametrize("box", list(BAD_INPUT))
def test_bad_input_shows_a_message_and_changes_nothing(sandbox_page, sandbox, sample, box):
    root = show_widgets(sandbox_page, sandbox, _trainer(sample)).first
    before = root.locator(".mlbook-readout").inner_text()
    field = root.get_by_label(box, exact=True)
    for typed, says in BAD_INPUT[box]:
        field.fill(typed)
        field.press("Enter")
        assert says in root.locator(".mlbook-status.mlbook-error").inner_text(), typed
        assert field.get_attribute("aria-invalid") == "true"
        assert root.locator(".mlbook-readout").inner_text() == before
    _quiet(sandbox_page)


def test_a_divergent_run_stops_and_says_so(sandbox_page, sandbox, sample):
    trainer = _trainer(sample, learning_rate=50, batch_size=N_TRAIN)
    expected = trainer.run()
    root = show_widgets(sandbox_page, sandbox, trainer).first
    root.get_by_role("button", name="play").click()
    sandbox_page.wait_for_function(
        "el => el.querySelector('.mlbook-status').textContent.includes('diverged')",
        arg=root.element_handle())
    assert root.get_attribute("data-step") == str(expected.step)
    assert root.get_by_role("button", name="play").inner_text() == "play"
    assert "smaller η" in _status(root)
    _quiet(sandbox_page)


def test_the_trainer_refuses_bad_settings_in_python(sample):
    trainer = _trainer(sample)
    for name, value, says in [("learning_rate", 0.0, "positive"),
                              ("learning_rate", math.nan, "positive"),
                              ("learning_rate", 1e9, "at most"),
                              ("batch_size", 0, "from 1 to 1,000"),
                              ("batch_size", N_TRAIN + 1, "from 1 to 1,000"),
                              ("seed", -1, "seed"), ("epochs", 0, "epochs")]:
        with pytest.raises(TraitError, match=says):
            setattr(trainer, name, value)


def test_the_trainer_fallback_pictures_the_default_run(sample):
    html = _trainer(sample).fallback()
    assert html.startswith('<img src="data:image/png;base64,')
    assert "ten weight templates after 10 epochs" in html and "validation accuracy" in html


# --- drawing: rasterise and preprocess -------------------------------------------------------

def _one():
    return [[[140, 40], [146, 240]]]


def _zero():
    # to a tenth of a pixel, as the page records a pointer
    return [[[round(140 + 55 * math.cos(a), 1), round(140 + 85 * math.sin(a), 1)]
             for a in np.linspace(0, 2 * math.pi, 40)]]


def _seven():
    return [[[70, 50], [210, 50], [120, 240]]]


SYNTHETIC = {"one": _one, "zero": _zero, "seven": _seven, "example two": digits.example_strokes,
             "dot": lambda: [[[100.3, 100.7]]], "tiny": lambda: [[[10, 10], [14, 19]]],
             "edge": lambda: [[[0, 0], [280, 280]], [[280, 0], [0, 280]]],
             "wide": lambda: [[[20, 140], [260, 141]]]}


def test_preprocess_leaves_mnists_own_digits_unchanged(test_images):
    images, _ = test_images
    unchanged = sum(np.array_equal(digits.preprocess(image / 255), image / 255)
                    for image in images[:2000])
    assert unchanged >= 1995, f"only {unchanged} of 2,000 test digits came back unchanged"


@pytest.mark.parametrize("name", list(SYNTHETIC))
def test_preprocess_follows_mnists_recipe(name):
    image = digits.preprocess(digits.rasterise(SYNTHETIC[name]()))
    assert image.shape == (28, 28) and image.min() >= 0 and image.max() <= 1
    rows, columns = np.flatnonzero(image.max(axis=1) > 0), np.flatnonzero(image.max(axis=0) > 0)
    assert max(len(rows), len(columns)) == 20 and rows.size == rows[-1] - rows[0] + 1
    centre = [profile @ np.arange(28) / image.sum() for profile in (image.sum(axis=1),
                                                                     image.sum(axis=0))]
    assert all(abs(c - 14) <= 0.5 + 1e-9 for c in centre), centre


def test_an_empty_drawing_has_no_image():
    assert digits.preprocess(digits.rasterise([])) is None


@pytest.fixture
def draw_module(sandbox_page, sandbox):
    sandbox_page.goto(sandbox[1] + "/require-config.js")
    load_module(sandbox_page, "draw_digit")
    return sandbox_page


@pytest.mark.parametrize("name", list(SYNTHETIC))
def test_browser_preprocessing_equals_python_on_synthetic_strokes(draw_module, name):
    strokes = SYNTHETIC[name]()
    browser = call_js(draw_module, "drawingToImage", strokes, digits.CANVAS, digits.BRUSH)
    python = digits.preprocess(digits.rasterise(strokes))
    assert _relative(np.reshape(browser, (28, 28)), python) <= PARITY


def test_browser_preprocessing_equals_python_on_replayed_test_images(draw_module, test_images):
    images, _ = test_images
    for image in images[:25]:
        strokes = digits.strokes_from_image(image)
        browser = call_js(draw_module, "drawingToImage", strokes, digits.CANVAS, digits.BRUSH)
        assert _relative(np.reshape(browser, (28, 28)),
                         digits.preprocess(digits.rasterise(strokes))) <= PARITY


# --- the CNN ---------------------------------------------------------------------------------

def test_python_forward_pass_equals_pytorch(cnn, test_images):
    model, mean, std = cnn
    images, _ = test_images
    exported = digits.export_cnn(model, mean, std)
    ours = digits.cnn_forward(exported, images[:500] / 255)
    theirs = torch_probabilities(model, images[:500] / 255, mean, std)
    assert np.abs(ours - theirs).max() < 1e-5
    assert np.array_equal(ours.argmax(axis=1), theirs.argmax(axis=1))
    assert len(exported.to_bytes()) == 81_960 <= digits.MAX_WEIGHT_BYTES


def test_browser_cnn_equals_pytorch_on_500_test_images(draw_module, cnn, test_images):
    model, mean, std = cnn
    images, labels = test_images
    widget = digits.DrawDigit(model, mean=mean, std=std)
    chosen = images[:500]
    browser = np.array(call_js(draw_module, "predictImages", widget.weights, widget.channels,
                               mean, std, base64.b64encode(chosen.tobytes()).decode()))
    theirs = torch_probabilities(model, chosen / 255, mean, std)
    assert np.array_equal(browser.argmax(axis=1), theirs.argmax(axis=1))
    assert np.abs(browser - theirs).max() <= 1e-4
    assert _relative(browser, digits.cnn_forward(widget.cnn, chosen / 255)) <= PARITY
    assert np.mean(browser.argmax(axis=1) == labels[:500]) > 0.9


@pytest.mark.parametrize(("change", "says"), [
    (lambda m: torch.nn.Sequential(*list(m)[:-1]), "needs a trained mlbook.mnist.small_cnn"),
    (lambda m: torch.nn.Linear(784, 10), "got Linear"),
    (lambda m: small_cnn((8, 8)).train(), "evaluation mode"),
    (lambda m: small_cnn().eval(), "not been trained"),
])
def test_draw_digit_refuses_what_is_not_a_trained_small_cnn(cnn, change, says):
    model, mean, std = cnn
    with pytest.raises((TypeError, ValueError), match=says):
        digits.DrawDigit(change(model), mean=mean, std=std)


def test_draw_digit_refuses_other_shapes(cnn):
    model, mean, std = cnn
    other = small_cnn()
    other[3] = torch.nn.MaxPool2d(3)
    other.load_state_dict(model.state_dict())
    with pytest.raises(ValueError, match="2 × 2 pooling"):
        digits.DrawDigit(other.eval(), mean=mean, std=std)


# --- drawing in the page ---------------------------------------------------------------------

DRAW_JS = """(pad, [strokes, type]) => {
  const box = pad.getBoundingClientRect();
  const size = pad.width;
  const at = ([x, y]) => ({clientX: box.left + x * box.width / size,
    clientY: box.top + y * box.height / size, bubbles: true, pointerId: 7, pointerType: type,
    isPrimary: true, buttons: 1});
  for (const stroke of strokes) {
    pad.dispatchEvent(new PointerEvent('pointerdown', at(stroke[0])));
    for (const point of stroke.slice(1)) pad.dispatchEvent(new PointerEvent('pointermove',
      at(point)));
    pad.dispatchEvent(new PointerEvent('pointerup', at(stroke[stroke.length - 1])));
  }
}"""


def _draw(root, strokes, kind="mouse"):
    """Draw strokes on the widget's pad with pointer events; wait for the prediction."""
    before = renders(root)
    root.locator("canvas[data-bench=stroke]").evaluate(DRAW_JS, [strokes, kind])
    wait_rendered(root, before)


def _shown(root) -> np.ndarray:
    bars = root.locator("rect.mlbook-bar")
    return np.array([float(bars.nth(d).get_attribute("data-probability")) for d in range(10)])


def _clear(root):
    before = renders(root)
    root.get_by_role("button", name="clear").click()
    wait_rendered(root, before)


def test_strokes_set_in_python_show_pythons_prediction(sandbox_page, sandbox, cnn):
    model, mean, std = cnn
    widget = digits.DrawDigit(model, mean=mean, std=std)
    widget.strokes = _seven()
    root = show_widgets(sandbox_page, sandbox, widget).first
    expected = widget.probabilities()
    assert _relative(_shown(root), expected) <= PARITY
    assert root.get_attribute("data-prediction") == str(expected.argmax())
    assert f"reads a {expected.argmax()}" in root.locator(".mlbook-readout").inner_text()
    _quiet(sandbox_page)


def test_the_default_drawing_reads_as_a_two(sandbox_page, sandbox, cnn):
    model, mean, std = cnn
    root = show_widgets(sandbox_page, sandbox, digits.DrawDigit(model, mean=mean, std=std)).first
    assert root.get_attribute("data-prediction") == "2"
    assert root.locator("canvas[data-bench=stroke]").evaluate(
        "el => getComputedStyle(el).touchAction") == "none"
    _quiet(sandbox_page)


@pytest.mark.parametrize("kind", ["mouse", "touch", "pen"])
def test_drawn_strokes_are_read_as_python_reads_them(sandbox_page, sandbox, cnn, kind):
    model, mean, std = cnn
    widget = digits.DrawDigit(model, mean=mean, std=std, strokes=[])
    root = show_widgets(sandbox_page, sandbox, widget).first
    assert "Draw a digit" in _status(root) and root.get_attribute("data-prediction") is None
    for strokes, digit in [(_one(), 1), (_zero(), 0), (_seven(), 7)]:
        _draw(root, strokes, kind)
        assert root.get_attribute("data-prediction") == str(digit)
        widget.strokes = strokes
        assert _relative(_shown(root), widget.probabilities()) <= PARITY
        _clear(root)
    assert root.get_attribute("data-prediction") is None
    assert _shown(root).max() == 0
    _quiet(sandbox_page)


def test_a_full_drawing_takes_no_more_points(sandbox_page, sandbox, cnn):
    model, mean, std = cnn
    almost = [[[20 + 240 * k / digits.MAX_POINTS, 140] for k in range(digits.MAX_POINTS - 1)]]
    root = show_widgets(sandbox_page, sandbox,
                        digits.DrawDigit(model, mean=mean, std=std, strokes=almost)).first
    _draw(root, [[[140, 40], [141, 120], [142, 200]]])
    assert "The drawing is full: press clear" in _status(root)
    _clear(root)
    _draw(root, _one())
    assert root.get_attribute("data-prediction") == "1" and _status(root) == ""
    _quiet(sandbox_page)


def test_a_real_mouse_draws_a_one(sandbox_page, sandbox, cnn):
    model, mean, std = cnn
    root = show_widgets(sandbox_page, sandbox,
                        digits.DrawDigit(model, mean=mean, std=std, strokes=[])).first
    box = root.locator("canvas[data-bench=stroke]").bounding_box()
    before = renders(root)
    mouse = sandbox_page.mouse
    mouse.move(box["x"] + box["width"] / 2, box["y"] + 30)
    mouse.down()
    for k in range(1, 21):
        mouse.move(box["x"] + box["width"] / 2 + k * 0.4, box["y"] + 30 + k * 10)
    mouse.up()
    wait_rendered(root, before)
    assert root.get_attribute("data-prediction") == "1"
    _quiet(sandbox_page)


def test_replayed_test_images_are_read_as_pytorch_reads_them(sandbox_page, sandbox, cnn,
                                                             test_images):
    model, mean, std = cnn
    images, labels = test_images
    widget = digits.DrawDigit(model, mean=mean, std=std, strokes=[])
    root = show_widgets(sandbox_page, sandbox, widget).first
    right = 0
    for image, label in zip(images[:20], labels[:20]):
        strokes = digits.strokes_from_image(image)
        _draw(root, strokes)
        seen = digits.preprocess(digits.rasterise(strokes))
        expected = torch_probabilities(model, seen, mean, std)[0]
        assert np.abs(_shown(root) - expected).max() <= 1e-4
        assert root.get_attribute("data-prediction") == str(expected.argmax())
        right += expected.argmax() == label
        _clear(root)
    assert right >= 16, f"only {right} of 20 replayed test digits read as their label"
    _quiet(sandbox_page)


def test_the_drawing_fallback_pictures_the_default_state(cnn):
    model, mean, std = cnn
    html = digits.DrawDigit(model, mean=mean, std=std).fallback()
    assert html.startswith('<img src="data:image/png;base64,')
    assert "the model reads a 2" in html


# --- the chapter's page, as built ------------------------------------------------------------

PAGE = "chapters/mnist"


def _chapters_trainer() -> digits.SoftmaxTrainer:
    """The trainer the chapter shows: 1,000 images of its training split, 200 held out."""
    train = load_mnist(train=True)
    train_index, validation_index = split_indices(len(train.targets), 0.1, seed=0)
    sample, held_out = train_index[:1000], validation_index[:200]
    return digits.SoftmaxTrainer(
        train.data[sample].numpy(), train.targets[sample].numpy(),
        validation=(train.data[held_out].numpy(), train.targets[held_out].numpy()))


def _pages_cnn(page) -> digits.ExportedCNN:
    """The CNN whose weights the page carries, read from its saved widget state."""
    state = json.loads(page.locator(
        'script[type="application/vnd.jupyter.widget-state+json"]').text_content())
    traits = next(model["state"] for model in state["state"].values()
                  if "weights" in model["state"])
    c1, c2 = traits["channels"]
    shapes = [(c1, 1, 3, 3), (c1,), (c2, c1, 3, 3), (c2,), (10, c2 * 49), (10,)]
    flat = np.frombuffer(base64.b64decode(traits["weights"]), dtype="<f4")
    arrays = np.split(flat, np.cumsum([math.prod(shape) for shape in shapes])[:-1])
    return digits.ExportedCNN(*(a.reshape(shape) for a, shape in zip(arrays, shapes)),
                              traits["mean"], traits["std"])


def test_the_books_trainer_steps_as_python_does(page, server):
    open_page(page, server, PAGE)
    root = page.locator(".mlbook-widget[data-step]")
    eta = root.get_by_label("learning rate η", exact=True)
    eta.fill("2")
    eta.press("Enter")
    before = root.locator(".mlbook-readout").inner_text()
    for _ in range(3):
        drawn = renders(root)
        root.get_by_role("button", name="step").click()
        wait_rendered(root, drawn)
    expected = _chapters_trainer().run(3, learning_rate=2.0).history[-1]
    assert root.locator(".mlbook-readout").inner_text() != before
    assert root.get_attribute("data-step") == "3"
    assert float(root.get_attribute("data-loss")) == pytest.approx(expected.loss, rel=PARITY)
    assert float(root.get_attribute("data-accuracy")) == expected.accuracy
    _quiet(page)


def test_the_books_drawing_reads_replayed_test_digits(page, server, test_images):
    open_page(page, server, PAGE)
    root = page.locator(".mlbook-widget:has(canvas[data-bench=stroke])")
    assert root.get_attribute("data-prediction") == "2"   # the example drawing
    cnn = _pages_cnn(page)
    images, labels = test_images
    for image, label in zip(images[:3], labels[:3]):
        _clear(root)
        strokes = digits.strokes_from_image(image)
        _draw(root, strokes)
        seen = digits.preprocess(digits.rasterise(strokes))
        expected = digits.cnn_forward(cnn, seen[None])[0]
        assert _relative(_shown(root), expected) <= PARITY
        assert root.get_attribute("data-prediction") == str(label) == str(expected.argmax())
    _quiet(page)
