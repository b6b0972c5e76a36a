"""Training from a store: PyTorch datasets over any store imgbench builds.

`StoreDataset` is a map-style dataset: `dataset[i]` is one image (an HWC uint8 tensor) and its
label, and `__getitems__` answers a whole batch of indices with one `read_many` of the store, so a
`torch.utils.data.DataLoader` with a batch size asks the store once per batch instead of once per
image. Its batches are already stacked, so pass `collate_fn=as_batch`:

    from torch.utils.data import DataLoader
    from imgbench.torch import StoreDataset, as_batch

    dataset = StoreDataset("results/stores/lmdb/fast/raw/32px/100000")
    for images, labels in DataLoader(dataset, batch_size=256, shuffle=True, collate_fn=as_batch):
        ...  # images: (256, 32, 32, 3) uint8, labels: (256,) int64

The store is opened lazily, once in each process that reads it: a DataLoader worker forked from a
parent that already read the store opens its own reader rather than sharing the parent's file
handles, mappings or library state (LMDB, Lance and TileDB each forbid that in their own way).

`ShardStream` reads a tar store (WebDataset shards) the way it is meant to be read: every shard
from start to end, shards in a shuffled order, split between the loader's workers, through a
shuffle buffer, as `webdataset.WebDataset(urls, shardshuffle=...).shuffle(buffer)` users configure
it; it yields whole batches, so the DataLoader takes `batch_size=None`. Streaming costs what
webdataset's reading costs: it parses every tar header with Python's `tarfile`, 100-160 us per
sample here, so 10,000 PNG samples took 1.0 s through a bare `WebDataset` pipeline, 1.6 s with
the shard shuffle and `to_tuple`, 2.2 s with decoding, against 0.6 s for the same images read
by index through `StoreDataset` (2-core VM, 2026-11-26).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import webdataset
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from imgbench.errors import StoreError
from imgbench.stores import store_of
from imgbench.stores.base import Reader, Store

__all__ = ["ArrayDataset", "ShardStream", "StoreDataset", "as_batch"]

_INHERITED: list[Reader] = []  # readers a forked worker inherited: kept alive, never closed


def as_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The DataLoader's `collate_fn` for datasets whose `__getitems__` already returns a batch."""
    return batch


def batch_tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as a uint8 tensor sharing their memory, labels as int64 (what losses take)."""
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


class StoreDataset(Dataset):
    """Every image of the store at `path` (any format `imgbench.stores.store_of` recognises, or
    read with `store`), with its label.

    `threads` caps the processes or threads the store's reader may use within one read (None:
    one per core); inside a DataLoader worker a reader always works alone, as the workers are the
    parallelism.
    """

    def __init__(self, path: str | Path, store: Store | None = None, threads: int | None = 1):
        self.path = Path(path)
        self.store = store or store_of(self.path)
        self.threads = threads
        with self.store.open(self.path, workers=threads) as reader:
            self._count = len(reader)
        self._reader: Reader | None = None
        self._opened_in: int | None = None

    def reader(self) -> Reader:
        """This process's reader of the store, opened on first use in each process.

        A reader inherited from the parent is kept, never used or closed: closing a library's
        handle in a forked child can release the parent's locks (LMDB clears its reader slots).
        """
        if self._reader is not None and self._opened_in == os.getpid():
            return self._reader
        inherited = self._reader
        if inherited is not None:
            _INHERITED.append(inherited)
        threads = 1 if get_worker_info() is not None else self.threads
        try:
            self._reader = self.store.open(self.path, workers=threads)
        except StoreError as error:
            if inherited is None:
                raise
            raise StoreError(
                f"{error}. The parent process still had this store open when the DataLoader "
                "started its workers: call the dataset's close() in the parent before iterating "
                "with workers"
            ) from error
        self._opened_in = os.getpid()
        return self._reader

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.reader()[index]
        return torch.from_numpy(image), label

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return batch_tensors(*self.reader().read_many(np.asarray(indices, dtype=np.int64)))

    def close(self) -> None:
        """Close this process's reader, if it opened one."""
        if self._reader is not None and self._opened_in == os.getpid():
            self._reader.close()
        self._reader = None

    def __getstate__(self) -> dict[str, object]:
        """A copy sent to a spawned worker opens its own reader."""
        return {**self.__dict__, "_reader": None, "_opened_in": None}


class ArrayDataset(Dataset):
    """Images and labels already in memory (or memory-mapped): the loader's physical limit, what
    a store cannot beat, with the same batch interface as `StoreDataset`."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(np.array(self.images[index])), int(self.labels[index])

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = np.asarray(indices, dtype=np.int64)
        return batch_tensors(np.ascontiguousarray(self.images[rows]), self.labels[rows])


class ShardStream(IterableDataset):
    """The samples of a tar store, streamed shard by shard in batches of `batch_size`.

    Each epoch (`set_epoch`) shuffles the shard order with `(seed, epoch)`, splits the shards
    between the DataLoader's workers (webdataset's `split_by_worker`), and passes the samples
    through a shuffle buffer of `buffer` samples (0: none). With `with_indices`, each batch also
    carries the stored index of every image (from its key), which the loader experiment checks.
    """

    def __init__(
        self,
        path: str | Path,
        batch_size: int,
        buffer: int = 1000,
        seed: int = 0,
        with_indices: bool = False,
    ) -> None:
        store = store_of(Path(path))
        if not store.streams:
            raise StoreError(f"{path} is a {store.format} store; only tar shards stream")
        self.index = store.shard_index(Path(path))  # type: ignore[attr-defined]
        self.codec = store.codec
        self.batch_size = batch_size
        self.buffer = buffer
        self.seed = seed
        self.with_indices = with_indices
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.index.rows)

    def samples(self) -> Iterator[tuple[int, bytes, int]]:
        """(stored index, image bytes, label) of this worker's shards, shuffled as configured."""
        shards = [str(shard) for shard in self.index.shards]
        seed = int(np.random.SeedSequence((self.seed, self.epoch)).generate_state(1)[0])
        dataset = webdataset.WebDataset(
            shards,
            shardshuffle=len(shards) if len(shards) > 1 else False,
            seed=seed,
            workersplitter=webdataset.split_by_worker,
            empty_check=False,
        )
        if self.buffer > 1:
            dataset = dataset.shuffle(self.buffer, seed=seed)
        for key, data, label in dataset.to_tuple("__key__", self.codec.extension, "cls"):
            yield int(key), data, int(label)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        shape = self.index.shape
        images = np.empty((self.batch_size, *shape), dtype=np.uint8)
        labels = np.empty(self.batch_size, dtype=np.uint8)
        indices = np.empty(self.batch_size, dtype=np.int64)
        filled = 0
        for index, data, label in self.samples():
            self.codec.decode(data, images[filled], self.index.member(index))
            labels[filled], indices[filled] = label, index
            filled += 1
            if filled == self.batch_size:
                yield self._batch(images, labels, indices, filled)
                filled = 0
        if filled:
            yield self._batch(images, labels, indices, filled)

    def _batch(
        self, images: np.ndarray, labels: np.ndarray, indices: np.ndarray, count: int
    ) -> tuple[torch.Tensor, ...]:
        batch = batch_tensors(images[:count].copy(), labels[:count])
        return (*batch, torch.from_numpy(indices[:count].copy())) if self.with_indices else batch
