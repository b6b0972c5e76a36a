"""Arrow IPC (Feather v2): one file, `images.arrow`, holding the image table of
`imgbench.stores._table` (`idx`, `label`, `image`; the codec and shape in the schema's metadata).
`pyarrow.feather.read_table("images.arrow")` alone reads it; so does any Arrow IPC reader.

`documented` does what pyarrow's Feather documentation shows: builds the table from Python
bytes objects (`pa.table({...})`), writes it with `pyarrow.feather.write_feather` (its defaults:
LZ4-compressed record batches of 65,536 rows), reads it with `feather.read_table(...,
memory_map=True)`, takes the asked rows (`Table.take`) and decodes each value of
`to_pylist()` in the calling process.

`fast` writes one uncompressed record batch (`pyarrow.ipc.new_file`), raw pixels as a
`fixed_size_binary` column sharing the images' buffer, encoded images (made on every core) as
`large_binary`. It reads the file memory-mapped, zero-copy: raw images are one NumPy view of the
column's buffer, indexed by the asked rows; encoded ones are memoryview slices at the column's
offsets, decoded on every core (`imgbench.parallel`; the forked decoders inherit the mapping).

Measured as `imgbench.stores._table` describes (idle 2-core VM, 2026-11-26, 100,000 raw images):

                               write ms  MiB    bulk ms  batch of 256 ms  one image us
    fast                       101       293.8  81       0.3              18.9
    documented                 828       293.8  1,049    48.4             45,164
    raw baseline (for scale)   84        293.1  64       0.8              58

`documented`'s `Table.take` on its LZ4-compressed 65,536-row record batches costs about 45 ms a
call whatever it takes, so a loader reading one image per call through it gets some twenty images
a second; `fast`'s memory-mapped view serves a batch faster than the raw baseline's `preadv`s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc

from imgbench.cells import Presentation
from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.stores._table import (
    DocumentedTableStore,
    ImageColumns,
    TableReader,
    TableStore,
    checked_schema,
    table_of,
    unreadable,
)
from imgbench.stores.base import Store, existing_file

PRESENTATION = Presentation(label="Arrow IPC", colour="tab:pink", rank=70)

MARKER = "images.arrow"
WHAT = "Arrow IPC"


class FastArrowReader(TableReader):
    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        file = existing_file(path, MARKER)
        self._source = pa.memory_map(str(file), "r")
        try:
            table = ipc.open_file(self._source).read_all()
            super().__init__(file, checked_schema(table.schema, file, codec), WHAT)
            self._columns = ImageColumns(table, self._meta, file, codec)
        except pa.ArrowException as error:
            self._source.close()
            raise unreadable(file, WHAT, error) from error
        except StoreError:
            self._source.close()
            raise
        self._workers = workers

    def _read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._columns.read(indices, self._workers)

    def close(self) -> None:
        self._columns = None  # type: ignore[assignment]  # views of the mapping go first
        self._source.close()


class ArrowStore(TableStore):
    """What both implementations share: the file and how its schema is read."""

    format = "arrow"
    marker = MARKER
    what = WHAT

    def read_schema(self, file: Path) -> pa.Schema:
        with pa.memory_map(str(file), "r") as source:
            return ipc.open_file(source).schema


class DocumentedArrowStore(ArrowStore, DocumentedTableStore):
    def write_table(self, table: pa.Table, file: str) -> None:
        feather.write_feather(table, file)

    def load_table(self, file: str) -> pa.Table:
        return feather.read_table(file, memory_map=True)


class FastArrowStore(ArrowStore):
    implementation = "fast"

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        table = table_of(self.codec, images, labels, workers, fixed_size_raw=True)
        self.write_whole(path, lambda file: self.write_table(table, file))

    def open(self, path: Path, *, workers: int | None = None) -> FastArrowReader:
        return FastArrowReader(path, self.codec, workers)

    def rewrite(self, file: Path, partial: Path, schema: pa.Schema, added: pa.Table) -> str:
        """The old record batches copied as they are from the mapped file, then one new one."""
        with (
            pa.memory_map(str(file), "r") as source,
            pa.OSFile(str(partial), "wb") as sink,
            ipc.new_file(sink, schema) as writer,
        ):
            old = ipc.open_file(source)
            for number in range(old.num_record_batches):
                batch = old.get_batch(number)
                writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=schema))
            writer.write_table(added)
            batches = old.num_record_batches
        return (
            f"rewrote the whole file: {batches} record batch(es) copied, {len(added)} row(s) added"
        )

    def write_table(self, table: pa.Table, file: str) -> None:
        """One uncompressed record batch (a joined table's chunks combined first)."""
        table = table.combine_chunks()
        with pa.OSFile(file, "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)


STORES: dict[str, Store] = {"documented": DocumentedArrowStore(), "fast": FastArrowStore()}
