"""The benchmark report: the run's key numbers and ratios, checked against the project's targets.

Generated from the tables by the pipeline, never typed by hand, and stating the machine and
config it came from, so a number quoted from it can be traced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from imgbench import provenance
from imgbench.atomic_files import atomic_path
from imgbench.cells import (
    BASELINE,
    BASELINE_FORMAT,
    FORMAT_COLUMN,
    Cache,
    Operation,
    Order,
    Phase,
    Presentation,
    Series,
    all_reads,
    presentations_from,
    reads,
    single_image,
)
from imgbench.tables import read_table

TARGET_IMAGES = 100_000
SPREAD_LIMIT = 0.25


@dataclass(frozen=True)
class Target:
    """A goal on a ratio of medians: `numerator` time ÷ `denominator` time."""

    description: str
    numerator: tuple[str, str]  # (format, implementation) whose time is divided
    denominator: tuple[str, str]  # (format, implementation) it is divided by
    limit: float
    at_least: bool  # speed-ups must reach the limit; slow-downs must stay under it


RAW = (BASELINE_FORMAT, BASELINE)
TARGETS = (
    Target("LMDB read speed-up, fast ÷ tutorial", ("lmdb", "tutorial"), ("lmdb", "fast"), 5, True),
    Target(
        "HDF5 read speed-up, fast ÷ tutorial", ("hdf5", "tutorial"), ("hdf5", "fast"), 2.5, True
    ),
    Target("PNG read speed-up, fast ÷ tutorial", ("png", "tutorial"), ("png", "fast"), 3, True),
    Target("HDF5 fast read time ÷ raw read time", ("hdf5", "fast"), RAW, 1.2, False),
    Target("LMDB fast read time ÷ raw read time", ("lmdb", "fast"), RAW, 2.5, False),
)


class Labels:
    """Names and reading order of the run's series, from the formats' presentations."""

    def __init__(self, presentations: Mapping[str, Presentation]) -> None:
        self.presentations = presentations

    def series(self, name: str, implementation: str) -> Series:
        return Series.of(name, implementation, self.presentations)

    def of(self, row: object) -> str:
        return self.series(getattr(row, FORMAT_COLUMN), row.implementation).label()

    def in_reading_order(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rows ordered as the tutorial presents them: PNG, LMDB, HDF5, then raw; tutorial
        first. Rows of one series keep their order."""
        ranks = [
            self.series(name, implementation).rank()
            for name, implementation in zip(
                frame[FORMAT_COLUMN], frame["implementation"], strict=True
            )
        ]
        order = sorted(range(len(frame)), key=lambda position: ranks[position])
        return frame.iloc[order]


def _median(cells: pd.DataFrame, name: str, implementation: str) -> float | None:
    row = cells[(cells[FORMAT_COLUMN] == name) & (cells.implementation == implementation)]
    return float(row.seconds_median.iloc[0]) if len(row) else None


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def target_rows(summary: pd.DataFrame, n_images: int, labels: Labels) -> list[list[str]]:
    """One row per target: measured value, goal, and whether it was met at `n_images`."""
    reference = reads(summary)
    reference = reference[reference.n_images == n_images]
    rows = []
    for target in TARGETS:
        top = _median(reference, *target.numerator)
        bottom = _median(reference, *target.denominator)
        if top is None or bottom is None:
            rows.append([target.description, "not measured", _goal(target), "—"])
            continue
        ratio = top / bottom
        met = ratio >= target.limit if target.at_least else ratio <= target.limit
        rows.append(
            [target.description, f"{ratio:.2f}×", _goal(target), "met" if met else "NOT met"]
        )
    cells = all_reads(summary)
    cells = cells[cells.n_images == n_images]
    if len(cells):
        worst = cells.loc[cells.spread.idxmax()]
        where = f"{labels.of(worst)}, {worst.cache}, {worst.order}, {worst.readers} reader(s)"
        met = "met" if worst.spread <= SPREAD_LIMIT else "NOT met"
        rows.append(
            [
                "(max − min) ÷ median, worst read cell",
                f"{worst.spread:.0%} ({where})",
                f"≤ {SPREAD_LIMIT:.0%}",
                met,
            ]
        )
    return rows


def _goal(target: Target) -> str:
    return f"{'≥' if target.at_least else '≤'} {target.limit:g}×"


def render(
    summary: pd.DataFrame,
    disk: pd.DataFrame,
    machine: Mapping[str, object],
    config: Mapping[str, object],
    presentations: Mapping[str, Presentation],
    figures: Sequence[str],
) -> str:
    """The whole report as Markdown."""
    labels = Labels(presentations)
    summary, disk = labels.in_reading_order(summary), labels.in_reading_order(disk)
    n_images = int(all_reads(summary).n_images.max())
    lines = [f"# imgbench benchmark report ({n_images:,} images)", ""]
    lines += [
        "Generated by the pipeline from `results/tables/`; do not edit by hand.",
        "",
    ]
    lines += ["## Machine and config", ""]
    filesystem = machine.get("filesystem", {})
    measured_on = machine.get("measured_on", [])
    lines += [
        f"- CPU: {machine.get('cpu')}, {machine.get('cores')} cores, "
        f"{machine.get('memory_gib')} GiB RAM",
        f"- OS: {machine.get('os')}; Python {machine.get('python')}",
        f"- Results filesystem: {filesystem.get('type')} ({filesystem.get('options')})",
        "- Stores measured on: "
        + ", ".join(f"{place['host']} ({place['filesystem']})" for place in measured_on),
        f"- Libraries: {', '.join(f'{k} {v}' for k, v in machine.get('libraries', {}).items())}",
    ]
    lines += [f"- `{key}`: {value}" for key, value in config.items()]
    lines += ["", f"## Targets at {n_images:,} images (warm cache, in order, one reader, medians)"]
    if n_images != TARGET_IMAGES:
        lines += [
            "",
            f"The targets are defined at {TARGET_IMAGES:,} images; this run's largest is "
            f"{n_images:,}, so they are checked there instead.",
        ]
    rows = target_rows(summary, n_images, labels)
    lines += [""] + _table(["target", "measured", "goal", ""], rows)
    lines += ["", *_reads_section(summary, n_images, labels)]
    lines += ["", *_writes_section(summary, n_images, labels)]
    lines += ["", *_variations_section(summary, n_images, labels)]
    lines += ["", *_single_section(summary, labels), "", *_disk_section(disk, n_images, labels)]
    lines += ["", *_figures_section(figures), ""]
    return "\n".join(lines)


def _reads_section(summary: pd.DataFrame, n_images: int, labels: Labels) -> list[str]:
    reference = reads(summary)
    reference = reference[reference.n_images == n_images]
    raw = _median(reference, *RAW)
    rows = []
    for cell in reference.itertuples():
        tutorial = _median(reference, getattr(cell, FORMAT_COLUMN), "tutorial")
        rows.append(
            [
                labels.of(cell),
                f"{cell.seconds_median:.4g}",
                f"{cell.seconds_min:.4g} – {cell.seconds_max:.4g}",
                f"{cell.images_per_second:,.0f}",
                f"{cell.seconds_median / raw:.2f}×" if raw else "—",
                f"{tutorial / cell.seconds_median:.1f}×" if tutorial else "—",
            ]
        )
    header = ["store", "read s (median)", "min – max", "images/s", "÷ raw", "speed-up vs tutorial"]
    return [
        f"## Reading all {n_images:,} images (warm, in order, one reader)",
        "",
        *_table(header, rows),
    ]


def _writes_section(summary: pd.DataFrame, n_images: int, labels: Labels) -> list[str]:
    every_phase = summary[summary.operation == Operation.WRITE_MANY]
    every_phase = every_phase[every_phase.n_images == n_images]
    rows = []
    for (name, implementation), cells in every_phase.groupby(
        [FORMAT_COLUMN, "implementation"], sort=False
    ):
        phases = cells.set_index("phase").seconds_median
        write = phases.get(Phase.WRITE, float("nan"))
        sync = phases.get(Phase.SYNC, float("nan"))
        rows.append(
            [
                labels.series(name, implementation).label(),
                f"{write:.4g}",
                f"{sync:.4g}",
                f"{write + sync:.4g}",
                f"{n_images / (write + sync):,.0f}",
            ]
        )
    header = ["store", "write s (buffered)", "sync s (syncfs)", "durable s", "images/s durable"]
    return [f"## Writing {n_images:,} images", "", *_table(header, rows)]


def _variations_section(summary: pd.DataFrame, n_images: int, labels: Labels) -> list[str]:
    every_cell = all_reads(summary)
    every_cell = every_cell[every_cell.n_images == n_images]
    reference = reads(every_cell)
    variations = every_cell.drop(reference.index)
    if variations.empty:
        return [
            "## Read variations",
            "",
            "No variations (cold cache, random order, several readers) were measured in this run.",
        ]
    rows = []
    for cell in variations.itertuples():
        base = _median(reference, getattr(cell, FORMAT_COLUMN), cell.implementation)
        change = (
            "cold cache"
            if cell.cache == Cache.COLD
            else ("random order" if cell.order == Order.RANDOM else f"{cell.readers} readers")
        )
        rows.append(
            [
                labels.of(cell),
                change,
                f"{cell.seconds_median:.4g}",
                f"{cell.seconds_median / base:.2f}×" if base else "—",
                "—" if pd.isna(cell.resident_fraction_max) else f"{cell.resident_fraction_max:.1%}",
            ]
        )
    header = [
        "store",
        "variation",
        "read s (median)",
        "÷ warm, in order, 1 reader",
        "resident after eviction (max)",
    ]
    return [f"## Read variations at {n_images:,} images", "", *_table(header, rows)]


def _single_section(summary: pd.DataFrame, labels: Labels) -> list[str]:
    rows = [
        [
            labels.of(cell),
            cell.operation,
            f"{cell.seconds_median * 1e6:,.0f}",
            f"{cell.seconds_p90 * 1e6:,.0f}",
            str(cell.samples),
        ]
        for cell in single_image(summary).itertuples()
    ]
    header = ["store", "operation", "median µs", "p90 µs", "operations timed"]
    return ["## One image at a time (a new one-image store per write)", "", *_table(header, rows)]


def _disk_section(disk: pd.DataFrame, n_images: int, labels: Labels) -> list[str]:
    rows = [
        [labels.of(cell), f"{cell.kib_allocated:,}", f"{cell.kib_apparent:,}"]
        for cell in disk[disk.n_images == n_images].itertuples()
    ]
    header = ["store", "KiB allocated (du -sk)", "KiB apparent (du -sk --apparent-size)"]
    return [f"## Disk use at {n_images:,} images", "", *_table(header, rows)]


def _figures_section(figures: Sequence[str]) -> list[str]:
    """The run's figures, linked relative to the report so a copied `tables/` + `figures/` pair
    (as `make snapshot` makes) still shows them."""
    return ["## Figures", "", *(f"![{name}](../figures/{name}.png)" for name in figures)]


def write_report(
    summary: Path,
    disk: Path,
    provenance_record: Path,
    report: Path,
    config: Mapping[str, object],
    presentations: Mapping[str, Mapping[str, object]],
    figures: Sequence[str],
) -> None:
    """The report job."""
    record = provenance.read(provenance_record)
    text = render(
        read_table(summary),
        read_table(disk),
        record["machine"] | {"libraries": record["software"], "measured_on": record["measured_on"]},
        {"run id": record["run_id"], **config},
        presentations_from(presentations),
        figures,
    )
    with atomic_path(report) as partial:
        partial.write_text(text)
    print(text)
