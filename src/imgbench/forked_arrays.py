"""Arrays that processes forked to decode images write their results into, without the results
being pickled back: its own module so that jobs using only this (building an image pool) do not
depend on the codecs and stores `imgbench.parallel` imports."""

from __future__ import annotations

import mmap

import numpy as np


def result_array(count: int, shape: tuple[int, ...], processes: int) -> np.ndarray:
    """An uninitialised (count, *shape) uint8 array that forked workers can write into."""
    if processes == 1:
        return np.empty((count, *shape), dtype=np.uint8)
    memory = mmap.mmap(-1, max(1, count * int(np.prod(shape))))
    return np.frombuffer(memory, dtype=np.uint8)[: count * int(np.prod(shape))].reshape(
        count, *shape
    )
