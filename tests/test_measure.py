"""Timing, verification and du: a wrong read fails, a timed write leaves exactly one store."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from imgbench import measure
from imgbench.errors import VerificationError
from imgbench.stores import get_store, open_store


def test_timed_returns_seconds_and_result() -> None:
    seconds, result = measure.timed(sum, [1, 2, 3])
    assert result == 6 and 0 <= seconds < 1


def test_verify_names_the_first_bad_image(images) -> None:
    pixels, labels = images
    damaged = pixels.copy()
    damaged[7, 3, 3, 1] ^= 1
    measure.verify(pixels, labels, pixels.copy(), labels.copy())
    with pytest.raises(
        VerificationError, match=r"1 image\(s\) and 0 label\(s\).*first bad image: \[7\]"
    ):
        measure.verify(damaged, labels, pixels, labels)
    with pytest.raises(VerificationError, match=r"0 image\(s\) and 40 label"):
        measure.verify(pixels, (labels + 1) % 10, pixels, labels)


@pytest.mark.parametrize("method", ["png", "lmdb", "hdf5"])
def test_write_many_keeps_the_last_repeat_and_nothing_else(method, images, tmp_path: Path) -> None:
    pixels, labels = images
    out = tmp_path / "stores" / method
    timings = measure.time_write_many(get_store(method, "fast"), pixels, labels, out, repeats=3)
    assert [(t.operation, t.repeat, t.images) for t in timings] == [
        ("write_many", r, 40) for r in range(3)
    ]
    assert all(t.seconds > 0 for t in timings)
    assert [p.name for p in out.parent.iterdir()] == [method]  # no scratch left behind
    with open_store(out) as reader:
        np.testing.assert_array_equal(reader.read_many(np.arange(40))[0], pixels)


@pytest.mark.parametrize("method", ["png", "lmdb", "hdf5"])
def test_read_many_is_timed_and_verified(method, images, tmp_path: Path) -> None:
    pixels, labels = images
    get_store(method, "fast").write_many(tmp_path / "s", pixels, labels)
    timings = measure.time_read_many(
        get_store(method, "fast"), tmp_path / "s", pixels, labels, repeats=2
    )
    assert [(t.operation, t.repeat, t.images) for t in timings] == [
        ("read_many", 0, 40),
        ("read_many", 1, 40),
    ]


def test_a_damaged_store_fails_its_read_measurement(images, tmp_path: Path) -> None:
    pixels, labels = images
    get_store("hdf5", "fast").write_many(tmp_path / "s", pixels, labels)
    with h5py.File(tmp_path / "s" / "images.h5", "r+") as file:
        file["images"][5, 0, 0, 0] = pixels[5, 0, 0, 0] ^ 0xFF
    with pytest.raises(VerificationError, match=r"first bad image: \[5\]"):
        measure.time_read_many(get_store("hdf5", "fast"), tmp_path / "s", pixels, labels, repeats=1)


@pytest.mark.parametrize("method", ["png", "lmdb", "hdf5"])
def test_single_image_operations(method, images, tmp_path: Path) -> None:
    pixels, labels = images
    beside = tmp_path / "single.csv"
    timings = measure.time_single(
        get_store(method, "fast"), pixels, labels, beside, repeats=2, operations=4
    )
    assert sorted((t.operation, t.repeat) for t in timings) == [
        ("read_single", 0),
        ("read_single", 1),
        ("write_single", 0),
        ("write_single", 1),
    ]
    assert all(t.images == 1 and t.seconds > 0 for t in timings)
    assert list(tmp_path.iterdir()) == []  # the one-image stores are cleaned up


def test_disk_usage_tells_allocated_from_apparent(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "data").write_bytes(b"x" * 10_000)
    with (tmp_path / "s" / "sparse").open("wb") as sparse:
        sparse.truncate(1 << 20)  # 1 MiB apparent, no blocks allocated
    allocated, apparent = measure.disk_usage_kib(tmp_path / "s")
    assert 1024 + 10 <= apparent <= 1024 + 14  # the files plus the folder entry
    assert 10 <= allocated < 100
