"""Implementations and codecs compared: throughput against N, the speed-up of `fast` over the
tutorial's or the documented code, each store's read time over its floor (the raw baseline for
raw pixels, the codec's decode floor for encoded images), and read throughput per container and
codec."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from imgbench.cells import (
    BASELINE_FORMAT,
    CODEC_COLUMN,
    FLOOR_FORMAT,
    FORMAT_COLUMN,
    RAW_CODEC,
    REFERENCE_READ_WORDS,
    Series,
    codec_rank,
    floor_series,
    format_rank,
    implementation_rank,
    of_series,
    reads,
)
from imgbench.present import parts
from imgbench.present.data import (
    MISSING_CELLS,
    FigureData,
    at_largest_n,
    reference_cells,
    value,
    with_rates,
)
from imgbench.present.style import FIGSIZE, NEUTRAL, codec_marker, role_swatches

BASELINES = (BASELINE_FORMAT, FLOOR_FORMAT)
PANEL_COLUMNS = 3  # formats side by side; more go to further rows


def throughput_figure(data: FigureData) -> Figure:
    """Images/s against N, log-log: a pair of panels per format (reads above, writes below), a
    line per implementation and codec, and the raw baseline as a reference line in every panel."""
    title = "Throughput (images per second, higher is better)"
    cells = {kind: with_rates(reference_cells(data, kind)) for kind in ("read", "write")}
    if all(frame.empty for frame in cells.values()):
        return parts.note_figure(title, "\n".join(MISSING_CELLS[kind] for kind in cells))
    present = data.series(*cells.values())
    formats = list(dict.fromkeys(series.format for series in present))
    compared = [name for name in formats if name not in BASELINES] or formats
    columns = min(PANEL_COLUMNS, len(compared))
    format_rows = math.ceil(len(compared) / columns)
    figure = parts.new_figure(max(FIGSIZE[0], 3.3 * columns + 2.2), 3.1 * 2 * format_rows)
    grid = figure.subplots(2 * format_rows, columns, sharex=True, sharey=True, squeeze=False)
    for place, name in enumerate(compared):
        for row, (kind, frame) in enumerate(cells.items()):
            axes = grid[2 * (place // columns) + row][place % columns]
            raw = [one for one in data.series(frame) if one.format == BASELINE_FORMAT]
            own = [one for one in data.series(frame) if one.format == name]
            label = data.format_label(name)
            for series in own + (raw if name != BASELINE_FORMAT else []):
                rows = of_series(frame, series)
                axes.plot(rows["n_images"], rows["rate"], **data.line_style(series))
                parts.interval_band(
                    axes, rows["n_images"], rows["rate_low"], rows["rate_high"], data.colour(series)
                )
            if not own:
                parts.note(axes, f"No {label} {kind}s")
            axes.set_title(f"{label} · {kind}", fontsize=11)
            parts.n_axis(axes, log=True)
            parts.log_scale(axes, "y")
            axes.set_xlabel("Number of images")
            if place % columns == 0:
                axes.set_ylabel(f"{kind.capitalize()} images/s")
    for place in range(len(compared), format_rows * columns):
        for row in range(2):
            grid[2 * (place // columns) + row][place % columns].set_visible(False)
    figure.suptitle(title)
    shown = [one for one in present if one.format not in BASELINES or compared == formats]
    parts.legend(figure, _look_handles(data, shown, present), title="Implementation · codec")
    return figure


def _look_handles(data: FigureData, shown: list[Series], present: list[Series]) -> list[Line2D]:
    """Legend entries for line styles (implementations), markers (codecs) and the raw line."""
    handles = []
    for implementation in sorted({one.implementation for one in shown}, key=implementation_rank):
        linestyle, _ = data.looks[implementation]
        handles.append(Line2D([], [], color=NEUTRAL, linestyle=linestyle, label=implementation))
    for codec in sorted({one.codec for one in shown}, key=codec_rank):
        handles.append(
            Line2D([], [], color=NEUTRAL, linestyle="", marker=codec_marker(codec), label=codec)
        )
    raw = [one for one in present if one.format == BASELINE_FORMAT]
    if raw and shown != raw:
        handles.append(Line2D([], [], **data.line_style(raw[0]), label="raw (reference)"))
    return handles


def _slower_reference(implementations: set[str]) -> str | None:
    """What `fast` is compared with: the tutorial's code, else the library's documented way."""
    return next((one for one in ("tutorial", "documented") if one in implementations), None)


def speedup_figure(data: FigureData) -> Figure:
    """The tutorial's (or documented) median ÷ fast median per format and codec, for reads and
    writes, at the largest N where some store has both."""
    title = "Speed-up of fast over the tutorial's or the documented code (higher is better)"
    ratios: dict[str, pd.Series] = {}
    for kind in ("read", "write"):
        by = reference_cells(data, kind).pivot_table(
            index=[FORMAT_COLUMN, CODEC_COLUMN, "n_images"],
            columns="implementation",
            values="seconds_median",
        )
        found = {}
        for key, row in by.iterrows():
            reference = _slower_reference(set(row.dropna().index))
            if "fast" in row and pd.notna(row["fast"]) and reference:
                found[(*key[:2], reference, key[2])] = row[reference] / row["fast"]
        if found:
            ratios[kind] = pd.Series(found)
    n_values = sorted({key[-1] for ratio in ratios.values() for key in ratio.index})
    if not n_values:
        return parts.note_figure(
            title, "No store with both fast and tutorial or documented timings in this run"
        )
    n = n_values[-1]
    at_n = {
        kind: {key[:3]: v for key, v in ratio.items() if key[-1] == n}
        for kind, ratio in ratios.items()
    }
    stores = sorted(
        {key for ratio in at_n.values() for key in ratio},
        key=lambda key: (format_rank(key[0], data.presentation(key[0])), codec_rank(key[1])),
    )
    figure = parts.new_figure(max(FIGSIZE[0], 1.3 * len(stores) + 4), FIGSIZE[1])
    axes = figure.add_subplot()
    positions = np.arange(len(stores), dtype=float)
    axes.set_xticks(
        positions,
        [f"{data.format_label(name)}+{codec}\nvs {reference}" for name, codec, reference in stores],
        fontsize=8,
    )
    axes.grid(True, axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    colours = [data.colours[name] for name, _, _ in stores]
    every = []
    for offset, kind in ((-0.2, "read"), (0.2, "write")):
        values = [float(at_n.get(kind, {}).get(key, np.nan)) for key in stores]
        every += values
        parts.ratio_bars(
            axes, positions + offset, values, colours, width=0.38, hatched=kind == "write"
        )
    parts.ratio_axis(axes, every)
    axes.set_xlim(-0.7, len(stores) - 0.3)
    axes.set_ylabel("Their time ÷ fast time")
    axes.set_title(f"{title}\nat N = {n:,}; reads: {REFERENCE_READ_WORDS}; writes: buffered")
    swatches = role_swatches("read", "write")
    parts.legend(
        figure, [*swatches, Line2D([], [], color="black", linewidth=1.0, label="1× (same time)")]
    )
    return figure


def floor_of(frame: pd.DataFrame, codec: str) -> float:
    """The floor of `codec`'s stores in a single-N frame: the raw baseline's read for raw pixels,
    the codec's decode floor otherwise (NaN if not measured)."""
    return value(frame, floor_series(codec))


def ratio_to_floor_figure(data: FigureData) -> Figure:
    """Each store's reference read median ÷ its codec's floor, at the largest N with both."""
    title = "Read time relative to its floor (lower is better)"
    reference = reads(data.summary)
    floors = reference[reference[FORMAT_COLUMN].isin(BASELINES)]
    others = reference[~reference[FORMAT_COLUMN].isin(BASELINES)]
    if floors.empty:
        return parts.note_figure(title, "No raw baseline or decode floor reads in this run")
    common = sorted(set(floors["n_images"]) & set(others["n_images"]))
    if not common:
        return parts.note_figure(title, "No reads to compare with a floor in this run")
    n = common[-1]
    floors, at_n = floors[floors["n_images"] == n], others[others["n_images"] == n]
    series = [one for one in data.series(at_n) if np.isfinite(floor_of(floors, one.codec))]
    if not series:
        return parts.note_figure(title, "No store's floor was measured in this run")
    ratios = [value(at_n, one) / floor_of(floors, one.codec) for one in series]
    figure = parts.new_figure(parts.bar_width(len(series)), FIGSIZE[1] + 0.4)
    axes = figure.add_subplot()
    positions = parts.series_axis(axes, series)
    axes.tick_params(axis="x", labelsize=7 if len(series) > 12 else 9)
    parts.ratio_bars(axes, positions, ratios, [data.colour(one) for one in series], width=0.6)
    parts.ratio_axis(axes, ratios)
    axes.set_ylabel("Read time ÷ floor read time")
    floor_words = ", ".join(
        f"{'raw' if codec == RAW_CODEC else codec + ' decode'}: "
        f"{parts.seconds(floor_of(floors, codec))}"
        for codec in sorted({one.codec for one in series}, key=codec_rank)
    )
    axes.set_title(f"{title}\nat N = {n:,}; {REFERENCE_READ_WORDS}; floors: {floor_words}")
    parts.legend(
        figure, [Line2D([], [], color="black", linewidth=1.0, label="1× (as fast as its floor)")]
    )
    return figure


def read_heatmap_figure(data: FigureData) -> Figure:
    """Reference read throughput of the `fast` implementation per container (rows) and codec
    (columns) at the largest N, the floors as a last row: which codec, in which container."""
    title = "Read throughput by container and codec (images/s, higher is better)"
    reference = reads(data.summary)
    fast = reference[
        (reference["implementation"] == "fast") | reference[FORMAT_COLUMN].isin(BASELINES)
    ]
    if fast.empty:
        return parts.note_figure(title, "No fast or baseline reads in this run")
    n, at_n = at_largest_n(with_rates(fast))
    at_n = at_n.assign(
        row=[FLOOR_FORMAT if name in BASELINES else name for name in at_n[FORMAT_COLUMN]]
    )
    rows = sorted(
        set(at_n["row"]) - {FLOOR_FORMAT},
        key=lambda name: format_rank(name, data.presentation(name)),
    ) + ([FLOOR_FORMAT] if FLOOR_FORMAT in set(at_n["row"]) else [])
    codecs = sorted(set(at_n[CODEC_COLUMN]), key=codec_rank)
    grid = at_n.pivot_table(index="row", columns=CODEC_COLUMN, values="rate").reindex(
        index=rows, columns=codecs
    )
    figure = parts.new_figure(max(FIGSIZE[0], 1.6 * len(codecs) + 4), 1.0 + 0.55 * len(rows) + 1.5)
    axes = figure.add_subplot()
    values = grid.to_numpy(dtype=float)
    shown = np.log10(np.where(values > 0, values, np.nan))
    image = axes.imshow(np.ma.masked_invalid(shown), cmap="viridis", aspect="auto")
    axes.set_xticks(range(len(codecs)), codecs)
    axes.set_yticks(
        range(len(rows)),
        [
            "floor (raw baseline, decode)"
            if name == FLOOR_FORMAT
            else data.format_label(name) + " fast"
            for name in rows
        ],
    )
    low, high = np.nanmin(shown), np.nanmax(shown)
    for (row, column), rate in np.ndenumerate(values):
        if np.isfinite(rate):
            light = (shown[row, column] - low) < 0.6 * (high - low) if high > low else True
            axes.text(
                column,
                row,
                f"{rate:,.0f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if light else "black",
            )
        else:
            axes.text(column, row, "—", ha="center", va="center", fontsize=8, color="0.5")
    colour_bar = figure.colorbar(image, ax=axes)
    colour_bar.set_label("log10 images/s")
    axes.set_title(f"{title}\nat N = {n:,}; {REFERENCE_READ_WORDS}; — = not measured")
    return figure


DRAWERS: dict[str, Callable[[FigureData], Figure]] = {
    "throughput": throughput_figure,
    "speedup_fast_vs_tutorial": speedup_figure,
    "ratio_to_floor": ratio_to_floor_figure,
    "read_heatmap": read_heatmap_figure,
}
