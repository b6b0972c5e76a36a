"""SQLite: one database file, `images.sqlite`, one row per image (standard library `sqlite3`).

Both implementations share one schema, so each reads the other's stores and both own them
(`imgbench.stores.store_of` picks `fast`):
- `images (idx INTEGER PRIMARY KEY, label INTEGER NOT NULL, image BLOB NOT NULL)`: `idx` is the
  rowid, so rows sit in image order in the table's B-tree; `image` holds the image's bytes in the
  store's codec (`imgbench.codecs`; PNG by default, the commonest way images sit in SQLite);
- `meta (count, height, width, channels, codec)`: one row, which readers and `stored_codec` check.
The sqlite3 command-line tool alone gets an image out:
`sqlite3 images.sqlite "SELECT writefile('3.png', image) FROM images WHERE idx = 3"`.

`documented` follows Python's sqlite3 documentation: `connect(path)` with default pragmas,
`executemany` inside `with connection:`, and reads one `SELECT ... WHERE idx = ?` per image,
decoding each in the calling process.

`fast`:
- writes with 16 KiB pages, the rollback journal and `synchronous=OFF`, everything in one
  transaction with one `executemany`, after encoding on every core (`imgbench.parallel`). The
  rollback journal costs nothing here: pages past a file's original end are never journalled,
  so it holds only a header, and COMMIT deletes it, leaving one self-contained file; unlike
  `journal_mode=OFF` it keeps ROLLBACK working, so a failed write leaves an empty database, not
  a torn one. WAL writes every page twice (log, then checkpoint) and keeps `-wal`/`-shm` files
  until the last connection closes. No fsync: the benchmark times durability (a syncfs) apart;
- reads through a read-only `immutable=1` URI (no file locks, no check for other writers or for
  a hot journal: safe because a store is never written after `write_many` returns, and a write
  that failed is never renamed into place), with the whole file memory-mapped (`mmap_size`), so
  a row is read in place rather than copied into SQLite's page cache;
- reads one index with `WHERE idx = ?`, a run with one `BETWEEN ... ORDER BY idx` query, and
  other indices as sorted distinct batches of `WHERE idx IN (...)` (the B-tree walked in order,
  then spread out into the asked order, repeats included); then decodes on every core.

Measured on a 2-core VM, ext4, 2026-11-25, `synthetic_images(n, seed=0)` (100,000: 50,000 twice),
warm cache, medians of 5 (range), while other engineers' benchmarks kept the load at 5-7: times
are inflated and noisy, so only differences beyond the ranges were acted on.
Write, SQLite's part only (blobs encoded beforehand), ms; file size at 100,000:
    page size (journal OFF, sync OFF)  raw 10k   raw 100k  png 10k   png 100k  MiB raw / png
    4096                               145       2139      131       4130      391.6 / 365.3
    16384                              89        1217      98        1678      312.7 / 223.3
    65536                              71        876       66        1441      297.8 / 211.1
    16 KiB, journal DELETE / WAL       89 / 183  1050 / 2326  82 / 152  1746 / 3045
    16 KiB, DELETE, sync NORMAL / FULL 252 / 299 2115 / 1693  211 / 180  2699 / 5122
4 KiB pages hold one 2-3 KB row each (a quarter to a half of every page empty); 16 KiB pages
hold 5 raw or 7 PNG rows. Reads, raw 10,000, ms: in-order `BETWEEN` 221 / 129 / 156 with
4 / 16 / 64 KiB pages (100,000: 2582 / 1225 / 1204); iterating the cursor instead of
`fetchall` 131 (100,000: 987 against 1225, within the ranges); joining the blobs into one
`np.frombuffer` 170 against 129 for `decode_many`'s copies; without `immutable=1` 181. A
permutation in one call: `IN` batches 103-138, one `WHERE idx = ?` per row 280-343, a join on
`json_each` of the indices 292-298. One image per call, as the random-order cell reads
(`reader[i]` over a permutation): 303 ms with 16 KiB pages, 496 with 64 KiB (each row copies a
whole page into the cache), 528 / 816 without `immutable=1`, 157 / 183 memory-mapped; `BETWEEN
i AND i` 439. Memory-mapping changed nothing for in-order reads at 100,000 (5 interleaved pairs:
1366-2783 against 1522-2617 ms; PNG, where decoding dominates: 10.2-14.6 s either way).
So 16 KiB pages: 64 KiB writes 1.2-1.4x faster but reads single images slower, and the
benchmark reads a store more often than it writes it.
Through the stores at 10,000 (raw / png, ms): write fast 202 / 2907, documented 815 / 3173
(fsyncs at every commit); in-order read fast 188 / 1451, documented 483 / 1284 (PNG decoding
dominates and both cores were busy with other jobs); one image per call fast 789 / 1813,
documented 1049 / 2372.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from imgbench.cells import Presentation
from imgbench.codecs import NAMES, Codec
from imgbench.errors import StoreError
from imgbench.parallel import decode_many, encode_many
from imgbench.stores.base import (
    PartWriter,
    Reader,
    Store,
    check_appended,
    check_codec,
    checked_indices,
    existing_file,
    new_file,
    no_images,
    read_shared_note,
    write_shared_note,
)

PRESENTATION = Presentation(label="SQLite", colour="tab:purple", rank=50)

MARKER = "images.sqlite"
CODECS = ("png", "raw", "qoi", "jpeg")
PAGE_BYTES = 16384  # see the module docstring

CREATE_IMAGES = (
    "CREATE TABLE images (idx INTEGER PRIMARY KEY,"
    " label INTEGER NOT NULL CHECK (label BETWEEN 0 AND 255), image BLOB NOT NULL)"
)
CREATE_META = (
    "CREATE TABLE meta (count INTEGER NOT NULL, height INTEGER NOT NULL,"
    " width INTEGER NOT NULL, channels INTEGER NOT NULL, codec TEXT NOT NULL)"
)
INSERT_IMAGE = "INSERT INTO images (idx, label, image) VALUES (?, ?, ?)"
INSERT_META = "INSERT INTO meta (count, height, width, channels, codec) VALUES (?, ?, ?, ?, ?)"
SELECT_ONE = "SELECT label, image FROM images WHERE idx = ?"
SELECT_RUN = "SELECT label, image FROM images WHERE idx BETWEEN ? AND ? ORDER BY idx"
SELECT_LISTED = "SELECT idx, label, image FROM images WHERE idx IN ({})"
UPDATE_COUNT = "UPDATE meta SET count = ?"
LISTED_BATCH = 999  # host parameters per IN list: the limit of SQLite before 3.32


class Meta(NamedTuple):
    count: int
    shape: tuple[int, int, int]
    codec: str


def database_error(file: Path, error: sqlite3.Error) -> StoreError:
    """A StoreError for an SQLite error on the store's file, saying what to do."""
    return StoreError(f"{file}: SQLite cannot read this store ({error}); rebuild the store")


def read_meta(connection: sqlite3.Connection, file: Path) -> Meta:
    """The store's `meta` row, after checking `file` is an SQLite database with our tables."""
    try:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
        row = (
            connection.execute("SELECT count, height, width, channels, codec FROM meta").fetchone()
            if {"images", "meta"} <= tables
            else None
        )
    except sqlite3.DatabaseError as error:
        raise StoreError(
            f"{file}: not an SQLite database ({error}); the store is damaged or is not one this "
            "benchmark built: rebuild it"
        ) from error
    if row is None:
        missing = sorted({"images", "meta"} - tables) or ["the row of meta"]
        raise StoreError(
            f"{file}: an SQLite database without {' and '.join(missing)}, so not an image store "
            "this benchmark built: rebuild it"
        )
    count, height, width, channels, codec = row
    if codec not in NAMES:
        raise StoreError(f"{file}: meta names no known codec ({codec!r}); rebuild the store")
    return Meta(count, (height, width, channels), codec)


def connect_read_only(path: Path) -> tuple[sqlite3.Connection, Path]:
    """A read-only connection to the store at `path` that takes no locks (`immutable=1`)."""
    file = existing_file(path, MARKER)
    return sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro&immutable=1", uri=True), file


def stored_codec(path: Path) -> str:
    """The codec the store at `path` records in its meta row (both implementations)."""
    connection, file = connect_read_only(path)
    try:
        return read_meta(connection, file).codec
    finally:
        connection.close()


def checked_meta(connection: sqlite3.Connection, file: Path, codec: Codec) -> Meta:
    """The store's meta, after refusing a store of another codec; closes `connection` on error."""
    try:
        meta = read_meta(connection, file)
        check_codec(file, meta.codec, codec)
    except StoreError:
        connection.close()
        raise
    return meta


def missing_row(file: Path, index: int, count: int) -> StoreError:
    return StoreError(
        f"{file}: no row with idx {index} although meta counts {count} images; the store is "
        "damaged: rebuild it"
    )


def first_absent(connection: sqlite3.Connection, indices: np.ndarray) -> int:
    """The first of `indices` without a row: what a read that found fewer rows lacked."""
    present = {
        idx
        for (idx,) in connection.execute(
            "SELECT idx FROM images WHERE idx BETWEEN ? AND ?",
            (int(indices.min()), int(indices.max())),
        )
    }
    return next(index for index in indices.tolist() if index not in present)


def create_tables(connection: sqlite3.Connection) -> None:
    connection.execute(CREATE_IMAGES)
    connection.execute(CREATE_META)


class FastSqliteReader(Reader):
    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        self._connection, self._file = connect_read_only(path)
        self._meta = checked_meta(self._connection, self._file, codec)
        # Map the whole file: pages are read in place instead of copied into SQLite's cache.
        self._connection.execute(f"PRAGMA mmap_size = {self._file.stat().st_size}")
        self._codec, self._workers = codec, workers

    def __len__(self) -> int:
        return self._meta.count

    def _rows(self, indices: np.ndarray) -> list[tuple[int, bytes]]:
        """(label, image bytes) of each index in turn: one query for one index or a run, else
        sorted batches of distinct indices (the B-tree walked in order), spread out by index."""
        first, last = int(indices[0]), int(indices[-1])
        if len(indices) == 1:
            rows = self._connection.execute(SELECT_ONE, (first,)).fetchall()
        elif last - first + 1 == len(indices) and np.all(np.diff(indices) == 1):
            rows = self._connection.execute(SELECT_RUN, (first, last)).fetchall()
        else:
            wanted = np.unique(indices).tolist()
            found: dict[int, tuple[int, bytes]] = {}
            for start in range(0, len(wanted), LISTED_BATCH):
                batch = wanted[start : start + LISTED_BATCH]
                query = SELECT_LISTED.format(",".join("?" * len(batch)))
                for idx, label, image in self._connection.execute(query, batch):
                    found[idx] = label, image
            if len(found) == len(wanted):
                return [found[index] for index in indices.tolist()]
            rows = []
        if len(rows) != len(indices):
            absent = first_absent(self._connection, indices)
            raise missing_row(self._file, absent, self._meta.count)
        return rows

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, self._meta.count)
        if len(indices) == 0:
            return no_images(self._meta.shape), np.empty(0, dtype=np.uint8)
        try:
            labels, blobs = zip(*self._rows(indices), strict=True)
        except sqlite3.Error as error:
            raise database_error(self._file, error) from error
        images = decode_many(
            self._codec,
            blobs,
            self._meta.shape,
            self._workers,
            lambda row: f"{self._file} idx {indices[row]}",
        )
        return images, np.array(labels, dtype=np.uint8)

    def close(self) -> None:
        self._connection.close()


BUSY_TIMEOUT_SECONDS = 600.0  # how long a shared writer's BEGIN IMMEDIATE waits for the lock


class SqlitePartWriter(PartWriter):
    """One writer process's connection to the shared database. SQLite lets one connection
    write at a time: `BEGIN IMMEDIATE` takes the database's RESERVED lock, and another
    writer's waits in SQLite's busy handler (up to BUSY_TIMEOUT_SECONDS) until the holder
    commits; `waited_seconds` is the time it took. Images are encoded before it."""

    def __init__(self, path: Path, codec: Codec, pragmas: tuple[str, ...]) -> None:
        self._connection = sqlite3.connect(
            existing_file(path, MARKER), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
        )
        for pragma in pragmas:
            self._connection.execute(pragma)
        self._codec = codec

    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        blobs = encode_many(self._codec, images, 1)
        rows = zip(
            range(start, start + len(blobs)), np.asarray(labels).tolist(), blobs, strict=True
        )
        began = time.perf_counter()
        self._connection.execute("BEGIN IMMEDIATE")
        self.waited_seconds += time.perf_counter() - began
        try:
            self._connection.executemany(INSERT_IMAGE, rows)
            self._connection.execute("COMMIT")
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._connection.close()


class SqliteStore(Store):
    """What both implementations share: the layout, the marker and the codec the store records."""

    format = "sqlite"
    marker = MARKER
    codecs = CODECS
    # How each writer sets its connection up (`fast`: no fsync, as its `write_many`).
    writer_pragmas: tuple[str, ...] = ()

    def stored_codec(self, path: Path) -> str:
        return stored_codec(path)

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """INSERT the new rows and UPDATE the meta row's count in one transaction (the
        implementation's way: see `insert_appended`), after checking them against the meta row
        read through a read-only connection."""
        connection, file = connect_read_only(path)
        try:
            meta = read_meta(connection, file)
        finally:
            connection.close()
        labels = check_appended(file, meta.shape, meta.codec, self.codec, images, labels)
        try:
            self.insert_appended(file, meta.count, images, labels)
        except sqlite3.Error as error:
            raise StoreError(
                f"{file}: SQLite could not append ({error}); nothing was added"
            ) from error
        return f"INSERT of {len(images)} row(s) and UPDATE of the meta count, one transaction"

    def insert_appended(
        self, file: Path, first: int, images: np.ndarray, labels: np.ndarray
    ) -> None:
        """Insert the rows of `images` from idx `first` on and count them in the meta row, in one
        transaction (`with connection`, as `write_many`)."""
        connection = sqlite3.connect(file)
        try:
            with connection:
                connection.executemany(
                    INSERT_IMAGE,
                    (
                        (first + offset, label, self.codec.encode(image))
                        for offset, (image, label) in enumerate(
                            zip(images, labels.tolist(), strict=True)
                        )
                    ),
                )
                connection.execute(UPDATE_COUNT, (first + len(images),))
        finally:
            connection.close()

    def create_shared(self, connection: sqlite3.Connection) -> None:
        """The empty tables, as this implementation's `write_many` creates them."""
        with connection:
            create_tables(connection)

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        connection = sqlite3.connect(new_file(path, MARKER))
        try:
            self.create_shared(connection)
        finally:
            connection.close()
        write_shared_note(path, shape=list(image_shape))

    def part_writer(self, path: Path) -> SqlitePartWriter:
        return SqlitePartWriter(path, self.codec, self.writer_pragmas)

    def finish_shared(self, path: Path, count: int) -> None:
        """The meta row, which readers check, once every image row is in."""
        shape = read_shared_note(path, remove=True)["shape"]
        connection = sqlite3.connect(existing_file(path, MARKER))
        try:
            with connection:
                connection.execute(INSERT_META, (count, *shape, self.codec.name))
        finally:
            connection.close()


class FastSqliteStore(SqliteStore):
    implementation = "fast"
    writer_pragmas = ("PRAGMA synchronous = OFF",)

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        blobs = encode_many(self.codec, images, workers)
        file = new_file(path, MARKER)
        # Autocommit mode (isolation_level=None): the pragmas run outside any transaction, as
        # page_size must, and BEGIN/COMMIT below delimit the one write transaction.
        connection = sqlite3.connect(file, isolation_level=None)
        try:
            connection.execute(f"PRAGMA page_size = {PAGE_BYTES}")
            connection.execute("PRAGMA journal_mode = DELETE")
            connection.execute("PRAGMA synchronous = OFF")
            connection.execute("BEGIN")
            create_tables(connection)
            rows = zip(range(len(blobs)), np.asarray(labels).tolist(), blobs, strict=True)
            connection.executemany(INSERT_IMAGE, rows)
            connection.execute(INSERT_META, (len(blobs), *images.shape[1:], self.codec.name))
            connection.execute("COMMIT")
        finally:
            connection.close()  # rolls back an unfinished transaction and deletes the journal

    def open(self, path: Path, *, workers: int | None = None) -> FastSqliteReader:
        return FastSqliteReader(path, self.codec, workers)

    def insert_appended(
        self, file: Path, first: int, images: np.ndarray, labels: np.ndarray
    ) -> None:
        """As `write_many` writes: blobs encoded on every core first, then one explicit
        transaction with `synchronous = OFF` (closing an unfinished one rolls it back)."""
        blobs = encode_many(self.codec, images, None) if len(images) else []
        rows = zip(range(first, first + len(images)), labels.tolist(), blobs, strict=True)
        connection = sqlite3.connect(file, isolation_level=None)
        try:
            connection.execute("PRAGMA synchronous = OFF")
            connection.execute("BEGIN")
            connection.executemany(INSERT_IMAGE, rows)
            connection.execute(UPDATE_COUNT, (first + len(images),))
            connection.execute("COMMIT")
        finally:
            connection.close()

    def create_shared(self, connection: sqlite3.Connection) -> None:
        connection.isolation_level = None
        connection.execute(f"PRAGMA page_size = {PAGE_BYTES}")
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.execute("BEGIN")
        create_tables(connection)
        connection.execute("COMMIT")


class DocumentedSqliteReader(Reader):
    def __init__(self, path: Path, codec: Codec) -> None:
        self._file = existing_file(path, MARKER)
        self._connection = sqlite3.connect(self._file)
        self._meta = checked_meta(self._connection, self._file, codec)
        self._codec = codec

    def __len__(self) -> int:
        return self._meta.count

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, self._meta.count)
        images = np.empty((len(indices), *self._meta.shape), dtype=np.uint8)
        labels = np.empty(len(indices), dtype=np.uint8)
        cursor = self._connection.cursor()
        for row, index in enumerate(indices.tolist()):
            found = False
            try:
                for label, image in cursor.execute(SELECT_ONE, (index,)):
                    labels[row] = label
                    self._codec.decode(image, images[row], f"{self._file} idx {index}")
                    found = True
            except sqlite3.Error as error:
                raise database_error(self._file, error) from error
            if not found:
                raise missing_row(self._file, index, self._meta.count)
        return images, labels

    def close(self) -> None:
        self._connection.close()


class DocumentedSqliteStore(SqliteStore):
    implementation = "documented"

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        connection = sqlite3.connect(new_file(path, MARKER))
        try:
            with connection:
                create_tables(connection)
                connection.executemany(
                    INSERT_IMAGE,
                    (
                        (index, int(label), self.codec.encode(image))
                        for index, (image, label) in enumerate(zip(images, labels, strict=True))
                    ),
                )
                connection.execute(INSERT_META, (len(images), *images.shape[1:], self.codec.name))
        finally:
            connection.close()

    def open(self, path: Path, *, workers: int | None = None) -> DocumentedSqliteReader:
        return DocumentedSqliteReader(path, self.codec)


STORES: dict[str, Store] = {"fast": FastSqliteStore(), "documented": DocumentedSqliteStore()}
