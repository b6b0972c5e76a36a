"""PNG: one file per image, named by its zero-padded index, with all labels in `labels.csv`.

Both implementations share this layout (`{index:08d}.png`, then `labels.csv`: a `label` header line
and one label per line), so each reads the other's stores.

`tutorial` is the Real Python tutorial's code path: Pillow encodes and decodes one file at a time
with its defaults, labels go through the `csv` module.

`fast` keeps one PNG file per image and the zlib level of Pillow's default (6), but, measured on
32x32 RGB images on 2 cores:
- decodes with imagecodecs (libpng): 50 us per image against Pillow's 117 us; encodes with it:
  105 us against 170 us, files of 2,166 bytes on average against Pillow's 2,209 (both fill one
  4 KiB block, so disk use is the same: 400,196 KiB for 100,000 images);
- opens files relative to a folder descriptor (`dir_fd`): 4.6 us against 11 us for a full path
  (`open()`: 17 us), which matters once decoding no longer dominates;
- from POOL_MIN_IMAGES images on, shares the files out over a fork-based process pool in
  chunks. Readers decode straight into anonymous shared memory that becomes the result array:
  at 100,000 images that beat returning each chunk's pixels through the pool (medians 6.4
  against 7.4 s on a busy machine, faster in 5 of 6 pairs), although faulting in shared pages
  costs 3x more than private ones.
(Measured on a 2-core VM, ext4, while writing commit 6afdf9b.)
"""

from __future__ import annotations

import csv
import itertools
import mmap
import multiprocessing
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import imagecodecs
import numpy as np
from PIL import Image

from imgbench.cells import Presentation
from imgbench.errors import StoreError
from imgbench.stores.base import Reader, Store, checked_indices, no_images, worker_count

PRESENTATION = Presentation(label="PNG", colour="tab:blue", rank=10)

LABELS_FILE = "labels.csv"
LABELS_HEADER = "label"
POOL_MIN_IMAGES = 1000  # a pool costs ~20 ms; reading 500 images: 33 ms alone, 37 with 2
CHUNKS_PER_WORKER = 8  # small chunks keep both cores busy when one is slowed by other jobs
READ_BYTES = 1 << 16  # one read() fetches any 32x32 PNG; bigger files take more reads


def image_name(index: int) -> str:
    return f"{index:08d}.png"


def write_labels(path: Path, labels: np.ndarray) -> None:
    """The labels file both implementations read: `label`, then one label per line."""
    with open(path / LABELS_FILE, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow([LABELS_HEADER])
        writer.writerows([int(label)] for label in labels)


def read_labels(path: Path, *, with_csv: bool) -> np.ndarray:
    """The labels in `labels.csv`, parsed by the `csv` module (the tutorial's way) or by splitting
    lines (3x faster: 15 against 45 ms for 100,000 labels)."""
    try:
        with open(path / LABELS_FILE, newline="") as file:
            lines = [row[0] for row in csv.reader(file)] if with_csv else file.read().splitlines()
        if lines[:1] != [LABELS_HEADER]:
            raise ValueError(f"the first line is {lines[:1]}, not {LABELS_HEADER!r}")
        return np.array([int(line) for line in lines[1:]], dtype=np.uint8)
    except (OSError, ValueError, IndexError) as error:
        raise StoreError(f"{path}: unreadable {LABELS_FILE} ({error})") from error


class TutorialPngReader(Reader):
    def __init__(self, path: Path) -> None:
        self._path = path
        self._labels = read_labels(path, with_csv=True)

    def __len__(self) -> int:
        return len(self._labels)

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, len(self))
        images = []
        for index in indices:
            file = self._path / image_name(int(index))
            try:
                with Image.open(file) as image:
                    images.append(np.array(image))
            except OSError as error:
                raise StoreError(f"{file}: cannot read this image ({error})") from error
        return (np.stack(images) if images else no_images()), self._labels[indices]

    def close(self) -> None:
        """Nothing stays open: each image file is closed as soon as it is decoded."""


class TutorialPngStore(Store):
    format = "png"
    implementation = "tutorial"
    marker = LABELS_FILE

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        for index, image in enumerate(images):
            Image.fromarray(image).save(path / image_name(index))
        write_labels(path, labels)

    def open(self, path: Path, *, workers: int | None = None) -> TutorialPngReader:
        return TutorialPngReader(path)


def pool_size(workers: int | None, count: int) -> int:
    """Processes worth using for `count` images: 1 (no pool) below POOL_MIN_IMAGES, when asked, or
    inside a daemonic process (a pool worker), which may not start processes of its own."""
    if count < POOL_MIN_IMAGES or multiprocessing.current_process().daemon:
        return 1
    return worker_count(workers)


def chunks(count: int, processes: int) -> list[tuple[int, int]]:
    """(start, stop) ranges covering 0..count, CHUNKS_PER_WORKER per process."""
    bounds = np.linspace(0, count, processes * CHUNKS_PER_WORKER + 1).astype(int).tolist()
    return [(start, stop) for start, stop in itertools.pairwise(bounds) if stop > start]


# What pool workers work on: set in the parent just before forking, inherited by the children.
_job: dict[str, Any] = {}


def run_in_pool(
    processes: int, task: Callable[[tuple[int, int]], None], count: int, **job: object
) -> None:
    """Run `task` over `chunks(count, processes)` in forked processes that inherit `job`."""
    _job.update(job)
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            for _ in pool.imap_unordered(task, chunks(count, processes)):
                pass
    finally:
        _job.clear()


def write_file(dir_fd: int, name: str, data: bytes) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def read_file(dir_fd: int, name: str) -> bytes:
    fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
    try:
        parts = [os.read(fd, READ_BYTES)]
        while len(parts[-1]) == READ_BYTES:
            parts.append(os.read(fd, READ_BYTES))
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def encode_range(images: np.ndarray, dir_fd: int, start: int, stop: int) -> None:
    for index in range(start, stop):
        write_file(dir_fd, image_name(index), imagecodecs.png_encode(images[index]))


def decode_range(
    images: np.ndarray, indices: np.ndarray, dir_fd: int, start: int, stop: int
) -> None:
    """Decode the files of `indices[start:stop]` into `images[start:stop]`."""
    for row in range(start, stop):
        name = image_name(int(indices[row]))
        try:
            imagecodecs.png_decode(read_file(dir_fd, name), out=images[row])
        except (OSError, imagecodecs.PngError, ValueError) as error:
            raise StoreError(
                f"{name}: cannot read this image as {images.shape[1:]} ({error})"
            ) from error


def _encode_chunk(bounds: tuple[int, int]) -> None:
    encode_range(_job["images"], _job["dir_fd"], *bounds)


def _decode_chunk(bounds: tuple[int, int]) -> None:
    decode_range(_job["images"], _job["indices"], _job["dir_fd"], *bounds)


class FastPngReader(Reader):
    def __init__(self, path: Path, workers: int | None) -> None:
        self._path, self._workers = path, workers
        self._labels = read_labels(path, with_csv=False)
        self._dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)

    def __len__(self) -> int:
        return len(self._labels)

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, len(self))
        if len(indices) == 0:
            return no_images(), self._labels[indices]
        try:
            first = imagecodecs.png_decode(read_file(self._dir_fd, image_name(int(indices[0]))))
        except (OSError, imagecodecs.PngError) as error:
            raise StoreError(f"{self._path}: cannot read image {indices[0]} ({error})") from error
        if first.dtype != np.uint8 or first.ndim != 3 or first.shape[2] != 3:
            raise StoreError(f"{self._path}: image {indices[0]} is not 8-bit RGB")
        processes = pool_size(self._workers, len(indices))
        if processes == 1:
            images = np.empty((len(indices), *first.shape), dtype=np.uint8)
            decode_range(images, indices, self._dir_fd, 1, len(indices))
        else:
            # Anonymous shared memory: the children's pixels land in the array returned.
            memory = mmap.mmap(-1, len(indices) * first.size)
            images = np.frombuffer(memory, dtype=np.uint8).reshape(len(indices), *first.shape)
            run_in_pool(
                processes,
                _decode_chunk,
                len(indices),
                images=images,
                indices=indices,
                dir_fd=self._dir_fd,
            )
        images[0] = first
        return images, self._labels[indices]

    def close(self) -> None:
        os.close(self._dir_fd)


class FastPngStore(Store):
    format = "png"
    implementation = "fast"
    marker = LABELS_FILE

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        images = np.ascontiguousarray(images)
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            processes = pool_size(workers, len(images))
            if processes == 1:
                encode_range(images, dir_fd, 0, len(images))
            else:
                run_in_pool(processes, _encode_chunk, len(images), images=images, dir_fd=dir_fd)
        finally:
            os.close(dir_fd)
        write_labels(path, labels)

    def open(self, path: Path, *, workers: int | None = None) -> FastPngReader:
        return FastPngReader(path, workers)


STORES: dict[str, Store] = {"tutorial": TutorialPngStore(), "fast": FastPngStore()}
