"""The seven figures of the Real Python tutorial, so results compare with the article's: write,
read and both times against N (linear and log-log), and disk use stacked over the cutoffs.

They draw one line (or bar) per format and implementation, each format in its own codec
(`FigureData.one_codec_per_format`), so a run crossing every format with every codec stays
readable; the codec figures compare the codecs."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from imgbench.cells import REFERENCE_READ_WORDS, SERIES_KEYS, Series, of_series
from imgbench.present import parts
from imgbench.present.data import MISSING_CELLS, FigureData, reference_cells
from imgbench.present.style import FIGSIZE

PANEL_TITLES = {"write": "Write (buffered)", "read": f"Read ({REFERENCE_READ_WORDS})"}


def time_figure(data: FigureData, kinds: tuple[str, ...], title: str, *, log: bool) -> Figure:
    """Median time against N per series, with its 95% interval as a band; several kinds of cell
    go in side-by-side panels sharing the time axis."""
    cells = {kind: data.one_codec_per_format(reference_cells(data, kind)) for kind in kinds}
    if all(frame.empty for frame in cells.values()):
        return parts.note_figure(title, "\n".join(MISSING_CELLS[kind] for kind in kinds))
    combined = len(kinds) > 1
    figure = parts.new_figure(11.5 if combined else FIGSIZE[0], FIGSIZE[1])
    # Panels share the time axis, unless one is empty: its hidden axis would take the labels.
    shared = not any(frame.empty for frame in cells.values())
    panels = figure.subplots(1, len(kinds), sharey=shared, squeeze=False)[0]
    handles: dict[Series, Line2D] = {}
    for axes, kind in zip(panels, kinds, strict=True):
        frame = cells[kind]
        for series in data.series(frame):
            rows = of_series(frame, series)
            (line,) = axes.plot(
                rows["n_images"],
                rows["seconds_median"],
                label=series.label(),
                **data.line_style(series),
            )
            parts.interval_band(
                axes,
                rows["n_images"],
                rows["seconds_ci_low"],
                rows["seconds_ci_high"],
                data.colour(series),
            )
            handles.setdefault(series, line)
        if combined:
            axes.set_title(PANEL_TITLES[kind])
        if frame.empty:
            axes.set_axis_off()
            parts.note(axes, MISSING_CELLS[kind])
            continue
        parts.n_axis(axes, log=log)
        if log:
            parts.log_scale(axes, "y")
        axes.set_xlabel("Number of images")
    filled = [axes for axes, frame in zip(panels, cells.values(), strict=True) if len(frame)]
    filled[0].set_ylabel("Time (s)")
    if combined:
        figure.suptitle(title)
    else:
        panels[0].set_title(title)
    parts.legend(figure, [handles[series] for series in sorted(handles, key=Series.rank)])
    return figure


def disk_figure(data: FigureData) -> Figure:
    """One bar per series, stacked by the disk use of each cutoff's store, totals on top."""
    disk = data.one_codec_per_format(data.disk)
    series = data.series(disk)
    keyed = disk.assign(series=list(zip(*(disk[key] for key in SERIES_KEYS), strict=True)))
    keys = [(one.format, one.implementation, one.codec) for one in series]
    mib = (
        keyed.pivot(index="series", columns="n_images", values="kib_allocated")
        .reindex(pd.Index(keys, tupleize_cols=False))
        .sort_index(axis="columns")
        .fillna(0)
        / 1024
    )
    # Sequential colours follow the cutoff order; viridis' faint yellow end is left out.
    cutoff_colours = matplotlib.colormaps["viridis"](np.linspace(0.15, 0.8, len(mib.columns)))
    figure = parts.new_figure(parts.bar_width(len(series)), FIGSIZE[1])
    axes = figure.add_subplot()
    positions = parts.series_axis(axes, series)
    bottom = np.zeros(len(series))
    bars = None
    for index, cutoff in enumerate(mib.columns):
        values = mib[cutoff].to_numpy()
        bars = axes.bar(
            positions, values, bottom=bottom, color=cutoff_colours[index], label=f"N = {cutoff:,}"
        )
        bottom = bottom + values
    axes.bar_label(bars, labels=[f"{total:,.1f} MiB" for total in bottom], padding=3, fontsize=8)
    axes.margins(y=0.12)
    axes.set_ylabel("Disk use (MiB, du -sk)")
    axes.set_title("Disk space used by each method")
    # Reverse so the legend reads top-down in the same order as the stack.
    handles, _ = axes.get_legend_handles_labels()
    parts.legend(figure, handles[::-1], title="Store of")
    return figure


def _time_drawer(kinds: tuple[str, ...], title: str, *, log: bool) -> Callable[..., Figure]:
    return lambda data: time_figure(data, kinds, title, log=log)


DRAWERS: dict[str, Callable[[FigureData], Figure]] = {
    "store_time_linear": _time_drawer(("write",), "Storage time", log=False),
    "store_time_log": _time_drawer(("write",), "Storage time (log scale)", log=True),
    "read_time_linear": _time_drawer(("read",), "Read time", log=False),
    "read_time_log": _time_drawer(("read",), "Read time (log scale)", log=True),
    "read_write_linear": _time_drawer(("write", "read"), "Read and write time", log=False),
    "read_write_log": _time_drawer(("write", "read"), "Read and write time (log scale)", log=True),
    "disk_usage_stacked": disk_figure,
}
