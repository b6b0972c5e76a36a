"""The columnar stores (Arrow IPC, Parquet, Lance): their own library alone reads each as a plain
table; each implementation reads the other's; a table that is not one of our image tables is
refused, naming the store."""

from __future__ import annotations

import json
from pathlib import Path

import imagecodecs
import lance
import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.parallel import expected_images
from imgbench.stores import get_store, implementations, store_of
from imgbench.stores import lance as lance_store
from imgbench.stores import parquet as parquet_store

IMPLEMENTATIONS = ("fast", "documented")
# Per format: its file (or dataset), how its own library reads and writes a table there.
FORMATS = {
    "arrow": ("images.arrow", feather.read_table, feather.write_feather),
    "parquet": ("images.parquet", pq.read_table, pq.write_table),
    "lance": (
        lance_store.DATASET,
        lambda uri: lance.dataset(uri).to_table(),
        lambda table, uri: lance.write_dataset(
            table, uri, data_storage_version=lance_store.FILE_FORMAT
        ),
    ),
}
ONE_FILE = {"arrow": "Arrow IPC", "parquet": "Parquet"}  # what their errors call them
TWO_IMPLEMENTATIONS = ["arrow", "parquet"]
IMPLEMENTED = [
    (name, implementation) for name in FORMATS for implementation in implementations(name)
]


@pytest.fixture(params=FORMATS)
def columnar(request) -> tuple[str, str, object, object]:
    """A format's name, then its file, reader and writer as FORMATS has them."""
    return request.param, *FORMATS[request.param]


def store(name: str, implementation: str, codec: str = "raw"):
    return get_store(name, implementation, Codec(codec))


@pytest.mark.parametrize("codec", ["raw", "png"])
@pytest.mark.parametrize(("name", "implementation"), IMPLEMENTED)
def test_its_own_library_alone_reads_the_table(
    images, tmp_path: Path, name: str, implementation: str, codec: str
) -> None:
    file, read_table, _ = FORMATS[name]
    pixels, labels = images
    store(name, implementation, codec).write_many(tmp_path / "store", pixels, labels)
    table = read_table(tmp_path / "store" / file)
    assert table.column_names == ["idx", "label", "image"]
    assert table.column("idx").to_pylist() == list(range(40))
    assert table.column("label").to_pylist() == labels.tolist()
    decode = imagecodecs.png_decode if codec == "png" else lambda b: np.frombuffer(b, np.uint8)
    read = np.stack([decode(blob).reshape(32, 32, 3) for blob in table["image"].to_pylist()])
    np.testing.assert_array_equal(read, pixels)
    described = json.loads(table.schema.metadata[b"imgbench"])
    assert described == {"codec": codec, "shape": [32, 32, 3], "count": 40}
    assert [path.name for path in (tmp_path / "store").iterdir()] == [file]


def test_fast_holds_raw_pixels_in_one_fixed_size_column(images, tmp_path: Path, columnar) -> None:
    name, file, read_table, _ = columnar
    store(name, "fast").write_many(tmp_path / "store", *images)
    assert read_table(tmp_path / "store" / file).schema.field("image").type == pa.binary(3072)


@pytest.mark.parametrize("name", TWO_IMPLEMENTATIONS)
@pytest.mark.parametrize("codec", ["raw", "jpeg"])
@pytest.mark.parametrize(("writer", "reader"), [("fast", "documented"), ("documented", "fast")])
def test_each_implementation_reads_the_others_stores(
    images, tmp_path: Path, name: str, writer: str, reader: str, codec: str
) -> None:
    pixels, labels = images
    store(name, writer, codec).write_many(tmp_path / "store", pixels, labels)
    indices = np.array([39, 0, 7, 7, 21])
    with store(name, reader, codec).open(tmp_path / "store") as opened:
        read, read_labels = opened.read_many(indices)
    np.testing.assert_array_equal(read, expected_images(Codec(codec), pixels)[indices])
    np.testing.assert_array_equal(read_labels, labels[indices])
    assert store_of(tmp_path / "store").implementation == "fast"


@pytest.mark.parametrize("codec", ["raw", "png"])
def test_parquet_fast_reads_across_row_groups(images, tmp_path: Path, monkeypatch, codec) -> None:
    """Runs, scattered and repeated indices over many row groups, and one group read again."""
    monkeypatch.setattr(parquet_store, "ROW_GROUP_ROWS", 7)
    pixels, labels = images
    store("parquet", "fast", codec).write_many(tmp_path / "store", pixels, labels)
    assert pq.ParquetFile(tmp_path / "store" / "images.parquet").num_row_groups == 6
    with store("parquet", "fast", codec).open(tmp_path / "store") as reader:
        for indices in ([*range(40)], [39, 3, 3, 20, 6, 7], [8], [9], [13, 8], [0]):
            read, read_labels = reader.read_many(np.array(indices))
            np.testing.assert_array_equal(read, pixels[indices])
            np.testing.assert_array_equal(read_labels, labels[indices])


def _table(images, **changes) -> pa.Table:
    """Our image table of raw `images`, with `changes` to its columns (None: left out) and to
    its `imgbench` metadata (`metadata=`)."""
    pixels, labels = images
    columns = {
        "idx": pa.array(np.arange(40, dtype=np.int64)),
        "label": pa.array(labels.astype(np.uint8)),
        "image": pa.array([image.tobytes() for image in pixels]),
    }
    metadata = {"codec": "raw", "shape": [32, 32, 3], "count": 40} | changes.pop("metadata", {})
    columns |= changes
    table = pa.table({name: value for name, value in columns.items() if value is not None})
    return table.replace_schema_metadata({b"imgbench": json.dumps(metadata).encode()})


@pytest.mark.parametrize(("name", "implementation"), IMPLEMENTED)
@pytest.mark.parametrize(
    ("table", "message"),
    [
        (lambda images: _table(images, image=None), r"no column image, so not an image table"),
        (
            lambda images: _table(images).replace_schema_metadata({}),
            r"no readable `imgbench` entry",
        ),
        (lambda images: _table(images, metadata={"count": 41}), r"40 rows, but its metadata"),
        (
            lambda images: _table(images, idx=pa.array(np.arange(40)[::-1])),
            r"rows are not images 0\.\.39 in order",
        ),
        (
            lambda images: _table(images, label=pa.array(np.zeros(40, np.int64))),
            r"columns label \(int64\) and idx \(int64\) are not ours",
        ),
        (
            lambda images: _table(images, metadata={"codec": "png"}),
            r"holds png images, not raw: open it as png",
        ),
    ],
    ids=["missing column", "other schema", "wrong count", "out of order", "label type", "codec"],
)
def test_a_table_we_did_not_write_is_refused(
    images, tmp_path: Path, name: str, implementation: str, table, message: str
) -> None:
    file, _, write_table = FORMATS[name]
    (tmp_path / "store").mkdir()
    write_table(table(images), str(tmp_path / "store" / file))
    with pytest.raises(StoreError, match=rf"{file}:? .*{message}"):
        store(name, implementation).open(tmp_path / "store").close()


@pytest.mark.parametrize("name", ONE_FILE)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_truncated_or_missing_file_is_refused(
    images, tmp_path: Path, name, implementation
) -> None:
    file, called = FORMATS[name][0], ONE_FILE[name]
    store(name, "fast").write_many(tmp_path / "store", *images)
    path = tmp_path / "store" / file
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(StoreError, match=rf"{file}: not a readable {called} file .*rebuild"):
        store(name, implementation).open(tmp_path / "store")
    path.unlink()
    with pytest.raises(StoreError, match=rf"{file}: no such file; build the store"):
        store(name, implementation).open(tmp_path / "store")


def test_a_write_never_adds_to_an_existing_store(images, tmp_path: Path, columnar) -> None:
    name, file = columnar[:2]
    store(name, "fast").write_many(tmp_path / "store", *images)
    with pytest.raises(StoreError, match=rf"{file} already exists"):
        store(name, "fast").write_many(tmp_path / "store", *images)


def test_a_lance_dataset_in_another_file_format_is_refused(images, tmp_path: Path) -> None:
    """Its numbers would describe another format than the one the run records."""
    table = _table(images)
    lance.write_dataset(
        table, str(tmp_path / "store" / lance_store.DATASET), data_storage_version="2.0"
    )
    with pytest.raises(
        StoreError,
        match=r"images.lance is in Lance file format 2\.0; this benchmark "
        r"writes and reads 2\.2 .*rebuild the store",
    ):
        store("lance", "fast").open(tmp_path / "store")


def test_a_missing_or_damaged_lance_dataset_is_refused(images, tmp_path: Path) -> None:
    with pytest.raises(
        StoreError, match=r"images.lance: no readable Lance dataset .*build the store"
    ):
        store("lance", "fast").open(tmp_path / "store")
    store("lance", "fast").write_many(tmp_path / "store", *images)
    (data,) = (tmp_path / "store" / lance_store.DATASET / "data").iterdir()
    data.write_bytes(data.read_bytes()[:2000])
    with (
        pytest.raises(StoreError, match=r"images.lance: Lance cannot read it .*rebuild the store"),
        store("lance", "fast").open(tmp_path / "store") as reader,
    ):
        reader.read_many(np.array([3, 1]))


def test_lance_takes_rows_in_the_asked_order(images, tmp_path: Path) -> None:
    pixels, labels = images
    store("lance", "fast", "png").write_many(tmp_path / "store", pixels, labels)
    with store("lance", "fast", "png").open(tmp_path / "store") as reader:
        for indices in ([39, 3, 3, 0], [5, 6, 7], [12]):
            read, read_labels = reader.read_many(np.array(indices))
            np.testing.assert_array_equal(read, pixels[indices])
            np.testing.assert_array_equal(read_labels, labels[indices])
