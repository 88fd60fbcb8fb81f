"""Image data sets as tasks without a rule (`task.py`), read from the files they are shipped
in (`sources.py`, `idx.py`), with the classifier that judges generated images (`probe.py`)."""

from twoclocks.tasks.images.task import MNIST, Digits, FashionMNIST, ImageTask

__all__ = ["MNIST", "Digits", "FashionMNIST", "ImageTask"]
