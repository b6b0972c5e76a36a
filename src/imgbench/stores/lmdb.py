"""LMDB: one environment, one key per image (its zero-padded index, so keys sort in image order).

`tutorial` is the Real Python tutorial's code path: each value is a pickled `CifarImage` (the
tutorial's `CIFAR_Image`: pixel bytes, size, channels, label), all put in one write transaction
with LMDB's defaults (sync on commit, readahead) and a map of ten times the pixel bytes; reads
`get` and unpickle one key at a time. The reader runs in another job than the writer, so it never
trusts the pickles: `CifarImageUnpickler` resolves only `CifarImage` and the two NumPy names a NumPy
scalar label needs, and refuses anything else with `UnsafePickleError`.

`fast` stores the label byte then the image's bytes in its codec (`imgbench.codecs`; raw pixels
by default): nothing to unpickle on read and nothing to trust. All keys go in with
`putmulti(append=True)` in one transaction, without syncing (the caller times durability
itself); a `meta` record (JSON count, shape and codec, sorting after every index key) tells the
two kinds of store apart. Encoded values are encoded on every core before the transaction and
decoded on every core after it (`imgbench.parallel`). For raw values a run of indices walks a
cursor and copies each value's pixels into a preallocated array through memoryview slices (twice
as fast as `np.frombuffer` rows), the labels into a bytearray.

Measured at 100,000 images on 2 cores (medians, warm): that loop 143-147 ms against 154-174 ms for
a NumPy label array per row; C-level `map`/`deque` loops 280-330 ms; two forked readers writing
into shared memory 280-420 ms, because faulting in 300 MB of shared anonymous memory costs 180-225
ms against 60-70 ms private. `writemap=True` on write: 0.057 against 0.069 s at 10,000 images but
no faster at 100,000, and it makes the file as big as the map; not kept. `buffers=False`: no
difference. `readahead=False` (no readahead on the map): the same warm, 7x faster for a cold
single image (0.27 against 2 ms) but 9x slower for a cold in-order read (12.5 against 1.35 s),
which is the read this benchmark times cold; LMDB's default is kept.

The restricted unpickler costs 0.3-0.6 us per value over plain `pickle.loads` (7.7 us; medians
of 15 over 10,000 values), so the tutorial's numbers are its own. (All measured on a 2-core VM,
ext4, while writing commits 1b879b1 and 6afdf9b.)

Random access (issue 17): `fast` reads raw values in one read-only transaction begun at open and
kept until `close`, with `buffers=True` (each value a memoryview of LMDB's map, copied at once into
a new array, so nothing returned points into the map): `reader[i]` is a `get` and one copy, a random
batch a `get` per index copied through memoryview slices as above. Warm, 100,000 images, measured as
`imgbench.stores.raw` says, old and new code in turn (load average 0.4-0.6, 2026-11-26): `reader[i]`
3.8-4.6 us an image against 40-41 us when each began its own transaction through `read_many`, 0.95
of `mm[i].copy()`; a batch of 256 0.77-0.80 ms against 0.91-0.99, 3.4-3.7 times `mm[idx]` against
4.4-4.7, of which the 256 `get`s alone take 2x `mm[idx]` (a B-tree descent each, then the value's
page). Lost: two threads sharing the `get`s (the GIL: 208-294 against 163-202 ms for 100,000
`get`s); joining the batch's values (`b"".join`) and splitting them with NumPy, up to a quarter
faster when the joined bytes came from the heap but 2.0-2.3 ms when malloc mapped them afresh and
the VM faulted their pages in one by one (joined 40 at a time, within the heap: no faster than the
loop); `Cursor.getmulti` and looking the keys up in sorted order, no faster; for one image
`np.ndarray(buffer=value).copy()` or `np.frombuffer`, 5-30% slower than `np.empty` and a memoryview
copy. Keys are built with `b"%08d" %` (130-250 ns; an encoded f-string 330-615 ns). With its
transaction kept, a reader is for one thread at a time, as an LMDB transaction is. A process forked
while a reader is open reads through the inherited reader as before (`lock=False`: no reader slot to
share; py-lmdb frees nothing of the parent's in the child) but cannot open the store itself until
the parent closes it (py-lmdb refuses a second environment on the same files in one process), so the
pipeline's reader processes open the store after the parent closed its reader, each using only its
own environment, as LMDB requires.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import lmdb
import numpy as np

from imgbench import allow_list_pickle
from imgbench.cells import Presentation
from imgbench.codecs import Codec
from imgbench.errors import StoreError, UnsafePickleError
from imgbench.parallel import decode_many, encode_many
from imgbench.stores.base import (
    PartWriter,
    Reader,
    Store,
    check_appended,
    check_codec,
    checked_indices,
    megabytes,
    no_images,
    read_shared_note,
    write_shared_note,
)

PRESENTATION = Presentation(label="LMDB", colour="tab:orange", rank=20)
MARKER = "data.mdb"
META_KEY = b"meta"  # sorts after every zero-padded index key
PAGE_BYTES = 4096


def image_key(index: int) -> bytes:
    return b"%08d" % index  # a third of the time of an f-string encoded


def is_run(indices: np.ndarray) -> bool:
    """True when indices are consecutive ascending, so one cursor walk serves them."""
    return len(indices) > 0 and bool(np.all(np.diff(indices) == 1))


def has_meta(path: Path) -> bool | None:
    """Whether the LMDB environment at `path` holds a `meta` record; None if it is not one."""
    if not (path / MARKER).is_file():
        return None
    try:
        with lmdb.open(str(path), readonly=True, lock=False) as env, env.begin() as txn:
            return txn.get(META_KEY) is not None
    except lmdb.Error:
        return None


class CifarImage:
    """The tutorial's `CIFAR_Image`: one image's pixel bytes, size, channels and label."""

    def __init__(self, image: np.ndarray, label: object) -> None:
        self.channels = image.shape[2]
        self.size = image.shape[:2]
        self.image = image.tobytes()
        self.label = label

    def get_image(self) -> np.ndarray:
        return np.frombuffer(self.image, dtype=np.uint8).reshape(*self.size, self.channels)


class CifarImageUnpickler(allow_list_pickle.AllowListUnpickler):
    """Builds a `CifarImage` and what pickle needs for a NumPy scalar label, nothing else."""

    allowed = {
        (__name__, "CifarImage"): CifarImage,
        ("numpy", "dtype"): np.dtype,
        ("numpy._core.multiarray", "scalar"): np._core.multiarray.scalar,
        ("numpy.core.multiarray", "scalar"): np._core.multiarray.scalar,  # NumPy 1 pickles
    }
    refusal = "refused to load global {module}.{name}: only a CifarImage is allowed"


def load_cifar_image(value: bytes) -> CifarImage:
    """Unpickle one tutorial value, allowing nothing but a `CifarImage` to be built."""
    item = allow_list_pickle.load(
        CifarImageUnpickler, io.BytesIO(value), "an LMDB value", damaged=StoreError
    )
    if not isinstance(item, CifarImage):
        raise UnsafePickleError(f"an LMDB value holds a {type(item).__name__}, not a CifarImage")
    return item


def open_environment(path: Path) -> lmdb.Environment:
    """The store's environment, read-only and without a lock file (readers never write)."""
    try:
        return lmdb.open(str(path), readonly=True, lock=False)
    except lmdb.Error as error:
        raise StoreError(f"{path}: cannot open the LMDB environment ({error})") from error


class TutorialLmdbReader(Reader):
    def __init__(self, path: Path) -> None:
        self._env = open_environment(path)
        self._count: int = self._env.stat()["entries"]

    def __len__(self) -> int:
        return self._count

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, self._count)
        images, labels = [], []
        with self._env.begin() as txn:
            for index in indices:
                data = txn.get(image_key(int(index)))
                if data is None:
                    raise StoreError(f"image {index} is missing from this LMDB store")
                cifar_image = load_cifar_image(data)
                images.append(cifar_image.get_image())
                labels.append(cifar_image.label)
        return (np.stack(images) if images else no_images()), np.array(labels, dtype=np.uint8)

    def close(self) -> None:
        self._env.close()


def put_resizing(env: lmdb.Environment, put: Callable[[lmdb.Transaction], None]) -> str:
    """Run `put` in one write transaction; when LMDB reports the map full, double the map size
    (`set_mapsize`, no transaction open) and run it again. Returns what that took."""
    first = size = env.info()["map_size"]
    raised = 0
    while True:
        try:
            with env.begin(write=True) as txn:
                put(txn)
            break
        except lmdb.MapFullError:
            raised += 1
            size *= 2
            env.set_mapsize(size)
    if raised:
        return f"map full: map_size raised {raised} time(s), {megabytes(first)} → {megabytes(size)}"
    return f"map had room (map_size {megabytes(first)}): no resize"


def open_for_append(path: Path, map_size: int) -> lmdb.Environment:
    """The store's environment opened for writing with `map_size` (0: the size it records)."""
    if not (path / MARKER).is_file():
        raise StoreError(f"{path}: no LMDB environment ({MARKER}); build the store first")
    try:
        return lmdb.open(str(path), map_size=map_size, subdir=True, create=False)
    except lmdb.Error as error:
        raise StoreError(f"{path}: cannot open the LMDB environment ({error})") from error


class LmdbPartWriter(PartWriter):
    """One writer process's environment on the shared store, opened with LMDB's lock file:
    LMDB lets any number of processes open it, but its write transactions take one mutex in
    that file, so writers take turns. `waited_seconds` is the time `begin(write=True)` blocked.
    Values are made (`values`) before the transaction, so encoding runs in parallel."""

    def __init__(
        self,
        path: Path,
        map_size: int,
        values: Callable[[np.ndarray, np.ndarray], list[bytes]],
        **options: bool,
    ) -> None:
        self._env = lmdb.open(str(path), map_size=map_size, subdir=True, lock=True, **options)
        self._values = values

    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        values = self._values(images, labels)
        began = time.perf_counter()
        with self._env.begin(write=True) as txn:
            self.waited_seconds += time.perf_counter() - began
            for offset, value in enumerate(values):
                txn.put(image_key(start + offset), value)

    def close(self) -> None:
        self._env.close()


def shared_map_size(count: int, image_shape: tuple[int, ...], factor: int) -> int:
    """A map for `count` values of up to `factor` times an image's raw bytes (LMDB's file
    grows only as pages are used): writers cannot grow a map others have open."""
    return initial_map_size(count, factor * math.prod(image_shape) + 64)


class TutorialLmdbStore(Store):
    format = "lmdb"
    implementation = "tutorial"
    marker = MARKER
    volatile = frozenset({"lock.mdb"})  # reader table: process ids

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        map_size = len(images) * images[0].nbytes * 10
        path.mkdir(parents=True, exist_ok=True)
        with lmdb.open(str(path), map_size=map_size) as env, env.begin(write=True) as txn:
            for i in range(len(images)):
                value = CifarImage(images[i], labels[i])
                txn.put(image_key(i), pickle.dumps(value))

    def open(self, path: Path, *, workers: int | None = None) -> TutorialLmdbReader:
        return TutorialLmdbReader(path)

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        path.mkdir(parents=True, exist_ok=True)
        map_size = count * math.prod(image_shape) * 10  # the tutorial's map
        write_shared_note(path, map_size=map_size)
        lmdb.open(str(path), map_size=map_size).close()

    def part_writer(self, path: Path) -> LmdbPartWriter:
        def values(images: np.ndarray, labels: np.ndarray) -> list[bytes]:
            return [
                pickle.dumps(CifarImage(image, label))
                for image, label in zip(images, labels, strict=True)
            ]

        return LmdbPartWriter(path, read_shared_note(path)["map_size"], values)

    def finish_shared(self, path: Path, count: int) -> None:
        read_shared_note(path, remove=True)

    def owns(self, path: Path) -> bool:
        return has_meta(path) is False

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """New keys in one write transaction, the environment opened the tutorial's way: a map of
        ten times the pixel bytes of the images it is given (here the appended ones). LMDB keeps
        at least the space already in use, so whenever that is less than the store's size, as
        for any append of under about 13% of the store, the map is full: `MapFullError`, then
        `set_mapsize` and a retry (`put_resizing`)."""
        with TutorialLmdbReader(path) as reader:
            count = len(reader)
            shape = reader[0][0].shape if count else images.shape[1:]
        labels = check_appended(path, shape, "raw", self.codec, images, labels)
        # The tutorial's map size for the images given (0, for none: the size the store records).
        env = open_for_append(path, len(images) * math.prod(shape) * 10)

        def put(txn: lmdb.Transaction) -> None:
            for i in range(len(images)):
                value = CifarImage(images[i], labels[i])
                txn.put(image_key(count + i), pickle.dumps(value))

        try:
            return put_resizing(env, put)
        finally:
            env.close()


def initial_map_size(count: int, value_bytes: int) -> int:
    """Twice the pages `count` values need (each a whole overflow page), and at least 1 MiB."""
    pages_per_value = math.ceil((value_bytes + 64) / PAGE_BYTES)
    return max(2 * count * pages_per_value * PAGE_BYTES, 1 << 20)


def read_meta(env: lmdb.Environment, path: Path) -> dict[str, object]:
    """The fast store's `meta` record (a store from before codecs holds raw pixels)."""
    with env.begin() as txn:
        meta = txn.get(META_KEY)
    if meta is None:
        raise StoreError(f"{path}: LMDB store without its {META_KEY!r} record; rebuild it")
    return {"codec": "raw"} | json.loads(meta)


def values_of(txn: lmdb.Transaction, indices: np.ndarray) -> Iterator[bytes | None]:
    """The values of `indices` in order: one cursor walk for a run, a `get` per key otherwise
    (None for a missing key); a walk runs on past the run, so the caller stops it."""
    if is_run(indices):
        cursor = txn.cursor()
        if not cursor.set_key(image_key(int(indices[0]))):
            raise StoreError(f"image {indices[0]} is missing from this LMDB store")
        return cursor.iternext(keys=False, values=True)
    return map(txn.get, [b"%08d" % index for index in indices.tolist()])


class FastLmdbReader(Reader):
    def __init__(self, path: Path, codec: Codec, workers: int | None) -> None:
        self._env = open_environment(path)
        try:
            content = read_meta(self._env, path)
            check_codec(path, content["codec"], codec, "values")
        except StoreError:
            self._env.close()
            raise
        self._path, self._codec, self._workers = path, codec, workers
        self._count: int = content["count"]  # type: ignore[assignment]
        self._shape: tuple[int, ...] = tuple(content["shape"])  # type: ignore[arg-type]
        self._size = math.prod(self._shape)
        # Raw values are read in one read-only transaction kept for the reader's life, as buffers
        # (memoryviews of LMDB's map, valid while it lasts): no transaction to begin per read.
        self._raw = codec.name == "raw"
        self._txn = self._env.begin(buffers=True) if self._raw else None

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        if not self._raw:
            return super().__getitem__(index)
        if not -self._count <= index < self._count:
            raise IndexError(f"index {index} is out of range for a store of {self._count} images")
        if index < 0:
            index += self._count
        value = self._txn.get(b"%08d" % index)  # type: ignore[union-attr]
        if value is None or len(value) != 1 + self._size:
            raise self._damaged(index, value)
        image = np.empty(self._shape, dtype=np.uint8)
        memoryview(image).cast("B")[:] = value[1:]
        return image, value[0]

    def _damaged(self, index: int, value: memoryview | None) -> StoreError:
        if value is None:
            return StoreError(f"{self._path}: image {index} is missing from this store")
        return StoreError(
            f"{self._path}: image {index} holds {len(value)} bytes, not a label and "
            f"{self._size} pixel bytes; the store is damaged: rebuild it"
        )

    def read_many(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        indices = checked_indices(indices, self._count)
        if not self._raw:
            return self._read_encoded(indices)
        images = np.empty((len(indices), *self._shape), dtype=np.uint8)
        pixels, size = memoryview(images.reshape(-1)), self._size
        labels = bytearray()
        # The range stops the walk: a cursor would run on to the following keys and `meta`.
        offsets = range(0, len(indices) * size, size)
        values = values_of(self._txn, indices)  # type: ignore[arg-type]
        for offset, value in zip(offsets, values, strict=False):
            if value is None or len(value) != 1 + size:
                raise self._damaged(int(indices[len(labels)]), value)
            labels.append(value[0])
            pixels[offset : offset + size] = value[1:]
        if len(labels) != len(indices):
            raise StoreError(f"this LMDB store ends before image {indices[-1]}")
        return images, np.frombuffer(labels, dtype=np.uint8)

    def _read_encoded(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Copy every value out in one transaction, then decode them on every core."""
        blobs: list[bytes] = []
        labels = np.empty(len(indices), dtype=np.uint8)
        with self._env.begin() as txn:
            for row, value in zip(range(len(indices)), values_of(txn, indices), strict=False):
                if value is None:
                    raise StoreError(f"image {indices[row]} is missing from this store")
                labels[row] = value[0]
                blobs.append(value[1:])
        if len(blobs) != len(indices):
            raise StoreError(f"this LMDB store ends before image {indices[-1]}")
        images = decode_many(
            self._codec,
            blobs,
            self._shape,
            self._workers,
            lambda row: f"{self._path} key {image_key(int(indices[row])).decode()}",
        )
        return images, labels

    def close(self) -> None:
        if self._txn is not None:
            self._txn.abort()
            self._txn = None
        self._env.close()


class FastLmdbStore(Store):
    format = "lmdb"
    implementation = "fast"
    marker = MARKER
    volatile = frozenset({"lock.mdb"})  # reader table: process ids

    codecs = ("raw", "png", "qoi", "jpeg")

    def write_many(
        self, path: Path, images: np.ndarray, labels: np.ndarray, *, workers: int | None = None
    ) -> None:
        count = len(images)
        if self.codec.name == "raw":
            rows = np.empty((count, 1 + images[0].size), dtype=np.uint8)
            rows[:, 0] = labels
            rows[:, 1:] = images.reshape(count, -1)
            values = [row.tobytes() for row in rows]
        else:
            blobs = encode_many(self.codec, images, workers)
            values = [bytes([label]) + blob for label, blob in zip(labels, blobs, strict=True)]
        shape = list(images.shape[1:])
        meta = json.dumps({"count": count, "shape": shape, "codec": self.codec.name}).encode()
        map_size = initial_map_size(count, max(map(len, values), default=1))
        path.mkdir(parents=True, exist_ok=True)
        env = lmdb.open(str(path), map_size=map_size, subdir=True, sync=False, metasync=False)
        try:
            while True:
                try:
                    with env.begin(write=True) as txn:
                        txn.cursor().putmulti(
                            ((image_key(i), values[i]) for i in range(count)),
                            append=True,
                        )
                        txn.put(META_KEY, meta)
                    break
                except lmdb.MapFullError:
                    map_size *= 2
                    env.set_mapsize(map_size)
        finally:
            env.close()

    def open(self, path: Path, *, workers: int | None = None) -> FastLmdbReader:
        return FastLmdbReader(path, self.codec, workers)

    def stored_codec(self, path: Path) -> str:
        env = open_environment(path)
        try:
            return str(read_meta(env, path)["codec"])
        finally:
            env.close()

    def owns(self, path: Path) -> bool:
        return has_meta(path) is True

    def append_many(self, path: Path, images: np.ndarray, labels: np.ndarray) -> str:
        """New keys and the updated `meta` in one write transaction, the environment opened with
        the map size it records (`write_many` leaves twice the room it needed); a full map is
        doubled and the transaction retried (`put_resizing`). Keys go in with `put`, not
        `putmulti(append=True)`: `meta` sorts after them."""
        env = open_environment(path)
        try:
            meta = read_meta(env, path)
        finally:
            env.close()
        shape = tuple(meta["shape"])  # type: ignore[arg-type]
        labels = check_appended(path, shape, meta["codec"], self.codec, images, labels)
        count, added = int(meta["count"]), len(images)  # type: ignore[call-overload]
        if self.codec.name == "raw":
            rows = np.empty((added, 1 + math.prod(shape)), dtype=np.uint8)
            rows[:, 0] = labels
            rows[:, 1:] = images.reshape(added, -1)
            values = [row.tobytes() for row in rows]
        else:
            blobs = encode_many(self.codec, images, None)
            values = [bytes([label]) + blob for label, blob in zip(labels, blobs, strict=True)]
        record = json.dumps({"count": count + added, "shape": list(shape), "codec": meta["codec"]})

        def put(txn: lmdb.Transaction) -> None:
            txn.cursor().putmulti((image_key(count + i), values[i]) for i in range(added))
            txn.put(META_KEY, record.encode())

        env = open_for_append(path, 0)
        try:
            return put_resizing(env, put)
        finally:
            env.close()

    def prepare_shared(self, path: Path, count: int, image_shape: tuple[int, int, int]) -> None:
        map_size = shared_map_size(count, image_shape, 1 if self.codec.name == "raw" else 2)
        write_shared_note(path, map_size=map_size, shape=list(image_shape))
        lmdb.open(str(path), map_size=map_size, subdir=True).close()

    def part_writer(self, path: Path) -> LmdbPartWriter:
        codec = self.codec

        def values(images: np.ndarray, labels: np.ndarray) -> list[bytes]:
            if codec.name == "raw":
                return [
                    bytes([int(label)]) + image.tobytes()
                    for image, label in zip(images, labels, strict=True)
                ]
            blobs = encode_many(codec, images, 1)
            return [bytes([int(label)]) + blob for label, blob in zip(labels, blobs, strict=True)]

        map_size = read_shared_note(path)["map_size"]
        return LmdbPartWriter(path, map_size, values, sync=False, metasync=False)

    def finish_shared(self, path: Path, count: int) -> None:
        """The `meta` record, written last as `write_many` does."""
        note = read_shared_note(path, remove=True)
        meta = {"count": count, "shape": note["shape"], "codec": self.codec.name}
        env = lmdb.open(str(path), map_size=note["map_size"], subdir=True)
        with env, env.begin(write=True) as txn:
            txn.put(META_KEY, json.dumps(meta).encode())


STORES: dict[str, Store] = {"tutorial": TutorialLmdbStore(), "fast": FastLmdbStore()}
