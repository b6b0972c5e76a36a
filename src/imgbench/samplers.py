"""The orders a training loader visits a store in, one epoch at a time, reproducibly.

Each sampler is an iterable of indices (what `torch.utils.data.DataLoader(sampler=...)` takes)
with `set_epoch`, as `torch.utils.data.DistributedSampler` has: epoch `e` of a sampler seeded `s`
is the same order in every run and on every machine (NumPy's PCG64 seeded with `(s, e)`), so the
loader experiment can rebuild an epoch's order afterwards to check what the loader returned.
NumPy only: the loader experiment needs torch, the samplers do not.

`block` is FFCV's `QUASI_RANDOM` order in spirit: the store is cut into blocks of
`block_size` consecutive images, the blocks are shuffled, and each run of `window` shuffled blocks
is shuffled within itself. A batch then draws from at most `window` blocks, so a store that reads
consecutive images cheaply (a shard, a page, a chunk) reads few of them per batch, while the
batch still mixes images from far apart.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from imgbench.cells import Sampler

__all__ = ["EpochSampler"]


class EpochSampler:
    """The indices 0..count-1 in one epoch's order (`Sampler`), as a DataLoader's sampler."""

    def __init__(
        self, kind: str, count: int, seed: int = 0, block_size: int = 1024, window: int = 8
    ) -> None:
        if kind not in {Sampler.SHUFFLE, Sampler.BLOCK, Sampler.SEQUENTIAL}:
            raise ValueError(f"no index sampler {kind!r}: shuffle, block or sequential")
        if block_size < 1 or window < 1:
            raise ValueError(f"block_size {block_size} and window {window} must be at least 1")
        self.kind = Sampler(kind)
        self.count = count
        self.seed = seed
        self.block_size = block_size
        self.window = window
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch `epoch`'s order."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[int]:
        return iter(self.order().tolist())

    def order(self) -> np.ndarray:
        """This epoch's indices, as an int64 array."""
        if self.kind == Sampler.SEQUENTIAL:
            return np.arange(self.count, dtype=np.int64)
        rng = np.random.default_rng((self.seed, self.epoch))
        if self.kind == Sampler.SHUFFLE:
            return rng.permutation(self.count)
        starts = rng.permutation(np.arange(0, self.count, self.block_size))
        order = []
        for first in range(0, len(starts), self.window):
            group = np.concatenate(
                [
                    np.arange(start, min(start + self.block_size, self.count))
                    for start in starts[first : first + self.window]
                ]
            )
            order.append(rng.permutation(group))
        return np.concatenate(order) if order else np.empty(0, dtype=np.int64)
