"""The timing jobs: a store built, read back or used one image at a time, each timing a row.

Each function takes the `Store` to measure, the image pool and the job's paths and values; it
writes the job's table, whose rows name the store, the host that measured them and the type of
filesystem the store was on.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

from imgbench import measure, thread_pools
from imgbench.atomic_files import write_json, write_rows
from imgbench.cells import (
    BASELINE,
    FLOOR_FORMAT,
    NOT_APPLICABLE,
    SERIES_KEYS,
    SIZE_COLUMN,
    TIMING_COLUMNS,
    read_cells,
)
from imgbench.codecs import Codec, psnr
from imgbench.machine import filesystem
from imgbench.parallel import decode_many, encode_many, expected_images
from imgbench.pool import Pool
from imgbench.stores.base import Store


def build_store(
    store: Store,
    pool: Path,
    image_size: int,
    n_images: int,
    store_dir: Path,
    table: Path,
    repeats: Mapping[str, float],
    threads: int,
    discarded: Path | None,
) -> None:
    """Write the store of the pool's first `n_images` images as often as `repeats` says, keep
    the last and set the others aside in `discarded` (`imgbench.discards`)."""
    thread_pools.pin_for_job(threads)
    images, labels = Pool.load(pool).first(n_images)
    policy = measure.RepeatPolicy.of(repeats)
    timings = measure.time_write_many(store, images, labels, store_dir, policy, discarded)
    write_timings(table, timings, store, image_size, n_images, store_dir)


def read_store(
    store: Store,
    pool: Path,
    image_size: int,
    n_images: int,
    store_dir: Path,
    table: Path,
    repeats: Mapping[str, float],
    caches: list[str],
    orders: list[str],
    readers: list[int],
    seed: int,
    batch_size: int,
    threads: int,
) -> None:
    """Read the store back in every read cell as often as `repeats` says, verifying every
    read."""
    thread_pools.pin_for_job(threads)
    images, labels = Pool.load(pool).first(n_images)
    images = expected_images(store.codec, images)
    cells = read_cells(caches, orders, readers)
    policy = measure.RepeatPolicy.of(repeats)
    timings = measure.time_reads(store, store_dir, images, labels, policy, cells, seed, batch_size)
    write_timings(table, timings, store, image_size, n_images, store_dir)


def single_image(
    store: Store,
    pool: Path,
    image_size: int,
    scratch: Path,
    table: Path,
    repeats: Mapping[str, float],
    operations: int,
    threads: int,
    discarded: Path | None,
) -> None:
    """The tutorial's one-image write and read; the one-image stores are written beside
    `scratch`, in the stores folder, like the big ones, and set aside in `discarded`."""
    thread_pools.pin_for_job(threads)
    images, labels = Pool.load(pool).first(operations)
    policy = measure.RepeatPolicy.of(repeats)
    timings = measure.time_single(store, images, labels, scratch, policy, operations, discarded)
    write_timings(table, timings, store, image_size, 1, scratch)


def decode_floor(
    codec: Codec,
    pool: Path,
    image_size: int,
    n_images: int,
    table: Path,
    quality: Path,
    repeats: Mapping[str, float],
    threads: int,
) -> None:
    """Decode the pool's first `n_images` images in `codec` from memory as often as `repeats`
    says: the floor every store of that codec is compared with. `quality` records the codec's
    mean bytes per image and its error against the source images (PSNR)."""
    thread_pools.pin_for_job(threads)
    images, _ = Pool.load(pool).first(n_images)
    blobs = encode_many(codec, images, threads)
    expected = images if codec.lossless else decode_many(codec, blobs, images.shape[1:], threads)
    record = {
        "codec": codec.name,
        SIZE_COLUMN: image_size,
        "jpeg_quality": None if codec.lossless else codec.jpeg_quality,
        "n_images": n_images,
        "mean_bytes": sum(map(len, blobs)) / max(1, len(blobs)),
        "psnr_db": None if codec.lossless else psnr(images, expected),
    }
    write_json(quality, record)
    print(f"{codec.name}: {record}")
    policy = measure.RepeatPolicy.of(repeats)
    timings = measure.time_decode_floor(codec, blobs, expected, policy, workers=threads)
    labels = dict(zip(SERIES_KEYS, (FLOOR_FORMAT, BASELINE, codec.name), strict=True))
    labels |= {
        SIZE_COLUMN: image_size,
        "n_images": n_images,
        "host": socket.gethostname(),
        "filesystem": NOT_APPLICABLE,
    }
    write_rows(table, TIMING_COLUMNS, [timing.row(**labels) for timing in timings])
    for timing in timings:
        print(f"{codec.name} decode floor n={n_images} #{timing.repeat}: {timing.seconds:.6f} s")


def write_timings(
    table: Path,
    timings: list[measure.Timing],
    store: Store,
    image_size: int,
    n_images: int,
    store_dir: Path,
) -> None:
    """Rows labelled with the store, the image size, the host and the filesystem type the store
    was on."""
    labels = store.series_columns() | {SIZE_COLUMN: image_size, "n_images": n_images}
    labels["host"] = socket.gethostname()
    labels["filesystem"] = filesystem(store_dir.parent)["type"]
    write_rows(table, TIMING_COLUMNS, [timing.row(**labels) for timing in timings])
    for timing in timings:
        print(
            f"{store.key} n={n_images} {timing.operation} {timing.phase} {timing.cache} "
            f"{timing.order} readers={timing.readers} #{timing.repeat}.{timing.sample}: "
            f"{timing.seconds:.6f} s"
        )
