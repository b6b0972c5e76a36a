"""HDF5: one file, an `images` dataset (N, H, W, 3) and a `labels` dataset (N,), native uint8.

Native little-endian uint8, contiguous (chunking was slower for whole-array reads), no object
timestamps so the same images give the same bytes. Runs of indices are read with `read_direct`
straight into a preallocated array; scattered indices read the covering span when it is small,
else one image at a time, because h5py's fancy indexing is slow and demands sorted indices.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from imgbench.errors import StoreError
from imgbench.stores.base import Reader, Store, checked_indices

FILE_NAME = "images.h5"
SPAN_FACTOR = 4  # read a covering span when it holds at most this many images per one wanted


class Hdf5Reader(Reader):
    def __init__(self, path: Path) -> None:
        try:
            self._file = h5py.File(path / FILE_NAME, "r")
            self._images = self._file["images"]
            self._labels = self._file["labels"][()]
        except (OSError, KeyError) as error:
            raise StoreError(f"{path}: not a readable imgbench HDF5 store ({error})") from error

    def __len__(self) -> int:
        return len(self._labels)

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, len(self))
        images = np.empty((len(indices), *self._images.shape[1:]), dtype=np.uint8)
        if len(indices) == 0:
            return images, self._labels[indices]
        first, last = int(indices.min()), int(indices.max())
        if np.array_equal(indices, np.arange(first, last + 1)):
            self._images.read_direct(images, np.s_[first : last + 1])
        elif last + 1 - first <= SPAN_FACTOR * len(indices):
            span = np.empty((last + 1 - first, *images.shape[1:]), dtype=np.uint8)
            self._images.read_direct(span, np.s_[first : last + 1])
            np.take(span, indices - first, axis=0, out=images)
        else:
            for row, index in enumerate(indices):
                self._images.read_direct(images, np.s_[index : index + 1], np.s_[row : row + 1])
        return images, self._labels[indices]

    def close(self) -> None:
        self._file.close()


class Hdf5Store(Store):
    method = "hdf5"
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

    def open(self, path: Path, *, workers: int | None = None) -> Hdf5Reader:
        return Hdf5Reader(path)


STORES: dict[str, Store] = {"fast": Hdf5Store()}
