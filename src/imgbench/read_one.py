"""How much memory reading one image takes: a fresh process opens a big store and reads one image.

The tutorial says that with LMDB or HDF5 only the requested item is read into memory. A process
that opens a store and reads one image grows its resident set by what the read brought in: pages
of a memory map it touched (LMDB), chunks or buffers it read (HDF5, Parquet row groups), or
the whole store if a format loads it. Each repeat runs in a new Python process (started afresh, not
forked, so nothing of the parent's memory or the store's pages is mapped in it already), measures
its resident set after opening the store and after the read, and sends the image back to be
checked. It is started with `python -c`, not `multiprocessing`'s spawn, which would run the
calling job's script again in the child.
"""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from imgbench.cells import NOT_APPLICABLE, Operation, Phase
from imgbench.errors import StoreError
from imgbench.measure import RepeatPolicy, Timing, verify
from imgbench.parallel import expected_images
from imgbench.pool import Pool
from imgbench.store_timings import write_timings
from imgbench.stores.base import Store

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
READ_ONE_TIMEOUT_SECONDS = 120


def resident_kib() -> int:
    """This process's resident set (`/proc/self/statm`), in KiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_KIB


def _open_and_read() -> None:
    """The fresh process: reads (store, folder, index) pickled from stdin and writes back,
    pickled, the seconds to open the store and read image `index`, the resident growth of
    opening it and of the read, and what was read."""
    store, store_dir, index = pickle.load(sys.stdin.buffer)
    gc.disable()
    before = resident_kib()
    start = time.perf_counter()
    reader = store.open(store_dir, workers=1)
    opened = resident_kib()
    image, label = reader[index]
    seconds = time.perf_counter() - start
    read = resident_kib()
    reader.close()
    result = (seconds, opened - before, read - opened, np.array(image), int(label))
    sys.stdout.buffer.write(pickle.dumps(result))


def read_in_fresh_process(
    store: Store, store_dir: Path, index: int
) -> tuple[float, int, int, np.ndarray, int]:
    """`_open_and_read` in a new interpreter that finds imgbench where this one does."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, sys.path)))
    completed = subprocess.run(
        [sys.executable, "-c", "from imgbench.read_one import _open_and_read; _open_and_read()"],
        input=pickle.dumps((store, store_dir, index)),
        capture_output=True,
        env=environment,
        timeout=READ_ONE_TIMEOUT_SECONDS,
    )
    if completed.returncode != 0:
        raise StoreError(
            f"reading image {index} of {store_dir} in a fresh process failed "
            f"(exit {completed.returncode}): {completed.stderr.decode(errors='replace')[-2000:]}"
        )
    return pickle.loads(completed.stdout)


def time_read_one(
    store: Store,
    store_dir: Path,
    index: int,
    expected: tuple[np.ndarray, int],
    policy: RepeatPolicy,
) -> list[Timing]:
    """Open the store and read image `index` in a new process per repeat, checking the image;
    each repeat's row has the seconds and `rss_growth_kib`, the resident memory the read added
    (opening the store's libraries and metadata is left out, and printed)."""
    timings: list[Timing] = []

    def once(repeat: int) -> float:
        seconds, opening_kib, read_kib, image, label = read_in_fresh_process(
            store, store_dir, index
        )
        verify(
            image[np.newaxis], np.array([label]), expected[0][np.newaxis], np.array([expected[1]])
        )
        print(f"repeat {repeat}: opening +{opening_kib} KiB, reading image {index} +{read_kib} KiB")
        timings.append(
            Timing(
                Operation.READ_ONE,
                Phase.READ,
                repeat,
                1,
                seconds,
                cache=NOT_APPLICABLE,
                order=NOT_APPLICABLE,
                rss_growth_kib=read_kib,
            )
        )
        return seconds

    policy.repeat(once)
    return timings


def read_one_image(
    store: Store,
    pool: Path,
    image_size: int,
    n_images: int,
    store_dir: Path,
    table: Path,
    repeats: Mapping[str, float],
) -> None:
    """The tutorial's claim that LMDB and HDF5 read only the requested item into memory: a
    fresh process per repeat opens the store of `n_images` and reads its middle image."""
    index = n_images // 2
    images, labels = Pool.load(pool).first(n_images)
    expected = expected_images(store.codec, images[index : index + 1])[0], int(labels[index])
    policy = RepeatPolicy.of(repeats)
    timings = time_read_one(store, store_dir, index, expected, policy)
    write_timings(table, timings, store, image_size, n_images, store_dir)
