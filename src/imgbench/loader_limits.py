"""The loader experiment's limits: the same DataLoader cells over the images themselves, as an
array in memory, memory-mapped from the raw baseline's `images.npy`, and, for each encoded codec
a loaded store holds, encoded in memory and decoded by the loader (the codec's decode floor as a
loader sees it). A store's loader is judged against its codec's limit (`present.loader_report`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from imgbench import thread_pools
from imgbench.cells import LIMIT_FORMAT, RAW_CODEC
from imgbench.codecs import Codec
from imgbench.loader import LoaderSettings, Source, Target, limit_cells, measure_loader
from imgbench.measure import RepeatPolicy
from imgbench.parallel import decode_many, encode_many
from imgbench.pool import Pool
from imgbench.stores.raw import IMAGES_FILE
from imgbench.torch import ArrayDataset, batch_tensors


class EncodedDataset(Dataset):
    """Encoded images held in memory, decoded batch by batch: a codec's decode floor as a
    loader sees it, the limit of a store holding that codec."""

    def __init__(
        self, codec: Codec, blobs: list[bytes], labels: np.ndarray, shape: tuple[int, ...]
    ):
        self.codec, self.blobs, self.labels, self.shape = codec, blobs, labels, shape

    def __len__(self) -> int:
        return len(self.blobs)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        images = np.empty((len(indices), *self.shape), dtype=np.uint8)
        for row, index in enumerate(indices):
            self.codec.decode(self.blobs[index], images[row])
        return batch_tensors(images, self.labels[np.asarray(indices, dtype=np.int64)])


def limit_targets(
    images: np.ndarray, labels: np.ndarray, codecs: list[Codec], raw_store: Path | None
) -> list[Target]:
    """The loader's limits: the images as an array in memory, the raw baseline's images.npy
    memory-mapped (if it was built), and each encoded codec's images encoded in memory."""
    raw = Source(images, labels)
    targets = [
        Target((LIMIT_FORMAT, "memory", RAW_CODEC), lambda _: ArrayDataset(images, labels), raw)
    ]
    if raw_store is not None:

        def mapped(_: int) -> Dataset:
            return ArrayDataset(np.load(raw_store / IMAGES_FILE, mmap_mode="r"), labels)

        targets.append(Target((LIMIT_FORMAT, "mmap", RAW_CODEC), mapped, raw))
    for codec in codecs:
        blobs = encode_many(codec, images, None)
        source = Source(decode_many(codec, blobs, images.shape[1:], None), labels)
        encoded = EncodedDataset(codec, blobs, labels, images.shape[1:])
        targets.append(
            Target((LIMIT_FORMAT, "memory", codec.name), lambda _, dataset=encoded: dataset, source)
        )
    return targets


def load_limits(
    pool: Path,
    n_images: int,
    raw_store: Path | None,
    codecs: list[Codec],
    table: Path,
    repeats: Mapping[str, float],
    loader: Mapping[str, object],
    threads: int,
) -> None:
    """The loader job of the limits: the same cells over the images in memory, memory-mapped
    (`raw_store`, if the baseline was built) and encoded in memory in each of `codecs`."""
    thread_pools.pin_for_job(threads)
    images, labels = Pool.load(pool).first(n_images)
    settings = LoaderSettings.of(loader)
    targets = limit_targets(images, labels, codecs, raw_store)
    measure_loader(
        [(target, limit_cells(settings)) for target in targets],
        settings,
        RepeatPolicy.of(repeats),
        table,
    )
