"""The timing jobs: a store built, read back or used one image at a time, each timing a row.

Each function takes the `Store` to measure, the image pool and the job's paths and values; it
writes the job's table, whose rows name the store, the host that measured them and the type of
filesystem the store was on.
"""

from __future__ import annotations

import socket
from pathlib import Path

from imgbench import measure
from imgbench.atomic_files import write_rows
from imgbench.cells import FORMAT_COLUMN, TIMING_COLUMNS, read_cells
from imgbench.machine import filesystem
from imgbench.pool import Pool
from imgbench.stores.base import Store


def build_store(
    store: Store, pool: Path, n_images: int, store_dir: Path, table: Path, repeats: int
) -> None:
    """Write the store of the pool's first `n_images` images `repeats` times and keep the last."""
    images, labels = Pool.load(pool).first(n_images)
    timings = measure.time_write_many(store, images, labels, store_dir, repeats)
    _write_timings(table, timings, store, n_images, store_dir)


def read_store(
    store: Store,
    pool: Path,
    n_images: int,
    store_dir: Path,
    table: Path,
    repeats: int,
    caches: list[str],
    orders: list[str],
    readers: list[int],
    seed: int,
) -> None:
    """Read the store back in every read cell `repeats` times, verifying every read."""
    images, labels = Pool.load(pool).first(n_images)
    cells = read_cells(caches, orders, readers)
    timings = measure.time_reads(store, store_dir, images, labels, repeats, cells, seed)
    _write_timings(table, timings, store, n_images, store_dir)


def single_image(
    store: Store, pool: Path, scratch: Path, table: Path, repeats: int, operations: int
) -> None:
    """The tutorial's one-image write and read; the one-image stores are written beside
    `scratch`, in the stores folder, like the big ones."""
    images, labels = Pool.load(pool).first(operations)
    timings = measure.time_single(store, images, labels, scratch, repeats, operations)
    _write_timings(table, timings, store, 1, scratch)


def _write_timings(
    table: Path, timings: list[measure.Timing], store: Store, n_images: int, store_dir: Path
) -> None:
    """Rows labelled with the store, the host and the filesystem type the store was on."""
    labels = {FORMAT_COLUMN: store.format, "implementation": store.implementation}
    labels |= {"n_images": n_images, "host": socket.gethostname()}
    labels["filesystem"] = filesystem(store_dir.parent)["type"]
    write_rows(table, TIMING_COLUMNS, [timing.row(**labels) for timing in timings])
    for timing in timings:
        print(
            f"{store.key} n={n_images} {timing.operation} {timing.phase} {timing.cache} "
            f"{timing.order} readers={timing.readers} #{timing.repeat}.{timing.sample}: "
            f"{timing.seconds:.6f} s"
        )
