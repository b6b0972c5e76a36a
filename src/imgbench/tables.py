"""Tidy CSV tables: one row per measurement, units in the column names.

Jobs write small per-job tables; aggregation concatenates them and summarises, so a table is
rebuilt only when one of its inputs changed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from imgbench.files import atomic_path

# What one measured cell is; its repeats and samples are summarised together.
SUMMARY_KEYS = [
    "method",
    "implementation",
    "n_images",
    "operation",
    "phase",
    "cache",
    "order",
    "readers",
]
TIMING_COLUMNS = (
    *SUMMARY_KEYS,
    "repeat",
    "sample",
    "images",
    "seconds",
    "resident_fraction",
    "host",  # the machine that measured the row: on a cluster, jobs may run on several
    "filesystem",  # type of the filesystem the store was on (`stores.folder` moves it)
)
DISK_COLUMNS = (
    "method",
    "implementation",
    "n_images",
    "kib_allocated",
    "kib_apparent",
    "sha256",
)
SORT_KEYS = [*SUMMARY_KEYS, "repeat", "sample"]


def write_rows(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> None:
    """Write rows with exactly `columns`, atomically, so a failed job leaves no partial table."""
    with atomic_path(path) as partial, partial.open("w", newline="") as sink:
        writer = csv.DictWriter(sink, fieldnames=list(columns), extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)


def concat_tables(paths: Iterable[Path], columns: Sequence[str]) -> pd.DataFrame:
    """Concatenate per-job tables in a stable order, checking each has the expected columns."""
    frames = []
    for path in paths:
        frame = read_table(path)
        if list(frame.columns) != list(columns):
            raise ValueError(f"{path} has columns {list(frame.columns)}, expected {list(columns)}")
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    keys = [column for column in SORT_KEYS if column in table.columns]
    return table.sort_values(keys, kind="stable").reset_index(drop=True)


def summarise(timings: pd.DataFrame) -> pd.DataFrame:
    """Per measured cell: median, min, max and 90th percentile seconds, the spread
    ((max - min) / median) and images per second at the median."""
    grouped = timings.groupby(SUMMARY_KEYS, sort=True)
    summary = grouped.agg(
        samples=("seconds", "count"),
        images=("images", "first"),
        seconds_median=("seconds", "median"),
        seconds_min=("seconds", "min"),
        seconds_max=("seconds", "max"),
        seconds_p90=("seconds", lambda seconds: seconds.quantile(0.9)),
        resident_fraction_max=("resident_fraction", "max"),
    ).reset_index()
    summary["spread"] = (summary.seconds_max - summary.seconds_min) / summary.seconds_median
    summary["images_per_second"] = summary["images"] / summary["seconds_median"]
    columns = [*SUMMARY_KEYS, "samples", "images", "seconds_median", "seconds_min"]
    columns += ["seconds_max", "seconds_p90", "spread", "images_per_second"]
    return summary[[*columns, "resident_fraction_max"]]


def write_table(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as partial:
        frame.to_csv(partial, index=False, float_format="%.9g")


def read_table(path: Path) -> pd.DataFrame:
    """Read a table back; only empty cells are missing ("n/a" marks a factor that does not apply
    to a row, e.g. the cache state of a write, and must stay a value to group by)."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])
