"""Files: one file per image, named by its zero-padded index, with all labels in `labels.csv`.

The tutorial's "PNG" store is this container with the `png` codec. Both implementations share its
layout (`{index:08d}.png`, then `labels.csv`: a `label` header line and one label per line), so
each reads the other's PNG stores.

`tutorial` is the Real Python tutorial's code path: Pillow encodes and decodes one file at a time
with its defaults, labels go through the `csv` module. It holds PNG only.

`fast` holds any codec (`imgbench.codecs`): files are named `{index:08d}.{extension}` (`.rgb` for
raw pixels) and `meta.json` records the codec and image shape (a store without it is the
tutorial's: PNG). With PNG it keeps the zlib level of Pillow's default (6), but, measured on
32x32 RGB images on 2 cores:
- decodes with imagecodecs (libpng): 50 us per image against Pillow's 117 us; encodes with it:
  105 us against 170 us, files of 2,166 bytes on average against Pillow's 2,209 (both fill one
  4 KiB block, so disk use is the same: 400,196 KiB for 100,000 images);
- opens files relative to a folder descriptor (`dir_fd`): 4.6 us against 11 us for a full path
  (`open()`: 17 us), which matters once decoding no longer dominates;
- from POOL_MIN_IMAGES images on, shares the files out over a fork-based process pool in
  chunks. Readers decode straight into anonymous shared memory that becomes the result array:
  at 100,000 images that beat returning each chunk's pixels through the pool (medians 6.4
  against 7.4 s on a busy machine, faster in 5 of 6 pairs), although faulting in shared pages
  costs 3x more than private ones.
(Measured on a 2-core VM, ext4, while writing commit 6afdf9b.)
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from pathlib import Path

import imagecodecs
import numpy as np
from PIL import Image

from imgbench.atomic_files import atomic_path
from imgbench.cells import Presentation
from imgbench.codecs import NAMES, Codec
from imgbench.errors import StoreError
from imgbench.forked_arrays import result_array
from imgbench.parallel import encode_many, job, pool_size, run_in_pool
from imgbench.stores.base import (
    PartWriter,
    Reader,
    Store,
    check_appended,
    check_codec,
    checked_indices,
    no_images,
)

PRESENTATION = Presentation(label="files", colour="tab:blue", rank=10)

LABELS_FILE = "labels.csv"
LABELS_HEADER = "label"
META_FILE = "meta.json"  # {"codec": ..., "shape": [H, W, 3]}, written by `fast`
TUTORIAL_CODEC = "png"  # what a store without META_FILE holds
READ_BYTES = 1 << 16  # one read() fetches any 32x32 PNG; bigger files take more reads


def image_name(index: int, extension: str = "png") -> str:
    return f"{index:08d}.{extension}"


def read_meta(path: Path) -> dict[str, object] | None:
    """The store's `meta.json`, or None for a store without one (the tutorial's PNG files)."""
    try:
        meta = json.loads((path / META_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise StoreError(f"{path / META_FILE}: unreadable ({error}); rebuild the store") from error
    if not isinstance(meta, dict) or meta.get("codec") not in NAMES:
        raise StoreError(f"{path / META_FILE}: names no known codec; rebuild the store")
    return meta


LABELS_PART = ".labels-{start:08d}.npy"  # a writer's labels, until `finish_shared` joins them


def write_labels(path: Path, labels: np.ndarray) -> None:
    """The labels file both implementations read: `label`, then one label per line."""
    with open(path / LABELS_FILE, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow([LABELS_HEADER])
        writer.writerows([int(label)] for label in labels)


def read_labels(path: Path, *, with_csv: bool) -> np.ndarray:
    """The labels in `labels.csv`, parsed by the `csv` module (the tutorial's way) or by splitting
    lines (3x faster: 15 against 45 ms for 100,000 labels)."""
    try:
        with open(path / LABELS_FILE, newline="") as file:
            lines = [row[0] for row in csv.reader(file)] if with_csv else file.read().splitlines()
        if lines[:1] != [LABELS_HEADER]:
            raise ValueError(f"the first line is {lines[:1]}, not {LABELS_HEADER!r}")
        return np.array([int(line) for line in lines[1:]], dtype=np.uint8)
    except (OSError, ValueError, IndexError) as error:
        raise StoreError(f"{path}: unreadable {LABELS_FILE} ({error})") from error


def replace_labels(path: Path, labels: np.ndarray) -> None:
    """`labels.csv` holding `labels`, written beside the old one and renamed over it, so an
    append that fails leaves the old labels (and the store its old length)."""
    with atomic_path(path / LABELS_FILE) as partial, open(partial, "w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow([LABELS_HEADER])
        writer.writerows([int(label)] for label in labels)


def appended_words(added: int) -> str:
    return f"{added} new image file(s); {LABELS_FILE} rewritten with the new labels"


class TutorialPngReader(Reader):
    def __init__(self, path: Path) -> None:
        self._path = path
        self._labels = read_labels(path, with_csv=True)

    def __len__(self) -> int:
        return len(self._labels)

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, len(self))
        images = []
        for index in indices:
            file = self._path / image_name(int(index))
            try:
                with Image.open(file) as image:
                    images.append(np.array(image))
            except OSError as error:
                raise StoreError(f"{file}: cannot read this image ({error})") from error
        return (np.stack(images) if images else no_images()), self._labels[indices]

    def close(self) -> None:
        """Nothing stays open: each image file is closed as soon as it is decoded."""


class TutorialPngStore(Store):
    format = "files"
    implementation = "tutorial"
    marker = LABELS_FILE
    codecs = ("png",)

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        for index, image in enumerate(images):
            Image.fromarray(image).save(path / image_name(index))
        write_labels(path, labels)

    def open(self, path: Path, *, workers: int | None = None) -> TutorialPngReader:
        return TutorialPngReader(path)

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """New PNG files, written by Pillow as `write_many` does, then `labels.csv` replaced by
        one with the new labels added (written last: the store grows only once it is whole)."""
        stored = read_meta(path)
        old = read_labels(path, with_csv=True)
        with TutorialPngReader(path) as reader:
            shape = reader[0][0].shape if len(old) else images.shape[1:]
        labels = check_appended(
            path, shape, stored["codec"] if stored else TUTORIAL_CODEC, self.codec, images, labels
        )
        for offset, image in enumerate(images):
            Image.fromarray(image).save(path / image_name(len(old) + offset))
        replace_labels(path, np.concatenate([old, labels]))
        return appended_words(len(images))

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        path.mkdir(parents=True, exist_ok=True)

    def part_writer(self, path: Path) -> FilesPartWriter:
        return FilesPartWriter(
            path, lambda index, image: Image.fromarray(image).save(path / image_name(index))
        )

    def finish_shared(self, path: Path, count: int) -> None:
        join_label_parts(path, count)


class FilesPartWriter(PartWriter):
    """Writes its images as files of their own into the one folder, as `write_many` does:
    nothing is shared but the directory, so writers never wait on each other. Its labels go to
    a part file that `finish_shared` joins into `labels.csv`."""

    def __init__(
        self, path: Path, save: Callable[[int, np.ndarray], None], dir_fd: int | None = None
    ) -> None:
        self._path, self._save, self._dir_fd = path, save, dir_fd

    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        for offset, image in enumerate(images):
            self._save(start + offset, image)
        np.save(self._path / LABELS_PART.format(start=start), np.asarray(labels, np.uint8))

    def close(self) -> None:
        """Each file is closed once written; only the folder's descriptor, if any, stays open."""
        if self._dir_fd is not None:
            os.close(self._dir_fd)
            self._dir_fd = None


def join_label_parts(path: Path, count: int) -> None:
    """Join the writers' label parts, in image order, into `labels.csv`, and remove them."""
    parts = sorted(path.glob(".labels-*.npy"))  # zero-padded starts: image order
    labels = np.concatenate([np.load(part) for part in parts]) if parts else np.empty(0, np.uint8)
    if len(labels) != count:
        raise StoreError(f"{path}: the writers left {len(labels)} labels, not {count}")
    write_labels(path, labels)
    for part in parts:
        part.unlink()


def write_file(dir_fd: int, name: str, data: bytes) -> None:
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def read_file(dir_fd: int, name: str) -> bytes:
    fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
    try:
        parts = [os.read(fd, READ_BYTES)]
        while len(parts[-1]) == READ_BYTES:
            parts.append(os.read(fd, READ_BYTES))
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def encode_range(codec: Codec, images: np.ndarray, dir_fd: int, start: int, stop: int) -> None:
    for index in range(start, stop):
        write_file(dir_fd, image_name(index, codec.extension), codec.encode(images[index]))


def decode_range(
    codec: Codec, images: np.ndarray, indices: np.ndarray, dir_fd: int, start: int, stop: int
) -> None:
    """Decode the files of `indices[start:stop]` into `images[start:stop]`."""
    for row in range(start, stop):
        name = image_name(int(indices[row]), codec.extension)
        try:
            data = read_file(dir_fd, name)
        except OSError as error:
            raise StoreError(f"{name}: cannot read this image ({error})") from error
        codec.decode(data, images[row], name)


def _encode_chunk(bounds: tuple[int, int]) -> None:
    encode_range(job()["codec"], job()["images"], job()["dir_fd"], *bounds)


def _decode_chunk(bounds: tuple[int, int]) -> None:
    decode_range(job()["codec"], job()["images"], job()["indices"], job()["dir_fd"], *bounds)


class FastFilesReader(Reader):
    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        self._path, self._codec, self._workers = path, codec, workers
        meta = read_meta(path)
        check_codec(path, meta["codec"] if meta else TUTORIAL_CODEC, codec, "files")
        self._shape = tuple(meta["shape"]) if meta else None  # type: ignore[arg-type]
        self._labels = read_labels(path, with_csv=False)
        self._dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)

    def __len__(self) -> int:
        return len(self._labels)

    def _image_shape(self, index: int) -> tuple[int, ...]:
        """The stored shape; a tutorial store records none, so its first PNG is decoded."""
        if self._shape is None:
            try:
                first = imagecodecs.png_decode(read_file(self._dir_fd, image_name(index)))
            except (OSError, ValueError, RuntimeError) as error:
                raise StoreError(f"{self._path}: cannot read image {index} ({error})") from error
            if first.dtype != np.uint8 or first.ndim != 3 or first.shape[2] != 3:
                raise StoreError(f"{self._path}: image {index} is not 8-bit RGB")
            self._shape = first.shape
        return self._shape

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, len(self))
        if len(indices) == 0:
            return no_images(), self._labels[indices]
        shape = self._image_shape(int(indices[0]))
        processes = pool_size(self._workers, len(indices))
        images = result_array(len(indices), shape, processes)
        if processes == 1:
            decode_range(self._codec, images, indices, self._dir_fd, 0, len(indices))
        else:
            run_in_pool(
                processes,
                _decode_chunk,
                len(indices),
                codec=self._codec,
                images=images,
                indices=indices,
                dir_fd=self._dir_fd,
            )
        return images, self._labels[indices]

    def close(self) -> None:
        os.close(self._dir_fd)


class FastFilesStore(Store):
    format = "files"
    implementation = "fast"
    marker = LABELS_FILE
    codecs = ("png", "qoi", "jpeg", "raw")

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        path.mkdir(parents=True, exist_ok=True)
        images = np.ascontiguousarray(images)
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            processes = pool_size(workers, len(images))
            if processes == 1:
                encode_range(self.codec, images, dir_fd, 0, len(images))
            else:
                run_in_pool(
                    processes,
                    _encode_chunk,
                    len(images),
                    codec=self.codec,
                    images=images,
                    dir_fd=dir_fd,
                )
        finally:
            os.close(dir_fd)
        meta = {"codec": self.codec.name, "shape": list(images.shape[1:])}
        (path / META_FILE).write_text(json.dumps(meta))
        write_labels(path, labels)

    def stored_codec(self, path: Path) -> str:
        meta = read_meta(path)
        return str(meta["codec"]) if meta else TUTORIAL_CODEC

    def open(self, path: Path, *, workers: int | None = None) -> FastFilesReader:
        return FastFilesReader(path, self.codec, workers)

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """New files encoded on every core, then `labels.csv` replaced by one with the new
        labels added (written last: the store grows only once it is whole)."""
        meta = read_meta(path)
        old = read_labels(path, with_csv=False)
        stored = str(meta["codec"]) if meta else TUTORIAL_CODEC
        if meta:
            shape = tuple(meta["shape"])  # type: ignore[arg-type]
        else:  # a tutorial store records no shape: its first image has it
            with FastFilesReader(path, Codec(TUTORIAL_CODEC), 1) as reader:
                shape = reader[0][0].shape if len(old) else images.shape[1:]
        labels = check_appended(path, shape, stored, self.codec, images, labels)
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            blobs = encode_many(self.codec, np.ascontiguousarray(images), None)
            for offset, blob in enumerate(blobs):
                write_file(dir_fd, image_name(len(old) + offset, self.codec.extension), blob)
        finally:
            os.close(dir_fd)
        replace_labels(path, np.concatenate([old, labels]))
        return appended_words(len(images))

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / META_FILE).write_text(
            json.dumps({"codec": self.codec.name, "shape": list(image_shape)})
        )

    def part_writer(self, path: Path) -> FilesPartWriter:
        dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        codec = self.codec

        def save(index: int, image: np.ndarray) -> None:
            write_file(dir_fd, image_name(index, codec.extension), codec.encode(image))

        return FilesPartWriter(path, save, dir_fd)

    def finish_shared(self, path: Path, count: int) -> None:
        join_label_parts(path, count)


STORES: dict[str, Store] = {"tutorial": TutorialPngStore(), "fast": FastFilesStore()}
