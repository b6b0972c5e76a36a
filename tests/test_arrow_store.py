"""Arrow IPC stores: pyarrow alone reads them as a plain table; each implementation reads the
other's; a file that is not one of our image tables is refused, naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import imagecodecs
import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.stores import get_store, store_of
from imgbench.stores.arrow import MARKER

IMPLEMENTATIONS = ("fast", "documented")


def store(implementation: str, codec: str = "raw"):
    return get_store("arrow", implementation, Codec(codec))


@pytest.mark.parametrize("codec", ["raw", "png"])
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_pyarrow_alone_reads_the_table(images, tmp_path: Path, implementation, codec) -> None:
    pixels, labels = images
    store(implementation, codec).write_many(tmp_path / "store", pixels, labels)
    table = feather.read_table(tmp_path / "store" / MARKER)
    assert table.column_names == ["idx", "label", "image"]
    assert table.column("idx").to_pylist() == list(range(40))
    assert table.column("label").to_pylist() == labels.tolist()
    blobs = table.column("image").to_pylist()
    decode = imagecodecs.png_decode if codec == "png" else lambda b: np.frombuffer(b, np.uint8)
    read = np.stack([decode(blob).reshape(32, 32, 3) for blob in blobs])
    np.testing.assert_array_equal(read, pixels)
    described = json.loads(table.schema.metadata[b"imgbench"])
    assert described == {"codec": codec, "shape": [32, 32, 3], "count": 40}


def test_fast_holds_raw_pixels_in_one_fixed_size_column(images, tmp_path: Path) -> None:
    store("fast").write_many(tmp_path / "store", *images)
    table = feather.read_table(tmp_path / "store" / MARKER)
    assert table.schema.field("image").type == pa.binary(3072)
    assert table.column("image").num_chunks == 1
    assert [p.name for p in (tmp_path / "store").iterdir()] == [MARKER]


@pytest.mark.parametrize("codec", ["raw", "jpeg"])
@pytest.mark.parametrize(("writer", "reader"), [("fast", "documented"), ("documented", "fast")])
def test_each_implementation_reads_the_others_stores(
    images, tmp_path: Path, writer: str, reader: str, codec: str
) -> None:
    pixels, labels = images
    store(writer, codec).write_many(tmp_path / "store", pixels, labels)
    indices = np.array([39, 0, 7, 7, 21])
    with store(reader, codec).open(tmp_path / "store") as opened:
        read, read_labels = opened.read_many(indices)
    with store(writer, codec).open(tmp_path / "store") as opened:
        np.testing.assert_array_equal(read, opened.read_many(indices)[0])
    np.testing.assert_array_equal(read_labels, labels[indices])
    assert store_of(tmp_path / "store").implementation == "fast"


def _table(images, **changes) -> pa.Table:
    pixels, labels = images
    columns = {
        "idx": pa.array(np.arange(40, dtype=np.int64)),
        "label": pa.array(labels.astype(np.uint8)),
        "image": pa.array([image.tobytes() for image in pixels]),
    }
    metadata = {"codec": "raw", "shape": [32, 32, 3], "count": 40}
    metadata |= changes.pop("metadata", {})
    columns |= changes
    table = pa.table({name: value for name, value in columns.items() if value is not None})
    return table.replace_schema_metadata({b"imgbench": json.dumps(metadata).encode()})


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
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
    ],
    ids=["missing column", "other schema", "wrong count", "rows out of order", "label type"],
)
def test_a_table_we_did_not_write_is_refused(
    images, tmp_path: Path, implementation, table, message
) -> None:
    (tmp_path / "store").mkdir()
    feather.write_feather(table(images), tmp_path / "store" / MARKER)
    with pytest.raises(StoreError, match=rf"{MARKER}: .*{message}"):
        store(implementation).open(tmp_path / "store").close()


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_truncated_or_missing_file_is_refused(images, tmp_path: Path, implementation) -> None:
    store("fast").write_many(tmp_path / "store", *images)
    file = tmp_path / "store" / MARKER
    file.write_bytes(file.read_bytes()[:5000])
    with pytest.raises(StoreError, match=rf"{MARKER}: not a readable Arrow IPC file .*rebuild"):
        store(implementation).open(tmp_path / "store")
    file.unlink()
    with pytest.raises(StoreError, match=rf"{MARKER}: no such file; build the store"):
        store(implementation).open(tmp_path / "store")


def test_a_write_never_adds_to_an_existing_store(images, tmp_path: Path) -> None:
    store("fast").write_many(tmp_path / "store", *images)
    with pytest.raises(StoreError, match=rf"{MARKER} already exists"):
        store("fast").write_many(tmp_path / "store", *images)
