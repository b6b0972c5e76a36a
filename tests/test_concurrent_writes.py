"""Several processes writing one store at once (`imgbench.concurrent_writes`): every format and
implementation either shares one store between two writers or records its library's refusal and
has each writer write a store of its own; what was written always reads back.

The experiment forks writers, and a process forked after TensorStore, TileDB, Lance or LevelDB
ran in it cannot use them (the experiment keeps them out of its parent). Other tests of the
session run them in the test process, so the experiment on those formats runs in a fresh Python,
as the pipeline's job does, in their default codec only (a fresh Python costs seconds); the
other formats are written in this process, in their default codec and png.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imgbench import concurrent_writes
from imgbench.cells import Operation, Phase
from imgbench.codecs import Codec
from imgbench.errors import StoreError
from imgbench.measure import RepeatPolicy
from imgbench.stores import formats, get_store, implementations, open_store
from imgbench.stores.base import PartWriter, Store
from imgbench.stores.files import FastFilesStore
from imgbench.stores.raw import RawStore
from imgbench.synthetic import synthetic_images

ONCE = RepeatPolicy(minimum=1, maximum=1, relative_half_width=0.05, cell_budget_seconds=60)
STORES = [
    get_store(name, implementation, Codec(codec))
    for name in formats()
    for implementation in implementations(name)
    for codec in dict.fromkeys(
        [get_store(name, implementation).codecs[0]]
        + (["png"] if "png" in get_store(name, implementation).codecs else [])
    )
]
# Formats whose libraries break a process forked after they ran: tested in a fresh Python.
FORK_SENSITIVE = {"leveldb", "lance", "tiledb", "zarr", "zarr_chunked"}
STORES = [
    store
    for store in STORES
    if store.format not in FORK_SENSITIVE or store.codec.name == store.codecs[0]
]
# The formats whose library lets one process at a time open a store for writing.
REFUSING = {"hdf5": "unable to lock file", "leveldb": "LOCK: Resource temporarily unavailable"}


def in_fresh_python(tmp_path: Path, *arguments: object) -> object:
    """`time_concurrent_writes(*arguments)` run in a new Python process, its result returned."""
    given, result = tmp_path / "arguments.pickle", tmp_path / "result.pickle"
    given.write_bytes(pickle.dumps(arguments))
    code = (
        "import pickle, sys\n"
        "from imgbench.concurrent_writes import time_concurrent_writes\n"
        "arguments = pickle.loads(open(sys.argv[1], 'rb').read())\n"
        "open(sys.argv[2], 'wb').write(pickle.dumps(time_concurrent_writes(*arguments)))\n"
    )
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, sys.path)))
    done = subprocess.run(
        [sys.executable, "-c", code, str(given), str(result)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return pickle.loads(result.read_bytes())


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_images(40, seed=3)


@pytest.mark.parametrize("store", STORES, ids=[store.key for store in STORES])
def test_two_writers_share_the_store_or_the_refusal_is_recorded(store, images, tmp_path) -> None:
    pixels, labels = images
    arguments = (store, pixels, labels, [1, 2], tmp_path / "store", ONCE, tmp_path / "discarded")
    if store.format in FORK_SENSITIVE:
        timings, outcomes = in_fresh_python(tmp_path, *arguments)
    else:
        timings, outcomes = concurrent_writes.time_concurrent_writes(*arguments)
    assert [timing.writers for timing in timings] == [1, 2]
    assert {(timing.operation, timing.phase) for timing in timings} == {
        (Operation.WRITE_CONCURRENT, Phase.WRITE)
    }
    assert all(timing.images == 40 and timing.seconds > 0 for timing in timings)
    one, two = outcomes
    assert (one.writers, one.shared, one.refusal) == (1, True, None)
    assert two.writers == 2 and 0 <= two.lock_wait_share <= 1
    if store.format in REFUSING:
        assert not two.shared
        assert REFUSING[store.format] in two.refusal
    else:
        assert two.shared and two.refusal is None


def test_the_tutorials_three_claims(images, tmp_path) -> None:
    """PNG files: complete write concurrency; LMDB: one writer at a time, yet one store;
    HDF5: a second writing process meets its file lock."""
    pixels, labels = images
    found = {}
    for key in ("files/tutorial/png", "lmdb/tutorial/raw", "hdf5/tutorial/raw"):
        store = get_store(*key.split("/")[:2], Codec(key.split("/")[2]))
        _, outcomes = concurrent_writes.time_concurrent_writes(
            store, pixels, labels, [2], tmp_path / key.replace("/", "-"), ONCE, None
        )
        found[key] = outcomes[0]
    assert found["files/tutorial/png"].shared and found["files/tutorial/png"].lock_wait_share == 0
    assert found["lmdb/tutorial/raw"].shared
    hdf5 = found["hdf5/tutorial/raw"]
    assert not hdf5.shared and hdf5.refusal.startswith("BlockingIOError")
    assert "unable to lock file" in hdf5.refusal


@pytest.mark.parametrize("key", ["files/fast/png", "lmdb/fast/raw", "raw/baseline/raw"])
def test_the_shared_store_reads_back_as_one_written_at_once(key, images, tmp_path) -> None:
    pixels, labels = images
    store = get_store(*key.split("/")[:2], Codec(key.split("/")[2]))
    discarded = tmp_path / "discarded"
    concurrent_writes.time_concurrent_writes(
        store, pixels, labels, [3], tmp_path / "store", ONCE, discarded
    )
    (written,) = discarded.glob("*/writers-3-repeat-0")
    assert not list(written.glob(".*")), "a part file or note was left behind"
    with open_store(written) as reader:
        assert len(reader) == 40
        read_pixels, read_labels = reader.read_many(np.arange(40))
    np.testing.assert_array_equal(read_pixels, pixels)
    np.testing.assert_array_equal(read_labels, labels)


class _UnsharedRawStore(RawStore):
    """The raw store as a format with no `part_writer` of its own (the README's npz) sees it."""

    part_writer = Store.part_writer


def test_a_format_that_cannot_share_a_store_has_each_writer_write_its_own(images, tmp_path) -> None:
    store = _UnsharedRawStore()
    assert not store.shares_writes and RawStore().shares_writes
    pixels, labels = images
    discarded = tmp_path / "discarded"
    timings, outcomes = concurrent_writes.time_concurrent_writes(
        store, pixels, labels, [1, 2], tmp_path / "store", ONCE, discarded
    )
    assert [timing.writers for timing in timings] == [1, 2]
    for outcome in outcomes:
        assert not outcome.shared and outcome.lock_wait_share == 0
        assert outcome.refusal == concurrent_writes.NO_SHARED_WRITES.format(
            store="raw/baseline/raw"
        )
    (two,) = discarded.glob("*/writers-2-repeat-0-own-stores")
    read = []
    for part in (0, 1):
        with open_store(two / f"part-{part}") as reader:
            read.append(reader.read_many(np.arange(len(reader)))[0])
    np.testing.assert_array_equal(np.concatenate(read), pixels)


class _FailingWriter(PartWriter):
    def __init__(self, how: str) -> None:
        self.how = how

    def write(self, start: int, images: np.ndarray, labels: np.ndarray) -> None:
        if self.how == "dies":
            os._exit(3)
        raise RuntimeError(f"disk on fire at image {start}")

    def close(self) -> None:
        pass


class _FailingStore(FastFilesStore):
    how = "raises"

    def part_writer(self, path: Path) -> PartWriter:
        return _FailingWriter(self.how)


@pytest.mark.parametrize(
    ("how", "message"),
    [("raises", "RuntimeError: disk on fire at image"), ("dies", "died without reporting")],
)
def test_a_failing_writer_is_a_clear_error_not_a_hang(how, message, images, tmp_path) -> None:
    store = _FailingStore(Codec("png"))
    store.how = how
    pixels, labels = images
    with pytest.raises(StoreError, match=message):
        concurrent_writes.time_concurrent_writes(
            store, pixels, labels, [2], tmp_path / "store", ONCE, None
        )
    assert not (tmp_path / "store").exists() and not list(tmp_path.glob(".store.*"))


def test_a_hung_writer_is_stopped(images, tmp_path, monkeypatch) -> None:
    """A writer that never reaches the barrier: the time limits end the wait."""
    monkeypatch.setattr(concurrent_writes, "BARRIER_SECONDS", 0.5)
    monkeypatch.setattr(concurrent_writes, "WRITE_SECONDS", 0.5)

    class Hanging(FastFilesStore):
        def part_writer(self, path: Path) -> PartWriter:
            import time

            time.sleep(60)
            raise AssertionError("unreachable")

    pixels, labels = images
    with pytest.raises(StoreError, match="did not finish within"):
        concurrent_writes.time_concurrent_writes(
            Hanging(Codec("png")), pixels, labels, [2], tmp_path / "store", ONCE, None
        )
