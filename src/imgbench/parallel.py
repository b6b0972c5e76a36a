"""Encoding and decoding many images on every core: how every container's `fast` implementation
encodes on write and decodes on read, and how the decode floor (`decode_floor`) decodes.

Forked worker processes inherit what they work on (no pickling on the way in); decoders write the
pixels straight into anonymous shared memory that becomes the result array, encoders return their
chunk's bytes. Below `POOL_MIN_IMAGES`, or inside a daemonic process (a pool worker may not start
its own), everything runs in the calling process.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.forked_arrays import result_array
from imgbench.stores.base import worker_count

POOL_MIN_IMAGES = 1000  # a pool costs ~20 ms; decoding 500 PNG images: 33 ms alone, 37 with 2
CHUNKS_PER_WORKER = 8  # small chunks keep both cores busy when one is slowed by other jobs


def pool_size(workers: int | None, count: int) -> int:
    """Processes worth using for `count` images: 1 (no pool) below POOL_MIN_IMAGES, when asked, or
    inside a daemonic process."""
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


def job() -> dict[str, Any]:
    """The values `run_in_pool` handed to this worker."""
    return _job


def decode_range(
    codec: Codec,
    blobs: Sequence[bytes | memoryview],
    images: np.ndarray,
    names: Callable[[int], object],
    start: int,
    stop: int,
) -> None:
    for row in range(start, stop):
        try:
            codec.decode(blobs[row], images[row])
        except StoreError as error:  # only a failure pays for naming its image
            raise StoreError(f"{names(row)}: {error}") from error


def _encode_chunk(bounds: tuple[int, int]) -> list[bytes]:
    codec, images = _job["codec"], _job["images"]
    return [codec.encode(images[index]) for index in range(*bounds)]


def encode_many(codec: Codec, images: np.ndarray, workers: int | None) -> list[bytes]:
    """Each image's bytes in `codec`, in order."""
    processes = pool_size(workers, len(images)) if codec.name != "raw" else 1
    if processes == 1:
        return [codec.encode(image) for image in images]
    _job.update(codec=codec, images=images)
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            parts = pool.map(_encode_chunk, chunks(len(images), processes), chunksize=1)
    finally:
        _job.clear()
    return [blob for part in parts for blob in part]


def _decode_chunk(bounds: tuple[int, int]) -> None:
    decode_range(_job["codec"], _job["blobs"], _job["images"], _job["names"], *bounds)


def decode_many(
    codec: Codec,
    blobs: Sequence[bytes | memoryview],
    shape: tuple[int, ...],
    workers: int | None,
    names: Callable[[int], object] = str,
) -> np.ndarray:
    """The images (len(blobs), *shape) that `blobs` encode; `names(row)` names a blob in errors."""
    processes = pool_size(workers, len(blobs)) if codec.name != "raw" else 1
    images = result_array(len(blobs), shape, processes)
    if processes == 1:
        decode_range(codec, blobs, images, names, 0, len(blobs))
    else:
        run_in_pool(
            processes,
            _decode_chunk,
            len(blobs),
            codec=codec,
            blobs=blobs,
            images=images,
            names=names,
        )
    return images


def expected_images(codec: Codec, images: np.ndarray, workers: int | None = None) -> np.ndarray:
    """What a read of a store holding `images` in `codec` must return: the images themselves for
    a lossless codec, the decoder's output for their bytes for a lossy one."""
    if codec.lossless:
        return images
    blobs = encode_many(codec, images, workers)
    return decode_many(codec, blobs, images.shape[1:], workers)
