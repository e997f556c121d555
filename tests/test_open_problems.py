"""The chapter "Open problems": the maths behind each method, the helpers in mlbook.open_problems
and mlbook.speedrun, the results files the chapter shows, and the prediction service over real
HTTP requests."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import ROOT, open_page

from mlbook import open_problems as op
from mlbook import speedrun as sr
from mlbook.mnist import small_cnn
from mlbook.serve import png_bytes


def images(n=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 28, 28, generator=generator), torch.arange(n) % 10


# --- size and speed -------------------------------------------------------------------------------

def test_int8_rounding_error_is_at_most_half_a_step():
    weights = torch.randn(6, 3, 3, 3, generator=torch.Generator().manual_seed(1))
    rounded, scales = op.int8_round_trip(weights)
    error = (rounded - weights).reshape(6, -1).abs()
    assert torch.all(error <= scales[:, None] / 2 + 1e-7)
    levels = (rounded.reshape(6, -1) / scales[:, None])
    assert torch.allclose(levels, levels.round(), atol=1e-4)
    assert levels.abs().max() <= 127 + 1e-4


def test_quantized_model_is_smaller_and_agrees_with_the_float_model():
    torch.manual_seed(0)
    model = small_cnn().eval()
    x, _ = images(64)
    quantized = op.quantize_int8(model, x)
    assert op.saved_bytes(quantized) < op.saved_bytes(model) / 2.5
    with torch.no_grad():
        same = (quantized(x).argmax(1) == model(x).argmax(1)).float().mean()
    assert same > 0.9


def test_unstructured_pruning_zeroes_the_fraction_and_keeps_the_file_size():
    torch.manual_seed(0)
    model = small_cnn()
    pruned = op.prune_weights(model, 0.75)
    for old, new in zip(model.modules(), pruned.modules()):
        if isinstance(new, (torch.nn.Conv2d, torch.nn.Linear)):
            assert (new.weight == 0).float().mean().item() == pytest.approx(0.75, abs=0.01)
            kept = new.weight != 0
            assert torch.equal(new.weight[kept], old.weight[kept])
    assert op.saved_bytes(pruned) == op.saved_bytes(model)


def test_kept_zeros_stay_zero_while_fine_tuning():
    torch.manual_seed(0)
    pruned = op.prune_weights(small_cnn(), 0.5)
    zeros = [layer.weight == 0 for layer in pruned.modules()
             if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear))]
    op.keep_zeros(pruned)
    op.fine_tune(pruned, *images(32), epochs=1, learning_rate=1e-2)
    layers = [m for m in pruned.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    for layer, mask in zip(layers, zeros):
        assert torch.all(layer.weight[mask] == 0)


def test_channel_pruning_equals_silencing_the_dropped_channels():
    """The smaller network computes what the full one does with the dropped channels' batch
    norm set to output zero (ReLU of 0 is 0, so they contribute nothing downstream)."""
    torch.manual_seed(0)
    model = small_cnn().eval()
    with torch.no_grad():  # a batch norm that looks trained
        for bn in (model[1], model[5]):
            bn.weight.uniform_(0.5, 1.5)
            bn.running_var.uniform_(0.5, 2)
            bn.running_mean.normal_()
    thin = op.prune_channels(model, 0.5).eval()
    assert (thin[0].out_channels, thin[4].out_channels) == (8, 16)
    keep1 = _matches(model[0].weight, thin[0].weight)
    keep2 = _matches(model[4].weight[:, keep1], thin[4].weight)
    silenced = small_cnn().eval()
    silenced.load_state_dict(model.state_dict())
    with torch.no_grad():
        for bn, keep in ((silenced[1], keep1), (silenced[5], keep2)):
            dropped = sorted(set(range(bn.num_features)) - set(keep))
            bn.weight[dropped] = 0
            bn.bias[dropped] = 0
    x, _ = images(8)
    with torch.no_grad():
        assert torch.allclose(thin(x), silenced(x), atol=1e-5)
        assert torch.allclose(op.prune_channels(model, 0.0).eval()(x), model(x), atol=1e-5)


def _matches(weights, survivors) -> list[int]:
    """Index of the filter in ``weights`` equal to each filter in ``survivors``."""
    return [int(torch.argmin((weights - w).abs().flatten(1).sum(1))) for w in survivors]


def test_distillation_gradient_is_p_minus_q_over_t():
    torch.manual_seed(0)
    student = torch.randn(4, 10, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(4, 10, dtype=torch.float64)
    T = 3.0
    loss = op.distillation_loss(student, teacher, torch.arange(4), T, alpha=1.0)
    loss.backward()
    p, q = torch.softmax(student.detach() / T, 1), torch.softmax(teacher / T, 1)
    assert torch.allclose(student.grad, T**2 * (p - q) / T / 4, atol=1e-12)
    # Cross-entropy against soft targets = KL divergence + the targets' entropy.
    soft = F.cross_entropy(student.detach() / T, q)
    kl = (q * (q.log() - p.log())).sum(1).mean()
    entropy = -(q * q.log()).sum(1).mean()
    assert soft.item() == pytest.approx((kl + entropy).item(), rel=1e-12)


def test_distillation_with_alpha_zero_is_plain_cross_entropy():
    scores, teacher = torch.randn(5, 10), torch.randn(5, 10)
    labels = torch.tensor([1, 2, 3, 4, 5])
    assert op.distillation_loss(scores, teacher, labels, 4.0, 0.0).item() == pytest.approx(
        F.cross_entropy(scores, labels).item())


def test_measure_reports_all_five_numbers():
    torch.manual_seed(0)
    x, y = images(32)
    row = op.measure("cnn", small_cnn(), x, y, repeats=3)
    assert row.parameters == 20586
    assert row.nonzero == 20586 - 16 - 32  # batch norm's shifts start at zero
    assert row.bytes > 4 * row.parameters
    assert row.latency_ms > 0 and row.images_per_second > 0
    assert 0 <= row.accuracy <= 1


# --- privacy --------------------------------------------------------------------------------------

class Lookup(torch.nn.Module):
    """Scores read off the image: pixel 0 is the class, pixel 1 the confidence."""

    def forward(self, x):
        flat = x.flatten(1)
        return F.one_hot(flat[:, 0].long(), 10).float() * flat[:, 1:2]


def lookup_images(labels, confidence):
    x = torch.zeros(len(labels), 1, 28, 28)
    x[:, 0, 0, 0] = torch.as_tensor(labels).float()
    x[:, 0, 0, 1] = confidence
    return x, torch.as_tensor(labels)


def test_membership_attack_finds_memorised_images_and_not_others():
    labels = torch.arange(40) % 10
    memorised = op.membership_attack(Lookup(), lookup_images(labels, 20.0),
                                     lookup_images(labels, 0.0))
    assert memorised.accuracy == 1.0
    same = op.membership_attack(Lookup(), lookup_images(labels, 5.0), lookup_images(labels, 5.0))
    assert same.accuracy == 0.5


def test_opacus_clips_each_example_as_the_formula_says():
    torch.manual_seed(0)
    model = op.dp_cnn()
    x, y = images(12)
    C = 0.05  # small enough that every example is clipped
    per_example = []
    for i in range(len(y)):
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        per_example.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    g = torch.stack(per_example)
    clipped = g * (C / g.norm(dim=1, keepdim=True)).clamp(max=1)
    expected = clipped.mean(0)
    opacus = torch.cat([t.flatten() for t in op.opacus_clipped_gradient(model, x, y, C)])
    assert torch.allclose(opacus, expected, atol=1e-6)


def test_epsilon_shrinks_with_noise_and_grows_with_steps():
    q = 512 / 60_000
    assert op.epsilon_for(2.0, q, 1000) < op.epsilon_for(1.0, q, 1000)
    assert op.epsilon_for(1.0, q, 1000) < op.epsilon_for(1.0, q, 2000)
    # PRV is at least as tight as the Rényi accountant.
    assert op.epsilon_for(1.0, q, 1000) <= op.epsilon_for(1.0, q, 1000, accountant="rdp") + 1e-6


def test_private_training_spends_the_budget_asked_for():
    torch.manual_seed(0)
    x, y = images(256)
    run = op.train_private(op.dp_cnn(), x, y, (x[:32], y[:32]), epsilon=2.0, delta=1e-3,
                           epochs=2, batch_size=64)
    assert run.epsilon == pytest.approx(2.0, rel=0.05)
    assert run.noise_multiplier > 0.3
    assert len(run.test_accuracy) == 2


def test_client_splits_deal_every_image_once_with_few_digits_each():
    labels = np.repeat(np.arange(10), 60)
    splits = op.client_splits(labels, clients=10, digits_per_client=2)
    dealt = np.concatenate(splits)
    assert sorted(dealt.tolist()) == list(range(len(labels)))
    assert all(len(set(labels[s])) <= 2 for s in splits)


def test_average_weights_is_the_weighted_mean():
    a, b = {"w": torch.tensor([0.2]), "n": torch.tensor(3)}, {"w": torch.tensor([0.6]),
                                                                "n": torch.tensor(3)}
    averaged = op.average_weights([a, b], [1000, 3000])
    assert averaged["w"].item() == pytest.approx(0.5)
    assert averaged["n"].item() == 3


def test_one_client_fedavg_is_ordinary_training():
    x, y = images(64)
    torch.manual_seed(0)
    federated = small_cnn()
    op.federated_averaging(federated, [(x, y)], (x, y), rounds=1, learning_rate=0.01)
    torch.manual_seed(0)
    central = small_cnn()
    from mlbook.mnist import loader, train_one_epoch

    optimizer = torch.optim.SGD(central.parameters(), lr=0.01, momentum=0.9)
    train_one_epoch(central, loader(x, y, 32, shuffle=True, seed=0), optimizer,
                    torch.device("cpu"))
    for p, q in zip(federated.state_dict().values(), central.state_dict().values()):
        assert torch.allclose(p.float(), q.float(), atol=1e-6)


# --- deployment -----------------------------------------------------------------------------------

def test_onnx_export_has_parity_with_pytorch(tmp_path):
    torch.manual_seed(0)
    model = small_cnn().eval()
    path = op.export_onnx(model, tmp_path / "cnn.onnx")
    session = op.onnx_session(path)
    x, _ = images(40)
    same, largest = op.onnx_parity(model, session, x)
    assert same == 1.0
    assert largest <= 1e-4
    assert op.onnx_scores(session, x[:3]).shape == (3, 10)  # any batch size


# --- speedrun -------------------------------------------------------------------------------------

def test_each_rung_changes_only_what_it_names():
    rungs = sr.ladder()
    assert rungs[0][1] == sr.EXAMPLE
    for (name, recipe), (_, change), (_, before) in zip(rungs[1:], sr.LADDER[1:], rungs[:-1]):
        changed = {f.name for f in dataclasses.fields(recipe)
                   if getattr(recipe, f.name) != getattr(before, f.name)}
        assert changed <= set(change), name


def test_the_example_network_is_the_examples():
    assert sum(p.numel() for p in sr.ExampleNet().parameters()) == 1_199_882
    assert sr.fast_cnn()(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_a_recipe_trains_and_reports_per_epoch():
    pixels = torch.randint(0, 256, (300, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (300,))
    recipe = sr.ladder()[-2][1].with_(epochs=2)  # the lean loop on one thread
    result = sr.run(recipe, pixels, labels, pixels[:100], labels[:100])
    assert result.epochs_run == 2 and len(result.accuracy) == 2
    assert result.seconds[1] > result.seconds[0] > 0
    assert result.seconds_to_target is None or result.final_accuracy >= sr.TARGET


# --- results files --------------------------------------------------------------------------------

RESULTS = ["open_problems_compression.json", "open_problems_speedrun.json",
           "open_problems_privacy.json"]


@pytest.mark.parametrize("name", RESULTS)
def test_results_files_say_where_their_numbers_come_from(name):
    results = op.load_results(name)
    env = results["environment"]
    for key in ("date", "machine", "cpu_count", "torch_threads", "device", "torch"):
        assert env[key] not in (None, ""), key
    assert env["data"]["training_images"] == 60_000
    assert "near-exact" in env["data"]["provenance"] or "as found" in env["data"]["provenance"]


def test_the_tradeoff_figure_tells_every_model_apart_on_a_log_error_axis():
    import matplotlib

    matplotlib.use("Agg")
    rows = op.load_results(RESULTS[0])["rows"]
    ax = op.plot_tradeoff(rows).axes[0]
    assert ax.get_yscale() == "log"
    styles = {(tuple(np.round(dots.get_facecolor()[0], 3)),
               dots.get_paths()[0].vertices.round(3).tobytes()) for dots in ax.collections}
    assert len(styles) == len(rows)  # no two models share colour and shape
    errors = [dots.get_offsets()[0][1] for dots in ax.collections]
    assert errors == pytest.approx([100 * (1 - r["accuracy"]) for r in rows])
    low, high = ax.get_ylim()
    assert low < min(errors) and max(errors) < high


def test_the_privacy_figure_labels_each_budget_it_ran():
    import matplotlib

    matplotlib.use("Agg")
    results = op.load_results(RESULTS[2])
    ax = op.plot_privacy(results).axes[0]
    budgets = sorted(r["epsilon"] for r in results["dp"])
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{e:.1f}" for e in budgets]


def test_results_files_used_the_chapters_recipes():
    assert op.load_results(RESULTS[0])["recipe"] == op.COMPRESSION
    speedrun = op.load_results(RESULTS[1])
    assert [r["rung"] for r in speedrun["rungs"]] == [name for name, _ in sr.LADDER]
    sr.Recipe(**speedrun["final"]["recipe"])  # a valid recipe of today's code


def _speedrun_file(seconds, accuracy, load):
    recipe = dataclasses.asdict(sr.EXAMPLE.with_(network="fast", epochs=2))
    return {"environment": {"torch_threads": 2, "device": "cpu", "cpu_count": 2,
                            "load_average": load},
            "target": 0.99,
            "rungs": [{"rung": "fast", "recipe": recipe, "test_accuracy": [0.985, accuracy]}],
            "final": {"recipe": recipe, "median_seconds": seconds,
                      "median_test_accuracy": accuracy,
                      "runs": [{"seconds": seconds, "test_accuracy": accuracy,
                                "reached": accuracy >= 0.99}]}}


def test_speedrun_verdict_follows_the_file():
    met, text = sr.verdict(_speedrun_file(15.0, 0.991, 0.5))
    assert met and "meets the chapter's target of 99% within 20 s" in text
    met, text = sr.verdict(_speedrun_file(28.0, 0.991, 6.8))
    assert not met and "misses" in text
    assert "98.50%" in text and "14 s each" in text and "load average was 6.8" in text
    met, text = sr.verdict(_speedrun_file(15.0, 0.989, 0.5))
    assert not met, "fast but short of 99% is not the target"
    assert "load average" not in text


def _privacy_file(accuracies, epsilons=(1.0, 3.0, 8.0), epochs=6):
    return {"environment": {"torch_threads": 2},
            "dp": [{"epsilon": e - 0.01, "epochs": epochs, "seconds": 600.0 * epochs,
                    "test_accuracy": [0.9, a]} for e, a in zip(epsilons, accuracies)]}


def test_privacy_verdict_reads_every_epsilon_of_the_file():
    met, text = op.privacy_verdict(_privacy_file([0.95, 0.972, 0.98]))
    assert met and "meets" in text
    met, text = op.privacy_verdict(_privacy_file([0.95, 0.964, 0.98]))
    assert not met and "0.6 points short" in text and "6 epochs" in text
    assert "60 minutes" in text
    met, text = op.privacy_verdict(_privacy_file([0.98], epsilons=(8.0,)))
    assert not met and "No run" in text


def test_the_chapter_reads_the_privacy_file_it_ships():
    privacy = op.load_results(RESULTS[2])
    assert {r["epochs"] for r in privacy["dp"]} == {privacy["dp_recipe"]["epochs"]}
    assert any(r["epsilon"] <= 3 for r in privacy["dp"])
    assert (len(privacy["federated"]["federated_accuracy"])
            == privacy["federated_recipe"]["rounds"])
    op.privacy_verdict(privacy)
    sr.verdict(op.load_results(RESULTS[1]))


def test_results_ship_with_the_package():
    text = (ROOT / "pyproject.toml").read_text()
    assert '"data/*"' in text
    for name in RESULTS:
        assert (ROOT / "mlbook" / "data" / name).is_file()


# --- the prediction service, over HTTP ------------------------------------------------------------

@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """``python -m mlbook.serve`` in its own process, on a free port."""
    folder = tmp_path_factory.mktemp("serve")
    torch.manual_seed(0)
    model = small_cnn()
    checkpoint = folder / "cnn.pt"
    torch.save({"model": model.state_dict(), "mean": 0.13, "std": 0.31}, checkpoint)
    process = subprocess.Popen([sys.executable, "-m", "mlbook.serve", "--model", str(checkpoint),
                                "--port", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/predict", line)
    assert match, f"the service did not say where it listens: {line!r}"
    yield f"http://127.0.0.1:{match.group(1)}", process
    process.terminate()
    process.wait(timeout=10)


def post(url, body: bytes, path="/predict"):
    request = urllib.request.Request(url + path, data=body,
                                     headers={"Content-Type": "image/png"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def a_digit() -> bytes:
    rng = np.random.default_rng(0)
    return png_bytes(rng.uniform(0, 1, 784))


def test_a_good_image_gets_a_digit_and_ten_probabilities(service):
    url, _ = service
    status, answer = post(url, a_digit())
    assert status == 200
    assert 0 <= answer["digit"] <= 9
    assert len(answer["probabilities"]) == 10
    assert sum(answer["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert answer["digit"] == int(np.argmax(answer["probabilities"]))


def _png(side, mode="L", fmt="PNG"):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, (side, side)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(("body", "status", "says"), [
    (b"", 400, "empty"),
    (b"this is not an image", 415, "not an image"),
    (_png(56), 400, "56 × 56"),
    (_png(28, "RGB", "JPEG"), 415, "not a PNG"),
    (b"\x89PNG" + bytes(70_000), 413, "limit"),
], ids=["empty", "not-an-image", "wrong-size", "jpeg", "too-large"])
def test_bad_requests_get_4xx_saying_what_to_send_and_the_service_goes_on(service, body, status,
                                                                          says):
    url, process = service
    got, answer = post(url, body)
    assert got == status
    assert says in answer["error"]
    assert "28 × 28" in answer["error"] and "PNG" in answer["error"]
    assert process.poll() is None, "the service stopped"
    assert post(url, a_digit())[0] == 200, "the service no longer answers good requests"


def test_unknown_paths_are_404_and_get_says_how_to_call(service):
    url, _ = service
    assert post(url, a_digit(), path="/nope")[0] == 404
    with urllib.request.urlopen(url + "/", timeout=30) as response:
        assert "POST /predict" in json.load(response)["usage"]


def test_the_same_image_gets_the_same_answer_as_the_model(service, tmp_path):
    from mlbook.mnist import as_images

    url, _ = service
    pixels = np.random.default_rng(1).uniform(0, 1, (1, 784)).astype(np.float32)
    torch.manual_seed(0)
    model = small_cnn().eval()
    with torch.no_grad():
        expected = torch.softmax(model(as_images(np.round(pixels * 255) / 255, 0.13, 0.31)), 1)
    status, answer = post(url, png_bytes(pixels))
    assert status == 200
    assert np.allclose(answer["probabilities"], expected[0].numpy(), atol=1e-5)
    assert math.isclose(sum(answer["probabilities"]), 1, abs_tol=1e-4)


def test_a_missing_model_file_stops_with_a_clear_message(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mlbook.serve", "--model",
                           str(tmp_path / "missing.pt")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "No model file" in done.stderr


# --- the built page ------------------------------------------------------------------------------

PAGE = "chapters/open_problems"


def test_the_page_says_which_numbers_are_live_and_where_the_others_come_from(page, server):
    open_page(page, server, PAGE)
    text = page.locator("article").inner_text()
    assert "Which numbers are live" in text
    captions = page.locator("table.mlbook-table caption").all_inner_texts()
    benchmark = [c for c in captions if c.startswith("Benchmark, from open_problems_")]
    assert len(benchmark) == 3, captions
    assert any(c.startswith("Live,") for c in captions), captions
    # each benchmark table is preceded by its file's date, machine and data
    assert text.count("near-exact copy of MNIST") >= 3
    # the targets are reported as the files say, met or not
    assert re.search(r"(meets|misses) the chapter.s target of 99% within 20 s", text)
    assert re.search(r"(meets|short of) the chapter.s target of 97% at ε ≤ 3", text)
    for name in ("fig-op-tradeoff", "fig-op-privacy", "fig-op-federated"):
        image = page.locator(f"#{name} img")
        assert image.count() == 1, name
        assert len(image.get_attribute("alt")) > 60, name


def test_the_draw_a_digit_widget_runs_the_chapters_cnn_in_the_page(page, server):
    open_page(page, server, PAGE)
    widgets = page.locator(".mlbook-widget[data-renders]")
    assert widgets.count() >= 2  # the draw-a-digit widget and the questions
    assert "Error displaying widget" not in page.locator("article").inner_text()
