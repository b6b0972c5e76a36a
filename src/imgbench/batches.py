"""CIFAR-10's training batches, unpickled safely and validated, concatenated into the image pool.

The batches are pickles, and an archive may be hostile: they are unpickled by an unpickler that
can build NumPy arrays and nothing else, and their keys, shapes, dtype and labels are checked
before any image is used.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from imgbench import allow_list_pickle
from imgbench.cifar import TRAIN_BATCHES
from imgbench.errors import DatasetError
from imgbench.pool import Pool

PIXELS_PER_IMAGE = 32 * 32 * 3
NUM_CLASSES = 10


def _numpy_reconstruct() -> Callable[..., np.ndarray]:
    """The function NumPy pickles arrays with, found without naming a private module."""
    return np.zeros(1).__reduce__()[0]


class CifarUnpickler(allow_list_pickle.AllowListUnpickler):
    """Unpickles CIFAR-10 batches and refuses every global but NumPy's array reconstruction."""

    allowed = {
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
        ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }
    refusal = (
        "refused to load global {module}.{name}: CIFAR-10 batches only need NumPy arrays, so "
        "this file is not a genuine batch (it may be hostile)."
    )


def load_pickle(stream: BinaryIO, source: str) -> object:
    """Unpickle one CIFAR-10 file with `CifarUnpickler`, naming `source` in any error."""
    return allow_list_pickle.load(
        CifarUnpickler, stream, source, damaged=DatasetError, encoding="bytes"
    )


@dataclass(frozen=True)
class Batch:
    """One CIFAR-10 batch as HWC images and labels."""

    images: np.ndarray  # uint8, (n, 32, 32, 3)
    labels: np.ndarray  # uint8, (n,)


def read_batch(path: Path) -> Batch:
    """Load and validate one batch file, naming the batch and the problem on any error."""
    with path.open("rb") as stream:
        content = load_pickle(io.BufferedReader(stream), path.name)
    return batch_from_dict(content, path.name)


def batch_from_dict(content: object, name: str) -> Batch:
    """Check a batch's keys, shape, dtype and labels, then convert the rows to HWC images."""
    if not isinstance(content, dict) or not {b"data", b"labels"} <= content.keys():
        keys = sorted(map(repr, content)) if isinstance(content, dict) else type(content).__name__
        raise DatasetError(f"{name}: expected a dict with b'data' and b'labels', found {keys}.")
    data, labels = content[b"data"], content[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        kind = data.dtype if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{name}: b'data' must be a uint8 array, found {kind}.")
    if data.ndim != 2 or data.shape[1] != PIXELS_PER_IMAGE or data.shape[0] == 0:
        raise DatasetError(
            f"{name}: b'data' must have shape (images, {PIXELS_PER_IMAGE}), found {data.shape}."
        )
    if not isinstance(labels, list) or not all(type(label) is int for label in labels):
        raise DatasetError(f"{name}: b'labels' must be a list of ints.")
    if len(labels) != data.shape[0]:
        raise DatasetError(f"{name}: {data.shape[0]} images but {len(labels)} labels.")
    label_array = np.asarray(labels, dtype=np.int64)
    if label_array.min() < 0 or label_array.max() >= NUM_CLASSES:
        raise DatasetError(
            f"{name}: labels must lie in 0..{NUM_CLASSES - 1}, found "
            f"{label_array.min()}..{label_array.max()}."
        )
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return Batch(np.ascontiguousarray(images), label_array.astype(np.uint8))


def build_pool(batch_folder: Path, out: Path) -> None:
    """Concatenate the five training batches, in order, into the image pool at `out`."""
    batches = [read_batch(batch_folder / name) for name in TRAIN_BATCHES]
    pool = Pool(
        np.concatenate([batch.images for batch in batches]),
        np.concatenate([batch.labels for batch in batches]),
    )
    pool.save(out)
    print(f"image pool {out}: {len(pool)} training images")
