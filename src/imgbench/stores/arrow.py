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
"""

from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc

from imgbench.cells import Presentation
from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.stores._table import (
    ImageColumns,
    TableMeta,
    check_rows,
    checked_schema,
    metadata,
    recorded,
    table_of,
)
from imgbench.stores.base import Reader, Store, checked_indices, no_images

PRESENTATION = Presentation(label="Arrow IPC", colour="tab:pink", rank=70)

MARKER = "images.arrow"
CODECS = ("raw", "png", "qoi", "jpeg")


def store_file(path: Path) -> Path:
    file = path / MARKER
    if not file.is_file():
        raise StoreError(f"{file}: no such file; build the store before reading it")
    return file


def unreadable(file: Path, error: Exception) -> StoreError:
    return StoreError(
        f"{file}: not a readable Arrow IPC file ({error}); the store is damaged or is not one "
        "this benchmark built: rebuild it"
    )


def new_store_file(path: Path) -> Path:
    """The file to create in `path`; refuses to overwrite an existing store."""
    path.mkdir(parents=True, exist_ok=True)
    file = path / MARKER
    if file.exists():
        raise StoreError(f"{file} already exists: write a store into an empty or missing folder")
    return file


class ArrowReader(Reader):
    """Both readers: the checked table and its length."""

    def __init__(self, file: Path, meta: TableMeta) -> None:
        self._file, self._meta = file, meta

    def __len__(self) -> int:
        return self._meta.count

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, self._meta.count)
        if len(indices) == 0:
            return no_images(self._meta.shape), np.empty(0, dtype=np.uint8)
        return self._read(indices)

    @abstractmethod
    def _read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`read_many` of checked, non-empty indices."""


class FastArrowReader(ArrowReader):
    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        file = store_file(path)
        self._source = pa.memory_map(str(file), "r")
        try:
            table = ipc.open_file(self._source).read_all()
            super().__init__(file, checked_schema(table.schema, file, codec))
            self._columns = ImageColumns(table, self._meta, file, codec)
        except pa.ArrowException as error:
            self._source.close()
            raise unreadable(file, error) from error
        except StoreError:
            self._source.close()
            raise
        self._workers = workers

    def _read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._columns.read(indices, self._workers)

    def close(self) -> None:
        self._columns = None  # type: ignore[assignment]  # views of the mapping go first
        self._source.close()


class DocumentedArrowReader(ArrowReader):
    def __init__(self, path: Path, codec: Codec) -> None:
        file = store_file(path)
        try:
            self._table = feather.read_table(str(file), memory_map=True)
        except pa.ArrowException as error:
            raise unreadable(file, error) from error
        super().__init__(file, checked_schema(self._table.schema, file, codec))
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


class ArrowStore(Store):
    """What both implementations share: the file, the codecs and the codec the schema records."""

    format = "arrow"
    marker = MARKER
    codecs = CODECS

    def stored_codec(self, path: Path) -> str:
        file = store_file(path)
        try:
            with pa.memory_map(str(file), "r") as source:
                return recorded(ipc.open_file(source).schema, file).codec
        except pa.ArrowException as error:
            raise unreadable(file, error) from error


class DocumentedArrowStore(ArrowStore):
    implementation = "documented"

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        table = pa.table(
            {
                "idx": np.arange(len(images), dtype=np.int64),
                "label": np.asarray(labels, dtype=np.uint8),
                "image": [self.codec.encode(image) for image in images],
            }
        )
        table = table.replace_schema_metadata(metadata(self.codec, images))
        feather.write_feather(table, str(new_store_file(path)))

    def open(self, path: Path, *, workers: int | None = None) -> DocumentedArrowReader:
        return DocumentedArrowReader(path, self.codec)


class FastArrowStore(ArrowStore):
    implementation = "fast"

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        table = table_of(self.codec, images, labels, workers, fixed_size_raw=True)
        file = new_store_file(path)
        partial = file.with_name(f"{file.name}.partial")
        with pa.OSFile(str(partial), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(partial, file)

    def open(self, path: Path, *, workers: int | None = None) -> FastArrowReader:
        return FastArrowReader(path, self.codec, workers)


STORES: dict[str, Store] = {"documented": DocumentedArrowStore(), "fast": FastArrowStore()}
