"""How stores are timed and verified, separate from how any format stores.

Timings are taken in-process with `time.perf_counter`, with the garbage collector off inside the
timed region, after an untimed warm-up, and repeated as a `RepeatPolicy` says: until the 95%
interval of the cell's median is narrow enough, within a minimum, a maximum and a time budget per
cell. Every read is compared with the images and labels that were written, outside the timed
region, and a mismatch fails the measurement.

Writes are timed in two phases: the buffered write as the implementation does it, then the time
to make it durable (one syncfs of the store's filesystem), so formats that sync on their own
(LMDB by default) and formats that never do are compared fairly.

Reads are measured in cells: the reference cell (warm cache, sequential order, one reader) and
variations that change one factor each — cold cache (every file evicted from the page cache, and
the eviction checked), random order (a fixed-seed permutation read one image at a time, as a
training data loader does, or in batches of indices, as its batch sampler asks for them) or
several reader processes over disjoint slices.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from multiprocessing.shared_memory import SharedMemory
from pathlib import Path
from typing import TypeVar

import numpy as np

from imgbench import discards, host_memory, pagecache, progress
from imgbench.cells import NOT_APPLICABLE, REFERENCE_READ, Cache, Operation, Order, Phase, ReadCell
from imgbench.codecs import Codec
from imgbench.confidence import median_interval
from imgbench.errors import StoreError, VerificationError
from imgbench.parallel import decode_many, expected_images
from imgbench.stores.base import Store, worker_count

WARMUP_IMAGES = 10
FULL_WARMUP_SECONDS = 2.0  # the most an untimed whole read before the warm cells may cost
SETTLED_REPEATS = 3  # the fewest repeats whose agreement can stop a cell early
T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """One timed measurement: `seconds` for one unit of `images` images."""

    operation: Operation
    phase: Phase
    repeat: int
    images: int
    seconds: float
    cache: str = NOT_APPLICABLE
    order: str = NOT_APPLICABLE
    readers: int = 1
    writers: int = 1
    sample: int = 0
    resident_fraction: float | None = None
    memory_returned_kib: int | None = None  # reported to the VM's host meanwhile (`host_memory`)
    rss_growth_kib: int | None = None  # read_one: resident memory the read added
    batch_p50_seconds: float | None = None  # batched reads: percentiles of one batch's read
    batch_p99_seconds: float | None = None

    def row(self, **labels: object) -> dict[str, object]:
        return {**labels, **asdict(self)}


@dataclass(frozen=True)
class RepeatPolicy:
    """How often a cell is timed: at least `minimum` times; then until the 95% interval of its
    median is within ±`relative_half_width` of the median, `maximum` repeats are done, or one more
    repeat would take the cell past `cell_budget_seconds` of wall time (untimed work included,
    since that is what a run waits for). Cheap cells get many repeats, slow ones few."""

    minimum: int
    maximum: int
    relative_half_width: float
    cell_budget_seconds: float

    @classmethod
    def of(cls, repeats: Mapping[str, float]) -> RepeatPolicy:
        """The policy the config's `repeats` describes."""
        return cls(
            int(repeats["min"]),
            int(repeats["max"]),
            float(repeats["relative_half_width"]),
            float(repeats["cell_budget_seconds"]),
        )

    def repeat(
        self, once: Callable[[int], float], clock: Callable[[], float] = time.perf_counter
    ) -> int:
        """Call `once(repeat)`, which times one repeat and returns the seconds the stopping rule
        judges, until the policy is satisfied; return how many repeats ran. After each repeat,
        outside its timed region, the job's progress hears how far the cell is."""
        started = clock()
        samples: list[float] = []
        while not self.enough(samples, clock() - started):
            samples.append(once(len(samples)))
            elapsed = clock() - started
            most = self.most(len(samples), elapsed)
            progress.repeated(len(samples), most, elapsed / len(samples) * (most - len(samples)))
        return len(samples)

    def most(self, count: int, elapsed: float) -> int:
        """The most repeats a cell with `count` done after `elapsed` seconds can still get: the
        maximum, or fewer where the time budget runs out first (the minimum always runs)."""
        per_repeat = elapsed / count
        within_budget = math.floor(self.cell_budget_seconds / per_repeat) if per_repeat else count
        return max(count, self.minimum, min(self.maximum, within_budget))

    def enough(self, samples: list[float], elapsed: float) -> bool:
        """Whether a cell with these repeats, after `elapsed` seconds, needs no more. Below six
        repeats the interval is the whole range of the samples (see `confidence`): from
        `SETTLED_REPEATS` on, repeats that all agree within the width are enough, even though
        their range covers the median less surely than 95% (75% for three, as `ci_coverage`
        records); one or two repeats cannot show noise at all."""
        count = len(samples)
        if count < self.minimum:
            return False
        if count >= self.maximum:
            return True
        width = median_interval(samples).relative_half_width()
        if count >= SETTLED_REPEATS and width <= self.relative_half_width:
            return True
        return elapsed / count * (count + 1) > self.cell_budget_seconds


def timed(action: Callable[..., T], *args: object, **kwargs: object) -> tuple[float, T]:
    """Seconds `action(*args, **kwargs)` takes and its result, with the collector off.

    The collector's pauses would otherwise land in whichever measurement triggers them.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        result = action(*args, **kwargs)
        return time.perf_counter() - start, result
    finally:
        if collecting:
            gc.enable()


def verify(
    images: np.ndarray, labels: np.ndarray, expected_images: np.ndarray, expected_labels: np.ndarray
) -> None:
    """Fail, naming the first bad image, unless what was read is exactly what was written."""
    if images.shape != expected_images.shape or labels.shape != expected_labels.shape:
        raise VerificationError(
            f"read back {images.shape} images and {labels.shape} labels, expected "
            f"{expected_images.shape} and {expected_labels.shape}"
        )
    bad_images = np.flatnonzero((images != expected_images).reshape(len(images), -1).any(axis=1))
    bad_labels = np.flatnonzero(labels != expected_labels)
    if len(bad_images) or len(bad_labels):
        raise VerificationError(
            f"{len(bad_images)} image(s) and {len(bad_labels)} label(s) read back differ from "
            f"those written (first bad image: {bad_images[:1].tolist()}, first bad label: "
            f"{bad_labels[:1].tolist()}); the store is damaged or its format code is wrong"
        )


def scratch_folder(beside: Path, discarded: Path | None) -> Path:
    """A fresh folder on the same filesystem as `beside`, so results can be renamed into place.

    Scratch folders a killed job left for the same output are set aside first (`discards`):
    Snakemake runs one job per output at a time, so no other job can be using them.
    """
    beside.parent.mkdir(parents=True, exist_ok=True)
    for stale in beside.parent.glob(f".{beside.name}.*"):
        if stale.is_dir() and not stale.is_symlink():
            discards.set_aside(stale, discarded)
    return Path(tempfile.mkdtemp(prefix=f".{beside.name}.", dir=beside.parent))


def time_write_many(
    store: Store,
    images: np.ndarray,
    labels: np.ndarray,
    out: Path,
    policy: RepeatPolicy,
    discarded: Path | None,
) -> list[Timing]:
    """Write the store into a fresh folder as often as `policy` says, timing the write and then
    its sync, and keep the last one at `out`. The buffered write is what the policy judges.

    The other repeats are set aside in `discarded`, never deleted during the run's timing jobs:
    deleting 100,000 files just before a timed write made it up to five times slower (new inodes
    are checked against recently deleted ones, and the deletion's TRIM runs inside unlink), which
    is the filesystem's state, not the format. Dirty pages are written back and memory for the
    write backed by the host (`host_memory`), untimed, before each repeat.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    needed = discards.repeats_bytes(images.nbytes, len(images), policy.maximum)
    deleted = discards.make_room(out.parent, discarded, needed)
    if deleted is not None:
        print(f"to make room for up to {needed / 1e9:.1f} GB of repeats, {deleted.line()}")
    scratch = scratch_folder(out, discarded)
    try:
        store.write_many(scratch / "warmup", images[:WARMUP_IMAGES], labels[:WARMUP_IMAGES])
        timings: list[Timing] = []

        def once(repeat: int) -> float:
            target = scratch / f"repeat-{repeat}"
            os.sync()
            host_memory.back(images.nbytes)
            with host_memory.Watch() as watch:
                write_seconds, _ = timed(store.write_many, target, images, labels)
                sync_seconds, _ = timed(pagecache.sync_filesystem, target)
            for phase, seconds in ((Phase.WRITE, write_seconds), (Phase.SYNC, sync_seconds)):
                timings.append(
                    Timing(
                        Operation.WRITE_MANY,
                        phase,
                        repeat,
                        len(images),
                        seconds,
                        memory_returned_kib=watch.kib,
                    )
                )
            return write_seconds

        repeats = policy.repeat(once)
        os.replace(scratch / f"repeat-{repeats - 1}", out)
        return timings
    finally:
        discards.set_aside(scratch, discarded)


def time_reads(
    store: Store,
    store_dir: Path,
    expected_images: np.ndarray,
    expected_labels: np.ndarray,
    policy: RepeatPolicy,
    cells: Iterable[ReadCell],
    seed: int,
    batch_size: int = 256,
) -> list[Timing]:
    """Time reading the whole store in every cell, as often as `policy` says, verifying every
    read; a batched cell reads `batch_size` indices per call."""
    count = len(expected_labels)
    with store.open(store_dir) as reader:
        if len(reader) != count:
            raise StoreError(f"{store_dir} holds {len(reader)} images, expected {count}")
    permutation = np.random.default_rng(seed).permutation(count)
    timings: list[Timing] = []
    warmed_up = False
    cells = list(cells)
    for index, cell in enumerate(cells):
        progress.step(cell.words(), index, len(cells))
        indices = np.arange(count) if cell.order == Order.SEQUENTIAL else permutation
        expected = expected_images[indices], expected_labels[indices]
        reading = _Reading(store, store_dir, indices, cell, batch_size)
        if cell.cache == Cache.WARM and not warmed_up:
            _warm_up(reading, expected)
            warmed_up = True
        timings += _time_read_cell(reading, expected, policy)
    return timings


@dataclass(frozen=True)
class _Reading:
    """One read cell's work: which store, which indices in which order, how many per call."""

    store: Store
    store_dir: Path
    indices: np.ndarray
    cell: ReadCell
    batch_size: int

    def first(self, count: int) -> _Reading:
        return _Reading(
            self.store, self.store_dir, self.indices[:count], self.cell, self.batch_size
        )


def _warm_up(reading: _Reading, expected: tuple[np.ndarray, np.ndarray]) -> None:
    """Untimed work before the first warm cell. Every file of the store not wholly in the page
    cache is read into it (`pagecache.load`); the first images are read through the format (code
    paths), then ten times as many to estimate a whole read, which is done too if it costs at
    most `FULL_WARMUP_SECONDS`. A whole read absorbs the first read's page faults on memory the
    host took back (0.72 s against 0.25 s for LMDB fast at 100,000 images); reading 100,000 PNG
    files through Pillow only for that would cost as much as a timed repeat (22 s). Every later
    cell follows a full read of the store (even a cold one ends with it all cached), so no cell
    needs a warm-up of its own.
    """
    pagecache.load(reading.store_dir)
    few, more = (
        _timed_read(reading.first(count), _first(expected, count)).seconds
        for count in (WARMUP_IMAGES, 10 * WARMUP_IMAGES)
    )
    per_image = max(more - few, 0.0) / (9 * WARMUP_IMAGES)
    if per_image * len(reading.indices) <= FULL_WARMUP_SECONDS:
        _timed_read(reading, expected)


def _first(expected: tuple[np.ndarray, np.ndarray], count: int) -> tuple[np.ndarray, np.ndarray]:
    return expected[0][:count], expected[1][:count]


def _time_read_cell(
    reading: _Reading, expected: tuple[np.ndarray, np.ndarray], policy: RepeatPolicy
) -> list[Timing]:
    """One read cell's repeats, as many as `policy` says; a cold cell evicts before each."""
    timings: list[Timing] = []
    cell = reading.cell

    def once(repeat: int) -> float:
        resident = pagecache.cold(reading.store_dir) if cell.cache == Cache.COLD else None
        # No `host_memory.back` here: measured, it did not help reads, and the buffer it frees
        # was sometimes handed to the host during the read (docs/measurement.md).
        read = _timed_read(reading, expected)
        batches = read.batch_seconds
        timings.append(
            Timing(
                Operation.READ_MANY,
                Phase.READ,
                repeat,
                len(reading.indices),
                read.seconds,
                cache=cell.cache,
                order=cell.order,
                readers=cell.readers,
                resident_fraction=resident,
                memory_returned_kib=read.memory_returned_kib,
                batch_p50_seconds=None if batches is None else float(np.percentile(batches, 50)),
                batch_p99_seconds=None if batches is None else float(np.percentile(batches, 99)),
            )
        )
        return read.seconds

    policy.repeat(once)
    return timings


@dataclass(frozen=True)
class _TimedRead:
    seconds: float
    memory_returned_kib: int | None  # reported to the VM's host meanwhile (`host_memory`)
    batch_seconds: np.ndarray | None  # each batch's read, for a batched read in one process


def _timed_read(reading: _Reading, expected: tuple[np.ndarray, np.ndarray]) -> _TimedRead:
    """Seconds to open the store, read the indices as the cell says and close it, and the memory
    returned to the host meanwhile; then verify."""
    if reading.cell.readers > 1:
        with _ReaderProcesses(reading) as processes:
            with host_memory.Watch() as watch:
                seconds, (images, labels) = timed(processes.run)
            verify(images, labels, *expected)
            del images, labels  # views of shared memory, which closes on exit
        return _TimedRead(seconds, watch.kib, None)
    with host_memory.Watch() as watch:
        seconds, (images, labels, batches) = timed(_read, reading, reading.indices, None)
    verify(images, labels, *expected)
    return _TimedRead(seconds, watch.kib, batches)


def _read(
    reading: _Reading, indices: np.ndarray, workers: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Open the store, read `indices` in the cell's order and close it: images, labels and, for
    batched reads, each batch's seconds."""
    store, store_dir = reading.store, reading.store_dir
    if reading.cell.order == Order.RANDOM:
        return *_read_one_at_a_time(store, store_dir, indices, workers), None
    if reading.cell.order == Order.BATCHED:
        return _read_in_batches(store, store_dir, indices, reading.batch_size, workers)
    return *store.read_many(store_dir, indices, workers=workers), None


def _read_one_at_a_time(
    store: Store, store_dir: Path, indices: np.ndarray, workers: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """`reader[i]` for each index in turn, as a data loader's `__getitem__` does."""
    with store.open(store_dir, workers=workers) as reader:
        images: np.ndarray | None = None
        labels = np.empty(len(indices), dtype=np.uint8)
        for row, index in enumerate(indices):
            image, labels[row] = reader[int(index)]
            if images is None:
                images = np.empty((len(indices), *image.shape), dtype=np.uint8)
            images[row] = image
    if images is None:
        raise StoreError(f"no images requested from {store_dir}")
    return images, labels


def _read_in_batches(
    store: Store, store_dir: Path, indices: np.ndarray, batch_size: int, workers: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`reader.read_many` of each `batch_size` indices in turn, as a data loader's batch sampler
    asks for them, timing each batch."""
    starts = range(0, len(indices), batch_size)
    batch_seconds = np.empty(len(starts))
    with store.open(store_dir, workers=workers) as reader:
        images: np.ndarray | None = None
        labels = np.empty(len(indices), dtype=np.uint8)
        for batch, start in enumerate(starts):
            stop = start + batch_size
            began = time.perf_counter()
            batch_images, labels[start:stop] = reader.read_many(indices[start:stop])
            batch_seconds[batch] = time.perf_counter() - began
            if images is None:
                images = np.empty((len(indices), *batch_images.shape[1:]), dtype=np.uint8)
            images[start:stop] = batch_images
    if images is None:
        raise StoreError(f"no images requested from {store_dir}")
    return images, labels, batch_seconds


class _ReaderProcesses:
    """Reader processes, forked and waiting before the clock starts, over disjoint slices.

    Each process opens the store itself (no LMDB environment or HDF5 file crosses a fork) and
    writes its slice into shared memory; `run` releases them all and waits for the last one, so
    a measurement covers opening, reading and closing, but not forking.
    """

    def __init__(self, reading: _Reading) -> None:
        with reading.store.open(reading.store_dir) as reader:
            self.shape = reader[0][0].shape
        self.count = len(reading.indices)
        self.pixels = self.count * math.prod(self.shape)
        self.memory = SharedMemory(create=True, size=self.pixels + self.count)
        context = multiprocessing.get_context("fork")
        self.go = context.Event()
        workers = max(1, worker_count(None) // reading.cell.readers)
        self.processes = [
            context.Process(target=self._read_slice, args=(reading, rows, workers))
            for rows in np.array_split(np.arange(self.count), reading.cell.readers)
        ]
        for process in self.processes:
            process.start()

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        buffer = self.memory.buf
        images = np.ndarray((self.count, *self.shape), np.uint8, buffer[: self.pixels])
        return images, np.ndarray((self.count,), np.uint8, buffer[self.pixels :])

    def _read_slice(self, reading: _Reading, rows: np.ndarray, workers: int) -> None:
        self.go.wait()
        part_images, part_labels, _ = _read(reading, reading.indices[rows], workers)
        images, labels = self.arrays()
        images[rows], labels[rows] = part_images, part_labels

    def run(self) -> tuple[np.ndarray, np.ndarray]:
        self.go.set()
        for process in self.processes:
            process.join()
        failed = [process.exitcode for process in self.processes if process.exitcode != 0]
        if failed:
            raise StoreError(f"{len(failed)} reader process(es) failed, exit codes {failed}")
        return self.arrays()

    def __enter__(self) -> _ReaderProcesses:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self.processes:
            if process.is_alive():
                process.kill()
                process.join()
        self.memory.close()
        self.memory.unlink()


def time_decode_floor(
    codec: Codec,
    blobs: list[bytes],
    expected: np.ndarray,
    policy: RepeatPolicy,
    workers: int | None,
) -> list[Timing]:
    """The decode floor: decoding every image's bytes (`blobs`) in `codec` from memory, on
    `workers` processes as the stores' `fast` readers do, no storage involved, as often as
    `policy` says. It is to encoded stores what the raw baseline is to raw ones. Every decode is
    checked against `expected`, untimed; rows are reads in the reference cell."""
    shape = expected.shape[1:]
    decode_many(codec, blobs[:WARMUP_IMAGES], shape, workers)
    timings: list[Timing] = []

    def once(repeat: int) -> float:
        seconds, decoded = timed(decode_many, codec, blobs, shape, workers)
        if not np.array_equal(decoded, expected):
            raise VerificationError(f"decoding {codec.name} from memory gave other images")
        timings.append(
            Timing(
                Operation.READ_MANY,
                Phase.READ,
                repeat,
                len(blobs),
                seconds,
                **REFERENCE_READ.factors(),  # type: ignore[arg-type]
            )
        )
        return seconds

    policy.repeat(once)
    return timings


def time_single(
    store: Store,
    images: np.ndarray,
    labels: np.ndarray,
    scratch_beside: Path,
    policy: RepeatPolicy,
    operations: int,
    discarded: Path | None,
) -> list[Timing]:
    """The tutorial's one-image write and read, each timed `operations` times per repeat; the
    policy judges a repeat by its total time.

    Each write makes a new one-image store; each read opens one of them, reads its image and
    closes it. Every operation is one row, so medians and percentiles come from all of them.
    The one-image stores are set aside in `discarded` at the end.
    """
    expected = expected_images(store.codec, images)
    scratch = scratch_folder(scratch_beside, discarded)
    try:
        warmup = scratch / "warmup"
        store.write_single(warmup, images[0], int(labels[0]))
        store.read_single(warmup, 0)
        timings: list[Timing] = []

        def once(repeat: int) -> float:
            folder = scratch / f"repeat-{repeat}"
            folder.mkdir()
            os.sync()
            total = 0.0
            for op in range(operations):
                k = op % len(labels)
                seconds, _ = timed(
                    store.write_single, folder / f"{op:06d}", images[k], int(labels[k])
                )
                total += seconds
                timings.append(
                    Timing(Operation.WRITE_SINGLE, Phase.WRITE, repeat, 1, seconds, sample=op)
                )
            for op in range(operations):
                k = op % len(labels)
                seconds, (image, label) = timed(store.read_single, folder / f"{op:06d}", 0)
                verify(image[np.newaxis], np.array([label]), expected[k : k + 1], labels[k : k + 1])
                total += seconds
                timings.append(
                    Timing(
                        Operation.READ_SINGLE,
                        Phase.READ,
                        repeat,
                        1,
                        seconds,
                        cache=REFERENCE_READ.cache,
                        order=REFERENCE_READ.order,
                        sample=op,
                    )
                )
            return total

        policy.repeat(once)
        return timings
    finally:
        discards.set_aside(scratch, discarded)
