"""Implementations compared: throughput against N, the speed-up of `fast` over `tutorial`, and each
store's read time over the raw baseline's."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from imgbench.cells import (
    BASELINE_FORMAT,
    FORMAT_COLUMN,
    REFERENCE_READ_WORDS,
    format_rank,
    implementation_rank,
    of_series,
    reads,
)
from imgbench.present import parts
from imgbench.present.data import (
    MISSING_CELLS,
    FigureData,
    reference_cells,
    value,
    with_rates,
)
from imgbench.present.style import FIGSIZE, NEUTRAL, role_swatches


def throughput_figure(data: FigureData) -> Figure:
    """Images/s against N, log-log: a column of panels per format (reads above, writes below),
    a line per implementation and the raw baseline as a reference line in every panel."""
    title = "Throughput (images per second, higher is better)"
    cells = {kind: with_rates(reference_cells(data, kind)) for kind in ("read", "write")}
    if all(frame.empty for frame in cells.values()):
        return parts.note_figure(title, "\n".join(MISSING_CELLS[kind] for kind in cells))
    present = data.series(*cells.values())
    formats = list(dict.fromkeys(series.format for series in present))
    compared = [name for name in formats if name != BASELINE_FORMAT] or formats
    figure = parts.new_figure(max(FIGSIZE[0], 3.3 * len(compared) + 2.2), 6.2)
    grid = figure.subplots(2, len(compared), sharex=True, sharey=True, squeeze=False)
    for row, (kind, frame) in enumerate(cells.items()):
        raw = [series for series in data.series(frame) if series.format == BASELINE_FORMAT]
        for column, name in enumerate(compared):
            axes = grid[row][column]
            own = [series for series in data.series(frame) if series.format == name]
            label = data.format_label(name)
            for series in own + [series for series in raw if name != BASELINE_FORMAT]:
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
            if row == 1:
                axes.set_xlabel("Number of images")
        grid[row][0].set_ylabel(f"{kind.capitalize()} images/s")
    figure.suptitle(title)
    implementations = sorted(
        {
            series.implementation
            for series in present
            if series.format != BASELINE_FORMAT or compared == [BASELINE_FORMAT]
        },
        key=implementation_rank,
    )
    handles = []
    for implementation in implementations:
        linestyle, marker = data.looks[implementation]
        handles.append(
            Line2D([], [], color=NEUTRAL, linestyle=linestyle, marker=marker, label=implementation)
        )
    if BASELINE_FORMAT in formats and compared != [BASELINE_FORMAT]:
        raw_series = next(series for series in present if series.format == BASELINE_FORMAT)
        handles.append(
            Line2D([], [], **data.line_style(raw_series), label=f"{raw_series.label()} (reference)")
        )
    parts.legend(figure, handles, title="Implementation")
    return figure


def speedup_figure(data: FigureData) -> Figure:
    """Tutorial median ÷ fast median per format, for reads and writes, at the largest N where
    some format has both."""
    title = "Speed-up of fast over tutorial (higher is better)"
    ratios: dict[str, pd.Series] = {}
    for kind in ("read", "write"):
        by = reference_cells(data, kind).pivot_table(
            index=[FORMAT_COLUMN, "n_images"], columns="implementation", values="seconds_median"
        )
        if {"tutorial", "fast"} <= set(by.columns):
            ratios[kind] = (by["tutorial"] / by["fast"]).dropna()
    n_values = sorted({n for ratio in ratios.values() for _, n in ratio.index})
    if not n_values:
        return parts.note_figure(title, "No method with both tutorial and fast timings in this run")
    n = n_values[-1]
    at_n = {kind: ratio.xs(n, level="n_images") for kind, ratio in ratios.items()}
    at_n = {kind: ratio for kind, ratio in at_n.items() if len(ratio)}
    formats = sorted(
        {name for ratio in at_n.values() for name in ratio.index},
        key=lambda name: format_rank(name, data.presentation(name)),
    )
    figure = parts.new_figure(max(FIGSIZE[0], 1.5 * len(formats) + 4), FIGSIZE[1])
    axes = figure.add_subplot()
    positions = np.arange(len(formats), dtype=float)
    axes.set_xticks(positions, [data.format_label(name) for name in formats])
    axes.grid(True, axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    colours = [data.colours[name] for name in formats]
    every = []
    for offset, kind in ((-0.2, "read"), (0.2, "write")):
        ratio = at_n.get(kind, pd.Series(dtype=float))
        values = [float(ratio.get(name, np.nan)) for name in formats]
        every += values
        parts.ratio_bars(
            axes, positions + offset, values, colours, width=0.38, hatched=kind == "write"
        )
    parts.ratio_axis(axes, every)
    axes.set_xlim(-0.7, len(formats) - 0.3)
    axes.set_ylabel("Tutorial time ÷ fast time")
    axes.set_title(f"{title}\nat N = {n:,}; reads: {REFERENCE_READ_WORDS}; writes: buffered")
    swatches = role_swatches("read", "write")
    parts.legend(
        figure, [*swatches, Line2D([], [], color="black", linewidth=1.0, label="1× (same time)")]
    )
    return figure


def ratio_to_raw_figure(data: FigureData) -> Figure:
    """Each series' reference read median ÷ the raw baseline's, at the largest N with both."""
    title = "Read time relative to raw (lower is better)"
    reference = reads(data.summary)
    raw = reference[reference[FORMAT_COLUMN] == BASELINE_FORMAT]
    others = reference[reference[FORMAT_COLUMN] != BASELINE_FORMAT]
    if raw.empty:
        return parts.note_figure(title, "No raw baseline reads in this run")
    common = sorted(set(raw["n_images"]) & set(others["n_images"]))
    if not common:
        return parts.note_figure(title, "No reads to compare with the raw baseline in this run")
    n = common[-1]
    raw_seconds = float(raw[raw["n_images"] == n]["seconds_median"].iloc[0])
    at_n = others[others["n_images"] == n]
    series = data.series(at_n)
    ratios = [value(at_n, one) / raw_seconds for one in series]
    figure = parts.new_figure(parts.bar_width(len(series)), FIGSIZE[1])
    axes = figure.add_subplot()
    positions = parts.series_axis(axes, series)
    parts.ratio_bars(axes, positions, ratios, [data.colour(one) for one in series], width=0.6)
    parts.ratio_axis(axes, ratios)
    axes.set_ylabel("Read time ÷ raw read time")
    axes.set_title(
        f"{title}\nat N = {n:,}; {REFERENCE_READ_WORDS}; raw: {parts.seconds(raw_seconds)}"
    )
    parts.legend(
        figure, [Line2D([], [], color="black", linewidth=1.0, label="1× (as fast as raw)")]
    )
    return figure


DRAWERS: dict[str, Callable[[FigureData], Figure]] = {
    "throughput": throughput_figure,
    "speedup_fast_vs_tutorial": speedup_figure,
    "ratio_to_raw": ratio_to_raw_figure,
}
