"""The SQLite store: both implementations, every codec, the sqlite3 command-line tool, and every
kind of bad store a reader can meet."""

from __future__ import annotations

import io
import shutil
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgbench import parallel
from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.stores import get_store, open_store, store_of
from imgbench.stores.sqlite import MARKER

IMPLEMENTATIONS = ("fast", "documented")
CODECS = ("png", "raw", "qoi", "jpeg")
SQLITE3 = shutil.which("sqlite3")


def expected(codec: Codec, images: np.ndarray) -> np.ndarray:
    """What a read returns: the images, or for JPEG what its decoder makes of their bytes."""
    return np.stack([codec.decoded(codec.encode(image), image.shape) for image in images])


def index_sets(count: int) -> list[np.ndarray]:
    """Runs, a permutation, repeats, a reversal, scattered and single indices, and none."""
    return [
        np.arange(count),
        np.arange(5, 17),
        np.random.default_rng(0).permutation(count),
        np.array([3, 3, 0, 3, count - 1, 0]),
        np.arange(count)[::-1],
        np.array([count - 1]),
        np.array([], dtype=np.int64),
    ]


def build(path: Path, images, implementation: str = "fast", codec: str = "png") -> Path:
    get_store("sqlite", implementation, Codec(codec)).write_many(path, *images)
    return path


def execute(file: Path, *statements: str) -> None:
    """Change a store behind the benchmark's back, as damage or another tool would."""
    with sqlite3.connect(file) as connection:
        connection.execute("PRAGMA synchronous = OFF")  # no fsync stalls on a busy disk
        for statement in statements:
            connection.execute(statement)
    connection.close()


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("writer", IMPLEMENTATIONS)
def test_round_trip_read_by_both_implementations(writer, codec, images, tmp_path) -> None:
    pixels, labels = images
    store = build(tmp_path / "store", images, writer, codec)
    assert sorted(path.name for path in store.iterdir()) == [MARKER]  # no journal left behind
    want = expected(Codec(codec), pixels)
    for reader_implementation in IMPLEMENTATIONS:
        with get_store("sqlite", reader_implementation, Codec(codec)).open(store) as reader:
            assert len(reader) == len(labels)
            for indices in index_sets(len(labels)):
                got_images, got_labels = reader.read_many(indices)
                assert got_images.shape == (len(indices), *pixels.shape[1:])
                assert got_images.dtype == got_labels.dtype == np.uint8
                np.testing.assert_array_equal(got_images, want[indices])
                np.testing.assert_array_equal(got_labels, labels[indices])
            image, label = reader[-2]
            np.testing.assert_array_equal(image, want[-2])
            assert label == labels[-2]
            with pytest.raises(IndexError):
                reader.read_many(np.array([len(labels)]))
    assert sorted(path.name for path in store.iterdir()) == [MARKER]  # readers leave no files


def test_fast_decodes_in_a_process_pool(images, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(parallel, "POOL_MIN_IMAGES", 10)
    pixels, labels = images
    store = build(tmp_path / "store", images, "fast", "png")
    with get_store("sqlite", "fast").open(store, workers=2) as reader:
        for indices in index_sets(len(labels))[:3]:
            got_images, got_labels = reader.read_many(indices)
            np.testing.assert_array_equal(got_images, pixels[indices])
            np.testing.assert_array_equal(got_labels, labels[indices])


@pytest.mark.parametrize("writer", IMPLEMENTATIONS)
@pytest.mark.parametrize("codec", ["raw", "jpeg"])
def test_open_store_reads_the_codec_from_the_store(writer, codec, images, tmp_path) -> None:
    store = build(tmp_path / "store", images, writer, codec)
    found = store_of(store)
    assert (found.format, found.implementation, found.codec.name) == ("sqlite", "fast", codec)
    assert get_store("sqlite", "documented").stored_codec(store) == codec
    with open_store(store) as reader:
        np.testing.assert_array_equal(reader[4][0], expected(Codec(codec), images[0][4:5])[0])


@pytest.mark.skipif(
    SQLITE3 is None, reason="no sqlite3 command-line tool (apt-get install sqlite3)"
)
@pytest.mark.parametrize("writer", IMPLEMENTATIONS)
def test_the_sqlite3_tool_alone_gets_images_out(writer, images, tmp_path) -> None:
    pixels, labels = images
    png_store = build(tmp_path / "png", images, writer, "png")
    raw_store = build(tmp_path / "raw", images, writer, "raw")

    def sqlite3_tool(store: Path, sql: str) -> str:
        command = [SQLITE3, "-readonly", str(store / MARKER), sql]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    assert sqlite3_tool(png_store, "SELECT count, height, width, channels, codec FROM meta") == (
        f"{len(labels)}|32|32|3|png\n"
    )
    assert int(sqlite3_tool(png_store, "SELECT count(*) FROM images")) == len(labels)
    listed = sqlite3_tool(png_store, "SELECT label FROM images ORDER BY idx").split()
    assert [int(label) for label in listed] == labels.tolist()

    out = tmp_path / "3.png"
    sqlite3_tool(png_store, f"SELECT writefile('{out}', image) FROM images WHERE idx = 3")
    with Image.open(io.BytesIO(out.read_bytes())) as image:
        assert image.format == "PNG"
        np.testing.assert_array_equal(np.asarray(image.convert("RGB")), pixels[3])

    raw_hex = sqlite3_tool(raw_store, "SELECT hex(image) FROM images WHERE idx = 7").strip()
    assert bytes.fromhex(raw_hex) == pixels[7].tobytes()


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_file_that_is_not_a_database_is_refused(implementation, tmp_path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / MARKER).write_bytes(b"these are not the pages of an SQLite database" * 100)
    with pytest.raises(StoreError, match=rf"{MARKER}: not an SQLite database .*rebuild"):
        get_store("sqlite", implementation).open(store)
    with pytest.raises(StoreError, match=rf"{MARKER}: not an SQLite database"):
        open_store(store)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_database_without_our_tables_is_refused(implementation, tmp_path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    execute(store / MARKER, "CREATE TABLE photos (id INTEGER PRIMARY KEY, data BLOB)")
    with pytest.raises(StoreError, match=rf"{MARKER}: an SQLite database without images and meta"):
        get_store("sqlite", implementation).open(store)
    execute(store / MARKER, "CREATE TABLE images (x)", "CREATE TABLE meta (y)")
    with pytest.raises(StoreError, match="rebuild"):
        get_store("sqlite", implementation).open(store)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_missing_folder_or_file_is_refused_and_not_created(implementation, tmp_path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    with pytest.raises(StoreError, match=f"{MARKER}: no such file"):
        get_store("sqlite", implementation).open(store)
    assert list(store.iterdir()) == []


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_store_of_another_codec_is_refused(implementation, images, tmp_path) -> None:
    store = build(tmp_path / "store", images, "fast", "png")
    with pytest.raises(StoreError, match="holds png images, not qoi: open it as png"):
        get_store("sqlite", implementation, Codec("qoi")).open(store)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_missing_row_is_named(implementation, images, tmp_path) -> None:
    count = len(images[1])
    store = build(tmp_path / "store", images)
    execute(
        store / MARKER,
        "DELETE FROM images WHERE idx = 5",
        f"DELETE FROM images WHERE idx = {count - 1}",
    )
    with get_store("sqlite", implementation).open(store) as reader:
        for indices in ([5], [4, 5, 6], [9, 5, 1], np.arange(count)):
            with pytest.raises(StoreError, match=r"no row with idx 5 although meta counts 40"):
                reader.read_many(np.array(indices))
        with pytest.raises(StoreError, match=rf"no row with idx {count - 1} .*rebuild"):
            reader.read_many(np.array([0, count - 1]))
        np.testing.assert_array_equal(reader.read_many(np.array([4, 6]))[1], images[1][[4, 6]])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("codec", ["png", "raw"])
def test_a_damaged_blob_is_named_by_its_idx(
    implementation, codec, images, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(parallel, "POOL_MIN_IMAGES", 10)  # the fast reader's pool reports it too
    store = build(tmp_path / "store", images, "fast", codec)
    execute(store / MARKER, "UPDATE images SET image = x'89504e470d0a1a0a' WHERE idx = 7")
    with get_store("sqlite", implementation, Codec(codec)).open(store) as reader:
        for indices in ([7], np.arange(40), [30, 7, 2]):
            with pytest.raises(StoreError, match=rf"{MARKER} idx 7: not a {codec} image"):
                reader.read_many(np.array(indices))


def test_writing_over_an_existing_store_is_refused(images, tmp_path) -> None:
    store = build(tmp_path / "store", images)
    before = (store / MARKER).read_bytes()
    for implementation in IMPLEMENTATIONS:
        with pytest.raises(StoreError, match="already exists: write a store into an empty"):
            build(store, images, implementation)
    assert (store / MARKER).read_bytes() == before
