"""The generalisation probe of an image data set: a small classifier trained once on the data
set's full train split, at the grey levels and size a run uses, that tells whether a generated
image is recognisable and gives the features that Fréchet distances are measured on.

Input: quantised cells, uint8 (n, H, W) with values in [0, levels), as a model generates
them; they are read as grey levels in [-1, 1]. Two 3x3 convolution blocks (ReLU, 2x2 max
pooling) and a fully connected layer (dropout before it) give the features (the penultimate
layer, after its ReLU); a last linear layer gives the logits of the data set's classes and
of a reject class, which it learns from noise and from training images with their cells
shuffled (`negatives`), so that an image is recognisable only when it looks like one of the
data set's classes, not merely unlike the others.

Training is deterministic: a seeded initialisation and batch order, on one CPU thread (the
thread count changes how sums are split, hence the last bits of the weights). The weights are
cached in the user's cache directory under a hash of everything that determines them (the
images and labels of both splits, the architecture and training settings, the torch version),
written atomically with torch.save of the state dict and read back with weights_only=True;
an unreadable cache file is trained again and replaced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from twoclocks.core.io import read_torch, write_torch
from twoclocks.errors import TwoClocksError
from twoclocks.tasks.images.probe_spec import ProbeData, ProbeSpec

CONFIDENT = 0.9  # recognisable: the top class has at least this probability
FORMAT = 2  # part of the cache key: a change of what is stored retrains
EVAL_CHUNK = 1024  # images per forward pass when the trained probe scores or embeds


class ProbeNet(nn.Module):
    def __init__(self, side: int, classes: int, spec: ProbeSpec):
        super().__init__()
        c1, c2 = spec.channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Dropout(spec.dropout), nn.Linear(c2 * (side // 4) ** 2, spec.features), nn.ReLU(),
        )  # fmt: skip
        self.out = nn.Linear(spec.features, classes + 1)  # the last: the reject class

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """float (n, 1, H, W) in [-1, 1] -> float (n, features)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float (n, 1, H, W) in [-1, 1] -> logits (n, classes + 1), the last the reject class."""
        return self.out(self.body(x))


def as_input(cells: np.ndarray, levels: int) -> torch.Tensor:
    """uint8 cells (n, H, W) in [0, levels) -> float32 (n, 1, H, W) in [-1, 1]."""
    x = torch.tensor(np.asarray(cells), dtype=torch.float32)[:, None]
    return x * (2.0 / (levels - 1)) - 1.0


def shifted(x: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Each image (n, 1, H, W) moved by its own random offset in [-shift, shift]^2, the cells
    moved in from outside at the background level (-1): handwriting and garments sit a cell
    off centre, and a probe that has seen that judges held-out images better (on the digits'
    test split, 0.948 instead of 0.935 accuracy at 2 levels)."""
    if shift == 0:
        return x
    n, _, H, W = x.shape
    padded = nn.functional.pad(x[:, 0], (shift, shift, shift, shift), value=-1.0)
    dy, dx = (torch.randint(0, 2 * shift + 1, (n,), generator=gen) for _ in range(2))
    rows = (dy[:, None] + torch.arange(H))[:, :, None]  # (n, H, 1)
    cols = (dx[:, None] + torch.arange(W))[:, None, :]  # (n, 1, W)
    return padded[torch.arange(n)[:, None, None], rows, cols][:, None]


def negatives(cells: torch.Tensor, count: int, levels: int, gen: torch.Generator) -> torch.Tensor:
    """`count` images of the reject class, float (count, 1, H, W) in [-1, 1], from a batch of
    training images (n, 1, H, W): half of them noise (each cell lit with a density drawn per
    image, at a random grey level), half training images with their cells shuffled (their grey
    levels kept, their shape lost). Without them a probe calls noise a digit: at 2 levels it
    gave 0.48 of uniformly random images and 0.33 of shuffled test digits a class probability
    >= 0.9, and an untrained model's samples as many."""
    n, _, H, W = cells.shape
    noise_count = count // 2
    density = torch.rand(noise_count, 1, 1, 1, generator=gen)
    lit = torch.rand(noise_count, 1, H, W, generator=gen) < density
    grey = torch.randint(1, levels, (noise_count, 1, H, W), generator=gen).float()
    noise = torch.where(lit, grey, torch.zeros(())) * (2.0 / (levels - 1)) - 1.0
    source = cells[torch.randint(0, n, (count - noise_count,), generator=gen)].reshape(count - noise_count, H * W)
    order = torch.argsort(torch.rand(count - noise_count, H * W, generator=gen), dim=1)
    shuffled = torch.gather(source, 1, order).reshape(count - noise_count, 1, H, W)
    return torch.cat([noise, shuffled])


@contextmanager
def one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class Probe:
    """A trained probe: `recognisable`, `probabilities` and `features` of quantised cells."""

    def __init__(self, net: ProbeNet, levels: int, meta: dict):
        self.net = net.eval()
        self.levels = levels
        self.meta = meta  # test_accuracy, train_seconds, key, ...

    @property
    def test_accuracy(self) -> float:
        return float(self.meta["test_accuracy"])

    @torch.no_grad()
    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], cells: np.ndarray) -> np.ndarray:
        out = [fn(as_input(cells[i : i + EVAL_CHUNK], self.levels)) for i in range(0, len(cells), EVAL_CHUNK)]
        return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)

    def probabilities(self, cells: np.ndarray) -> np.ndarray:
        """uint8 (n, H, W) -> float32 (n, classes + 1): the softmax of the logits, the last
        column the reject class."""
        return self._apply(lambda x: torch.softmax(self.net(x), dim=1), cells)

    def recognisable(self, cells: np.ndarray) -> np.ndarray:
        """uint8 (n, H, W) -> bool (n,): a class of the data set (not the reject class) has
        probability >= CONFIDENT."""
        if len(cells) == 0:
            return np.zeros(0, dtype=bool)
        return self.probabilities(cells)[:, :-1].max(axis=1) >= CONFIDENT

    def predict(self, cells: np.ndarray) -> np.ndarray:
        """uint8 (n, H, W) -> int64 (n,): the most probable class of the data set."""
        return self._apply(self.net, cells)[:, :-1].argmax(axis=1).astype(np.int64)

    def features(self, cells: np.ndarray) -> np.ndarray:
        """uint8 (n, H, W) -> float32 (n, spec.features): the penultimate layer."""
        return self._apply(self.net.features, cells)


def train_net(data: ProbeData, spec: ProbeSpec) -> ProbeNet:
    """A probe trained with AdamW and cross-entropy for spec.epochs passes over the train split
    (shifted images, dropout, and images of the reject class in every batch), deterministically
    (seeded, one thread)."""
    net = new_net(data, spec)
    with one_thread(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed + 2)  # dropout draws from the global generator
        order = torch.Generator().manual_seed(spec.seed + 1)
        x = as_input(data.train, data.levels)
        y = torch.tensor(data.train_labels)
        opt = torch.optim.AdamW(net.parameters(), lr=spec.lr, weight_decay=spec.weight_decay)
        total = spec.epochs * -(-len(x) // spec.batch)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=spec.lr, total_steps=total)
        net.train()
        for _ in range(spec.epochs):
            perm = torch.randperm(len(x), generator=order)
            for start in range(0, len(x), spec.batch):
                idx = perm[start : start + spec.batch]
                real = shifted(x[idx], spec.shift, order)
                fake = negatives(x[idx], int(round(spec.negatives * len(idx))), data.levels, order)
                labels = torch.cat([y[idx], torch.full((len(fake),), data.classes)])
                loss = nn.functional.cross_entropy(net(torch.cat([real, fake])), labels)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    return net.eval()


def new_net(data: ProbeData, spec: ProbeSpec) -> ProbeNet:
    """A probe's initial weights, from spec.seed (the global random state is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        return ProbeNet(data.train.shape[-1], data.classes, spec)


def cache_dir() -> Path:
    """twoclocks' folder in the user's cache directory ($XDG_CACHE_HOME, else ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "twoclocks"


def probe_key(data: ProbeData, spec: ProbeSpec) -> str:
    """A hash of everything the trained weights depend on."""
    h = hashlib.sha256()
    settings = {"format": FORMAT, "torch": str(torch.__version__), "spec": dataclasses.asdict(spec)}
    settings.update(levels=data.levels, classes=data.classes)
    h.update(json.dumps(settings, sort_keys=True).encode())
    for array in (data.train, data.train_labels, data.test, data.test_labels):
        a = np.ascontiguousarray(array)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:20]


_loaded: dict[str, Probe] = {}  # key -> probe: each process loads a probe once


def get_probe(data: ProbeData, spec: ProbeSpec, log: Callable[[str], None] | None = print) -> Probe:
    """The probe of `data`, from the cache when it holds one, else trained, scored on the test
    split and cached (a cache that cannot be written is said in one line and skipped)."""
    key = probe_key(data, spec)
    if key in _loaded:
        return _loaded[key]
    side = data.train.shape[-1]
    path = cache_dir() / "probes" / f"{data.name}-{key}.pt"
    probe = _read_cached(path, data, spec)
    if probe is None:
        start = time.perf_counter()
        net = train_net(data, spec)
        seconds = time.perf_counter() - start
        probe = Probe(net, data.levels, {"key": key, "train_seconds": seconds, "torch": str(torch.__version__)})
        probe.meta["test_accuracy"] = float((probe.predict(data.test) == data.test_labels).mean())
        probe.meta["test_recognisable"] = float(probe.recognisable(data.test).mean())
        where = f"cached in {path}"
        try:
            write_torch(path, {"state_dict": net.state_dict(), "meta": probe.meta}, parents=True)
        except TwoClocksError as exc:
            where = f"not cached: {exc}"
        if log:
            log(
                f"probe for {data.name} ({side}x{side}, {data.levels} levels) trained in {seconds:.1f} s: "
                f"test accuracy {probe.test_accuracy:.4f}, {probe.meta['test_recognisable']:.4f} of the test "
                f"images recognisable ({where})"
            )
    _loaded[key] = probe
    return probe


def _read_cached(path: Path, data: ProbeData, spec: ProbeSpec) -> Probe | None:
    """The cached probe at `path`, or None when there is none or it does not load."""
    if not path.is_file():
        return None
    try:
        stored = read_torch(path)
        net = new_net(data, spec)
        net.load_state_dict(stored["state_dict"])
        meta = dict(stored["meta"])
        float(meta["test_accuracy"])
    except (TwoClocksError, KeyError, TypeError, ValueError, RuntimeError):
        return None
    return Probe(net, data.levels, meta)
