"""The append experiment: how long adding 10% more images to an existing store takes, and what
the format needed to do it (`Store.append_many`'s words).

It tests the tutorial's claim that adding data later is a hassle in LMDB (its map fills up) while
HDF5 can grow, for every container: each repeat writes a fresh store of the first images, untimed,
then times only the append, then reads every image back to check the store still holds exactly
what was written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from imgbench import discards, measure, thread_pools
from imgbench.atomic_files import write_json
from imgbench.cells import SIZE_COLUMN, Operation, Phase
from imgbench.errors import StoreError
from imgbench.parallel import expected_images
from imgbench.pool import Pool
from imgbench.store_timings import write_timings
from imgbench.stores import Store

__all__ = ["time_append"]


def time_append(
    store: Store,
    images: np.ndarray,
    labels: np.ndarray,
    n_images: int,
    extra: int,
    scratch_beside: Path,
    policy: measure.RepeatPolicy,
    discarded: Path | None,
) -> tuple[list[measure.Timing], str]:
    """Time `store.append_many` of images[n_images:n_images + extra] onto a store of the first
    `n_images`, as often as `policy` says; return the timings (images=`extra`) and the words the
    appends returned (joined if they differed).

    Each repeat appends to a store of its own, written untimed and synced first, so no repeat
    appends to what an earlier one grew and the dirty pages of the write are not timed. Each
    append is verified by reading every image back, so a format cannot be fast by being wrong.
    The repeats' folders are set aside in `discarded` (see `measure.time_write_many` for why
    they are not deleted during the run).
    """
    total = n_images + extra
    if len(images) < total or len(labels) < total:
        raise ValueError(
            f"{total} images needed, {len(images)} images and {len(labels)} labels given"
        )
    added, added_labels = images[n_images:total], labels[n_images:total]
    wanted = expected_images(store.codec, images[:total])
    scratch = measure.scratch_folder(scratch_beside, discarded)
    timings: list[measure.Timing] = []
    words: list[str] = []
    try:

        def once(repeat: int) -> float:
            folder = scratch / f"repeat-{repeat}"
            store.write_many(folder, images[:n_images], labels[:n_images])
            os.sync()  # the write's dirty pages go out before, not during, the timed append
            seconds, said = measure.timed(store.append_many, folder, added, added_labels)
            if not store.owns(folder):
                raise StoreError(f"{folder}: after append_many it is no {store.format} store")
            # Read with `store`, not `open_store`, which imports every format module (2 s).
            with store.open(folder) as reader:
                read, read_labels = reader.read_many(np.arange(total))
            measure.verify(read, read_labels, wanted, labels[:total])
            words.append(said)
            timings.append(measure.Timing(Operation.APPEND, Phase.WRITE, repeat, extra, seconds))
            return seconds

        policy.repeat(once)
    finally:
        discards.set_aside(scratch, discarded)
    return timings, "; ".join(dict.fromkeys(words))


def what_it_needed(words: str) -> dict[str, object]:
    """The words `append_many` returned, and the two facts the tutorial's claim is about: whether
    the store's map filled up (LMDB's MapFullError, then a resize) and whether data already
    stored had to be written again."""
    return {
        "needed": words,
        "map_full": words.startswith("map full"),
        "rewrite": "rewrote" in words,
    }


def append_images(
    store: Store,
    pool: Path,
    image_size: int,
    n_images: int,
    extra: int,
    scratch: Path,
    table: Path,
    record: Path,
    repeats: Mapping[str, float],
    threads: int,
    discarded: Path | None,
) -> None:
    """The tutorial's claim about adding data later: a store of `n_images` built (untimed), then
    `extra` more images appended (timed) and every image read back; `record` says what the
    format needed to append."""
    thread_pools.pin_for_job(threads)
    images, labels = Pool.load(pool).first(n_images + extra)
    policy = measure.RepeatPolicy.of(repeats)
    timings, needed = time_append(
        store, images, labels, n_images, extra, scratch, policy, discarded
    )
    write_timings(table, timings, store, image_size, n_images, scratch)
    write_json(
        record,
        store.series_columns()
        | {SIZE_COLUMN: image_size, "n_images": n_images, "images": extra}
        | what_it_needed(needed),
    )
