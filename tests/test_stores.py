"""Every storage format: what is written is exactly what is read back, one image or many."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import imgbench
from imgbench.errors import StoreError
from imgbench.stores import formats, get_store, implementations, open_store, store_of
from imgbench.stores import lmdb as lmdb_store

STORES = [get_store(m, i) for m in formats() for i in implementations(m)]
KEYS = [store.key for store in STORES]


def test_the_tutorials_three_formats_are_available() -> None:
    assert {"png", "lmdb", "hdf5"} <= set(formats())


@pytest.mark.parametrize("store", STORES, ids=KEYS)
def test_write_many_then_read_all_in_order(store, images, tmp_path: Path) -> None:
    pixels, labels = images
    store.write_many(tmp_path / "store", pixels, labels)
    read_pixels, read_labels = store.read_many(tmp_path / "store", np.arange(40))
    assert read_pixels.dtype == np.uint8 and read_pixels.shape == (40, 32, 32, 3)
    np.testing.assert_array_equal(read_pixels, pixels)
    np.testing.assert_array_equal(read_labels, labels)


@pytest.mark.parametrize("store", STORES, ids=KEYS)
@pytest.mark.parametrize(
    "indices",
    [
        [5, 6, 7],
        [39, 0, 17, 17],
        [2, 4, 6, 8],
        [0, 39],
        list(np.random.default_rng(1).permutation(40)),
    ],
    ids=["run", "scattered-with-repeat", "strided", "far-apart", "permutation"],
)
def test_bulk_read_of_any_indices(store, indices: list[int], images, tmp_path: Path) -> None:
    pixels, labels = images
    store.write_many(tmp_path / "store", pixels, labels)
    with open_store(tmp_path / "store") as reader:
        read_pixels, read_labels = reader.read_many(np.array(indices))
    np.testing.assert_array_equal(read_pixels, pixels[indices])
    np.testing.assert_array_equal(read_labels, labels[indices])


@pytest.mark.parametrize("store", STORES, ids=KEYS)
def test_reader_len_and_item_access(store, images, tmp_path: Path) -> None:
    pixels, labels = images
    store.write_many(tmp_path / "store", pixels, labels)
    with imgbench.open_store(tmp_path / "store") as reader:
        assert len(reader) == 40
        image, label = reader[12]
        assert isinstance(label, int) and label == labels[12]
        np.testing.assert_array_equal(image, pixels[12])
        np.testing.assert_array_equal(reader[-1][0], pixels[-1])
        with pytest.raises(IndexError):
            reader[40]
        with pytest.raises(IndexError):
            reader.read_many(np.array([3, 40]))


@pytest.mark.parametrize("store", STORES, ids=KEYS)
def test_single_image_write_and_read(store, images, tmp_path: Path) -> None:
    pixels, labels = images
    store.write_single(tmp_path / "one", pixels[3], int(labels[3]))
    image, label = store.read_single(tmp_path / "one", 0)
    np.testing.assert_array_equal(image, pixels[3])
    assert label == labels[3]
    assert store_of(tmp_path / "one").format == store.format


@pytest.mark.parametrize("store", STORES, ids=KEYS)
def test_open_store_recognises_the_format(store, images, tmp_path: Path) -> None:
    store.write_many(tmp_path / "store", *images)
    assert store_of(tmp_path / "store").format == store.format


def test_open_store_refuses_what_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a store folder"):
        open_store(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="no recognisable store"):
        open_store(tmp_path / "empty")
    with pytest.raises(StoreError, match="unknown storage format 'tiff'"):
        get_store("tiff", "fast")
    with pytest.raises(StoreError, match="no implementation 'slow'"):
        get_store("png", "slow")


def test_lmdb_values_are_raw_bytes_not_pickles(images, tmp_path: Path) -> None:
    import lmdb

    pixels, labels = images
    get_store("lmdb", "fast").write_many(tmp_path / "store", pixels, labels)
    with lmdb.open(str(tmp_path / "store"), readonly=True, lock=False) as env, env.begin() as txn:
        value = txn.get(lmdb_store.image_key(5))
    assert value == bytes([labels[5]]) + pixels[5].tobytes()


def test_lmdb_map_grows_when_full(images, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(lmdb_store, "initial_map_size", lambda count, value_bytes: 64 * 1024)
    pixels, labels = images
    many = np.concatenate([pixels] * 10)  # 400 images, ~1.6 MiB: far past a 64 KiB map
    get_store("lmdb", "fast").write_many(tmp_path / "store", many, np.concatenate([labels] * 10))
    with open_store(tmp_path / "store") as reader:
        np.testing.assert_array_equal(reader.read_many(np.arange(400))[0], many)


def test_hdf5_holds_native_uint8(images, tmp_path: Path) -> None:
    import h5py

    get_store("hdf5", "fast").write_many(tmp_path / "store", *images)
    with h5py.File(tmp_path / "store" / "images.h5", "r") as file:
        assert file["images"].dtype == np.dtype("<u1") or file["images"].dtype == np.uint8
        assert file["images"].shape == (40, 32, 32, 3)
        assert file["images"].chunks is None  # contiguous


def test_png_store_is_one_file_per_image_plus_labels_csv(images, tmp_path: Path) -> None:
    pixels, labels = images
    get_store("png", "fast").write_many(tmp_path / "store", pixels, labels)
    assert len(list((tmp_path / "store").glob("*.png"))) == 40
    lines = (tmp_path / "store" / "labels.csv").read_text().splitlines()
    assert lines[0] == "label" and [int(line) for line in lines[1:]] == labels.tolist()
