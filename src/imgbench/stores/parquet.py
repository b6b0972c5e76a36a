"""Parquet: one file, `images.parquet`, holding the image table of `imgbench.stores._table`
(`idx`, `label`, `image`; the codec and shape in the schema's metadata), written and read with
pyarrow. `pyarrow.parquet.read_table("images.parquet")` alone reads it, as does any Parquet
reader (DuckDB, Spark, pandas).

`documented` writes with `pyarrow.parquet.write_table(table, path)` and its defaults (one row
group of up to 1 Mi rows, 1 MiB pages, Snappy compression, dictionary encoding, statistics),
from a table built of Python bytes objects; it reads as pyarrow's documentation shows, the whole
table at once (`pq.read_table`, memory-mapped) when the store is opened, then `Table.take` of the
asked rows and each value of `to_pylist()` decoded in the calling process.

`fast` writes uncompressed, without dictionaries or statistics, in row groups of
`ROW_GROUP_ROWS` images (raw pixels as a `FIXED_LEN_BYTE_ARRAY` column, encoded images made on
every core), so reading one image decodes its row group only. It opens the file memory-mapped,
reads the labels once, and reads the row groups a read needs (`ParquetFile.read_row_groups`,
one call), keeping the last one for the next read; raw pixels are copied from the decoded
groups straight into place, encoded images decoded on every core.

Measured as `imgbench.stores._table` describes (idle 2-core VM, 2026-11-26, 100,000 raw images):

    fast, rows per row group   write ms  MiB    bulk ms  batch of 256 ms  one image us
    64                         1,008     294.5  412      35.6             760
    256 (kept)                 187       294.2  354      44.6             659
    1,024                      275       294.1  253      75.8             1,232
    8,192                      220       294.1  260      71.0             5,592
    65,536                     211       294.1  387      62.4             11,892
    documented (defaults)      1,330     294.6  1,340    10.1             952
    raw baseline (for scale)   84        293.1  64       0.8              58

A read decodes whole row groups, so one image costs its group's decoding: 256 rows keep that
near the per-call cost of pyarrow's reader while bulk reads stay within 1.4x of the best.
`documented` loads the whole table when it opens (1.3 s of its "one image" runs), after which a
batch is a `take` from memory, which is why its batches beat `fast`'s; a loader that cannot hold
the table reads row group by row group, as `fast` does.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from imgbench.cells import Presentation
from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.stores._table import (
    DocumentedTableStore,
    ImageArray,
    TableReader,
    TableStore,
    check_rows,
    checked_schema,
    gather,
    single_chunk,
    table_of,
    unreadable,
)
from imgbench.stores.base import Store, existing_file

PRESENTATION = Presentation(label="Parquet", colour="tab:olive", rank=80)

MARKER = "images.parquet"
ROW_GROUP_ROWS = 256  # see the module docstring
WHAT = "Parquet"


class FastParquetReader(TableReader):
    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        file = existing_file(path, MARKER)
        try:
            self._parquet = pq.ParquetFile(str(file), memory_map=True)
            super().__init__(file, checked_schema(self._parquet.schema_arrow, file, codec), WHAT)
            head = self._parquet.read(columns=["idx", "label"], use_threads=False)
            check_rows(head, self._meta, file)
            self._labels = head.column("label").to_numpy()
        except pa.ArrowException as error:
            raise unreadable(file, WHAT, error) from error
        groups = self._parquet.metadata.num_row_groups
        sizes = [self._parquet.metadata.row_group(group).num_rows for group in range(groups)]
        self._starts = np.cumsum([0, *sizes])
        self._codec, self._workers = codec, workers
        self._kept: tuple[int, ImageArray] | None = None  # the last group read, for the next read

    def _read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        groups = np.searchsorted(self._starts, indices, side="right") - 1
        order = np.argsort(groups, kind="stable")
        needed, counts = np.unique(groups[order], return_counts=True)
        positions = np.split(order, np.cumsum(counts)[:-1])
        arrays = self._groups(needed.tolist())
        parts = [
            (array, where, indices[where] - self._starts[group])
            for group, array, where in zip(needed.tolist(), arrays, positions, strict=True)
        ]
        images = gather(
            parts,
            len(indices),
            self._meta,
            self._codec,
            self._workers,
            lambda position: f"{self._file} row {indices[position]}",
        )
        return images, self._labels[indices]

    def _groups(self, needed: list[int]) -> list[ImageArray]:
        """The image column of each of the `needed` row groups, read in one call (the group
        kept from the previous read is not read again if it is the only one needed)."""
        if self._kept is not None and needed == [self._kept[0]]:
            return [self._kept[1]]
        column = self._parquet.read_row_groups(needed, columns=["image"], use_threads=False)
        images = column.column("image")
        if images.null_count:
            raise StoreError(f"{self._file}: null images: the store is damaged; rebuild it")
        sizes = [int(self._starts[group + 1] - self._starts[group]) for group in needed]
        bounds = np.cumsum([0, *sizes]).tolist()
        arrays = [
            ImageArray(single_chunk(images.slice(start, stop - start)), self._meta.shape)
            for start, stop in itertools.pairwise(bounds)
        ]
        self._kept = (needed[-1], arrays[-1])
        return arrays

    def close(self) -> None:
        self._kept = None
        self._parquet.close()


class ParquetStore(TableStore):
    """What both implementations share: the file and how its schema is read."""

    format = "parquet"
    marker = MARKER
    what = WHAT

    def read_schema(self, file: Path) -> pa.Schema:
        return pq.read_schema(str(file))


class DocumentedParquetStore(ParquetStore, DocumentedTableStore):
    def write_table(self, table: pa.Table, file: str) -> None:
        pq.write_table(table, file)

    def load_table(self, file: str) -> pa.Table:
        return pq.read_table(file, memory_map=True)


class FastParquetStore(ParquetStore):
    implementation = "fast"

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        table = table_of(self.codec, images, labels, workers, fixed_size_raw=True)
        self.write_whole(path, lambda file: self.write_table(table, file))

    def open(self, path: Path, *, workers: int | None = None) -> FastParquetReader:
        return FastParquetReader(path, self.codec, workers)

    def rewrite(self, file: Path, partial: Path, schema: pa.Schema, added: pa.Table) -> str:
        """Each old row group decoded and written again as a row group of the same rows, with
        `write_many`'s options; the new rows in row groups of `ROW_GROUP_ROWS`."""
        old = pq.ParquetFile(str(file), memory_map=True)
        groups = old.metadata.num_row_groups
        try:
            with pq.ParquetWriter(
                str(partial),
                schema,
                compression="none",
                use_dictionary=False,
                write_statistics=False,
            ) as writer:
                for group in range(groups):
                    rows = old.read_row_group(group, use_threads=False)
                    writer.write_table(rows.cast(schema), row_group_size=ROW_GROUP_ROWS)
                writer.write_table(added, row_group_size=ROW_GROUP_ROWS)
        finally:
            old.close()
        return (
            f"rewrote the whole file: {groups} row group(s) re-written, {len(added)} row(s) added"
        )

    def write_table(self, table: pa.Table, file: str) -> None:
        pq.write_table(
            table,
            file,
            row_group_size=ROW_GROUP_ROWS,
            compression="none",
            use_dictionary=False,
            write_statistics=False,
        )


STORES: dict[str, Store] = {"documented": DocumentedParquetStore(), "fast": FastParquetStore()}
