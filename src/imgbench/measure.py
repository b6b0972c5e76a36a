"""How stores are timed, verified and measured, separate from how any format stores.

Timings are taken in-process with `time.perf_counter`, with the garbage collector off inside the
timed region, after one untimed warm-up, and repeated. Every read is compared with the images and
labels that were written, outside the timed region, and a mismatch fails the measurement.
"""

from __future__ import annotations

import gc
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from imgbench.errors import StoreError, VerificationError
from imgbench.stores import Store

WARMUP_IMAGES = 10
T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """One timed measurement: `seconds` for one unit of `images` images."""

    operation: str
    repeat: int
    images: int
    seconds: float

    def row(self, **labels: object) -> dict[str, object]:
        return {**labels, **asdict(self)}


def timed(action: Callable[..., T], *args: object) -> tuple[float, T]:
    """Seconds `action(*args)` takes and its result, with the collector off while it runs.

    The collector's pauses would otherwise land in whichever measurement triggers them.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        result = action(*args)
        return time.perf_counter() - start, result
    finally:
        if collecting:
            gc.enable()


def verify(
    images: np.ndarray, labels: np.ndarray, expected_images: np.ndarray, expected_labels: np.ndarray
) -> None:
    """Fail, naming the first bad image, unless what was read is exactly what was written."""
    if images.shape != expected_images.shape or labels.shape != expected_labels.shape:
        raise VerificationError(
            f"read back {images.shape} images and {labels.shape} labels, expected "
            f"{expected_images.shape} and {expected_labels.shape}"
        )
    bad_images = np.flatnonzero((images != expected_images).reshape(len(images), -1).any(axis=1))
    bad_labels = np.flatnonzero(labels != expected_labels)
    if len(bad_images) or len(bad_labels):
        raise VerificationError(
            f"{len(bad_images)} image(s) and {len(bad_labels)} label(s) read back differ from "
            f"those written (first bad image: {bad_images[:1].tolist()}, first bad label: "
            f"{bad_labels[:1].tolist()}); the store is damaged or its format code is wrong"
        )


def scratch_folder(beside: Path) -> Path:
    """A fresh folder on the same filesystem as `beside`, so results can be renamed into place."""
    beside.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{beside.name}.", dir=beside.parent))


def time_write_many(
    store: Store, images: np.ndarray, labels: np.ndarray, out: Path, repeats: int
) -> list[Timing]:
    """Write the store `repeats` times into fresh folders and keep the last one at `out`.

    Dirty pages of earlier writes are flushed (untimed) before each repeat, so one repeat does not
    pay for another's write-back.
    """
    scratch = scratch_folder(out)
    try:
        store.write_many(scratch / "warmup", images[:WARMUP_IMAGES], labels[:WARMUP_IMAGES])
        timings = []
        for repeat in range(repeats):
            target = scratch / f"repeat-{repeat}"
            os.sync()
            seconds, _ = timed(store.write_many, target, images, labels)
            timings.append(Timing("write_many", repeat, len(images), seconds))
            if repeat + 1 < repeats:
                shutil.rmtree(target)
        os.replace(target, out)
        return timings
    finally:
        shutil.rmtree(scratch)


def time_read_many(
    store: Store, path: Path, expected_images: np.ndarray, expected_labels: np.ndarray, repeats: int
) -> list[Timing]:
    """Time opening the store, reading every image in order and closing it, `repeats` times."""
    indices = np.arange(len(expected_labels))
    with store.open(path) as reader:
        if len(reader) != len(indices):
            raise StoreError(f"{path} holds {len(reader)} images, expected {len(indices)}")
    verify(*store.read_many(path, indices), expected_images, expected_labels)  # warm-up
    timings = []
    for repeat in range(repeats):
        seconds, (images, labels) = timed(store.read_many, path, indices)
        verify(images, labels, expected_images, expected_labels)
        timings.append(Timing("read_many", repeat, len(indices), seconds))
    return timings


def time_single(
    store: Store,
    images: np.ndarray,
    labels: np.ndarray,
    scratch_beside: Path,
    repeats: int,
    operations: int,
) -> list[Timing]:
    """The tutorial's one-image write and read, each timed `operations` times per repeat.

    Each write makes a new one-image store; each read opens one of them, reads its image and
    closes it. A repeat records the median seconds of one operation.
    """
    scratch = scratch_folder(scratch_beside)
    try:
        warmup = scratch / "warmup"
        store.write_single(warmup, images[0], int(labels[0]))
        store.read_single(warmup, 0)
        timings = []
        for repeat in range(repeats):
            folder = scratch / f"repeat-{repeat}"
            folder.mkdir()
            os.sync()
            writes, reads = [], []
            for op in range(operations):
                image, label = images[op % len(labels)], int(labels[op % len(labels)])
                target = folder / f"{op:06d}"
                writes.append(timed(store.write_single, target, image, label)[0])
            for op in range(operations):
                seconds, (image, label) = timed(store.read_single, folder / f"{op:06d}", 0)
                reads.append(seconds)
                k = op % len(labels)
                verify(image[np.newaxis], np.array([label]), images[k : k + 1], labels[k : k + 1])
            timings.append(Timing("write_single", repeat, 1, statistics.median(writes)))
            timings.append(Timing("read_single", repeat, 1, statistics.median(reads)))
            shutil.rmtree(folder)
        return timings
    finally:
        shutil.rmtree(scratch)


def disk_usage_kib(path: Path) -> tuple[int, int]:
    """(allocated, apparent) KiB of a folder as coreutils `du -sk` reports them."""

    def du(*options: str) -> int:
        try:
            output = subprocess.run(
                ["du", "-sk", *options, str(path)], check=True, capture_output=True, text=True
            ).stdout
        except (OSError, subprocess.CalledProcessError) as error:
            raise StoreError(f"`du` failed on {path}: {error}") from error
        return int(output.split()[0])

    return du(), du("--apparent-size")
