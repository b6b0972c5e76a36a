"""The training loader: samplers, the PyTorch datasets over every store kind, the experiment's
measures and checks, and its failures (a worker killed, a store deleted mid-epoch)."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from imgbench import loader, loader_limits
from imgbench.cells import LOADER_COLUMNS
from imgbench.codecs import Codec
from imgbench.errors import LoaderError, StoreError, VerificationError
from imgbench.measure import RepeatPolicy
from imgbench.samplers import EpochSampler
from imgbench.stores import formats, get_store, implementations
from imgbench.synthetic import synthetic_images
from imgbench.torch import ArrayDataset, ShardStream, StoreDataset, as_batch

COUNT = 300
BATCH = 64
SETTINGS = loader.LoaderSettings(
    batch_size=BATCH,
    workers=[0, 2],
    samplers=["shuffle", "block", "sequential", "stream"],
    block_size=32,
    window=2,
    shuffle_buffer=50,
    seed=0,
    timeout_seconds=60,
)
ONCE = RepeatPolicy(minimum=1, maximum=1, relative_half_width=0.05, cell_budget_seconds=1)


@pytest.fixture(scope="module")
def source() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_images(COUNT, seed=5)


def loaded_store(kind: tuple[str, str], source, folder: Path) -> Path:
    """A store of `kind` (format, implementation) holding the source images in its first
    codec; tar shards small enough for several shards."""
    name, implementation = kind
    options = {"shard_bytes": 256 * 1024} if name == "tar" else {}
    store = get_store(
        name, implementation, Codec(get_store(name, implementation).codecs[0]), **options
    )
    path = folder / f"{name}-{implementation}"
    store.write_many(path, *source)
    return path


def fast_kinds() -> list[tuple[str, str]]:
    """Every format's `fast` implementation (the baseline's own for raw)."""
    return [
        (name, "fast" if "fast" in implementations(name) else implementations(name)[0])
        for name in formats()
    ]


# --- Samplers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["shuffle", "block", "sequential"])
def test_every_sampler_gives_each_index_once_per_epoch_reproducibly(kind: str) -> None:
    sampler = EpochSampler(kind, 1000, seed=3, block_size=64, window=4)
    first = sampler.order()
    assert sorted(first.tolist()) == list(range(1000))
    assert list(sampler) == first.tolist()
    assert np.array_equal(EpochSampler(kind, 1000, 3, 64, 4).order(), first)
    sampler.set_epoch(1)
    changed = not np.array_equal(sampler.order(), first)
    assert changed == (kind != "sequential")


def test_the_block_sampler_draws_each_window_from_few_blocks() -> None:
    order = EpochSampler("block", 1000, seed=0, block_size=100, window=2).order()
    for start in range(0, 1000, 200):
        assert len(set((order[start : start + 200] // 100).tolist())) == 2
    assert loader.displacement(order) > 0.1  # the blocks themselves moved


def test_shuffle_quality_measures() -> None:
    labels = np.arange(1000) % 10
    assert loader.ideal_distinct_labels(labels, 1000) == pytest.approx(10)
    assert loader.ideal_distinct_labels(np.zeros(100, dtype=np.uint8), 10) == pytest.approx(1)
    # Two classes of 50 in batches of 2: P(both of one class) = 2 * (50 * 49) / (100 * 99).
    two = np.repeat([0, 1], 50)
    assert loader.ideal_distinct_labels(two, 2) == pytest.approx(2 - 2 * 50 * 49 / (100 * 99))
    assert loader.mean_distinct_labels([np.array([0, 0, 1]), np.array([2])], 3) == 2
    assert loader.displacement(np.arange(100)) == 0
    uniform = [
        loader.displacement(np.random.default_rng(seed).permutation(3000)) for seed in range(5)
    ]
    assert np.mean(uniform) == pytest.approx(1 / 3, abs=0.01)


# --- The datasets over every store kind ----------------------------------------------------------


@pytest.mark.parametrize("kind", fast_kinds(), ids="/".join)
def test_a_dataloader_reads_every_store_kind_once_per_epoch(kind, source, tmp_path: Path) -> None:
    """0 workers and, where the store's library allows forked readers, 2 workers: every image
    once, equal to the source, in the sampler's order."""
    path = loaded_store(kind, source, tmp_path)
    store = get_store(*kind)
    workers = [0, 2] if store.concurrent_readers else [0]
    for count in workers:
        dataset = StoreDataset(path, threads=1)
        sampler = EpochSampler("shuffle", len(dataset), seed=count)
        batches = list(
            DataLoader(
                dataset, batch_size=BATCH, sampler=sampler, num_workers=count, collate_fn=as_batch
            )
        )
        dataset.close()
        images = torch.cat([images for images, _ in batches]).numpy()
        labels = torch.cat([labels for _, labels in batches]).numpy()
        order = sampler.order()
        assert images.dtype == np.uint8 and images.shape == (COUNT, 32, 32, 3)
        assert labels.dtype == np.int64
        assert np.array_equal(images, source[0][order]) and np.array_equal(labels, source[1][order])
    assert loader.store_cells(store, SETTINGS) == [
        (sampler, count)
        for sampler in ["shuffle", "block", "sequential", *(["stream"] if store.streams else [])]
        for count in workers
    ]


def test_a_dataset_item_is_an_hwc_tensor_and_its_label(source, tmp_path: Path) -> None:
    path = loaded_store(("lmdb", "fast"), source, tmp_path)
    dataset = StoreDataset(path)
    image, label = dataset[7]
    assert isinstance(image, torch.Tensor) and image.dtype == torch.uint8
    assert np.array_equal(image.numpy(), source[0][7]) and label == source[1][7]
    dataset.close()


def test_a_reader_open_in_the_parent_is_not_reused_by_workers(source, tmp_path: Path) -> None:
    """A worker opens its own reader; for LMDB, which refuses a second handle of one
    environment in a process, the message says to close the parent's first."""
    for kind in (("raw", "baseline"), ("hdf5", "fast")):
        dataset = StoreDataset(loaded_store(kind, source, tmp_path))
        dataset[0]  # the parent's reader
        batches = list(DataLoader(dataset, batch_size=BATCH, num_workers=2, collate_fn=as_batch))
        assert torch.cat([images for images, _ in batches]).numpy().tobytes() == source[0].tobytes()
    dataset = StoreDataset(loaded_store(("lmdb", "fast"), source, tmp_path))
    dataset[0]
    with pytest.raises(StoreError, match="call the dataset's close"):
        list(DataLoader(dataset, batch_size=BATCH, num_workers=1, collate_fn=as_batch))


def test_a_shard_stream_shuffles_shards_and_splits_them_between_workers(
    source, tmp_path: Path
) -> None:
    path = loaded_store(("tar", "fast"), source, tmp_path)
    stream = ShardStream(path, BATCH, buffer=0, seed=1, with_indices=True)
    assert len(stream.index.shards) >= 3
    orders = []
    for epoch, workers in ((0, 0), (1, 0), (1, 2)):
        stream.set_epoch(epoch)
        batches = list(DataLoader(stream, batch_size=None, num_workers=workers))
        order = torch.cat([indices for _, _, indices in batches]).numpy()
        images = torch.cat([images for images, _, _ in batches]).numpy()
        assert sorted(order.tolist()) == list(range(COUNT))
        assert np.array_equal(images, source[0][order])
        orders.append(order)
    shards = stream.index.rows[:, 0]
    assert not np.array_equal(shards[orders[0]], shards[orders[1]])  # a new shard order
    first_shard = orders[1][shards[orders[1]] == shards[orders[1][0]]]
    assert np.array_equal(first_shard, np.sort(first_shard))  # no buffer: members in order
    with pytest.raises(StoreError, match="only tar shards stream"):
        ShardStream(loaded_store(("lmdb", "fast"), source, tmp_path), BATCH)


# --- The experiment ------------------------------------------------------------------------------


def test_the_experiment_times_and_checks_every_cell(source, tmp_path: Path) -> None:
    """A store's and the limits' cells, each written as epoch rows with every measure."""
    images, labels = source
    tar = loaded_store(("tar", "fast"), source, tmp_path)
    raw = loaded_store(("raw", "baseline"), source, tmp_path)
    store = get_store("tar", "fast")
    targets = [
        (
            loader.store_target(store, tar, loader.Source(images, labels)),
            [("stream", 2), ("block", 0)],
        )
    ]
    targets += [
        (target, [("shuffle", 0)])
        for target in loader_limits.limit_targets(images, labels, [Codec("png")], raw)
    ]
    table = tmp_path / "loader.csv"
    loader.measure_loader(targets, SETTINGS, ONCE, table)
    rows = pd.read_csv(table)
    assert tuple(rows.columns) == LOADER_COLUMNS
    assert set(zip(rows.method, rows.implementation, rows.codec, rows.sampler, strict=True)) == {
        ("tar", "fast", "png", "stream"),
        ("tar", "fast", "png", "block"),
        ("limit", "memory", "raw", "shuffle"),
        ("limit", "mmap", "raw", "shuffle"),
        ("limit", "memory", "png", "shuffle"),
    }
    assert (rows.seconds > 0).all() and (rows.first_batch_seconds <= rows.seconds).all()
    assert (rows.batch_p50_seconds <= rows.batch_p99_seconds).all()
    assert (rows.peak_memory_mib >= 0).all()
    assert (
        rows.distinct_labels.between(1, 10).all()
        and rows.distinct_labels_ideal.between(9, 10).all()
    )
    assert rows.loc[rows.sampler == "shuffle", "displacement"].between(0.25, 0.42).all()


class Corrupt(Dataset):
    """Returns batches with one wrong pixel, or a batch twice, to test the checks."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, fault: str) -> None:
        self.images, self.labels, self.fault = images, labels, fault

    def __len__(self) -> int:
        return len(self.labels)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = np.asarray(indices)
        if self.fault == "repeat" and rows[0] >= BATCH:
            rows = rows - BATCH
        images = self.images[rows].copy()
        if self.fault == "pixel" and 0 in indices:
            images[0, 0, 0, 0] ^= 1
        if self.fault == "kill" and get_worker_id() == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return torch.from_numpy(images), torch.from_numpy(self.labels[rows].astype(np.int64))


def get_worker_id() -> int | None:
    info = torch.utils.data.get_worker_info()
    return None if info is None else info.id


def epoch_over(dataset: Dataset, workers: int = 0, timeout: float = 0) -> loader.Epoch:
    sampler = EpochSampler("sequential", len(dataset))
    batches = DataLoader(
        dataset, BATCH, sampler=sampler, num_workers=workers, collate_fn=as_batch, timeout=timeout
    )
    source = loader.Source(dataset.images, dataset.labels)
    return loader.run_epoch(batches, lambda _: sampler.order(), source, "test cell")


@pytest.mark.parametrize("fault", ["pixel", "repeat"])
def test_an_epoch_with_wrong_or_repeated_images_fails(fault, source) -> None:
    with pytest.raises(VerificationError, match="differ from the source"):
        epoch_over(Corrupt(*source, fault))
    assert epoch_over(ArrayDataset(*source)).seconds > 0


def test_a_stream_that_loses_or_repeats_an_index_fails(source) -> None:
    """A stream's batches carry their indices: each must appear exactly once."""
    images, labels = source
    order = np.arange(COUNT)
    order[5] = 6
    with pytest.raises(VerificationError, match="lost or repeated images"):
        loader.Source(images, labels).check(images[order], labels[order], order, "stream")
    with pytest.raises(VerificationError, match="returned 299 images of 300"):
        loader.Source(images, labels).check(images[1:], labels[1:], np.arange(1, COUNT), "s")


def test_a_killed_worker_fails_the_cell_with_a_message_not_a_hang(source) -> None:
    with pytest.raises(LoaderError, match="a DataLoader worker process died"):
        epoch_over(Corrupt(*source, "kill"), workers=2, timeout=60)


def test_a_store_deleted_while_the_loader_runs_fails_clearly(source, tmp_path: Path) -> None:
    path = loaded_store(("files", "fast"), source, tmp_path)
    dataset = StoreDataset(path)
    sampler = EpochSampler("sequential", COUNT)
    batches = DataLoader(dataset, BATCH, sampler=sampler, collate_fn=as_batch)

    def deleting_after_the_first():
        for number, batch in enumerate(batches):
            yield batch
            if number == 0:
                shutil.rmtree(path)

    with pytest.raises(LoaderError, match="deleted or rebuilt meanwhile"):
        loader.run_epoch(
            deleting_after_the_first(), lambda _: sampler.order(), loader.Source(*source), "files"
        )


def test_the_process_tree_memory_counts_the_workers(source) -> None:
    """A tree with DataLoader workers is more than this process alone."""
    alone = loader.tree_pss_bytes(os.getpid())
    iterator = iter(DataLoader(ArrayDataset(*source), BATCH, num_workers=2, collate_fn=as_batch))
    next(iterator)
    assert len(loader.tree_pids(os.getpid())) >= 3
    assert loader.tree_pss_bytes(os.getpid()) > alone
    del iterator


def test_memory_counts_what_the_loader_adds_not_the_epochs_check() -> None:
    """The check after an epoch holds several copies of it; the peak leaves them out, and the
    batches the experiment keeps for it."""
    images = np.random.default_rng(0).integers(0, 255, (20_000, 32, 32, 3), dtype=np.uint8)
    labels = (np.arange(20_000) % 10).astype(np.uint8)
    target = loader.Target(
        ("limit", "memory", "raw"),
        lambda _: ArrayDataset(images, labels),
        loader.Source(images, labels),
    )
    rows = loader.measure_cell(target, "shuffle", 0, SETTINGS, ONCE)
    assert 0 <= rows[0]["peak_memory_mib"] < images.nbytes / 2**20 / 4


def test_memory_leaves_out_the_pages_of_mapped_files(tmp_path: Path) -> None:
    """Touching a mapped file adds page cache to a process's PSS, not memory of its own."""
    path = tmp_path / "data"
    path.write_bytes(os.urandom(32 << 20))
    before = loader.tree_pss_bytes(os.getpid())
    mapped = np.memmap(path, dtype=np.uint8, mode="r")
    assert int(mapped[::4096].sum()) >= 0  # every page read through the map
    assert loader.tree_pss_bytes(os.getpid()) - before < 8 << 20
    del mapped
