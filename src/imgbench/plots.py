"""Draw the seven figures of the Real Python "Three Ways of Storing and Accessing Lots of Images"
tutorial from the benchmark's tidy tables, so results can be compared with the article's.

Figures are built on bare ``matplotlib.figure.Figure`` objects (Agg for PNG, the SVG backend for
SVG) so no pyplot global state or GUI backend is involved, and each file is written atomically and
byte-reproducibly so reruns of the workflow do not churn outputs.
"""

import os
import uuid
from collections.abc import Iterable
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from imgbench.figure_list import FIGURES, FORMATS, figure_paths

# Fixed per-method colours and legend names, so a method looks the same in every figure and run.
_KNOWN_COLOURS = {"png": "tab:blue", "lmdb": "tab:orange", "hdf5": "tab:green"}
_KNOWN_LABELS = {"png": "PNG", "lmdb": "LMDB", "hdf5": "HDF5"}
_WRITE, _READ = "write_many", "read_many"
_OPERATION_WORDS = {_WRITE: "write", _READ: "read"}
_OPERATION_STYLES = {_WRITE: "-", _READ: "--"}

# Line figures: operations drawn, title, log-log axes or not.
_TIME_FIGURES: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "store_time_linear": ((_WRITE,), "Storage time", False),
    "store_time_log": ((_WRITE,), "Storage time (log scale)", True),
    "read_time_linear": ((_READ,), "Read time", False),
    "read_time_log": ((_READ,), "Read time (log scale)", True),
    "read_write_linear": ((_WRITE, _READ), "Read and write time", False),
    "read_write_log": ((_WRITE, _READ), "Read and write time (log scale)", True),
}
_DISK_FIGURE = "disk_usage_stacked"

_SUMMARY_COLUMNS = (
    "method",
    "n_images",
    "operation",
    "seconds_median",
    "seconds_min",
    "seconds_max",
)
_DISK_COLUMNS = ("method", "n_images", "kib_allocated")

_FIGSIZE = (7.0, 4.5)
_DPI = 150
# A fixed hash salt makes SVG element ids stable; dropping dates/versions makes files byte-stable.
_RC = {"svg.hashsalt": "imgbench"}
_METADATA = {"png": {"Software": None}, "svg": {"Date": None}}


def plot_all(summary: pd.DataFrame, disk: pd.DataFrame, outdir: Path) -> list[Path]:
    """Write all figures into ``outdir`` (created if missing) and return their paths.

    Both tables are checked before anything is written, so bad input leaves no partial output.
    Raises ``ValueError`` naming the table that is empty or lacks a needed column or operation.
    """
    _check_table(summary, "summary", _SUMMARY_COLUMNS)
    _check_table(disk, "disk", _DISK_COLUMNS)
    for operation in (_WRITE, _READ):
        if not (summary["operation"] == operation).any():
            raise ValueError(f"summary table has no {operation!r} rows to plot")

    methods = _ordered(summary["method"].unique())
    colours = _method_colours(methods)
    outdir.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(_RC):
        for name in FIGURES:
            if name == _DISK_FIGURE:
                figure = _disk_figure(disk)
            else:
                operations, title, log = _TIME_FIGURES[name]
                figure = _time_figure(summary, methods, colours, operations, title, log=log)
            for fmt in FORMATS:
                _save_atomically(figure, outdir / f"{name}.{fmt}", fmt)
    return figure_paths(outdir)


def _check_table(table: pd.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    """Fail early with a message naming the table, instead of a KeyError deep inside plotting."""
    if table.empty:
        raise ValueError(f"{name} table is empty: nothing to plot")
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise ValueError(f"{name} table lacks column(s): {', '.join(missing)}")


def _ordered(methods: Iterable[str]) -> list[str]:
    """Known methods in the tutorial's order, then unknown ones by name, whatever the input."""
    present = set(methods)
    known = [method for method in _KNOWN_COLOURS if method in present]
    return known + sorted(present - set(_KNOWN_COLOURS))


def _method_colours(methods: list[str]) -> dict[str, str]:
    """Known methods get fixed colours; unknown ones take the remaining tab10 colours by name."""
    spare = [f"tab:{name}" for name in ("red", "purple", "brown", "pink", "gray", "olive", "cyan")]
    colours = {method: _KNOWN_COLOURS[method] for method in methods if method in _KNOWN_COLOURS}
    unknown = sorted(set(methods) - set(colours))
    colours.update({method: spare[index % len(spare)] for index, method in enumerate(unknown)})
    return colours


def _label(method: str) -> str:
    """Legend name: the conventional upper-case spelling for known formats, else the raw name."""
    return _KNOWN_LABELS.get(method, method)


def _time_figure(
    summary: pd.DataFrame,
    methods: list[str],
    colours: dict[str, str],
    operations: tuple[str, ...],
    title: str,
    *,
    log: bool,
) -> Figure:
    """Median time against N per method (and operation), with the min-max spread as a band."""
    figure = Figure(figsize=_FIGSIZE, layout="constrained")
    axes = figure.add_subplot()
    combined = len(operations) > 1
    for method in methods:
        for operation in operations:
            rows = summary[
                (summary["method"] == method) & (summary["operation"] == operation)
            ].sort_values("n_images")
            if rows.empty:
                continue
            label = _label(method)
            if combined:
                label = f"{label} {_OPERATION_WORDS[operation]}"
            axes.plot(
                rows["n_images"],
                rows["seconds_median"],
                color=colours[method],
                linestyle=_OPERATION_STYLES[operation] if combined else "-",
                marker="o",
                label=label,
            )
            axes.fill_between(
                rows["n_images"],
                rows["seconds_min"],
                rows["seconds_max"],
                color=colours[method],
                alpha=0.2,
                linewidth=0,
            )
    if log:
        axes.set_xscale("log")
        axes.set_yscale("log")
    else:
        axes.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.set_xlabel("Number of images")
    axes.set_ylabel("Time (s)")
    axes.set_title(title)
    axes.grid(True, which="major", alpha=0.3)
    # Outside the axes, the legend can never hide a line, however the data falls.
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return figure


def _disk_figure(disk: pd.DataFrame) -> Figure:
    """One bar per method, stacked by the disk use of each cutoff's store, totals on top."""
    mib = (
        disk.pivot(index="method", columns="n_images", values="kib_allocated")
        .reindex(_ordered(disk["method"].unique()))
        .sort_index(axis="columns")
        .fillna(0)
        / 1024
    )
    # Sequential colours follow the cutoff order; viridis' faint yellow end is left out.
    cutoff_colours = matplotlib.colormaps["viridis"](np.linspace(0.15, 0.8, len(mib.columns)))
    figure = Figure(figsize=_FIGSIZE, layout="constrained")
    axes = figure.add_subplot()
    labels = [_label(method) for method in mib.index]
    bottom = pd.Series(0.0, index=mib.index)
    for index, cutoff in enumerate(mib.columns):
        axes.bar(
            labels,
            mib[cutoff],
            bottom=bottom,
            color=cutoff_colours[index],
            label=f"N = {cutoff}",
        )
        bottom = bottom + mib[cutoff]
    axes.bar_label(axes.containers[-1], labels=[f"{total:,.1f} MiB" for total in bottom], padding=3)
    axes.margins(y=0.12)
    axes.set_xlabel("Method")
    axes.set_ylabel("Disk use (MiB, du -sk)")
    axes.set_title("Disk space used by each method")
    axes.grid(True, axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    # Reverse so the legend reads top-down in the same order as the stack.
    handles, legend_labels = axes.get_legend_handles_labels()
    axes.legend(handles[::-1], legend_labels[::-1], loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return figure


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
