"""Tidy CSV tables: per-job tables concatenated, summarised per cell, every row naming its run.

Jobs write small per-job tables (`atomic_files.write_rows`); the aggregation job concatenates
and summarises them, so a table is rebuilt only when one of its inputs changed. The columns are
declared in `imgbench.cells`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from imgbench import provenance
from imgbench.atomic_files import atomic_path
from imgbench.cells import (
    DISK_COLUMNS,
    LOADER_COLUMNS,
    LOADER_KEYS,
    LOADER_MEASURES,
    LOADER_SUMMARY_COLUMNS,
    RUN_ID_COLUMN,
    SUMMARY_COLUMNS,
    SUMMARY_KEYS,
    TIMING_COLUMNS,
)
from imgbench.confidence import median_interval

SORT_KEYS = [*SUMMARY_KEYS, "sampler", "workers", "repeat", "sample", "epoch"]


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
    """Per measured cell: the median seconds with its 95% interval (`imgbench.confidence`), min,
    max and 90th percentile, and images per second at the median."""
    grouped = timings.groupby(list(SUMMARY_KEYS), sort=True)
    summary = grouped.agg(
        samples=("seconds", "count"),
        images=("images", "first"),
        seconds_median=("seconds", "median"),
        seconds_min=("seconds", "min"),
        seconds_max=("seconds", "max"),
        seconds_p90=("seconds", lambda seconds: seconds.quantile(0.9)),
        resident_fraction_max=("resident_fraction", "max"),
        batch_p50_seconds=("batch_p50_seconds", "median"),
        batch_p99_seconds=("batch_p99_seconds", "median"),
        rss_growth_kib_median=("rss_growth_kib", "median"),
    ).reset_index()
    intervals = [median_interval(cell.to_numpy()) for _, cell in grouped["seconds"]]
    summary["seconds_ci_low"] = [interval.low for interval in intervals]
    summary["seconds_ci_high"] = [interval.high for interval in intervals]
    summary["ci_coverage"] = [interval.coverage for interval in intervals]
    summary["ci_half_width"] = [interval.relative_half_width() for interval in intervals]
    summary["images_per_second"] = summary["images"] / summary["seconds_median"]
    return summary[list(SUMMARY_COLUMNS)]


def write_table(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as partial:
        frame.to_csv(partial, index=False, float_format="%.9g")


def read_table(path: Path) -> pd.DataFrame:
    """Read a table back; only empty cells are missing (`NOT_APPLICABLE` marks a factor that does
    not apply to a row, e.g. the cache state of a write, and must stay a value to group by)."""
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def aggregate(
    timing_tables: Sequence[Path],
    disk_tables: Sequence[Path],
    provenance_record: Path,
    timings: Path,
    disk: Path,
    summary: Path,
) -> None:
    """The run's tidy tables, every row naming the run (see `provenance`) it belongs to."""
    run_id = provenance.read(provenance_record)["run_id"]
    all_timings = concat_tables(timing_tables, TIMING_COLUMNS)
    all_disk = concat_tables(disk_tables, DISK_COLUMNS)
    for frame, path in (
        (summarise(all_timings), summary),
        (all_timings, timings),
        (all_disk, disk),
    ):
        write_table(frame.assign(**{RUN_ID_COLUMN: run_id})[[RUN_ID_COLUMN, *frame.columns]], path)


def summarise_loader(epochs: pd.DataFrame) -> pd.DataFrame:
    """Per loader cell: the median epoch with its 95% interval, images per second at the median,
    the medians of the other measures over the epochs and the highest peak memory."""
    grouped = epochs.groupby(list(LOADER_KEYS), sort=True)
    measures = {name: (name, "median") for name in LOADER_MEASURES}
    measures["peak_memory_mib"] = ("peak_memory_mib", "max")
    summary = grouped.agg(
        epochs=("seconds", "count"),
        images=("images", "first"),
        seconds_median=("seconds", "median"),
        **measures,
    ).reset_index()
    intervals = [median_interval(cell.to_numpy()) for _, cell in grouped["seconds"]]
    summary["seconds_ci_low"] = [interval.low for interval in intervals]
    summary["seconds_ci_high"] = [interval.high for interval in intervals]
    summary["images_per_second"] = summary["images"] / summary["seconds_median"]
    return summary[list(LOADER_SUMMARY_COLUMNS)]


def aggregate_loader(
    loader_tables: Sequence[Path], provenance_record: Path, epochs: Path, summary: Path
) -> None:
    """The loader experiment's tidy tables: every epoch, and a summary per cell."""
    run_id = provenance.read(provenance_record)["run_id"]
    all_epochs = concat_tables(loader_tables, LOADER_COLUMNS)
    for frame, path in ((all_epochs, epochs), (summarise_loader(all_epochs), summary)):
        write_table(frame.assign(**{RUN_ID_COLUMN: run_id})[[RUN_ID_COLUMN, *frame.columns]], path)
