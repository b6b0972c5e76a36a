"""The training loader's figures, from the loader summary (`imgbench.loader`): each store's epoch
rate against the in-memory limit, what each sampler trades, and how long a step waits for data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from imgbench.cells import (
    LIMIT_FORMAT,
    LOADER_KEYS,
    RAW_CODEC,
    UNIFORM_DISPLACEMENT,
    Presentation,
    Sampler,
    Series,
    of_series,
)
from imgbench.present import parts
from imgbench.present.data import checked, value
from imgbench.present.style import FIGSIZE, MAX_WIDTH, bar_look, format_colours, role_swatches

SUMMARY_NEEDS = (
    *LOADER_KEYS,
    "images_per_second",
    "first_batch_seconds",
    "batch_p50_seconds",
    "batch_p99_seconds",
    "displacement",
)
MEMORY_LIMIT = (LIMIT_FORMAT, "memory", RAW_CODEC)
SAMPLER_MARKERS = {"shuffle": "o", "block": "s", "sequential": ">", "stream": "D"}


@dataclass(frozen=True)
class LoaderData:
    """The checked loader summary and the look of every store it holds."""

    summary: pd.DataFrame
    presentations: Mapping[str, Presentation]
    colours: dict[str, str]

    @classmethod
    def load(
        cls, tables: Mapping[str, pd.DataFrame], presentations: Mapping[str, Presentation]
    ) -> LoaderData:
        summary = checked(tables["loader_summary"], "loader summary", SUMMARY_NEEDS, LOADER_KEYS)
        colours = format_colours(set(summary["method"]), presentations)
        return cls(summary, presentations, colours)

    def series(self, frame: pd.DataFrame) -> list[Series]:
        """The stores (and limits, last) in `frame`, in reading order."""
        keys = set(zip(frame["method"], frame["implementation"], frame["codec"], strict=True))
        found = [Series.of(*key, self.presentations) for key in keys]
        return sorted(found, key=Series.rank)

    def cell(self, sampler: str, workers: int) -> pd.DataFrame:
        frame = self.summary
        return frame[(frame["sampler"] == sampler) & (frame["workers"] == workers)]

    def samplers(self) -> list[str]:
        present = set(self.summary["sampler"])
        return [str(kind) for kind in Sampler if kind in present]

    def workers(self) -> list[int]:
        return sorted(int(count) for count in set(self.summary["workers"]))


load_data = LoaderData.load  # how the figure job reads this family's tables


def throughput(data: LoaderData) -> Figure:
    """A panel per sampler: each store's images/s ÷ the in-memory limit's, per worker count."""
    samplers, workers = data.samplers(), data.workers()
    limit = Series.of(*MEMORY_LIMIT, data.presentations)
    series = [one for one in data.series(data.summary) if one != limit]  # 1× by definition
    n = int(data.summary["n_images"].max())
    width = min(MAX_WIDTH, parts.bar_width(len(series)))
    figure = parts.new_figure(width, 2.6 * len(samplers) + 1.2)
    axes_list = figure.subplots(len(samplers), 1, squeeze=False)[:, 0]
    colours = [data.colours[one.format] for one in series]
    offsets = np.linspace(-0.2, 0.2, len(workers)) if len(workers) > 1 else [0.0]
    bar = 0.8 / len(workers)
    for axes, sampler in zip(axes_list, samplers, strict=True):
        positions = parts.series_axis(axes, series)
        ratios_seen: list[float] = []
        for offset, count in zip(offsets, workers, strict=True):
            cell = data.cell(sampler, count)
            limit_cell = data.cell(Sampler.SHUFFLE if sampler == Sampler.STREAM else sampler, count)
            base = value(limit_cell, limit, "images_per_second")
            ratios = np.array([value(cell, one, "images_per_second") / base for one in series])
            shown = np.isfinite(ratios)  # a store without this cell (no workers, no stream)
            ratios_seen += ratios[shown].tolist()
            parts.ratio_bars(
                axes,
                positions[shown] + offset,
                ratios[shown].tolist(),
                [colour for colour, drawn in zip(colours, shown, strict=True) if drawn],
                width=bar,
                hatched=count > 0,
            )
        parts.ratio_axis(axes, ratios_seen)
        axes.set_ylabel(f"{sampler}\n÷ in-memory", fontsize=9)
        if axes is not axes_list[-1]:
            axes.tick_params(axis="x", labelbottom=False)
    figure.suptitle(
        f"DataLoader images/s ÷ the in-memory array's, N = {n:,}, batch "
        f"{int(data.summary['batch_size'].iloc[0])}\n(stream: ÷ the in-memory shuffle)"
    )
    parts.legend(
        figure, role_swatches(*(f"{count} worker(s)" for count in (workers + workers)[:2]))
    )
    return figure


def shuffle_tradeoff(data: LoaderData) -> Figure:
    """Images/s against displacement, a point per store and sampler, without workers; each
    store named at its least mixed point, names spread apart where they would collide."""
    count = data.workers()[0]
    frame = data.summary[data.summary["workers"] == count]
    figure = parts.new_figure(FIGSIZE[0] + 1.5, FIGSIZE[1] + 0.5)
    axes = figure.add_subplot()
    names: list[tuple[float, str]] = []
    for one in data.series(frame):
        rows = of_series(frame, one).sort_values("displacement")
        mixing = rows["displacement"] / UNIFORM_DISPLACEMENT
        colour = data.colours[one.format]
        axes.plot(mixing, rows["images_per_second"], color=colour, linewidth=0.8, alpha=0.6)
        for x, y, kind in zip(mixing, rows["images_per_second"], rows["sampler"], strict=True):
            axes.scatter(
                x,
                y,
                color=colour,
                marker=SAMPLER_MARKERS.get(kind, "o"),
                edgecolor="black",
                linewidth=0.5,
                zorder=3,
            )
        names.append((float(rows["images_per_second"].iloc[0]), one.label()))
    for y, name in spread_apart(names):
        axes.annotate(
            name,
            (-0.04, y),
            xytext=(-4, 0),
            textcoords="offset points",
            fontsize=7,
            ha="right",
            va="center",
        )
    parts.log_scale(axes, "y")
    axes.set_xlim(-0.5, 1.15)
    axes.grid(True, alpha=0.3)
    axes.set_xlabel("Mixing: mean distance from stored position ÷ a uniform shuffle's (N/3)")
    axes.set_ylabel("Images per second (higher is better)")
    n = int(frame["n_images"].max())
    axes.set_title(f"Shuffle quality against speed, {count} worker(s), N = {n:,}")
    handles = [
        Line2D([], [], linestyle="", marker=SAMPLER_MARKERS[kind], color="0.45", label=kind)
        for kind in data.samplers()
    ]
    parts.legend(figure, handles)
    return figure


LABEL_GAP = 0.07  # decades between two names on the log axis


def spread_apart(names: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """`names` (y, text) moved up just enough that none is within LABEL_GAP decades
    of the one below it."""
    placed: list[tuple[float, str]] = []
    for y, text in sorted(names):
        level = np.log10(y)
        if placed:
            level = max(level, np.log10(placed[-1][0]) + LABEL_GAP)
        placed.append((float(10**level), text))
    return placed


def batch_latency(data: LoaderData) -> Figure:
    """Median and 99th-percentile gap between batches and the first batch, shuffle sampler."""
    workers = data.workers()
    frame = data.summary[data.summary["sampler"] == Sampler.SHUFFLE]
    if frame.empty:
        return parts.note_figure("Batch latency", "No shuffle-sampler loader cells in this run")
    series = data.series(frame)
    figure = parts.new_figure(min(MAX_WIDTH, parts.bar_width(len(series))), FIGSIZE[1] + 0.5)
    axes = figure.add_subplot()
    positions = parts.series_axis(axes, series)
    colours = [data.colours[one.format] for one in series]
    offsets = np.linspace(-0.2, 0.2, len(workers)) if len(workers) > 1 else [0.0]
    for offset, count in zip(offsets, workers, strict=True):
        cell = frame[frame["workers"] == count]
        p50 = np.array([value(cell, one, "batch_p50_seconds") for one in series])
        p99 = np.array([value(cell, one, "batch_p99_seconds") for one in series])
        first = np.array([value(cell, one, "first_batch_seconds") for one in series])
        shown = np.isfinite(p50)
        axes.bar(
            positions[shown] + offset,
            p50[shown],
            width=0.8 / len(workers),
            yerr=[np.zeros(shown.sum()), p99[shown] - p50[shown]],
            error_kw={"ecolor": "0.15", "elinewidth": 0.9, "capsize": 2.5},
            **bar_look([c for c, s in zip(colours, shown, strict=True) if s], hatched=count > 0),
        )
        axes.scatter(
            positions[shown] + offset, first[shown], marker="v", color="black", s=18, zorder=4
        )
    parts.log_scale(axes, "y")
    axes.set_ylabel("Seconds (lower is better)")
    n = int(frame["n_images"].max())
    axes.set_title(
        f"Wait per batch, shuffle sampler, N = {n:,}\nbar: median gap, whisker: 99th percentile, "
        "triangle: first batch"
    )
    parts.legend(
        figure, role_swatches(*(f"{count} worker(s)" for count in (workers + workers)[:2]))
    )
    return figure


DRAWERS: dict[str, Callable[[LoaderData], Figure]] = {
    "loader_throughput": throughput,
    "loader_shuffle_tradeoff": shuffle_tradeoff,
    "loader_batch_latency": batch_latency,
}
