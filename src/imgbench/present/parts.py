"""The parts figures are built from: new figures and notes, legends, axes, ratio bars, and saving.

Figures are built on bare `matplotlib.figure.Figure` objects (Agg for PNG, the SVG backend for
SVG), so no pyplot global state or GUI backend is involved; each file is written atomically and
byte-reproducibly, so reruns of the workflow do not churn outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import (
    FuncFormatter,
    LogFormatter,
    LogLocator,
    NullLocator,
    StrMethodFormatter,
)

from imgbench.atomic_files import atomic_path
from imgbench.cells import Series
from imgbench.present.style import DPI, FIGSIZE, MAX_WIDTH, METADATA, RC, bar_look


def new_figure(width: float = FIGSIZE[0], height: float = FIGSIZE[1]) -> Figure:
    return Figure(figsize=(min(width, MAX_WIDTH), height), layout="constrained")


def note_figure(title: str, note_text: str) -> Figure:
    """The figure written when the run has no data for it: its title and why it is empty."""
    figure = new_figure(*FIGSIZE)
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_title(title)
    note(axes, note_text, fontsize=13)
    return figure


def note(axes: Axes, text: str, fontsize: float = 10) -> None:
    axes.text(
        0.5,
        0.5,
        text,
        transform=axes.transAxes,
        ha="center",
        va="center",
        fontsize=fontsize,
        color="0.35",
        wrap=True,
    )


def legend(figure: Figure, handles: list, labels: list[str] | None = None, **kwargs) -> None:
    """One legend, outside the axes on the right, where it can never hide data."""
    if labels is None:
        labels = [handle.get_label() for handle in handles]
    figure.legend(handles, labels, loc="outside right upper", **kwargs)


class PlainLogFormatter(LogFormatter):
    """Log-axis ticks as plain numbers ("1,000", "0.002") rather than powers of ten: easier to
    read, and much faster to draw than mathtext. Which ticks get a label is LogFormatter's call."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return plain_number(x) if super().__call__(x, pos) else ""


def plain_number(x: float) -> str:
    if x >= 1:
        return f"{x:,.0f}"
    return np.format_float_positional(x, precision=8, unique=True, trim="-")


def log_scale(axes: Axes, which: str) -> None:
    """Log scale on the "x" or "y" axis of `axes`, with plain-number ticks."""
    getattr(axes, f"set_{which}scale")("log")
    axis = getattr(axes, f"{which}axis")
    axis.set_major_formatter(PlainLogFormatter(base=10))
    axis.set_minor_formatter(PlainLogFormatter(base=10, labelOnlyBase=False))


def n_axis(axes: Axes, *, log: bool) -> None:
    if log:
        log_scale(axes, "x")
    else:
        axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.grid(True, which="major", alpha=0.3)


# Tick labels: an average character is about 0.6 of the font size wide; the axes take about 80%
# of a figure's width. Below SMALLEST_TICK_POINTS the labels are tilted instead of shrunk further.
CHARACTER_WIDTH = 0.6
AXES_SHARE = 0.8
LARGEST_TICK_POINTS = 10.0
SMALLEST_TICK_POINTS = 7.5
STEEP_BAR_INCHES = 0.45  # narrower categories get vertical tick labels: tilted ones overlap
ROOMY_BAR_INCHES = 0.9  # a category this wide has room for an upright "0.709×" above its bars


def series_axis(axes: Axes, series: list[Series]) -> np.ndarray:
    """Category positions and two-line tick labels ("PNG" over "tutorial") for bar figures:
    shrunk to fit the space of one bar, or tilted (vertical when narrower still) where many long
    names ("Arrow IPC+raw") would run into each other."""
    positions = np.arange(len(series), dtype=float)
    labels = [one.label("\n") for one in series]
    axes.set_xticks(positions, labels)
    per_bar = inches_per_bar(axes, len(series))
    widest = max((len(line) for label in labels for line in label.split("\n")), default=1)
    fitting = per_bar * 72 / (widest * CHARACTER_WIDTH)  # the largest size that fits, in points
    if fitting >= SMALLEST_TICK_POINTS:
        axes.tick_params(axis="x", labelsize=min(LARGEST_TICK_POINTS, fitting))
    elif per_bar >= STEEP_BAR_INCHES:
        axes.tick_params(axis="x", labelsize=SMALLEST_TICK_POINTS, labelrotation=35)
        for tick in axes.get_xticklabels():
            tick.set_horizontalalignment("right")
            tick.set_rotation_mode("anchor")
    else:  # upright, each label is only as wide as its lines are high
        axes.tick_params(axis="x", labelsize=SMALLEST_TICK_POINTS, labelrotation=90)
    axes.set_xlim(-0.6, len(series) - 0.4)
    axes.grid(True, axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    return positions


def inches_per_bar(axes: Axes, count: int) -> float:
    """About how wide the space of one of `count` categories is on the page."""
    return float(axes.figure.get_size_inches()[0]) * AXES_SHARE / max(count, 1)


def value_label_rotation(axes: Axes, count: int) -> int:
    """Upright value labels ("0.71×") above bars where a category has room for them, else
    vertical ones, which cannot run into the next category's bars."""
    return 0 if inches_per_bar(axes, count) >= ROOMY_BAR_INCHES else 90


def interval_band(
    axes: Axes, n: Sequence[float], low: Sequence[float], high: Sequence[float], colour: str
) -> None:
    """The 95% interval of a line's medians, as a light band in the line's colour."""
    axes.fill_between(n, low, high, color=colour, alpha=0.12, linewidth=0)


def bar_width(count: int) -> float:
    return max(8.0, 0.95 * count + 3.5)  # room for a three-line title beside the legend


def times(value: float) -> str:
    return f"{value:.3g}×" if value < 100 else f"{value:,.0f}×"


def seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.3g} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def ratio_axis(axes: Axes, ratios: Iterable[float]) -> None:
    """Log scale around 1 with "×" ticks, so 0.5× and 2× are as far from 1 as each other."""
    finite = [ratio for ratio in ratios if np.isfinite(ratio) and ratio > 0]
    low, high = min([1.0, *finite]), max([1.0, *finite])
    axes.set_yscale("log")
    axes.set_ylim(low / 1.8, high * 2.2)
    axes.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}×"))
    axes.yaxis.set_minor_locator(NullLocator())
    axes.axhline(1.0, color="black", linewidth=1.0, zorder=3)


def ratio_bars(
    axes: Axes,
    positions: np.ndarray,
    ratios: list[float],
    colours: list[str],
    *,
    width: float = 0.8,
    hatched: bool = False,
) -> None:
    """Bars from 1 up (or down) to each ratio, labelled with it; "n/a" where not measured."""
    shown = [index for index, ratio in enumerate(ratios) if np.isfinite(ratio) and ratio > 0]
    for index in range(len(ratios)):
        if index not in shown:
            axes.text(positions[index], 1.0, "n/a", ha="center", va="bottom", fontsize=8)
    if not shown:
        return
    bars = axes.bar(
        positions[shown],
        [ratios[index] - 1.0 for index in shown],
        width=width,
        bottom=1.0,
        **bar_look([colours[index] for index in shown], hatched=hatched),
    )
    axes.bar_label(
        bars,
        labels=[times(ratios[index]) for index in shown],
        padding=2,
        fontsize=8,
        rotation=value_label_rotation(axes, len(positions)),
    )


def style_context() -> matplotlib.rc_context:
    """The rc settings every figure is built and saved under."""
    return matplotlib.rc_context(RC)


def save(figure: Figure, paths: Sequence[Path]) -> None:
    """Lay the figure out once, at the output resolution, then freeze it and write each file (its
    type from its suffix) atomically: both types get the same layout, and the slow
    constrained-layout pass is not repeated for each."""
    figure.set_dpi(DPI)
    figure.draw_without_rendering()
    figure.set_layout_engine("none")
    for path in paths:
        file_type = path.suffix.lstrip(".")
        with atomic_path(path) as partial, partial.open("wb") as handle:
            figure.savefig(handle, format=file_type, dpi=DPI, metadata=METADATA[file_type])
