"""The tutorial's claims as the report shows them: a section at the top of `benchmark.md`, a figure
of every verdict at a glance, and a figure of the claims' own experiments (concurrent writers,
appends, the memory of a one-image read) for every container."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Patch

from imgbench.cells import (
    CODEC_COLUMN,
    FORMAT_COLUMN,
    SERIES_KEYS,
    Operation,
    Presentation,
    Series,
)
from imgbench.claims import Verdict
from imgbench.present import parts
from imgbench.present.markdown import table

FACETED = False  # the claims are checked at one size
VERDICT_COLOURS = {
    Verdict.HOLDS: "#2e7d32",
    Verdict.DOES_NOT_HOLD: "#c62828",
    Verdict.INCONCLUSIVE: "#9e9e9e",
    Verdict.NOT_MEASURED: "#e0e0e0",
}


def claims_section(claims: pd.DataFrame) -> list[str]:
    """The report's first section: one row per claim, its verdict and the numbers behind it,
    then the summary cells each verdict was decided on."""
    size = int(claims["image_size"].iloc[0]) if len(claims) else 32
    counts = claims["verdict"].value_counts()
    tally = ", ".join(
        f"{int(counts[verdict])} {verdict}" for verdict in Verdict if verdict in counts
    )
    lines = [
        f"## The tutorial's claims, checked on this machine ({size} px images)",
        "",
        "Each claim of the Real Python tutorial, in short, with the verdict this run's numbers "
        "give: it holds when the 95% intervals are apart in the claimed direction, does not "
        "hold when they are apart the other way, and is inconclusive when they overlap; disk "
        "use (`du`) is exact. Computed by `imgbench.claims` from `summary.csv`; the same rows are "
        f"in `results/tables/claims.csv`. This run: {tally}.",
        "",
    ]
    rows = [
        [
            str(row.claim),
            row.tutorial_says,
            f"**{row.verdict}**",
            row.measured
            if row.verdict != Verdict.NOT_MEASURED
            else f"{row.measured}; to measure: {row.to_measure}",
            f"`{row.figure}`",
        ]
        for row in claims.itertuples()
    ]
    lines += table(
        ["#", "the tutorial says", "verdict", "measured (95% intervals)", "figure"], rows
    )
    lines += ["", "Rows of `summary.csv` (or `disk_usage.csv`) behind each verdict:", ""]
    lines += [
        f"- {row.claim}: {row.summary_cells}"
        for row in claims.itertuples()
        if isinstance(row.summary_cells, str) and row.summary_cells
    ]
    return lines


@dataclass(frozen=True)
class ClaimsData:
    """What the claims' figures draw: the verdicts, the summary, what each store needed."""

    claims: pd.DataFrame
    summary: pd.DataFrame
    experiments: pd.DataFrame
    presentations: Mapping[str, Presentation]

    def record(self, experiment: str, store: pd.Series, **where: object) -> pd.Series | None:
        """The `claim_experiments.csv` row of `experiment` on the store `store` names."""
        frame = self.experiments
        if frame.empty:
            return None
        mask = frame["experiment"] == experiment
        for column, value in [*((key, store[key]) for key in SERIES_KEYS), *where.items()]:
            mask &= frame[column] == value
        return frame[mask].iloc[0] if mask.any() else None

    def label(self, row: pd.Series) -> str:
        series = Series.of(
            str(row[FORMAT_COLUMN]),
            str(row["implementation"]),
            str(row[CODEC_COLUMN]),
            self.presentations,
        )
        return series.label()


def load_data(
    tables: Mapping[str, pd.DataFrame], presentations: Mapping[str, Presentation]
) -> ClaimsData:
    empty = pd.DataFrame()
    return ClaimsData(
        tables.get("claims", empty),
        tables.get("summary", empty),
        tables.get("claim_experiments", empty),
        presentations,
    )


def verdicts_figure(data: ClaimsData) -> Figure:
    """One row per claim: its number and words, a badge in the verdict's colour, and the
    figures behind it."""
    claims = data.claims.sort_values("claim")
    figure = parts.new_figure(12.5, 0.62 * len(claims) + 1.3)
    figure.set_layout_engine("none")  # one axes filling the figure: nothing to lay out
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_axis_off()
    rows = len(claims)
    axes.set_xlim(0, 1)
    axes.set_ylim(rows + 1.2, 0)
    axes.text(
        0.01, 0.55, "The tutorial's claims, checked on this machine", weight="bold", fontsize=13
    )
    for place, row in enumerate(claims.itertuples(), start=1):
        y = place + 0.3
        words = textwrap.shorten(str(row.tutorial_says), 95, placeholder="…")
        axes.text(0.01, y, f"{row.claim}.", fontsize=9, va="center", weight="bold")
        axes.text(0.035, y - 0.17, words, fontsize=9, va="center")
        measured = textwrap.shorten(str(row.measured), 150, placeholder="…")
        axes.text(0.035, y + 0.19, measured, fontsize=7, va="center", color="0.3")
        colour = VERDICT_COLOURS.get(Verdict(row.verdict), "white")
        axes.add_patch(
            FancyBboxPatch(
                (0.845, y - 0.27), 0.14, 0.54, boxstyle="round,pad=0.005", color=colour, lw=0
            )
        )
        text_colour = (
            "black" if row.verdict in (Verdict.NOT_MEASURED, Verdict.INCONCLUSIVE) else "white"
        )
        axes.text(
            0.915,
            y,
            row.verdict,
            ha="center",
            va="center",
            fontsize=9,
            color=text_colour,
            weight="bold",
        )
    return figure


def experiments_figure(data: ClaimsData) -> Figure:
    """The claims' experiments for every container: the speed-up of W writers over one (hatched
    where each writer needed a store of its own), the time to append 10% more images, and the
    resident memory a one-image read added."""
    title = "The claims' experiments, per store"
    summary = data.summary
    if summary.empty:
        return parts.note_figure(title, "No summary")
    writes = summary[summary["operation"] == Operation.WRITE_CONCURRENT]
    appends = summary[summary["operation"] == Operation.APPEND]
    reads = summary[summary["operation"] == Operation.READ_ONE]
    if writes.empty and appends.empty and reads.empty:
        return parts.note_figure(
            title,
            "No claims experiments in this run\n(config `claims`: append, concurrent_writers, "
            "read_one)",
        )
    figure = parts.new_figure(13, 5.2)
    panels = figure.subplots(1, 3)
    _writers_panel(panels[0], data, writes)
    _append_panel(panels[1], data, appends)
    _read_one_panel(panels[2], data, reads)
    figure.suptitle(title)
    return figure


def _writers_panel(axes, data: ClaimsData, writes: pd.DataFrame) -> None:
    axes.set_title("W writers at once: one writer's time ÷ W's", fontsize=10)
    if writes.empty:
        axes.set_axis_off()
        parts.note(axes, "Not measured\n(config claims.concurrent_writers)")
        return
    counts = sorted(int(k) for k in writes["writers"].unique() if int(k) > 1)
    stores = writes.drop_duplicates(list(SERIES_KEYS))
    labels = [data.label(row) for _, row in stores.iterrows()]
    positions = np.arange(len(stores), dtype=float)
    width = 0.8 / max(1, len(counts))
    for offset, count in enumerate(counts):
        values, hatches = [], []
        for _, store in stores.iterrows():
            mine = writes.merge(store[list(SERIES_KEYS)].to_frame().T, on=list(SERIES_KEYS))
            one = mine[mine["writers"] == 1]["seconds_median"]
            many = mine[mine["writers"] == count]["seconds_median"]
            values.append(float(one.iloc[0] / many.iloc[0]) if len(one) and len(many) else np.nan)
            record = data.record("write_concurrent", store, writers=count)
            own = record is not None and not bool(record["shared"])
            hatches.append("//" if own else "")
        bars = axes.barh(
            positions + offset * width,
            values,
            height=width,
            label=f"{count} writers",
            color=f"C{offset}",
        )
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
    axes.axvline(1.0, color="black", linewidth=0.8)
    axes.set_yticks(positions + width * (len(counts) - 1) / 2, labels, fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel("Speed-up (higher is better; hatched: a store per writer)")
    axes.legend(fontsize=7, loc="lower right")


def _append_panel(axes, data: ClaimsData, appends: pd.DataFrame) -> None:
    axes.set_title("Appending 10% more images (seconds)", fontsize=10)
    if appends.empty:
        axes.set_axis_off()
        parts.note(axes, "Not measured\n(config claims.append)")
        return
    labels = [data.label(row) for _, row in appends.iterrows()]
    positions = np.arange(len(appends), dtype=float)
    values = appends["seconds_median"].to_numpy(float)
    errors = np.array(
        [
            values - appends["seconds_ci_low"].to_numpy(float),
            appends["seconds_ci_high"].to_numpy(float) - values,
        ]
    )
    rewrites = []
    for _, row in appends.iterrows():
        record = data.record("append", row)
        rewrites.append(record is not None and bool(record["rewrite"]))
    colours = ["#c62828" if rewrite else "#1565c0" for rewrite in rewrites]
    axes.barh(positions, values, xerr=np.abs(errors), color=colours, height=0.6)
    parts.log_scale(axes, "x")
    axes.margins(x=0.25)
    axes.set_yticks(positions, labels, fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel("Median seconds, 95% interval (log scale)")
    axes.legend(
        handles=[
            Patch(color="#1565c0", label="added in place"),
            Patch(color="#c62828", label="rewrote stored data"),
        ],
        fontsize=7,
        loc="lower right",
    )


def _read_one_panel(axes, data: ClaimsData, reads: pd.DataFrame) -> None:
    axes.set_title("Memory one image's read added (KiB)", fontsize=10)
    if reads.empty:
        axes.set_axis_off()
        parts.note(axes, "Not measured\n(config claims.read_one)")
        return
    labels = [data.label(row) for _, row in reads.iterrows()]
    positions = np.arange(len(reads), dtype=float)
    grown = reads["rss_growth_kib_median"].to_numpy(float)
    # A read that added nothing measurable is drawn at 1 KiB, labelled with what it added.
    bars = axes.barh(positions, np.maximum(grown, 1.0), color="#6a1b9a", height=0.6)
    axes.bar_label(bars, labels=[f"+{value:,.0f}" for value in grown], padding=2, fontsize=7)
    parts.log_scale(axes, "x")
    axes.margins(x=0.3)
    axes.set_yticks(positions, labels, fontsize=7)
    axes.invert_yaxis()
    n = int(reads["n_images"].max())
    axes.set_xlabel(f"KiB added (log), stores of {n:,} images")


DRAWERS: dict[str, Callable[[ClaimsData], Figure]] = {
    "claims_verdicts": verdicts_figure,
    "claims_experiments": experiments_figure,
}
