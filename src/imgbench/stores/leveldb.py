"""LevelDB (through plyvel): the store folder is the database itself, one key per image.

Keys are the zero-padded index (`00000042`), so they sort in image order; each value is the
label byte then the image's bytes in its codec (`imgbench.codecs`); a `meta` key (JSON count,
shape and codec) sorts after every index key. `plyvel.DB(path)` opens a store with no imgbench
code. LevelDB lets one process at a time open a database (its `LOCK` file): a second opener is
refused with a StoreError, never made to wait.

`documented` is the code path of plyvel's user guide: the database with plyvel's defaults
(Snappy on), one `with db.write_batch() as wb: wb.put(...)` for the whole store, and reads that
`db.get(key)` each image and decode it in the calling process. It does not compact, so its
writes stay in LevelDB's log and the first process to open the store turns them into tables.

`fast` writes without Snappy, in batches of BATCH_IMAGES, encodes and decodes on every core
(`imgbench.parallel`) and compacts before closing: the log's contents become tables while the
writer runs, so no reader pays for (or writes during) that recovery and the store's data files
are final. Reads walk one iterator over a run of indices and `get` each key otherwise; raw
values are copied into a preallocated array through memoryview slices, as LMDB's `fast` does.

Measured on a 2-core VM, ext4, 2026-11-25: synthetic photo-like 32x32 images (100,000: 50,000
twice), warm cache, perf_counter medians of 5 interleaved rounds (a read opens, reads all images
and closes) while other benchmarks kept the load at 4-7, so only large differences count:

    100,000 images          write   first read  in order  permuted  size
    fast raw                4.9 s   0.76 s      1.55 s    1.57 s    296.6 MiB
    fast raw, Snappy        6.1 s   0.89 s      1.47 s    1.43 s    296.1 MiB
    documented raw          3.0 s   7.8 s       2.5 s     2.2 s     296.1 MiB
    fast png                37 s    13.6 s      13.0 s    13.4 s    209.9 MiB
    documented png          27 s    15.1 s      10.5 s    13.6 s    209.5 MiB
    10,000: fast raw 0.61 / 0.08 / 0.09 / 0.10 s, documented raw 0.41 / 0.91 / 0.27 / 0.23 s

- Snappy on raw pixels saves 0.2% (LevelDB keeps a block uncompressed unless Snappy saves 12.5%,
  which photo-like pixels never give) and costs a quarter more write time: off for every codec.
- Compacting is what makes the first read fast: an uncompacted store (documented) leaves its
  writes in the log, and the first process to open it replays them into tables (7.8 s). The
  compaction itself is cheap since index keys never overlap: LevelDB moves each table down
  without rewriting it.
- Batches of 10,000 against one batch of 100,000 raw images: write 6.5 against 8.1 s (plyvel
  directly, same load); batches of 1,000 at 10,000 images: no better.
- Reads: the time is LevelDB's own (walking 100,000 values without copying them takes as long
  as the read); `fill_cache=False` and a snapshot for scattered gets changed nothing
  measurable (1.55 against 1.59 s, 3.19 against 2.96 s), so LevelDB's defaults are kept.
- fast png is no faster than documented here: with the other jobs holding both cores, the fork
  pools of `imgbench.parallel` had no spare core to use (10,000 PNG decodes: 0.68 s with the
  pool, 0.63 s without, at the same time).

LevelDB has no read-only mode: every open writes a new MANIFEST and log and rewrites CURRENT, and
the first open of a `documented` store moves its log into tables, so a store's files change as it
is read. Its checksum is therefore one over its keys and values in key order (`checksum`), which
two stores of the same images share however often they were opened.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import plyvel

from imgbench.cells import Presentation
from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.parallel import decode_many, encode_many
from imgbench.stores.base import (
    PartWriter,
    Reader,
    Store,
    check_appended,
    check_codec,
    checked_indices,
    read_shared_note,
    write_shared_note,
)

PRESENTATION = Presentation(label="LevelDB", colour="tab:brown", rank=60)
MARKER = "CURRENT"  # names the current manifest: every LevelDB database has one
META_KEY = b"meta"  # sorts after every zero-padded index key
BATCH_IMAGES = 10_000


def image_key(index: int) -> bytes:
    return f"{index:08d}".encode("ascii")


def is_run(indices: np.ndarray) -> bool:
    """True when there are several indices, consecutive ascending, so one iterator walk serves
    them (one image is one `get`: 8 against 21 us for an iterator over its key)."""
    return len(indices) > 1 and bool(np.all(np.diff(indices) == 1))


def _message(error: plyvel.Error) -> str:
    """plyvel's error text (it passes LevelDB's status as bytes)."""
    detail = error.args[0] if error.args else error
    return detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)


def _refusal(path: Path, error: plyvel.Error, doing: str) -> StoreError:
    """A StoreError for plyvel's `error` while `doing` something to the database at `path`."""
    message = _message(error)
    if isinstance(error, plyvel.IOError) and message.startswith("IO error: lock "):
        return StoreError(
            f"{path}: another process has this LevelDB database open, and LevelDB lets only one "
            f"process open it at a time ({message}): close that process or wait for it to end"
        )
    if "exists (error_if_exists" in message:
        return StoreError(
            f"{path} already holds a LevelDB database: delete it, or write to an empty folder"
        )
    return StoreError(f"{path}: cannot {doing} this LevelDB database ({message}); rebuild it")


def open_database(path: Path) -> plyvel.DB:
    """The existing database at `path`; checked first, since opening a folder that holds none
    would leave LevelDB's lock and log files in it."""
    if not (path / MARKER).is_file():
        raise StoreError(
            f"{path} is not a LevelDB database (it has no {MARKER} file): give the folder of a "
            "LevelDB store, or rebuild the store"
        )
    try:
        return plyvel.DB(str(path), create_if_missing=False)
    except plyvel.Error as error:
        raise _refusal(path, error, "open") from error


def create_database(path: Path, **options: object) -> plyvel.DB:
    """A new database at `path` with plyvel's `options`, refusing to add to one that exists."""
    path.parent.mkdir(parents=True, exist_ok=True)  # LevelDB creates the last folder only
    try:
        return plyvel.DB(str(path), create_if_missing=True, error_if_exists=True, **options)
    except plyvel.Error as error:
        raise _refusal(path, error, "create") from error


def read_meta(db: plyvel.DB, path: Path) -> dict[str, object]:
    """The store's count, shape and codec, from the key imgbench writes after every image."""
    meta = db.get(META_KEY)
    if meta is None:
        raise StoreError(
            f"{path}: LevelDB database without the {META_KEY.decode()!r} key imgbench writes "
            "last; it is not an imgbench store or its writing stopped early: rebuild it"
        )
    try:
        content = json.loads(meta)
        if not {"count", "shape", "codec"} <= content.keys():
            raise ValueError(f"it has {sorted(content)}")
    except (ValueError, AttributeError) as error:
        raise StoreError(
            f"{path}: the {META_KEY.decode()!r} key holds no count, shape and codec ({error}); "
            "rebuild the store"
        ) from error
    return content


def meta_of(images: np.ndarray, codec: Codec) -> bytes:
    shape = list(images.shape[1:])
    return json.dumps({"count": len(images), "shape": shape, "codec": codec.name}).encode()


def missing(path: Path, index: int) -> StoreError:
    return StoreError(
        f"{path}: key {image_key(index).decode()} (image {index}) is missing; the store is "
        "damaged or incomplete: rebuild it"
    )


def damaged(path: Path, index: int, length: int) -> StoreError:
    return StoreError(
        f"{path}: key {image_key(index).decode()} holds {length} bytes, not a label and one "
        "image; the store is damaged or holds another codec: rebuild it"
    )


class LeveldbReader(Reader):
    """An open store whose `meta` key says it holds `codec`; subclasses read the values."""

    def __init__(self, path: Path, codec: Codec) -> None:
        self._db = open_database(path)
        try:
            content = read_meta(self._db, path)
            check_codec(path, content["codec"], codec, "values")
        except StoreError:
            self._db.close()
            raise
        self._path, self._codec = path, codec
        self._count: int = content["count"]  # type: ignore[assignment]
        self._shape: tuple[int, ...] = tuple(content["shape"])  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self._count

    def _name(self, index: int) -> str:
        return f"{self._path} key {image_key(index).decode()}"

    def close(self) -> None:
        self._db.close()


class DocumentedLeveldbReader(LeveldbReader):
    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, self._count)
        images = np.empty((len(indices), *self._shape), dtype=np.uint8)
        labels = np.empty(len(indices), dtype=np.uint8)
        for row, index in enumerate(indices.tolist()):
            value = self._db.get(image_key(index))
            if value is None:
                raise missing(self._path, index)
            if not value:
                raise damaged(self._path, index, 0)
            labels[row] = value[0]
            self._codec.decode(value[1:], images[row], self._name(index))
        return images, labels


class FastLeveldbReader(LeveldbReader):
    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        super().__init__(path, codec)
        self._workers = workers

    def _values(self, indices: np.ndarray) -> Iterator[bytes]:
        """The values of `indices`, one at a time (a store's values need not all be in memory
        twice): one iterator walk for a run, a `get` per key otherwise."""
        if is_run(indices):
            first, stop = int(indices[0]), int(indices[-1]) + 1
            walked = 0
            for value in self._db.iterator(
                start=image_key(first), stop=image_key(stop), include_key=False
            ):
                walked += 1
                yield value
            if walked != len(indices):
                raise StoreError(
                    f"{self._path}: {len(indices) - walked} of the keys "
                    f"{image_key(first).decode()}..{image_key(stop - 1).decode()} are missing; "
                    "the store is damaged or incomplete: rebuild it"
                )
            return
        get = self._db.get
        for index in indices.tolist():
            value = get(image_key(index))
            if value is None:
                raise missing(self._path, index)
            yield value

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, self._count)
        values = self._values(indices)
        if self._codec.name != "raw":
            return self._decoded(indices, list(values))
        size = math.prod(self._shape)
        images = np.empty((len(indices), *self._shape), dtype=np.uint8)
        pixels, labels = memoryview(images.reshape(-1)), bytearray()
        for row, value in enumerate(values):
            if len(value) != size + 1:
                raise damaged(self._path, int(indices[row]), len(value))
            labels.append(value[0])
            pixels[row * size : (row + 1) * size] = memoryview(value)[1:]
        return images, np.frombuffer(labels, dtype=np.uint8)

    def _decoded(self, indices: np.ndarray, values: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """Labels from the first bytes, images decoded on every core."""
        for row, value in enumerate(values):
            if not value:
                raise damaged(self._path, int(indices[row]), 0)
        labels = np.fromiter((value[0] for value in values), dtype=np.uint8, count=len(values))
        blobs = [memoryview(value)[1:] for value in values]
        images = decode_many(
            self._codec,
            blobs,
            self._shape,
            self._workers,
            lambda row: self._name(int(indices[row])),
        )
        return images, labels


class LeveldbPartWriter(PartWriter):
    """One writer process's handle on the shared database: `plyvel.DB` takes LevelDB's LOCK
    file (an fcntl lock) first thing, so a second process opening it gets plyvel's own IOError,
    raised unchanged. Values go in batches of BATCH_IMAGES, as `fast` writes them. LevelDB
    letting one process write, that process writes every image and, closing, completes the
    store as `write_many` does (the `meta` key, then `fast` compacts): the parent never opens
    the database, because a process forked after LevelDB ran hangs in LevelDB (its background
    compaction thread does not survive the fork, and writes end up waiting for it)."""

    def __init__(
        self, path: Path, codec: Codec, options: dict[str, object], compacts: bool
    ) -> None:
        note = read_shared_note(path)
        self._db = plyvel.DB(str(path), create_if_missing=True, **options)
        self._path, self._codec, self._compacts = path, codec, compacts
        self._count, self._shape = int(note["count"]), note["shape"]
        self._written = 0

    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        blobs = (
            [image.tobytes() for image in images]
            if self._codec.name == "raw"
            else encode_many(self._codec, images, 1)
        )
        for first in range(0, len(blobs), BATCH_IMAGES):
            with self._db.write_batch() as batch:
                for row in range(first, min(len(blobs), first + BATCH_IMAGES)):
                    batch.put(image_key(start + row), bytes([int(labels[row])]) + blobs[row])
        self._written += len(blobs)

    def close(self) -> None:
        try:
            if self._written == self._count:
                meta = {"count": self._count, "shape": self._shape, "codec": self._codec.name}
                self._db.put(META_KEY, json.dumps(meta).encode())
                if self._compacts:
                    self._db.compact_range()
        finally:
            self._db.close()


class LeveldbStore(Store):
    """What both implementations share: the layout, the marker and recording the codec."""

    format = "leveldb"
    marker = MARKER
    codecs = ("raw", "png", "qoi", "jpeg")
    concurrent_readers = False

    def checksum(self, path: Path) -> str:
        db = open_database(path)
        try:
            digest = hashlib.sha256()
            for key, value in db.iterator():
                digest.update(len(key).to_bytes(8, "little") + key)
                digest.update(len(value).to_bytes(8, "little") + value)
            return digest.hexdigest()
        finally:
            db.close()

    def stored_codec(self, path: Path) -> str:
        db = open_database(path)
        try:
            return str(read_meta(db, path)["codec"])
        finally:
            db.close()

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """The new keys and the updated `meta` key in one write batch (LevelDB applies a batch
        whole or not at all), values made as the implementation's `appended_values` does."""
        db = open_database(path)
        try:
            meta = read_meta(db, path)
            shape = tuple(meta["shape"])  # type: ignore[arg-type]
            labels = check_appended(path, shape, meta["codec"], self.codec, images, labels)
            count = int(meta["count"])  # type: ignore[call-overload]
            with db.write_batch() as batch:
                for offset, value in enumerate(self.appended_values(images, labels)):
                    batch.put(image_key(count + offset), value)
                batch.put(META_KEY, meta_of(np.empty((count + len(images), *shape)), self.codec))
            return self.after_append(db, len(images))
        except plyvel.Error as error:
            raise _refusal(path, error, "append to") from error
        finally:
            db.close()

    def appended_values(self, images: np.ndarray, labels: np.ndarray) -> list[bytes]:
        """Each new image's value: its label byte, then its bytes in the codec."""
        return [
            bytes([int(label)]) + self.codec.encode(image)
            for image, label in zip(images, labels, strict=True)
        ]

    def after_append(self, db: plyvel.DB, added: int) -> str:
        """What follows the batch; says what the append did."""
        return f"{added} new key(s) and the meta key in one write batch"

    # Options of this implementation's database (`fast`: no Snappy) and whether it compacts.
    database_options: ClassVar[dict[str, object]] = {}
    compacts: ClassVar[bool] = False

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        """Only the folder and what the writer needs: the writer creates the database (see
        `LeveldbPartWriter` for why the parent never opens it)."""
        if path.exists() and any(path.iterdir()):
            raise StoreError(f"{path} is not empty: write a store into an empty or missing folder")
        write_shared_note(path, count=count, shape=list(image_shape))

    def part_writer(self, path: Path) -> LeveldbPartWriter:
        return LeveldbPartWriter(path, self.codec, self.database_options, self.compacts)

    def finish_shared(self, path: Path, count: int) -> None:
        """Nothing to add (the one writer completed the store): the writers' note goes."""
        read_shared_note(path, remove=True)
        if not (path / MARKER).is_file():
            raise StoreError(f"{path}: no writer created the LevelDB database")


class DocumentedLeveldbStore(LeveldbStore):
    implementation = "documented"

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        db = create_database(path)
        try:
            with db.write_batch() as wb:
                for index, (image, label) in enumerate(zip(images, labels, strict=True)):
                    wb.put(image_key(index), bytes([int(label)]) + self.codec.encode(image))
                wb.put(META_KEY, meta_of(images, self.codec))
        finally:
            db.close()

    def open(self, path: Path, *, workers: int | None = None) -> DocumentedLeveldbReader:
        return DocumentedLeveldbReader(path, self.codec)


class FastLeveldbStore(LeveldbStore):
    implementation = "fast"
    database_options: ClassVar[dict[str, object]] = {"compression": None}
    compacts = True

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        count = len(images)
        if self.codec.name == "raw":
            rows = np.empty((count, 1 + math.prod(images.shape[1:])), dtype=np.uint8)
            rows[:, 0] = labels
            rows[:, 1:] = images.reshape(count, -1)
            values = [row.tobytes() for row in rows]
        else:
            blobs = encode_many(self.codec, images, workers)
            values = [bytes([int(label)]) + blob for label, blob in zip(labels, blobs, strict=True)]
        db = create_database(path, compression=None)
        try:
            for start in range(0, count, BATCH_IMAGES):
                with db.write_batch() as batch:
                    for index in range(start, min(count, start + BATCH_IMAGES)):
                        batch.put(image_key(index), values[index])
            db.put(META_KEY, meta_of(images, self.codec))
            db.compact_range()
        finally:
            db.close()

    def open(self, path: Path, *, workers: int | None = None) -> FastLeveldbReader:
        return FastLeveldbReader(path, self.codec, workers)

    def appended_values(self, images: np.ndarray, labels: np.ndarray) -> list[bytes]:
        """Encoded on every core, as `write_many` does."""
        blobs = encode_many(self.codec, images, None) if len(images) else []
        return [bytes([int(label)]) + blob for label, blob in zip(labels, blobs, strict=True)]

    def after_append(self, db: plyvel.DB, added: int) -> str:
        """Compacted, as `write_many` leaves a store: the batch leaves the log for tables."""
        db.compact_range()
        return f"{added} new key(s) and the meta key in one write batch, then compacted"


STORES: dict[str, Store] = {"documented": DocumentedLeveldbStore(), "fast": FastLeveldbStore()}
