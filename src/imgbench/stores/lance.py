"""Lance (pylance): the store folder holds one Lance dataset, `images.lance`, of the image table
of `imgbench.stores._table` (`idx`, `label`, `image`; the codec and shape in the schema's
metadata), written in Lance file format `FILE_FORMAT`. `lance.dataset("images.lance")` alone
reads it (`.take([3])`, `.to_table()`).

One implementation, `fast`: Lance's documented access (`lance.write_dataset`, `to_table` for a
run of rows, `take` for any other rows) is the one it uses, so a `documented` one would differ
only in how the returned Arrow buffers become images. Raw pixels are a `fixed_size_binary`
column, copied out of the returned buffers straight into place; encoded images are decoded on
every core (`imgbench.parallel`). Lance's own thread pools are capped by the job's threads
(`LANCE_CPU_THREADS`, `LANCE_IO_THREADS`, `imgbench.thread_pools`). `lance` is imported only
where a store is written or read: it warns that it is not fork-safe in every process that forks
after importing it, and finding a store's format (`imgbench.stores.store_of`) imports every
format module.

Measured as `imgbench.stores._table` describes (idle 2-core VM, 2026-11-26, 100,000 raw images):

                               write ms  MiB    bulk ms  batch of 256 ms  one image us
    fast                       1,297     293.2  937      4.8              646
    raw baseline (for scale)   84        293.1  64       0.8              58

Lance's `take` costs about 0.6 ms a call however few rows it takes (1.07 ms for one row at
10,000 images with both cores busy), so it suits batches, not one image per call.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from imgbench.cells import Presentation
from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.stores._table import (
    METADATA_KEY,
    ImageArray,
    check_rows,
    checked_schema,
    gather,
    part_table,
    recorded,
    single_chunk,
    table_of,
    with_count,
)
from imgbench.stores.base import (
    PartWriter,
    Reader,
    Store,
    check_appended,
    checked_indices,
    in_forked_process,
    new_file,
    no_images,
    read_shared_note,
    write_shared_note,
)

if TYPE_CHECKING:
    import lance

PRESENTATION = Presentation(label="Lance", colour="tab:cyan", rank=90)

DATASET = "images.lance"
FILE_FORMAT = "2.2"  # the newest stable Lance file format of pylance 14
CODECS = ("raw", "png", "qoi", "jpeg")
FACTS = {"Lance file format written": FILE_FORMAT}


def open_dataset(path: Path) -> lance.LanceDataset:
    """The store's dataset, after refusing a folder without one or one in another file format."""
    import lance

    uri = path / DATASET
    try:
        dataset = lance.dataset(str(uri))
    except (ValueError, OSError) as error:
        raise StoreError(
            f"{uri}: no readable Lance dataset ({str(error).split(',')[0]}); build the store "
            "before reading it, or rebuild it"
        ) from error
    if dataset.data_storage_version != FILE_FORMAT:
        raise StoreError(
            f"{uri} is in Lance file format {dataset.data_storage_version}; this benchmark "
            f"writes and reads {FILE_FORMAT} (pylance {lance.__version__}), so its numbers would "
            "not describe the same format: rebuild the store"
        )
    return dataset


class LanceReader(Reader):
    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        self._uri = path / DATASET
        self._dataset = open_dataset(path)
        self._meta = checked_schema(self._dataset.schema, self._uri, codec)
        try:
            head = self._dataset.to_table(columns=["idx", "label"])
        except (ValueError, OSError) as error:
            raise self._unreadable(error) from error
        check_rows(head, self._meta, self._uri)
        self._labels = head.column("label").to_numpy()
        self._codec, self._workers = codec, workers

    def __len__(self) -> int:
        return self._meta.count

    def _unreadable(self, error: Exception) -> StoreError:
        return StoreError(f"{self._uri}: Lance cannot read it ({error}); rebuild the store")

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, self._meta.count)
        if len(indices) == 0:
            return no_images(self._meta.shape), np.empty(0, dtype=np.uint8)
        first = int(indices[0])
        try:
            if np.array_equal(indices, np.arange(first, first + len(indices))):
                rows = self._dataset.to_table(columns=["image"], offset=first, limit=len(indices))
            else:
                rows = self._dataset.take(indices, columns=["image"])
        except (ValueError, OSError) as error:
            raise self._unreadable(error) from error
        if rows.num_rows != len(indices) or rows.column("image").null_count:
            raise StoreError(f"{self._uri}: missing or null images; rebuild the store")
        array = ImageArray(single_chunk(rows.column("image")), self._meta.shape)
        positions = np.arange(len(indices))
        images = gather(
            [(array, positions, positions)],
            len(indices),
            self._meta,
            self._codec,
            self._workers,
            lambda position: f"{self._uri} row {indices[position]}",
        )
        return images, self._labels[indices]

    def close(self) -> None:
        self._dataset = None  # type: ignore[assignment]


class LancePartWriter(PartWriter):
    """A writer's part as Lance fragments, written into the dataset's folder with
    `lance.fragment.write_fragments` (Lance's distributed write: data files first, one commit
    later) and described in a part file. Writers take no lock; `finish_shared` commits every
    fragment in image order in one `Overwrite`, which creates the dataset's first version.
    (Concurrent `write_dataset(mode="append")` commits also succeed, Lance retrying each on
    conflict, but in whichever order they land: the rows would not be in image order.)"""

    def __init__(self, path: Path, store: Store) -> None:
        self._path, self._store = path, store

    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        from lance.fragment import write_fragments

        table = part_table(self._store, start, images, labels)
        fragments = write_fragments(
            table, str(self._path / DATASET), data_storage_version=FILE_FORMAT
        )
        described = [fragment.to_json() for fragment in fragments]
        (self._path / f".part-{start:08d}.json").write_text(json.dumps(described))

    def close(self) -> None:
        """Each fragment's files are closed once written."""


class LanceStore(Store):
    format = "lance"
    implementation = "fast"
    marker = DATASET
    codecs = CODECS
    concurrent_readers = False  # Lance is not fork-safe (it says so); reader processes fork

    def owns(self, path: Path) -> bool:
        return (path / DATASET / "_versions").is_dir()

    def stored_codec(self, path: Path) -> str:
        return recorded(open_dataset(path).schema, path / DATASET).codec

    def checksum(self, path: Path) -> str:
        """Of what the dataset holds (file format, schema with our metadata, every row), as an
        Arrow IPC stream: Lance names its files by UUIDs and records write times, so two
        datasets of the same images never have the same bytes."""
        dataset = open_dataset(path)
        table = dataset.to_table().combine_chunks()
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        digest = hashlib.sha256(dataset.data_storage_version.encode())
        digest.update(sink.getvalue())
        return digest.hexdigest()

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        table = table_of(self.codec, images, labels, workers, fixed_size_raw=True)
        uri = new_file(path, DATASET)
        import lance

        lance.write_dataset(table, str(uri), data_storage_version=FILE_FORMAT)

    def open(self, path: Path, *, workers: int | None = None) -> LanceReader:
        return LanceReader(path, self.codec, workers)

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """`lance.write_dataset(mode="append")`: the new rows in a new fragment, committed as a
        new version, the old files untouched; then the schema metadata's count, which an append
        leaves as it was, in another (`update_schema_metadata`). A crash between the two commits
        leaves a version whose count is short, which opening refuses; the one before it is
        still there to check out."""
        import lance

        dataset = open_dataset(path)
        uri = path / DATASET
        meta = checked_schema(dataset.schema, uri, Codec(recorded(dataset.schema, uri).codec))
        labels = check_appended(uri, meta.shape, meta.codec, self.codec, images, labels)
        count, before = meta.count + len(images), dataset.version
        table = table_of(self.codec, images, labels, None, fixed_size_raw=True)
        table = table.set_column(
            table.schema.get_field_index("idx"),
            "idx",
            pa.array(np.arange(meta.count, count, dtype=np.int64)),
        )
        schema = dataset.schema
        try:
            dataset = lance.write_dataset(table.cast(schema), str(uri), mode="append")
            fragments, appended = len(dataset.get_fragments()), dataset.version
            entry = {"codec": meta.codec, "shape": list(meta.shape), "count": count}
            dataset.update_schema_metadata({METADATA_KEY.decode(): json.dumps(entry)})
            last = lance.dataset(str(uri)).version
        except (ValueError, OSError) as error:
            raise StoreError(f"{uri}: Lance could not append ({error})") from error
        return (
            f"new fragment ({fragments} now), version {before} → {appended}; schema "
            f"metadata count updated, version {last}"
        )

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        new_file(path, DATASET)  # refuses a folder holding a store
        write_shared_note(path, shape=list(image_shape))

    def part_writer(self, path: Path) -> LancePartWriter:
        return LancePartWriter(path, self)

    def finish_shared(self, path: Path, count: int) -> None:
        """Commit every writer's fragments, in image order, as the dataset's first version,
        with the schema and metadata `write_many` gives it. The commit runs in a forked
        process: Lance is not fork-safe, and processes forked after the parent ran Lance (the
        next repeat's writers, or the process verifying this store) crashed with SIGSEGV."""
        in_forked_process(f"committing {path / DATASET}", self.commit_parts, path, count)

    def commit_parts(self, path: Path, count: int) -> None:
        """`finish_shared`'s work, in the process that runs Lance."""
        import lance
        from lance.fragment import FragmentMetadata

        shape = read_shared_note(path, remove=True)["shape"]
        parts = sorted(path.glob(".part-*.json"))  # zero-padded starts: image order
        fragments = [
            FragmentMetadata.from_json(json.dumps(described))
            for part in parts
            for described in json.loads(part.read_text())
        ]
        if sum(fragment.num_rows for fragment in fragments) != count:
            raise StoreError(f"{path}: the writers' fragments do not hold {count} images")
        empty = no_images(tuple(shape))  # only the schema of a part is wanted
        schema = with_count(
            part_table(self, 0, empty, np.empty(0, np.uint8)), count, shape, self.codec
        ).schema
        operation = lance.LanceOperation.Overwrite(schema, fragments)
        lance.LanceDataset.commit(str(path / DATASET), operation)
        for part in parts:
            part.unlink()


STORES: dict[str, Store] = {"fast": LanceStore()}
