"""Raw: the physical baseline, one contiguous uint8 array file plus a labels file, plain file I/O.

`images.npy` and `labels.npy` are ordinary `.npy` files (`np.save`), so the shape is self-described
and `np.load` reads them. Reading parses the header, then each run of consecutive indices is one
`os.preadv` straight into its rows of a preallocated array (one call for an in-order read, one per
image for a random permutation). No memory map is left open, so once the reader is closed the
caller can evict the files from the page cache.

A run of at least `row_reads.PARALLEL_MIN_BYTES` is split over `workers` threads (preadv releases
the GIL): most of a warm read is the kernel copying pages into the array and faulting the array's
fresh pages in, and on 2 idle cores two threads do that in 52 ms instead of 89 ms for 100,000 images
(293 MiB), 2.4 instead of 3.0 ms for 10,000; for 6 MiB a thread costs more than it saves (0.75
against 0.55 ms). Cold, both take 165-190 ms for 100,000 images, bound by the disk; with the other
core busy, both take the single-thread time. The baseline uses both cores because the fast formats
do, so that a format's time over this one is its own overhead, not less parallelism. (Measured on a
2-core VM, ext4, while writing commit 6afdf9b.)
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np

from imgbench.cells import BASELINE, BASELINE_FORMAT, BASELINE_RANK, Presentation
from imgbench.errors import StoreError
from imgbench.row_reads import read_rows
from imgbench.stores.base import Reader, Store, checked_indices, worker_count

PRESENTATION = Presentation(label="raw", colour="black", rank=BASELINE_RANK)

IMAGES_FILE = "images.npy"
LABELS_FILE = "labels.npy"


def read_header(file: BinaryIO, name: Path) -> tuple[tuple[int, ...], int]:
    """(shape, data offset) of the C-ordered uint8 `.npy` file `file`, read from its start."""
    try:
        version = np.lib.format.read_magic(file)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(file)
        else:
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(file)
    except ValueError as error:
        raise StoreError(f"{name}: not a readable .npy file ({error})") from error
    if dtype != np.uint8 or fortran_order:
        raise StoreError(f"{name}: holds {dtype} (Fortran order: {fortran_order}), not uint8")
    return shape, file.tell()


class RawReader(Reader):
    def __init__(self, path: Path, workers: int | None) -> None:
        self._threads = worker_count(workers)
        try:
            self._labels = np.load(path / LABELS_FILE)
            self._file = open(path / IMAGES_FILE, "rb", buffering=0)  # noqa: SIM115 - kept open
        except (OSError, ValueError) as error:
            raise StoreError(f"{path}: not a readable raw store ({error})") from error
        try:
            shape, self._offset = read_header(self._file, path / IMAGES_FILE)
            if len(shape) != 4 or shape[0] != len(self._labels) or self._labels.dtype != np.uint8:
                raise StoreError(f"{path}: images {shape} do not match labels {self._labels.shape}")
        except StoreError:
            self._file.close()
            raise
        self._shape = shape[1:]

    def __len__(self) -> int:
        return len(self._labels)

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, len(self))
        images = np.empty((len(indices), *self._shape), dtype=np.uint8)
        read_rows(self._file.fileno(), self._offset, indices, images, self._threads)
        return images, self._labels[indices]

    def close(self) -> None:
        self._file.close()


class RawStore(Store):
    format = BASELINE_FORMAT
    implementation = BASELINE
    marker = IMAGES_FILE

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        np.save(path / IMAGES_FILE, np.ascontiguousarray(images, dtype=np.uint8))
        np.save(path / LABELS_FILE, np.asarray(labels, dtype=np.uint8))

    def open(self, path: Path, *, workers: int | None = None) -> RawReader:
        return RawReader(path, workers)


STORES: dict[str, Store] = {BASELINE: RawStore()}
