"""Zarr v3: the store folder holds one Zarr group, `images.zarr`, with two arrays: `images`
(N, H, W, 3) uint8 and `labels` (N,) uint8; the group's `imgbench` attribute records the codec,
image shape and count. `zarr.open_group("images.zarr")["images"][3]` alone reads an image.

Two layouts of `images`, two formats (this module and `imgbench.stores.zarr_chunked`):
- `zarr`, sharded for random access: one image per inner chunk, `SHARD_IMAGES` images per shard
  file (the sharding codec: each shard file holds its chunks and an index of where each lies);
- `zarr_chunked`, for bulk reads: plain chunks of `CHUNK_IMAGES` images, no sharding.
The codec is Zarr's own: `raw` no compressor, `zstd` its Zstandard codec (level
`imgbench.codecs.ZSTD_LEVEL`) on each chunk (each inner chunk when sharded). Both implementations
write and read both layouts:

- `documented` does what zarr-python's documentation shows: `create_array(..., chunks=(1, H, W,
  3), shards=(SHARD_IMAGES, H, W, 3), compressors=None)` (or `chunks=(CHUNK_IMAGES, ...)`),
  `array[:] = images`, and reads a run with `array[start:stop]`, other indices with
  `array.oindex[indices]`;
- `fast` writes and reads the images through TensorStore's zarr3 driver (C++, its own thread
  pools capped at the job's workers), the labels through zarr-python.

Measured on a 2-core VM, 2026-11-26, 10,000 32x32 images, while a benchmark run kept both cores
busy (so only large differences count): writing 5,590 ms with zarr-python against 452 ms with
TensorStore; reading all 4,120 against 273 ms; a sorted batch of 256 random images 289 against
14 ms; one image 4,760 against 408 us. Without sharding, chunks of 1,024 images read all in 45
(zarr-python) and 63 ms (TensorStore) but one image in 3,259 and 825 us, as every read decodes a
whole chunk: the chunked layout suits bulk reads, not a shuffling loader. Measured as
`imgbench.stores._table` describes (idle 2-core VM, 2026-11-26, 100,000 synthetic images, the
raw baseline in the same session):

                                   write ms  MiB    bulk ms  batch of 256 ms  one image us
    zarr fast, raw                 2,504     296.2  1,249    7.8              324
    zarr fast, zstd                3,280     281.5  1,674    9.2              348
    zarr_chunked fast, raw         1,557     295.3  263      39.7             745
    zarr_chunked fast, zstd        994       294.5  323      66.2             1,798
    zarr_chunked documented, raw   268       295.3  427      118.5            2,018
    raw baseline (for scale)       542       293.1  194      0.9              43

(The synthetic images' mild noise leaves Zstandard little to take: 5% at most.)
`zarr` and `tensorstore` are imported where a store is written or read, not when the module is
(finding a store's format imports every format module).
"""

from __future__ import annotations

import json
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

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
    new_file,
    no_images,
    worker_count,
)

PRESENTATION = Presentation(label="Zarr", colour="tab:gray", rank=92)

GROUP = "images.zarr"
SHARD_IMAGES = 1024  # images per shard file (`zarr`)
CHUNK_IMAGES = 1024  # images per chunk file (`zarr_chunked`)
LAYOUTS = {True: ("zarr", "sharded"), False: ("zarr_chunked", "in plain chunks")}  # by sharding


def file_images(count: int, sharded: bool) -> int:
    """Images per file of `images`: a shard's, or a plain chunk's (never more than the store's,
    so a small store's one chunk holds no padding)."""
    return SHARD_IMAGES if sharded else min(count, CHUNK_IMAGES)


def is_sharded(metadata: dict[str, Any]) -> bool:
    """Whether an array's metadata (its `zarr.json`) lays it out in shards."""
    return "sharding_indexed" in {codec.get("name") for codec in metadata.get("codecs", [])}


def codec_names(metadata: dict[str, Any]) -> set[str]:
    """Every codec named in an array's metadata, the sharding codec's inner ones included."""
    names = set()
    for codec in metadata.get("codecs", []):
        names.add(codec["name"])
        names |= codec_names(codec.get("configuration", {}))
    return names


def group_attributes(path: Path) -> dict[str, Any]:
    """The `imgbench` attribute of the store's group, after refusing a folder without one."""
    file = path / GROUP / "zarr.json"
    try:
        group = json.loads(file.read_text())
        described = group["attributes"]["imgbench"]
        shape = tuple(int(size) for size in described["shape"])
        count = int(described["count"])
        codec = str(described["codec"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StoreError(
            f"{path / GROUP}: no Zarr group with an `imgbench` attribute ({error!r}), so not a "
            "store this benchmark built: build it, or rebuild it"
        ) from error
    return {"shape": shape, "count": count, "codec": codec}


def checked_arrays(path: Path, codec: Codec, sharded: bool) -> tuple[dict[str, Any], np.ndarray]:
    """The group's attributes and its labels, after refusing a store of another codec or layout
    or whose arrays have another shape, dtype or compressor than it records."""
    import zarr

    described = group_attributes(path)
    check_codec(path / GROUP, described["codec"], codec)
    count, shape = described["count"], described["shape"]
    try:
        group = zarr.open_group(str(path / GROUP), mode="r")
        found = {name: (array.shape, str(array.dtype)) for name, array in group.arrays()}
        wanted = {"images": ((count, *shape), "uint8"), "labels": ((count,), "uint8")}
        if {name: found.get(name) for name in wanted} != wanted:
            raise StoreError(
                f"{path / GROUP}: arrays {found}, not the {wanted} its `imgbench` attribute "
                "describes: rebuild the store"
            )
        images = group["images"]
        check_layout(path, images.metadata.to_dict(), codec, sharded)
        labels = group["labels"][:]
        check_chunk_files(path / GROUP / "images", count, (images.shards or images.chunks)[0])
    except (KeyError, OSError, ValueError) as error:
        raise StoreError(f"{path / GROUP}: Zarr cannot read it ({error!r}); rebuild it") from error
    return described, np.asarray(labels, dtype=np.uint8)


def check_layout(path: Path, metadata: dict[str, Any], codec: Codec, sharded: bool) -> None:
    """Refuse `images` in the other format's layout, or compressed other than `codec` says."""
    found = is_sharded(metadata)
    if found != sharded:
        other, how = LAYOUTS[found]
        raise StoreError(
            f"{path / GROUP}: its images are {how}, so it is a `{other}` store: open it as one"
        )
    if ("zstd" in codec_names(metadata)) != (codec.name == "zstd"):
        raise StoreError(
            f"{path / GROUP}/images has codecs {sorted(codec_names(metadata))}, not those of "
            f"{codec.name} images: rebuild the store"
        )


def check_chunk_files(array: Path, count: int, per_file: int) -> None:
    """Refuse an array missing a shard or chunk file: Zarr reads a missing chunk as its fill
    value (zeros), which would pass for images."""
    for position in range(-(-count // per_file)):
        file = array / "c" / str(position) / "0" / "0" / "0"
        if not file.is_file():
            raise StoreError(f"{file} is missing: the store is damaged; rebuild it")


class ZarrReader(Reader):
    """Both readers: the checked group, its labels and `read_many`'s index checks."""

    def __init__(self, path: Path, codec: Codec, sharded: bool) -> None:
        self._path = path / GROUP
        described, self._labels = checked_arrays(path, codec, sharded)
        self._count, self._shape = described["count"], described["shape"]

    def __len__(self) -> int:
        return self._count

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, self._count)
        if len(indices) == 0:
            return no_images(self._shape), np.empty(0, dtype=np.uint8)
        first = int(indices[0])
        run = bool(np.array_equal(indices, np.arange(first, first + len(indices))))
        try:
            images = self._read(indices, first, run)
        except (OSError, ValueError, RuntimeError) as error:
            raise StoreError(f"{self._path}: cannot read images ({error}); rebuild it") from error
        return np.ascontiguousarray(images, dtype=np.uint8), self._labels[indices]

    @abstractmethod
    def _read(self, indices: np.ndarray, first: int, run: bool) -> np.ndarray:
        """The images at checked, non-empty `indices`, a `run` from `first` or not."""


class DocumentedZarrReader(ZarrReader):
    def __init__(self, path: Path, codec: Codec, sharded: bool) -> None:
        import zarr

        super().__init__(path, codec, sharded)
        self._images = zarr.open_array(str(self._path / "images"), mode="r")

    def _read(self, indices: np.ndarray, first: int, run: bool) -> np.ndarray:
        if run:
            return self._images[first : first + len(indices)]
        return self._images.oindex[indices]

    def close(self) -> None:
        self._images = None


class FastZarrReader(ZarrReader):
    def __init__(self, path: Path, codec: Codec, sharded: bool, workers: int | None) -> None:
        import tensorstore

        super().__init__(path, codec, sharded)
        try:
            self._images = tensorstore.open(
                {
                    "driver": "zarr3",
                    "kvstore": {"driver": "file", "path": str(self._path / "images")},
                },
                read=True,
                context=tensorstore_context(workers),
            ).result()
        except ValueError as error:
            raise StoreError(
                f"{self._path}: TensorStore cannot open it ({error}); rebuild"
            ) from error

    def _read(self, indices: np.ndarray, first: int, run: bool) -> np.ndarray:
        if run:
            return self._images[first : first + len(indices)].read().result()
        return self._images[indices].read().result()

    def close(self) -> None:
        self._images = None


def tensorstore_context(workers: int | None) -> Any:
    """A TensorStore context whose copying and file I/O use at most the job's workers."""
    import tensorstore

    threads = worker_count(workers)
    return tensorstore.Context(
        {"data_copy_concurrency": {"limit": threads}, "file_io_concurrency": {"limit": threads}}
    )


class ZarrPartWriter(PartWriter):
    """A writer's images and labels into its chunk-aligned region of the shared arrays
    (`part_bounds`): each writer writes whole shard or chunk files no other writer touches,
    so writers take no lock and never wait. `images` is how it writes pixels (zarr-python or
    TensorStore); the labels go through zarr-python, as `write_many` writes them."""

    def __init__(self, path: Path, write_images: Any) -> None:
        import zarr

        self._labels = zarr.open_array(str(path / GROUP / "labels"), mode="r+")
        self._write_images = write_images

    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        self._write_images(start, images)
        self._labels[start : start + len(labels)] = np.asarray(labels, dtype=np.uint8)

    def close(self) -> None:
        self._labels = self._write_images = None


class ZarrStore(Store):
    """What both implementations share: the group, its attributes and the labels array."""

    format = "zarr"
    marker = f"{GROUP}/zarr.json"
    codecs = ("raw", "zstd")
    sharded: ClassVar[bool] = True  # the layout of `images`: this format's (see LAYOUTS)

    def owns(self, path: Path) -> bool:
        try:
            metadata = json.loads((path / GROUP / "images" / "zarr.json").read_text())
        except (OSError, ValueError):
            return super().owns(path)  # not readable: let opening say what is wrong
        return is_sharded(metadata) == self.sharded

    def stored_codec(self, path: Path) -> str:
        return str(group_attributes(path)["codec"])

    def _group(self, path: Path, images: np.ndarray, labels: np.ndarray) -> Any:
        """A new group with the labels and the `imgbench` attribute, for `images` to go into."""
        import zarr

        if len(labels) != len(images):
            raise StoreError(f"{len(images)} images but {len(labels)} labels")
        group = zarr.open_group(str(new_file(path, GROUP)), mode="w-")
        group.attrs["imgbench"] = {
            "codec": self.codec.name,
            "shape": list(images.shape[1:]),
            "count": len(images),
        }
        group.create_array("labels", data=np.asarray(labels, dtype=np.uint8), compressors=None)
        return group

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """Zarr arrays grow: `images` is resized (its `zarr.json` rewritten) and the new rows
        written (`grow_images`: the implementation's library), which rewrites the last
        shard or chunk file if it was partly filled and adds new ones; then `labels` the same
        way (zarr-python), then the group's count. A crash before the count is written leaves
        arrays longer than it says, which opening refuses."""
        import zarr

        described = group_attributes(path)
        shape, count = described["shape"], described["count"]
        labels = check_appended(path / GROUP, shape, described["codec"], self.codec, images, labels)
        checked_arrays(path, self.codec, self.sharded)  # layout and files as `open` requires
        try:
            group = zarr.open_group(str(path / GROUP), mode="r+")
            array = group["images"]
            per_file = (array.shards or array.chunks)[0]
            self.grow_images(path / GROUP / "images", count, np.ascontiguousarray(images))
            grown = count + len(images)
            group["labels"].resize((grown,))
            if len(images):
                group["labels"][count:] = labels
            group.attrs["imgbench"] = {**described, "shape": list(shape), "count": grown}
        except (KeyError, OSError, ValueError, RuntimeError) as error:
            raise StoreError(f"{path / GROUP}: Zarr could not append ({error!r})") from error
        files = -(-count // per_file)
        rewritten = 1 if count % per_file and len(images) else 0
        added = -(-grown // per_file) - files
        kind = "shard" if self.sharded else "chunk"
        return (
            f"arrays resized (zarr.json rewritten); {rewritten} {kind} file(s) of images "
            f"rewritten, {added} new"
        )

    @abstractmethod
    def grow_images(self, array: Path, count: int, images: np.ndarray) -> None:
        """Resize the images array at `array` from `count` images to hold `images` after them,
        and write them there."""

    def part_bounds(self, count: int, parts: int) -> list[tuple[int, int]]:
        """Whole shard or chunk files per writer: two writers of one file would each rewrite
        it, and the last one would win."""
        return aligned_bounds(count, parts, file_images(count, self.sharded))

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        """The group, its attribute and both arrays, empty, as `documented` creates them (the
        labels in chunks of the images' files, so that writers share none), with zarr-python:
        TensorStore aborts a process forked after it ran, and the writers are forked."""
        import zarr
        from zarr.codecs import ZstdCodec

        per_file = file_images(count, self.sharded)
        group = zarr.open_group(str(new_file(path, GROUP)), mode="w-")
        group.attrs["imgbench"] = {
            "codec": self.codec.name,
            "shape": list(image_shape),
            "count": count,
        }
        config = {"write_empty_chunks": True}  # a black image is data, not a missing chunk
        group.create_array(
            "labels",
            shape=(count,),
            dtype="uint8",
            chunks=(per_file,),
            compressors=None,
            config=config,
        )
        group.create_array(
            "images",
            shape=(count, *image_shape),
            dtype="uint8",
            chunks=(1, *image_shape) if self.sharded else (per_file, *image_shape),
            shards=(per_file, *image_shape) if self.sharded else None,
            compressors=ZstdCodec(level=ZSTD_LEVEL) if self.codec.name == "zstd" else None,
            config=config,
        )


class DocumentedZarrStore(ZarrStore):
    implementation = "documented"

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        from zarr.codecs import ZstdCodec

        group = self._group(path, images, labels)
        shape = images.shape[1:]
        per_file = (file_images(len(images), self.sharded), *shape)
        array = group.create_array(
            "images",
            shape=images.shape,
            dtype="uint8",
            chunks=(1, *shape) if self.sharded else per_file,
            shards=per_file if self.sharded else None,
            compressors=ZstdCodec(level=ZSTD_LEVEL) if self.codec.name == "zstd" else None,
            config={"write_empty_chunks": True},  # a black image is data, not a missing chunk
        )
        array[:] = images

    def open(self, path: Path, *, workers: int | None = None) -> DocumentedZarrReader:
        return DocumentedZarrReader(path, self.codec, self.sharded)

    def grow_images(self, array: Path, count: int, images: np.ndarray) -> None:
        """`Array.resize`, then the new rows assigned (zarr-python; black images stored)."""
        import zarr

        opened = zarr.open_array(str(array), mode="r+").with_config({"write_empty_chunks": True})
        opened.resize((count + len(images), *opened.shape[1:]))
        if len(images):
            opened[count:] = images

    def part_writer(self, path: Path) -> ZarrPartWriter:
        import zarr

        images = zarr.open_array(str(path / GROUP / "images"), mode="r+")

        def write_images(start: int, pixels: np.ndarray) -> None:
            images[start : start + len(pixels)] = pixels

        return ZarrPartWriter(path, write_images)


class FastZarrStore(ZarrStore):
    implementation = "fast"
    concurrent_readers = False  # TensorStore aborts in a reader forked after the parent used it

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        import tensorstore

        self._group(path, images, labels)
        shape = list(images.shape)
        codecs: list[dict[str, Any]] = [{"name": "bytes"}]
        if self.codec.name == "zstd":
            codecs.append(
                {"name": "zstd", "configuration": {"level": ZSTD_LEVEL, "checksum": False}}
            )
        if self.sharded:
            index = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]
            sharding = {"chunk_shape": [1, *shape[1:]], "codecs": codecs, "index_codecs": index}
            codecs = [{"name": "sharding_indexed", "configuration": sharding}]
        per_file = [file_images(len(images), self.sharded), *shape[1:]]
        spec = {
            "driver": "zarr3",
            "kvstore": {"driver": "file", "path": str(path / GROUP / "images")},
            "metadata": {
                "shape": shape,
                "data_type": "uint8",
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": per_file}},
                "codecs": codecs,
            },
            "create": True,
            "store_data_equal_to_fill_value": True,  # a black image is data, not a missing chunk
        }
        array = tensorstore.open(spec, context=tensorstore_context(workers)).result()
        array.write(images).result()

    def open(self, path: Path, *, workers: int | None = None) -> FastZarrReader:
        return FastZarrReader(path, self.codec, self.sharded, workers)

    def grow_images(self, array: Path, count: int, images: np.ndarray) -> None:
        """TensorStore's `resize` (expand only), then the new rows written (black images stored,
        as `write_many` stores them)."""
        import tensorstore

        spec = {
            "driver": "zarr3",
            "kvstore": {"driver": "file", "path": str(array)},
            "store_data_equal_to_fill_value": True,
        }
        opened = tensorstore.open(spec, context=tensorstore_context(None)).result()
        grown = count + len(images)
        opened = opened.resize(exclusive_max=[grown, *opened.shape[1:]], expand_only=True).result()
        if len(images):
            opened[count:grown].write(images).result()

    def part_writer(self, path: Path) -> ZarrPartWriter:
        import tensorstore

        spec = {
            "driver": "zarr3",
            "kvstore": {"driver": "file", "path": str(path / GROUP / "images")},
        }
        images = tensorstore.open(
            spec, open=True, write=True, context=tensorstore_context(1)
        ).result()

        def write_images(start: int, pixels: np.ndarray) -> None:
            images[start : start + len(pixels)].write(pixels).result()

        return ZarrPartWriter(path, write_images)


STORES: dict[str, Store] = {"documented": DocumentedZarrStore(), "fast": FastZarrStore()}
