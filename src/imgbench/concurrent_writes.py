"""Several processes writing one store at once: the tutorial's claim that "PNG files allow
complete write concurrency; LMDB has one writer at a time; HDF5 holds a write lock", tested for
every container.

For W writers the parent prepares the empty store (`Store.prepare_shared`), forks W writer
processes (they inherit the images: nothing is pickled), each opens its `Store.part_writer`, and
all W and the parent meet at a barrier; then each writes its part (`Store.part_bounds`) and
closes, and the parent finishes the store (`Store.finish_shared`). The clock runs from the
preparation to the finished store, for W = 1 too, so t(1) / t(W) compares like with like.

Where the format refuses a second writing process (its library raises when the store is opened
for writing: HDF5's file lock, LevelDB's LOCK), that error is recorded once and the W processes
each write a store of their own (`write_many` into `part-k`) instead, through the same barrier;
so do the processes of a format with no way to share a store (`Store.shares_writes`).
A writer failing any other way is a failure, not a refusal: a StoreError naming it.

Every repeat is checked, untimed, by reading every image and label back in a forked process,
never in the parent, which forks the next writers: a process forked after TensorStore, TileDB,
Lance or LevelDB ran in its parent aborts, deadlocks, crashes or hangs when it uses them, so the
formats keep those libraries out of the parent too (see their `prepare_shared`), and LMDB refuses
a second environment on the same files in one process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imgbench import discards, measure, progress
from imgbench.atomic_files import write_json
from imgbench.cells import SIZE_COLUMN, Operation, Phase
from imgbench.errors import StoreError
from imgbench.parallel import expected_images
from imgbench.pool import Pool
from imgbench.store_timings import write_timings
from imgbench.stores.base import Store, in_forked_process

BARRIER_SECONDS = 120.0  # for every writer to open the store (a store's creation included)
WRITE_SECONDS = 1800.0  # for the slowest writer to write its part and close
POLL_SECONDS = 0.05
NO_SHARED_WRITES = "{store} has no way for several processes to write one store (no part_writer)"


@dataclass(frozen=True)
class Outcome:
    """What W writers could do with one store."""

    writers: int
    shared: bool  # whether W processes could write one store at once
    refusal: str | None  # the library's error (type and message) when they could not
    # Median over repeats of the longest any writer waited for the store's write lock divided by
    # the repeat's wall time: how much of the write the lock serialised.
    lock_wait_share: float


class _Refused(Exception):
    """A writer's `part_writer` raised: the format refuses this many writing processes."""


def error_text(error: BaseException) -> str:
    """An exception as `module.Type: message`, the way a refusal is recorded."""
    kind = type(error)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    return f"{module}{kind.__qualname__}: {error}"


def _writer_process(
    store: Store,
    folder: Path,
    shared: bool,
    part: int,
    bounds: tuple[int, int],
    images: np.ndarray,
    labels: np.ndarray,
    barrier: threading.Barrier,
    results: Any,
) -> None:
    """One writer: open its part writer (shared) or nothing (own store), meet the others at the
    barrier, write, close, and report ("done", waited seconds), ("refused", error text),
    ("failed", traceback) or ("aborted", "") when another writer broke the barrier."""
    writer = None
    try:
        if shared:
            try:
                writer = store.part_writer(folder)
            except Exception as error:
                results.put((part, "refused", error_text(error)))
                barrier.abort()
                return
        try:
            barrier.wait(BARRIER_SECONDS)
        except threading.BrokenBarrierError:
            results.put((part, "aborted", ""))
            return
        start, stop = bounds
        if writer is not None:
            if stop > start:
                writer.write(start, images[start:stop], labels[start:stop])
            waited = writer.waited_seconds
            writer, opened = None, writer
            opened.close()
        else:
            store.write_many(
                folder / f"part-{part}", images[start:stop], labels[start:stop], workers=1
            )
            waited = 0.0
        results.put((part, "done", waited))
    except BaseException:
        results.put((part, "failed", traceback.format_exc()))
        barrier.abort()
    finally:
        if writer is not None:  # the write failed, as reported above: close what is open
            with contextlib.suppress(Exception):
                writer.close()


class _Writers:
    """W forked writer processes over one store folder, terminated on the way out whatever
    happened, so a crashed or hung writer never leaves the parent waiting."""

    def __init__(
        self,
        store: Store,
        folder: Path,
        shared: bool,
        images: np.ndarray,
        labels: np.ndarray,
        count: int,
    ) -> None:
        context = multiprocessing.get_context("fork")
        self.barrier = context.Barrier(count + 1)
        self.results = context.Queue()
        bounds = store.part_bounds(len(images), count)
        self.processes = [
            context.Process(
                target=_writer_process,
                args=(
                    store,
                    folder,
                    shared,
                    part,
                    bounds[part],
                    images,
                    labels,
                    self.barrier,
                    self.results,
                ),
                daemon=True,
            )
            for part in range(count)
        ]

    def run(self) -> list[float]:
        """Start the writers, meet them at the barrier and wait for every report: each
        writer's lock wait. `_Refused` if a writer's `part_writer` raised, a StoreError if one
        failed, died or hung."""
        for process in self.processes:
            process.start()
        # A broken barrier: a writer broke it (its report says why) or one hung (found below).
        with contextlib.suppress(threading.BrokenBarrierError):
            self.barrier.wait(BARRIER_SECONDS)
        reports = self._reports()
        refused = [text for state, text in reports.values() if state == "refused"]
        failed = [text for state, text in reports.values() if state == "failed"]
        if failed:
            raise StoreError(f"a writer process failed:\n{failed[0]}")
        if refused:
            raise _Refused(refused[0])
        for process in self.processes:
            process.join(BARRIER_SECONDS)
        return [reports[part][1] for part in range(len(self.processes))]

    def _reports(self) -> dict[int, tuple[str, Any]]:
        """Every writer's report, as soon as each arrives; a StoreError for a writer that died
        without one or that did not finish within the time limits."""
        reports: dict[int, tuple[str, Any]] = {}
        deadline = time.monotonic() + BARRIER_SECONDS + WRITE_SECONDS
        while len(reports) < len(self.processes):
            try:
                part, state, detail = self.results.get(timeout=POLL_SECONDS)
                reports[part] = state, detail
                continue
            except queue.Empty:
                pass
            silent = [
                (part, process.exitcode)
                for part, process in enumerate(self.processes)
                if part not in reports and process.exitcode is not None
            ]
            if silent and self.results.empty():
                time.sleep(POLL_SECONDS)  # a report may still be in the pipe
                if self.results.empty():
                    part, code = silent[0]
                    raise StoreError(
                        f"writer process {part} died without reporting (exit code {code}); "
                        "see its output above"
                    )
            if time.monotonic() > deadline:
                raise StoreError(
                    f"writer processes {sorted(set(range(len(self.processes))) - set(reports))} "
                    f"did not finish within {BARRIER_SECONDS + WRITE_SECONDS:.0f} s"
                )
        return reports

    def __enter__(self) -> _Writers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()
                process.join(5)
            if process.is_alive():
                process.kill()
                process.join()
        self.results.close()


def _write(
    store: Store, folder: Path, images: np.ndarray, labels: np.ndarray, count: int, shared: bool
) -> list[float]:
    """One timed repeat's work: prepare (shared), the writers, finish (shared)."""
    if shared:
        store.prepare_shared(folder, len(images), images.shape[1:])
    else:
        folder.mkdir(parents=True)
    with _Writers(store, folder, shared, images, labels, count) as writers:
        waits = writers.run()
    if shared:
        store.finish_shared(folder, len(images))
    return waits


def verify_in_child(
    store: Store,
    folder: Path,
    shared: bool,
    parts: int,
    expected: np.ndarray,
    labels: np.ndarray,
) -> None:
    """Read every image and label `store` wrote back, in a forked process (see the module
    docstring: the parent keeps out of the formats' libraries), and verify them; a StoreError
    carrying the child's error. The store that wrote them reads them, not `open_store`, which
    imports every format module to recognise one: in a child forked from a parent that kept out
    of them, that was 2 s of imports (PyTorch, through webdataset) per verified repeat."""

    def check() -> None:
        if shared:
            with store.open(folder) as reader:
                read_images, read_labels = reader.read_many(np.arange(len(reader)))
        else:
            pieces = []
            for part in range(parts):
                with store.open(folder / f"part-{part}") as reader:
                    pieces.append(reader.read_many(np.arange(len(reader))))
            read_images = np.concatenate([images for images, _ in pieces])
            read_labels = np.concatenate([part_labels for _, part_labels in pieces])
        measure.verify(read_images, read_labels, expected, labels)

    in_forked_process(f"verifying {folder}", check)


def time_concurrent_writes(
    store: Store,
    images: np.ndarray,
    labels: np.ndarray,
    writers: list[int],
    scratch_beside: Path,
    policy: measure.RepeatPolicy,
    discarded: Path | None,
) -> tuple[list[measure.Timing], list[Outcome]]:
    """Time W processes writing `images` into one store, for each W in `writers`, as often as
    `policy` says; where the format refuses W writing processes, time W processes each writing
    a store of its own, and say so in that W's `Outcome`. Every repeat is verified (untimed);
    the stores are set aside in `discarded` at the end (deleted if None)."""
    expected = expected_images(store.codec, images)
    labels = np.asarray(labels, dtype=np.uint8)
    scratch = measure.scratch_folder(scratch_beside, discarded)
    timings: list[measure.Timing] = []
    try:
        # Untimed, through the same machinery: the first run pays for reading the libraries'
        # files from disk (a first tutorial PNG run took 4.1 s where the next took 0.8).
        warmup, few = scratch / "warmup", measure.WARMUP_IMAGES
        _write(store, warmup, images[:few], labels[:few], 1, store.shares_writes)
        verify_in_child(store, warmup, store.shares_writes, 1, expected[:few], labels[:few])
        outcomes = []
        for index, count in enumerate(writers):
            progress.step(f"{count} writer(s)", index, len(writers))
            outcomes.append(
                _time_writers(store, images, labels, expected, count, scratch, policy, timings)
            )
        return timings, outcomes
    finally:
        discards.set_aside(scratch, discarded)


def _time_writers(
    store: Store,
    images: np.ndarray,
    labels: np.ndarray,
    expected: np.ndarray,
    count: int,
    scratch: Path,
    policy: measure.RepeatPolicy,
    timings: list[measure.Timing],
) -> Outcome:
    """The repeats of `count` writers, their timings appended to `timings`; their outcome."""
    refusal: str | None = None if store.shares_writes else NO_SHARED_WRITES.format(store=store.key)
    shares: list[float] = []

    def once(repeat: int) -> float:
        nonlocal refusal
        folder = scratch / f"writers-{count}-repeat-{repeat}"
        if refusal is None:
            try:
                seconds, waits = measure.timed(_write, store, folder, images, labels, count, True)
            except _Refused as refused:
                if count == 1:
                    raise StoreError(
                        f"{store.key}: a single writer process was refused: {refused}"
                    ) from refused
                refusal = str(refused)
        if refusal is not None:
            folder = scratch / f"writers-{count}-repeat-{repeat}-own-stores"
            seconds, waits = measure.timed(_write, store, folder, images, labels, count, False)
        verify_in_child(store, folder, refusal is None, count, expected, labels)
        shares.append(max(waits, default=0.0) / seconds)
        timings.append(
            measure.Timing(
                Operation.WRITE_CONCURRENT, Phase.WRITE, repeat, len(images), seconds, writers=count
            )
        )
        return seconds

    policy.repeat(once)
    return Outcome(count, refusal is None, refusal, float(np.median(shares)))


def write_concurrently(
    store: Store,
    pool: Path,
    image_size: int,
    n_images: int,
    writers: list[int],
    scratch: Path,
    table: Path,
    record: Path,
    repeats: Mapping[str, float],
    discarded: Path | None,
) -> None:
    """The tutorial's claims about concurrent writers: `writers` processes writing one store of
    `n_images` at once (or a store each, where the format refuses); `record` says, per count of
    writers, whether they could share one store, the refusal, and how long a writer waited for
    the store's write lock."""
    images, labels = Pool.load(pool).first(n_images)
    policy = measure.RepeatPolicy.of(repeats)
    timings, outcomes = time_concurrent_writes(
        store, images, labels, writers, scratch, policy, discarded
    )
    write_timings(table, timings, store, image_size, n_images, scratch)
    labels_of = store.series_columns() | {SIZE_COLUMN: image_size, "n_images": n_images}
    write_json(record, {"outcomes": [labels_of | asdict(outcome) for outcome in outcomes]})


__all__ = [
    "Outcome",
    "error_text",
    "time_concurrent_writes",
    "verify_in_child",
    "write_concurrently",
]
