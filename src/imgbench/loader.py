"""The loader experiment: epochs of shuffled mini-batches through PyTorch's DataLoader, per store.

One cell is a (sampler, worker count) pair over one store (`imgbench.torch.StoreDataset`, or
`ShardStream` for the `stream` sampler of a tar store) or over a physical limit: the pool as an
array in memory, and the raw baseline's `images.npy` memory-mapped (`ArrayDataset`). Each cell
starts with an untimed epoch that also measures memory, then times epochs as the `RepeatPolicy`
says. An epoch's clock runs from asking the DataLoader for its iterator (so worker start and each
worker's store open are in it) to the last batch's arrival, with the collector off; the time to
the first batch and the gaps between later batches are taken on the way.

Every batch of every epoch is kept and checked after the epoch, outside the clock: the images and
labels must be the source's at the indices the sampler gave (rebuilt from its seed and epoch; a
stream's batches carry their indices), and each index must appear exactly once.

Peak memory is the highest proportional set size (PSS) of the whole process tree's anonymous and
shared memory (the parent and its DataLoader workers, whose shared pages PSS splits between them;
the workers' batches travel in shared memory) during the untimed epoch, sampled every
`MEMORY_INTERVAL_SECONDS`, less the tree's before the epoch and the batches the experiment was
keeping at that moment: what the loader itself adds. Pages of the store's files that a reader maps
(LMDB, SQLite, tar shards, the raw and HDF5 readers' scattered reads) are left out: they are the
page cache's, which the kernel may drop, and counted they made every mapping reader look 220-400
MiB heavier at 100,000 images than the same reader using preadv. Reading a process's PSS
(`/proc/<pid>/smaps_rollup`) took 13.5 ms of kernel time in a process that had imported torch
(2-core VM, 2026-11-26), which is why it is not sampled during timed epochs; `/proc/<pid>/statm`
is cheap (85 us) but its resident size counts every page a forked worker shares with its parent
once per worker.

Shuffle quality is how much a batch looks like a uniform random draw from the store: the mean
number of distinct labels in the epoch's full batches against the expected number for a batch
drawn uniformly without replacement (`ideal_distinct_labels`), and the mean distance of an image's
position in the epoch from its stored index, as a fraction of N (1/3 for a uniform permutation,
0 in order).
"""

from __future__ import annotations

import gc
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader, Dataset

from imgbench import progress, thread_pools
from imgbench.atomic_files import write_rows
from imgbench.cells import (
    LOADER_COLUMNS,
    SERIES_KEYS,
    SIZE_COLUMN,
    Sampler,
)
from imgbench.errors import LoaderError, StoreError, VerificationError
from imgbench.measure import RepeatPolicy
from imgbench.parallel import expected_images
from imgbench.pool import Pool
from imgbench.samplers import EpochSampler
from imgbench.stores.base import Store
from imgbench.torch import ShardStream, StoreDataset, as_batch

MEMORY_INTERVAL_SECONDS = 0.05


@dataclass(frozen=True)
class LoaderSettings:
    """The config's `loader` section, as one job uses it."""

    batch_size: int
    workers: list[int]
    samplers: list[str]
    block_size: int
    window: int
    shuffle_buffer: int
    seed: int
    timeout_seconds: float

    @classmethod
    def of(cls, loader: Mapping[str, object]) -> LoaderSettings:
        return cls(
            int(loader["batch_size"]),  # type: ignore[call-overload]
            [int(count) for count in loader["workers"]],  # type: ignore[attr-defined]
            [str(kind) for kind in loader["samplers"]],  # type: ignore[attr-defined]
            int(loader["block_size"]),  # type: ignore[call-overload]
            int(loader["window"]),  # type: ignore[call-overload]
            int(loader["shuffle_buffer"]),  # type: ignore[call-overload]
            int(loader["seed"]),  # type: ignore[call-overload]
            float(loader["timeout_seconds"]),  # type: ignore[arg-type]
        )


def store_cells(store: Store, settings: LoaderSettings) -> list[tuple[str, int]]:
    """The (sampler, workers) cells a store is loaded in: `stream` only for a store read by
    streaming (tar shards), worker processes only for a store forked children may read
    (`Store.concurrent_readers`)."""
    samplers = [kind for kind in settings.samplers if kind != Sampler.STREAM or store.streams]
    workers = [count for count in settings.workers if count == 0 or store.concurrent_readers]
    return [(kind, count) for kind in samplers for count in workers]


def limit_cells(settings: LoaderSettings) -> list[tuple[str, int]]:
    return [
        (kind, count)
        for kind in settings.samplers
        if kind != Sampler.STREAM
        for count in settings.workers
    ]


# --- Shuffle quality -----------------------------------------------------------------------------


def ideal_distinct_labels(labels: np.ndarray, batch_size: int) -> float:
    """Expected distinct labels in `batch_size` images drawn uniformly without replacement from
    images labelled `labels`: per class, 1 - C(N - n_c, B) / C(N, B)."""
    total = len(labels)
    batch = min(batch_size, total)
    expected = 0.0
    for count in np.bincount(labels).tolist():
        if count == 0:
            continue
        rest = total - count
        if rest < batch:
            expected += 1.0
            continue
        log_none = (
            math.lgamma(rest + 1)
            - math.lgamma(rest - batch + 1)
            - math.lgamma(total + 1)
            + math.lgamma(total - batch + 1)
        )
        expected += 1.0 - math.exp(log_none)
    return expected


def mean_distinct_labels(batches: list[np.ndarray], batch_size: int) -> float:
    """Mean distinct labels over the full batches (all batches if none is full)."""
    full = [labels for labels in batches if len(labels) == batch_size] or batches
    return float(np.mean([len(np.unique(labels)) for labels in full]))


def displacement(order: np.ndarray) -> float:
    """Mean |position in the epoch - stored index| ÷ N."""
    return float(np.abs(np.arange(len(order)) - order).mean() / len(order))


# --- Memory of the process tree ------------------------------------------------------------------


def tree_pids(root: int) -> list[int]:
    """`root` and every live descendant."""
    pids, queue = [], [root]
    while queue:
        pid = queue.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    queue += [int(child) for child in children.read().split()]
        except OSError:  # the process ended meanwhile
            continue
    return pids


PSS_KINDS = ("Pss_Anon:", "Pss_Shmem:")  # not Pss_File: mapped pages of files, page cache


def tree_pss_bytes(root: int) -> int:
    """The proportional set size of the anonymous and shared memory of `root`'s process tree."""
    total = 0
    for pid in tree_pids(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total += sum(
                    int(line.split()[1]) * 1024 for line in rollup if line.startswith(PSS_KINDS)
                )
        except OSError:
            continue
    return total


@dataclass
class MemoryWatch:
    """The peak of the tree's PSS less `kept` (bytes the caller holds outside the loader), over
    the PSS at the start, sampled in a thread while in use."""

    kept: int = 0
    peak: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def watching(self) -> Iterator[MemoryWatch]:
        before = tree_pss_bytes(os.getpid())
        thread = threading.Thread(target=self._sample, args=(before,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()
            self._sample_once(before)

    def _sample(self, before: int) -> None:
        while not self._stop.wait(MEMORY_INTERVAL_SECONDS):
            self._sample_once(before)

    def _sample_once(self, before: int) -> None:
        self.peak = max(self.peak, tree_pss_bytes(os.getpid()) - self.kept - before)


# --- One epoch -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Epoch:
    """What one epoch measured: seconds to its last batch, to its first, between later ones."""

    seconds: float
    first_batch_seconds: float
    gaps: np.ndarray
    order: np.ndarray
    label_batches: list[np.ndarray]


@dataclass(frozen=True)
class Source:
    """What every epoch must return: the images and labels at each stored index."""

    images: np.ndarray
    labels: np.ndarray

    def check(self, images: np.ndarray, labels: np.ndarray, order: np.ndarray, what: str) -> None:
        """Fail unless `order` holds every index once and the batches are the source's."""
        counts = np.bincount(order, minlength=len(self.labels)) if len(order) else order
        if len(order) != len(self.labels) or len(counts) != len(self.labels) or counts.max() > 1:
            missing = int(np.count_nonzero(counts[: len(self.labels)] == 0))
            raise VerificationError(
                f"{what}: an epoch returned {len(order)} images of {len(self.labels)}, "
                f"{missing} index(es) never and some more than once: the loader lost or "
                "repeated images"
            )
        bad = np.flatnonzero(
            (images != self.images[order]).reshape(len(order), -1).any(axis=1)
            | (labels != self.labels[order])
        )
        if len(bad):
            raise VerificationError(
                f"{what}: {len(bad)} image(s) or label(s) differ from the source (first at "
                f"epoch position {bad[0]}, stored index {order[bad[0]]}): the store is damaged "
                "or its reader is wrong"
            )


def run_epoch(
    loader: Iterable[tuple[object, ...]],
    order_of: Callable[[list[tuple[object, ...]]], np.ndarray],
    source: Source,
    what: str,
    memory: MemoryWatch | None = None,
) -> Epoch:
    """Time one epoch of `loader` and check it; `order_of(batches)` gives the stored index of
    each image returned."""
    batches: list[tuple[object, ...]] = []
    stamps: list[float] = []
    collecting = gc.isenabled()
    gc.disable()
    # Memory is watched over the loop only: the check below holds copies of the whole epoch.
    watch = memory.watching() if memory is not None else nullcontext()
    try:
        with watch:
            start = time.perf_counter()
            for batch in loader:
                stamps.append(time.perf_counter())
                batches.append(batch)
                if memory is not None:
                    memory.kept += batch[0].numel()  # type: ignore[attr-defined]
    except RuntimeError as error:
        raise loader_failure(error, what) from error
    except (StoreError, OSError) as error:
        raise LoaderError(
            f"{what}: the store failed while the loader read it (was it deleted or rebuilt "
            f"meanwhile? rerun the job): {error}"
        ) from error
    finally:
        if collecting:
            gc.enable()
    if not batches:
        raise VerificationError(f"{what}: an epoch returned no batch")
    images = np.concatenate([batch[0].numpy() for batch in batches])  # type: ignore[attr-defined]
    labels = np.concatenate([batch[1].numpy() for batch in batches])  # type: ignore[attr-defined]
    order = order_of(batches)
    source.check(images, labels.astype(np.uint8), order, what)
    label_batches = [batch[1].numpy() for batch in batches]  # type: ignore[attr-defined]
    return Epoch(stamps[-1] - start, stamps[0] - start, np.diff(stamps), order, label_batches)


def loader_failure(error: RuntimeError, what: str) -> LoaderError:
    """A DataLoader's failure as the user should read it: a worker that died or went silent."""
    message = str(error)
    if "exited unexpectedly" in message or "killed by signal" in message:
        return LoaderError(
            f"{what}: a DataLoader worker process died ({message.splitlines()[0]}); the system "
            "may have run out of memory (see `dmesg`), or a library crashed in the worker: run "
            "the cell with 0 workers to see the library's own error"
        )
    if "timed out" in message:
        return LoaderError(
            f"{what}: no batch arrived for `loader.timeout_seconds` ({message}); a worker is "
            "stuck (a library deadlocked after fork?) or the store is far slower than expected: "
            "raise the timeout or leave the store's worker cells out"
        )
    return LoaderError(f"{what}: the DataLoader failed: {message}")


# --- Cells ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a loader cell reads: a store, or an array (a limit)."""

    series: tuple[str, str, str]
    open_dataset: Callable[[int], Dataset]  # given the cell's worker count
    source: Source  # what it must return
    stream_path: Path | None = None  # a tar store streams from here


def loader_for(
    target: Target, kind: str, workers: int, settings: LoaderSettings, epoch: int
) -> tuple[DataLoader, Callable[[list[tuple[object, ...]]], np.ndarray], Callable[[], None]]:
    """A DataLoader of one epoch of a cell, how to find the order its batches came in, and how to
    release what it opened."""
    timeout = settings.timeout_seconds if workers else 0
    if kind == Sampler.STREAM:
        assert target.stream_path is not None
        stream = ShardStream(
            target.stream_path,
            settings.batch_size,
            settings.shuffle_buffer,
            settings.seed,
            with_indices=True,
        )
        stream.set_epoch(epoch)
        loader = DataLoader(stream, batch_size=None, num_workers=workers, timeout=timeout)
        return loader, lambda batches: np.concatenate([b[2].numpy() for b in batches]), _nothing
    dataset = target.open_dataset(workers)
    sampler = EpochSampler(kind, len(dataset), settings.seed, settings.block_size, settings.window)  # type: ignore[arg-type]
    sampler.set_epoch(epoch)
    loader = DataLoader(
        dataset,
        batch_size=settings.batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=as_batch,
        timeout=timeout,
    )
    close = getattr(dataset, "close", _nothing)
    return loader, lambda _: sampler.order(), close


def _nothing() -> None:
    return None


def sampling(kind: str, workers: int) -> str:
    """A loader cell's sampler and workers, as the job's log and progress lines name them."""
    return f"{kind} sampler, {workers} worker(s)"


def cell_words(target: Target, kind: str, workers: int) -> str:
    """A loader cell of `target` as the job's log and progress lines name it."""
    return f"{'/'.join(target.series)}, {sampling(kind, workers)}"


def measure_cell(
    target: Target, kind: str, workers: int, settings: LoaderSettings, policy: RepeatPolicy
) -> list[dict[str, object]]:
    """An untimed epoch measuring memory, then timed epochs as `policy` says: one row each."""
    source = target.source
    what = cell_words(target, kind, workers)
    ideal = ideal_distinct_labels(source.labels, settings.batch_size)
    memory = MemoryWatch()

    def epoch_of(number: int, watch: MemoryWatch | None) -> Epoch:
        loader, order_of, close = loader_for(target, kind, workers, settings, number)
        try:
            return run_epoch(loader, order_of, source, what, watch)
        finally:
            close()

    epoch_of(0, memory)
    rows: list[dict[str, object]] = []

    def once(repeat: int) -> float:
        epoch = epoch_of(repeat + 1, None)
        gaps = epoch.gaps if len(epoch.gaps) else np.array([epoch.first_batch_seconds])
        rows.append(
            {
                **dict(zip(SERIES_KEYS, target.series, strict=True)),
                SIZE_COLUMN: source.images.shape[1],
                "n_images": len(source.labels),
                "sampler": kind,
                "workers": workers,
                "batch_size": settings.batch_size,
                "epoch": repeat + 1,
                "images": len(source.labels),
                "seconds": epoch.seconds,
                "first_batch_seconds": epoch.first_batch_seconds,
                "batch_p50_seconds": float(np.percentile(gaps, 50)),
                "batch_p99_seconds": float(np.percentile(gaps, 99)),
                "peak_memory_mib": memory.peak / 2**20,
                "distinct_labels": mean_distinct_labels(epoch.label_batches, settings.batch_size),
                "distinct_labels_ideal": ideal,
                "displacement": displacement(epoch.order),
                "host": socket.gethostname(),
            }
        )
        print(
            f"{what}: epoch {repeat + 1} {epoch.seconds:.3f} s "
            f"({len(source.labels) / epoch.seconds:,.0f} images/s), first batch "
            f"{epoch.first_batch_seconds * 1e3:.1f} ms"
        )
        return epoch.seconds

    policy.repeat(once)
    return rows


def store_target(store: Store, store_dir: Path, source: Source) -> Target:
    """A store's loader target: a `StoreDataset`, whose reader may use both cores without
    DataLoader workers and one core inside each worker."""

    def open_dataset(workers: int) -> Dataset:
        return StoreDataset(store_dir, store, threads=None if workers == 0 else 1)

    series = (store.format, store.implementation, store.codec.name)
    return Target(series, open_dataset, source, store_dir if store.streams else None)


def measure_loader(
    targets: list[tuple[Target, list[tuple[str, int]]]],
    settings: LoaderSettings,
    policy: RepeatPolicy,
    table: Path,
) -> None:
    """Every cell of every target, written as one table of epoch rows."""
    every_cell = [(target, kind, workers) for target, cells in targets for kind, workers in cells]
    rows = []
    for index, (target, kind, workers) in enumerate(every_cell):
        # A job of one store is named by it already; the limits' job names each target.
        words = cell_words(target, kind, workers) if len(targets) > 1 else sampling(kind, workers)
        progress.step(words, index, len(every_cell))
        rows += measure_cell(target, kind, workers, settings, policy)
    write_rows(table, LOADER_COLUMNS, rows)


# --- The jobs -------------------------------------------------------------------------------------


def load_store(
    store: Store,
    pool: Path,
    n_images: int,
    store_dir: Path,
    table: Path,
    repeats: Mapping[str, float],
    loader: Mapping[str, object],
    threads: int,
) -> None:
    """The loader job of one store: every (sampler, workers) cell the store allows."""
    thread_pools.pin_for_job(threads)
    images, labels = Pool.load(pool).first(n_images)
    settings = LoaderSettings.of(loader)
    source = Source(expected_images(store.codec, images, threads), labels)
    target = store_target(store, store_dir, source)
    measure_loader(
        [(target, store_cells(store, settings))], settings, RepeatPolicy.of(repeats), table
    )
