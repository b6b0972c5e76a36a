"""Codecs compared: what each codec costs on disk in each container."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from imgbench.cells import (
    BASELINE_FORMAT,
    CODEC_COLUMN,
    FORMAT_COLUMN,
    codec_rank,
    format_rank,
    implementation_rank,
)
from imgbench.present import parts
from imgbench.present.data import FigureData, at_largest_n
from imgbench.present.style import FIGSIZE


def disk_per_codec_figure(data: FigureData) -> Figure:
    """Allocated bytes per image at the largest N, grouped by codec, a bar per container (its
    first implementation: every implementation of a format writes the same layout or nearly),
    the raw baseline in the raw group: a container's overhead over its codec's bytes shows as the
    difference between bars of one group."""
    title = "Disk use per image by codec and container (du -sk, lower is better)"
    n, disk = at_largest_n(data.disk)
    disk = disk.assign(rank=[implementation_rank(one) for one in disk["implementation"]])
    first = disk.sort_values("rank").drop_duplicates([FORMAT_COLUMN, CODEC_COLUMN])
    codecs = sorted(set(first[CODEC_COLUMN]), key=codec_rank)
    formats = sorted(
        set(first[FORMAT_COLUMN]), key=lambda name: format_rank(name, data.presentation(name))
    )
    widest = max(sum(first[CODEC_COLUMN] == codec) for codec in codecs)
    width = 0.8 / widest
    figure = parts.new_figure(max(FIGSIZE[0], 0.35 * len(first) + 4), FIGSIZE[1])
    axes = figure.add_subplot()
    for group, codec in enumerate(codecs):
        names = [
            name
            for name in formats
            if ((first[FORMAT_COLUMN] == name) & (first[CODEC_COLUMN] == codec)).any()
        ]
        rows = first[first[CODEC_COLUMN] == codec].set_index(FORMAT_COLUMN)
        per_image = [rows.loc[name, "kib_allocated"] * 1024 / n for name in names]
        positions = group + (np.arange(len(names)) - (len(names) - 1) / 2) * width
        bars = axes.bar(
            positions, per_image, width * 0.92, color=[data.colours[name] for name in names]
        )
        axes.bar_label(
            bars, labels=[f"{v:,.0f}" for v in per_image], fontsize=7, rotation=90, padding=2
        )
    axes.set_xticks(np.arange(len(codecs)), codecs)
    axes.margins(y=0.2)
    axes.grid(True, axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    axes.set_ylabel("Bytes per image (allocated)")
    axes.set_title(f"{title}\nat N = {n:,}")
    handles = [
        Patch(
            color=data.colours[name],
            label="raw baseline" if name == BASELINE_FORMAT else data.format_label(name),
        )
        for name in formats
    ]
    parts.legend(figure, handles, title="Container")
    return figure


DRAWERS: dict[str, Callable[[FigureData], Figure]] = {"disk_per_codec": disk_per_codec_figure}
