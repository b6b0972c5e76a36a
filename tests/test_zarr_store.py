"""Zarr v3 stores, sharded (`zarr`) and in plain chunks (`zarr_chunked`), raw or zstd:
zarr-python and TensorStore alone read them; each implementation reads the other's; a group of
another shape, codec or layout, or with a missing shard or chunk, is refused, naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorstore
import zarr

from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.stores import get_store, store_of
from imgbench.stores import zarr as zarr_store

IMPLEMENTATIONS = ("fast", "documented")


@pytest.fixture(autouse=True)
def small_shards(monkeypatch) -> None:
    monkeypatch.setattr(zarr_store, "SHARD_IMAGES", 16)  # forty images: three shard files
    monkeypatch.setattr(zarr_store, "CHUNK_IMAGES", 16)  # and three chunk files


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_zarr_and_tensorstore_alone_read_the_store(images, tmp_path: Path, implementation) -> None:
    pixels, labels = images
    get_store("zarr", implementation).write_many(tmp_path / "store", pixels, labels)
    group = zarr.open_group(tmp_path / "store" / "images.zarr", mode="r")
    assert group.attrs["imgbench"] == {"codec": "raw", "shape": [32, 32, 3], "count": 40}
    assert group["images"].chunks == (1, 32, 32, 3) and group["images"].shards == (16, 32, 32, 3)
    np.testing.assert_array_equal(group["images"][:], pixels)
    np.testing.assert_array_equal(group["labels"][:], labels)
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": ""}}
    spec["kvstore"]["path"] = str(tmp_path / "store" / "images.zarr" / "images")
    opened = tensorstore.open(spec, read=True).result()
    np.testing.assert_array_equal(opened[[39, 2]].read().result(), pixels[[39, 2]])
    assert len(list((tmp_path / "store/images.zarr/images/c").iterdir())) == 3


@pytest.mark.parametrize(("writer", "reader"), [("fast", "documented"), ("documented", "fast")])
def test_each_implementation_reads_the_others_stores(
    images, tmp_path: Path, writer, reader
) -> None:
    pixels, labels = images
    get_store("zarr", writer).write_many(tmp_path / "store", pixels, labels)
    with get_store("zarr", reader).open(tmp_path / "store") as opened:
        for indices in ([*range(40)], [39, 3, 3, 17, 0], [5, 6, 7], [20]):
            read, read_labels = opened.read_many(np.array(indices))
            np.testing.assert_array_equal(read, pixels[indices])
            np.testing.assert_array_equal(read_labels, labels[indices])
    assert store_of(tmp_path / "store").implementation == "fast"


def _rewrite_images(store: Path, array: np.ndarray) -> None:
    """Replace the store's images array by `array`, as another program might have."""
    group = zarr.open_group(store / "images.zarr", mode="r+")
    del group["images"]
    group.create_array("images", data=array, chunks=(1, *array.shape[1:]))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda store, pixels: _rewrite_images(store, pixels[:, :16]),
            r"arrays .* not the .* its `imgbench` attribute describes: rebuild the store",
        ),
        (
            lambda store, pixels: _rewrite_images(store, pixels.astype(np.uint16)),
            r"arrays .*uint16.* not the .* its `imgbench` attribute describes",
        ),
        (
            lambda store, pixels: shutil.rmtree(store / "images.zarr/images/c/1"),
            r"images/c/1/0/0/0 is missing: the store is damaged; rebuild it",
        ),
        (
            lambda store, pixels: (store / "images.zarr/zarr.json").write_text("{}"),
            r"no Zarr group with an `imgbench` attribute .*build it, or rebuild it",
        ),
    ],
    ids=["other shape", "other dtype", "missing shard", "not ours"],
)
def test_a_damaged_or_foreign_group_is_refused(
    images, tmp_path: Path, implementation, damage, message
) -> None:
    pixels, labels = images
    get_store("zarr", "fast").write_many(tmp_path / "store", pixels, labels)
    damage(tmp_path / "store", pixels)
    with pytest.raises(StoreError, match=message):
        get_store("zarr", implementation).open(tmp_path / "store")


def test_a_write_never_adds_to_an_existing_store(images, tmp_path: Path) -> None:
    get_store("zarr", "fast").write_many(tmp_path / "store", *images)
    with pytest.raises(StoreError, match=r"images.zarr already exists"):
        get_store("zarr", "documented").write_many(tmp_path / "store", *images)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("codec", ["raw", "zstd"])
def test_the_chunked_layout_is_plain_chunks_that_zarr_alone_reads(
    images, tmp_path: Path, implementation, codec
) -> None:
    pixels, labels = images
    store = get_store("zarr_chunked", implementation, Codec(codec))
    store.write_many(tmp_path / "store", pixels, labels)
    array = zarr.open_group(tmp_path / "store" / "images.zarr", mode="r")["images"]
    assert array.chunks == (16, 32, 32, 3) and array.shards is None
    assert [type(each).__name__ for each in array.compressors] == (
        ["ZstdCodec"] if codec == "zstd" else []
    )
    np.testing.assert_array_equal(array[:], pixels)
    assert sorted(path.name for path in (tmp_path / "store/images.zarr/images/c").iterdir()) == [
        "0",
        "1",
        "2",
    ]
    assert store_of(tmp_path / "store").key == f"zarr_chunked/fast/{codec}"


def test_zstd_compresses_each_inner_chunk_of_a_shard(images, tmp_path: Path) -> None:
    pixels, labels = images
    get_store("zarr", "fast", Codec("zstd")).write_many(tmp_path / "store", pixels, labels)
    array = zarr.open_group(tmp_path / "store" / "images.zarr", mode="r")["images"]
    assert array.chunks == (1, 32, 32, 3) and array.shards == (16, 32, 32, 3)
    assert [type(each).__name__ for each in array.compressors] == ["ZstdCodec"]
    np.testing.assert_array_equal(array.oindex[[39, 0, 7]], pixels[[39, 0, 7]])


@pytest.mark.parametrize(
    ("written", "opened", "message"),
    [
        (
            "zarr",
            "zarr_chunked",
            r"its images are sharded, so it is a `zarr` store: open it as one",
        ),
        ("zarr_chunked", "zarr", r"in plain chunks, so it is a `zarr_chunked` store: open it as"),
    ],
)
def test_a_store_of_the_other_layout_is_refused(
    images, tmp_path: Path, written, opened, message
) -> None:
    get_store(written, "fast").write_many(tmp_path / "store", *images)
    for implementation in IMPLEMENTATIONS:
        with pytest.raises(StoreError, match=message):
            get_store(opened, implementation).open(tmp_path / "store")


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_a_compressor_other_than_the_codec_recorded_is_refused(
    images, tmp_path: Path, implementation
) -> None:
    store = tmp_path / "store"
    get_store("zarr_chunked", "fast", Codec("zstd")).write_many(store, *images)
    group = zarr.open_group(store / "images.zarr", mode="r+")
    group.attrs["imgbench"] = {**group.attrs["imgbench"], "codec": "raw"}
    with pytest.raises(StoreError, match=r"codecs \['bytes', 'zstd'\], not those of raw images"):
        get_store("zarr_chunked", implementation).open(store)


def test_a_missing_chunk_file_is_refused(images, tmp_path: Path) -> None:
    get_store("zarr_chunked", "documented").write_many(tmp_path / "store", *images)
    (tmp_path / "store/images.zarr/images/c/2/0/0/0").unlink()
    with pytest.raises(StoreError, match=r"images/c/2/0/0/0 is missing: the store is damaged"):
        get_store("zarr_chunked", "fast").open(tmp_path / "store")
