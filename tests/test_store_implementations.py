"""What sets each format's implementations apart: the tutorial's on-disk forms, the safety of
reading its pickles, the fast paths (process pool, threads) and which implementation owns what."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import h5py
import lmdb
import numpy as np
import pytest
from PIL import Image

from imgbench import parallel, row_reads
from imgbench.codecs import Codec
from imgbench.errors import StoreError, UnsafePickleError
from imgbench.stores import files as files_store
from imgbench.stores import get_store, store_of
from imgbench.stores import hdf5 as hdf5_store
from imgbench.stores import lmdb as lmdb_store
from imgbench.synthetic import synthetic_images


class _CreatesFile:
    """A hostile pickle: loading it with plain `pickle` creates the file `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def _put(path: Path, key: bytes, value: bytes) -> None:
    with lmdb.open(str(path), map_size=64 << 20) as env, env.begin(write=True) as txn:
        txn.put(key, value)


def test_tutorial_lmdb_values_are_pickled_cifar_images(images, tmp_path: Path) -> None:
    pixels, labels = images
    get_store("lmdb", "tutorial").write_many(tmp_path / "store", pixels, labels)
    with lmdb.open(str(tmp_path / "store"), readonly=True, lock=False) as env:
        with env.begin() as txn:
            value = txn.get(f"{5:08}".encode("ascii"))
            assert txn.get(lmdb_store.META_KEY) is None
        assert env.stat()["entries"] == 40
    item = lmdb_store.load_cifar_image(value)
    assert isinstance(item, lmdb_store.CifarImage)
    assert item.image == pixels[5].tobytes() and item.label == labels[5]
    assert (item.size, item.channels) == ((32, 32), 3)
    np.testing.assert_array_equal(item.get_image(), pixels[5])


def test_tutorial_lmdb_reader_refuses_a_hostile_pickle(images, tmp_path: Path) -> None:
    marker = tmp_path / "payload-ran"
    payload = pickle.dumps(_CreatesFile(marker))
    pickle.loads(payload).close()  # the payload is real: plain pickle runs it ...
    assert marker.exists()
    marker.unlink()

    get_store("lmdb", "tutorial").write_many(tmp_path / "store", *images)
    _put(tmp_path / "store", lmdb_store.image_key(7), payload)
    with get_store("lmdb", "tutorial").open(tmp_path / "store") as reader:
        np.testing.assert_array_equal(reader[6][0], images[0][6])
        with pytest.raises(UnsafePickleError, match="io.open"):
            reader.read_many(np.arange(40))
        with pytest.raises(UnsafePickleError):
            reader[7]
    assert not marker.exists()  # ... the reader never does


def test_tutorial_lmdb_reader_refuses_pickles_of_anything_but_cifar_images(
    images, tmp_path: Path
) -> None:
    get_store("lmdb", "tutorial").write_many(tmp_path / "store", *images)
    _put(tmp_path / "store", lmdb_store.image_key(2), pickle.dumps((b"\0" * 3072, 3)))
    _put(tmp_path / "store", lmdb_store.image_key(3), b"not a pickle")
    with get_store("lmdb", "tutorial").open(tmp_path / "store") as reader:
        with pytest.raises(UnsafePickleError, match="tuple, not a CifarImage"):
            reader[2]
        with pytest.raises(StoreError, match="not a readable pickle"):
            reader[3]


def test_restricted_unpickler_allows_numpy_scalar_labels_only() -> None:
    value = pickle.dumps(lmdb_store.CifarImage(np.zeros((2, 2, 3), np.uint8), np.int64(9)))
    assert lmdb_store.load_cifar_image(value).label == 9
    with pytest.raises(UnsafePickleError, match="numpy.load"):
        lmdb_store.CifarImageUnpickler(io.BytesIO(pickle.dumps(np.load))).load()


def test_lmdb_fast_and_tutorial_each_own_only_their_stores(images, tmp_path: Path) -> None:
    fast, tutorial = get_store("lmdb", "fast"), get_store("lmdb", "tutorial")
    fast.write_many(tmp_path / "fast", *images)
    tutorial.write_many(tmp_path / "tutorial", *images)
    assert fast.owns(tmp_path / "fast") and not tutorial.owns(tmp_path / "fast")
    assert tutorial.owns(tmp_path / "tutorial") and not fast.owns(tmp_path / "tutorial")
    with pytest.raises(StoreError, match="without its b'meta' record"):
        fast.open(tmp_path / "tutorial")


def test_tutorial_hdf5_holds_big_endian_images_and_meta(images, tmp_path: Path) -> None:
    pixels, labels = images
    get_store("hdf5", "tutorial").write_many(tmp_path / "store", pixels, labels)
    with h5py.File(tmp_path / "store" / hdf5_store.FILE_NAME, "r") as file:
        assert set(file) == {"images", "meta"}
        for name, shape in (("images", (40, 32, 32, 3)), ("meta", (40,))):
            stored = file[name].id.get_type()
            assert stored.get_order() == h5py.h5t.ORDER_BE and stored.get_size() == 1
            assert stored.get_sign() == h5py.h5t.SGN_NONE and file[name].shape == shape
        np.testing.assert_array_equal(file["meta"][()], labels)


@pytest.mark.parametrize("implementation", ["tutorial", "fast"])
def test_hdf5_same_images_give_the_same_bytes(implementation: str, images, tmp_path) -> None:
    store = get_store("hdf5", implementation)
    store.write_many(tmp_path / "a", *images)
    store.write_many(tmp_path / "b", *images)
    file = hdf5_store.FILE_NAME
    assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


def test_hdf5_fast_and_tutorial_each_own_only_their_stores(images, tmp_path: Path) -> None:
    fast, tutorial = get_store("hdf5", "fast"), get_store("hdf5", "tutorial")
    fast.write_many(tmp_path / "fast", *images)
    tutorial.write_many(tmp_path / "tutorial", *images)
    assert fast.owns(tmp_path / "fast") and not tutorial.owns(tmp_path / "fast")
    assert tutorial.owns(tmp_path / "tutorial") and not fast.owns(tmp_path / "tutorial")
    with pytest.raises(StoreError, match="without images and labels"):
        fast.open(tmp_path / "tutorial")


def test_hdf5_fast_reads_long_runs_with_threads(images, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(row_reads, "PARALLEL_MIN_BYTES", 1)
    pixels, labels = images
    get_store("hdf5", "fast").write_many(tmp_path / "store", pixels, labels)
    indices = np.r_[0:25, 30, 33:40]
    read_pixels, read_labels = get_store("hdf5", "fast").read_many(
        tmp_path / "store", indices, workers=3
    )
    np.testing.assert_array_equal(read_pixels, pixels[indices])
    np.testing.assert_array_equal(read_labels, labels[indices])


@pytest.mark.parametrize(("writer", "reader"), [("fast", "tutorial"), ("tutorial", "fast")])
def test_files_png_implementations_read_each_others_stores(
    writer, reader, images, tmp_path
) -> None:
    pixels, labels = images
    get_store("files", writer).write_many(tmp_path / "store", pixels, labels)
    indices = np.array([39, 0, 5, 5, 12])
    read_pixels, read_labels = get_store("files", reader).read_many(tmp_path / "store", indices)
    np.testing.assert_array_equal(read_pixels, pixels[indices])
    np.testing.assert_array_equal(read_labels, labels[indices])


@pytest.mark.parametrize("implementation", ["tutorial", "fast"])
def test_files_png_stores_are_valid_pngs_and_one_labels_csv(
    implementation, images, tmp_path
) -> None:
    pixels, labels = images
    get_store("files", implementation).write_many(tmp_path / "store", pixels, labels)
    for index in range(40):
        with Image.open(tmp_path / "store" / f"{index:08d}.png") as image:
            assert image.format == "PNG" and image.mode == "RGB" and image.size == (32, 32)
            np.testing.assert_array_equal(np.asarray(image), pixels[index])
    expected = "label\n" + "".join(f"{label}\n" for label in labels)
    assert (tmp_path / "store" / "labels.csv").read_text() == expected


@pytest.mark.parametrize("codec", ["png", "qoi"])
def test_files_fast_uses_a_process_pool_for_many_images(
    codec: str, tmp_path: Path, monkeypatch
) -> None:
    pools: list[int] = []
    run_in_pool = files_store.run_in_pool
    monkeypatch.setattr(
        files_store,
        "run_in_pool",
        lambda processes, *args, **kwargs: (
            pools.append(processes) or run_in_pool(processes, *args, **kwargs)
        ),
    )
    pixels, labels = synthetic_images(1500, seed=5)
    store = get_store("files", "fast", Codec(codec))
    store.write_many(tmp_path / "store", pixels, labels, workers=2)
    assert pools == [2]
    indices = np.random.default_rng(2).permutation(1500)
    for workers, order in ((2, np.arange(1500)), (2, indices), (1, indices)):
        read_pixels, read_labels = store.read_many(tmp_path / "store", order, workers=workers)
        assert read_pixels.dtype == np.uint8 and read_pixels.shape == (1500, 32, 32, 3)
        np.testing.assert_array_equal(read_pixels, pixels[order])
        np.testing.assert_array_equal(read_labels, labels[order])
    assert pools == [2, 2, 2]  # workers=1 reads in this process
    last = (tmp_path / "store" / f"00001499.{codec}").read_bytes()
    np.testing.assert_array_equal(Codec(codec).decoded(last, (32, 32, 3)), pixels[1499])


def test_files_fast_pool_reports_a_damaged_file(tmp_path: Path) -> None:
    pixels, labels = synthetic_images(1200, seed=6)
    get_store("files", "fast").write_many(tmp_path / "store", pixels, labels, workers=2)
    (tmp_path / "store" / "00000700.png").write_bytes(b"damaged")
    with pytest.raises(StoreError, match="00000700.png"):
        get_store("files", "fast").read_many(tmp_path / "store", np.arange(1200), workers=2)


def test_files_fast_reads_the_tutorials_store_without_meta(images, tmp_path: Path) -> None:
    """The tutorial writes no meta.json: the fast reader takes it for PNG and finds the shape in
    its first file."""
    pixels, labels = images
    get_store("files", "tutorial").write_many(tmp_path / "store", pixels, labels)
    assert not (tmp_path / "store" / files_store.META_FILE).exists()
    assert get_store("files", "fast").stored_codec(tmp_path / "store") == "png"
    read_pixels, _ = get_store("files", "fast").read_many(tmp_path / "store", np.array([4, 1]))
    np.testing.assert_array_equal(read_pixels, pixels[[4, 1]])


@pytest.mark.parametrize("codec", ["png", "jpeg"])
def test_lmdb_fast_encodes_and_decodes_many_images_in_a_pool(
    codec: str, tmp_path: Path, monkeypatch
) -> None:
    pools: list[int] = []
    run_in_pool = parallel.run_in_pool
    monkeypatch.setattr(
        parallel,
        "run_in_pool",
        lambda processes, *args, **kwargs: (
            pools.append(processes) or run_in_pool(processes, *args, **kwargs)
        ),
    )
    pixels, labels = synthetic_images(1200, seed=8)
    store = get_store("lmdb", "fast", Codec(codec))
    store.write_many(tmp_path / "store", pixels, labels, workers=2)
    expected = parallel.expected_images(store.codec, pixels, 1)
    order = np.random.default_rng(3).permutation(1200)
    for indices in (np.arange(1200), order):
        read_pixels, read_labels = store.read_many(tmp_path / "store", indices, workers=2)
        np.testing.assert_array_equal(read_pixels, expected[indices])
        np.testing.assert_array_equal(read_labels, labels[indices])
    assert pools == [2, 2]  # one decoding pool per read


def test_raw_store_round_trip_and_plain_npy(images, tmp_path: Path, monkeypatch) -> None:
    pixels, labels = images
    store = get_store("raw", "baseline")
    store.write_many(tmp_path / "store", pixels, labels)
    np.testing.assert_array_equal(np.load(tmp_path / "store" / "images.npy"), pixels)
    np.testing.assert_array_equal(np.load(tmp_path / "store" / "labels.npy"), labels)
    monkeypatch.setattr(row_reads, "PARALLEL_MIN_BYTES", 1)  # threads even for small runs
    for indices in (np.arange(40), np.array([39, 3, 3, 4, 5, 0, 20, 21]), np.array([], int)):
        for workers in (1, 2, None):
            read_pixels, read_labels = store.read_many(tmp_path / "store", indices, workers=workers)
            assert read_pixels.shape == (len(indices), 32, 32, 3)
            np.testing.assert_array_equal(read_pixels, pixels[indices])
            np.testing.assert_array_equal(read_labels, labels[indices])


def test_raw_store_refuses_a_truncated_images_file(images, tmp_path: Path) -> None:
    get_store("raw", "baseline").write_many(tmp_path / "store", *images)
    data = (tmp_path / "store" / "images.npy").read_bytes()
    (tmp_path / "store" / "images.npy").write_bytes(data[:-100])
    with pytest.raises(StoreError, match="ends before"):
        get_store("raw", "baseline").read_many(tmp_path / "store", np.arange(40))


@pytest.mark.parametrize(
    ("method", "implementation", "reader"),
    [
        ("files", "tutorial", "files/fast/png"),  # one layout: the preferred one reads it
        ("files", "fast", "files/fast/png"),
        ("lmdb", "tutorial", "lmdb/tutorial/raw"),
        ("lmdb", "fast", "lmdb/fast/raw"),
        ("hdf5", "tutorial", "hdf5/tutorial/raw"),
        ("hdf5", "fast", "hdf5/fast/raw"),
        ("raw", "baseline", "raw/baseline/raw"),
    ],
)
def test_store_of_picks_an_implementation_that_reads_the_store(
    method: str, implementation: str, reader: str, images, tmp_path: Path
) -> None:
    get_store(method, implementation).write_many(tmp_path / "store", *images)
    assert store_of(tmp_path / "store").key == reader


def test_lmdb_fast_names_a_raw_value_of_the_wrong_length(images, tmp_path: Path) -> None:
    pixels, labels = images
    get_store("lmdb", "fast").write_many(tmp_path / "store", pixels, labels)
    with lmdb.open(str(tmp_path / "store")) as env, env.begin(write=True) as txn:
        txn.put(b"00000007", b"\x01" + bytes(100))
    with pytest.raises(StoreError, match=r"image 7 holds 101 bytes.*rebuild it"):
        get_store("lmdb", "fast").read_many(tmp_path / "store", np.arange(10))


def test_hdf5_zstd_is_a_compressed_dataset_h5py_reads_through_its_filter(
    images, tmp_path: Path
) -> None:
    """h5py with hdf5plugin's filters, no imgbench code, reads the chunks `fast` wrote itself."""
    import hdf5plugin  # noqa: F401  (registers the Zstandard filter with HDF5)

    pixels, labels = images
    get_store("hdf5", "fast", Codec("zstd")).write_many(tmp_path / "store", pixels, labels)
    with h5py.File(tmp_path / "store" / hdf5_store.FILE_NAME, "r") as file:
        assert file["images"].chunks == (1, 32, 32, 3)
        assert hdf5_store.images_codec(file["images"]) == "zstd"
        np.testing.assert_array_equal(file["images"][()], pixels)
        np.testing.assert_array_equal(file["labels"][()], labels)
        stored = file["images"].id.get_storage_size()
    assert stored < pixels.nbytes
    assert store_of(tmp_path / "store").codec.name == "zstd"
    with pytest.raises(StoreError, match="holds zstd images, not raw: open it as zstd"):
        get_store("hdf5", "fast").open(tmp_path / "store")
