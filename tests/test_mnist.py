"""The MNIST chapter: its maths (run from the notebook's own cells), mlbook.mnist, and its page."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, SITE, choose, open_page, step_forward, stepper, visible_frame

from mlbook import MNISTUnavailableError, load_mnist, mnist

NOTEBOOK = ROOT / "chapters" / "mnist.ipynb"


@pytest.fixture(scope="module")
def chapter():
    """The chapter's own NumPy functions: the tests check the code the reader reads."""
    return mnist.chapter_definitions(NOTEBOOK)


@pytest.fixture(scope="module")
def data():
    X, y = mnist.as_arrays(load_mnist(train=True))
    train, validation = mnist.split_indices(len(y), 0.1, seed=0)
    return X[train], y[train], X[validation], y[validation]


def _random_problem(seed=0, n=50):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 784))
    y = rng.integers(0, 10, size=n)
    return rng.normal(0, 0.05, size=(784, 10)), rng.normal(0, 0.05, size=10), X, y


def test_hand_gradient_equals_autograd(chapter):
    W, b, X, y = _random_problem()
    loss, dW, db = chapter["loss_and_gradient"](W, b, X, y)
    W_t, b_t = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    torch_loss = torch.nn.functional.cross_entropy(torch.tensor(X) @ W_t + b_t, torch.tensor(y))
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-12)
    np.testing.assert_allclose(dW, W_t.grad.numpy(), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(db, b_t.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_hand_gradient_equals_finite_differences(chapter):
    W, b, X, y = _random_problem(seed=1)
    loss_and_gradient = chapter["loss_and_gradient"]
    _, dW, db = loss_and_gradient(W, b, X, y)
    h = 1e-6
    for i, k in [(300, 3), (400, 7), (500, 0)]:
        step = np.zeros_like(W)
        step[i, k] = h
        numeric = (loss_and_gradient(W + step, b, X, y)[0]
                   - loss_and_gradient(W - step, b, X, y)[0]) / (2 * h)
        assert numeric == pytest.approx(dW[i, k], rel=1e-6, abs=1e-10)
    step = np.zeros_like(b)
    step[4] = h
    numeric = (loss_and_gradient(W, b + step, X, y)[0]
               - loss_and_gradient(W, b - step, X, y)[0]) / (2 * h)
    assert numeric == pytest.approx(db[4], rel=1e-6)


def test_log_softmax_survives_huge_scores(chapter):
    log_p = chapter["log_softmax"](np.array([[1000.0, 0.0, -1000.0]]))
    assert np.all(np.isfinite(log_p)) and np.exp(log_p).sum() == pytest.approx(1.0)


def test_one_sgd_step_lowers_the_loss_on_its_batch(chapter, data):
    X_train, y_train, _, _ = data
    loss_and_gradient = chapter["loss_and_gradient"]
    W, b, _ = chapter["sgd"](X_train, y_train, eta=0.5, batch_size=64, epochs=1)
    batch = np.random.default_rng(0).choice(len(y_train), size=64, replace=False)
    before, dW, db = loss_and_gradient(W, b, X_train[batch], y_train[batch])
    after, _, _ = loss_and_gradient(W - 0.1 * dW, b - 0.1 * db, X_train[batch], y_train[batch])
    assert after < before


def test_numpy_model_beats_nearest_class_mean(chapter, data):
    X_train, y_train, X_val, y_val = data
    means = np.stack([X_train[y_train == k].mean(axis=0) for k in range(10)])
    distances = ((X_val[:, None, :] - means[None]) ** 2).sum(axis=2)
    baseline = np.mean(distances.argmin(axis=1) == y_val)
    W, b, _ = chapter["sgd"](X_train, y_train, eta=0.5, batch_size=64, epochs=5)
    learned = chapter["accuracy"](W, b, X_val, y_val)
    assert baseline > 0.5, "the baseline itself must be sensible"
    assert learned > baseline + 0.03


def test_sgd_records_the_requested_steps(chapter, data):
    X_train, y_train, _, _ = data
    _, _, history = chapter["sgd"](X_train[:640], y_train[:640], 0.5, 64, 2, record_at=(0, 3, 15))
    assert [step for step, _, _ in history] == [0, 3, 15]
    assert not history[0][1].any(), "step 0 is the zero initialisation"
    assert history[2][1].any()


def test_saving_then_loading_gives_identical_predictions(tmp_path):
    torch.manual_seed(0)
    model = mnist.small_cnn()
    # A few training steps so that batch-norm statistics and weights are not at their defaults.
    images, labels = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(3):
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    path = tmp_path / "cnn.pt"
    torch.save(model.state_dict(), path)
    restored = mnist.small_cnn()
    restored.load_state_dict(torch.load(path))
    cpu = torch.device("cpu")
    assert torch.equal(mnist.predict_probabilities(model, images, cpu),
                       mnist.predict_probabilities(restored, images, cpu))
    assert not torch.equal(mnist.predict_probabilities(mnist.small_cnn(), images, cpu),
                           mnist.predict_probabilities(model, images, cpu))


def test_device_selection_falls_back_to_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert mnist.pick_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert mnist.pick_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert mnist.pick_device() == torch.device("cuda")


def test_a_bad_data_root_gives_the_loaders_clear_message(tmp_path):
    not_a_folder = tmp_path / "mnist.txt"
    not_a_folder.write_text("not MNIST")
    with pytest.raises(MNISTUnavailableError, match="MLBOOK_DATA"):
        load_mnist(train=True, root=not_a_folder)


def test_split_is_seeded_disjoint_and_complete():
    train, validation = mnist.split_indices(1000, 0.1, seed=0)
    again, _ = mnist.split_indices(1000, 0.1, seed=0)
    assert len(validation) == 100 and np.array_equal(train, again)
    assert sorted(np.concatenate([train, validation]).tolist()) == list(range(1000))
    with pytest.raises(ValueError):
        mnist.split_indices(1000, 1.0)


def test_small_cnn_shapes_and_parameter_count():
    model = mnist.small_cnn()
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert mnist.count_parameters(model) == 160 + 32 + 4640 + 64 + 15690


def test_confusion_matrix_counts():
    counts = mnist.confusion_matrix([1, 1, 2, 3], [1, 2, 2, 3])
    assert counts.sum() == 4 and counts[1, 2] == 1 and np.trace(counts) == 3


def test_template_png_is_small_and_changes_with_the_weights():
    rng = np.random.default_rng(0)
    first = mnist.templates_png(rng.normal(size=(784, 10)))
    second = mnist.templates_png(rng.normal(size=(784, 10)))
    assert first.startswith(b"\x89PNG") and len(first) < 15_000
    assert first != second
    assert mnist.templates_png(np.zeros((784, 10))).startswith(b"\x89PNG")


def test_static_progress_bar_prints_one_final_line(monkeypatch, capsys):
    monkeypatch.setenv("MLBOOK_BUILD", "static")
    with mnist.progress_bar(total=1000, description="test") as bar:
        for _ in range(10):
            bar.update(100)
    printed = capsys.readouterr().err
    assert printed.count("\n") == 1 and "\r" not in printed
    assert "1.00k/1.00k" in printed


# --- The built page ---------------------------------------------------------------------------

PAGE = "chapters/mnist"


def _shown(frame) -> dict[str, float]:
    return {key: float(frame.get_attribute(f"data-{key}")) for key in ("step", "loss", "accuracy")}


def test_page_weighs_under_one_and_a_half_megabytes(site):
    html = (SITE / f"{PAGE}.html").read_bytes()
    linked = [SITE / "chapters" / src for src in
              re.findall(rb'<img[^>]+src="((?!data:)[^"]+)"', html) for src in [src.decode()]]
    total = len(html) + sum(Path(p).stat().st_size for p in linked if Path(p).is_file())
    assert total < 1.5e6, f"{total / 1e6:.2f} MB"


def test_stepping_changes_the_templates_and_the_readout(page, server):
    open_page(page, server, PAGE)
    widget = stepper(page)
    start = visible_frame(widget)
    first = _shown(start)
    first_image = start.locator("img").get_attribute("src")
    assert first["step"] == 0
    step_forward(widget, 6)
    later = visible_frame(widget)
    shown = _shown(later)
    assert shown["step"] > 0 and shown["loss"] < first["loss"]
    assert shown["accuracy"] > first["accuracy"]
    assert later.locator("img").get_attribute("src") != first_image
    assert f"step {int(shown['step'])}" in later.locator(".mlbook-readout").inner_text()
    assert not page.mlbook_log.errors


def test_choosing_a_learning_rate_changes_the_run(page, server):
    open_page(page, server, PAGE)
    widget = stepper(page)
    step_forward(widget, 4)
    default = _shown(visible_frame(widget))
    choose(widget, "learning rate", "0.05")
    slow = _shown(visible_frame(widget))
    assert slow["step"] == default["step"], "the snapshot is kept when η changes"
    assert slow["loss"] > default["loss"], "a ten times smaller η has learned less"


def test_each_training_run_shows_one_clean_progress_bar(page, server):
    open_page(page, server, PAGE)
    outputs = page.locator(".output.stderr").all_inner_texts()
    bars = [line for text in outputs for line in text.splitlines() if line.strip()]
    assert [bar.split(":")[0] for bar in bars] == ["MLP", "CNN"], bars
    assert all("100%" in bar and "img/s" in bar and "val_acc=" in bar for bar in bars), bars


def test_live_controls_refuse_bad_input_and_show_a_new_run(monkeypatch):
    monkeypatch.delenv("MLBOOK_BUILD", raising=False)
    rng = np.random.default_rng(0)
    run = [mnist.Snapshot(0, np.zeros((784, 10)), 2.3, 0.1),
           mnist.Snapshot(5, rng.normal(size=(784, 10)), 1.0, 0.8)]
    diverged = [run[0], mnist.Snapshot(5, run[1].W, float("inf"), 0.1)]
    trained = []

    def train(eta, batch_size):
        trained.append((eta, batch_size))
        return diverged if eta > 50 else run

    widget = mnist.sgd_stepper({"0.5": run, "5.0": run}, train=train)
    stepper, controls = widget.children[0], widget.children[-1]
    (eta, batch, button), status = controls.children[0].children, controls.children[1]
    for bad_eta, bad_batch in [(0.0, 64), (-1.0, 64), (float("nan"), 64), (1e9, 64), (0.5, 0)]:
        eta.value, batch.value = bad_eta, bad_batch
        button.click()
        assert "mlbook-error" in status.value, (bad_eta, bad_batch)
    assert not trained, "bad input never reaches training"
    eta.value, batch.value = 80.0, 64
    button.click()
    assert "diverged" in status.value and "mlbook-error" in status.value
    eta.value = 0.2
    button.click()
    assert trained[-1] == (0.2, 64) and "η = 0.2" in status.value
    assert stepper.n_frames == len(run)


def test_static_build_leaves_the_live_controls_out(monkeypatch):
    monkeypatch.setenv("MLBOOK_BUILD", "static")
    run = [mnist.Snapshot(0, np.zeros((784, 10)), 2.3, 0.1)]
    widget = mnist.sgd_stepper({"0.5": run}, train=lambda eta, batch_size: run)
    assert len(widget.children) == 2, "the stepper and its no-JavaScript fallback only"
