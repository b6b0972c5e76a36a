"""The image pool: the training images every store is built from, and which N of them a store holds.

The pool is one `.npz` file (the training batches in order), written once by the dataset stage.
Every store of N images holds its first N images, repeated in order beyond its size as the
tutorial repeats CIFAR-10's 50,000 images to reach 100,000.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imgbench.atomic_files import atomic_path


@dataclass(frozen=True)
class Pool:
    """The training images, repeated in order up to any requested count as the tutorial does."""

    images: np.ndarray
    labels: np.ndarray

    @classmethod
    def load(cls, path: Path) -> Pool:
        with np.load(path, allow_pickle=False) as content:
            return cls(content["images"], content["labels"])

    def save(self, path: Path) -> None:
        with atomic_path(path) as partial, partial.open("wb") as sink:
            np.savez(sink, images=self.images, labels=self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def first(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The first `count` images and labels of the pool repeated end to end."""
        indices = np.arange(count) % len(self)
        return self.images[indices], self.labels[indices]
