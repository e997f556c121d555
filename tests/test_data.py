"""``mlbook.load_mnist`` reads the offline mirror; offline it fails with a clear message."""

import os
import shutil
from pathlib import Path

import pytest

import mlbook
from mlbook import DATA_ENV, MNISTUnavailableError, load_mnist

MIRROR = Path(os.environ.get(DATA_ENV) or "../shared/data/mnist-offline").resolve()


@pytest.fixture(scope="module")
def mirror() -> Path:
    if not (MIRROR / "MNIST" / "raw").is_dir():
        pytest.fail(f"no MNIST copy at {MIRROR}: set {DATA_ENV} to a folder holding MNIST/raw/")
    return MIRROR


@pytest.fixture
def no_network(monkeypatch):
    """Make every download attempt fail at once, as on a machine without internet."""
    import urllib.request

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def test_reads_the_offline_mirror(mirror):
    test_set = load_mnist(train=False, root=mirror)
    train_set = load_mnist(train=True, root=mirror)
    assert tuple(test_set.data.shape[1:]) == (28, 28)
    assert len(test_set) == len(test_set.targets) > 0
    assert len(train_set) > 0
    assert set(test_set.targets.unique().tolist()) == set(range(10))


def test_root_comes_from_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert mlbook.data_root() == tmp_path


def test_offline_without_data_names_the_variable_and_leaves_nothing(no_network, tmp_path):
    root = tmp_path / "empty"
    with pytest.raises(MNISTUnavailableError) as info:
        load_mnist(root=root)
    message = str(info.value)
    assert DATA_ENV in message and "export" in message and "internet" in message
    assert not root.exists(), "a failed download must not leave a half-written data folder"


def test_truncated_file_gives_a_clear_message(mirror, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(mirror / "MNIST" / "raw", raw)
    images = raw / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])
    with pytest.raises(MNISTUnavailableError) as info:
        load_mnist(train=False, root=tmp_path)
    assert "corrupt" in str(info.value) and str(raw) in str(info.value)


def test_a_file_as_root_is_refused(tmp_path):
    not_a_folder = tmp_path / "mnist.txt"
    not_a_folder.write_text("")
    with pytest.raises(MNISTUnavailableError, match="is a file, not a folder"):
        load_mnist(root=not_a_folder)
