"""HDF5: one file, `images.h5`, with an images dataset (N, H, W, 3) and a labels dataset (N,).

`tutorial` is the Real Python tutorial's code path: datasets `images` and `meta` declared as
big-endian `STD_U8BE`, read back with `np.array(file["/images"]).astype("uint8")`, which copies
everything twice; other index sets read the span covering them and pick from it.

`fast` stores native uint8, contiguous (chunking was slower for whole-array reads), datasets
`images` and `labels`. A contiguous uncompressed dataset is one plain C-ordered array at a fixed
offset in the file, which h5py reports (`DatasetID.get_offset`), so reads use the raw baseline's
code on it (`row_reads.MappedRows`): one `preadv` per run of indices into a preallocated array, a
long run split over `workers` threads, and for one image or scattered indices a copy out of a
read-only memory map of the file at that offset. Measured warm, 100,000 images on 2 cores:
`read_direct` 85-95 ms, the offset read 50-55 ms (h5py serialises its calls, so threads around
`read_direct` gained nothing); one image at a time in random order, 99 us an image through h5py
and 32 us by `preadv`. `rdcc_nbytes=0`, the `sec2` driver and `libver="latest"` changed nothing
beyond noise, and the labels (100 KB) are read once at open. (Measured on a 2-core VM, ext4,
while writing commit 6afdf9b.) With the map (issue 17; measured as `imgbench.stores.raw` says,
load average 0.5-0.8, 2026-11-26): `reader[i]` 1.7-2.3 us an image against 35 us by `preadv`,
0.4 of `mm[i].copy()`; a random batch of 256 0.21-0.27 ms against 0.92, 0.96-0.99 of `mm[idx]`.
Images h5py cannot place at one offset (chunked, filtered or external storage, as another tool
may write a store) are read through h5py instead: each distinct index once, in increasing order
as h5py's selections require, then put in the order asked for.

`fast` also holds the `zstd` codec: then `images` is chunked one image per chunk with HDF5's
registered Zstandard filter (32015, as `hdf5plugin.Zstd` sets it), so h5py with `hdf5plugin`
imported, or `h5dump` with `HDF5_PLUGIN_PATH` pointing at its plugins, reads it as any compressed
dataset. Each chunk is one image's `zstd` bytes (`imgbench.codecs`): `fast` encodes them on every
core and writes them with `write_direct_chunk`, and reads them with `read_direct_chunk`, decoding
on every core, rather than through the filter one chunk at a time (10,000 images: 276 ms to get
every chunk's bytes against 470 ms for h5py's filtered read, before decoding; busy 2-core VM).
Why Zstandard: h5py writing and reading (`dataset[:]`, through the filter) 100,000 synthetic
images chunked one per chunk, idle 2-core VM, 2026-11-26: no filter 299.2 MiB, read 1.92 s;
gzip level 4 277.4 MiB, 4.03 s (written in 12.1 s); lzf 298.2 MiB, 1.70 s; Zstandard level 3
284.7 MiB, 2.32 s (4.1 s); Blosc lz4 with byte shuffle 299.2 MiB (no saving), 1.59 s. Gzip saves
a little more at twice the read time; Zstandard is the codec the other containers hold too.

Both write without object timestamps (`track_times=False`), so the same images give the same
bytes; each owns only the stores it wrote, told apart by the labels dataset's name.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np

from imgbench.atomic_files import atomic_path
from imgbench.cells import Presentation
from imgbench.codecs import ZSTD_LEVEL, Codec
from imgbench.errors import StoreError
from imgbench.parallel import decode_many, encode_many
from imgbench.row_reads import MappedRows
from imgbench.stores.base import (
    PartWriter,
    Reader,
    Store,
    check_appended,
    check_codec,
    checked_indices,
    no_images,
    worker_count,
)

PRESENTATION = Presentation(label="HDF5", colour="tab:green", rank=30)

FILE_NAME = "images.h5"
ZSTD_FILTER = 32015  # HDF5's registered id of the Zstandard filter
COPY_IMAGES = 4096  # images copied at a time when an append rewrites the file


def images_codec(images: h5py.Dataset) -> str:
    """The codec of an images dataset: `zstd` if its chunks pass the Zstandard filter."""
    plist = images.id.get_create_plist()
    filters = [plist.get_filter(index)[0] for index in range(plist.get_nfilters())]
    return "zstd" if ZSTD_FILTER in filters else "raw"


def dataset_names(path: Path) -> set[str]:
    """Names in the root group of the store's file; empty if there is no readable file."""
    if not (path / FILE_NAME).is_file():
        return set()
    try:
        with h5py.File(path / FILE_NAME, "r") as file:
            return set(file)
    except OSError:
        return set()


def contiguous_uint8(dataset: h5py.Dataset) -> bool:
    """Whether the dataset's elements are plain uint8 bytes laid out in order in the file."""
    return (
        dataset.dtype.itemsize == 1
        and dataset.dtype.kind == "u"
        and dataset.chunks is None
        and dataset.external is None
    )


def open_file(path: Path, labels: str) -> tuple[h5py.File, h5py.Dataset, h5py.Dataset]:
    """The store's file opened read-only, its images and its `labels` dataset."""
    try:
        file = h5py.File(path / FILE_NAME, "r")
    except OSError as error:
        raise StoreError(f"{path}: not a readable HDF5 store ({error})") from error
    try:
        return file, file["images"], file[labels]
    except KeyError as error:
        file.close()
        raise StoreError(f"{path}: HDF5 store without images and {labels} ({error})") from error


def append_hdf5(
    path: Path, labels_name: str, codec: Codec, images: np.ndarray, labels: np.ndarray
) -> str:
    """Append to the store at `path` (labels in the dataset `labels_name`): `Dataset.resize` when
    both datasets were created resizable along the image axis (maxshape None, which HDF5 allows
    only for chunked datasets); otherwise HDF5 cannot grow them, so the file is rewritten with
    datasets of the new length and the same type, layout and filters (`rewrite_hdf5`)."""
    file = path / FILE_NAME
    try:
        with h5py.File(file, "r") as old:
            stored, shape = images_codec(old["images"]), old["images"].shape[1:]
            resizable = old["images"].maxshape[0] is None and old[labels_name].maxshape[0] is None
    except (OSError, KeyError) as error:
        raise StoreError(f"{path}: not an HDF5 store to append to ({error})") from error
    labels = check_appended(file, shape, stored, codec, images, labels)
    if not resizable:
        rewrite_hdf5(file, labels_name, codec, images, labels)
        return "rewrote the file: its datasets are fixed-size (no maxshape), HDF5 cannot grow them"
    with h5py.File(file, "r+") as store:
        for name, added in (("images", images), (labels_name, labels)):
            dataset = store[name]
            count = len(dataset)
            dataset.resize(count + len(added), axis=0)
            if name == "images" and codec.name == "zstd" and dataset.chunks[0] == 1:
                put_chunks(dataset, count, encode_many(codec, added, None))
            elif len(added):
                dataset[count:] = added
    return "resized both datasets (created resizable: maxshape None)"


def put_chunks(dataset: h5py.Dataset, first: int, blobs: list[bytes]) -> None:
    """Write one image's encoded chunk per row from `first` on, bypassing the filter."""
    rest = (0,) * (dataset.ndim - 1)
    for row, blob in enumerate(blobs, start=first):
        dataset.id.write_direct_chunk((row, *rest), blob)


def rewrite_hdf5(
    file: Path, labels_name: str, codec: Codec, images: np.ndarray, labels: np.ndarray
) -> None:
    """Write a sibling of `file` whose datasets are the old ones (same type and creation
    properties: layout, chunks, filters, no timestamps) lengthened by the new rows, then replace
    `file` with it: a failure leaves the old file. Encoded chunks are copied as stored."""
    with (
        atomic_path(file) as partial,
        h5py.File(file, "r") as old,
        h5py.File(partial, "w", track_order=False) as new,
    ):
        for name, added in (("images", images), (labels_name, labels)):
            source = old[name]
            count = len(source)
            space = h5py.h5s.create_simple((count + len(added), *source.shape[1:]))
            plist = source.id.get_create_plist()
            target = h5py.Dataset(
                h5py.h5d.create(new.id, name.encode(), source.id.get_type(), space, plist)
            )
            if name == "images" and codec.name == "zstd" and source.chunks[0] == 1:
                rest = (0,) * (source.ndim - 1)
                old_blobs = [source.id.read_direct_chunk((row, *rest))[1] for row in range(count)]
                put_chunks(target, 0, old_blobs)
                put_chunks(target, count, encode_many(codec, added, None))
                continue
            for start in range(0, count, COPY_IMAGES):
                stop = min(count, start + COPY_IMAGES)
                target[start:stop] = source[start:stop]
            if len(added):
                target[count:] = added


class TutorialHdf5Reader(Reader):
    def __init__(self, path: Path) -> None:
        self._file, self._images, self._labels = open_file(path, "meta")

    def __len__(self) -> int:
        return len(self._labels)

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, len(self))
        if len(indices) == 0:
            return no_images(self._images.shape[1:]), np.empty(0, np.uint8)
        first, last = int(indices.min()), int(indices.max())
        if first == 0 and last == len(self) - 1:
            images = np.array(self._file["/images"]).astype("uint8")
            labels = np.array(self._file["/meta"]).astype("uint8")
        else:
            images = self._images[first : last + 1].astype("uint8")
            labels = self._labels[first : last + 1].astype("uint8")
        if not np.array_equal(indices, np.arange(first, last + 1)):
            images, labels = images[indices - first], labels[indices - first]
        return images, labels

    def close(self) -> None:
        self._file.close()


class Hdf5PartWriter(PartWriter):
    """One writer process's handle on the shared file, opened for writing (`r+`) with HDF5's
    default file locking (neither `locking=False` nor HDF5_USE_FILE_LOCKING=FALSE): HDF5 takes
    an exclusive lock on a file opened for writing, so a second writing process is refused
    with h5py's own error. `labels` names the labels dataset (`meta` in the tutorial's)."""

    def __init__(self, path: Path, labels: str, codec: Codec) -> None:
        self._file = h5py.File(path / FILE_NAME, "r+")
        self._images, self._labels, self._codec = self._file["images"], self._file[labels], codec

    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        stop = start + len(images)
        if self._codec.name == "zstd":
            rest = (0,) * (images.ndim - 1)
            for index, blob in enumerate(encode_many(self._codec, images, 1), start):
                self._images.id.write_direct_chunk((index, *rest), blob)
        else:
            self._images[start:stop] = images
        self._labels[start:stop] = np.asarray(labels, np.uint8)

    def close(self) -> None:
        self._file.close()


class TutorialHdf5Store(Store):
    format = "hdf5"
    implementation = "tutorial"
    marker = FILE_NAME

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        with h5py.File(path / FILE_NAME, "w") as file:
            file.create_dataset(
                "images", np.shape(images), h5py.h5t.STD_U8BE, data=images, track_times=False
            )
            file.create_dataset(
                "meta", np.shape(labels), h5py.h5t.STD_U8BE, data=labels, track_times=False
            )

    def open(self, path: Path, *, workers: int | None = None) -> TutorialHdf5Reader:
        return TutorialHdf5Reader(path)

    def owns(self, path: Path) -> bool:
        names = dataset_names(path)
        return "images" in names and "meta" in names and "labels" not in names

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """See `append_hdf5`: the tutorial's datasets are fixed-size, so the file is rewritten."""
        return append_hdf5(path, "meta", self.codec, images, labels)

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        path.mkdir(parents=True, exist_ok=True)
        with h5py.File(path / FILE_NAME, "w") as file:
            file.create_dataset(
                "images", (count, *image_shape), h5py.h5t.STD_U8BE, track_times=False
            )
            file.create_dataset("meta", (count,), h5py.h5t.STD_U8BE, track_times=False)

    def part_writer(self, path: Path) -> Hdf5PartWriter:
        return Hdf5PartWriter(path, "meta", self.codec)


class FastHdf5Reader(Reader):
    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        self._file, images, labels = open_file(path, "labels")
        self._shape: tuple[int, ...] = images.shape[1:]
        self._labels = labels[()]
        self._count = len(self._labels)
        self._label_bytes = self._labels.tobytes()
        self._codec, self._workers = codec, workers
        self._images, self._fd, self._rows = images, -1, None
        try:
            check_codec(path / FILE_NAME, images_codec(images), codec)
            if codec.name == "raw":
                self._map_images(path, images, worker_count(workers))
        except StoreError:
            self.close()
            raise

    def _map_images(self, path: Path, images: h5py.Dataset, threads: int) -> None:
        """Map the images if they are one plain array in the file; else h5py reads them."""
        if images.dtype.itemsize != 1 or images.dtype.kind != "u":
            raise StoreError(f"{path}: images are {images.dtype}, not uint8; rebuild it")
        offset = images.id.get_offset()  # None unless stored contiguous and allocated
        if not contiguous_uint8(images) or (offset is None and images.size):
            return
        try:
            self._fd = os.open(path / FILE_NAME, os.O_RDONLY)
        except OSError as error:
            raise StoreError(f"{path}: cannot open {FILE_NAME} ({error})") from error
        # An empty dataset has no storage, and nothing to read.
        self._rows = MappedRows(self._fd, offset or 0, images.shape, threads, path / FILE_NAME)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        if self._rows is None:
            return super().__getitem__(index)
        if not -self._count <= index < self._count:
            raise IndexError(f"index {index} is out of range for a store of {self._count} images")
        return self._rows.rows[index].copy(), self._label_bytes[index]

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, self._count)
        if self._rows is not None:
            return self._rows.read(indices), self._labels[indices]
        if self._codec.name == "zstd":
            return self._read_chunks(indices), self._labels[indices]
        return self._read_dataset(indices), self._labels[indices]

    def _read_dataset(self, indices: np.ndarray) -> np.ndarray:
        """Rows `indices` through h5py, for images it cannot map (chunked, filtered, external):
        each distinct index once, in increasing order, as h5py's selections require."""
        if len(indices) == 0:
            return no_images(self._shape)
        rows, inverse = np.unique(indices, return_inverse=True)
        first, last = int(rows[0]), int(rows[-1])
        try:
            if last - first + 1 == len(rows):
                images = self._images[first : last + 1]
            else:
                images = self._images[rows]
        except (OSError, ValueError) as error:
            raise StoreError(f"{self._file.filename}: cannot read images ({error})") from error
        images = np.ascontiguousarray(images, dtype=np.uint8)
        return images if np.array_equal(rows, indices) else images[inverse.reshape(-1)]

    def _read_chunks(self, indices: np.ndarray) -> np.ndarray:
        """Each image's chunk as stored, decoded on every core."""
        read_chunk = self._images.id.read_direct_chunk
        rest = (0,) * len(self._shape)
        try:
            blobs = [read_chunk((index, *rest))[1] for index in indices.tolist()]
        except (OSError, ValueError, KeyError) as error:
            raise StoreError(
                f"{self._file.filename}: cannot read an image's chunk ({error}); rebuild it"
            ) from error
        return decode_many(
            self._codec,
            blobs,
            self._shape,
            self._workers,
            lambda row: f"{self._file.filename} image {indices[row]}",
        )

    def close(self) -> None:
        if self._rows is not None:
            self._rows.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._file.close()


class FastHdf5Store(Store):
    format = "hdf5"
    implementation = "fast"
    marker = FILE_NAME
    codecs = ("raw", "zstd")

    def stored_codec(self, path: Path) -> str:
        file, images, _ = open_file(path, "labels")
        with file:
            return images_codec(images)

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        with h5py.File(path / FILE_NAME, "w", track_order=False) as file:
            if self.codec.name == "zstd":
                dataset = file.create_dataset(
                    "images",
                    shape=images.shape,
                    dtype=np.uint8,
                    chunks=(1, *images.shape[1:]),
                    track_times=False,
                    **hdf5plugin.Zstd(clevel=ZSTD_LEVEL),
                )
                rest = (0,) * (images.ndim - 1)
                for index, blob in enumerate(encode_many(self.codec, images, workers)):
                    dataset.id.write_direct_chunk((index, *rest), blob)
            else:
                file.create_dataset("images", data=images, dtype=np.uint8, track_times=False)
            file.create_dataset(
                "labels", data=np.asarray(labels, np.uint8), dtype=np.uint8, track_times=False
            )

    def open(self, path: Path, *, workers: int | None = None) -> FastHdf5Reader:
        return FastHdf5Reader(path, self.codec, workers)

    def owns(self, path: Path) -> bool:
        names = dataset_names(path)
        return "images" in names and "labels" in names and "meta" not in names

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """See `append_hdf5`: `write_many`'s datasets are fixed-size (contiguous raw pixels, or
        zstd chunks of maxshape the shape), so the file is rewritten, chunks copied as stored."""
        return append_hdf5(path, "labels", self.codec, images, labels)

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        """The file with both datasets, as `write_many` lays them out, and no data yet."""
        path.mkdir(parents=True, exist_ok=True)
        shape = (count, *image_shape)
        with h5py.File(path / FILE_NAME, "w", track_order=False) as file:
            if self.codec.name == "zstd":
                file.create_dataset(
                    "images",
                    shape=shape,
                    dtype=np.uint8,
                    chunks=(1, *image_shape),
                    track_times=False,
                    **hdf5plugin.Zstd(clevel=ZSTD_LEVEL),
                )
            else:
                file.create_dataset("images", shape=shape, dtype=np.uint8, track_times=False)
            file.create_dataset("labels", shape=(count,), dtype=np.uint8, track_times=False)

    def part_writer(self, path: Path) -> Hdf5PartWriter:
        return Hdf5PartWriter(path, "labels", self.codec)


STORES: dict[str, Store] = {"tutorial": TutorialHdf5Store(), "fast": FastHdf5Store()}
