"""TileDB: the store folder holds one TileDB group, `images.tdb`, with two dense arrays: `images`
(attribute `pixel`, uint8) and `labels` (attribute `label`, uint8, one cell per image); the
group's `imgbench` metadata (JSON) records the codec, image shape and count.
`tiledb.open("images.tdb/images")[3]["pixel"]` alone reads image 3.

Both implementations tile `TILE_IMAGES` whole images, and the codec is TileDB's own filter on
the pixels: `raw` none, `zstd` its `ZstdFilter` (level `imgbench.codecs.ZSTD_LEVEL`). They
differ in the array's shape:

- `documented` is the dense array TileDB's documentation shows for an image stack: four
  dimensions (image, row, column, channel), shape (N, H, W, 3), written with `array[:] = images`,
  read with `array[a:b]` and `array.multi_index[indices]`;
- `fast` holds the same bytes in three dimensions (image, row, byte), shape (N, H, W*3): TileDB
  copies a result one run of its last dimension at a time, three bytes in the 4-D array, which
  cost 320 of 350 ms reading 10,000 images (its own statistics, `copy_fixed_tiles`).
Each reads the other's stores (the pixels come back as (N, H, W, 3) either way).

Tile size, measured at 10,000 images (2-core VM under a light load, 2026-11-26), 3-D: reading
all 188 / 42 / 34 ms with tiles of 1 / 64 / 1,024 images; a sorted batch of 256 random images
53 / 32 / 70 ms; one image 1,131 / 2,009 / 8,674 us (4-D at 64: 375 ms, 58 ms, 1,880 us). Each
query costs TileDB 1 to 2 ms however little it reads, so one image per call is slow at any tile
size; 64 is kept for batches and bulk reads. The stores, measured as `imgbench.stores._table`
describes (idle 2-core VM, 2026-11-26, 100,000 synthetic images, the raw baseline in the same
session):

                               write ms  MiB    bulk ms  batch of 256 ms  one image us
    fast, raw                  1,604     293.4  637      187              2,149
    fast, zstd                 2,041     292.8  767      196              2,192
    documented, raw            1,528     293.4  3,721    205              2,390
    raw baseline (for scale)   542       293.1  194      0.9              43

A batch is one `multi_index` query of 256 point ranges: TileDB's cost grows with the ranges, not
the bytes (0.7 ms an image here, against 0.1 ms at 10,000 images).

TileDB's thread pools are capped at the job's threads through the context. It warns that forking
after a context exists can deadlock (a forked reader hung here), so it gets no 2-reader cell.
`tiledb` is imported where a store is written or read, not when this module is (finding a
store's format imports every format module).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from imgbench.atomic_files import exchange
from imgbench.cells import Presentation
from imgbench.codecs import ZSTD_LEVEL, Codec
from imgbench.errors import StoreError
from imgbench.stores.base import (
    PartWriter,
    Reader,
    Store,
    aligned_bounds,
    check_appended,
    check_codec,
    checked_indices,
    in_forked_process,
    new_file,
    no_images,
    worker_count,
)

PRESENTATION = Presentation(label="TileDB", colour="navy", rank=96)

GROUP = "images.tdb"
TILE_IMAGES = 64  # images per tile
FORMAT_VERSION = 22  # the array format TileDB 2.30 (tiledb-py 0.36.1) writes; a test checks it
FACTS = {"TileDB array format written": str(FORMAT_VERSION)}
FILTERS = {"raw": (), "zstd": ("ZstdFilter",)}  # codec: TileDB filters on the pixels


def context(workers: int | None) -> Any:
    """A TileDB context whose compute and I/O pools use at most the job's workers."""
    import tiledb

    threads = str(worker_count(workers))
    return tiledb.Ctx({"sm.compute_concurrency_level": threads, "sm.io_concurrency_level": threads})


def group_metadata(path: Path) -> dict[str, Any]:
    """The group's `imgbench` record, after refusing a folder without one."""
    import tiledb

    uri = str(path / GROUP)
    try:
        with tiledb.Group(uri) as group:
            described = json.loads(group.meta["imgbench"])
        return {
            "codec": str(described["codec"]),
            "shape": tuple(int(size) for size in described["shape"]),
            "count": int(described["count"]),
        }
    except (tiledb.TileDBError, KeyError, ValueError, TypeError) as error:
        raise StoreError(
            f"{uri}: no TileDB group with `imgbench` metadata ({error}), so not a store this "
            "benchmark built: build it, or rebuild it"
        ) from error


def layouts(count: int, shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """The shape of the pixel array each implementation writes (either reads both)."""
    height, width, channels = shape
    return {
        "documented": (count, height, width, channels),
        "fast": (count, height, width * channels),
    }


def check_arrays(path: Path, described: dict[str, Any], images: Any, labels: Any) -> None:
    """Refuse arrays other than the metadata describes: another shape, type, filter or an
    array never written (TileDB reads an unwritten dense array as zeros)."""
    count, shape, codec = described["count"], described["shape"], described["codec"]
    found = {
        "images": (images.shape, images.schema.attr(0).name, str(images.schema.attr(0).dtype)),
        "labels": (labels.shape, labels.schema.attr(0).name, str(labels.schema.attr(0).dtype)),
    }
    if (
        found["images"][0] not in layouts(count, shape).values()
        or found["images"][1:] != ("pixel", "uint8")
        or found["labels"] != ((count,), "label", "uint8")
    ):
        raise StoreError(
            f"{path / GROUP}: arrays {found}, not the {count} images of shape {shape} with labels "
            "its `imgbench` metadata describes: rebuild the store"
        )
    filters = tuple(type(each).__name__ for each in images.schema.attr(0).filters)
    if filters != FILTERS.get(codec):
        raise StoreError(
            f"{path / GROUP}/images has filters {filters}, not those of {codec} images "
            f"({FILTERS.get(codec)}): rebuild the store"
        )
    for name, array in (("images", images), ("labels", labels)):
        written = array.nonempty_domain()
        if written is None or written[0] != (0, count - 1):
            raise StoreError(
                f"{path / GROUP}/{name} holds {written}, not images 0 to {count - 1}: the store is "
                "damaged or was never finished; rebuild it"
            )


class TileDBReader(Reader):
    """Either layout, read back as (N, H, W, 3) images."""

    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        import tiledb

        self._uri = path / GROUP
        described = group_metadata(path)
        check_codec(self._uri, described["codec"], codec)
        self._count, self._shape = described["count"], described["shape"]
        ctx = context(workers)
        try:
            self._images = tiledb.open(str(self._uri / "images"), ctx=ctx)
            with tiledb.open(str(self._uri / "labels"), ctx=ctx) as labels:
                check_arrays(path, described, self._images, labels)
                self._labels = np.asarray(labels[:]["label"], dtype=np.uint8)
        except tiledb.TileDBError as error:
            raise StoreError(f"{self._uri}: TileDB cannot read it ({error}); rebuild it") from error

    def __len__(self) -> int:
        return self._count

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import tiledb

        indices = checked_indices(indices, self._count)
        if len(indices) == 0:
            return no_images(self._shape), np.empty(0, dtype=np.uint8)
        first = int(indices[0])
        try:
            if np.array_equal(indices, np.arange(first, first + len(indices))):
                pixels = self._images[first : first + len(indices)]["pixel"]
            else:
                wanted, positions = np.unique(indices, return_inverse=True)
                pixels = self._images.multi_index[wanted.tolist()]["pixel"][positions]
        except tiledb.TileDBError as error:
            raise StoreError(f"{self._uri}: cannot read images ({error}); rebuild it") from error
        images = np.ascontiguousarray(pixels).reshape(len(indices), *self._shape)
        return images, self._labels[indices]

    def close(self) -> None:
        self._images.close()


class TileDBPartWriter(PartWriter):
    """A writer's images and labels written into its tile-aligned subarray of both dense
    arrays: each write is a fragment of its own, and TileDB lets any number of processes write
    fragments at once (no lock: a fragment is a new folder, named by time and UUID), so writers
    never wait."""

    def __init__(self, path: Path, pixels_shape: tuple[int, ...]) -> None:
        self._uri, self._shape = path / GROUP, pixels_shape
        self._ctx = context(1)

    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        import tiledb

        stop = start + len(images)
        pixels = np.ascontiguousarray(images).reshape(len(images), *self._shape[1:])
        with tiledb.open(str(self._uri / "images"), "w", ctx=self._ctx) as array:
            array[start:stop] = pixels
        with tiledb.open(str(self._uri / "labels"), "w", ctx=self._ctx) as array:
            array[start:stop] = np.asarray(labels, dtype=np.uint8)

    def close(self) -> None:
        self._ctx = None


class TileDBStore(Store):
    """What both implementations share: the group, its metadata, the labels and the filters."""

    format = "tiledb"
    marker = f"{GROUP}/__tiledb_group.tdb"
    codecs = ("raw", "zstd")
    concurrent_readers = False  # TileDB may deadlock in a process forked after it was used

    def stored_codec(self, path: Path) -> str:
        return str(group_metadata(path)["codec"])

    def checksum(self, path: Path) -> str:
        """Of what the group holds (metadata, each array's format version, shape and filters,
        every pixel and label): TileDB names its files by write time and UUID, so two stores
        of the same images never have the same bytes."""
        import tiledb

        described = group_metadata(path)
        digest = hashlib.sha256(json.dumps(described, default=list).encode())
        for name in ("images", "labels"):
            with tiledb.open(str(path / GROUP / name)) as array:
                attribute = array.schema.attr(0)
                filters = [type(each).__name__ for each in attribute.filters]
                digest.update(f"{array.schema.version} {array.shape} {filters}".encode())
                digest.update(np.ascontiguousarray(array[:][attribute.name]).tobytes())
        return digest.hexdigest()

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        import tiledb

        if len(labels) != len(images):
            raise StoreError(f"{len(images)} images but {len(labels)} labels")
        count, shape = len(images), tuple(images.shape[1:])
        pixels_shape = layouts(count, shape)[self.implementation]
        uri, ctx = new_file(path, GROUP), context(workers)
        tiledb.Group.create(str(uri), ctx=ctx)
        filters = [tiledb.ZstdFilter(level=ZSTD_LEVEL)] if self.codec.name == "zstd" else []
        names = ("image", "row", "column", "channel") if len(pixels_shape) == 4 else None
        self._write_array(uri / "images", "pixel", pixels_shape, names, filters, ctx)
        with tiledb.open(str(uri / "images"), "w", ctx=ctx) as array:
            array[:] = np.ascontiguousarray(images).reshape(pixels_shape)
        self._write_array(uri / "labels", "label", (count,), None, [], ctx)
        with tiledb.open(str(uri / "labels"), "w", ctx=ctx) as array:
            array[:] = np.asarray(labels, dtype=np.uint8)
        with tiledb.Group(str(uri), "w", ctx=ctx) as group:
            for name in ("images", "labels"):
                group.add(name, name=name, relative=True)
            group.meta["imgbench"] = json.dumps(
                {"codec": self.codec.name, "shape": list(shape), "count": count}
            )

    @staticmethod
    def _write_array(
        uri: Path,
        attribute: str,
        shape: tuple[int, ...],
        names: tuple[str, ...] | None,
        filters: list[Any],
        ctx: Any,
    ) -> None:
        """Create a dense uint8 array of `shape`, tiles of `TILE_IMAGES` images along the first
        dimension and whole extents along the others."""
        import tiledb

        names = names or ("image", "row", "byte")[: len(shape)]
        dimensions = [
            tiledb.Dim(
                name,
                domain=(0, size - 1),
                tile=min(size, TILE_IMAGES) if axis == 0 else size,
                dtype=np.uint64,
                ctx=ctx,
            )
            for axis, (name, size) in enumerate(zip(names, shape, strict=True))
        ]
        schema = tiledb.ArraySchema(
            domain=tiledb.Domain(*dimensions, ctx=ctx),
            sparse=False,
            attrs=[tiledb.Attr(attribute, dtype=np.uint8, filters=filters, ctx=ctx)],
            ctx=ctx,
        )
        tiledb.Array.create(str(uri), schema, ctx=ctx)

    def open(self, path: Path, *, workers: int | None = None) -> TileDBReader:
        return TileDBReader(path, self.codec, workers)

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """A dense array's domain is fixed when it is created (0 to N-1 here: `write_many` sizes
        it to the images), and a current domain, which TileDB can expand, never reaches past
        it; so the group is written again: the old images read back, a new group of both
        arrays with the longer domain (the store's own layout, tiles and filters) written into a
        folder beside it, and the two folders swapped in one rename (`exchange`)."""
        import tiledb

        described = group_metadata(path)
        shape, count = described["shape"], described["count"]
        labels = check_appended(path / GROUP, shape, described["codec"], self.codec, images, labels)
        with self.open(path) as reader:
            old_images, old_labels = reader.read_many(np.arange(count))
        with tiledb.open(str(path / GROUP / "images")) as array:
            layout = "documented" if array.ndim == 4 else "fast"
        writer = STORES[layout].with_codec(self.codec)
        scratch = Path(tempfile.mkdtemp(prefix=f".{GROUP}.", dir=path))
        try:
            writer.write_many(
                scratch,
                np.concatenate([old_images, images]),
                np.concatenate([old_labels, labels]),
            )
            exchange(scratch / GROUP, path / GROUP)
        except tiledb.TileDBError as error:
            raise StoreError(f"{path / GROUP}: TileDB could not append ({error})") from error
        finally:
            shutil.rmtree(scratch)
        return (
            f"rewrote the group: dense domain fixed at 0..{count - 1}, new arrays of "
            f"0..{count + len(images) - 1} swapped in"
        )

    def part_bounds(self, count: int, parts: int) -> list[tuple[int, int]]:
        """Whole tiles per writer, so that no two fragments write one tile."""
        return aligned_bounds(count, parts, min(count, TILE_IMAGES))

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        """The group, both arrays (no data) and the group's metadata, as `write_many` makes
        them, made in a forked process: a process forked after TileDB ran deadlocked (TileDB
        warns of it), and the parent forks the writers."""
        in_forked_process(f"creating {path / GROUP}", self.create_shared, path, count, image_shape)

    def create_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        """`prepare_shared`'s work, in the process that runs TileDB."""
        import tiledb

        pixels_shape = layouts(count, tuple(image_shape))[self.implementation]
        uri, ctx = new_file(path, GROUP), context(1)
        tiledb.Group.create(str(uri), ctx=ctx)
        filters = [tiledb.ZstdFilter(level=ZSTD_LEVEL)] if self.codec.name == "zstd" else []
        names = ("image", "row", "column", "channel") if len(pixels_shape) == 4 else None
        self._write_array(uri / "images", "pixel", pixels_shape, names, filters, ctx)
        self._write_array(uri / "labels", "label", (count,), None, [], ctx)
        with tiledb.Group(str(uri), "w", ctx=ctx) as group:
            for name in ("images", "labels"):
                group.add(name, name=name, relative=True)
            group.meta["imgbench"] = json.dumps(
                {"codec": self.codec.name, "shape": list(image_shape), "count": count}
            )

    def part_writer(self, path: Path) -> TileDBPartWriter:
        described = group_metadata(path)
        shape = layouts(described["count"], described["shape"])[self.implementation]
        return TileDBPartWriter(path, shape)


class DocumentedTileDBStore(TileDBStore):
    implementation = "documented"


class FastTileDBStore(TileDBStore):
    implementation = "fast"


STORES: dict[str, Store] = {"documented": DocumentedTileDBStore(), "fast": FastTileDBStore()}
