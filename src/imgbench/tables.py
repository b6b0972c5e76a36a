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

TIMING_COLUMNS = ("method", "n_images", "operation", "repeat", "images", "seconds")
DISK_COLUMNS = ("method", "n_images", "kib_allocated", "kib_apparent")
SUMMARY_KEYS = ["method", "n_images", "operation"]


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
        frame = pd.read_csv(path)
        if list(frame.columns) != list(columns):
            raise ValueError(f"{path} has columns {list(frame.columns)}, expected {list(columns)}")
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    return table.sort_values(list(columns[:4])).reset_index(drop=True)


def summarise(timings: pd.DataFrame) -> pd.DataFrame:
    """Median, min and max seconds and images per second per method x n_images x operation."""
    grouped = timings.groupby(SUMMARY_KEYS, sort=True)
    summary = grouped.agg(
        repeats=("repeat", "count"),
        images=("images", "first"),
        seconds_median=("seconds", "median"),
        seconds_min=("seconds", "min"),
        seconds_max=("seconds", "max"),
    ).reset_index()
    summary["images_per_second"] = summary["images"] / summary["seconds_median"]
    return summary


def write_table(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as partial:
        frame.to_csv(partial, index=False, float_format="%.9g")


def read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)
