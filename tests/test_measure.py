"""Timing, verification and du: a wrong read fails, a timed write leaves exactly one store."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from imgbench import discards, measure
from imgbench.cells import ReadCell, read_cells, read_factors
from imgbench.codecs import Codec
from imgbench.disk_usage import disk_usage_kib
from imgbench.errors import StoreError, VerificationError
from imgbench.parallel import expected_images
from imgbench.stores import get_store, open_store

from conftest import exactly

FAST = ["files", "lmdb", "hdf5"]

ONCE, TWICE, THRICE = (measure.RepeatPolicy.of(exactly(count)) for count in (1, 2, 3))


def test_timed_returns_seconds_and_result() -> None:
    seconds, result = measure.timed(sum, [1, 2, 3])
    assert result == 6 and 0 <= seconds < 1


def test_verify_names_the_first_bad_image(images) -> None:
    pixels, labels = images
    damaged = pixels.copy()
    damaged[7, 3, 3, 1] ^= 1
    measure.verify(pixels, labels, pixels.copy(), labels.copy())
    with pytest.raises(VerificationError, match=r"1 image\(s\) and 0 label\(s\).*image: \[7\]"):
        measure.verify(damaged, labels, pixels, labels)
    with pytest.raises(VerificationError, match=r"0 image\(s\) and 40 label"):
        measure.verify(pixels, (labels + 1) % 10, pixels, labels)


def test_read_cells_vary_one_factor_at_a_time() -> None:
    cells = read_cells(["warm", "cold"], ["sequential", "random", "batched"], [1, 2])
    assert cells == [
        ReadCell("warm", "sequential", 1),
        ReadCell("cold", "sequential", 1),
        ReadCell("warm", "random", 1),
        ReadCell("warm", "batched", 1),
        ReadCell("warm", "sequential", 2),
    ]
    assert read_cells(["warm"], ["sequential"], [1]) == [ReadCell()]


def test_only_the_implementations_named_get_the_read_variations() -> None:
    reads = {"cache": ["warm", "cold"], "order": ["sequential", "random"], "readers": [1, 2]}
    reads["variations_for"] = ["fast", "baseline", "parquet/documented"]
    every_cell = read_cells(["warm", "cold"], ["sequential", "random"], [1, 2])
    assert read_cells(**_plural(read_factors(reads, "lmdb", "fast"))) == every_cell
    assert read_cells(**_plural(read_factors(reads, "lmdb", "tutorial"))) == [ReadCell()]
    # A `format/implementation` entry varies that format's implementation only.
    assert read_cells(**_plural(read_factors(reads, "parquet", "documented"))) == every_cell
    assert read_cells(**_plural(read_factors(reads, "tar", "documented"))) == [ReadCell()]


def _plural(factors: dict[str, list[object]]) -> dict[str, list[object]]:
    """`read_factors`' keys as `read_cells`' argument names, as the read job's params name them."""
    return {"caches": factors["cache"], "orders": factors["order"], "readers": factors["readers"]}


@pytest.mark.parametrize("method", FAST)
def test_write_many_times_write_and_sync_and_keeps_one_store(method, images, tmp_path) -> None:
    pixels, labels = images
    out = tmp_path / "stores" / method
    discarded = tmp_path / "stores" / ".discarded"
    store = get_store(method, "fast")
    timings = measure.time_write_many(store, pixels, labels, out, THRICE, discarded)
    assert [(t.operation, t.phase, t.repeat, t.images) for t in timings] == [
        ("write_many", phase, r, 40) for r in range(3) for phase in ("write", "sync")
    ]
    assert all(t.seconds > 0 for t in timings)
    assert sorted(p.name for p in out.parent.iterdir()) == [".discarded", method]
    # The two other repeats and the warm-up are set aside whole, to be deleted after the run.
    (set_aside,) = discarded.iterdir()
    assert sorted(p.name for p in set_aside.iterdir()) == ["repeat-0", "repeat-1", "warmup"]
    with open_store(out) as reader:
        np.testing.assert_array_equal(reader.read_many(np.arange(40))[0], pixels)
    deleted = discards.delete_all(discarded)
    assert (deleted.folders, deleted.files > 0) == (1, True)
    assert list(discarded.iterdir()) == []


def test_without_a_discard_folder_repeats_are_deleted_at_once(images, tmp_path: Path) -> None:
    """Node-local stores: no later job of the run can reach the node's disk."""
    pixels, labels = images
    out = tmp_path / "stores" / "raw"
    measure.time_write_many(get_store("raw", "baseline"), pixels, labels, out, THRICE, None)
    assert [p.name for p in out.parent.iterdir()] == ["raw"]
    assert discards.delete_all(None).folders == 0


@pytest.mark.parametrize("method", FAST)
def test_every_read_cell_is_timed_and_verified(method, images, tmp_path: Path) -> None:
    pixels, labels = images
    store = get_store(method, "fast")
    store.write_many(tmp_path / "s", pixels, labels)
    cells = read_cells(["warm", "cold"], ["sequential", "random", "batched"], [1, 2])
    timings = measure.time_reads(
        store, tmp_path / "s", pixels, labels, TWICE, cells, seed=0, batch_size=16
    )
    measured = [(t.cache, t.order, t.readers, t.repeat) for t in timings]
    assert measured == [
        (cell.cache, cell.order, cell.readers, repeat) for cell in cells for repeat in range(2)
    ]
    assert all(t.operation == "read_many" and t.images == 40 and t.seconds > 0 for t in timings)
    # Batched reads (40 images in batches of 16, 16, 8) record each repeat's batch percentiles.
    for timing in timings:
        batched = timing.order == "batched"
        assert (timing.batch_p50_seconds is not None) == batched
        if batched:
            assert 0 < timing.batch_p50_seconds <= timing.batch_p99_seconds < timing.seconds
    cold = [t.resident_fraction for t in timings if t.cache == "cold"]
    assert all(fraction is not None and 0 <= fraction <= 1 for fraction in cold)
    assert all(t.resident_fraction is None for t in timings if t.cache == "warm")


@pytest.mark.parametrize("cell", [ReadCell(), ReadCell(order="random"), ReadCell(readers=2)])
def test_a_damaged_store_fails_its_read_measurement(cell, images, tmp_path: Path) -> None:
    pixels, labels = images
    store = get_store("hdf5", "fast")
    store.write_many(tmp_path / "s", pixels, labels)
    with h5py.File(tmp_path / "s" / "images.h5", "r+") as file:
        file["images"][5, 0, 0, 0] = pixels[5, 0, 0, 0] ^ 0xFF
    with pytest.raises(VerificationError, match="differ from those written"):
        measure.time_reads(store, tmp_path / "s", pixels, labels, ONCE, [cell], seed=0)


def test_a_failing_reader_process_fails_the_measurement(images, tmp_path: Path) -> None:
    from imgbench.errors import StoreError

    pixels, labels = images
    store = get_store("lmdb", "fast")
    store.write_many(tmp_path / "s", pixels, labels)
    more = np.concatenate([pixels, pixels]), np.concatenate([labels, labels])
    with pytest.raises(StoreError):  # the store holds 40 images, not the 80 expected
        measure.time_reads(store, tmp_path / "s", *more, ONCE, [ReadCell(readers=2)], seed=0)


@pytest.mark.parametrize("method", FAST)
def test_single_image_operations_are_sampled(method, images, tmp_path: Path) -> None:
    pixels, labels = images
    beside = tmp_path / "single.csv"
    store = get_store(method, "fast")
    discarded = tmp_path / ".discarded"
    timings = measure.time_single(store, pixels, labels, beside, TWICE, 4, discarded)
    assert sorted((t.operation, t.repeat, t.sample) for t in timings) == sorted(
        (operation, repeat, sample)
        for operation in ("write_single", "read_single")
        for repeat in range(2)
        for sample in range(4)
    )
    assert all(t.images == 1 and t.seconds > 0 for t in timings)
    assert [p.name for p in tmp_path.iterdir()] == [".discarded"]  # the one-image stores...
    assert len(list(discarded.iterdir())) == 1  # ...are set aside in one folder


@pytest.mark.parametrize(("method", "codec"), [("files", "jpeg"), ("lmdb", "jpeg")])
def test_a_lossy_store_is_verified_against_its_decoders_images(
    method: str, codec: str, images, tmp_path: Path
) -> None:
    pixels, labels = images
    store = get_store(method, "fast", Codec(codec))
    store.write_many(tmp_path / "s", pixels, labels)
    decoded = expected_images(store.codec, pixels)
    cells = [ReadCell(), ReadCell(order="random"), ReadCell(readers=2)]
    timings = measure.time_reads(store, tmp_path / "s", decoded, labels, ONCE, cells, seed=0)
    assert len(timings) == 3 and all(t.seconds > 0 for t in timings)
    with pytest.raises(VerificationError, match="differ from those written"):
        measure.time_reads(store, tmp_path / "s", pixels, labels, ONCE, [ReadCell()], seed=0)
    # One-image operations compare with the decoded images by themselves.
    single = measure.time_single(store, pixels, labels, tmp_path / "single.csv", ONCE, 3, None)
    assert len(single) == 6


def test_the_decode_floor_decodes_from_memory_and_checks_every_decode(images) -> None:
    pixels, _ = images
    codec = Codec("png")
    blobs = [codec.encode(image) for image in pixels]
    timings = measure.time_decode_floor(codec, blobs, pixels, TWICE, workers=2)
    assert [(t.operation, t.phase, t.repeat, t.images) for t in timings] == [
        ("read_many", "read", repeat, 40) for repeat in range(2)
    ]
    assert all(t.seconds > 0 for t in timings)
    assert {(t.cache, t.order, t.readers) for t in timings} == {("warm", "sequential", 1)}
    damaged = pixels.copy()
    damaged[3, 0, 0, 0] ^= 1
    with pytest.raises(VerificationError, match="decoding png from memory gave other images"):
        measure.time_decode_floor(codec, blobs, damaged, ONCE, workers=1)


def test_disk_usage_tells_allocated_from_apparent(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "data").write_bytes(b"x" * 10_000)
    with (tmp_path / "s" / "sparse").open("wb") as sparse:
        sparse.truncate(1 << 20)  # 1 MiB apparent, no blocks allocated
    allocated, apparent = disk_usage_kib(tmp_path / "s")
    assert 1024 + 10 <= apparent <= 1024 + 14  # the files plus the folder entry
    assert 10 <= allocated < 100


def test_pinning_caps_the_loaded_blas_pool_and_the_environment(monkeypatch) -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    from imgbench import thread_pools

    for name in thread_pools.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    with threadpool_limits(limits=None):  # restores the pools' own limits afterwards
        lines = thread_pools.pin(1)
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert all(os.environ[name] == "1" for name in thread_pools.ENVIRONMENT)
    assert lines[0].startswith("thread pools capped at 1")


def test_memory_returned_to_the_host_is_the_counters_rise_or_nothing(tmp_path, monkeypatch) -> None:
    from imgbench import host_memory

    counter = tmp_path / "reported_kib"
    monkeypatch.setattr(host_memory, "REPORTED", counter)
    with host_memory.Watch() as watch:  # no counter: a machine that does not report
        pass
    assert watch.kib is None
    counter.write_text("1000\n")
    with host_memory.Watch() as watch:
        counter.write_text("3048\n")
    assert watch.kib == 2048


def _set_aside_one(tmp_path: Path) -> Path:
    discarded = tmp_path / "stores" / ".discarded"
    repeat = tmp_path / "stores" / "repeat"
    repeat.mkdir(parents=True)
    (repeat / "image.png").write_bytes(b"x" * 1000)
    discards.set_aside(repeat, discarded)
    return discarded


def test_room_is_made_only_when_the_next_cell_would_not_fit(tmp_path: Path, monkeypatch) -> None:
    discarded = _set_aside_one(tmp_path)
    waits: list[float] = []
    monkeypatch.setattr(discards, "free_bytes", lambda folder: 10**9)
    assert discards.make_room(tmp_path, discarded, 10**9, waits.append) is None
    assert len(list(discarded.iterdir())) == 1 and waits == []
    free = iter([10**6, 10**9])  # too little, then enough once the set-aside is deleted
    monkeypatch.setattr(discards, "free_bytes", lambda folder: next(free))
    deleted = discards.make_room(tmp_path, discarded, 10**9, waits.append)
    assert deleted is not None and (deleted.folders, deleted.files) == (1, 1)
    assert list(discarded.iterdir()) == [] and waits == [discards.SETTLE_SECONDS]


def test_a_cell_that_cannot_fit_is_refused_before_writing(images, tmp_path, monkeypatch) -> None:
    discarded = _set_aside_one(tmp_path)
    monkeypatch.setattr(discards, "free_bytes", lambda folder: 5 * 10**8)
    monkeypatch.setattr(discards, "SETTLE_SECONDS", 0.0)
    out = tmp_path / "stores" / "raw"
    with pytest.raises(
        StoreError,
        match=r"need up to .* GB and 0\.5 GB is free after deleting .*"
        r"lower `repeats.max` or the largest cutoff, or point `stores.folder`",
    ):
        pixels, labels = images
        big = np.repeat(pixels, 2000, axis=0)  # 80,000 images: 3.7 GB for 10 repeats
        policy = measure.RepeatPolicy(3, 10, 0.05, 4.0)
        measure.time_write_many(
            get_store("raw", "baseline"), big, labels.repeat(2000), out, policy, discarded
        )
    assert sorted(p.name for p in out.parent.iterdir()) == [".discarded"]
    assert list(discarded.iterdir()) == []


def test_repeats_bytes_covers_the_largest_store_per_image() -> None:
    """tar holds a 32x32 raw image in 4,608 bytes; larger images take at most 1.5x their pixels."""
    assert discards.repeats_bytes(100 * 3072, 100, 3) == 3 * 100 * 4608
    assert discards.repeats_bytes(10 * 196_608, 10, 2) == 2 * int(1.5 * 10 * 196_608)
