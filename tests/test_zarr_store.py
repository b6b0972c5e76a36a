"""Zarr v3 stores: zarr-python and TensorStore alone read them; each implementation reads the
other's; a group of another shape, codec or with a missing shard is refused, naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorstore
import zarr

from imgbench.errors import StoreError
from imgbench.stores import get_store, store_of
from imgbench.stores import zarr as zarr_store

IMPLEMENTATIONS = ("fast", "documented")


@pytest.fixture(autouse=True)
def small_shards(monkeypatch) -> None:
    monkeypatch.setattr(zarr_store, "SHARD_IMAGES", 16)  # forty images: three shard files


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
