"""Random access through the raw baseline and the fast HDF5 and LMDB readers: `reader[i]` and
scattered `read_many` copy rows out of a memory map of the file (raw, HDF5) or out of LMDB's
values in one kept transaction (LMDB); long in-order runs of raw and HDF5 still take `preadv`.
These check what is read, not how fast (issue 17 item 4)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import h5py
import lmdb
import numpy as np
import pytest

from imgbench import row_reads
from imgbench.errors import StoreError
from imgbench.stores import get_store
from imgbench.stores import hdf5 as hdf5_store
from imgbench.stores import lmdb as lmdb_store
from imgbench.stores.base import Reader

FAST = [("raw", "baseline"), ("hdf5", "fast"), ("lmdb", "fast")]
DATA_FILE = {"raw": "images.npy", "hdf5": "images.h5", "lmdb": "data.mdb"}
MAPPED = [pair for pair in FAST if pair[0] != "lmdb"]


def written(method: str, implementation: str, images, path: Path) -> Path:
    get_store(method, implementation).write_many(path / "store", *images)
    return path / "store"


def scattered_indices(count: int) -> list[np.ndarray]:
    """Index lists that gather from the map: random with repeats, a repeated index, reversed."""
    rng = np.random.default_rng(11)
    return [
        rng.integers(0, count, 256),
        np.array([3, 3, 3, count - 1, 0, 0]),
        np.arange(count)[::-1],
        rng.permutation(count),
        np.array([7]),
    ]


def assert_owned_copies(images: np.ndarray) -> None:
    assert images.dtype == np.uint8 and images.flags.c_contiguous
    assert images.flags.owndata and images.flags.writeable  # no view of a map or a buffer


@pytest.mark.parametrize(("method", "implementation"), FAST)
def test_getitem_returns_each_image_and_label(method, implementation, images, tmp_path) -> None:
    pixels, labels = images
    store = get_store(method, implementation)
    with store.open(written(method, implementation, images, tmp_path)) as reader:
        order = np.random.default_rng(2).permutation(40).tolist()
        for index in [*order, 0, 39, -1, -40, np.int64(5), 3, 3]:
            image, label = reader[index]
            np.testing.assert_array_equal(image, pixels[index])
            assert type(label) is int and label == labels[index]
            assert image.shape == (32, 32, 3)
            assert_owned_copies(image)
        for index in (40, -41, 10**9):
            with pytest.raises(IndexError, match="out of range"):
                reader[index]


@pytest.mark.parametrize(("method", "implementation"), FAST)
def test_scattered_read_many_returns_the_images_in_order(
    method, implementation, images, tmp_path
) -> None:
    pixels, labels = images
    store = get_store(method, implementation)
    with store.open(written(method, implementation, images, tmp_path)) as reader:
        for indices in [*scattered_indices(40), np.arange(40), np.array([], dtype=np.int64)]:
            read_pixels, read_labels = reader.read_many(indices)
            assert read_pixels.shape == (len(indices), 32, 32, 3)
            np.testing.assert_array_equal(read_pixels, pixels[indices])
            np.testing.assert_array_equal(read_labels, labels[indices])
            assert read_labels.dtype == np.uint8
            assert_owned_copies(read_pixels)
        for indices in ([0, 40], [-1], [5, 10**6]):
            with pytest.raises(IndexError, match="outside a store of 40 images"):
                reader.read_many(np.array(indices))


@pytest.mark.parametrize(("method", "implementation"), MAPPED)
def test_short_runs_gather_from_the_map_and_long_runs_use_preadv(
    method, implementation, images, tmp_path, monkeypatch
) -> None:
    pixels, _ = images
    preadv_reads: list[int] = []
    read_rows = row_reads.read_rows

    def counted(fd: int, offset: int, indices: np.ndarray, *rest: object) -> None:
        preadv_reads.append(len(indices))
        read_rows(fd, offset, indices, *rest)

    monkeypatch.setattr(row_reads, "read_rows", counted)
    monkeypatch.setattr(row_reads, "MAP_MAX_RUN", 8)
    with get_store(method, implementation).open(
        written(method, implementation, images, tmp_path)
    ) as reader:
        for indices in scattered_indices(40) + [np.r_[0:7, 20:27]]:  # runs of 7 < 8
            np.testing.assert_array_equal(reader.read_many(indices)[0], pixels[indices])
        reader[3]
        assert preadv_reads == []
        for indices in (np.arange(40), np.r_[0:8, 30:38], np.r_[0:20, 5, 6, 7]):
            np.testing.assert_array_equal(reader.read_many(indices)[0], pixels[indices])
        assert preadv_reads == [40, 16, 23]


def mapped_files() -> str:
    return Path("/proc/self/maps").read_text()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize(("method", "implementation"), FAST)
def test_closing_the_reader_unmaps_the_file(method, implementation, images, tmp_path) -> None:
    pixels, _ = images
    data = (written(method, implementation, images, tmp_path) / DATA_FILE[method]).resolve()
    reader = get_store(method, implementation).open(data.parent)
    image, _ = reader[5]
    batch, _ = reader.read_many(np.array([9, 2, 2]))
    assert str(data) in mapped_files()
    reader.close()
    assert str(data) not in mapped_files()
    np.testing.assert_array_equal(image, pixels[5])  # copies: still readable after the close
    np.testing.assert_array_equal(batch, pixels[[9, 2, 2]])


_inherited: dict[str, Reader] = {}


def _read_with_the_inherited_reader(indices: list[int]) -> tuple[np.ndarray, list[int]]:
    reader = _inherited["reader"]
    images, _ = reader.read_many(np.array(indices))
    return images, [reader[index][1] for index in indices]


@pytest.mark.parametrize(("method", "implementation"), FAST)
def test_a_reader_opened_and_used_before_a_fork_still_reads_in_the_child(
    method, implementation, images, tmp_path
) -> None:
    pixels, labels = images
    with get_store(method, implementation).open(
        written(method, implementation, images, tmp_path)
    ) as reader:
        reader[1]  # the kept transaction, or the map, is in use before the fork
        reader.read_many(np.array([4, 0]))
        _inherited["reader"] = reader
        try:
            with multiprocessing.get_context("fork").Pool(2) as pool:
                parts = pool.map(_read_with_the_inherited_reader, [[3, 1, 1], [39, 20, 0]])
        finally:
            _inherited.clear()
        for indices, (read_pixels, read_labels) in zip(
            [[3, 1, 1], [39, 20, 0]], parts, strict=True
        ):
            np.testing.assert_array_equal(read_pixels, pixels[indices])
            assert read_labels == labels[indices].tolist()
        np.testing.assert_array_equal(reader[-1][0], pixels[-1])  # the parent's still reads


@pytest.mark.parametrize("options", [{"chunks": (4, 32, 32, 3)}, {"compression": "gzip"}])
def test_hdf5_fast_reads_images_it_cannot_map_through_h5py(options, images, tmp_path) -> None:
    pixels, labels = images
    (tmp_path / "store").mkdir()
    with h5py.File(tmp_path / "store" / hdf5_store.FILE_NAME, "w") as file:
        file.create_dataset("images", data=pixels, dtype=np.uint8, **options)
        file.create_dataset("labels", data=labels, dtype=np.uint8)
    with get_store("hdf5", "fast").open(tmp_path / "store") as reader:
        assert reader._rows is None  # not mapped: h5py reads it
        for index in (0, 17, -1):
            np.testing.assert_array_equal(reader[index][0], pixels[index])
            assert reader[index][1] == labels[index]
        for indices in [*scattered_indices(40), np.arange(5, 9), np.array([], dtype=np.int64)]:
            read_pixels, read_labels = reader.read_many(indices)
            np.testing.assert_array_equal(read_pixels, pixels[indices])
            np.testing.assert_array_equal(read_labels, labels[indices])
            assert read_pixels.shape == (len(indices), 32, 32, 3)
            assert_owned_copies(read_pixels)
        with pytest.raises(IndexError):
            reader[40]


def test_hdf5_fast_refuses_images_that_are_not_uint8(images, tmp_path) -> None:
    pixels, labels = images
    (tmp_path / "store").mkdir()
    with h5py.File(tmp_path / "store" / hdf5_store.FILE_NAME, "w") as file:
        file.create_dataset("images", data=pixels.astype(np.uint16))
        file.create_dataset("labels", data=labels, dtype=np.uint8)
    with pytest.raises(StoreError, match="not uint8"):
        get_store("hdf5", "fast").open(tmp_path / "store")


def test_lmdb_fast_getitem_names_a_missing_or_damaged_value(images, tmp_path) -> None:
    path = written("lmdb", "fast", images, tmp_path)
    with lmdb.open(str(path), map_size=64 << 20) as env, env.begin(write=True) as txn:
        txn.delete(lmdb_store.image_key(3))
        txn.put(lmdb_store.image_key(7), b"\x01short")
    with get_store("lmdb", "fast").open(path) as reader:
        with pytest.raises(StoreError, match="image 3 is missing"):
            reader[3]
        with pytest.raises(StoreError, match="image 7 holds 6 bytes.*damaged"):
            reader[7]
        with pytest.raises(StoreError, match="image 7 holds 6 bytes.*damaged"):
            reader.read_many(np.array([1, 7]))
        np.testing.assert_array_equal(reader[-34][0], images[0][6])
