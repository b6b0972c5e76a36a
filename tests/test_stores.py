"""Every storage format, in every implementation and every codec it can hold: what is written is
exactly what is read back (for a lossy codec: what its decoder makes of the stored bytes), one
image or many; a store is opened in the codec it holds and in no other."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import imgbench
from imgbench.cells import upgrade_old_table
from imgbench.codecs import Codec
from imgbench.config_checks import measured_stores
from imgbench.errors import ConfigError, StoreError
from imgbench.parallel import expected_images
from imgbench.stores import Store, formats, get_store, implementations, open_store, store_of
from imgbench.stores import files as files_store
from imgbench.stores import lmdb as lmdb_store
from imgbench.synthetic import synthetic_images

STORES = [
    get_store(name, implementation, Codec(codec))
    for name in formats()
    for implementation in implementations(name)
    for codec in get_store(name, implementation).codecs
]
KEYS = [store.key for store in STORES]


def expected(store: Store, pixels: np.ndarray) -> np.ndarray:
    """What a read of `store` holding `pixels` must return."""
    return expected_images(store.codec, pixels)


def test_the_tutorials_three_formats_are_available_in_their_codecs() -> None:
    assert {"files", "lmdb", "hdf5", "raw"} <= set(formats())
    assert "png" not in formats()  # the tutorial's PNG is the files container holding png
    assert {"files/tutorial/png", "lmdb/tutorial/raw", "hdf5/tutorial/raw"} <= set(KEYS)
    assert {"files/fast/qoi", "files/fast/jpeg", "lmdb/fast/png", "lmdb/fast/jpeg"} <= set(KEYS)
    assert get_store("files", "tutorial").codecs == ("png",)
    assert get_store("hdf5", "fast").codecs == ("raw", "zstd")
    assert get_store("lmdb", "tutorial").codecs == ("raw",)


@pytest.fixture(scope="module", params=STORES, ids=KEYS)
def written(request, tmp_path_factory) -> tuple[Store, Path, np.ndarray, np.ndarray]:
    """Each store written once from forty images, for the tests that only read it back."""
    store = request.param
    pixels, labels = synthetic_images(40, seed=3)
    path = tmp_path_factory.mktemp("store") / store.key.replace("/", "-")
    store.write_many(path, pixels, labels)
    return store, path, pixels, labels


def test_write_many_then_read_all_in_order(written) -> None:
    store, path, pixels, labels = written
    read_pixels, read_labels = store.read_many(path, np.arange(40))
    assert read_pixels.dtype == np.uint8 and read_pixels.shape == (40, 32, 32, 3)
    np.testing.assert_array_equal(read_pixels, expected(store, pixels))
    np.testing.assert_array_equal(read_labels, labels)
    if store.codec.lossless:
        np.testing.assert_array_equal(read_pixels, pixels)


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
def test_bulk_read_of_any_indices(written, indices: list[int]) -> None:
    store, path, pixels, labels = written
    with open_store(path) as reader:
        read_pixels, read_labels = reader.read_many(np.array(indices))
    np.testing.assert_array_equal(read_pixels, expected(store, pixels)[indices])
    np.testing.assert_array_equal(read_labels, labels[indices])


def test_reader_len_and_item_access(written) -> None:
    store, path, pixels, labels = written
    decoded = expected(store, pixels)
    with imgbench.open_store(path) as reader:
        assert len(reader) == 40
        image, label = reader[12]
        assert isinstance(label, int) and label == labels[12]
        np.testing.assert_array_equal(image, decoded[12])
        np.testing.assert_array_equal(reader[-1][0], decoded[-1])
        with pytest.raises(IndexError):
            reader[40]
        with pytest.raises(IndexError):
            reader.read_many(np.array([3, 40]))


@pytest.mark.parametrize("store", STORES, ids=KEYS)
def test_single_image_write_and_read(store, images, tmp_path: Path) -> None:
    pixels, labels = images
    store.write_single(tmp_path / "one", pixels[3], int(labels[3]))
    image, label = store.read_single(tmp_path / "one", 0)
    np.testing.assert_array_equal(image, expected(store, pixels[3:4])[0])
    assert label == labels[3]
    found = store_of(tmp_path / "one")
    assert (found.format, found.codec.name) == (store.format, store.codec.name)


def test_open_store_recognises_the_format_and_codec(written) -> None:
    store, path, _, _ = written
    found = store_of(path)
    assert (found.format, found.codec.name) == (store.format, store.codec.name)
    assert store.series_columns() == {
        "method": store.format,
        "implementation": store.implementation,
        "codec": store.codec.name,
    }


@pytest.mark.parametrize(("name", "codec"), [("files", "qoi"), ("lmdb", "jpeg")])
def test_open_store_reads_a_store_in_the_codec_it_holds(
    name: str, codec: str, images, tmp_path: Path
) -> None:
    pixels, labels = images
    store = get_store(name, "fast", Codec(codec))
    store.write_many(tmp_path / "store", pixels, labels)
    assert store_of(tmp_path / "store").key == f"{name}/fast/{codec}"
    assert get_store(name, "fast").stored_codec(tmp_path / "store") == codec
    with open_store(tmp_path / "store") as reader:
        read_pixels, read_labels = reader.read_many(np.array([7, 3, 3, 39]))
    np.testing.assert_array_equal(read_pixels, expected(store, pixels)[[7, 3, 3, 39]])
    np.testing.assert_array_equal(read_labels, labels[[7, 3, 3, 39]])


@pytest.mark.parametrize(
    ("name", "written", "opened_as"),
    [
        ("files", "qoi", "png"),
        ("files", "png", "jpeg"),
        ("lmdb", "jpeg", "raw"),
        ("lmdb", "raw", "png"),
    ],
)
def test_a_store_opened_as_another_codec_is_refused(
    name: str, written: str, opened_as: str, images, tmp_path: Path
) -> None:
    get_store(name, "fast", Codec(written)).write_many(tmp_path / "store", *images)
    other = get_store(name, "fast", Codec(opened_as))
    with pytest.raises(StoreError, match=f"holds {written} .*not {opened_as}"):
        other.open(tmp_path / "store")
    with pytest.raises(StoreError, match=f"holds {written}"):
        other.read_many(tmp_path / "store", np.arange(3))


@pytest.mark.parametrize(
    ("name", "implementation", "codec"),
    [("hdf5", "fast", "png"), ("files", "tutorial", "qoi"), ("lmdb", "tutorial", "jpeg")],
)
def test_with_codec_refuses_a_codec_the_implementation_cannot_hold(
    name: str, implementation: str, codec: str
) -> None:
    store = get_store(name, implementation)
    with pytest.raises(StoreError, match=f"{name}/{implementation} cannot hold {codec} images"):
        store.with_codec(Codec(codec))
    with pytest.raises(StoreError, match=f"cannot hold {codec}"):
        get_store(name, implementation, Codec(codec))
    assert store.with_codec(Codec(store.codecs[0])).key == store.key


def test_with_codec_refuses_an_option_the_format_does_not_take() -> None:
    with pytest.raises(StoreError, match="`store_options.hdf5` has an option hdf5 does not take"):
        get_store("hdf5", "fast", None, chunk_rows=64)


@pytest.mark.parametrize("quality", [0, 101, -5])
def test_a_jpeg_quality_outside_1_to_100_is_refused(quality: int) -> None:
    with pytest.raises(ConfigError, match=f"JPEG quality {quality} is outside 1-100"):
        Codec("jpeg", jpeg_quality=quality)
    assert Codec("jpeg", jpeg_quality=1).jpeg_quality == 1
    assert Codec("jpeg", jpeg_quality=100).jpeg_quality == 100


def test_an_unknown_codec_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown codec 'webp'; known: raw, png, qoi, jpeg"):
        Codec("webp")


def measured_config(**changes: object) -> dict:
    config = {"methods": ["hdf5"], "implementations": ["tutorial", "fast"], "baseline": False}
    config |= {"codecs": {}, "jpeg_quality": 90, "store_options": {}}
    return config | changes


def test_measured_stores_refuses_a_codec_the_format_cannot_hold() -> None:
    with pytest.raises(ConfigError, match="hdf5") as refused:
        measured_stores(measured_config(codecs={"hdf5": ["png"]}))
    assert "png" in str(refused.value) and "`codecs.hdf5`" in str(refused.value)
    assert measured_stores(measured_config(codecs={"hdf5": ["raw"]})) == [
        ("hdf5", "tutorial", "raw"),
        ("hdf5", "fast", "raw"),
    ]


def test_an_old_table_is_read_under_todays_names() -> None:
    old = pd.DataFrame(
        {
            "run_id": ["a", "a", "a", "a"],
            "method": ["png", "lmdb", "hdf5", "raw"],
            "implementation": ["tutorial", "fast", "fast", "baseline"],
            "n_images": [10, 10, 10, 10],
            "seconds": [1.0, 2.0, 3.0, 4.0],
        }
    )
    new = upgrade_old_table(old)
    assert list(new.columns) == [
        "run_id",
        "method",
        "implementation",
        "codec",
        "image_size",
        "n_images",
        "seconds",
    ]
    assert set(new.image_size) == {32}  # every table before the size axis measured CIFAR-10
    assert list(zip(new.method, new.implementation, new.codec, strict=True)) == [
        ("files", "tutorial", "png"),
        ("lmdb", "fast", "raw"),
        ("hdf5", "fast", "raw"),
        ("raw", "baseline", "raw"),
    ]
    assert new.seconds.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert list(old.method) == ["png", "lmdb", "hdf5", "raw"]  # the input is left alone
    assert upgrade_old_table(new) is new  # a current table is kept as it is


def test_open_store_refuses_what_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a store folder"):
        open_store(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="no recognisable store"):
        open_store(tmp_path / "empty")
    with pytest.raises(StoreError, match="unknown storage format 'tiff'"):
        get_store("tiff", "fast")
    with pytest.raises(StoreError, match="unknown storage format 'png'"):
        get_store("png", "fast")  # the tutorial's PNG is the files container now
    with pytest.raises(StoreError, match="no implementation 'slow'"):
        get_store("files", "slow")


def test_lmdb_values_are_raw_bytes_not_pickles(images, tmp_path: Path) -> None:
    import lmdb

    pixels, labels = images
    get_store("lmdb", "fast").write_many(tmp_path / "store", pixels, labels)
    with lmdb.open(str(tmp_path / "store"), readonly=True, lock=False) as env, env.begin() as txn:
        value = txn.get(lmdb_store.image_key(5))
        meta = json.loads(txn.get(lmdb_store.META_KEY))
    assert value == bytes([labels[5]]) + pixels[5].tobytes()
    assert meta == {"count": 40, "shape": [32, 32, 3], "codec": "raw"}


@pytest.mark.parametrize("codec", ["png", "qoi", "jpeg"])
def test_lmdb_encoded_values_are_the_label_then_the_codecs_bytes(
    codec: str, images, tmp_path: Path
) -> None:
    import lmdb

    pixels, labels = images
    get_store("lmdb", "fast", Codec(codec)).write_many(tmp_path / "store", pixels, labels)
    with lmdb.open(str(tmp_path / "store"), readonly=True, lock=False) as env, env.begin() as txn:
        value = txn.get(lmdb_store.image_key(5))
        meta = json.loads(txn.get(lmdb_store.META_KEY))
    assert value == bytes([labels[5]]) + Codec(codec).encode(pixels[5])
    assert meta["codec"] == codec


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


def test_files_png_store_is_one_file_per_image_plus_labels_csv(images, tmp_path: Path) -> None:
    pixels, labels = images
    get_store("files", "fast").write_many(tmp_path / "store", pixels, labels)
    assert len(list((tmp_path / "store").glob("*.png"))) == 40
    lines = (tmp_path / "store" / "labels.csv").read_text().splitlines()
    assert lines[0] == "label" and [int(line) for line in lines[1:]] == labels.tolist()


@pytest.mark.parametrize(("codec", "extension"), [("qoi", "qoi"), ("jpeg", "jpg"), ("raw", "rgb")])
def test_files_fast_names_each_file_by_its_codec_and_records_it(
    codec: str, extension: str, images, tmp_path: Path
) -> None:
    pixels, labels = images
    get_store("files", "fast", Codec(codec)).write_many(tmp_path / "store", pixels, labels)
    store = tmp_path / "store"
    assert sorted(path.name for path in store.glob("0*")) == [
        f"{index:08d}.{extension}" for index in range(40)
    ]
    assert (store / f"00000005.{extension}").read_bytes() == Codec(codec).encode(pixels[5])
    meta = json.loads((store / files_store.META_FILE).read_text())
    assert meta == {"codec": codec, "shape": [32, 32, 3]}


@pytest.mark.parametrize("written", formats())
def test_a_store_opened_as_another_format_is_refused_naming_it(
    written: str, images, tmp_path: Path
) -> None:
    pixels, labels = images
    path = tmp_path / written
    get_store(written, implementations(written)[-1]).write_many(path, pixels, labels)
    for other in (name for name in formats() if name != written):
        for implementation in implementations(other):
            with (
                pytest.raises(StoreError, match=re.escape(str(path))),
                get_store(other, implementation).open(path) as reader,
            ):
                reader.read_many(np.arange(3))
