"""TileDB stores: TileDB alone reads them (group metadata, both arrays, the filters, the array
format the provenance record names); each implementation reads the other's layout; a group of
another shape or filter, an unwritten array or a group that is not ours is refused, naming it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tiledb

from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.stores import get_store, store_of
from imgbench.stores import tiledb as tiledb_store

IMPLEMENTATIONS = ("fast", "documented")
PIXELS_SHAPE = {"documented": (40, 32, 32, 3), "fast": (40, 32, 96)}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("codec", ["raw", "zstd"])
def test_tiledb_alone_reads_the_store(images, tmp_path: Path, implementation, codec) -> None:
    pixels, labels = images
    get_store("tiledb", implementation, Codec(codec)).write_many(tmp_path / "store", *images)
    group_uri = str(tmp_path / "store" / "images.tdb")
    assert tiledb.object_type(group_uri) == "group"
    with tiledb.Group(group_uri) as group:
        assert json.loads(group.meta["imgbench"]) == {
            "codec": codec,
            "shape": [32, 32, 3],
            "count": 40,
        }
        members = {member.name: member.uri for member in group}
    with tiledb.open(members["images"]) as array:
        assert array.shape == PIXELS_SHAPE[implementation]
        assert array.schema.version == tiledb_store.FORMAT_VERSION
        filters = [type(each).__name__ for each in array.schema.attr("pixel").filters]
        assert filters == (["ZstdFilter"] if codec == "zstd" else [])
        np.testing.assert_array_equal(array[:]["pixel"].reshape(pixels.shape), pixels)
        np.testing.assert_array_equal(array[7]["pixel"].reshape(32, 32, 3), pixels[7])
    with tiledb.open(members["labels"]) as array:
        np.testing.assert_array_equal(array[:]["label"], labels)


@pytest.mark.parametrize(("writer", "reader"), [("fast", "documented"), ("documented", "fast")])
def test_each_implementation_reads_the_others_stores(
    images, tmp_path: Path, writer, reader
) -> None:
    pixels, labels = images
    get_store("tiledb", writer).write_many(tmp_path / "store", pixels, labels)
    with get_store("tiledb", reader).open(tmp_path / "store") as opened:
        for indices in ([*range(40)], [39, 3, 3, 17, 0], [5, 6, 7], [20]):
            read, read_labels = opened.read_many(np.array(indices))
            np.testing.assert_array_equal(read, pixels[indices])
            np.testing.assert_array_equal(read_labels, labels[indices])
    assert store_of(tmp_path / "store").implementation == "fast"
    assert not get_store("tiledb", writer).concurrent_readers  # TileDB may deadlock after fork


def _rewrite_images(store: Path, array: np.ndarray, filters: list) -> None:
    """Replace the store's images array by `array`, as another program might have."""
    uri = store / "images.tdb" / "images"
    shutil.rmtree(uri)
    dimensions = [
        tiledb.Dim(f"d{axis}", domain=(0, size - 1), tile=size, dtype=np.uint64)
        for axis, size in enumerate(array.shape)
    ]
    attribute = tiledb.Attr("pixel", dtype=array.dtype, filters=filters)
    schema = tiledb.ArraySchema(domain=tiledb.Domain(*dimensions), attrs=[attribute])
    tiledb.Array.create(str(uri), schema)
    with tiledb.open(str(uri), "w") as opened:
        opened[:] = array


def _forget_metadata(store: Path) -> None:
    """Leave a TileDB group that says nothing of what it holds, as another program's would."""
    with tiledb.Group(str(store / "images.tdb"), "w") as group:
        del group.meta["imgbench"]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda store, pixels: _rewrite_images(store, pixels[:, :16], []),
            r"arrays .* not the 40 images of shape \(32, 32, 3\) .*: rebuild the store",
        ),
        (
            lambda store, pixels: _rewrite_images(store, pixels.astype(np.uint16), []),
            r"arrays .*uint16.* rebuild the store",
        ),
        (
            lambda store, pixels: _rewrite_images(store, pixels, [tiledb.GzipFilter()]),
            r"images has filters \('GzipFilter',\), not those of raw images \(\(\)\)",
        ),
        (
            lambda store, pixels: shutil.rmtree(store / "images.tdb/images/__commits"),
            r"images holds None, not images 0 to 39: the store is damaged or was never finished",
        ),
        (
            lambda store, pixels: _forget_metadata(store),
            r"no TileDB group with `imgbench` metadata .*build it, or rebuild it",
        ),
    ],
    ids=["other shape", "other dtype", "other filter", "never written", "not ours"],
)
def test_a_damaged_or_foreign_group_is_refused(
    images, tmp_path: Path, implementation, damage, message
) -> None:
    pixels, labels = images
    get_store("tiledb", "fast").write_many(tmp_path / "store", pixels, labels)
    damage(tmp_path / "store", pixels)
    with pytest.raises(StoreError, match=message):
        get_store("tiledb", implementation).open(tmp_path / "store")


def test_a_write_never_adds_to_an_existing_store(images, tmp_path: Path) -> None:
    get_store("tiledb", "fast").write_many(tmp_path / "store", *images)
    with pytest.raises(StoreError, match=r"images.tdb already exists"):
        get_store("tiledb", "documented").write_many(tmp_path / "store", *images)
