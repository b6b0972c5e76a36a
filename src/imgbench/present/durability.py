"""The cost of durable writes: each store's buffered write plus the time to make it durable."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure

from imgbench.cells import Phase, writes
from imgbench.present import parts
from imgbench.present.data import FigureData, at_largest_n, value
from imgbench.present.style import FIGSIZE, bar_look, role_swatches


def durability_figure(data: FigureData) -> Figure:
    """Buffered write median plus the median time to make it durable (syncfs), stacked per
    series at the largest N with sync timings."""
    title = "Time to write and make durable"
    syncs = writes(data.summary, Phase.SYNC)
    if syncs.empty:
        return parts.note_figure(title, "No sync (syncfs) timings in this run")
    n, syncs = at_largest_n(syncs)
    buffered = writes(data.summary)
    buffered = buffered[buffered["n_images"] == n]
    series = data.series(buffered, syncs)
    measured_write = np.array([value(buffered, one) for one in series])
    measured_sync = np.array([value(syncs, one) for one in series])
    write, sync = np.nan_to_num(measured_write), np.nan_to_num(measured_sync)
    colours = [data.colour(one) for one in series]
    figure = parts.new_figure(parts.bar_width(len(series)), FIGSIZE[1] + 0.3)
    axes = figure.add_subplot()
    positions = parts.series_axis(axes, series)
    axes.bar(positions, write, width=0.6, **bar_look(colours, hatched=False))
    bars = axes.bar(positions, sync, width=0.6, bottom=write, **bar_look(colours, hatched=True))
    labels = [
        durability_label(one_write, one_sync)
        for one_write, one_sync in zip(measured_write, measured_sync, strict=True)
    ]
    rotation = parts.value_label_rotation(axes, len(series))
    axes.bar_label(bars, labels=labels, padding=2, fontsize=8, rotation=rotation)
    axes.margins(y=0.18)
    axes.set_ylabel("Time (s)")
    axes.set_title(f"{title} at N = {n:,} (lower is better)\nlabels: total, share spent in sync")
    parts.legend(figure, role_swatches("buffered write", "sync (syncfs)"))
    return figure


def durability_label(write: float, sync: float) -> str:
    """Total time and the share spent in sync; says which half was not measured, if one."""
    if np.isnan(sync):
        return f"write {parts.seconds(write)}\nsync n/a"
    if np.isnan(write):
        return f"sync {parts.seconds(sync)}\nwrite n/a"
    return f"{parts.seconds(write + sync)}\nsync {sync / (write + sync):.0%}"


DRAWERS: dict[str, Callable[[FigureData], Figure]] = {"durability": durability_figure}
