"""Reads of the rows of a uint8 array stored in a file, shared by file-based stores.

`os.preadv` releases the GIL, so a long run of rows split over threads is copied by several cores
at once; the raw baseline and the fast HDF5 reader use the same code so that their difference is
the format's own overhead. `MappedRows` adds a read-only memory map of the file for what `preadv`
does badly: one row, or rows scattered in short runs (a system call each), which are copied out of
the map instead; why, and where the switch lies, is in `imgbench.stores.raw`.
"""

from __future__ import annotations

import itertools
import math
import mmap
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from imgbench.errors import StoreError

PARALLEL_MIN_BYTES = 16 << 20  # below this, starting a thread costs about what it saves
MAP_MAX_RUN = 32  # reads whose runs of consecutive rows average fewer rows are copied from the map


def pread_into(fd: int, buffer: memoryview, offset: int) -> None:
    """Fill `buffer` from `fd` at `offset`; a read may return less than asked (e.g. over 2 GiB)."""
    while buffer:
        done = os.preadv(fd, [buffer], offset)
        if done == 0:
            raise StoreError("the file ends before the image data its header describes")
        buffer, offset = buffer[done:], offset + done


def read_rows(fd: int, offset: int, indices: np.ndarray, images: np.ndarray, threads: int) -> None:
    """Fill `images` with the rows `indices` of the C-ordered array stored at `offset` in `fd`.

    One `preadv` per run of consecutive indices; a long run is cut into `threads` slices read
    concurrently.
    """
    pixels, size = memoryview(images.reshape(-1)), math.prod(images.shape[1:])
    starts = np.flatnonzero(np.diff(indices, prepend=-2) != 1).tolist()  # each run's first row
    for start, stop in itertools.pairwise([*starts, len(indices)]):
        run, run_offset = pixels[start * size : stop * size], offset + int(indices[start]) * size
        if threads == 1 or len(run) < PARALLEL_MIN_BYTES:
            pread_into(fd, run, run_offset)
            continue
        bounds = [len(run) * part // threads for part in range(threads + 1)]
        with ThreadPoolExecutor(threads - 1) as pool:
            others = [
                pool.submit(pread_into, fd, run[low:high], run_offset + low)
                for low, high in itertools.pairwise(bounds[1:])
            ]
            pread_into(fd, run[: bounds[1]], run_offset)
            for other in others:
                other.result()


class MappedRows:
    """The C-ordered uint8 array `shape` stored at `offset` in the open file `fd` (named `name` in
    errors), mapped read-only.

    `rows` is the array in the map (copy out of it: no view may outlive `close`); `read` copies
    rows out of the map when their runs of consecutive indices are short, and reads them with
    `read_rows` otherwise. The map is the file's own: nothing is read when it is made, and
    `close` unmaps it, so the file's pages can be evicted again.
    """

    def __init__(
        self, fd: int, offset: int, shape: tuple[int, ...], threads: int, name: object
    ) -> None:
        self._fd, self._offset, self._threads = fd, offset, threads
        if os.fstat(fd).st_size < offset + math.prod(shape):
            raise StoreError(f"{name}: the file ends before the image data its header describes")
        try:
            self._map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as error:
            raise StoreError(f"{name}: cannot map the image data ({error})") from error
        if hasattr(mmap, "MADV_RANDOM"):  # a fault reads its page, not 128 KiB around it
            self._map.madvise(mmap.MADV_RANDOM)
        self.rows = np.ndarray(shape, np.uint8, buffer=self._map, offset=offset)

    def read(self, indices: np.ndarray) -> np.ndarray:
        """A new array of the rows `indices` (int64, already checked against the row count)."""
        runs = 1 + np.count_nonzero(np.diff(indices) != 1)
        if len(indices) < MAP_MAX_RUN * runs:
            return np.take(self.rows, indices, axis=0)
        images = np.empty((len(indices), *self.rows.shape[1:]), dtype=np.uint8)
        read_rows(self._fd, self._offset, indices, images, self._threads)
        return images

    def close(self) -> None:
        """Unmap the file (its descriptor is the caller's); `rows` is then empty."""
        self.rows = np.empty((0, *self.rows.shape[1:]), dtype=np.uint8)
        self._map.close()  # a BufferError if a view of the map were still alive
