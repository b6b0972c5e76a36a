"""The one small interface every storage format implements.

A format says only *how it stores*: write many images into a new store, open a store for reading
(how it is shown is its module's `PRESENTATION`, an `imgbench.cells.Presentation`). How a store
is timed, verified and measured lives elsewhere (`imgbench.measure`), so a format can be added
or tuned without touching the measurements, and vice versa.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import numpy as np

from imgbench.atomic_files import exchange
from imgbench.cells import SERIES_KEYS
from imgbench.checksums import tree_sha256
from imgbench.codecs import Codec
from imgbench.errors import StoreError

__all__ = [
    "aligned_bounds",
    "check_appended",
    "check_codec",
    "checked_indices",
    "even_bounds",
    "megabytes",
    "PartWriter",
    "Reader",
    "Store",
    "no_images",
    "worker_count",
]


def worker_count(workers: int | None) -> int:
    """The processes or threads an implementation may use: `workers`, or one per core."""
    return max(1, (os.cpu_count() or 1) if workers is None else workers)


def no_images(shape: tuple[int, ...] = (0, 0, 3)) -> np.ndarray:
    """The images array of a read of no indices (an image shape of zeros when none is known)."""
    return np.empty((0, *shape), dtype=np.uint8)


def existing_file(path: Path, name: str) -> Path:
    """The store's file `name`; a StoreError if there is none (a library might create one)."""
    file = path / name
    if not file.is_file():
        raise StoreError(f"{file}: no such file; build the store before reading it")
    return file


def new_file(path: Path, name: str) -> Path:
    """The file `name` to create in the store folder `path`; refuses to add to an existing one."""
    path.mkdir(parents=True, exist_ok=True)
    file = path / name
    if file.exists():
        raise StoreError(f"{file} already exists: write a store into an empty or missing folder")
    return file


def check_codec(store: object, stored: object, codec: Codec, what: str = "images") -> None:
    """Refuse to read a store holding `stored` images as `codec` ones: a StoreError naming the
    store and what it holds."""
    if stored != codec.name:
        raise StoreError(
            f"{store} holds {stored} {what}, not {codec.name}: open it as {stored} "
            "(imgbench.open_store reads the codec from the store)"
        )


def checked_indices(indices: np.ndarray, count: int) -> np.ndarray:
    """`indices` as int64, after refusing any outside a store of `count` images."""
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if len(indices) and (indices.min() < 0 or indices.max() >= count):
        raise IndexError(
            f"indices {indices.min()}..{indices.max()} are outside a store of {count} images"
        )
    return indices


def check_appended(
    store: object,
    shape: tuple[int, ...],
    stored: object,
    codec: Codec,
    images: np.ndarray,
    labels: np.ndarray,
) -> np.ndarray:
    """The labels to append as uint8, after refusing images and labels that cannot join the store
    `store` holding `stored` images of `shape`: checked before anything is touched, so a refusal
    leaves the store as it was."""
    images, labels = np.asarray(images), np.asarray(labels)
    if stored != codec.name:
        raise StoreError(
            f"{store} holds {stored} images, not {codec.name}: append with the implementation "
            f"holding {stored} (imgbench.stores.store_of reads the codec from the store)"
        )
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(shape):
        raise StoreError(
            f"cannot append images of shape {images.shape[1:]} to {store}, whose images are "
            f"{tuple(shape)}: resize them first (imgbench.resizing) or write another store"
        )
    if images.dtype != np.uint8:
        raise StoreError(
            f"cannot append {images.dtype} images to {store}, which holds uint8 pixels: convert "
            "them to uint8 (0-255) first"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise StoreError(
            f"cannot append {len(images)} images with {labels.shape} labels to {store}: give one "
            "label per image"
        )
    if len(labels) and (
        labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() > np.iinfo(np.uint8).max
    ):
        raise StoreError(f"cannot append labels outside 0-255 ({labels.dtype}) to {store}")
    return labels.astype(np.uint8)


def megabytes(size: int) -> str:
    """`size` bytes in MB, for what an append says it did."""
    return f"{size / 1e6:.1f} MB"


class Reader(ABC):
    """Random access to an existing store: `len(reader)`, `reader[i]` and bulk reads."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images (len(indices), H, W, 3) uint8 and labels (len(indices),) uint8, in that order."""

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for a store of {len(self)} images")
        images, labels = self.read_many(np.array([index % len(self)]))
        return images[0], int(labels[0])

    @abstractmethod
    def close(self) -> None:
        """Release files and mappings; a closed reader must not be used again."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def even_bounds(count: int, parts: int) -> list[tuple[int, int]]:
    """`parts` (start, stop) ranges splitting 0..count as evenly as whole images allow."""
    edges = np.linspace(0, count, max(1, parts) + 1).astype(int).tolist()
    return list(zip(edges[:-1], edges[1:], strict=True))


def aligned_bounds(count: int, parts: int, unit: int) -> list[tuple[int, int]]:
    """`parts` ranges of 0..count whose starts fall on multiples of `unit` (a chunk or tile of
    `unit` images), so disjoint writers never share one; some may be empty when the store has
    fewer units than parts."""
    units = -(-count // max(1, unit))
    return [
        (min(count, start * unit), min(count, stop * unit))
        for start, stop in even_bounds(units, parts)
    ]


SHARED_NOTE = ".shared-write.json"  # what `prepare_shared` tells the writers and `finish_shared`


def write_shared_note(path: Path, **values: object) -> None:
    """Record what the writer processes and `finish_shared` need to know of a prepared store
    (its shape, an LMDB map size...) in the store folder itself, not in the Store object, so
    any process opening the store finds it."""
    path.mkdir(parents=True, exist_ok=True)
    (path / SHARED_NOTE).write_text(json.dumps(values))


def read_shared_note(path: Path, *, remove: bool = False) -> dict[str, Any]:
    """What `write_shared_note` recorded; `remove` it once the store is finished."""
    try:
        values = json.loads((path / SHARED_NOTE).read_text())
    except (OSError, ValueError) as error:
        raise StoreError(f"{path}: not a store prepared for shared writing ({error})") from error
    if remove:
        (path / SHARED_NOTE).unlink()
    return values


FORKED_SECONDS = 600.0  # the longest `in_forked_process` waits


def _run_and_report(function: Callable[..., object], args: tuple, results: Any) -> None:
    try:
        function(*args)
        results.put(None)
    except BaseException as error:
        results.put(f"{type(error).__module__}.{type(error).__qualname__}: {error}")


def in_forked_process(what: str, function: Callable[..., object], *args: object) -> None:
    """Run `function(*args)` in a forked process and wait for it; a StoreError saying `what`
    failed, with the child's error, if it raised, died or took over FORKED_SECONDS. For a
    library that breaks processes forked after it ran (TileDB deadlocks, Lance crashes): the
    parent, which forks writer processes, never runs it itself."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    process = context.Process(target=_run_and_report, args=(function, args, results))
    process.start()
    deadline = time.monotonic() + FORKED_SECONDS
    try:
        while True:
            try:
                failure = results.get(timeout=0.05)
                break
            except queue.Empty:
                if process.exitcode is not None and results.empty():
                    time.sleep(0.05)  # an answer may still be in the pipe
                    if results.empty():
                        failure = (
                            f"the process died without answering (exit code {process.exitcode})"
                        )
                        break
                if time.monotonic() > deadline:
                    failure = f"no answer within {FORKED_SECONDS:.0f} s"
                    break
    finally:
        process.join(FORKED_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
        results.close()
    if failure is not None:
        raise StoreError(f"{what} failed: {failure}")


class PartWriter(ABC):
    """One writer process's handle on a shared store (`Store.part_writer`): it writes images
    `start..start+len(images)` with their labels, any number of times, then closes."""

    # Seconds this writer spent blocked on the store's write lock (LMDB's write transaction,
    # SQLite's BEGIN IMMEDIATE...), measured by the format around the call that blocks; 0 for
    # formats whose writers take no lock.
    waited_seconds: float = 0.0

    @abstractmethod
    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


class Store(ABC):
    """One implementation of a storage format (a container), holding images in one codec: how
    it writes a store folder and reads it back.

    A format may have several implementations, e.g. `tutorial` (the code paths of the Real Python
    tutorial) and `fast` (the best this project could make of the same format). Each says which
    codecs (`imgbench.codecs`) it can hold; the first is its default.
    """

    format: ClassVar[str]
    implementation: ClassVar[str]
    marker: ClassVar[str]  # a file this format puts in its folder: how `open_store` finds it
    codecs: ClassVar[tuple[str, ...]] = ("raw",)
    # Whether forked reader processes can read a store at once: several processes may open it
    # (LevelDB locks its database), and its library still works in a child forked after the
    # parent used it (Lance and TensorStore do not: a forked reader aborted with SIGABRT).
    concurrent_readers: ClassVar[bool] = True
    # Whether a training loader reads the store best as a stream of whole files (tar shards):
    # the loader experiment then also measures it through `imgbench.torch.ShardStream`.
    streams: ClassVar[bool] = False
    # Name patterns of files holding run-time state, not data (e.g. LMDB's lock file): left out
    # of checksums.
    volatile: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, codec: Codec | None = None) -> None:
        self.codec = codec or Codec(self.codecs[0])

    def with_codec(self, codec: Codec, **options: object) -> Self:
        """This implementation holding `codec`, with the format's `options` (config
        `store_options.<format>`, keyword arguments of its constructor); a StoreError if it
        cannot hold the codec or has no such option."""
        if codec.name not in self.codecs:
            raise StoreError(
                f"{self.format}/{self.implementation} cannot hold {codec.name} images; it holds "
                f"{', '.join(self.codecs)}: choose one of those in `codecs.{self.format}`"
            )
        try:
            return type(self)(codec, **options)
        except TypeError as error:
            raise StoreError(
                f"`store_options.{self.format}` has an option {self.format} does not take "
                f"({error}); see config/README.md"
            ) from error

    def stored_codec(self, path: Path) -> str:
        """The codec of the store at `path`, as the store records it (formats that hold one
        codec need not record it)."""
        return self.codecs[0]

    @abstractmethod
    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        """Create a store holding `images` and `labels` in the empty or missing folder `path`.

        `workers` caps the processes an implementation may use (None: one per core); it lets a
        caller that already runs readers in parallel keep implementations from oversubscribing.
        """

    @abstractmethod
    def open(self, path: Path, *, workers: int | None = None) -> Reader:
        """Open the store at `path` read-only (`workers` as for `write_many`)."""

    def read_many(
        self, path: Path, indices: np.ndarray, *, workers: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        with self.open(path, workers=workers) as reader:
            return reader.read_many(indices)

    def write_single(self, path: Path, image: np.ndarray, label: int) -> None:
        """The tutorial's one-image operation: a new store holding just this image."""
        self.write_many(path, image[np.newaxis], np.array([label], dtype=np.uint8))

    def read_single(self, path: Path, index: int) -> tuple[np.ndarray, int]:
        """The tutorial's one-image read: open the store, read one image, close it."""
        with self.open(path) as reader:
            return reader[index]

    def checksum(self, path: Path) -> str:
        """One SHA-256 of the store's data, equal for two stores of the same images: by default
        over its files, leaving out the `volatile` ones."""
        return tree_sha256(path, ignore=self.volatile)

    def owns(self, path: Path) -> bool:
        """Whether this implementation can read the store at `path`."""
        return (path / self.marker).is_file()

    def series_columns(self) -> dict[str, str]:
        """The table columns naming this store's series (`imgbench.cells.SERIES_KEYS`)."""
        return dict(
            zip(SERIES_KEYS, (self.format, self.implementation, self.codec.name), strict=True)
        )

    @property
    def key(self) -> str:
        return f"{self.format}/{self.implementation}/{self.codec.name}"

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """Add `images` and `labels` after the images the store at `path` holds, so that it then
        holds the old images and the new ones in order, still a valid store of its format; return
        what the format needed to do it, in a few words (e.g. "map full: map_size raised 1
        time(s), 3.2 MB → 6.4 MB", "rewrote the whole file").

        This tests the claim that some formats are a hassle to add data to: each format uses its
        library's own mechanism. Images of another shape or dtype, a label count that differs
        from the image count, or a store holding another codec are refused with a StoreError
        before the store is touched; a format that can only rewrite the store writes a sibling
        and replaces it, so a failure loses nothing.

        This default is that rewrite, for a format with no way to add to a store: every image
        read back, a new store of the old images and the new ones written beside it with
        `write_many`, and the two folders swapped in one rename (`exchange`).
        """
        with self.open(path) as reader:
            count = len(reader)
            old_images, old_labels = reader.read_many(np.arange(count))
        labels = check_appended(
            path, old_images.shape[1:], self.stored_codec(path), self.codec, images, labels
        )
        scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
        try:
            self.write_many(
                scratch, np.concatenate([old_images, images]), np.concatenate([old_labels, labels])
            )
            exchange(scratch, path)
        finally:
            shutil.rmtree(scratch)
        return (
            f"rewrote the whole store: {self.key} has no way to add images, so its {count} "
            f"image(s) were read back and written again with the {len(images)} new one(s)"
        )

    # Writing one store from several processes at once (`imgbench.concurrent_writes`): the parent
    # prepares the empty store, each writer process opens a `part_writer` and writes its part of
    # `part_bounds`, and after every writer closed the parent finishes the store, which then
    # reads back exactly as one written by `write_many`.

    @property
    def shares_writes(self) -> bool:
        """Whether the format lets several processes write one store (it has a `part_writer`);
        where it does not, each writer process writes a store of its own."""
        return type(self).part_writer is not Store.part_writer

    def part_bounds(self, count: int, parts: int) -> list[tuple[int, int]]:
        """The (start, stop) images of each of `parts` writers: an even split by default; a
        format with chunks aligns the parts to them, so disjoint writers never share one."""
        return even_bounds(count, parts)

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        """In the parent: create the empty store that `count` images will be written into."""
        raise StoreError(f"{self.key} cannot be written by several processes")

    def part_writer(self, path: Path) -> PartWriter:
        """In a writer process: open the prepared store for writing. Raises the format
        library's own error when the format lets one process at a time write a store."""
        raise StoreError(f"{self.key} cannot be written by several processes")

    def finish_shared(self, path: Path, count: int) -> None:
        """After every writer closed: make the store complete and readable (an index, a count,
        the labels...); nothing by default."""
        return None
