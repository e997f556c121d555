"""The MNIST chapter: its maths (run from the notebook's own cells), mlbook.mnist, the full-data
results file, and its page."""

from __future__ import annotations

import ast
import linecache
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, SITE, open_page

from mlbook import MNISTUnavailableError, load_mnist, mnist

NOTEBOOK = ROOT / "chapters" / "mnist.ipynb"


@pytest.fixture(scope="module")
def chapter():
    """The chapter's own functions: the tests check the code the reader reads."""
    code = mnist.chapter_definitions(NOTEBOOK)
    code["device"] = torch.device("cpu")
    code["loader"] = mnist.loader
    return code


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


# --- The chapter's maths ---------------------------------------------------------------------


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


def test_sgd_records_one_loss_per_step_starting_at_log_10(chapter, data):
    X_train, y_train, _, _ = data
    X, y = X_train[:650], y_train[:650]
    _, _, losses = chapter["sgd"](X, y, eta=0.5, batch_size=64, epochs=2)
    assert len(losses) == 2 * math.ceil(650 / 64)
    assert losses[0] == pytest.approx(math.log(10), rel=1e-6), "W = 0 gives uniform P"


def test_one_sgd_step_lowers_the_loss_on_its_batch(chapter, data):
    X_train, y_train, _, _ = data
    loss_and_gradient = chapter["loss_and_gradient"]
    W, b, _ = chapter["sgd"](X_train, y_train, eta=0.5, batch_size=64, epochs=1)
    batch = np.random.default_rng(0).choice(len(y_train), size=64, replace=False)
    before, dW, db = loss_and_gradient(W, b, X_train[batch], y_train[batch])
    after, _, _ = loss_and_gradient(W - 0.1 * dW, b - 0.1 * db, X_train[batch], y_train[batch])
    assert after < before


def test_the_first_step_from_zero_makes_the_centred_class_means(chapter):
    """The chapter's claim: with balanced classes, -dL/dW at W = 0 is (mu_k - mean) / 10."""
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, size=(200, 784))
    y = np.repeat(np.arange(10), 20)
    _, dW, _ = chapter["loss_and_gradient"](np.zeros((784, 10)), np.zeros(10), X, y)
    means = np.stack([X[y == k].mean(axis=0) for k in range(10)])
    np.testing.assert_allclose(-dW, (means - X.mean(axis=0)).T / 10, atol=1e-12)


def test_nearest_class_mean_is_the_linear_model(chapter):
    rng = np.random.default_rng(4)
    X = rng.uniform(0, 1, size=(300, 784))
    means = rng.uniform(0, 1, size=(10, 784))
    nearest = np.argmin(((X[:, None, :] - means) ** 2).sum(axis=2), axis=1)
    scores = X @ (2 * means.T) - (means**2).sum(axis=1)
    assert np.array_equal(nearest, np.argmax(scores, axis=1))
    assert chapter["accuracy"](2 * means.T, -(means**2).sum(axis=1), X, nearest) == 1.0


def test_numpy_model_beats_nearest_class_mean(chapter, data):
    X_train, y_train, X_val, y_val = data
    means = np.stack([X_train[y_train == k].mean(axis=0) for k in range(10)])
    baseline = chapter["accuracy"](2 * means.T, -(means**2).sum(axis=1), X_val, y_val)
    W, b, _ = chapter["sgd"](X_train, y_train, eta=0.5, batch_size=64, epochs=5)
    learned = chapter["accuracy"](W, b, X_val, y_val)
    assert baseline > 0.5, "the baseline itself must be sensible"
    assert learned > baseline + 0.03


def test_hessian_top_eigenvalue_matches_the_explicit_hessian():
    rng = np.random.default_rng(5)
    X = rng.uniform(0, 1, size=(40, 6))
    y = rng.integers(0, 3, size=40)
    W, b = rng.normal(0, 1, size=(6, 3)), rng.normal(0, 1, size=3)

    def loss(theta):
        scores = torch.tensor(X) @ theta[:18].reshape(6, 3) + theta[18:]
        return torch.nn.functional.cross_entropy(scores, torch.tensor(y))

    theta = torch.tensor(np.concatenate([W.ravel(), b]))
    hessian = torch.autograd.functional.hessian(loss, theta).numpy()
    exact = np.linalg.eigvalsh(hessian)[-1]
    assert mnist.softmax_hessian_top_eigenvalue(W, b, X, iterations=500) == pytest.approx(
        exact, rel=1e-6)


def test_hessian_at_zero_has_the_chapters_closed_form(data):
    """(mnist-hessian-start): λ_max(H) at W = 0 is λ_max(X̃ᵀX̃/N) / 10."""
    X = data[0][:1000].astype(np.float64)
    X_ones = np.hstack([X, np.ones((len(X), 1))])
    closed = np.linalg.eigvalsh(X_ones.T @ X_ones / len(X))[-1] / 10
    power = mnist.softmax_hessian_top_eigenvalue(np.zeros((784, 10)), np.zeros(10), X,
                                                 iterations=100)
    assert power == pytest.approx(closed, rel=1e-6)


def test_the_chapters_evaluation_loop_agrees_with_mlbook_evaluate(chapter):
    torch.manual_seed(0)
    model = mnist.small_cnn()
    images, labels = torch.randn(250, 1, 28, 28), torch.randint(0, 10, (250,))
    ours = chapter["evaluate"](model, mnist.loader(images, labels, batch_size=64))
    theirs = mnist.evaluate(model, images, labels, torch.device("cpu"))
    assert ours[0] == pytest.approx(theirs[0], rel=1e-6) and ours[1] == theirs[1]
    assert not model.training, "evaluation leaves the model in evaluation mode"


def test_the_pytorch_softmax_starts_at_zero_and_stores_w_transposed(chapter):
    model = chapter["SoftmaxRegression"]()
    assert tuple(model.linear.weight.shape) == (10, 784)
    assert not model.linear.weight.any() and not model.linear.bias.any()


def test_fit_restores_the_best_validation_checkpoint():
    torch.manual_seed(0)
    images, labels = torch.randn(256, 1, 28, 28), torch.randint(0, 10, (256,))
    validation = (torch.randn(100, 1, 28, 28), torch.randint(0, 10, (100,)))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    batches = mnist.loader(images, labels, batch_size=32, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = mnist.fit(model, batches, validation, optimizer, 6, torch.device("cpu"),
                        restore_best=True)
    best = mnist.best_epoch(history)
    assert best.epoch < 6, "random labels: validation loss rises after the first epochs"
    loss, _ = mnist.evaluate(model, *validation, torch.device("cpu"))
    assert loss == pytest.approx(best.validation_loss, rel=1e-6)


# --- mlbook.mnist --------------------------------------------------------------------------


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


def test_the_training_data_is_described_by_what_it_holds():
    assert mnist.describe_training_data(np.repeat(np.arange(10), 500)) == \
        "the book's offline mirror, the first 500 training images of each digit"
    assert mnist.describe_training_data(np.zeros(60_000, int)) == "all of MNIST's training images"
    assert mnist.describe_training_data(np.arange(10)) == "a subset of MNIST's training images"


def test_small_cnn_shapes_parameter_count_and_size():
    model = mnist.small_cnn()
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert mnist.count_parameters(model) == 160 + 32 + 4640 + 64 + 15690
    assert 4 * mnist.count_parameters(model) < 150_000, "small enough for the browser widget"
    plain = mnist.small_cnn(batch_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain)
    assert mnist.count_parameters(plain) == 160 + 4640 + 15690


def test_loader_takes_any_whole_batch_size_and_refuses_others():
    images, labels = torch.zeros(10, 1, 28, 28), np.zeros(10, int)
    assert len(mnist.loader(images, labels, np.int64(4))) == 3
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            mnist.loader(images, labels, bad)


def test_standard_error_is_binomial():
    assert mnist.standard_error(0.97, 10_000) == pytest.approx(0.0017059, rel=1e-4)
    assert mnist.standard_error(1.0, 10) == 0.0
    with pytest.raises(ValueError):
        mnist.standard_error(1.2, 10)


def test_confusion_matrix_counts():
    counts = mnist.confusion_matrix([1, 1, 2, 3], [1, 2, 2, 3])
    assert counts.sum() == 4 and counts[1, 2] == 1 and np.trace(counts) == 3


def test_static_progress_bar_prints_one_final_line(monkeypatch, capsys):
    monkeypatch.setenv("MLBOOK_BUILD", "static")
    with mnist.progress_bar(total=1000, description="test") as bar:
        for _ in range(10):
            bar.update(100)
    printed = capsys.readouterr().err
    assert printed.count("\n") == 1 and "\r" not in printed
    assert "1.00k/1.00k" in printed


# --- A reader's own image ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def test_digits():
    X, y = mnist.as_arrays(load_mnist(train=False))
    return X[:300].reshape(-1, 28, 28), y[:300]


def test_mnist_style_leaves_mnist_digits_nearly_as_they_are(test_digits):
    images, _ = test_digits
    correlations = [np.corrcoef(mnist.mnist_style(image).ravel(), image.ravel())[0, 1]
                    for image in images]
    assert np.median(correlations) > 0.97


def test_mnist_style_undoes_a_photos_inversion_size_and_position(test_digits):
    image = test_digits[0][0]
    photo = np.full((120, 160), 0.8)
    photo[20:104, 10:94] -= 0.7 * np.kron(image, np.ones((3, 3)))  # dark, 3x, off-centre
    prepared = mnist.mnist_style(photo * 255)
    assert prepared.shape == (28, 28) and prepared.dtype == np.float32
    assert prepared.min() == 0 and prepared.max() == pytest.approx(1)
    assert np.corrcoef(prepared.ravel(), image.ravel())[0, 1] > 0.9
    rows, columns = np.indices((28, 28))
    centre = [np.sum(grid * prepared) / prepared.sum() for grid in (rows, columns)]
    assert np.allclose(centre, 14, atol=0.6), "centred by its centre of mass, as MNIST"
    light_on_dark = mnist.mnist_style(1 - photo)
    np.testing.assert_allclose(light_on_dark, prepared, atol=1e-6)


@pytest.mark.parametrize(("bad", "message"), [
    (np.full((50, 50), 0.5), "no digit"),
    (np.zeros((28, 28, 3)), "2-D"),
    (np.full((28, 28), np.nan), "finite"),
    (np.full((28, 28), 300.0), "0 to 255"),
])
def test_mnist_style_refuses_what_is_not_one_grey_picture(bad, message):
    with pytest.raises(ValueError, match=message):
        mnist.mnist_style(bad)


# --- The full-data results file -------------------------------------------------------------


def _exec_like_ipython(notebook) -> dict:
    """Run the notebook's definitions the way IPython does (each cell's source in linecache), so
    that inspect.getsource works as it does in the chapter's kernel."""
    namespace = {"np": np, "torch": torch, "nn": torch.nn, "F": torch.nn.functional}
    for index, source in enumerate(mnist._code_cells(notebook)):
        tree = ast.parse(source)
        tree.body = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        name = f"<cell-{index}>"
        linecache.cache[name] = (len(source), None, source.splitlines(keepends=True), name)
        exec(compile(tree, name, "exec"), namespace)
    return namespace


def test_the_fingerprint_from_the_kernel_equals_the_one_from_the_file():
    assert mnist.code_fingerprint(_exec_like_ipython(NOTEBOOK)) == \
        mnist.notebook_fingerprint(NOTEBOOK)


def test_the_fingerprint_ignores_comments_but_not_code():
    base = mnist.source_fingerprint(["def f(x):\n    return x + 1\n"])
    assert mnist.source_fingerprint(["def f(x):  # add one\n\n    return x + 1\n"]) == base
    assert mnist.source_fingerprint(["    def f(x):\n        return x + 1\n"]) == base
    assert mnist.source_fingerprint(["def f(x):\n    return x + 2\n"]) != base


def test_the_results_file_matches_the_chapters_recipes_and_code():
    """The committed results file was produced from the committed chapter: re-run
    scripts/bench_mnist.py after changing a recipe or the training code."""
    results = mnist.load_full_results()
    mnist.check_full_results(results, mnist.chapter_recipes(NOTEBOOK),
                             mnist.notebook_fingerprint(NOTEBOOK))


def test_the_results_file_says_where_and_on_what_it_was_measured():
    results = mnist.load_full_results()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", results["date"])
    assert results["machine"] and results["torch_threads"] >= 1 and results["torch"]
    assert results["data"]["training_images"] == 60_000
    assert results["data"]["test_images"] == 10_000
    assert "near-exact" in results["data"]["provenance"], "the copy is not MNIST itself"
    keys = {row["key"] for row in results["models"]}
    assert {"nearest_class_mean", "softmax_numpy", "softmax_pytorch", "mlp_adam",
            "mlp_one_cycle", "cnn", "cnn_no_batch_norm", "cnn_max_lr_0.1",
            "cnn_no_batch_norm_max_lr_0.1"} <= keys
    for row in results["models"]:
        n = results["data"]["test_images"]
        assert row["test_errors"] == round((1 - row["test_accuracy"]) * n)
        assert row["test_standard_error"] == pytest.approx(
            mnist.standard_error(row["test_accuracy"], n), abs=1e-6)


def test_a_changed_recipe_fails_the_check():
    results = mnist.load_full_results()
    recipes = mnist.chapter_recipes(NOTEBOOK)
    changed = {**recipes, "one_cycle_recipe": {**recipes["one_cycle_recipe"], "epochs": 4}}
    with pytest.raises(ValueError, match="recipes"):
        mnist.check_full_results(results, changed, mnist.notebook_fingerprint(NOTEBOOK))
    with pytest.raises(ValueError, match="training code"):
        mnist.check_full_results(results, recipes, "0" * 64)


def test_a_reader_who_changes_a_recipe_is_told_not_stopped():
    """Outside the book's build the chapter prints these problems instead of failing."""
    results = mnist.load_full_results()
    recipes = mnist.chapter_recipes(NOTEBOOK)
    changed = {**recipes, "adam_recipe": {**recipes["adam_recipe"], "lr": 3e-4}}
    problems = mnist.full_results_problems(results, changed, mnist.code_fingerprint({}))
    assert len(problems) == 2 and "recipes" in problems[0] and "code" in problems[1]
    assert mnist.full_results_problems(results, recipes, mnist.notebook_fingerprint(NOTEBOOK)) \
        == []


def test_the_full_results_table_shows_its_caption_and_rows():
    results = mnist.load_full_results()
    table = mnist.full_results_table(results, ["softmax_numpy", "cnn"])
    html = table._repr_html_()
    assert html.count("<tr>") == 3 and "Full data, not this page's run" in html
    assert re.search(r"<caption[^>]*>Full data", html)
    assert "near-exact" in html and results["date"] in html
    assert f"{mnist.result(results, 'cnn')['test_accuracy']:.2%}" in html
    assert "softmax_recipe" in repr(table)


# --- The built page ---------------------------------------------------------------------------

PAGE = "chapters/mnist"


def test_page_weighs_at_most_one_megabyte_with_its_widgets(site):
    html = (SITE / f"{PAGE}.html").read_bytes()
    linked = [SITE / "chapters" / src for src in
              re.findall(rb'<img[^>]+src="((?!data:)[^"]+)"', html) for src in [src.decode()]]
    total = len(html) + sum(Path(p).stat().st_size for p in linked if Path(p).is_file())
    assert total <= 1e6, f"{total / 1e6:.2f} MB"  # HTML with widget state, images


def test_each_training_run_shows_one_clean_progress_bar(page, server):
    open_page(page, server, PAGE)
    outputs = page.locator(".output.stderr").all_inner_texts()
    bars = [line for text in outputs for line in text.splitlines() if line.strip()]
    assert [bar.split(":")[0] for bar in bars] == ["MLP", "CNN", "MLP, one-cycle"], bars
    assert all("100%" in bar and "img/s" in bar and "val_acc=" in bar for bar in bars), bars


def test_the_page_says_which_data_it_trained_on_and_shows_the_full_data_table(page, server):
    open_page(page, server, PAGE)
    text = page.locator("article").inner_text()
    assert "first 500 training images of each digit" in text
    table = page.locator("table.mlbook-table")
    assert table.count() == 1
    caption = table.locator("caption").inner_text()
    assert caption.startswith("Full data, not this page's run") and "60,000" in caption
    assert "near-exact" in caption
    assert table.locator("tbody tr").count() == 6
    assert "CNN, one-cycle" in table.inner_text()


def test_the_old_stepper_is_gone_and_the_questions_render(page, server):
    open_page(page, server, PAGE)
    assert page.locator(".mlbook-stepper").count() == 0
    page.wait_for_selector(".mlbook-quiz-title")
    assert page.locator(".mlbook-question").count() >= 5
    assert not page.mlbook_log.errors
