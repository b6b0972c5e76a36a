"""Read variations: the reference read cell against the cell that changes one factor (a cold page
cache, a random order, several reader processes), in images per second."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from imgbench.cells import REFERENCE_READ, Order, all_reads, order_words, reads
from imgbench.present import parts
from imgbench.present.data import FigureData, at_largest_n, value, with_rates
from imgbench.present.style import FIGSIZE, bar_look, role_swatches


@dataclass(frozen=True)
class Variation:
    factor: str
    title: str
    missing: str
    varied: object | None = None  # the value shown; None: the smallest non-reference one

    def value(self, summary: pd.DataFrame) -> object | None:
        """The varied value if measured: `varied`, or else the smallest non-reference value (for
        readers the smallest count > 1, normally 2)."""
        reference = REFERENCE_READ.factors()
        varied = all_reads(summary)
        for factor, fixed in reference.items():
            if factor != self.factor:
                varied = varied[varied[factor] == fixed]
        values = sorted(set(varied[self.factor]) - {reference[self.factor]})
        if self.varied is not None:
            return self.varied if self.varied in values else None
        return values[0] if values else None


def factor_words(factor: str, value: object) -> str:
    if factor == "cache":
        return f"{value} cache"
    if factor == "readers":
        return f"{value} reader{'s' if value != 1 else ''}"
    if factor == "order":
        return order_words(str(value))
    return str(value)


def variation_figure(data: FigureData, variation: Variation) -> Figure:
    """Reference read cell vs the cell varying one factor, in images/s with error bars for the
    95% interval of the median, per series measured with the variation, at the largest N it was
    measured at; the
    varied bar is labelled with its images/s ÷ the reference's."""
    varied_value = variation.value(data.summary)
    if varied_value is None:
        return parts.note_figure(variation.title, f"{variation.missing} in this run")
    base = factor_words(variation.factor, REFERENCE_READ.factors()[variation.factor])
    varied = factor_words(variation.factor, varied_value)
    n, changed = at_largest_n(with_rates(reads(data.summary, **{variation.factor: varied_value})))
    reference = with_rates(reads(data.summary))
    reference = reference[reference["n_images"] == n]
    series = data.series(changed)  # stores read only in the reference cell are left out
    figure = parts.new_figure(parts.bar_width(len(series)), FIGSIZE[1] + 0.3)
    axes = figure.add_subplot()
    positions = parts.series_axis(axes, series)
    colours = [data.colour(one) for one in series]
    rotation = parts.value_label_rotation(axes, len(series))
    for offset, frame, hatched in ((-0.2, reference, False), (0.2, changed, True)):
        rate = np.array([value(frame, one, "rate") for one in series])
        low = np.array([value(frame, one, "rate_low") for one in series])
        high = np.array([value(frame, one, "rate_high") for one in series])
        shown = np.isfinite(rate)
        axes.bar(
            positions[shown] + offset,
            rate[shown],
            width=0.38,
            yerr=[rate[shown] - low[shown], high[shown] - rate[shown]],
            error_kw={"ecolor": "0.15", "elinewidth": 0.9, "capsize": 2.5},
            **bar_look([c for c, s in zip(colours, shown, strict=True) if s], hatched=hatched),
        )
        if hatched:
            base_rate = np.array([value(reference, one, "rate") for one in series])
            for position, top, ratio in zip(
                positions + offset, high, rate / base_rate, strict=True
            ):
                if np.isfinite(ratio):
                    axes.annotate(
                        parts.times(ratio),
                        (position, top),
                        xytext=(0, 2),
                        textcoords="offset points",
                        ha="center",
                        va="bottom",
                        fontsize=8,
                        rotation=rotation,
                    )
    parts.log_scale(axes, "y")
    axes.margins(y=0.15)
    axes.set_ylabel("Images per second (higher is better)")
    axes.set_title(
        f"{variation.title} at N = {n:,}\nlabels: {varied} images/s ÷ {base} images/s\n"
        "error bars: 95% interval of each median"
    )
    parts.legend(figure, role_swatches(f"{base} (reference)", varied))
    return figure


def _drawer(variation: Variation) -> Callable[[FigureData], Figure]:
    return lambda data: variation_figure(data, variation)


DRAWERS: dict[str, Callable[[FigureData], Figure]] = {
    "cache_warm_cold": _drawer(
        Variation("cache", "Warm vs cold page cache", "No cold-cache reads")
    ),
    "order_sequential_random": _drawer(
        Variation("order", "Sequential vs random read order", "No random-order reads", Order.RANDOM)
    ),
    "order_sequential_batched": _drawer(
        Variation("order", "Sequential vs random batches", "No batched random reads", Order.BATCHED)
    ),
    "readers_1_2": _drawer(
        Variation("readers", "One reader vs several", "No reads with 2 or more readers")
    ),
}
