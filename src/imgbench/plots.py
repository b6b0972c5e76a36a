"""Draw the benchmark's figures from its tidy tables: the seven figures of the Real Python "Three
Ways of Storing and Accessing Lots of Images" tutorial, so results can be compared with the
article's, plus figures comparing the `tutorial` and `fast` implementations with each other, with
the `raw` baseline, across read conditions and with durable writes.

Every series is a (method, implementation) pair. Its colour is the method's, fixed in every figure
and run (raw is black); its line style and marker are the implementation's (fast solid circles,
tutorial dashed squares, baseline dotted diamonds). A figure whose data the run did not measure is
still written, as its title and a centred note, because the workflow declares every file up front.

Figures are built on bare ``matplotlib.figure.Figure`` objects (Agg for PNG, the SVG backend for
SVG) so no pyplot global state or GUI backend is involved, and each file is written atomically and
byte-reproducibly so reruns of the workflow do not churn outputs.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import (
    FuncFormatter,
    LogFormatter,
    LogLocator,
    NullLocator,
    StrMethodFormatter,
)

from imgbench.figure_list import FIGURES, FORMATS, figure_paths

__all__ = ["FIGURES", "FORMATS", "figure_paths", "plot_all", "plot_figure"]

Series = tuple[str, str]  # (method, implementation)

# Fixed per-method colours and names, so a method looks the same in every figure and run.
_METHOD_ORDER = ("png", "lmdb", "hdf5")  # the tutorial's order; unknown methods, then raw, follow
_RAW = "raw"
_KNOWN_COLOURS = {"png": "tab:blue", "lmdb": "tab:orange", "hdf5": "tab:green", _RAW: "black"}
_SPARE_COLOURS = tuple(
    f"tab:{name}" for name in ("red", "purple", "brown", "pink", "olive", "cyan")
)
_KNOWN_LABELS = {"png": "PNG", "lmdb": "LMDB", "hdf5": "HDF5", _RAW: "raw"}
# Fixed per-implementation line style and marker.
_BASELINE = "baseline"
_IMPLEMENTATION_ORDER = ("tutorial", "fast", _BASELINE)
_KNOWN_STYLES: dict[str, tuple[object, str]] = {
    "tutorial": ("--", "s"),
    "fast": ("-", "o"),
    _BASELINE: (":", "D"),
}
_SPARE_STYLES: tuple[tuple[object, str], ...] = (
    ("-.", "^"),
    ((0, (5, 1, 1, 1, 1, 1)), "v"),
    ((0, (1, 2)), "P"),
    ((0, (8, 3)), "X"),
)

_WRITE, _READ = "write_many", "read_many"
# The reference read cell; every other read cell varies one of these factors.
_REFERENCE_READ = {"cache": "warm", "order": "sequential", "readers": 1}
_REFERENCE_READ_WORDS = "warm cache, sequential, 1 reader"

_SUMMARY_COLUMNS = (
    "method",
    "implementation",
    "n_images",
    "operation",
    "phase",
    "cache",
    "order",
    "readers",
    "images",
    "seconds_median",
    "seconds_min",
    "seconds_max",
)
_SUMMARY_KEYS = ("method", "implementation", "n_images", "operation", "phase", "cache", "order")
_SUMMARY_NUMBERS = ("n_images", "readers", "images", "seconds_median", "seconds_min", "seconds_max")
_DISK_COLUMNS = ("method", "implementation", "n_images", "kib_allocated")
_DISK_KEYS = ("method", "implementation", "n_images")
_DISK_NUMBERS = ("n_images", "kib_allocated")

_FIGSIZE = (8.0, 4.5)
_MAX_WIDTH = 13.0  # inches; wider figures do not fit a page or screen
_DPI = 150
_LIGHT = 0.35  # face alpha of hatched bars (variations, sync time)
_NEUTRAL = "0.45"  # legend swatches that stand for a role, not a method
# A fixed hash salt makes SVG element ids stable; dropping dates/versions makes files byte-stable.
_RC = {"svg.hashsalt": "imgbench", "hatch.linewidth": 0.8, "legend.fontsize": 9}
_METADATA = {"png": {"Software": None}, "svg": {"Date": None}}


def plot_all(summary: pd.DataFrame, disk: pd.DataFrame, outdir: Path) -> list[Path]:
    """Write all figures into ``outdir`` (created if missing) and return their paths.

    Both tables are checked before anything is written, so bad input leaves no partial output.
    Raises ``ValueError`` naming the table that is empty, lacks a needed column, has non-numeric
    values in a numeric column or repeats a row. Data a run did not measure is not an error: the
    figures needing it are written as notes.
    """
    data = _Data.of(summary, disk)
    outdir.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:
        _write_figure(name, data, outdir)
    return figure_paths(outdir)


def plot_figure(name: str, summary: pd.DataFrame, disk: pd.DataFrame, outdir: Path) -> list[Path]:
    """Write one figure of `FIGURES` in every format, checking the tables as `plot_all` does."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")
    data = _Data.of(summary, disk)
    outdir.mkdir(parents=True, exist_ok=True)
    return _write_figure(name, data, outdir)


def _write_figure(name: str, data: _Data, outdir: Path) -> list[Path]:
    paths = [outdir / f"{name}.{fmt}" for fmt in FORMATS]
    with matplotlib.rc_context(_RC):
        figure = _BUILDERS[name](data)
        # Lay the figure out once, at the output resolution, then freeze it: both formats get the
        # same layout, and the slow constrained-layout pass is not repeated for each.
        figure.set_dpi(_DPI)
        figure.draw_without_rendering()
        figure.set_layout_engine("none")
        for path, fmt in zip(paths, FORMATS, strict=True):
            _save_atomically(figure, path, fmt)
    return paths


# --- Input checks and the shared look ------------------------------------------------------------


@dataclass(frozen=True)
class _Data:
    """The checked tables and the colours and styles every figure shares."""

    summary: pd.DataFrame
    disk: pd.DataFrame
    colours: dict[str, str]
    styles: dict[str, tuple[object, str]]

    @classmethod
    def of(cls, summary: pd.DataFrame, disk: pd.DataFrame) -> _Data:
        summary = _checked(summary, "summary", _SUMMARY_COLUMNS, _SUMMARY_NUMBERS, _SUMMARY_KEYS)
        disk = _checked(disk, "disk", _DISK_COLUMNS, _DISK_NUMBERS, _DISK_KEYS)
        methods = set(summary["method"]) | set(disk["method"])
        implementations = set(summary["implementation"]) | set(disk["implementation"])
        return cls(summary, disk, _method_colours(methods), _implementation_styles(implementations))

    def series(self, *frames: pd.DataFrame) -> list[Series]:
        """The (method, implementation) pairs present in `frames`, in reading order."""
        pairs = {
            (method, implementation)
            for frame in frames
            for method, implementation in zip(frame["method"], frame["implementation"], strict=True)
        }
        return sorted(pairs, key=_series_rank)

    def line_style(self, series: Series) -> dict[str, object]:
        method, implementation = series
        linestyle, marker = self.styles[implementation]
        return {
            "color": self.colours[method],
            "linestyle": linestyle,
            "marker": marker,
            "markersize": 4.5,
            "linewidth": 1.6,
        }


def _checked(
    table: pd.DataFrame,
    name: str,
    columns: tuple[str, ...],
    numbers: tuple[str, ...],
    keys: tuple[str, ...],
) -> pd.DataFrame:
    """A normalised copy of `table`, or a ValueError naming the table and what is wrong with it,
    instead of a KeyError or a wrong figure deep inside plotting."""
    if table.empty:
        raise ValueError(f"{name} table is empty: nothing to plot")
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(f"{name} table lacks column(s): {', '.join(missing)}")
    table = table.copy()
    for column in numbers:
        values = pd.to_numeric(table[column], errors="coerce")
        if (values.isna() & table[column].notna()).any():
            raise ValueError(f"{name} table column {column!r} has non-numeric values")
        table[column] = values
    # "n/a" (a factor that does not apply, e.g. the cache state of a write) may have been read as
    # missing by a reader other than imgbench.tables.read_table; either way it is a value here.
    for column in [column for column in columns if column not in numbers]:
        table[column] = table[column].astype(object).where(table[column].notna(), "n/a").astype(str)
    table_keys = [*keys, "readers"] if "readers" in table.columns else list(keys)
    duplicated = table.duplicated(table_keys)
    if duplicated.any():
        first = table.loc[duplicated, table_keys].iloc[0].to_dict()
        raise ValueError(f"{name} table repeats the row for {first}")
    return table


def _method_rank(method: str) -> tuple[int, str]:
    if method in _METHOD_ORDER:
        return _METHOD_ORDER.index(method), ""
    return (len(_METHOD_ORDER) + 1, "") if method == _RAW else (len(_METHOD_ORDER), method)


def _implementation_rank(implementation: str) -> tuple[int, str]:
    if implementation in _IMPLEMENTATION_ORDER:
        return _IMPLEMENTATION_ORDER.index(implementation), ""
    return len(_IMPLEMENTATION_ORDER), implementation


def _series_rank(series: Series) -> tuple[tuple[int, str], tuple[int, str]]:
    return _method_rank(series[0]), _implementation_rank(series[1])


def _method_colours(methods: Iterable[str]) -> dict[str, str]:
    """Known methods get fixed colours; unknown ones take the spare tab10 colours by name."""
    methods = set(methods)
    colours = {method: colour for method, colour in _KNOWN_COLOURS.items() if method in methods}
    unknown = sorted(methods - set(colours))
    colours.update({m: _SPARE_COLOURS[i % len(_SPARE_COLOURS)] for i, m in enumerate(unknown)})
    return colours


def _implementation_styles(implementations: Iterable[str]) -> dict[str, tuple[object, str]]:
    """Known implementations get fixed styles; unknown ones take the spare styles by name."""
    implementations = set(implementations)
    styles = {name: style for name, style in _KNOWN_STYLES.items() if name in implementations}
    unknown = sorted(implementations - set(styles))
    styles.update({n: _SPARE_STYLES[i % len(_SPARE_STYLES)] for i, n in enumerate(unknown)})
    return styles


def _method_label(method: str) -> str:
    """The conventional upper-case spelling for known formats, else the raw name."""
    return _KNOWN_LABELS.get(method, method)


def _label(series: Series, separator: str = " ") -> str:
    """ "PNG tutorial", "LMDB fast"...; a baseline is named by its method alone ("raw")."""
    method, implementation = series
    if implementation == _BASELINE:
        return _method_label(method)
    return f"{_method_label(method)}{separator}{implementation}"


def _rows(frame: pd.DataFrame, series: Series) -> pd.DataFrame:
    method, implementation = series
    chosen = frame[(frame["method"] == method) & (frame["implementation"] == implementation)]
    return chosen.sort_values("n_images")


def _value(frame: pd.DataFrame, series: Series, column: str = "seconds_median") -> float:
    """The one value of `series` in a single-N frame, or NaN if it was not measured."""
    rows = _rows(frame, series)
    return float(rows[column].iloc[0]) if len(rows) else float("nan")


# --- Cells of the summary ------------------------------------------------------------------------


def _writes(summary: pd.DataFrame, phase: str = "write") -> pd.DataFrame:
    """Whole-store writes: buffered ("write", the reference write cell) or making them durable
    ("sync")."""
    return summary[(summary["operation"] == _WRITE) & (summary["phase"] == phase)]


def _reads(summary: pd.DataFrame, **factors: object) -> pd.DataFrame:
    """Whole-store reads in the reference cell, or in the cell with `factors` changed."""
    cell = {**_REFERENCE_READ, **factors}
    mask = (summary["operation"] == _READ) & (summary["phase"] == "read")
    for factor, value in cell.items():
        mask &= summary[factor] == value
    return summary[mask]


def _with_rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Images per second at the median, slowest and fastest sample."""
    frame = frame.copy()
    frame["rate"] = frame["images"] / frame["seconds_median"]
    frame["rate_low"] = frame["images"] / frame["seconds_max"]
    frame["rate_high"] = frame["images"] / frame["seconds_min"]
    return frame


# --- Building blocks -----------------------------------------------------------------------------


def _new_figure(width: float = _FIGSIZE[0], height: float = _FIGSIZE[1]) -> Figure:
    return Figure(figsize=(min(width, _MAX_WIDTH), height), layout="constrained")


def _note_figure(title: str, note: str) -> Figure:
    """The figure written when the run has no data for it: its title and why it is empty."""
    figure = _new_figure(*_FIGSIZE)
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_title(title)
    _note(axes, note, fontsize=13)
    return figure


def _note(axes: Axes, note: str, fontsize: float = 10) -> None:
    axes.text(
        0.5,
        0.5,
        note,
        transform=axes.transAxes,
        ha="center",
        va="center",
        fontsize=fontsize,
        color="0.35",
        wrap=True,
    )


def _legend(figure: Figure, handles: list, labels: list[str] | None = None, **kwargs) -> None:
    """One legend, outside the axes on the right, where it can never hide data."""
    if labels is None:
        labels = [handle.get_label() for handle in handles]
    figure.legend(handles, labels, loc="outside right upper", **kwargs)


class _PlainLogFormatter(LogFormatter):
    """Log-axis ticks as plain numbers ("1,000", "0.002") rather than powers of ten: easier to
    read, and much faster to draw than mathtext. Which ticks get a label is LogFormatter's call."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return _plain_number(x) if super().__call__(x, pos) else ""


def _plain_number(x: float) -> str:
    if x >= 1:
        return f"{x:,.0f}"
    return np.format_float_positional(x, precision=8, unique=True, trim="-")


def _log_scale(axes: Axes, which: str) -> None:
    """Log scale on the "x" or "y" axis of `axes`, with plain-number ticks."""
    getattr(axes, f"set_{which}scale")("log")
    axis = getattr(axes, f"{which}axis")
    axis.set_major_formatter(_PlainLogFormatter(base=10))
    axis.set_minor_formatter(_PlainLogFormatter(base=10, labelOnlyBase=False))


def _n_axis(axes: Axes, *, log: bool) -> None:
    if log:
        _log_scale(axes, "x")
    else:
        axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.grid(True, which="major", alpha=0.3)


def _series_axis(axes: Axes, series: list[Series]) -> np.ndarray:
    """Category positions and two-line tick labels ("PNG" over "tutorial") for bar figures."""
    positions = np.arange(len(series), dtype=float)
    axes.set_xticks(positions, [_label(one, "\n") for one in series])
    axes.set_xlim(-0.6, len(series) - 0.4)
    axes.grid(True, axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    return positions


def _bar_width(count: int) -> float:
    return max(7.0, 0.95 * count + 3.5)


def _times(value: float) -> str:
    return f"{value:.3g}×" if value < 100 else f"{value:,.0f}×"


def _seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.3g} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def _ratio_axis(axes: Axes, ratios: Iterable[float]) -> None:
    """Log scale around 1 with "×" ticks, so 0.5× and 2× are as far from 1 as each other."""
    finite = [ratio for ratio in ratios if np.isfinite(ratio) and ratio > 0]
    low, high = min([1.0, *finite]), max([1.0, *finite])
    axes.set_yscale("log")
    axes.set_ylim(low / 1.8, high * 2.2)
    axes.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}×"))
    axes.yaxis.set_minor_locator(NullLocator())
    axes.axhline(1.0, color="black", linewidth=1.0, zorder=3)


def _ratio_bars(
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
        **_bar_look([colours[index] for index in shown], hatched=hatched),
    )
    axes.bar_label(bars, labels=[_times(ratios[index]) for index in shown], padding=2, fontsize=8)


def _bar_look(colours: list[str], *, hatched: bool) -> dict[str, object]:
    """Solid bars in the method's colour, or pale hatched ones for the second bar of a pair."""
    if hatched:
        faces = [to_rgba(colour, _LIGHT) for colour in colours]
        return {"color": faces, "edgecolor": colours, "hatch": "///", "linewidth": 0.8}
    return {"color": colours, "edgecolor": colours, "linewidth": 0.8}


def _role_swatches(solid: str, hatched: str) -> list[Patch]:
    return [
        Patch(facecolor=_NEUTRAL, edgecolor=_NEUTRAL, label=solid),
        Patch(facecolor=to_rgba(_NEUTRAL, _LIGHT), edgecolor=_NEUTRAL, hatch="///", label=hatched),
    ]


# --- The tutorial's figures ----------------------------------------------------------------------

# Line figures: cells drawn ("write", "read" or both, side by side), title, log-log axes or not.
_TIME_FIGURES: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "store_time_linear": (("write",), "Storage time", False),
    "store_time_log": (("write",), "Storage time (log scale)", True),
    "read_time_linear": (("read",), "Read time", False),
    "read_time_log": (("read",), "Read time (log scale)", True),
    "read_write_linear": (("write", "read"), "Read and write time", False),
    "read_write_log": (("write", "read"), "Read and write time (log scale)", True),
}
_PANEL_TITLES = {"write": "Write (buffered)", "read": f"Read ({_REFERENCE_READ_WORDS})"}
_MISSING_CELLS = {
    "write": "No buffered whole-store writes in this run",
    "read": f"No whole-store reads with {_REFERENCE_READ_WORDS} in this run",
}


def _cells(data: _Data, kind: str) -> pd.DataFrame:
    return _writes(data.summary) if kind == "write" else _reads(data.summary)


def _time_figure(data: _Data, kinds: tuple[str, ...], title: str, *, log: bool) -> Figure:
    """Median time against N per series, with the min-max spread as a band; several kinds of cell
    go in side-by-side panels sharing the time axis."""
    cells = {kind: _cells(data, kind) for kind in kinds}
    if all(frame.empty for frame in cells.values()):
        return _note_figure(title, "\n".join(_MISSING_CELLS[kind] for kind in kinds))
    combined = len(kinds) > 1
    figure = _new_figure(11.5 if combined else _FIGSIZE[0], _FIGSIZE[1])
    # Panels share the time axis, unless one is empty: its hidden axis would take the labels.
    shared = not any(frame.empty for frame in cells.values())
    panels = figure.subplots(1, len(kinds), sharey=shared, squeeze=False)[0]
    handles: dict[Series, Line2D] = {}
    for axes, kind in zip(panels, kinds, strict=True):
        frame = cells[kind]
        for series in data.series(frame):
            rows = _rows(frame, series)
            (line,) = axes.plot(
                rows["n_images"],
                rows["seconds_median"],
                label=_label(series),
                **data.line_style(series),
            )
            axes.fill_between(
                rows["n_images"],
                rows["seconds_min"],
                rows["seconds_max"],
                color=data.colours[series[0]],
                alpha=0.12,
                linewidth=0,
            )
            handles.setdefault(series, line)
        if combined:
            axes.set_title(_PANEL_TITLES[kind])
        if frame.empty:
            axes.set_axis_off()
            _note(axes, _MISSING_CELLS[kind])
            continue
        _n_axis(axes, log=log)
        if log:
            _log_scale(axes, "y")
        axes.set_xlabel("Number of images")
    filled = [axes for axes, frame in zip(panels, cells.values(), strict=True) if len(frame)]
    filled[0].set_ylabel("Time (s)")
    if combined:
        figure.suptitle(title)
    else:
        panels[0].set_title(title)
    _legend(figure, [handles[series] for series in sorted(handles, key=_series_rank)])
    return figure


def _disk_figure(data: _Data) -> Figure:
    """One bar per series, stacked by the disk use of each cutoff's store, totals on top."""
    disk = data.disk
    series = data.series(disk)
    keyed = disk.assign(series=list(zip(disk["method"], disk["implementation"], strict=True)))
    mib = (
        keyed.pivot(index="series", columns="n_images", values="kib_allocated")
        .reindex(pd.Index(series, tupleize_cols=False))
        .sort_index(axis="columns")
        .fillna(0)
        / 1024
    )
    # Sequential colours follow the cutoff order; viridis' faint yellow end is left out.
    cutoff_colours = matplotlib.colormaps["viridis"](np.linspace(0.15, 0.8, len(mib.columns)))
    figure = _new_figure(_bar_width(len(series)), _FIGSIZE[1])
    axes = figure.add_subplot()
    positions = _series_axis(axes, series)
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
    _legend(figure, handles[::-1], title="Store of")
    return figure


# --- Implementations compared --------------------------------------------------------------------


def _throughput_figure(data: _Data) -> Figure:
    """Images/s against N, log-log: a column of panels per method (reads above, writes below),
    a line per implementation and the raw baseline as a reference line in every panel."""
    title = "Throughput (images per second, higher is better)"
    cells = {kind: _with_rates(_cells(data, kind)) for kind in ("read", "write")}
    if all(frame.empty for frame in cells.values()):
        return _note_figure(title, "\n".join(_MISSING_CELLS[kind] for kind in ("read", "write")))
    methods = sorted({method for method, _ in data.series(*cells.values())}, key=_method_rank)
    compared = [method for method in methods if method != _RAW] or methods
    figure = _new_figure(max(_FIGSIZE[0], 3.3 * len(compared) + 2.2), 6.2)
    grid = figure.subplots(2, len(compared), sharex=True, sharey=True, squeeze=False)
    for row, (kind, frame) in enumerate(cells.items()):
        raw = [series for series in data.series(frame) if series[0] == _RAW]
        for column, method in enumerate(compared):
            axes = grid[row][column]
            own = [series for series in data.series(frame) if series[0] == method]
            for series in own + [series for series in raw if method != _RAW]:
                rows = _rows(frame, series)
                axes.plot(rows["n_images"], rows["rate"], **data.line_style(series))
            if not own:
                _note(axes, f"No {_method_label(method)} {kind}s")
            axes.set_title(f"{_method_label(method)} · {kind}", fontsize=11)
            _n_axis(axes, log=True)
            _log_scale(axes, "y")
            if row == 1:
                axes.set_xlabel("Number of images")
        grid[row][0].set_ylabel(f"{kind.capitalize()} images/s")
    figure.suptitle(title)
    present = data.series(*cells.values())
    implementations = sorted(
        {impl for method, impl in present if method != _RAW or compared == [_RAW]},
        key=_implementation_rank,
    )
    handles = []
    for implementation in implementations:
        linestyle, marker = data.styles[implementation]
        handles.append(
            Line2D([], [], color=_NEUTRAL, linestyle=linestyle, marker=marker, label=implementation)
        )
    if _RAW in methods and compared != [_RAW]:
        raw_series = next(series for series in present if series[0] == _RAW)
        handles.append(
            Line2D([], [], **data.line_style(raw_series), label=f"{_label(raw_series)} (reference)")
        )
    _legend(figure, handles, title="Implementation")
    return figure


def _speedup_figure(data: _Data) -> Figure:
    """Tutorial median ÷ fast median per method, for reads and writes, at the largest N where
    some method has both."""
    title = "Speed-up of fast over tutorial (higher is better)"
    ratios: dict[str, pd.Series] = {}
    for kind in ("read", "write"):
        frame = _cells(data, kind)
        by = frame.pivot_table(
            index=["method", "n_images"], columns="implementation", values="seconds_median"
        )
        if {"tutorial", "fast"} <= set(by.columns):
            ratios[kind] = (by["tutorial"] / by["fast"]).dropna()
    n_values = sorted({n for ratio in ratios.values() for _, n in ratio.index})
    if not n_values:
        return _note_figure(title, "No method with both tutorial and fast timings in this run")
    n = n_values[-1]
    at_n = {kind: ratio.xs(n, level="n_images") for kind, ratio in ratios.items()}
    at_n = {kind: ratio for kind, ratio in at_n.items() if len(ratio)}
    methods = sorted(
        {method for ratio in at_n.values() for method in ratio.index}, key=_method_rank
    )
    figure = _new_figure(max(_FIGSIZE[0], 1.5 * len(methods) + 4), _FIGSIZE[1])
    axes = figure.add_subplot()
    positions = np.arange(len(methods), dtype=float)
    axes.set_xticks(positions, [_method_label(method) for method in methods])
    axes.grid(True, axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    colours = [data.colours[method] for method in methods]
    every = []
    for offset, kind in ((-0.2, "read"), (0.2, "write")):
        ratio = at_n.get(kind, pd.Series(dtype=float))
        values = [float(ratio.get(method, np.nan)) for method in methods]
        every += values
        _ratio_bars(axes, positions + offset, values, colours, width=0.38, hatched=kind == "write")
    _ratio_axis(axes, every)
    axes.set_xlim(-0.7, len(methods) - 0.3)
    axes.set_ylabel("Tutorial time ÷ fast time")
    axes.set_title(f"{title}\nat N = {n:,}; reads: {_REFERENCE_READ_WORDS}; writes: buffered")
    swatches = _role_swatches("read", "write")
    _legend(
        figure, [*swatches, Line2D([], [], color="black", linewidth=1.0, label="1× (same time)")]
    )
    return figure


def _ratio_to_raw_figure(data: _Data) -> Figure:
    """Each series' reference read median ÷ the raw baseline's, at the largest N with both."""
    title = "Read time relative to raw (lower is better)"
    reads = _reads(data.summary)
    raw = reads[reads["method"] == _RAW]
    others = reads[reads["method"] != _RAW]
    if raw.empty:
        return _note_figure(title, "No raw baseline reads in this run")
    common = sorted(set(raw["n_images"]) & set(others["n_images"]))
    if not common:
        return _note_figure(title, "No reads to compare with the raw baseline in this run")
    n = common[-1]
    raw_seconds = float(raw[raw["n_images"] == n]["seconds_median"].iloc[0])
    at_n = others[others["n_images"] == n]
    series = data.series(at_n)
    ratios = [_value(at_n, one) / raw_seconds for one in series]
    figure = _new_figure(_bar_width(len(series)), _FIGSIZE[1])
    axes = figure.add_subplot()
    positions = _series_axis(axes, series)
    _ratio_bars(axes, positions, ratios, [data.colours[method] for method, _ in series], width=0.6)
    _ratio_axis(axes, ratios)
    axes.set_ylabel("Read time ÷ raw read time")
    axes.set_title(f"{title}\nat N = {n:,}; {_REFERENCE_READ_WORDS}; raw: {_seconds(raw_seconds)}")
    _legend(figure, [Line2D([], [], color="black", linewidth=1.0, label="1× (as fast as raw)")])
    return figure


# --- Read variations and durable writes ----------------------------------------------------------


@dataclass(frozen=True)
class _Variation:
    factor: str
    title: str
    missing: str

    def value(self, summary: pd.DataFrame) -> object | None:
        """The varied value: the one non-reference value, or for readers the smallest count > 1
        (normally 2)."""
        reads = summary[(summary["operation"] == _READ) & (summary["phase"] == "read")]
        reference = _REFERENCE_READ[self.factor]
        others = {k: v for k, v in _REFERENCE_READ.items() if k != self.factor}
        for factor, value in others.items():
            reads = reads[reads[factor] == value]
        values = sorted(set(reads[self.factor]) - {reference})
        return values[0] if values else None


_VARIATIONS = {
    "cache_warm_cold": _Variation("cache", "Warm vs cold page cache", "No cold-cache reads"),
    "order_sequential_random": _Variation(
        "order", "Sequential vs random read order", "No random-order reads"
    ),
    "readers_1_2": _Variation(
        "readers", "One reader vs several", "No reads with 2 or more readers"
    ),
}


def _factor_words(factor: str, value: object) -> str:
    if factor == "cache":
        return f"{value} cache"
    if factor == "readers":
        return f"{value} reader{'s' if value != 1 else ''}"
    return str(value)


def _variation_figure(data: _Data, variation: _Variation) -> Figure:
    """Reference read cell vs the cell varying one factor, in images/s with min-max error bars,
    per series at the largest N the variation was measured at; the varied bar is labelled with
    its images/s ÷ the reference's."""
    value = variation.value(data.summary)
    if value is None:
        return _note_figure(variation.title, f"{variation.missing} in this run")
    base = _factor_words(variation.factor, _REFERENCE_READ[variation.factor])
    varied = _factor_words(variation.factor, value)
    changed = _with_rates(_reads(data.summary, **{variation.factor: value}))
    n = int(changed["n_images"].max())
    changed = changed[changed["n_images"] == n]
    reference = _with_rates(_reads(data.summary))
    reference = reference[reference["n_images"] == n]
    series = data.series(changed, reference)
    figure = _new_figure(_bar_width(len(series)), _FIGSIZE[1] + 0.3)
    axes = figure.add_subplot()
    positions = _series_axis(axes, series)
    colours = [data.colours[method] for method, _ in series]
    for offset, frame, hatched in ((-0.2, reference, False), (0.2, changed, True)):
        rate = np.array([_value(frame, one, "rate") for one in series])
        low = np.array([_value(frame, one, "rate_low") for one in series])
        high = np.array([_value(frame, one, "rate_high") for one in series])
        shown = np.isfinite(rate)
        axes.bar(
            positions[shown] + offset,
            rate[shown],
            width=0.38,
            yerr=[rate[shown] - low[shown], high[shown] - rate[shown]],
            error_kw={"ecolor": "0.15", "elinewidth": 0.9, "capsize": 2.5},
            **_bar_look([c for c, s in zip(colours, shown, strict=True) if s], hatched=hatched),
        )
        if hatched:
            base_rate = np.array([_value(reference, one, "rate") for one in series])
            for position, top, ratio in zip(
                positions + offset, high, rate / base_rate, strict=True
            ):
                if np.isfinite(ratio):
                    axes.annotate(
                        _times(ratio),
                        (position, top),
                        xytext=(0, 2),
                        textcoords="offset points",
                        ha="center",
                        va="bottom",
                        fontsize=8,
                    )
    _log_scale(axes, "y")
    axes.margins(y=0.15)
    axes.set_ylabel("Images per second (higher is better)")
    axes.set_title(
        f"{variation.title} at N = {n:,}\nlabels: {varied} images/s ÷ {base} images/s; "
        "error bars: min–max"
    )
    _legend(figure, _role_swatches(f"{base} (reference)", varied))
    return figure


def _durability_figure(data: _Data) -> Figure:
    """Buffered write median plus the median time to make it durable (syncfs), stacked per
    series at the largest N with sync timings."""
    title = "Time to write and make durable"
    syncs = _writes(data.summary, "sync")
    if syncs.empty:
        return _note_figure(title, "No sync (syncfs) timings in this run")
    n = int(syncs["n_images"].max())
    syncs = syncs[syncs["n_images"] == n]
    writes = _writes(data.summary)
    writes = writes[writes["n_images"] == n]
    series = data.series(writes, syncs)
    measured_write = np.array([_value(writes, one) for one in series])
    measured_sync = np.array([_value(syncs, one) for one in series])
    write, sync = np.nan_to_num(measured_write), np.nan_to_num(measured_sync)
    colours = [data.colours[method] for method, _ in series]
    figure = _new_figure(_bar_width(len(series)), _FIGSIZE[1] + 0.3)
    axes = figure.add_subplot()
    positions = _series_axis(axes, series)
    axes.bar(positions, write, width=0.6, **_bar_look(colours, hatched=False))
    bars = axes.bar(positions, sync, width=0.6, bottom=write, **_bar_look(colours, hatched=True))
    labels = [
        _durability_label(one_write, one_sync)
        for one_write, one_sync in zip(measured_write, measured_sync, strict=True)
    ]
    axes.bar_label(bars, labels=labels, padding=2, fontsize=8)
    axes.margins(y=0.18)
    axes.set_ylabel("Time (s)")
    axes.set_title(f"{title} at N = {n:,} (lower is better)\nlabels: total, share spent in sync")
    _legend(figure, _role_swatches("buffered write", "sync (syncfs)"))
    return figure


def _durability_label(write: float, sync: float) -> str:
    """Total time and the share spent in sync; says which half was not measured, if one."""
    if np.isnan(sync):
        return f"write {_seconds(write)}\nsync n/a"
    if np.isnan(write):
        return f"sync {_seconds(sync)}\nwrite n/a"
    return f"{_seconds(write + sync)}\nsync {sync / (write + sync):.0%}"


def _time_builder(name: str) -> Callable[[_Data], Figure]:
    kinds, title, log = _TIME_FIGURES[name]
    return lambda data: _time_figure(data, kinds, title, log=log)


def _variation_builder(name: str) -> Callable[[_Data], Figure]:
    return lambda data: _variation_figure(data, _VARIATIONS[name])


_BUILDERS: dict[str, Callable[[_Data], Figure]] = {
    **{name: _time_builder(name) for name in _TIME_FIGURES},
    "disk_usage_stacked": _disk_figure,
    "throughput": _throughput_figure,
    "speedup_fast_vs_tutorial": _speedup_figure,
    "ratio_to_raw": _ratio_to_raw_figure,
    **{name: _variation_builder(name) for name in _VARIATIONS},
    "durability": _durability_figure,
}
if set(_BUILDERS) != set(FIGURES):  # pragma: no cover - caught by importing the module at all
    raise RuntimeError(f"figures without a builder: {set(FIGURES) ^ set(_BUILDERS)}")


def _save_atomically(figure: Figure, path: Path, fmt: str) -> None:
    """Write a temp file beside ``path`` and rename it, so a crash never leaves half a figure."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temp.open("xb") as handle:
            figure.savefig(handle, format=fmt, dpi=_DPI, metadata=_METADATA[fmt])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
