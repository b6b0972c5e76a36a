"""The LevelDB store: round trips in every codec and implementation, stores plyvel alone can read,
and a clear StoreError for each kind of bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import plyvel
import pytest
from PIL import Image

from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.parallel import expected_images
from imgbench.stores import get_store, open_store, store_of

IMPLEMENTATIONS = ("documented", "fast")
CODECS = ("raw", "png", "qoi", "jpeg")


def _write(path: Path, images, implementation: str = "fast", codec: str = "raw") -> None:
    pixels, labels = images
    get_store("leveldb", implementation, Codec(codec)).write_many(path, pixels, labels)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_round_trip_in_any_order(images, tmp_path: Path, implementation: str, codec: str) -> None:
    pixels, labels = images
    store = get_store("leveldb", implementation, Codec(codec))
    store.write_many(tmp_path / "store", pixels, labels)
    expected = expected_images(store.codec, pixels)
    orders = [
        np.arange(40),  # one run
        np.arange(5, 17),  # a run from the middle
        np.random.default_rng(0).permutation(40),
        np.array([3, 3, 39, 0, 3, 12]),  # repeats
        np.array([], dtype=np.int64),
    ]
    with store.open(tmp_path / "store") as reader:
        assert len(reader) == 40
        for indices in orders:
            read, read_labels = reader.read_many(indices)
            np.testing.assert_array_equal(read, expected[indices])
            np.testing.assert_array_equal(read_labels, labels[indices])
        image, label = reader[-1]
        np.testing.assert_array_equal(image, expected[39])
        assert label == labels[39]


@pytest.mark.parametrize("codec", ["raw", "png"])
def test_each_implementation_reads_the_others_store(images, tmp_path: Path, codec: str) -> None:
    pixels, labels = images
    for writer, reader in [("documented", "fast"), ("fast", "documented")]:
        _write(tmp_path / writer, images, writer, codec)
        read, read_labels = get_store("leveldb", reader, Codec(codec)).read_many(
            tmp_path / writer, np.arange(40)
        )
        np.testing.assert_array_equal(read, pixels)
        np.testing.assert_array_equal(read_labels, labels)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_open_store_finds_the_codec_and_prefers_fast(
    images, tmp_path: Path, implementation: str
) -> None:
    pixels, labels = images
    _write(tmp_path / "store", images, implementation, "qoi")
    store = store_of(tmp_path / "store")
    assert (store.format, store.implementation, store.codec.name) == ("leveldb", "fast", "qoi")
    with open_store(tmp_path / "store") as reader:
        read, read_labels = reader.read_many(np.arange(40))
    np.testing.assert_array_equal(read, pixels)
    np.testing.assert_array_equal(read_labels, labels)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("codec", ["raw", "png"])
def test_plyvel_alone_reads_the_store(
    images, tmp_path: Path, implementation: str, codec: str
) -> None:
    pixels, labels = images
    _write(tmp_path / "store", images, implementation, codec)
    db = plyvel.DB(str(tmp_path / "store"))
    try:
        meta = json.loads(db.get(b"meta"))
        items = list(db.iterator(stop=b"meta"))
    finally:
        db.close()
    assert meta == {"count": 40, "shape": [32, 32, 3], "codec": codec}
    assert [key for key, _ in items] == [f"{index:08d}".encode() for index in range(40)]
    if codec == "raw":
        read = np.stack(
            [np.frombuffer(value[1:], np.uint8).reshape(32, 32, 3) for _, value in items]
        )
    else:
        read = np.stack([np.array(Image.open(io.BytesIO(value[1:]))) for _, value in items])
    np.testing.assert_array_equal(read, pixels)
    np.testing.assert_array_equal([value[0] for _, value in items], labels)


def test_fast_leaves_no_log_to_replay(images, tmp_path: Path) -> None:
    """Compacted while writing: every value is in a table, so opening writes no new table."""
    _write(tmp_path / "store", images)
    tables = sorted(path.name for path in (tmp_path / "store").glob("*.ldb"))
    assert tables and all(path.stat().st_size == 0 for path in (tmp_path / "store").glob("*.log"))
    open_store(tmp_path / "store").close()
    assert sorted(path.name for path in (tmp_path / "store").glob("*.ldb")) == tables


def test_refuses_a_folder_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "notes.txt").write_text("no database here")
    for implementation in IMPLEMENTATIONS:
        with pytest.raises(StoreError, match=r"folder is not a LevelDB database.*CURRENT"):
            get_store("leveldb", implementation).open(tmp_path / "folder")
    assert sorted(path.name for path in (tmp_path / "folder").iterdir()) == ["notes.txt"]


def test_refuses_a_damaged_database(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "CURRENT").write_text("MANIFEST-000099\n")
    with pytest.raises(StoreError, match=r"store: cannot open this LevelDB database.*rebuild"):
        get_store("leveldb", "fast").open(tmp_path / "store")


def test_refuses_a_database_another_process_has_open(images, tmp_path: Path) -> None:
    _write(tmp_path / "store", images)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import plyvel, sys\n"
            f"db = plyvel.DB({str(tmp_path / 'store')!r})\n"
            "print('open', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        for implementation in IMPLEMENTATIONS:
            with pytest.raises(StoreError, match=r"store: another process has .* open.*close"):
                get_store("leveldb", implementation).open(tmp_path / "store")
        with pytest.raises(StoreError, match="another process"):
            store_of(tmp_path / "store")
    finally:
        holder.communicate("")
    open_store(tmp_path / "store").close()  # free again once the holder has closed it


def test_refuses_a_database_this_process_has_open(images, tmp_path: Path) -> None:
    _write(tmp_path / "store", images)
    with (
        get_store("leveldb", "fast").open(tmp_path / "store"),
        pytest.raises(StoreError, match="another process has this LevelDB database open"),
    ):
        get_store("leveldb", "fast").open(tmp_path / "store")


def test_refuses_a_database_without_meta(images, tmp_path: Path) -> None:
    db = plyvel.DB(str(tmp_path / "store"), create_if_missing=True)
    db.put(b"00000000", b"\x01" + bytes(3072))
    db.close()
    for implementation in IMPLEMENTATIONS:
        with pytest.raises(StoreError, match=r"store: LevelDB database without the 'meta' key"):
            get_store("leveldb", implementation).open(tmp_path / "store")
    with pytest.raises(StoreError, match="without the 'meta' key"):
        open_store(tmp_path / "store")


def test_refuses_a_damaged_meta_key(images, tmp_path: Path) -> None:
    _write(tmp_path / "store", images)
    for meta in (b"{not json", b"[1, 2]", b'{"count": 40}'):
        _edit(tmp_path / "store", b"meta", meta)
        with pytest.raises(StoreError, match=r"store: the 'meta' key holds no count.*rebuild"):
            open_store(tmp_path / "store")


def test_refuses_a_codec_mismatch(images, tmp_path: Path) -> None:
    _write(tmp_path / "store", images, codec="png")
    for implementation in IMPLEMENTATIONS:
        with pytest.raises(StoreError, match="holds png values, not raw: open it as png"):
            get_store("leveldb", implementation).open(tmp_path / "store")


def test_refuses_to_write_over_a_database(images, tmp_path: Path) -> None:
    _write(tmp_path / "store", images)
    for implementation in IMPLEMENTATIONS:
        with pytest.raises(StoreError, match="store already holds a LevelDB database: delete it"):
            _write(tmp_path / "store", images, implementation)


def _edit(path: Path, key: bytes, value: bytes | None) -> None:
    db = plyvel.DB(str(path))
    if value is None:
        db.delete(key)
    else:
        db.put(key, value)
    db.close()


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_refuses_a_missing_key(images, tmp_path: Path, implementation: str) -> None:
    _write(tmp_path / "store", images, implementation, "png")
    _edit(tmp_path / "store", b"00000007", None)
    store = get_store("leveldb", implementation, Codec("png"))
    with store.open(tmp_path / "store") as reader:
        with pytest.raises(StoreError, match="key 00000007 .image 7. is missing"):
            reader.read_many(np.array([9, 7]))
        if implementation == "fast":  # an iterator walk over a run
            with pytest.raises(StoreError, match="1 of the keys 00000000..00000039 are missing"):
                reader.read_many(np.arange(40))
        else:
            with pytest.raises(StoreError, match="key 00000007 .image 7. is missing"):
                reader.read_many(np.arange(40))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("codec", ["raw", "png"])
def test_a_damaged_value_names_its_key(
    images, tmp_path: Path, implementation: str, codec: str
) -> None:
    _write(tmp_path / "store", images, implementation, codec)
    _edit(tmp_path / "store", b"00000011", b"\x03not an image")
    store = get_store("leveldb", implementation, Codec(codec))
    with store.open(tmp_path / "store") as reader:
        for indices in (np.arange(40), np.array([11])):
            with pytest.raises(StoreError, match=r"store.* key 00000011.*rebuild it"):
                reader.read_many(indices)
