"""Appending to every store (`Store.append_many`) and the timed append experiment
(`imgbench.appends`): after an append a store holds the old images then the new ones, its own
format's library reads it without imgbench, and input that cannot join it is refused before the
store is touched."""

from __future__ import annotations

import csv
import json
import sqlite3
import tarfile
from pathlib import Path

import h5py
import lmdb
import numpy as np
import plyvel
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from PIL import Image
from test_standard_tools import mdb_dump, needs_mdb_dump

from imgbench.appends import time_append
from imgbench.cells import Operation, Phase
from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.measure import RepeatPolicy
from imgbench.parallel import expected_images
from imgbench.stores import Store, formats, get_store, implementations, open_store
from imgbench.synthetic import synthetic_images

FIRST, ADDED = 20, 7
PIXELS, LABELS = synthetic_images(FIRST + 2 * ADDED, seed=5)


def appended_codecs(store: Store) -> list[str]:
    """The store's default codec, an encoded one it holds (png, else zstd), and jpeg (lossy)
    for the two formats whose `fast` holds it and that test lossy appends."""
    chosen = [store.codecs[0]]
    encoded = next((codec for codec in ("png", "zstd") if codec in store.codecs), None)
    if encoded and encoded not in chosen:
        chosen.append(encoded)
    if store.key in ("files/fast/png", "lmdb/fast/raw"):
        chosen.append("jpeg")
    return chosen


STORES = [
    get_store(name, implementation, Codec(codec))
    for name in formats()
    for implementation in implementations(name)
    for codec in appended_codecs(get_store(name, implementation))
]


def written(store: Store, folder: Path) -> Path:
    store.write_many(folder, PIXELS[:FIRST], LABELS[:FIRST])
    return folder


def read_all(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with open_store(path) as reader:
        return reader.read_many(np.arange(len(reader)))


@pytest.mark.parametrize("store", STORES, ids=[store.key for store in STORES])
def test_an_append_adds_the_images_after_the_old_ones(store: Store, tmp_path: Path) -> None:
    path = written(store, tmp_path / "store")
    for grown in (FIRST + ADDED, FIRST + 2 * ADDED):
        start = grown - ADDED
        words = store.append_many(path, PIXELS[start:grown], LABELS[start:grown])
        assert isinstance(words, str) and words
        images, labels = read_all(path)
        np.testing.assert_array_equal(images, expected_images(store.codec, PIXELS[:grown]))
        np.testing.assert_array_equal(labels, LABELS[:grown])
        store.checksum(path)  # still computable
    with_own_tools(store, path, FIRST + 2 * ADDED)


def with_own_tools(store: Store, path: Path, count: int) -> None:
    """Check the appended store with its format's own library, no imgbench code."""
    labels, pixels = LABELS[:count], expected_images(store.codec, PIXELS[:count])
    lossless_raw = store.codec.name == "raw"
    match store.format:
        case "files":
            with open(path / "labels.csv", newline="") as file:
                rows = list(csv.reader(file))
            assert [int(row[0]) for row in rows[1:]] == labels.tolist()
            if store.codec.name == "png":
                last = np.asarray(Image.open(path / f"{count - 1:08d}.png"))
                np.testing.assert_array_equal(last, pixels[-1])
        case "lmdb":
            with lmdb.open(str(path), readonly=True, lock=False) as env:
                entries = env.stat()["entries"]
            assert entries == count + (store.implementation == "fast")
        case "hdf5":
            with h5py.File(path / "images.h5", "r") as file:
                assert file["images"].shape == (count, 32, 32, 3)
                if lossless_raw:
                    np.testing.assert_array_equal(file["images"][()], pixels)
                name = "labels" if store.implementation == "fast" else "meta"
                np.testing.assert_array_equal(file[name][()], labels)
        case "raw":
            np.testing.assert_array_equal(np.load(path / "images.npy"), pixels)
            np.testing.assert_array_equal(np.load(path / "labels.npy"), labels)
        case "sqlite":
            with sqlite3.connect(path / "images.sqlite") as connection:
                assert connection.execute("SELECT count(*) FROM images").fetchone() == (count,)
                assert connection.execute("SELECT count FROM meta").fetchone() == (count,)
                assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            connection.close()
        case "leveldb":
            db = plyvel.DB(str(path))
            try:
                keys = [key for key, _ in db.iterator()]
                assert json.loads(db.get(b"meta"))["count"] == count
            finally:
                db.close()
            assert keys == [f"{index:08d}".encode() for index in range(count)] + [b"meta"]
        case "tar":
            names = []
            for shard in sorted(path.glob("shard-*.tar")):
                with tarfile.open(shard) as tar:
                    names += tar.getnames()
            assert names[-2:] == [
                f"{count - 1:08d}.cls",
                f"{count - 1:08d}.{store.codec.extension}",
            ]
            assert len(names) == 2 * count
        case "arrow" | "parquet":
            file = path / f"images.{store.format}"
            table = feather.read_table(file) if store.format == "arrow" else pq.read_table(file)
            assert table.column("idx").to_pylist() == list(range(count))
            np.testing.assert_array_equal(table.column("label").to_numpy(), labels)
        case "lance":
            import lance

            table = lance.dataset(str(path / "images.lance")).to_table()
            assert table.column("idx").to_pylist() == list(range(count))
            np.testing.assert_array_equal(table.column("label").to_numpy(), labels)
        case "zarr" | "zarr_chunked":
            import zarr

            group = zarr.open_group(str(path / "images.zarr"), mode="r")
            np.testing.assert_array_equal(group["images"][:], pixels)
            np.testing.assert_array_equal(group["labels"][:], labels)
        case "tiledb":
            import tiledb

            with tiledb.open(str(path / "images.tdb" / "images")) as array:
                found = array[:]["pixel"]
            np.testing.assert_array_equal(found.reshape(count, 32, 32, 3), pixels)
            with tiledb.open(str(path / "images.tdb" / "labels")) as array:
                np.testing.assert_array_equal(array[:]["label"], labels)
        case other:
            pytest.fail(f"no check of {other} with its own tools: add one")


@needs_mdb_dump
@pytest.mark.parametrize("implementation", ["tutorial", "fast"])
def test_mdb_dump_reads_an_appended_lmdb_store(implementation: str, tmp_path: Path) -> None:
    store = get_store("lmdb", implementation)
    path = written(store, tmp_path / "store")
    store.append_many(path, PIXELS[FIRST : FIRST + ADDED], LABELS[FIRST : FIRST + ADDED])
    keys = {key for key in mdb_dump(path) if key != b"meta"}
    assert keys == {f"{index:08d}".encode() for index in range(FIRST + ADDED)}


def test_the_tutorials_lmdb_map_fills_and_is_raised(tmp_path: Path) -> None:
    """The tutorial sizes the map at ten times the pixels it is given: for 5 images added to 50,
    less than the store already uses, so LMDB reports the map full and it is raised."""
    store = get_store("lmdb", "tutorial")
    pixels, labels = synthetic_images(55, seed=5)
    store.write_many(tmp_path / "store", pixels[:50], labels[:50])
    words = store.append_many(tmp_path / "store", pixels[50:], labels[50:])
    assert words.startswith("map full: map_size raised 1 time(s), ")
    images, read_labels = read_all(tmp_path / "store")
    np.testing.assert_array_equal(images, pixels)
    np.testing.assert_array_equal(read_labels, labels)


@pytest.mark.parametrize("implementation", ["tutorial", "fast"])
def test_hdf5_says_it_rewrote_its_fixed_size_datasets(implementation: str, tmp_path: Path) -> None:
    store = get_store("hdf5", implementation)
    path = written(store, tmp_path / "store")
    words = store.append_many(path, PIXELS[FIRST:], LABELS[FIRST:])
    assert words.startswith("rewrote the file") and "fixed-size" in words
    assert [item.name for item in path.iterdir()] == ["images.h5"]  # no temporary left


def test_hdf5_resizes_datasets_made_resizable(tmp_path: Path) -> None:
    """A store another tool wrote with resizable (chunked, maxshape None) datasets grows in
    place with `Dataset.resize`."""
    path = tmp_path / "store"
    path.mkdir()
    with h5py.File(path / "images.h5", "w") as file:
        file.create_dataset("images", data=PIXELS[:FIRST], maxshape=(None, 32, 32, 3))
        file.create_dataset("labels", data=LABELS[:FIRST], maxshape=(None,))
    words = get_store("hdf5", "fast").append_many(path, PIXELS[FIRST:], LABELS[FIRST:])
    assert words.startswith("resized both datasets")
    np.testing.assert_array_equal(read_all(path)[0], PIXELS)


REFUSAL_STORES = [
    get_store(name, implementation)
    for name in formats()
    for implementation in implementations(name)
]


@pytest.mark.parametrize("store", REFUSAL_STORES, ids=[store.key for store in REFUSAL_STORES])
def test_input_that_cannot_join_the_store_is_refused_and_changes_nothing(
    store: Store, tmp_path: Path
) -> None:
    path = written(store, tmp_path / "store")
    before = store.checksum(path)
    new, labels = PIXELS[FIRST:], LABELS[FIRST:]
    refusals = {
        "shape": (new[:, :16], labels, "shape"),
        "dtype": (new.astype(np.float32), labels, "float32"),
        "length": (new, labels[:-1], "label per image"),
    }
    for what, (images, given, said) in refusals.items():
        with pytest.raises(StoreError, match=said):
            store.append_many(path, images, given)
        assert store.checksum(path) == before, what
    other = next((codec for codec in store.codecs if codec != store.codec.name), None)
    if other is not None:
        with pytest.raises(StoreError, match=f"holds {store.codec.name} images, not {other}"):
            store.with_codec(Codec(other)).append_many(path, new, labels)
        assert store.checksum(path) == before
    assert len(read_all(path)[1]) == FIRST


def test_time_append_times_each_repeat_on_a_fresh_store(tmp_path: Path) -> None:
    store = get_store("lmdb", "tutorial")
    pixels, labels = synthetic_images(55, seed=9)
    policy = RepeatPolicy(minimum=2, maximum=2, relative_half_width=0.05, cell_budget_seconds=60)
    timings, words = time_append(
        store, pixels, labels, 50, 5, tmp_path / "append", policy, tmp_path / "discarded"
    )
    assert [(t.operation, t.phase, t.repeat, t.images) for t in timings] == [
        (Operation.APPEND, Phase.WRITE, 0, 5),
        (Operation.APPEND, Phase.WRITE, 1, 5),
    ]
    assert all(timing.seconds > 0 for timing in timings)
    assert words.startswith("map full: map_size raised 1 time(s)")
    assert not list(tmp_path.glob(".append.*"))  # the scratch folder was set aside


def test_an_append_that_leaves_no_store_of_its_format_fails_the_experiment(
    tmp_path: Path, monkeypatch
) -> None:
    """The experiment reads the grown store back with the store that wrote it; an append that
    leaves a folder its format no longer recognises is named, not read as whatever is there."""
    store = get_store("lmdb", "fast")
    pixels, labels = synthetic_images(25, seed=9)

    def append_and_lose_the_marker(self: Store, folder: Path, *args: object) -> str:
        (folder / self.marker).unlink()
        return "lost its marker"

    monkeypatch.setattr(type(store), "append_many", append_and_lose_the_marker)
    policy = RepeatPolicy(minimum=1, maximum=1, relative_half_width=0.05, cell_budget_seconds=60)
    with pytest.raises(StoreError, match="after append_many it is no lmdb store"):
        time_append(store, pixels, labels, 20, 5, tmp_path / "append", policy, None)


def test_a_npy_header_that_cannot_take_the_new_length_means_rewriting_the_file(
    tmp_path: Path,
) -> None:
    """A `.npy` header other than NumPy's own (here padded to 256 bytes, where NumPy would
    write 128) cannot be rewritten in place: the file is rewritten whole."""
    header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (20, 32, 32, 3), }"
    padding = 256 - (10 + len(header) + 1)
    with open(tmp_path / "images.npy", "wb") as file:
        file.write(b"\x93NUMPY\x01\x00" + (len(header) + padding + 1).to_bytes(2, "little"))
        file.write(header + b" " * padding + b"\n" + PIXELS[:FIRST].tobytes())
    np.save(tmp_path / "labels.npy", LABELS[:FIRST].astype(np.uint8))
    store = get_store("raw", "baseline")
    words = store.append_many(tmp_path, PIXELS[FIRST:], LABELS[FIRST:])
    assert words.startswith("rewrote images.npy whole")
    np.testing.assert_array_equal(np.load(tmp_path / "images.npy"), PIXELS)
    assert sorted(item.name for item in tmp_path.iterdir()) == ["images.npy", "labels.npy"]


def _fail(*args: object, **kwargs: object) -> None:
    raise OSError("disk full (simulated)")


@pytest.mark.parametrize(
    ("key", "target"),
    [
        ("hdf5/fast/zstd", "imgbench.stores.hdf5.put_chunks"),
        ("hdf5/tutorial/raw", "imgbench.stores.hdf5.h5py.Dataset.__setitem__"),
        ("tiledb/fast/raw", "imgbench.stores.tiledb.exchange"),
        ("parquet/fast/raw", "imgbench.stores.parquet.pq.ParquetWriter.write_table"),
    ],
)
def test_a_rewrite_that_fails_leaves_the_old_store(
    key: str, target: str, tmp_path: Path, monkeypatch
) -> None:
    name, implementation, codec = key.split("/")
    store = get_store(name, implementation, Codec(codec))
    path = written(store, tmp_path / "store")
    before, files = store.checksum(path), sorted(path.rglob("*"))
    monkeypatch.setattr(target, _fail)
    with pytest.raises(OSError, match="simulated"):
        store.append_many(path, PIXELS[FIRST:], LABELS[FIRST:])
    monkeypatch.undo()
    assert store.checksum(path) == before
    assert sorted(path.rglob("*")) == files  # no temporary left behind
    np.testing.assert_array_equal(read_all(path)[0], PIXELS[:FIRST])


def test_a_format_without_an_append_of_its_own_is_rewritten_whole(
    tmp_path: Path, monkeypatch
) -> None:
    """`Store.append_many`'s default, which a new format without one gets (the README's npz):
    the store read back and written again with the new images, swapped in; a failed write
    leaves the old store and no scratch folder."""
    store = get_store("raw", "baseline")
    path = written(store, tmp_path / "store")
    monkeypatch.setattr(type(store), "write_many", _fail)
    with pytest.raises(OSError, match="simulated"):
        Store.append_many(store, path, PIXELS[FIRST:], LABELS[FIRST:])
    monkeypatch.undo()
    assert [item.name for item in tmp_path.iterdir()] == ["store"]
    np.testing.assert_array_equal(read_all(path)[0], PIXELS[:FIRST])

    words = Store.append_many(store, path, PIXELS[FIRST:], LABELS[FIRST:])
    assert words.startswith("rewrote the whole store: raw/baseline/raw has no way to add images")
    assert [item.name for item in tmp_path.iterdir()] == ["store"]
    images, labels = read_all(path)
    np.testing.assert_array_equal(images, PIXELS)
    np.testing.assert_array_equal(labels, LABELS)
