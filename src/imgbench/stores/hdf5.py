"""HDF5: one file, `images.h5`, with an images dataset (N, H, W, 3) and a labels dataset (N,).

`tutorial` is the Real Python tutorial's code path: datasets `images` and `meta` declared as
big-endian `STD_U8BE`, read back with `np.array(file["/images"]).astype("uint8")`, which copies
everything twice; other index sets read the span covering them and pick from it.

`fast` stores native uint8, contiguous (chunking was slower for whole-array reads), datasets
`images` and `labels`. A contiguous uncompressed dataset is one plain C-ordered array at a fixed
offset in the file, which h5py reports (`DatasetID.get_offset`), so reads use the raw baseline's
code on it: one `preadv` per run of indices into a preallocated array, a long run split over
`workers` threads. Measured warm, 100,000 images on 2 cores: `read_direct` 85-95 ms, the offset
read 50-55 ms (h5py serialises its calls, so threads around `read_direct` gained nothing); one
image at a time in random order, 99 us against 32 us an image. `rdcc_nbytes=0`, the `sec2`
driver and `libver="latest"` changed nothing beyond noise, and the labels (100 KB) are read once
at open. (Measured on a 2-core VM, ext4, while writing commit 6afdf9b.)

Both write without object timestamps (`track_times=False`), so the same images give the same
bytes; each owns only the stores it wrote, told apart by the labels dataset's name.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from imgbench.cells import Presentation
from imgbench.errors import StoreError
from imgbench.row_reads import read_rows
from imgbench.stores.base import Reader, Store, checked_indices, no_images, worker_count

PRESENTATION = Presentation(label="HDF5", colour="tab:green", rank=30)

FILE_NAME = "images.h5"


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


class FastHdf5Reader(Reader):
    def __init__(self, path: Path, workers: int | None) -> None:
        self._file, images, labels = open_file(path, "labels")
        self._shape: tuple[int, ...] = images.shape[1:]
        self._labels = labels[()]
        self._threads = worker_count(workers)
        offset = images.id.get_offset()  # None unless stored contiguous and allocated
        if not contiguous_uint8(images) or (offset is None and images.size):
            self._file.close()
            raise StoreError(f"{path}: images are not contiguous uint8 ({images}); rebuild it")
        self._offset = offset or 0  # an empty dataset has no storage, and nothing to read
        try:
            self._fd = os.open(path / FILE_NAME, os.O_RDONLY)
        except OSError as error:
            self._file.close()
            raise StoreError(f"{path}: cannot open {FILE_NAME} ({error})") from error

    def __len__(self) -> int:
        return len(self._labels)

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, len(self))
        images = np.empty((len(indices), *self._shape), dtype=np.uint8)
        read_rows(self._fd, self._offset, indices, images, self._threads)
        return images, self._labels[indices]

    def close(self) -> None:
        os.close(self._fd)
        self._file.close()


class FastHdf5Store(Store):
    format = "hdf5"
    implementation = "fast"
    marker = FILE_NAME

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        with h5py.File(path / FILE_NAME, "w", track_order=False) as file:
            file.create_dataset("images", data=images, dtype=np.uint8, track_times=False)
            file.create_dataset(
                "labels", data=np.asarray(labels, np.uint8), dtype=np.uint8, track_times=False
            )

    def open(self, path: Path, *, workers: int | None = None) -> FastHdf5Reader:
        return FastHdf5Reader(path, workers)

    def owns(self, path: Path) -> bool:
        names = dataset_names(path)
        return "images" in names and "labels" in names and "meta" not in names


STORES: dict[str, Store] = {"tutorial": TutorialHdf5Store(), "fast": FastHdf5Store()}
