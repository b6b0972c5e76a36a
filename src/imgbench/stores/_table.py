"""The image table that the columnar formats (Arrow IPC, and next Parquet and Lance) hold: one
row per image, in image order, so any Arrow-speaking tool reads a store as a plain table.

Columns:
- `idx` int64: the image's index, 0 to N-1 in row order;
- `label` uint8;
- `image`: the image's bytes in the store's codec (`imgbench.codecs`): `fixed_size_binary`
  of H*W*C bytes for raw pixels written by `fast` (the whole column is then one buffer, so a bulk
  read is one view of it), `binary` or `large_binary` otherwise.
The schema's metadata holds `imgbench`: JSON `{"codec", "shape", "count"}`, checked on opening.

The tables in the columnar stores' docstrings were measured on an idle 2-core VM (ext4),
2026-11-26, with 100,000 raw 32x32 images (`synthetic_images`, 50,000 twice), warm, through the
stores themselves: bulk is the median of 3 reads of all images in order; batch, the time per
batch over 20 batches of 256 indices of a fixed-seed permutation (3 runs, median); one, the time
per `reader[i]` over 200 indices of it (3 runs, median); each run opens the store once.
"""

from __future__ import annotations

import json
import math
import os
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa

from imgbench.atomic_files import atomic_path
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

METADATA_KEY = b"imgbench"
COLUMNS = ("idx", "label", "image")


@dataclass(frozen=True)
class TableMeta:
    count: int
    shape: tuple[int, int, int]
    codec: str


def metadata(codec: Codec, images: np.ndarray) -> dict[bytes, bytes]:
    entry = {"codec": codec.name, "shape": list(images.shape[1:]), "count": len(images)}
    return {METADATA_KEY: json.dumps(entry).encode()}


def table_of(
    codec: Codec,
    images: np.ndarray,
    labels: np.ndarray,
    workers: int | None,
    *,
    fixed_size_raw: bool,
) -> pa.Table:
    """The image table of `images` in `codec`, encoded on every core (`imgbench.parallel`); raw
    pixels as one `fixed_size_binary` buffer shared with `images` (no copy) if `fixed_size_raw`."""
    if len(labels) != len(images):
        raise StoreError(f"{len(images)} images but {len(labels)} labels")
    if codec.name == "raw" and fixed_size_raw:
        pixels = np.ascontiguousarray(images, dtype=np.uint8)
        width = math.prod(images.shape[1:])
        column = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(width), len(images), [None, pa.py_buffer(pixels)]
        )
    else:
        column = pa.array(encode_many(codec, images, workers), type=pa.large_binary())
    return pa.table(
        {
            "idx": pa.array(np.arange(len(images), dtype=np.int64)),
            "label": pa.array(np.asarray(labels, dtype=np.uint8)),
            "image": column,
        }
    ).replace_schema_metadata(metadata(codec, images))


def recorded(schema: pa.Schema, file: Path) -> TableMeta:
    """What the schema's `imgbench` metadata says the table holds."""
    entry = (schema.metadata or {}).get(METADATA_KEY)
    try:
        described = json.loads(entry) if entry is not None else None
        meta = TableMeta(
            int(described["count"]),
            tuple(int(size) for size in described["shape"]),  # type: ignore[arg-type]
            described["codec"],
        )
    except (ValueError, TypeError, KeyError) as error:
        raise StoreError(
            f"{file}: the schema's metadata has no readable `imgbench` entry ({error!r}), so "
            "not an image table this benchmark wrote: rebuild the store"
        ) from error
    if meta.codec not in NAMES or len(meta.shape) != 3:
        raise StoreError(f"{file}: the `imgbench` metadata is damaged ({described}); rebuild it")
    return meta


def checked_schema(schema: pa.Schema, file: Path, codec: Codec) -> TableMeta:
    """What the schema says the table holds, after refusing one this benchmark did not write or
    one holding another codec."""
    missing = [name for name in COLUMNS if name not in schema.names]
    if missing:
        raise StoreError(
            f"{file}: no column {', '.join(missing)}, so not an image table this benchmark "
            f"wrote (columns: {', '.join(schema.names) or 'none'}): rebuild the store"
        )
    meta = recorded(schema, file)
    stored, shape = meta.codec, meta.shape
    check_codec(file, stored, codec)
    image, label, idx = (schema.field(name).type for name in ("image", "label", "idx"))
    fixed = pa.types.is_fixed_size_binary(image) and image.byte_width == math.prod(shape)
    if not (pa.types.is_binary(image) or pa.types.is_large_binary(image) or fixed) or (
        pa.types.is_fixed_size_binary(image) and codec.name != "raw"
    ):
        raise StoreError(f"{file}: column image is {image}, not the bytes of {stored} images")
    if label != pa.uint8() or not pa.types.is_integer(idx):
        raise StoreError(f"{file}: columns label ({label}) and idx ({idx}) are not ours")
    return meta


def check_rows(table: pa.Table, meta: TableMeta, file: Path) -> None:
    """Refuse a table whose rows are not images 0..count-1 in order, each with a label (and an
    image, if the table was read with its images)."""
    if table.num_rows != meta.count:
        raise StoreError(
            f"{file}: {table.num_rows} rows, but its metadata counts {meta.count} images: "
            "the store is damaged; rebuild it"
        )
    if not np.array_equal(table.column("idx").to_numpy(), np.arange(meta.count)):
        raise StoreError(f"{file}: rows are not images 0..{meta.count - 1} in order; rebuild it")
    if any(
        table.column(name).null_count for name in ("image", "label") if name in table.schema.names
    ):
        raise StoreError(f"{file}: null images or labels: the store is damaged; rebuild it")


class ImageArray:
    """Views of one Arrow array of images, no copy: `pixels`, (count, H, W, C), of a fixed-size
    raw column, or each value's bytes as a memoryview slice at the array's offsets."""

    def __init__(self, array: pa.Array, shape: tuple[int, int, int]) -> None:
        buffers = array.buffers()
        self.pixels: np.ndarray | None = None
        if pa.types.is_fixed_size_binary(array.type):
            width = array.type.byte_width
            pixels = np.frombuffer(buffers[1], dtype=np.uint8)
            start = array.offset * width
            self.pixels = pixels[start : start + len(array) * width].reshape(len(array), *shape)
        else:
            kind = np.int64 if pa.types.is_large_binary(array.type) else np.int32
            self.offsets = np.frombuffer(buffers[1], dtype=kind)[
                array.offset : array.offset + len(array) + 1
            ]
            self.data = memoryview(buffers[2] if buffers[2] is not None else b"").cast("B")

    def blobs(self, rows: np.ndarray) -> list[memoryview]:
        starts, ends = self.offsets[rows].tolist(), self.offsets[rows + 1].tolist()
        return [self.data[start:end] for start, end in zip(starts, ends, strict=True)]


def gather(
    parts: list[tuple[ImageArray, np.ndarray, np.ndarray]],
    count: int,
    meta: TableMeta,
    codec: Codec,
    workers: int | None,
    name: Callable[[int], object],
) -> np.ndarray:
    """The `count` images that `parts` hold: each part is an array, the positions in the result
    it fills and its rows that fill them. Raw pixels are copied straight into place; encoded
    images are decoded on every core (`name(position)` names one in errors)."""
    if all(array.pixels is not None for array, _, _ in parts):
        if len(parts) == 1 and len(parts[0][1]) == count:  # one array: a single gather
            return parts[0][0].pixels[parts[0][2]]  # type: ignore[index]
        images = np.empty((count, *meta.shape), dtype=np.uint8)
        for array, positions, rows in parts:
            images[positions] = array.pixels[rows]  # type: ignore[index]
        return images
    blobs: list[memoryview | bytes] = [b""] * count
    for array, positions, rows in parts:
        if array.pixels is not None:  # raw pixels of another layout, as their bytes
            found = [memoryview(image.reshape(-1)) for image in array.pixels[rows]]
        else:
            found = array.blobs(rows)
        for position, blob in zip(positions.tolist(), found, strict=True):
            blobs[position] = blob
    return decode_many(codec, blobs, meta.shape, workers, name)


class ImageColumns:
    """The `label` and `image` columns of a whole table read zero-copy (Arrow IPC): bulk reads
    index NumPy views of the Arrow buffers, decoding encoded images on every core."""

    def __init__(self, table: pa.Table, meta: TableMeta, file: Path, codec: Codec) -> None:
        check_rows(table, meta, file)
        self.file, self.meta, self.codec = file, meta, codec
        self.labels = table.column("label").to_numpy()
        self.images = ImageArray(single_chunk(table.column("image")), meta.shape)

    def read(self, indices: np.ndarray, workers: int | None) -> tuple[np.ndarray, np.ndarray]:
        """The images and labels at `indices` (checked ones)."""
        parts = [(self.images, np.arange(len(indices)), indices)]
        images = gather(
            parts,
            len(indices),
            self.meta,
            self.codec,
            workers,
            lambda position: f"{self.file} row {indices[position]}",
        )
        return images, self.labels[indices]


def single_chunk(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array: itself if it is one chunk (no copy), else its chunks joined
    (binary ones as large_binary, whose 64-bit offsets hold more than 2 GiB)."""
    if column.num_chunks == 1:
        return column.chunk(0)
    if pa.types.is_binary(column.type):
        column = column.cast(pa.large_binary())
    return column.combine_chunks()


class TableReader(Reader):
    """What the readers of one-file tables share: the checked metadata, the length, the checks of
    `read_many`'s indices and a library error on reading as a StoreError naming the file and its
    format (`what`)."""

    def __init__(self, file: Path, meta: TableMeta, what: str) -> None:
        self._file, self._meta, self._what = file, meta, what

    def __len__(self) -> int:
        return self._meta.count

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, self._meta.count)
        if len(indices) == 0:
            return no_images(self._meta.shape), np.empty(0, dtype=np.uint8)
        try:
            return self._read(indices)
        except pa.ArrowException as error:
            raise unreadable(self._file, self._what, error) from error

    @abstractmethod
    def _read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`read_many` of checked, non-empty indices."""


def unreadable(file: Path, what: str, error: Exception) -> StoreError:
    return StoreError(
        f"{file}: not a readable {what} file ({error}); the store is damaged or is not one this "
        "benchmark built: rebuild it"
    )


class DocumentedTableReader(TableReader):
    """The way pyarrow's documentation reads a table: all of it when the store is opened, then
    `Table.take` of the asked rows and each value of `to_pylist()` decoded in this process."""

    def __init__(
        self, file: Path, codec: Codec, load: Callable[[str], pa.Table], what: str
    ) -> None:
        try:
            self._table = load(str(file))
        except pa.ArrowException as error:
            raise unreadable(file, what, error) from error
        super().__init__(file, checked_schema(self._table.schema, file, codec), what)
        check_rows(self._table, self._meta, file)
        self._codec = codec

    def _read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows = self._table.take(pa.array(indices))
        images = np.empty((len(indices), *self._meta.shape), dtype=np.uint8)
        for row, blob in enumerate(rows.column("image").to_pylist()):
            self._codec.decode(blob, images[row], f"{self._file} row {indices[row]}")
        return images, rows.column("label").to_numpy()

    def close(self) -> None:
        self._table = None  # type: ignore[assignment]


def documented_table(codec: Codec, images: np.ndarray, labels: np.ndarray) -> pa.Table:
    """The image table as pyarrow's documentation builds one: from Python bytes objects, encoded
    one image at a time in this process."""
    table = pa.table(
        {
            "idx": np.arange(len(images), dtype=np.int64),
            "label": np.asarray(labels, dtype=np.uint8),
            "image": [codec.encode(image) for image in images],
        }
    )
    return table.replace_schema_metadata(metadata(codec, images))


def part_table(store: Store, start: int, images: np.ndarray, labels: np.ndarray) -> pa.Table:
    """The image table of images `start..start+len(images)`, built as `store` builds its whole
    table (`documented`: from Python bytes objects; else `table_of`, one process)."""
    if store.implementation == "documented":
        table = documented_table(store.codec, images, labels)
    else:
        table = table_of(store.codec, images, labels, 1, fixed_size_raw=True)
    idx = pa.array(np.arange(start, start + len(images), dtype=np.int64))
    return table.set_column(table.schema.get_field_index("idx"), "idx", idx)


def with_count(table: pa.Table, count: int, shape: list[int], codec: Codec) -> pa.Table:
    """`table` with the `imgbench` metadata of a store of `count` images."""
    entry = {"codec": codec.name, "shape": shape, "count": count}
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(entry).encode()})


class TablePartWriter(PartWriter):
    """A writer's part of the table, its images encoded by this process, as an uncompressed
    Arrow IPC file of its own in the store folder: a Parquet or Arrow IPC file has one writer
    (its footer, written last, lists every row group or record batch), so the writers cannot
    share it; `finish_shared` joins the parts into the store's one file."""

    def __init__(self, path: Path, store: Store) -> None:
        self._path, self._store = path, store

    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        table = part_table(self._store, start, images, labels)
        file = self._path / f".part-{start:08d}.arrow"
        with pa.OSFile(str(file), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    def close(self) -> None:
        """Each part file is closed once written."""


def joined_parts(path: Path, count: int, codec: Codec) -> pa.Table:
    """The writers' part tables in image order, as one table of `count` images with the
    store's metadata; the part files are removed once read (their data is in memory)."""
    shape = read_shared_note(path, remove=True)["shape"]
    parts = sorted(path.glob(".part-*.arrow"))  # zero-padded starts: image order
    tables = []
    for part in parts:
        with pa.memory_map(str(part), "r") as source:
            tables.append(pa.ipc.open_file(source).read_all())
    if not tables:
        raise StoreError(f"{path}: no writer left a part of the table")
    table = pa.concat_tables(tables, promote_options="permissive").combine_chunks()
    if table.num_rows != count:
        raise StoreError(f"{path}: the writers left {table.num_rows} images, not {count}")
    for part in parts:
        part.unlink()
    return with_count(table, count, shape, codec)


class TableStore(Store):
    """What the one-file table stores share: their file (`marker`), the codec its schema records
    and writing it whole under another name first, so a failed write leaves no store file."""

    what: ClassVar[str]  # the file's format, for errors
    codecs = ("raw", "png", "qoi", "jpeg")

    @abstractmethod
    def read_schema(self, file: Path) -> pa.Schema:
        """The schema of the table in `file`, read without its rows."""

    def stored_codec(self, path: Path) -> str:
        file = existing_file(path, self.marker)
        try:
            return recorded(self.read_schema(file), file).codec
        except pa.ArrowException as error:
            raise unreadable(file, self.what, error) from error

    def write_whole(self, path: Path, write: Callable[[str], None]) -> None:
        """Have `write` create the store's file at a partial name, then rename it into place."""
        file = new_file(path, self.marker)
        partial = file.with_name(f"{file.name}.partial")
        write(str(partial))
        os.replace(partial, file)

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """The new rows, made as the implementation's `write_many` makes its table (`new_rows`)
        with idx going on from the store's count and the types of the store's schema, whose
        metadata gets the new count; then the file rewritten with them (`rewrite`) beside the
        old one and renamed over it: Arrow IPC and Parquet files end in a footer that lists
        their batches or row groups, and pyarrow writes neither into an existing file."""
        file = existing_file(path, self.marker)
        try:
            schema = self.read_schema(file)
        except pa.ArrowException as error:
            raise unreadable(file, self.what, error) from error
        meta = recorded(schema, file)
        labels = check_appended(file, meta.shape, meta.codec, self.codec, images, labels)
        count = meta.count + len(images)
        entry = {"codec": meta.codec, "shape": list(meta.shape), "count": count}
        schema = schema.with_metadata({**(schema.metadata or {}), METADATA_KEY: json.dumps(entry)})
        added = self.new_rows(images, labels)
        added = added.set_column(
            added.schema.get_field_index("idx"),
            "idx",
            pa.array(np.arange(meta.count, count, dtype=np.int64)),
        )
        added = added.select(schema.names).cast(schema)
        with atomic_path(file) as partial:
            return self.rewrite(file, partial, schema, added)

    def new_rows(self, images: np.ndarray, labels: np.ndarray) -> pa.Table:
        """The image table of appended images, as `write_many` builds one."""
        return table_of(self.codec, images, labels, None, fixed_size_raw=True)

    @abstractmethod
    def rewrite(self, file: Path, partial: Path, schema: pa.Schema, added: pa.Table) -> str:
        """Write `partial`: the table in `file`, then `added`, under `schema`; say how."""

    @abstractmethod
    def write_table(self, table: pa.Table, file: str) -> None:
        """Write `table` as this implementation writes the store's file."""

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        new_file(path, self.marker)  # refuses a folder holding a store
        write_shared_note(path, shape=list(image_shape))

    def part_writer(self, path: Path) -> TablePartWriter:
        return TablePartWriter(path, self)

    def finish_shared(self, path: Path, count: int) -> None:
        """Join the writers' parts into the store's one file, written as `write_many` writes
        it: a serial copy of every image, part of the timed write."""
        table = joined_parts(path, count, self.codec)
        self.write_whole(path, lambda file: self.write_table(table, file))


class DocumentedTableStore(TableStore):
    """A table store as pyarrow's documentation writes and reads one (`documented_table`,
    `DocumentedTableReader`); a format supplies its library's `write_table` and `load_table`."""

    implementation = "documented"

    @abstractmethod
    def load_table(self, file: str) -> pa.Table: ...

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        table = documented_table(self.codec, images, labels)
        self.write_whole(path, lambda file: self.write_table(table, file))

    def open(self, path: Path, *, workers: int | None = None) -> DocumentedTableReader:
        file = existing_file(path, self.marker)
        return DocumentedTableReader(file, self.codec, self.load_table, self.what)

    def new_rows(self, images: np.ndarray, labels: np.ndarray) -> pa.Table:
        return documented_table(self.codec, images, labels)

    def rewrite(self, file: Path, partial: Path, schema: pa.Schema, added: pa.Table) -> str:
        """The documented way: load the whole table, concatenate, write it whole."""
        old = self.load_table(str(file)).replace_schema_metadata(schema.metadata)
        self.write_table(pa.concat_tables([old, added]), str(partial))
        return f"rewrote the whole file: loaded the table, added {len(added)} row(s), wrote it"
