"""Positional reads of array rows straight into a preallocated array, shared by file-based stores.

`os.preadv` releases the GIL, so a long run of rows split over threads is copied by several cores
at once; the raw baseline and the fast HDF5 reader use the same code so that their difference is
the format's own overhead.
"""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from imgbench.errors import StoreError

PARALLEL_MIN_BYTES = 16 << 20  # below this, starting a thread costs about what it saves


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
