"""The benchmark report's training-loader section: every loader cell, and the loader's targets.

Ratios are of images per second (store ÷ limit), so the goals read as shares of the limit; their
95% intervals are bootstrapped from the epochs of both cells (`confidence.ratio_interval`, on the
limit's epoch time ÷ the store's).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from imgbench.cells import (
    LIMIT_FORMAT,
    LOADER_KEYS,
    RAW_CODEC,
    UNIFORM_DISPLACEMENT,
    Sampler,
    Series,
)
from imgbench.confidence import Interval, ratio_interval, verdict
from imgbench.present.markdown import table

# The goals, at 0 workers and the shuffle sampler: a raw store's loader ÷ the in-memory array's,
# an encoded store's ÷ its codec's images decoded from memory by the same loader.
RAW_SHARE = 0.5
ENCODED_SHARE = 0.8
CELL_KEYS = ["sampler", "workers"]


def _epochs(epochs: pd.DataFrame, key: tuple[object, ...]) -> list[float]:
    rows = epochs
    for column, value in zip(LOADER_KEYS, key, strict=True):
        rows = rows[rows[column] == value]
    return rows["seconds"].tolist()


def _limit_of(codec: str) -> tuple[str, str, str]:
    return (LIMIT_FORMAT, "memory", codec)


def _share(epochs: pd.DataFrame, store: pd.Series, limit: tuple[str, str, str]) -> Interval | None:
    """The store cell's images/s ÷ the `limit` cell's at the same sampler and workers."""
    key = tuple(store[column] for column in LOADER_KEYS)
    limit_key = (*limit, *key[3:])
    store_epochs, limit_epochs = _epochs(epochs, key), _epochs(epochs, limit_key)
    if not store_epochs or not limit_epochs:
        return None
    return ratio_interval(limit_epochs, store_epochs)


def _ratio(interval: Interval | None) -> str:
    if interval is None:
        return "—"
    return f"{interval.estimate:.2f} ({interval.low:.2f}–{interval.high:.2f})"


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g}"


def loader_section(
    epochs: pd.DataFrame, summary: pd.DataFrame, series_of: Callable[..., Series]
) -> list[str]:
    """Every loader cell (stores in reading order, then the limits) and the targets."""
    n = int(summary["n_images"].max())
    batch = int(summary["batch_size"].iloc[0])
    title = f"## Training loader at {n:,} images (PyTorch DataLoader, batches of {batch})"
    ranked = sorted(
        summary.to_dict("records"),
        key=lambda row: (
            series_of(row["method"], row["implementation"], row["codec"]).rank(),
            list(Sampler).index(row["sampler"]),
            row["workers"],
        ),
    )
    rows = []
    for row in ranked:
        series = series_of(row["method"], row["implementation"], row["codec"])
        limit = _limit_of(row["codec"])
        share = _share(epochs, pd.Series(row), limit) if row["method"] != LIMIT_FORMAT else None
        if row["sampler"] == Sampler.STREAM:
            share = None  # the limits have no stream cell
        rows.append(
            [
                series.label(),
                str(row["sampler"]),
                str(int(row["workers"])),
                f"{row['images_per_second']:,.0f}",
                _ratio(share),
                _ms(row["first_batch_seconds"]),
                f"{_ms(row['batch_p50_seconds'])} / {_ms(row['batch_p99_seconds'])}",
                f"{row['peak_memory_mib']:,.0f}",
                f"{row['distinct_labels']:.2f} ({row['distinct_labels_ideal']:.2f})",
                f"{row['displacement'] / UNIFORM_DISPLACEMENT:.2f}",
            ]
        )
    header = [
        "store",
        "sampler",
        "workers",
        "images/s",
        "÷ its codec's limit (95% interval)",
        "first batch ms",
        "batch p50 / p99 ms",
        "memory added MiB",
        "distinct labels (uniform)",
        "mixing ÷ uniform",
    ]
    lines = [
        title,
        "",
        "Whole epochs, every image checked against the source after each. Images/s is at the "
        "median epoch (from asking for the iterator to the last batch); first batch includes "
        "starting workers and opening the store; batch gaps are between consecutive batches "
        "after the first; memory is what the loader added to the whole process tree (PSS, "
        "untimed epoch); mixing is the mean distance of an image from its stored position ÷ a "
        "uniform shuffle's (N/3). A store's limit is the same loader (sampler, workers) over "
        "its codec's images in memory. Stores that cannot be read in forked workers have no "
        "worker cells. The limits: `limit+raw memory` the images as an array in memory, `limit+raw "
        "mmap` the raw baseline memory-mapped, `limit+<codec> memory` the images encoded in "
        "memory and decoded by the loader.",
        "",
        *table(header, rows),
        "",
        *_targets(epochs, summary, series_of),
    ]
    return lines


def _targets(
    epochs: pd.DataFrame, summary: pd.DataFrame, series_of: Callable[..., Series]
) -> list[str]:
    """Shuffle sampler, 0 workers: each raw `fast` store ≥ RAW_SHARE of the in-memory array's
    images/s, each encoded one ≥ ENCODED_SHARE of its codec's in-memory decoding."""
    cells = summary[
        (summary["sampler"] == Sampler.SHUFFLE)
        & (summary["workers"] == 0)
        & (summary["implementation"] == "fast")
    ]
    rows = []
    for _, store in cells.iterrows():
        raw = store["codec"] == RAW_CODEC
        goal = RAW_SHARE if raw else ENCODED_SHARE
        limit = _limit_of(store["codec"])
        interval = _share(epochs, store, limit)
        label = series_of(store["method"], store["implementation"], store["codec"]).label()
        against = "the in-memory array" if raw else f"{store['codec']} decoded from memory"
        rows.append(
            [
                f"{label} loader images/s ÷ {against}'s",
                _ratio(interval),
                f"≥ {goal:g}",
                "not measured" if interval is None else verdict(interval, goal, at_least=True),
            ]
        )
    if not rows:
        return ["No `fast` store was loaded with the shuffle sampler and 0 workers."]
    return [
        "Loader targets (shuffle sampler, 0 workers, medians with 95% intervals):",
        "",
        *table(["target", "measured", "goal", "verdict"], rows),
    ]
