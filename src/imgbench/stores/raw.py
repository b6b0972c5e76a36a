"""Raw: the physical baseline, one contiguous uint8 array file plus a labels file, plain file I/O.

`images.npy` and `labels.npy` are ordinary `.npy` files (`np.save`), so the shape is self-described
and `np.load` reads them. Reading parses the header and maps the images file read-only
(`row_reads.MappedRows`; mapping reads nothing). One image, `reader[i]`, is a copy of its row out
of the map. A bulk read whose runs of consecutive indices average fewer than
`row_reads.MAP_MAX_RUN` (32) images, such as a random batch, is one NumPy gather (`np.take`) out of
the map; otherwise each run is one `os.preadv` straight into its rows of a preallocated array (one
call for an in-order read). Every image returned is a copy, and closing the reader unmaps the file,
so the caller can then evict the files from the page cache.

A run of at least `row_reads.PARALLEL_MIN_BYTES` is split over `workers` threads (preadv releases
the GIL): most of a warm read is the kernel copying pages into the array and faulting the array's
fresh pages in, and on 2 idle cores two threads do that in 52 ms instead of 89 ms for 100,000 images
(293 MiB), 2.4 instead of 3.0 ms for 10,000; for 6 MiB a thread costs more than it saves (0.75
against 0.55 ms). Cold, both take 165-190 ms for 100,000 images, bound by the disk; with the other
core busy, both take the single-thread time. The baseline uses both cores because the fast formats
do, so that a format's time over this one is its own overhead, not less parallelism. (Measured on a
2-core VM, ext4, while writing commit 6afdf9b.)

Random access (issue 17), warm, 100,000 images, medians of 5-9 rounds each timing 20,000 images
in a fixed-seed random order or 100 random batches of 256, interleaved with `mm[i].copy()` and
`mm[idx]` of `np.load(mmap_mode="r")`, other jobs holding the load average at 0.5-0.8:
`reader[i]` took 2.1-2.5 us an image against 36 us with one `preadv` each (the copy out of the
map makes no system call; `mm[i].copy()` took 3.8-6.0 us, as `np.memmap` indexes in Python), and
a batch 0.21-0.26 ms, 0.96-0.97 of `mm[idx]`, against 0.93 ms. The switch, warm, 25,600 images in
runs of k: the gather took 27, 22, 22, 20 and 20 ms for k = 1, 4, 8, 32 and 256, `preadv` 97, 45-46,
34-36, 26-27 and 25-26 ms; a whole in-order read took 88 against 66 ms (two threads). Cold
(evicted before each read), `preadv` won at every k: 280 against 475 ms for runs of 8, 204 against
391 for 32, 171 against 409 for 256, 149 against 160 for the whole file; single images (2,560)
143 against 305 ms, or 164 with `MADV_RANDOM`, which the map therefore gets (for runs of 8-256 it
made cold gathers twice as slow again). So a run of 32 or more, where the map saves a fifth warm
but takes twice as long cold, stays on `preadv`, as do the pipeline's cold cells (in order);
shorter ones are gathered. (2-core VM, ext4, 2026-11-26.)
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

from imgbench.atomic_files import atomic_path
from imgbench.cells import BASELINE, BASELINE_FORMAT, BASELINE_RANK, Presentation
from imgbench.errors import StoreError
from imgbench.row_reads import MappedRows
from imgbench.stores.base import (
    PartWriter,
    Reader,
    Store,
    check_appended,
    checked_indices,
    worker_count,
)

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


def npy_header(shape: tuple[int, ...], version: tuple[int, int]) -> bytes:
    """The `.npy` header `np.save` writes for a C-ordered uint8 array of `shape` (NumPy pads it
    to 64 bytes, with room for the first dimension to grow to 21 digits)."""
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8))}
    header |= {"fortran_order": False, "shape": shape}
    buffer = io.BytesIO()
    if version == (1, 0):
        np.lib.format.write_array_header_1_0(buffer, header)
    else:
        np.lib.format.write_array_header_2_0(buffer, header)
    return buffer.getvalue()


class RawReader(Reader):
    def __init__(self, path: Path, workers: int | None) -> None:
        try:
            self._labels = np.load(path / LABELS_FILE)
            self._file = open(path / IMAGES_FILE, "rb", buffering=0)  # noqa: SIM115 - kept open
        except (OSError, ValueError) as error:
            raise StoreError(f"{path}: not a readable raw store ({error})") from error
        try:
            shape, offset = read_header(self._file, path / IMAGES_FILE)
            if len(shape) != 4 or shape[0] != len(self._labels) or self._labels.dtype != np.uint8:
                raise StoreError(f"{path}: images {shape} do not match labels {self._labels.shape}")
            self._rows = MappedRows(
                self._file.fileno(), offset, shape, worker_count(workers), path / IMAGES_FILE
            )
        except StoreError:
            self._file.close()
            raise
        self._count = len(self._labels)
        self._label_bytes = self._labels.tobytes()  # indexing bytes gives an int, and fast

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        if not -self._count <= index < self._count:
            raise IndexError(f"index {index} is out of range for a store of {self._count} images")
        return self._rows.rows[index].copy(), self._label_bytes[index]

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, self._count)
        return self._rows.read(indices), self._labels[indices]

    def close(self) -> None:
        self._rows.close()
        self._file.close()


class RawPartWriter(PartWriter):
    """Writes its rows into the preallocated `.npy` files with `os.pwrite` at their offsets:
    disjoint byte ranges of one file, so writers never wait on each other."""

    def __init__(self, path: Path) -> None:
        self._fds: list[int] = []
        self._offsets: list[int] = []
        for name in (IMAGES_FILE, LABELS_FILE):
            with open(path / name, "rb") as file:
                self._offsets.append(read_header(file, path / name)[1])
            self._fds.append(os.open(path / name, os.O_WRONLY))

    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        images = np.ascontiguousarray(images, dtype=np.uint8)
        row = images[0].nbytes if len(images) else 0
        for fd, offset, data in zip(
            self._fds,
            (self._offsets[0] + start * row, self._offsets[1] + start),
            (images, np.ascontiguousarray(labels, dtype=np.uint8)),
            strict=True,
        ):
            view = memoryview(data).cast("B")
            while view:
                written = os.pwrite(fd, view, offset)
                view, offset = view[written:], offset + written

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []


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

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """The new pixels appended to `images.npy`, then its header rewritten in place with the
        new length (NumPy pads it so that the first dimension can grow, so it keeps its size),
        then `labels.npy` (small) rewritten beside and renamed over the old one. A header that
        would no longer fit (a file written without that room) means rewriting `images.npy`
        whole, beside it, then renaming it over the old one. Pixels appended but not yet
        counted by the header are dropped by the next append."""
        with RawReader(path, 1) as reader:
            count = len(reader)
        new = np.ascontiguousarray(images, dtype=np.uint8)
        with open(path / IMAGES_FILE, "r+b") as file:
            version = np.lib.format.read_magic(file)
            file.seek(0)
            shape, offset = read_header(file, path / IMAGES_FILE)
            labels = check_appended(path, shape[1:], "raw", self.codec, images, labels)
            header = npy_header((count + len(images), *shape[1:]), version)
            if len(header) == offset:
                file.seek(offset + count * int(np.prod(shape[1:])))
                file.truncate()
                file.write(new.tobytes())
                file.flush()
                os.pwrite(file.fileno(), header, 0)
                said = "pixels appended to images.npy, its header rewritten in place"
        if len(header) != offset:
            old = np.load(path / IMAGES_FILE, mmap_mode="r")
            with atomic_path(path / IMAGES_FILE) as partial, open(partial, "wb") as file:
                file.write(npy_header((count + len(images), *shape[1:]), (1, 0)))
                for start in range(0, count, 4096):
                    file.write(np.ascontiguousarray(old[start : start + 4096]).tobytes())
                file.write(new.tobytes())
            del old
            said = f"rewrote images.npy whole (its {offset}-byte header had no room to grow)"
        old_labels = np.load(path / LABELS_FILE)
        with atomic_path(path / LABELS_FILE) as partial, open(partial, "wb") as file:
            np.save(file, np.concatenate([old_labels, labels]))
        return f"{said}; labels.npy rewritten"

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        """Both `.npy` files at their full size (sparse until written), headers included."""
        path.mkdir(parents=True, exist_ok=True)
        for name, shape in ((IMAGES_FILE, (count, *image_shape)), (LABELS_FILE, (count,))):
            array = np.lib.format.open_memmap(path / name, mode="w+", dtype=np.uint8, shape=shape)
            del array  # nothing written: the file is sized, its pages untouched

    def part_writer(self, path: Path) -> RawPartWriter:
        return RawPartWriter(path)


STORES: dict[str, Store] = {BASELINE: RawStore()}
