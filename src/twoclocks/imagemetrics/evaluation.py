"""The image metrics of one evaluation of a run on a task without a rule (twoclocks.tasks.images):
what `twoclocks.evaluate.score` cannot know without held-out images.

At every evaluation, beside score's metrics:
- `mem_ratio` (Bonnaire et al. 2025): the fraction of samples whose continuous output has
  d1/d2 < 1/3 in L2 against the training set's encodings, with a bootstrap interval;
- the chance level of each copy criterion (`mem_chance`, `mem_near_chance`,
  `mem_ratio_chance`), measured once per run on the held-out images against the training set
  (replacing the rule's count, which a data set without a rule does not have);
- `gen` = valid / `heldout_valid`: the probe's rate on the samples relative to its rate on the
  held-out images, the ceiling a model that generalised perfectly reaches (its Wilson limits
  scaled alike); τ_gen is read off it (twoclocks.clocks.GEN);
- `fd`: the Fréchet distance between the samples' probe features and the held-out images',
  beside `fd_floor`, the distance between two halves of the held-out images;
- `loss_gap`: the relative gap between the model's loss on held-out and on training images on
  fixed noise (`loss_gap`), from which τ_gap is read.

The held-out values are the held-out cells' encoding, the units the samples' values are in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from twoclocks.data import TrainingIndex
from twoclocks.encoding import Encoding
from twoclocks.evaluate import NEAR_HAMMING
from twoclocks.imagemetrics.copies import copy_chance, copy_metrics
from twoclocks.imagemetrics.frechet import frechet_distance, frechet_floor
from twoclocks.imagemetrics.loss_gap import loss_gap
from twoclocks.models.base import GenerativeModel
from twoclocks.tasks.images import ImageTask

RATIO_METRICS = ("mem_ratio", "mem_ratio_lo", "mem_ratio_hi")


@dataclass
class ImageEvaluation:
    """The held-out side of a run's image metrics, computed once and reused at every evaluation."""

    task: ImageTask
    encoding: Encoding
    train_cells: np.ndarray  # uint8 (N, H, W)
    index: TrainingIndex
    ci_level: float = 0.95

    def values(self, cells: np.ndarray) -> np.ndarray:
        """uint8 (n, H, W) -> float32 (n, C, H, W): cells in the units of the model's output."""
        return self.encoding.to_continuous(cells).numpy()

    @cached_property
    def train_values(self) -> np.ndarray:
        return self.values(self.train_cells)

    @cached_property
    def chance(self) -> dict[str, float]:
        """`<criterion>_chance` of each copy criterion, measured on the held-out images."""
        heldout = self.task.heldout
        return copy_chance(heldout, self.values(heldout), self.index, self.train_values, NEAR_HAMMING)

    @cached_property
    def heldout_valid(self) -> float:
        """The probe's rate on the held-out images: what a perfect generaliser's `valid` is."""
        return float(self.task.probe().recognisable(self.task.heldout).mean())

    @cached_property
    def heldout_features(self) -> np.ndarray:
        return self.task.probe().features(self.task.heldout)

    @cached_property
    def fd_floor(self) -> float:
        return frechet_floor(self.heldout_features)

    def metrics(
        self, model: GenerativeModel, cells: np.ndarray, values: np.ndarray, score_metrics: dict
    ) -> dict[str, float]:
        """The image metrics of M samples of `model`: cells uint8 (M, H, W), values float
        (M, C, H, W) (its continuous output), `score_metrics` score's metrics of the same
        samples; and its loss gap."""
        copies = copy_metrics(cells, values, self.index, self.train_values, NEAR_HAMMING, self.ci_level)
        rate = self.heldout_valid
        out = {k: copies[k] for k in RATIO_METRICS}
        out.update(self.chance)
        out["heldout_valid"] = rate
        for suffix in ("", "_lo", "_hi"):
            out[f"gen{suffix}"] = score_metrics[f"valid{suffix}"] / rate if rate > 0 else float("nan")
        out["fd"] = frechet_distance(self.task.probe().features(cells), self.heldout_features)
        out["fd_floor"] = self.fd_floor
        out.update(loss_gap(model, self.train_cells, self.task.heldout, self.ci_level))
        return out


def image_evaluation(
    task, encoding: Encoding, train_cells: np.ndarray, index: TrainingIndex, ci_level: float
) -> ImageEvaluation | None:
    """The image metrics of a run on `task`, or None when it is not an image data set."""
    if not isinstance(task, ImageTask):
        return None
    return ImageEvaluation(task, encoding, train_cells, index, ci_level)
