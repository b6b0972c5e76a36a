"""The tables a figure is drawn from, checked once, with the series they hold and how each looks.

Bad input raises a ValueError naming the table and what is wrong with it before anything is
drawn, instead of a KeyError or a wrong figure deep inside plotting. Data a run did not measure
is not an error: the figures needing it are drawn as notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from imgbench.cells import (
    BASELINE_FORMAT,
    CODEC_COLUMN,
    DISK_KEYS,
    FLOOR_FORMAT,
    FORMAT_COLUMN,
    NOT_APPLICABLE,
    NUMERIC_COLUMNS,
    REFERENCE_READ_WORDS,
    SUMMARY_KEYS,
    Presentation,
    Series,
    of_series,
    reads,
    series_keys,
    writes,
)
from imgbench.present.style import LineLook, format_colours, implementation_looks, line_style

# The columns figures use, of the tables `imgbench.tables` writes.
SUMMARY_NEEDS = (*SUMMARY_KEYS, "images", "seconds_median", "seconds_ci_low", "seconds_ci_high")
DISK_NEEDS = (*DISK_KEYS, "kib_allocated")


@dataclass(frozen=True)
class FigureData:
    """The checked summary and disk tables, and the look of every series they hold."""

    summary: pd.DataFrame
    disk: pd.DataFrame
    presentations: Mapping[str, Presentation]
    colours: dict[str, str]
    looks: dict[str, LineLook]

    @classmethod
    def of(
        cls,
        summary: pd.DataFrame,
        disk: pd.DataFrame,
        presentations: Mapping[str, Presentation],
    ) -> FigureData:
        summary = checked(summary, "summary", SUMMARY_NEEDS, SUMMARY_KEYS)
        disk = checked(disk, "disk", DISK_NEEDS, DISK_KEYS)
        keys = series_keys(summary, disk)
        colours = format_colours({name for name, _, _ in keys}, presentations)
        looks = implementation_looks({implementation for _, implementation, _ in keys})
        return cls(summary, disk, presentations, colours, looks)

    @classmethod
    def load(
        cls, tables: Mapping[str, pd.DataFrame], presentations: Mapping[str, Presentation]
    ) -> FigureData:
        """The summary and disk tables a figure job was given (of one image size), checked."""
        return cls.of(tables["summary"], tables["disk"], presentations)

    def series(self, *frames: pd.DataFrame) -> list[Series]:
        """The series present in `frames`, in reading order."""
        found = [
            Series.of(name, implementation, codec, self.presentations)
            for name, implementation, codec in series_keys(*frames)
        ]
        return sorted(found, key=Series.rank)

    def one_codec_per_format(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of `frame` in each format's own codec (its presentation's), and the raw
        baseline: the tutorial's figures draw one line per format and implementation, so a run
        crossing every format with every codec stays readable there."""
        drawn = [
            name == BASELINE_FORMAT
            or (name != FLOOR_FORMAT and codec == (self.presentation(name).codec or codec))
            for name, codec in zip(frame[FORMAT_COLUMN], frame[CODEC_COLUMN], strict=True)
        ]
        return frame[drawn]

    def presentation(self, name: str) -> Presentation:
        return self.presentations.get(name, Presentation())

    def format_label(self, name: str) -> str:
        return self.presentation(name).label_for(name)

    def colour(self, series: Series) -> str:
        return self.colours[series.format]

    def line_style(self, series: Series) -> dict[str, object]:
        return line_style(series, self.colour(series), self.looks[series.implementation])


def checked(
    table: pd.DataFrame, name: str, columns: tuple[str, ...], keys: tuple[str, ...]
) -> pd.DataFrame:
    """A normalised copy of `table`, or a ValueError naming the table and what is wrong."""
    if table.empty:
        raise ValueError(f"{name} table is empty: nothing to plot")
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(f"{name} table lacks column(s): {', '.join(missing)}")
    table = table.copy()
    for column in [column for column in columns if column in NUMERIC_COLUMNS]:
        values = pd.to_numeric(table[column], errors="coerce")
        if (values.isna() & table[column].notna()).any():
            raise ValueError(f"{name} table column {column!r} has non-numeric values")
        table[column] = values
    # "n/a" (a factor that does not apply, e.g. the cache state of a write) may have been read as
    # missing by a reader other than imgbench.tables.read_table; either way it is a value here.
    for column in [column for column in columns if column not in NUMERIC_COLUMNS]:
        values = table[column].astype(object)
        table[column] = values.where(values.notna(), NOT_APPLICABLE).astype(str)
    duplicated = table.duplicated(list(keys))
    if duplicated.any():
        first = table.loc[duplicated, list(keys)].iloc[0].to_dict()
        raise ValueError(f"{name} table repeats the row for {first}")
    return table


def value(frame: pd.DataFrame, series: Series, column: str = "seconds_median") -> float:
    """The one value of `series` in a single-N frame, or NaN if it was not measured."""
    rows = of_series(frame, series)
    return float(rows[column].iloc[0]) if len(rows) else float("nan")


def with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Images per second at the median and at the ends of its 95% interval."""
    frame = frame.copy()
    frame["rate"] = frame["images"] / frame["seconds_median"]
    frame["rate_low"] = frame["images"] / frame["seconds_ci_high"]
    frame["rate_high"] = frame["images"] / frame["seconds_ci_low"]
    return frame


def at_largest_n(frame: pd.DataFrame) -> tuple[int, pd.DataFrame]:
    """The largest N in `frame` and its rows."""
    n = int(frame["n_images"].max())
    return n, frame[frame["n_images"] == n]


# The reference cells of the two operations that the tutorial's figures and the throughput draw.
MISSING_CELLS = {
    "write": "No buffered whole-store writes in this run",
    "read": f"No whole-store reads with {REFERENCE_READ_WORDS} in this run",
}


def reference_cells(data: FigureData, kind: str) -> pd.DataFrame:
    """Buffered whole-store writes ("write") or reads in the reference cell ("read")."""
    return writes(data.summary) if kind == "write" else reads(data.summary)
