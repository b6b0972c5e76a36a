"""The benchmark report: the run's key numbers and ratios, checked against the project's targets.

Generated from the tables by the pipeline, never typed by hand, and stating the machine and
config it came from, so a number quoted from it can be traced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from imgbench import provenance
from imgbench.atomic_files import atomic_path
from imgbench.cells import (
    BASELINE,
    BASELINE_FORMAT,
    CODEC_COLUMN,
    FLOOR_FORMAT,
    FORMAT_COLUMN,
    LIMIT_FORMAT,
    RAW_CODEC,
    SERIES_KEYS,
    SIZE_COLUMN,
    SUMMARY_KEYS,
    TUTORIAL_IMAGE_SIZE,
    Cache,
    Operation,
    Order,
    Phase,
    Presentation,
    Series,
    all_reads,
    cell_key,
    floor_series,
    image_sizes,
    of_image_size,
    order_words,
    presentations_from,
    reads,
    single_image,
)
from imgbench.confidence import (
    CONFIDENCE,
    Interval,
    Verdict,
    median_interval,
    ratio_interval,
    verdict,
)
from imgbench.present.claims import claims_section
from imgbench.present.loader_report import loader_section
from imgbench.present.markdown import table
from imgbench.present.sizes import demoted, pools_section, size_heading
from imgbench.tables import read_table

TARGET_IMAGES = 100_000
# The worst read cell's interval, as a fraction of its median: a goal for the run as a whole,
# checked after the fact; `repeats.relative_half_width` is what each cell aims at while it runs.
HALF_WIDTH_LIMIT = 0.10
# The jobs whose time a run is spent on, by rule, in the words of the report.
EXPERIMENTS = {
    "build_store": "writing whole stores",
    "read_store": "reading whole stores (every read cell)",
    "decode_floor": "decode floors (decoding from memory)",
    "single_image": "one image at a time",
    "disk_usage": "disk use (du) and store checksums",
    "loader": "the training loader (DataLoader epochs)",
    "loader_limits": "the loader's limits (in memory, memory-mapped)",
}


Store = tuple[str, str, str]  # (format, implementation, codec)


@dataclass(frozen=True)
class Target:
    """A goal on a ratio of medians: `numerator` time ÷ `denominator` time, both read in the
    reference cell or both in `order`; with no `limit`, a ratio the report only states."""

    description: str
    numerator: Store  # whose time is divided
    denominator: Store  # what it is divided by
    limit: float | None
    at_least: bool  # speed-ups must reach the limit; slow-downs must stay under it
    order: str = Order.SEQUENTIAL


RAW: Store = floor_series(RAW_CODEC).key
FLOOR_LIMIT = 1.3  # every encoded `fast` store's read ÷ its codec's decode floor
TARGETS = (
    Target(
        "LMDB read speed-up, fast ÷ tutorial",
        ("lmdb", "tutorial", RAW_CODEC),
        ("lmdb", "fast", RAW_CODEC),
        5,
        True,
    ),
    Target(
        "HDF5 read speed-up, fast ÷ tutorial",
        ("hdf5", "tutorial", RAW_CODEC),
        ("hdf5", "fast", RAW_CODEC),
        2.5,
        True,
    ),
    Target(
        "PNG files read speed-up, fast ÷ tutorial",
        ("files", "tutorial", "png"),
        ("files", "fast", "png"),
        3,
        True,
    ),
    Target("HDF5 fast read time ÷ raw read time", ("hdf5", "fast", RAW_CODEC), RAW, 1.2, False),
    Target("LMDB fast read time ÷ raw read time", ("lmdb", "fast", RAW_CODEC), RAW, 2.5, False),
    Target("SQLite+raw fast read ÷ raw", ("sqlite", "fast", RAW_CODEC), RAW, 3, False),
    Target("LevelDB+raw fast read ÷ raw", ("leveldb", "fast", RAW_CODEC), RAW, 3, False),
    Target("tar+raw fast read ÷ raw", ("tar", "fast", RAW_CODEC), RAW, 1.5, False),
    Target("Arrow IPC+raw fast read ÷ raw", ("arrow", "fast", RAW_CODEC), RAW, 1.2, False),
    Target("Parquet+raw fast read ÷ raw", ("parquet", "fast", RAW_CODEC), RAW, 2, False),
    Target("Lance+raw fast read ÷ raw", ("lance", "fast", RAW_CODEC), RAW, 2, False),
    Target("TileDB+raw fast read ÷ raw", ("tiledb", "fast", RAW_CODEC), RAW, 2, False),
    Target(
        "Zarr chunked+raw fast read ÷ raw", ("zarr_chunked", "fast", RAW_CODEC), RAW, 1.2, False
    ),
    Target(
        "Lance+raw fast batched random read ÷ raw's",
        ("lance", "fast", RAW_CODEC),
        RAW,
        2,
        False,
        Order.BATCHED,
    ),
    Target(
        "Zarr+raw fast batched random read ÷ raw's",
        ("zarr", "fast", RAW_CODEC),
        RAW,
        2,
        False,
        Order.BATCHED,
    ),
    Target(
        "Parquet+raw batched random read, documented ÷ fast",
        ("parquet", "documented", RAW_CODEC),
        ("parquet", "fast", RAW_CODEC),
        None,
        True,
        Order.BATCHED,
    ),
    Target(
        "Lance+raw ÷ Parquet+raw fast, batched random read",
        ("lance", "fast", RAW_CODEC),
        ("parquet", "fast", RAW_CODEC),
        None,
        False,
        Order.BATCHED,
    ),
    # Random access near the limit: the raw baseline's reader[i] and batches are copies out of a
    # memory map of its images.npy (`stores/raw.py`), the limit the fast readers approach.
    Target(
        "HDF5+raw fast reader[i], random order ÷ raw's (memory-mapped copy)",
        ("hdf5", "fast", RAW_CODEC),
        RAW,
        2,
        False,
        Order.RANDOM,
    ),
    Target(
        "LMDB+raw fast reader[i], random order ÷ raw's (memory-mapped copy)",
        ("lmdb", "fast", RAW_CODEC),
        RAW,
        2,
        False,
        Order.RANDOM,
    ),
    Target(
        "HDF5+raw fast batched random read ÷ raw's (memory-mapped gather)",
        ("hdf5", "fast", RAW_CODEC),
        RAW,
        1.5,
        False,
        Order.BATCHED,
    ),
    Target(
        "LMDB+raw fast batched random read ÷ raw's (memory-mapped gather)",
        ("lmdb", "fast", RAW_CODEC),
        RAW,
        3,
        False,
        Order.BATCHED,
    ),
)
# reader[i] in a random order, per image, at most this long (medians with 95% intervals).
PER_IMAGE_SECONDS = 3e-6
PER_IMAGE_STORES: tuple[Store, ...] = (
    RAW,
    ("hdf5", "fast", RAW_CODEC),
    ("lmdb", "fast", RAW_CODEC),
)


def floor_targets(reference: pd.DataFrame, labels: Labels) -> list[Target]:
    """Read ÷ decode floor ≤ FLOOR_LIMIT for every `fast` store of an encoded codec measured."""
    stores = [
        (name, implementation, codec)
        for name, implementation, codec in zip(
            *(reference[key] for key in SERIES_KEYS), strict=True
        )
        if implementation == "fast" and codec != RAW_CODEC
    ]
    return [
        Target(
            f"{labels.series(*store).label()} read ÷ {store[2]} decode floor",
            store,
            floor_series(store[2]).key,
            FLOOR_LIMIT,
            False,
        )
        for store in sorted(set(stores), key=lambda store: labels.series(*store).rank())
    ]


class Labels:
    """Names and reading order of the run's series, from the formats' presentations."""

    def __init__(self, presentations: Mapping[str, Presentation]) -> None:
        self.presentations = presentations

    def series(self, name: str, implementation: str, codec: str) -> Series:
        return Series.of(name, implementation, codec, self.presentations)

    def of(self, row: Mapping[str, object] | pd.Series) -> str:
        """The label of the series a table row belongs to."""
        return self.series(*(str(row[key]) for key in SERIES_KEYS)).label()

    def in_reading_order(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rows ordered as the tutorial presents them: files, LMDB, HDF5, the other formats,
        then the baselines; codecs from raw, tutorial first. Rows of one series keep their
        order."""
        ranks = [
            self.series(*key).rank()
            for key in zip(*(frame[key] for key in SERIES_KEYS), strict=True)
        ]
        order = sorted(range(len(frame)), key=lambda position: ranks[position])
        return frame.iloc[order]


class Samples:
    """Every timed repeat of every cell: what the interval of a ratio of two cells' medians is
    bootstrapped from."""

    def __init__(self, timings: pd.DataFrame) -> None:
        grouped = timings.groupby(list(SUMMARY_KEYS), sort=False)["seconds"]
        self.by_cell = {key: cell.to_numpy(float) for key, cell in grouped}

    def ratio(self, top: Mapping[str, object], bottom: Mapping[str, object]) -> Interval:
        """`top`'s median time ÷ `bottom`'s, with its 95% interval."""
        return ratio_interval(self.by_cell[cell_key(top)], self.by_cell[cell_key(bottom)])

    def per_image(self, cell: Mapping[str, object]) -> Interval:
        """A cell's median seconds per image, with its 95% interval."""
        return median_interval(self.by_cell[cell_key(cell)] / float(cell["images"]))  # type: ignore[arg-type]


def _row(
    cells: pd.DataFrame, name: str, implementation: str, codec: str
) -> dict[str, object] | None:
    """The one summary row of a series among `cells` (one cell per series), if measured."""
    rows = cells[
        (cells[FORMAT_COLUMN] == name)
        & (cells.implementation == implementation)
        & (cells[CODEC_COLUMN] == codec)
    ]
    return rows.iloc[0].to_dict() if len(rows) else None


def _floor_row(cells: pd.DataFrame, codec: str) -> dict[str, object] | None:
    """The floor of `codec`'s stores among `cells`: the raw baseline, or the decode floor."""
    return _row(cells, *floor_series(codec).key)


def _ratio(interval: Interval, digits: int = 2) -> str:
    """A ratio and its 95% interval, as "2.10× (1.95–2.30)"."""
    return f"{interval.estimate:.{digits}f}× ({interval.low:.{digits}f}–{interval.high:.{digits}f})"


def _seconds(cell: Mapping[str, object], scale: float = 1.0, form: str = ".4g") -> str:
    """A cell's median and its interval, times `scale`, as "0.18 (0.17–0.19)", with the
    interval's coverage when it is below 95% (fewer than six repeats): "16.2 (15.9–17.1; 75%)"."""
    median, low, high = (
        float(cell[column]) * scale  # type: ignore[arg-type]
        for column in ("seconds_median", "seconds_ci_low", "seconds_ci_high")
    )
    coverage = float(cell["ci_coverage"])  # type: ignore[arg-type]
    shortfall = f"; {coverage:.0%}" if coverage < CONFIDENCE else ""
    return f"{median:{form}} ({low:{form}}–{high:{form}}{shortfall})"


def target_rows(
    summary: pd.DataFrame, samples: Samples, n_images: int, labels: Labels
) -> list[list[str]]:
    """One row per target: the measured ratio with its 95% interval, the goal, and the verdict
    the interval supports at `n_images`."""
    at_n = summary[summary.n_images == n_images]
    reference = reads(at_n)
    rows = []
    for target in (*TARGETS, *floor_targets(reference, labels)):
        cell = reads(at_n, order=target.order)
        top = _row(cell, *target.numerator)
        bottom = _row(cell, *target.denominator)
        if top is None or bottom is None:
            rows.append([target.description, "not measured", _goal(target), "—"])
            continue
        interval = samples.ratio(top, bottom)
        judged = (
            "—"
            if target.limit is None
            else verdict(interval, target.limit, at_least=target.at_least)
        )
        rows.append([target.description, _ratio(interval), _goal(target), judged])
    random = reads(at_n, order=Order.RANDOM)
    for store in PER_IMAGE_STORES:
        row = _row(random, *store)
        name = f"{labels.series(*store).label()} reader[i], random order, per image"
        if row is None:
            rows.append([name, "not measured", f"≤ {PER_IMAGE_SECONDS * 1e6:g} µs", "—"])
            continue
        interval = samples.per_image(row)
        rows.append(
            [
                name,
                f"{interval.estimate * 1e6:.2f} µs ({interval.low * 1e6:.2f}–"
                f"{interval.high * 1e6:.2f})",
                f"≤ {PER_IMAGE_SECONDS * 1e6:g} µs",
                verdict(interval, PER_IMAGE_SECONDS, at_least=False),
            ]
        )
    cells = all_reads(summary)
    cells = cells[cells.n_images == n_images]
    if len(cells):
        worst = cells.loc[cells.ci_half_width.idxmax()]
        where = f"{labels.of(worst)}, {worst.cache}, {worst.order}, {worst.readers} reader(s)"
        judged = Verdict.MET if worst.ci_half_width <= HALF_WIDTH_LIMIT else Verdict.NOT_MET
        rows.append(
            [
                "95% interval of the median ÷ median, worst read cell",
                f"±{worst.ci_half_width:.1%} ({where}; {worst.samples} repeats, "
                f"{worst.ci_coverage:.0%} interval)",
                f"≤ ±{HALF_WIDTH_LIMIT:.0%}",
                judged,
            ]
        )
    return rows


def _goal(target: Target) -> str:
    if target.limit is None:
        return "stated only"
    return f"{'≥' if target.at_least else '≤'} {target.limit:g}×"


def render(
    summary: pd.DataFrame,
    timings: pd.DataFrame,
    disk: pd.DataFrame,
    job_times: pd.DataFrame,
    codecs: Sequence[Mapping[str, object]],
    machine: Mapping[str, object],
    config: Mapping[str, object],
    presentations: Mapping[str, Presentation],
    figures: Sequence[str],
    loader: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    pools: tuple[Sequence[Mapping[str, object]], Sequence[float]] = ((), ()),
    claims: pd.DataFrame | None = None,
) -> str:
    """The whole report as Markdown, opening with the tutorial's claims (`claims.csv`); `pools`
    are the image pools' records and job seconds."""
    labels = Labels(presentations)
    summary, disk = labels.in_reading_order(summary), labels.in_reading_order(disk)
    n_images = int(all_reads(summary).n_images.max())
    lines = [f"# imgbench benchmark report ({n_images:,} images)", ""]
    lines += [
        "Generated by the pipeline from `results/tables/`; do not edit by hand. Every median "
        "and ratio carries its 95% interval in parentheses (how: `imgbench.confidence`). With "
        "fewer than six repeats a median's interval is the range of its repeats, which covers "
        "the median less surely; its coverage then follows a semicolon (75% for three).",
        "",
    ]
    if claims is not None:
        lines += [*claims_section(claims), ""]
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
    sizes = image_sizes(summary)
    for side in sizes:
        of_side = [of_image_size(frame, side) for frame in (summary, timings, disk)]
        sections = _size_sections(
            *of_side,
            [record for record in codecs if record.get(SIZE_COLUMN, TUTORIAL_IMAGE_SIZE) == side],
            None if loader is None else tuple(of_image_size(frame, side) for frame in loader),
            labels,
        )
        if len(sizes) > 1:
            sections = ["", f"## {size_heading(side)}", *demoted(sections)]
        lines += sections
    if len(sizes) > 1 or any(record["source"] == "folder" for record in pools[0]):
        lines += ["", *pools_section(*pools)]
    lines += ["", *_time_section(job_times, labels)]
    lines += ["", *_figures_section(figures), ""]
    return "\n".join(lines)


def _size_sections(
    summary: pd.DataFrame,
    timings: pd.DataFrame,
    disk: pd.DataFrame,
    codecs: Sequence[Mapping[str, object]],
    loader: tuple[pd.DataFrame, pd.DataFrame] | None,
    labels: Labels,
) -> list[str]:
    """Everything measured at one image size: the targets, reads, writes, variations, codecs,
    the loader, one-image timings and disk use."""
    samples = Samples(timings)
    n_images = int(all_reads(summary).n_images.max())
    lines = ["", f"## Targets at {n_images:,} images (warm cache, in order, one reader, medians)"]
    if n_images != TARGET_IMAGES:
        lines += [
            "",
            f"The targets are defined at {TARGET_IMAGES:,} images; this run's largest is "
            f"{n_images:,}, so they are checked there instead.",
        ]
    lines += [
        "",
        "A target is met when its whole 95% interval is on the goal's side, not met when the "
        "whole interval is on the other side, and inconclusive when the interval straddles it.",
    ]
    rows = target_rows(summary, samples, n_images, labels)
    lines += [""] + table(["target", "measured (95% interval)", "goal", "verdict"], rows)
    lines += ["", _memory_returned(timings)]
    lines += ["", *_reads_section(summary, samples, n_images, labels)]
    lines += ["", *_writes_section(summary, n_images, labels)]
    lines += ["", *_variations_section(summary, samples, n_images, labels)]
    lines += ["", *_codecs_section(codecs)]
    if loader is not None:
        lines += ["", *loader_section(*loader, labels.series)]
    lines += ["", *_single_section(summary, labels), "", *_disk_section(disk, n_images, labels)]
    return lines


def _memory_returned(timings: pd.DataFrame) -> str:
    """How many timed repeats the VM's host took memory back during (`imgbench.host_memory`):
    the cause of most outliers that remain."""
    # a write's sync row shares its write row's timed region
    regions = timings[timings["phase"] != Phase.SYNC]
    returned = pd.to_numeric(regions["memory_returned_kib"], errors="coerce")
    if returned.isna().all():
        return "This machine does not report memory to a VM host, so no repeat was slowed by it."
    during = int((returned > 0).sum())
    return (
        f"During {during:,} of {returned.notna().sum():,} timed regions the VM's host took memory "
        "back (`memory_returned_kib` in `timings.csv`); such repeats can be slower, and they stay "
        "in every median and interval."
    )


def _reads_section(
    summary: pd.DataFrame, samples: Samples, n_images: int, labels: Labels
) -> list[str]:
    reference = reads(summary)
    reference = reference[reference.n_images == n_images]
    rows = []
    for cell in reference.to_dict("records"):
        floor = _floor_row(reference, str(cell[CODEC_COLUMN]))
        speedups = [
            _row(reference, cell[FORMAT_COLUMN], slower, cell[CODEC_COLUMN])
            if cell["implementation"] == "fast"
            else None
            for slower in ("tutorial", "documented")
        ]
        rows.append(
            [
                labels.of(cell),
                _seconds(cell),
                str(cell["samples"]),
                f"{cell['images_per_second']:,.0f}",
                _ratio(samples.ratio(cell, floor))
                if floor and cell[FORMAT_COLUMN] not in (BASELINE_FORMAT, FLOOR_FORMAT)
                else "—",
                *(_ratio(samples.ratio(slower, cell), 1) if slower else "—" for slower in speedups),
            ]
        )
    header = ["store", "read s", "repeats", "images/s", "÷ floor"]
    header += ["fast's speed-up vs tutorial", "fast's speed-up vs documented"]
    return [
        f"## Reading all {n_images:,} images (warm, in order, one reader)",
        "",
        "A store's floor is the raw baseline for raw pixels and its codec's decode floor (the "
        "same images decoded from memory by the same worker processes) for encoded images.",
        "",
        *table(header, rows),
    ]


def _writes_section(summary: pd.DataFrame, n_images: int, labels: Labels) -> list[str]:
    every_phase = summary[summary.operation == Operation.WRITE_MANY]
    every_phase = every_phase[every_phase.n_images == n_images]
    rows = []
    for key, cells in every_phase.groupby(list(SERIES_KEYS), sort=False):
        phases = {cell["phase"]: cell for cell in cells.to_dict("records")}
        write, sync = phases.get(Phase.WRITE), phases.get(Phase.SYNC)
        durable = (
            float(write["seconds_median"]) + float(sync["seconds_median"])
            if write and sync
            else float("nan")
        )
        rows.append(
            [
                labels.series(*key).label(),
                _seconds(write) if write else "—",
                _seconds(sync) if sync else "—",
                str(write["samples"]) if write else "—",
                f"{durable:.4g}",
                f"{n_images / durable:,.0f}",
            ]
        )
    header = [
        "store",
        "write s (buffered)",
        "sync s (syncfs)",
        "repeats",
        "durable s (medians)",
        "images/s durable",
    ]
    return [f"## Writing {n_images:,} images", "", *table(header, rows)]


def _variations_section(
    summary: pd.DataFrame, samples: Samples, n_images: int, labels: Labels
) -> list[str]:
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
    for cell in variations.to_dict("records"):
        base = _row(reference, *(cell[key] for key in SERIES_KEYS))
        if cell["cache"] == Cache.COLD:
            change = "cold cache"
        elif cell["order"] != Order.SEQUENTIAL:
            change = order_words(cell["order"])
        else:
            change = f"{cell['readers']} readers"
        resident = cell["resident_fraction_max"]
        rows.append(
            [
                labels.of(cell),
                change,
                _seconds(cell),
                str(cell["samples"]),
                _ratio(samples.ratio(cell, base)) if base else "—",
                "—" if pd.isna(resident) else f"{resident:.1%}",
                _batch_latency(cell),
            ]
        )
    header = [
        "store",
        "variation",
        "read s",
        "repeats",
        "÷ warm, in order, 1 reader",
        "resident after eviction (max)",
        "one batch p50 / p99 ms",
    ]
    return [f"## Read variations at {n_images:,} images", "", *table(header, rows)]


def _batch_latency(cell: Mapping[str, object]) -> str:
    """A batched cell's median and 99th-percentile batch read (medians over its repeats)."""
    p50, p99 = cell.get("batch_p50_seconds"), cell.get("batch_p99_seconds")
    if p50 is None or p99 is None or pd.isna(p50) or pd.isna(p99):
        return "—"
    return f"{float(p50) * 1e3:.3g} / {float(p99) * 1e3:.3g}"  # type: ignore[arg-type]


def _codecs_section(codecs: Sequence[Mapping[str, object]]) -> list[str]:
    """Each encoded codec's bytes per image and, for a lossy one, its error against the source
    images, measured once by its decode-floor job."""
    title = "## Codecs"
    if not codecs:
        return [title, "", "No encoded codec was measured in this run (or no decode floor)."]
    rows = [
        [
            str(record["codec"])
            + (f" (quality {record['jpeg_quality']})" if record.get("jpeg_quality") else ""),
            f"{record['n_images']:,}",
            f"{record['mean_bytes']:,.0f}",
            "lossless" if record["psnr_db"] is None else f"{record['psnr_db']:.2f} dB",
        ]
        for record in codecs
    ]
    header = ["codec", "images", "mean bytes per image", "PSNR against the source"]
    return [
        title,
        "",
        "Reads of a lossy codec are checked against its decoder's output for the stored bytes; "
        "its error against the source images is given here once. Raw pixels take "
        "H × W × 3 bytes per image.",
        "",
        *table(header, rows),
    ]


def _single_section(summary: pd.DataFrame, labels: Labels) -> list[str]:
    rows = [
        [
            labels.of(cell),
            cell["operation"],
            _seconds(cell, 1e6, ",.0f"),
            f"{cell['seconds_p90'] * 1e6:,.0f}",
            str(cell["samples"]),
        ]
        for cell in single_image(summary).to_dict("records")
    ]
    header = ["store", "operation", "median µs", "p90 µs", "operations timed"]
    return ["## One image at a time (a new one-image store per write)", "", *table(header, rows)]


def _disk_section(disk: pd.DataFrame, n_images: int, labels: Labels) -> list[str]:
    cells = disk[disk.n_images == n_images].to_dict("records")
    raw_kib = {
        (cell[FORMAT_COLUMN], cell["implementation"]): cell["kib_allocated"]
        for cell in cells
        if cell[CODEC_COLUMN] == RAW_CODEC
    }

    def against_raw(cell: dict) -> str:
        """Allocated size ÷ the same container's raw store, so a codec's saving reads at once."""
        raw = raw_kib.get((cell[FORMAT_COLUMN], cell["implementation"]))
        compressed = cell[CODEC_COLUMN] != RAW_CODEC
        return f"{cell['kib_allocated'] / raw:.2f}×" if raw and compressed else "—"

    rows = [
        [
            labels.of(cell),
            f"{cell['kib_allocated']:,}",
            f"{cell['kib_apparent']:,}",
            against_raw(cell),
        ]
        for cell in cells
    ]
    header = [
        "store",
        "KiB allocated (du -sk)",
        "KiB apparent (du -sk --apparent-size)",
        "allocated ÷ its raw store",
    ]
    return [f"## Disk use at {n_images:,} images", "", *table(header, rows)]


JOB_TIME_COLUMNS = ["experiment", *SERIES_KEYS, "seconds", "started", "ended"]


def benchmark_seconds(path: Path) -> float:
    """The wall seconds of the job whose Snakemake benchmark file `path` is."""
    return float(pd.read_csv(path, sep="\t")["s"].iloc[0])


def job_times(benchmarks: Sequence[Path]) -> pd.DataFrame:
    """The wall time of every measuring job, from Snakemake's benchmark files
    (`results/benchmarks/<rule>/<format>/<implementation>/<codec>/<size>px/...tsv`, or
    `decode_floor/<codec>/<size>px/<n>.tsv`, `loader_limits/<size>px/<n>.tsv`), and when each
    ended."""
    rows = []
    for path in benchmarks:
        parts = Path(path).parts
        rule, *names = parts[parts.index("benchmarks") + 1 :]
        if rule == "decode_floor":
            store = (FLOOR_FORMAT, BASELINE, names[0])
        elif rule == "loader_limits":
            store = (LIMIT_FORMAT, "memory", RAW_CODEC)
        else:
            store = (names[0], names[1], names[2])
        seconds = benchmark_seconds(path)
        ended = Path(path).stat().st_mtime
        rows.append(
            {
                "experiment": rule,
                **dict(zip(SERIES_KEYS, store, strict=True)),
                "seconds": seconds,
                "started": ended - seconds,
                "ended": ended,
            }
        )
    return pd.DataFrame(rows, columns=JOB_TIME_COLUMNS)


def _time_section(times: pd.DataFrame, labels: Labels) -> list[str]:
    """Where the run's time went: per experiment and per store, as shares of the measuring
    jobs' total, and the span from the first of them starting to the last ending."""
    title = "## Where the run's time went"
    if times.empty:
        return [title, "", "No measuring job's time was recorded in this run."]
    total = times.seconds.sum()
    start, end = (datetime.fromtimestamp(t, UTC) for t in (times.started.min(), times.ended.max()))
    lines = [
        title,
        "",
        f"The measuring jobs ran from {start:%Y-%m-%d %H:%M:%S} to {end:%H:%M:%S} UTC "
        f"({(end - start).total_seconds() / 60:.1f} min) and took {total / 60:.1f} min in all "
        "(Snakemake's benchmark files). Run on one machine, they run one at a time and the rest "
        "of the span is Snakemake starting each job; after a partial rerun, jobs that did not "
        "rerun keep their earlier times.",
        "",
    ]
    by_experiment = times.groupby("experiment", sort=False).seconds.agg(["count", "sum"])
    rows = [
        [
            EXPERIMENTS.get(rule, rule),
            str(int(row["count"])),
            f"{row['sum']:.0f}",
            _share(row["sum"], total),
        ]
        for rule, row in by_experiment.sort_values("sum", ascending=False).iterrows()
    ]
    lines += table(["experiment", "jobs", "seconds", "share"], rows)
    by_store = times.groupby(list(SERIES_KEYS), sort=False).seconds.sum()
    rows = [
        [labels.series(*key).label(), f"{seconds:.0f}", _share(seconds, total)]
        for key, seconds in by_store.sort_values(ascending=False).items()
    ]
    return [*lines, "", *table(["store", "seconds", "share"], rows)]


def _share(seconds: float, total: float) -> str:
    return f"{seconds / total:.0%}" if total else "—"


def _figures_section(figures: Sequence[str]) -> list[str]:
    """The run's figures, linked relative to the report so a copied `tables/` + `figures/` pair
    (as `make snapshot` makes) still shows them."""
    return ["## Figures", "", *(f"![{name}](../figures/{name}.png)" for name in figures)]


def write_report(
    summary: Path,
    timings: Path,
    disk: Path,
    benchmarks: Sequence[Path],
    codecs: Sequence[Path],
    provenance_record: Path,
    report: Path,
    config: Mapping[str, object],
    presentations: Mapping[str, Mapping[str, object]],
    figures: Sequence[str],
    loader: tuple[Path, Path] | None = None,
    pools: Sequence[tuple[Path, Path]] = (),
    claims: Path | None = None,
) -> None:
    """The report job; `loader` is the loader's epoch and summary tables, if it ran; `pools`
    each image size's pool record and its job's benchmark file; `claims` the claims table."""
    record = provenance.read(provenance_record)
    text = render(
        read_table(summary),
        read_table(timings),
        read_table(disk),
        job_times(benchmarks),
        [json.loads(path.read_text()) for path in codecs],
        record["machine"] | {"libraries": record["software"], "measured_on": record["measured_on"]},
        {"run id": record["run_id"], **config},
        presentations_from(presentations),
        figures,
        None if loader is None else (read_table(loader[0]), read_table(loader[1])),
        (
            [json.loads(record.read_text()) for record, _ in pools],
            [benchmark_seconds(times) for _, times in pools],
        ),
        None if claims is None else read_table(claims),
    )
    with atomic_path(report) as partial:
        partial.write_text(text)
    print(text)
