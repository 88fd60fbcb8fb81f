"""The generalisation probe: deterministic training, a cache keyed by everything that makes
the weights (written atomically, read back with weights_only, retrained when damaged),
`recognisable` as the top class probability against 0.9 (noise and shuffled images are
not), and the digits probe's accuracy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from twoclocks.tasks import make_task
from twoclocks.tasks.images import probe as probe_module
from twoclocks.tasks.images.probe import CONFIDENT, ProbeData, ProbeSpec, get_probe, negatives, probe_key, shifted

SPEC = ProbeSpec(epochs=12, batch=16)


def two_class_data(n: int = 64, side: int = 8, levels: int = 3) -> ProbeData:
    """Class 0 is bright on the left, class 1 on the right, with noise: easy to tell apart."""
    rng = np.random.default_rng(0)

    def draw(count):
        labels = rng.integers(0, 2, size=count)
        cells = rng.integers(0, levels, size=(count, side, side))
        half = np.arange(side) < side // 2
        bright = np.where(labels[:, None], ~half, half)  # (count, side)
        cells = np.where(bright[:, None, :], levels - 1, cells // 2).astype(np.uint8)
        return cells, labels.astype(np.int64)

    train, ytrain = draw(n)
    test, ytest = draw(n // 2)
    return ProbeData("toy", levels, 2, train, ytrain, test, ytest)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(probe_module, "_loaded", {})


def weights(probe) -> list[torch.Tensor]:
    return [p.detach().clone() for p in probe.net.state_dict().values()]


def test_training_is_deterministic_and_cached(tmp_path, monkeypatch):
    data = two_class_data()
    first = get_probe(data, SPEC, log=None)
    files = list((tmp_path / "cache" / "twoclocks" / "probes").iterdir())
    assert [f.name for f in files] == [f"toy-{probe_key(data, SPEC)}.pt"]
    assert first.test_accuracy >= 0.9
    monkeypatch.setattr(probe_module, "_loaded", {})
    files[0].unlink()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(12345)  # whatever the caller's random state
        again = get_probe(data, SPEC, log=None)  # trained again from scratch: the same weights
    assert all(torch.equal(a, b) for a, b in zip(weights(first), weights(again)))
    monkeypatch.setattr(probe_module, "_loaded", {})
    monkeypatch.setattr(probe_module, "train_net", lambda *a: pytest.fail("retrained a cached probe"))
    cached = get_probe(data, SPEC, log=None)
    assert all(torch.equal(a, b) for a, b in zip(weights(first), weights(cached)))
    assert cached.test_accuracy == first.test_accuracy


def test_a_damaged_cache_file_is_trained_again(tmp_path, monkeypatch):
    data = two_class_data()
    first = get_probe(data, SPEC, log=None)
    path = tmp_path / "cache" / "twoclocks" / "probes" / f"toy-{probe_key(data, SPEC)}.pt"
    path.write_bytes(path.read_bytes()[:100])
    monkeypatch.setattr(probe_module, "_loaded", {})
    again = get_probe(data, SPEC, log=None)
    assert all(torch.equal(a, b) for a, b in zip(weights(first), weights(again)))
    assert torch.load(path, weights_only=True)["meta"]["test_accuracy"] == first.test_accuracy


def test_an_unwritable_cache_is_said_and_skipped(tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("a file where the cache folder would be")
    lines: list[str] = []
    probe = get_probe(two_class_data(), SPEC, log=lines.append)
    assert probe.test_accuracy >= 0.9
    (line,) = lines  # one line, which does not also say where it was cached
    assert "test accuracy" in line and "not cached: cannot create" in line and "cached in" not in line


def test_the_key_covers_data_and_settings():
    data = two_class_data()
    key = probe_key(data, SPEC)
    flipped = data.train.copy()
    flipped[0, 0, 0] = (flipped[0, 0, 0] + 1) % data.levels
    other = ProbeData(data.name, data.levels, 2, flipped, data.train_labels, data.test, data.test_labels)
    assert probe_key(other, SPEC) != key
    assert probe_key(data, ProbeSpec(epochs=13, batch=16)) != key
    assert probe_key(data, ProbeSpec(epochs=12, batch=16)) == key


def test_recognisable_is_the_top_probability_against_the_threshold():
    data = two_class_data()
    probe = get_probe(data, SPEC, log=None)
    cells = np.concatenate([data.test, np.random.default_rng(1).integers(0, 3, (32, 8, 8)).astype(np.uint8)])
    with torch.no_grad():
        logits = probe.net(torch.tensor(cells, dtype=torch.float32)[:, None] - 1.0)  # 3 levels: 0, 1, 2 -> -1, 0, 1
    probs = torch.softmax(logits.double(), dim=1).numpy()
    assert probs.shape == (len(cells), 3)  # two classes and the reject class
    got = probe.recognisable(cells)
    assert (got == (probs[:, :2].max(axis=1) >= CONFIDENT)).all() and 0 < got.mean() < 1
    assert (probe.predict(cells) == probs[:, :2].argmax(axis=1)).all()
    assert probe.features(cells).shape == (len(cells), SPEC.features)
    assert probe.recognisable(cells[:0]).shape == (0,)


def test_noise_and_shuffled_images_are_not_recognisable():
    data = two_class_data()
    probe = get_probe(data, SPEC, log=None)
    rng = np.random.default_rng(2)
    noise = rng.integers(0, 3, size=(200, 8, 8)).astype(np.uint8)
    shuffled = np.stack([rng.permutation(x.ravel()).reshape(8, 8) for x in data.test])
    assert probe.recognisable(data.test).mean() >= 0.8
    assert probe.recognisable(noise).mean() <= 0.05 and probe.recognisable(shuffled).mean() <= 0.1


def test_negatives_are_noise_and_shuffled_training_images():
    x = torch.linspace(-1, 1, 16).reshape(1, 1, 4, 4).repeat(3, 1, 1, 1)
    fake = negatives(x, 6, 5, torch.Generator().manual_seed(0))
    assert fake.shape == (6, 1, 4, 4)
    grey = (fake[:3] + 1) * 2  # 5 levels: -1..1 -> 0..4
    assert torch.equal(grey, grey.round()) and grey.min() >= 0 and grey.max() <= 4
    for image in fake[3:]:  # the training image's cells, in another order
        assert torch.equal(image.flatten().sort().values, x[0].flatten().sort().values)


def test_shifted_moves_each_image_within_its_offset():
    x = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4)
    out = shifted(x, 1, torch.Generator().manual_seed(0))
    for i in range(2):
        found = [
            (dy, dx)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if all(
                out[i, 0, r, c] == (x[i, 0, r + dy, c + dx] if 0 <= r + dy < 4 and 0 <= c + dx < 4 else -1.0)
                for r in range(4)
                for c in range(4)
            )
        ]
        assert len(found) == 1
    assert torch.equal(shifted(x, 0, torch.Generator()), x)


def test_an_image_task_is_valid_where_its_probe_recognises(tmp_path):
    from test_image_tasks import write_idx_set

    write_idx_set(tmp_path / "d", n_train=40, n_test=20)
    task = make_task("mnist", root=str(tmp_path / "d"), size=7, levels=2)
    cells = task.heldout
    assert (task.is_valid(cells) == task.probe().recognisable(cells)).all()
    assert task.constraints(cells).shape == (20, 1)


@pytest.mark.slow
def test_the_digits_probe_recognises_most_held_out_digits():
    probe = make_task("digits", levels=4).probe()
    assert probe.test_accuracy >= 0.95 and probe.meta["test_recognisable"] >= 0.9
